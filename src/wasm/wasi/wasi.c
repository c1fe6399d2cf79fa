/*
 * WASI preview1 host functions (wasi_snapshot_preview1, witx of the 2020 snapshot):
 * args/environ, clocks, random_get, fd_* on stdio, files and directories, path_* confined
 * below preopened directories (path.c), poll_oneoff (poll.c), proc_exit,
 * sched_yield. Guest memory is reached only through wasm_memory_range() on the caller's
 * memory; every guest pointer and length is checked before use. Errors are WASI errno
 * values returned to the guest; nothing the guest passes can crash the host.
 * Rights are reported as "everything" and not enforced beyond file/directory kind: the
 * capability boundary is the directory tree of each preopen.
 */
#include "wasm/wasi/wasi.h"

#include "core/alloc.h"
#include "wasm/wasi/host.h"
#include "wasm/wasi/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ----- errno ----- */

uint32_t wasi_errno(int e)
{
	switch (e < 0 ? -e : e) {
	case 0:
		return E_SUCCESS;
	case E2BIG:
		return E_2BIG;
	case EACCES:
		return E_ACCES;
	case EAGAIN:
		return E_AGAIN;
	case EBADF:
		return E_BADF;
	case EBUSY:
		return E_BUSY;
	case EEXIST:
		return E_EXIST;
	case EFAULT:
		return E_FAULT;
	case EFBIG:
		return E_FBIG;
	case EILSEQ:
		return E_ILSEQ;
	case EINTR:
		return E_INTR;
	case EINVAL:
		return E_INVAL;
	case EIO:
		return E_IO;
	case EISDIR:
		return E_ISDIR;
	case ELOOP:
		return E_LOOP;
	case EMFILE:
		return E_MFILE;
	case EMLINK:
		return E_MLINK;
	case ENAMETOOLONG:
		return E_NAMETOOLONG;
	case ENFILE:
		return E_NFILE;
	case ENOENT:
		return E_NOENT;
	case ENOMEM:
		return E_NOMEM;
	case ENOSPC:
		return E_NOSPC;
	case ENOSYS:
		return E_NOSYS;
	case ENOTDIR:
		return E_NOTDIR;
	case ENOTEMPTY:
		return E_NOTEMPTY;
	case EOPNOTSUPP:
		return E_NOTSUP;
	case ENOTTY:
		return E_NOTTY;
	case ENXIO:
		return E_NXIO;
	case EOVERFLOW:
		return E_OVERFLOW;
	case EPERM:
		return E_PERM;
	case EPIPE:
		return E_PIPE;
	case ERANGE:
		return E_RANGE;
	case EROFS:
		return E_ROFS;
	case ESPIPE:
		return E_SPIPE;
	case ETXTBSY:
		return E_TXTBSY;
	case EXDEV:
		return E_NOTCAPABLE; /* path.c: would escape the preopen */
	default:
		return E_IO;
	}
}

/* Copies the guest path [addr, addr+len) into buf (NUL-terminated). */
static uint32_t get_path(struct call *c, uint32_t addr, uint32_t len, char *buf)
{
	const uint8_t *p;

	if (len >= PATH_MAX_LEN)
		return E_NAMETOOLONG;
	p = gmem(c, addr, len);
	if (!p)
		return E_FAULT;
	if (memchr(p, 0, len))
		return E_ILSEQ;
	memcpy(buf, p, len);
	buf[len] = 0;
	return E_SUCCESS;
}

static uint8_t filetype(mode_t m)
{
	if (S_ISREG(m))
		return FT_FILE;
	if (S_ISDIR(m))
		return FT_DIR;
	if (S_ISCHR(m))
		return FT_CHAR;
	if (S_ISBLK(m))
		return FT_BLOCK;
	if (S_ISLNK(m))
		return FT_SYMLINK;
	if (S_ISSOCK(m))
		return FT_STREAM;
	return FT_UNKNOWN;
}

static int alloc_fd(struct wasi *w, int host, uint8_t type, uint32_t *out)
{
	for (int i = 0; i < MAX_FDS; i++) {
		if (i < w->nfds && w->fds[i].host >= 0)
			continue;
		memset(&w->fds[i], 0, sizeof(w->fds[i]));
		w->fds[i].host = host;
		w->fds[i].own = true;
		w->fds[i].type = type;
		if (i >= w->nfds) {
			for (int k = w->nfds; k < i; k++)
				w->fds[k].host = -1;
			w->nfds = i + 1;
		}
		*out = (uint32_t)i;
		return 0;
	}
	return -EMFILE;
}

static void close_fd(struct wasi_fd *f)
{
	/* the DIR stream reads its own fd (fd_readdir), so both are closed */
	if (f->dir)
		closedir(f->dir);
	if (f->own && f->host >= 0)
		close(f->host);
	core_free(f->preopen);
	memset(f, 0, sizeof(*f));
	f->host = -1;
}

/* ----- args, environ ----- */

static uint32_t put_strings(struct call *c, char **v, int n, uint32_t ptrs, uint32_t buf)
{
	for (int i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;
		uint8_t *p = gmem(c, buf, len);
		if (!p || !put32(c, ptrs + 4u * (uint32_t)i, buf))
			return E_FAULT;
		memcpy(p, v[i], len);
		buf += (uint32_t)len;
	}
	return E_SUCCESS;
}

static uint32_t put_sizes(struct call *c, char **v, int n, uint32_t count, uint32_t size)
{
	uint64_t total = 0;

	for (int i = 0; i < n; i++)
		total += strlen(v[i]) + 1;
	if (total > UINT32_MAX)
		return E_OVERFLOW;
	if (!put32(c, count, (uint32_t)n) || !put32(c, size, (uint32_t)total))
		return E_FAULT;
	return E_SUCCESS;
}

static uint32_t args_get(struct call *c)
{
	return put_strings(c, c->w->argv, c->w->argc, arg32(c, 0), arg32(c, 1));
}

static uint32_t args_sizes_get(struct call *c)
{
	return put_sizes(c, c->w->argv, c->w->argc, arg32(c, 0), arg32(c, 1));
}

static uint32_t environ_get(struct call *c)
{
	return put_strings(c, c->w->env, c->w->nenv, arg32(c, 0), arg32(c, 1));
}

static uint32_t environ_sizes_get(struct call *c)
{
	return put_sizes(c, c->w->env, c->w->nenv, arg32(c, 0), arg32(c, 1));
}

/* ----- clocks, random, sched ----- */

int wasi_clock_id(uint32_t id, clockid_t *out)
{
	static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
					CLOCK_THREAD_CPUTIME_ID};

	if (id >= 4)
		return -EINVAL;
	*out = ids[id];
	return 0;
}

static uint32_t clock_res_get(struct call *c)
{
	struct timespec ts;
	clockid_t id;

	if (wasi_clock_id(arg32(c, 0), &id) || clock_getres(id, &ts))
		return E_INVAL;
	return put64(c, arg32(c, 1), (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec)
		       ? E_SUCCESS
		       : E_FAULT;
}

static uint32_t clock_time_get(struct call *c)
{
	clockid_t id;

	if (wasi_clock_id(arg32(c, 0), &id))
		return E_INVAL;
	return put64(c, arg32(c, 2), now_ns(id)) ? E_SUCCESS : E_FAULT;
}

static uint32_t random_get(struct call *c)
{
	uint32_t len = arg32(c, 1);
	uint8_t *p = gmem(c, arg32(c, 0), len);

	if (!p)
		return E_FAULT;
	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return E_IO;
		p += n;
		len -= (uint32_t)n;
	}
	return E_SUCCESS;
}

static uint32_t sched_yield_(struct call *c)
{
	(void)c;
	sched_yield();
	return E_SUCCESS;
}

/* ----- fd I/O ----- */

/* Gathers the guest iovec array into host iovecs (at most 64 at a time). */
static uint32_t get_iovs(struct call *c, uint32_t iovs, uint32_t n, struct iovec *out, int *cnt)
{
	const uint8_t *p = gmem(c, iovs, (uint64_t)n * 8);

	if (!p)
		return E_FAULT;
	*cnt = 0;
	for (uint32_t i = 0; i < n && *cnt < 64; i++) {
		uint32_t b, l;
		memcpy(&b, p + 8 * i, 4);
		memcpy(&l, p + 8 * i + 4, 4);
		if (!l)
			continue;
		out[*cnt].iov_base = gmem(c, b, l);
		out[*cnt].iov_len = l;
		if (!out[*cnt].iov_base)
			return E_FAULT;
		(*cnt)++;
	}
	return E_SUCCESS;
}

/* Non-blocking I/O on an fd whose open file description is the caller's (stdio), where
 * O_NONBLOCK is never set: returns E_AGAIN when the fd is not ready, and trims a write
 * other than to a regular file to PIPE_BUF, which a ready pipe or terminal takes without
 * blocking. */
static uint32_t emulate_nonblock(const struct wasi_fd *f, bool write, struct iovec *iov, int *cnt)
{
	struct pollfd p = {f->host, write ? POLLOUT : POLLIN, 0};
	size_t left = PIPE_BUF;
	int r = poll(&p, 1, 0);

	if (r < 0)
		return wasi_errno(errno);
	if (r == 0)
		return E_AGAIN;
	for (int i = 0; write && f->type != FT_FILE && i < *cnt; i++) {
		if (iov[i].iov_len >= left) {
			iov[i].iov_len = left;
			*cnt = i + 1;
		}
		left -= iov[i].iov_len;
	}
	return E_SUCCESS;
}

static uint32_t fd_rw(struct call *c, bool write, bool positioned)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	struct iovec iov[64];
	int cnt;
	uint32_t e, out = arg32(c, positioned ? 4 : 3);
	ssize_t n;

	if (!f)
		return E_BADF;
	if (f->type == FT_DIR)
		return E_ISDIR;
	e = get_iovs(c, arg32(c, 1), arg32(c, 2), iov, &cnt);
	if (!e && !f->own && (f->flags & FDFLAG_NONBLOCK))
		e = emulate_nonblock(f, write, iov, &cnt);
	if (e)
		return e;
	if (positioned) {
		off_t off = (off_t)c->a[3];
		if (off < 0)
			return E_INVAL;
		n = write ? pwritev(f->host, iov, cnt, off) : preadv(f->host, iov, cnt, off);
	} else if (write && !f->own && (f->flags & FDFLAG_APPEND)) {
		/* O_APPEND for this write only (offset -1: the file position) */
		n = pwritev2(f->host, iov, cnt, -1, RWF_APPEND);
		if (n < 0 && errno == EOPNOTSUPP)
			n = writev(f->host, iov, cnt);
	} else {
		n = write ? writev(f->host, iov, cnt) : readv(f->host, iov, cnt);
	}
	if (n < 0)
		return wasi_errno(errno);
	return put32(c, out, (uint32_t)n) ? E_SUCCESS : E_FAULT;
}

static uint32_t fd_read(struct call *c)
{
	return fd_rw(c, false, false);
}

static uint32_t fd_write(struct call *c)
{
	return fd_rw(c, true, false);
}

static uint32_t fd_pread(struct call *c)
{
	return fd_rw(c, false, true);
}

static uint32_t fd_pwrite(struct call *c)
{
	return fd_rw(c, true, true);
}

static uint32_t fd_seek(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	static const int whence[] = {SEEK_SET, SEEK_CUR, SEEK_END};
	uint32_t wh = arg32(c, 2);
	off_t r;

	if (!f)
		return E_BADF;
	if (wh > 2)
		return E_INVAL;
	if (f->type == FT_DIR)
		return E_ISDIR;
	r = lseek(f->host, (off_t)c->a[1], whence[wh]);
	if (r < 0)
		return wasi_errno(errno);
	return put64(c, arg32(c, 3), (uint64_t)r) ? E_SUCCESS : E_FAULT;
}

static uint32_t fd_tell(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	off_t r;

	if (!f)
		return E_BADF;
	r = lseek(f->host, 0, SEEK_CUR);
	if (r < 0)
		return wasi_errno(errno);
	return put64(c, arg32(c, 1), (uint64_t)r) ? E_SUCCESS : E_FAULT;
}

static uint32_t fd_close(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));

	if (!f)
		return E_BADF;
	close_fd(f);
	return E_SUCCESS;
}

static uint32_t fd_sync(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));

	if (!f)
		return E_BADF;
	return fsync(f->host) ? wasi_errno(errno) : E_SUCCESS;
}

static uint32_t fd_advise(struct call *c)
{
	return getfd(c->w, arg32(c, 0)) ? E_SUCCESS : E_BADF;
}

static uint32_t fd_allocate(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	int r;

	if (!f)
		return E_BADF;
	r = posix_fallocate(f->host, (off_t)c->a[1], (off_t)c->a[2]);
	return r ? wasi_errno(r) : E_SUCCESS;
}

static uint32_t fd_fdstat_get(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	uint8_t *p = gmem(c, arg32(c, 1), 24);
	uint64_t rights = RIGHTS_ALL;

	if (!f)
		return E_BADF;
	if (!p)
		return E_FAULT;
	memset(p, 0, 24);
	p[0] = f->type;
	memcpy(p + 2, &f->flags, 2);
	memcpy(p + 8, &rights, 8);
	memcpy(p + 16, &rights, 8);
	return E_SUCCESS;
}

static uint32_t fd_fdstat_set_flags(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	uint32_t fl = arg32(c, 1);
	int hf;

	if (!f)
		return E_BADF;
	/* The caller's fds (stdio) share their open file description with the terminal or
	 * other processes, and its flags would outlive us: fd_rw emulates APPEND and
	 * NONBLOCK for them. Our own fds get the real flags. */
	if (f->own) {
		hf = fcntl(f->host, F_GETFL);
		if (hf < 0)
			return wasi_errno(errno);
		hf = (hf & ~(O_APPEND | O_NONBLOCK)) | ((fl & FDFLAG_APPEND) ? O_APPEND : 0) |
		     ((fl & FDFLAG_NONBLOCK) ? O_NONBLOCK : 0);
		if (fcntl(f->host, F_SETFL, hf))
			return wasi_errno(errno);
	}
	f->flags = (uint16_t)fl;
	return E_SUCCESS;
}

static uint32_t fd_fdstat_set_rights(struct call *c)
{
	return getfd(c->w, arg32(c, 0)) ? E_SUCCESS : E_BADF;
}

static uint32_t put_filestat(struct call *c, uint32_t addr, const struct stat *st)
{
	uint8_t *p = gmem(c, addr, 64);
	uint64_t v[8];

	if (!p)
		return E_FAULT;
	v[0] = st->st_dev;
	v[1] = st->st_ino;
	v[2] = filetype(st->st_mode);
	v[3] = st->st_nlink;
	v[4] = (uint64_t)st->st_size;
	v[5] = (uint64_t)st->st_atim.tv_sec * 1000000000u + (uint64_t)st->st_atim.tv_nsec;
	v[6] = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
	v[7] = (uint64_t)st->st_ctim.tv_sec * 1000000000u + (uint64_t)st->st_ctim.tv_nsec;
	memcpy(p, v, 64);
	memset(p + 17, 0, 7); /* filetype is one byte followed by padding */
	return E_SUCCESS;
}

static uint32_t fd_filestat_get(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	struct stat st;

	if (!f)
		return E_BADF;
	if (fstat(f->host, &st))
		return wasi_errno(errno);
	return put_filestat(c, arg32(c, 1), &st);
}

static uint32_t fd_filestat_set_size(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));

	if (!f)
		return E_BADF;
	return ftruncate(f->host, (off_t)c->a[1]) ? wasi_errno(errno) : E_SUCCESS;
}

/* WASI fstflags -> utimensat times. */
static int make_times(uint64_t atim, uint64_t mtim, uint32_t fl, struct timespec ts[2])
{
	if (((fl & 1) && (fl & 2)) || ((fl & 4) && (fl & 8)) || fl > 15)
		return -EINVAL;
	ts[0].tv_sec = (time_t)(atim / 1000000000u);
	ts[0].tv_nsec = (long)(atim % 1000000000u);
	ts[1].tv_sec = (time_t)(mtim / 1000000000u);
	ts[1].tv_nsec = (long)(mtim % 1000000000u);
	if (!(fl & 3))
		ts[0].tv_nsec = UTIME_OMIT;
	else if (fl & 2)
		ts[0].tv_nsec = UTIME_NOW;
	if (!(fl & 12))
		ts[1].tv_nsec = UTIME_OMIT;
	else if (fl & 8)
		ts[1].tv_nsec = UTIME_NOW;
	return 0;
}

static uint32_t fd_filestat_set_times(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	struct timespec ts[2];

	if (!f)
		return E_BADF;
	if (make_times(c->a[1], c->a[2], arg32(c, 3), ts))
		return E_INVAL;
	return futimens(f->host, ts) ? wasi_errno(errno) : E_SUCCESS;
}

static uint32_t fd_prestat_get(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	uint8_t *p = gmem(c, arg32(c, 1), 8);
	uint32_t len;

	if (!f || !f->preopen)
		return E_BADF;
	if (!p)
		return E_FAULT;
	len = (uint32_t)strlen(f->preopen);
	memset(p, 0, 8);
	memcpy(p + 4, &len, 4);
	return E_SUCCESS;
}

static uint32_t fd_prestat_dir_name(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	uint32_t len = arg32(c, 2);
	uint8_t *p;

	if (!f || !f->preopen)
		return E_BADF;
	if (len < strlen(f->preopen))
		return E_NAMETOOLONG;
	p = gmem(c, arg32(c, 1), strlen(f->preopen));
	if (!p)
		return E_FAULT;
	memcpy(p, f->preopen, strlen(f->preopen));
	return E_SUCCESS;
}

static uint32_t fd_renumber(struct call *c)
{
	struct wasi *w = c->w;
	struct wasi_fd *from = getfd(w, arg32(c, 0)), *to = getfd(w, arg32(c, 1));

	if (!from || !to)
		return E_BADF;
	if (from == to)
		return E_SUCCESS;
	close_fd(to);
	*to = *from;
	memset(from, 0, sizeof(*from));
	from->host = -1;
	return E_SUCCESS;
}

/* Directory entries: cookie n means "start after the first n entries". */
static uint32_t fd_readdir(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	uint32_t buf = arg32(c, 1), len = arg32(c, 2), used = 0;
	uint64_t cookie = c->a[3], n = 0;
	struct dirent *de;

	if (!f)
		return E_BADF;
	if (f->type != FT_DIR)
		return E_NOTDIR;
	if (!gmem(c, buf, len))
		return E_FAULT;
	if (!f->dir) {
		int d = openat(f->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0)
			return wasi_errno(errno);
		f->dir = fdopendir(d);
		if (!f->dir) {
			close(d);
			return wasi_errno(errno);
		}
	}
	rewinddir(f->dir);
	while (used < len && (de = readdir(f->dir)) != NULL) {
		uint8_t hdr[24];
		uint32_t nl = (uint32_t)strlen(de->d_name), k;
		uint64_t next = ++n, ino = de->d_ino;
		if (n <= cookie)
			continue;
		memset(hdr, 0, sizeof(hdr));
		memcpy(hdr, &next, 8);
		memcpy(hdr + 8, &ino, 8);
		memcpy(hdr + 16, &nl, 4);
		hdr[20] = de->d_type == DT_DIR	 ? FT_DIR
			  : de->d_type == DT_REG ? FT_FILE
			  : de->d_type == DT_LNK ? FT_SYMLINK
			  : de->d_type == DT_CHR ? FT_CHAR
			  : de->d_type == DT_BLK ? FT_BLOCK
						 : FT_UNKNOWN;
		/* entries may be cut off at the end of the buffer: the guest sees a full
		 * buffer and asks again with a larger one */
		k = len - used < 24 ? len - used : 24;
		memcpy(gmem(c, buf + used, k), hdr, k);
		used += k;
		k = len - used < nl ? len - used : nl;
		if (k)
			memcpy(gmem(c, buf + used, k), de->d_name, k);
		used += k;
	}
	return put32(c, arg32(c, 4), used) ? E_SUCCESS : E_FAULT;
}

/* ----- paths ----- */

/* Resolves (fd, path) to a directory fd and a guest path string. */
static uint32_t dir_path(struct call *c, int fdi, int pi, int li, int *dirfd, char *path)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, fdi));

	if (!f)
		return E_BADF;
	if (f->type != FT_DIR)
		return E_NOTDIR;
	*dirfd = f->host;
	return get_path(c, arg32(c, pi), arg32(c, li), path);
}

/* "name/" asks for a directory: Linux then follows a link in last place and refuses
 * non-directories where the call would otherwise ignore the slash. */
static bool trailing_slash(const char *path)
{
	size_t n = strlen(path);

	return n && path[n - 1] == '/';
}

/* Runs op on (parent fd, last component) of a confined path. */
static uint32_t with_parent(struct wasi *w, int dirfd, const char *path,
			    int (*op)(int, const char *, void *), void *arg)
{
	char base[256];
	int parent, rc = wasi_path_parent(&w->res, dirfd, path, &parent, base, sizeof(base));

	if (rc)
		return wasi_errno(rc);
	rc = op(parent < 0 ? dirfd : parent, base, arg);
	if (parent >= 0)
		close(parent);
	return rc ? wasi_errno(rc) : E_SUCCESS;
}

static int op_mkdir(int d, const char *name, void *arg)
{
	(void)arg;
	return mkdirat(d, name, 0777) ? -errno : 0;
}

static int op_rmdir(int d, const char *name, void *arg)
{
	(void)arg;
	return unlinkat(d, name, AT_REMOVEDIR) ? -errno : 0;
}

static int op_unlink(int d, const char *name, void *arg)
{
	struct stat st;

	(void)arg;
	if (unlinkat(d, name, 0) == 0)
		return 0;
	/* Linux says EISDIR for directories; WASI (POSIX) wants EISDIR too, keep it */
	if (errno == EISDIR ||
	    (fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)))
		return -EISDIR;
	return -errno;
}

static int op_lstat(int d, const char *name, void *arg)
{
	return fstatat(d, name, arg, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int op_symlink(int d, const char *name, void *arg)
{
	return symlinkat(arg, d, name) ? -errno : 0;
}

struct readlink_arg {
	char *buf;
	size_t len;
	ssize_t n;
};

static int op_readlink(int d, const char *name, void *arg)
{
	struct readlink_arg *a = arg;

	a->n = readlinkat(d, name, a->buf, a->len);
	return a->n < 0 ? -errno : 0;
}

struct utimes_arg {
	struct timespec ts[2];
};

static int op_utimes(int d, const char *name, void *arg)
{
	struct utimes_arg *a = arg;
	return utimensat(d, name, a->ts, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

/* For a new name given as "name/" (link, symlink): Linux refuses it with EEXIST when
 * something has that name and ENOENT when not. */
static uint32_t new_name_with_slash(struct wasi *w, int dirfd, const char *path)
{
	struct stat st;
	uint32_t e = with_parent(w, dirfd, path, op_lstat, &st);

	return e ? e : E_EXIST;
}

static uint32_t path_create_directory(struct call *c)
{
	char path[PATH_MAX_LEN];
	int d;
	uint32_t e = dir_path(c, 0, 1, 2, &d, path);

	return e ? e : with_parent(c->w, d, path, op_mkdir, NULL);
}

static uint32_t path_remove_directory(struct call *c)
{
	char path[PATH_MAX_LEN];
	int d;
	uint32_t e = dir_path(c, 0, 1, 2, &d, path);

	return e ? e : with_parent(c->w, d, path, op_rmdir, NULL);
}

static uint32_t path_unlink_file(struct call *c)
{
	char path[PATH_MAX_LEN];
	struct stat st;
	int d;
	uint32_t e = dir_path(c, 0, 1, 2, &d, path);

	if (e)
		return e;
	if (trailing_slash(path)) { /* never a file: what is there decides the errno */
		e = with_parent(c->w, d, path, op_lstat, &st);
		return e ? e : S_ISDIR(st.st_mode) ? E_ISDIR : E_NOTDIR;
	}
	return with_parent(c->w, d, path, op_unlink, NULL);
}

static uint32_t path_filestat_get(struct call *c)
{
	char path[PATH_MAX_LEN];
	struct stat st;
	int d;
	uint32_t e = dir_path(c, 0, 2, 3, &d, path);

	if (e)
		return e;
	if ((arg32(c, 1) & 1) || trailing_slash(path)) { /* follow: open (confined), fstat */
		int fd = wasi_path_open(&c->w->res, d, path, O_PATH, 0);
		if (fd < 0)
			return wasi_errno(fd);
		e = fstat(fd, &st) ? wasi_errno(errno) : E_SUCCESS;
		close(fd);
	} else {
		e = with_parent(c->w, d, path, op_lstat, &st);
	}
	return e ? e : put_filestat(c, arg32(c, 4), &st);
}

static uint32_t path_filestat_set_times(struct call *c)
{
	char path[PATH_MAX_LEN];
	struct utimes_arg a;
	int d;
	uint32_t e = dir_path(c, 0, 2, 3, &d, path);

	if (e)
		return e;
	if (make_times(c->a[4], c->a[5], arg32(c, 6), a.ts))
		return E_INVAL;
	if ((arg32(c, 1) & 1) || trailing_slash(path)) {
		/* O_NONBLOCK: a FIFO must not block the open */
		int fd = wasi_path_open(&c->w->res, d, path, O_RDONLY | O_NONBLOCK, 0);
		if (fd < 0)
			return wasi_errno(fd);
		e = futimens(fd, a.ts) ? wasi_errno(errno) : E_SUCCESS;
		close(fd);
		return e;
	}
	return with_parent(c->w, d, path, op_utimes, &a);
}

static uint32_t path_readlink(struct call *c)
{
	char path[PATH_MAX_LEN];
	struct readlink_arg a;
	int d;
	uint32_t e = dir_path(c, 0, 1, 2, &d, path), len = arg32(c, 4);

	if (e)
		return e;
	a.buf = (char *)gmem(c, arg32(c, 3), len);
	a.len = len;
	a.n = 0;
	if (!a.buf && len)
		return E_FAULT;
	e = with_parent(c->w, d, path, op_readlink, &a);
	if (e)
		return e;
	return put32(c, arg32(c, 5), (uint32_t)a.n) ? E_SUCCESS : E_FAULT;
}

static uint32_t path_symlink(struct call *c)
{
	char target[PATH_MAX_LEN], path[PATH_MAX_LEN];
	int d;
	uint32_t e = get_path(c, arg32(c, 0), arg32(c, 1), target);

	if (e || (e = dir_path(c, 2, 3, 4, &d, path)))
		return e;
	if (trailing_slash(path))
		return new_name_with_slash(c->w, d, path);
	/* the link's text is not checked: following it later is confined anyway */
	return with_parent(c->w, d, path, op_symlink, target);
}

/* One name of a link or rename: its confined parent and last component. */
struct link_end {
	int dirfd, parent; /* parent -1: dirfd itself */
	char path[PATH_MAX_LEN], base[256];
};

static int end_dir(const struct link_end *e)
{
	return e->parent < 0 ? e->dirfd : e->parent;
}

/* Opens both ends' parents (args: fd, path, length argument indexes of each). The caller
 * closes them with close_ends(), also on failure. */
static uint32_t open_ends(struct call *c, const int args[2][3], struct link_end e[2])
{
	uint32_t err;
	int rc;

	e[0].parent = e[1].parent = -1;
	for (int i = 0; i < 2; i++) {
		err = dir_path(c, args[i][0], args[i][1], args[i][2], &e[i].dirfd, e[i].path);
		if (err)
			return err;
	}
	for (int i = 0; i < 2; i++) {
		rc = wasi_path_parent(&c->w->res, e[i].dirfd, e[i].path, &e[i].parent, e[i].base,
				      sizeof(e[i].base));
		if (rc)
			return wasi_errno(rc);
	}
	return E_SUCCESS;
}

static void close_ends(struct link_end e[2])
{
	for (int i = 0; i < 2; i++)
		if (e[i].parent >= 0)
			close(e[i].parent);
}

/* As Linux: a trailing slash on either name requires the source to be a directory
 * (itself, not a link to one). */
static int do_rename(struct link_end e[2])
{
	struct stat st;

	if (trailing_slash(e[0].path) || trailing_slash(e[1].path)) {
		if (fstatat(end_dir(&e[0]), e[0].base, &st, AT_SYMLINK_NOFOLLOW))
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return renameat(end_dir(&e[0]), e[0].base, end_dir(&e[1]), e[1].base) ? -errno : 0;
}

/* Without SYMLINK_FOLLOW the source's last component is linked as it is (a symlink
 * included). With it, or "old/", the source is resolved confined and what it leads to is
 * linked through /proc/self/fd (linkat's AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH). */
static int do_link(struct wasi *w, struct link_end e[2], bool follow)
{
	char proc[64];
	struct stat st;
	int fd, rc;

	if (!follow && !trailing_slash(e[0].path)) {
		if (trailing_slash(e[1].path))
			return fstatat(end_dir(&e[1]), e[1].base, &st, AT_SYMLINK_NOFOLLOW)
				       ? -errno
				       : -EEXIST;
		return linkat(end_dir(&e[0]), e[0].base, end_dir(&e[1]), e[1].base, 0) ? -errno : 0;
	}
	fd = wasi_path_open(&w->res, e[0].dirfd, e[0].path, O_PATH, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st))
		rc = -errno;
	else if (S_ISDIR(st.st_mode))
		rc = -EPERM; /* no hard links to directories */
	else if (trailing_slash(e[1].path))
		rc = fstatat(end_dir(&e[1]), e[1].base, &st, AT_SYMLINK_NOFOLLOW) ? -errno
										  : -EEXIST;
	else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		rc = linkat(AT_FDCWD, proc, end_dir(&e[1]), e[1].base, AT_SYMLINK_FOLLOW) ? -errno
											  : 0;
	}
	close(fd);
	return rc;
}

static uint32_t path_link(struct call *c)
{
	/* old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len */
	static const int args[2][3] = {{0, 2, 3}, {4, 5, 6}};
	struct link_end e[2];
	uint32_t err = open_ends(c, args, e);

	if (!err)
		err = wasi_errno(do_link(c->w, e, arg32(c, 1) & 1));
	close_ends(e);
	return err;
}

static uint32_t path_rename(struct call *c)
{
	/* fd, old_path, old_len, new_fd, new_path, new_len */
	static const int args[2][3] = {{0, 1, 2}, {3, 4, 5}};
	struct link_end e[2];
	uint32_t err = open_ends(c, args, e);

	if (!err)
		err = wasi_errno(do_rename(e));
	close_ends(e);
	return err;
}

static uint32_t path_open(struct call *c)
{
	struct wasi *w = c->w;
	char path[PATH_MAX_LEN];
	uint32_t dirflags = arg32(c, 1), oflags = arg32(c, 4), fdflags = arg32(c, 7), nfd;
	uint64_t rights = c->a[5];
	int d, flags = 0, fd, rc;
	struct stat st;
	uint32_t e = dir_path(c, 0, 2, 3, &d, path);

	if (e)
		return e;
	/* read/write access from the requested rights: fd_read=2, fd_write=64 */
	if ((rights & 2) && (rights & 64))
		flags = O_RDWR;
	else if (rights & 64)
		flags = O_WRONLY;
	else
		flags = O_RDONLY;
	if (oflags & 1)
		flags |= O_CREAT;
	if (oflags & 2)
		flags |= O_DIRECTORY;
	if (oflags & 4)
		flags |= O_EXCL;
	if (oflags & 8)
		flags |= O_TRUNC;
	if (fdflags & FDFLAG_APPEND)
		flags |= O_APPEND;
	if (fdflags & FDFLAG_NONBLOCK)
		flags |= O_NONBLOCK;
	if (fdflags & (FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC))
		flags |= O_SYNC;
	if (!(dirflags & 1))
		flags |= O_NOFOLLOW;
	if ((flags & (O_CREAT | O_TRUNC)) && (flags & O_ACCMODE) == O_RDONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	fd = wasi_path_open(&w->res, d, path, flags, 0666);
	if (fd == -EISDIR && (flags & O_ACCMODE) != O_RDONLY && !(flags & (O_CREAT | O_TRUNC)))
		fd = wasi_path_open(&w->res, d, path, (flags & ~O_ACCMODE) | O_RDONLY, 0666);
	if (fd < 0)
		return wasi_errno(fd == -ELOOP && (flags & O_NOFOLLOW) ? -ELOOP : fd);
	if (fstat(fd, &st)) {
		rc = errno;
		close(fd);
		return wasi_errno(rc);
	}
	if (alloc_fd(w, fd, filetype(st.st_mode), &nfd)) {
		close(fd);
		return E_NFILE;
	}
	w->fds[nfd].flags = (uint16_t)fdflags;
	if (!put32(c, arg32(c, 8), nfd)) {
		close_fd(&w->fds[nfd]);
		return E_FAULT;
	}
	return E_SUCCESS;
}

/* ----- process ----- */

static uint32_t proc_raise(struct call *c)
{
	(void)c;
	return E_NOTSUP;
}

static uint32_t not_supported(struct call *c)
{
	(void)c;
	return E_NOTSUP;
}

/* ----- the function table ----- */

struct wasi_def {
	const char *name;
	const char *sig; /* params: i = i32, I = i64; results: always one i32 errno */
	uint32_t (*fn)(struct call *c);
};

static const struct wasi_def defs[] = {
	{"args_get", "ii", args_get},
	{"args_sizes_get", "ii", args_sizes_get},
	{"environ_get", "ii", environ_get},
	{"environ_sizes_get", "ii", environ_sizes_get},
	{"clock_res_get", "ii", clock_res_get},
	{"clock_time_get", "iIi", clock_time_get},
	{"fd_advise", "iIIi", fd_advise},
	{"fd_allocate", "iII", fd_allocate},
	{"fd_close", "i", fd_close},
	{"fd_datasync", "i", fd_sync},
	{"fd_fdstat_get", "ii", fd_fdstat_get},
	{"fd_fdstat_set_flags", "ii", fd_fdstat_set_flags},
	{"fd_fdstat_set_rights", "iII", fd_fdstat_set_rights},
	{"fd_filestat_get", "ii", fd_filestat_get},
	{"fd_filestat_set_size", "iI", fd_filestat_set_size},
	{"fd_filestat_set_times", "iIIi", fd_filestat_set_times},
	{"fd_pread", "iiiIi", fd_pread},
	{"fd_prestat_get", "ii", fd_prestat_get},
	{"fd_prestat_dir_name", "iii", fd_prestat_dir_name},
	{"fd_pwrite", "iiiIi", fd_pwrite},
	{"fd_read", "iiii", fd_read},
	{"fd_readdir", "iiiIi", fd_readdir},
	{"fd_renumber", "ii", fd_renumber},
	{"fd_seek", "iIii", fd_seek},
	{"fd_sync", "i", fd_sync},
	{"fd_tell", "ii", fd_tell},
	{"fd_write", "iiii", fd_write},
	{"path_create_directory", "iii", path_create_directory},
	{"path_filestat_get", "iiiii", path_filestat_get},
	{"path_filestat_set_times", "iiiiIIi", path_filestat_set_times},
	{"path_link", "iiiiiii", path_link},
	{"path_open", "iiiiiIIii", path_open},
	{"path_readlink", "iiiiii", path_readlink},
	{"path_remove_directory", "iii", path_remove_directory},
	{"path_rename", "iiiiii", path_rename},
	{"path_symlink", "iiiii", path_symlink},
	{"path_unlink_file", "iii", path_unlink_file},
	{"poll_oneoff", "iiii", wasi_poll_oneoff},
	{"proc_exit", "i", NULL},
	{"proc_raise", "i", proc_raise},
	{"sched_yield", "", sched_yield_},
	{"random_get", "ii", random_get},
	{"sock_accept", "iii", not_supported},
	{"sock_recv", "iiiiii", not_supported},
	{"sock_send", "iiiii", not_supported},
	{"sock_shutdown", "ii", not_supported},
};

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

/* What a WASI host function gets as its user pointer. */
struct host_ctx {
	struct wasi *w;
	const struct wasi_def *def;
	struct wasm_func *func; /* created on first resolve */
};

struct wasi_impl {
	struct wasi w;
	struct host_ctx ctx[NDEFS];
};

static enum wasm_trap wasi_call(struct wasm_host_call *hc, uint64_t *slots)
{
	struct host_ctx *hx = hc->user;
	struct call c;

	if (!hx->def->fn) { /* proc_exit */
		hc->exit_code = (int)(uint32_t)slots[0];
		return WASM_TRAP_EXIT;
	}
	c.w = hx->w;
	c.mem = hc->caller ? wasm_instance_memory(hc->caller) : NULL;
	c.a = slots;
	slots[0] = hx->def->fn(&c);
	return WASM_TRAP_NONE;
}

int wasi_resolve(void *ctx, const char *module, const char *name, enum wasm_extern_kind kind,
		 struct wasm_extern *out)
{
	struct wasi_impl *wi = ctx;

	if (!wi || strcmp(module, "wasi_snapshot_preview1") || kind != WASM_EXTERN_FUNC)
		return -ENOENT;
	for (size_t i = 0; i < NDEFS; i++) {
		struct host_ctx *hx = &wi->ctx[i];
		uint8_t params[16], result = WASM_I32;
		struct wasm_functype t;
		uint32_t np = 0;

		if (strcmp(defs[i].name, name))
			continue;
		if (!hx->func) {
			for (const char *p = defs[i].sig; *p; p++)
				params[np++] = *p == 'I' ? WASM_I64 : WASM_I32;
			t.nparams = np;
			t.params = params;
			t.nresults = defs[i].fn ? 1 : 0;
			t.results = &result;
			if (wasm_func_create_host(wi->w.store, &t, wasi_call, hx, &hx->func))
				return -ENOMEM;
		}
		out->kind = WASM_EXTERN_FUNC;
		out->u.func = hx->func;
		return 0;
	}
	return -ENOENT;
}

/* ----- life cycle ----- */

static char **copy_strings(char **v, int n)
{
	char **r = core_calloc((size_t)n + 1, sizeof(char *));

	if (!r)
		return NULL;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;
		r[i] = core_alloc(len);
		if (!r[i]) {
			while (i-- > 0)
				core_free(r[i]);
			core_free(r);
			return NULL;
		}
		memcpy(r[i], v[i], len);
	}
	return r;
}

static void free_strings(char **v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		core_free(v[i]);
	core_free(v);
}

static int add_stdio(struct wasi *w, const struct wasi_config *cfg)
{
	const int host[3] = {cfg->stdin_fd, cfg->stdout_fd, cfg->stderr_fd};

	for (int i = 0; i < 3; i++) {
		struct stat st;
		w->fds[i].host = host[i];
		w->fds[i].own = false;
		w->fds[i].type = fstat(host[i], &st) == 0 ? filetype(st.st_mode) : FT_CHAR;
	}
	w->nfds = 3;
	return 0;
}

static int add_preopen(struct wasi *w, const struct wasi_preopen *po)
{
	int fd = open(po->host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint32_t idx;
	size_t n = strlen(po->guest) + 1;

	if (fd < 0)
		return -errno;
	if (alloc_fd(w, fd, FT_DIR, &idx)) {
		close(fd);
		return -EMFILE;
	}
	w->fds[idx].preopen = core_alloc(n);
	if (!w->fds[idx].preopen) {
		close_fd(&w->fds[idx]);
		return -ENOMEM;
	}
	memcpy(w->fds[idx].preopen, po->guest, n);
	return 0;
}

int wasi_create(struct wasm_store *s, const struct wasi_config *cfg, struct wasi **out,
		int *bad_preopen)
{
	struct wasi_impl *wi = core_calloc(1, sizeof(*wi));
	struct wasi *w;
	int rc;

	if (!wi)
		return -ENOMEM;
	w = &wi->w;
	w->store = s;
	for (size_t i = 0; i < NDEFS; i++) {
		wi->ctx[i].w = w;
		wi->ctx[i].def = &defs[i];
	}
	w->argc = cfg->argc;
	w->nenv = cfg->nenv;
	w->argv = copy_strings(cfg->argv, cfg->argc);
	w->env = copy_strings(cfg->env, cfg->nenv);
	if (!w->argv || !w->env) {
		rc = -ENOMEM;
		goto err_free;
	}
	add_stdio(w, cfg);
	wasi_resolver_init(&w->res);
	for (int i = 0; i < cfg->npreopens; i++) {
		rc = add_preopen(w, &cfg->preopens[i]);
		if (rc) {
			if (bad_preopen)
				*bad_preopen = i;
			goto err_free;
		}
	}
	*out = w;
	return 0;
err_free:
	wasi_destroy(w);
	return rc;
}

void wasi_destroy(struct wasi *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->nfds; i++)
		if (w->fds[i].host >= 0)
			close_fd(&w->fds[i]);
	free_strings(w->argv, w->argc);
	free_strings(w->env, w->nenv);
	/* struct wasi is the first member of struct wasi_impl */
	core_free(w);
}
