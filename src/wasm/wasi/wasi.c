/*
 * WASI preview1 host functions (wasi_snapshot_preview1, witx of the 2020 snapshot):
 * args/environ, clocks, random_get, fd_* on stdio, files and directories, path_* confined
 * below preopened directories (path.c), poll_oneoff (poll.c), proc_exit,
 * sched_yield. Guest memory is reached only through wasm_memory_range() on the caller's
 * memory; every guest pointer and length is checked before use, and one outside memory
 * traps (WASM_TRAP_MEM_OOB), as does one not aligned for the type it points to
 * (WASM_TRAP_WASI_ALIGN), as the witx documents say. Other errors are WASI errno values
 * returned to the guest; flag and enum arguments with bits or values preview1 does not
 * define are EINVAL before anything else is looked at (as wasmtime's generated bindings
 * check them). Nothing the guest passes can crash the host.
 * Rights are kept per fd and enforced as preview1 defines them: each call needs its right
 * in the fd's base set (else ENOTCAPABLE), an fd gets only what its kind of file supports
 * and its access mode allows, path_open grants at most the directory's inheriting set,
 * and fd_fdstat_set_rights only removes. The capability boundary for paths is the
 * directory tree of each preopen.
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
#include <sys/socket.h>
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
	case ENOTCONN:
		return E_NOTCONN;
	case ENOTDIR:
		return E_NOTDIR;
	case ENOTSOCK:
		return E_NOTSOCK;
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
		return E_OOB;
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

/* ----- rights ----- */

/* What each kind of file supports at all. A directory has no read, write, seek or tell
 * rights and no fd_filestat_set_size; what it inherits covers directories and files. */
#define R_FILE                                                                                     \
	(R_FD_DATASYNC | R_FD_READ | R_FD_SEEK | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_TELL |   \
	 R_FD_WRITE | R_FD_ADVISE | R_FD_ALLOCATE | R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_SIZE |   \
	 R_FD_FILESTAT_SET_TIMES | R_POLL_FD_READWRITE)
#define R_DIR                                                                                      \
	(R_FD_DATASYNC | R_FD_SYNC | R_FD_FDSTAT_SET_FLAGS | R_PATH_CREATE_DIRECTORY |             \
	 R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET | R_PATH_OPEN |              \
	 R_FD_READDIR | R_PATH_READLINK | R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET |            \
	 R_PATH_FILESTAT_GET | R_PATH_FILESTAT_SET_SIZE | R_PATH_FILESTAT_SET_TIMES |              \
	 R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_TIMES | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY |  \
	 R_PATH_UNLINK_FILE)
/* pipes, terminals and other character devices: no position, no size */
#define R_STREAM                                                                                   \
	(R_FD_READ | R_FD_WRITE | R_FD_FDSTAT_SET_FLAGS | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE)
#define R_SOCKET (R_STREAM | R_SOCK_SHUTDOWN | R_SOCK_ACCEPT)

/* The rights an fd of this type, open with host access mode accmode (O_RDONLY, ...),
 * can have: base and inheriting. */
static void kind_rights(uint8_t type, int accmode, uint64_t *base, uint64_t *inh)
{
	switch (type) {
	case FT_DIR:
		*base = R_DIR;
		*inh = R_DIR | R_FILE;
		break;
	case FT_FILE:
	case FT_BLOCK:
		*base = R_FILE;
		*inh = 0;
		break;
	case FT_STREAM:
	case FT_DGRAM:
		*base = R_SOCKET;
		*inh = R_SOCKET;
		break;
	default:
		*base = R_STREAM;
		*inh = 0;
		break;
	}
	if (accmode == O_RDONLY)
		*base &= ~(R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE);
	else if (accmode == O_WRONLY)
		*base &= ~(R_FD_READ | R_FD_READDIR);
}

/* The open fd at argument i holding the rights in need: NULL with *e = E_BADF when there
 * is none, E_NOTCAPABLE when it lacks a right. */
static struct wasi_fd *fd_need(struct call *c, int i, uint64_t need, uint32_t *e)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, i));

	*e = !f ? E_BADF : !has_rights(f, need) ? E_NOTCAPABLE : E_SUCCESS;
	return *e ? NULL : f;
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
		w->fds[i].jid = ++w->next_jid;
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
	core_free(f->path);
	memset(f, 0, sizeof(*f));
	f->host = -1;
}

/* ----- threads: the fd table shared ----- */

void wasi_share(struct wasi *w)
{
	pthread_mutex_lock(&w->lock);
	w->shared = true;
	pthread_mutex_unlock(&w->lock);
}

uint32_t fd_hold(struct wasi *w, uint32_t fd, struct wasi_fd *out)
{
	struct wasi_fd *f;
	uint32_t e = E_SUCCESS;

	pthread_mutex_lock(&w->lock);
	f = getfd(w, fd);
	if (!f) {
		e = E_BADF;
	} else {
		*out = *f;
		out->dir = NULL;
		out->preopen = out->path = NULL;
		out->dup = w->shared;
		if (out->dup) {
			out->host = fcntl(f->host, F_DUPFD_CLOEXEC, 0);
			if (out->host < 0)
				e = wasi_errno(errno);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return e;
}

void fd_drop(struct wasi_fd *held)
{
	if (held->dup && held->host >= 0)
		close(held->host);
	held->host = -1;
}

/* ----- args, environ ----- */

static uint32_t put_strings(struct call *c, char **v, int n, uint32_t ptrs, uint32_t buf)
{
	for (int i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;
		uint8_t *p = gmem(c, buf, len);
		if (!p || !put32(c, ptrs + 4u * (uint32_t)i, buf))
			return E_OOB;
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
		return E_OOB;
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
		       : E_OOB;
}

static uint32_t clock_time_get(struct call *c)
{
	clockid_t id;

	if (wasi_clock_id(arg32(c, 0), &id))
		return E_INVAL;
	/* the monotonic clock is the program's: it stands still while it is paused and goes
	 * on from a snapshot's reading after a restore (wasm_store_clock) */
	return put64(c, arg32(c, 2),
		     id == CLOCK_MONOTONIC ? wasm_store_clock(c->w->store) : core_clock_ns(id))
		       ? E_SUCCESS
		       : E_OOB;
}

static uint32_t random_get(struct call *c)
{
	uint32_t len = arg32(c, 1);
	uint8_t *p = gmem(c, arg32(c, 0), len);

	if (!p)
		return E_OOB;
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
		return E_OOB;
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
			return E_OOB;
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

/* Advances iov[0..*cnt) past n bytes done. */
static void iov_skip(struct iovec **iov, int *cnt, size_t n)
{
	while (*cnt && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/* One attempt of a read or write that may wait: on iov[0..cnt), without blocking when
 * nowait (else as a blocking call, made once a wait said the fd is ready). Returns the
 * bytes done, -1 with errno (EAGAIN: not ready), or TRY_BLOCKING: the fd cannot be
 * tried without blocking. */
#define TRY_BLOCKING (-2)
typedef ssize_t (*io_try_fn)(void *op, struct iovec *iov, int cnt, bool nowait);

/* Reads or writes through try, which never blocks: the call waits in wasi_wait_fd, so a
 * pause or stop asked for meanwhile gives it up (E_HELD) with nothing read or written
 * that the program could see. gather: go on until iov is full or all written, as a
 * blocking write (or recv with MSG_WAITALL) does; given up, ended (end of file) or failed
 * after part of it, the call returns that part: a short count, never done twice. An fd
 * that cannot be tried without blocking (TRY_BLOCKING: a terminal refuses RWF_NOWAIT)
 * is waited for first, then read or written as a blocking call. *nowait: whether to try
 * without blocking first, cleared when the fd refused it (the caller may remember that
 * for the fd). *done = the bytes; returns E_SUCCESS, E_HELD or an errno. */
static uint32_t io_wait(struct call *c, int host, short events, bool gather, io_try_fn try,
			void *op, struct iovec *iov, int cnt, bool *nowait, size_t *done)
{
	size_t want = 0;
	uint32_t e;

	for (int i = 0; i < cnt; i++)
		want += iov[i].iov_len;
	*done = 0;
	for (;;) {
		ssize_t n = try(op, iov, cnt, *nowait);
		if (n >= 0) {
			*done += (size_t)n;
			if (!gather || n == 0 || *done >= want)
				return E_SUCCESS;
			iov_skip(&iov, &cnt, (size_t)n);
		} else if (n == TRY_BLOCKING) {
			*nowait = false;
			/* a terminal's write blocks only while the terminal is stopped: made at
			 * once, as before (a poll first cost it twice the CPU of a small write) */
			if (events & POLLOUT)
				continue;
		} else if (errno != EAGAIN && errno != EINTR) {
			return *done ? E_SUCCESS : wasi_errno(errno);
		}
		if (!*nowait && (events & POLLOUT))
			continue;
		e = wasi_wait_fd(c, host, events);
		if (e)
			return *done ? E_SUCCESS : e;
	}
}

/* Whether a read or write of f may wait for a peer for good: a pipe, a FIFO, a terminal,
 * a socket, another character device; not a regular file or block device (whose path
 * stays one system call), nor an fd the program made non-blocking. */
static bool may_wait(const struct wasi_fd *f)
{
	return f->type != FT_FILE && f->type != FT_BLOCK && !(f->flags & FDFLAG_NONBLOCK);
}

struct rw_op {
	int host;
	bool write;
};

/* io_try_fn of fd_read and fd_write: RWF_NOWAIT tries without blocking, and without
 * setting O_NONBLOCK on an open file description the caller may share (stdio). No
 * O_APPEND for these: they have no position. */
static ssize_t rw_try(void *op, struct iovec *iov, int cnt, bool nowait)
{
	const struct rw_op *o = op;
	ssize_t n;

	if (!nowait)
		return o->write ? writev(o->host, iov, cnt) : readv(o->host, iov, cnt);
	n = o->write ? pwritev2(o->host, iov, cnt, -1, RWF_NOWAIT)
		     : preadv2(o->host, iov, cnt, -1, RWF_NOWAIT);
	/* a terminal, or a kernel before pipes took RWF_NOWAIT (5.x) */
	return n < 0 && errno == EOPNOTSUPP ? TRY_BLOCKING : n;
}

static uint32_t fd_rw_held(struct call *c, struct wasi_fd *f, bool write, bool positioned)
{
	struct iovec iov[64];
	int cnt;
	uint32_t e, out = arg32(c, positioned ? 4 : 3);
	ssize_t n;

	if (f->type == FT_DIR) /* as Linux answers read(2) and write(2) on a directory */
		return E_ISDIR;
	/* fd_pread and fd_pwrite need fd_seek as well */
	if (!has_rights(f, (write ? R_FD_WRITE : R_FD_READ) | (positioned ? R_FD_SEEK : 0)))
		return E_NOTCAPABLE;
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
	} else if (write && !f->own && __atomic_load_n(&c->w->hold, __ATOMIC_ACQUIRE)) {
		/* replication holds it back until a checkpoint covers it (wasi_set_hold) */
		n = c->w->hold(c->w->hold_opaque, f->host, iov, cnt);
		if (n < 0)
			return wasi_errno((int)-n);
	} else if (may_wait(f)) {
		struct rw_op o = {f->host, write};
		bool nowait = !f->nowait_no;
		size_t done;
		e = io_wait(c, f->host, write ? POLLOUT : POLLIN, write, rw_try, &o, iov, cnt,
			    &nowait, &done);
		f->nowait_no = !nowait;
		if (e)
			return e;
		n = (ssize_t)done;
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
	if (write && n > 0 && f->own && f->type == FT_FILE &&
	    __atomic_load_n(&c->w->jon, __ATOMIC_ACQUIRE)) { /* replication (journal.c) */
		/* Linux's pwrite on an O_APPEND file writes at its end, whatever the offset */
		int fl = positioned ? fcntl(f->host, F_GETFL) : 0;
		struct stat st;
		off_t at = !positioned			? lseek(f->host, 0, SEEK_CUR) - n
			   : fl < 0 || !(fl & O_APPEND) ? (off_t)c->a[3]
			   : fstat(f->host, &st)	? -1
							: st.st_size - n;
		wasi_jrec_write(c->w, f->jid, (uint64_t)at, iov, cnt, (size_t)n);
	}
	return put32(c, out, (uint32_t)n) ? E_SUCCESS : E_OOB;
}

/* May block (a pipe, a terminal): runs on a held copy of the fd, w->lock not held. */
void wasi_set_hold(struct wasi *w, wasi_hold_fn hold, void *opaque)
{
	if (hold)
		w->hold_opaque = opaque;
	__atomic_store_n(&w->hold, hold, __ATOMIC_RELEASE);
}

static uint32_t fd_rw(struct call *c, bool write, bool positioned)
{
	struct wasi_fd f;
	uint32_t e = fd_hold(c->w, arg32(c, 0), &f);

	if (e)
		return e;
	e = fd_rw_held(c, &f, write, positioned);
	if (f.nowait_no && !f.dup) { /* remembered for the fd, unless it changed meanwhile */
		struct wasi_fd *g;
		pthread_mutex_lock(&c->w->lock);
		g = getfd(c->w, arg32(c, 0));
		if (g && g->host == f.host)
			g->nowait_no = true;
		pthread_mutex_unlock(&c->w->lock);
	}
	fd_drop(&f);
	return e;
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

	if (wh > 2)
		return E_INVAL;
	if (!f)
		return E_BADF;
	/* fd_tell is enough to seek by 0 from the current position (a tell) */
	if (!has_rights(f, R_FD_SEEK) && !(c->a[1] == 0 && wh == 1 && has_rights(f, R_FD_TELL)))
		return E_NOTCAPABLE;
	r = lseek(f->host, (off_t)c->a[1], whence[wh]);
	if (r < 0)
		return wasi_errno(errno);
	return put64(c, arg32(c, 3), (uint64_t)r) ? E_SUCCESS : E_OOB;
}

static uint32_t fd_tell(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	off_t r;

	if (!f)
		return E_BADF;
	if (!has_rights(f, R_FD_TELL) && !has_rights(f, R_FD_SEEK)) /* fd_seek implies fd_tell */
		return E_NOTCAPABLE;
	r = lseek(f->host, 0, SEEK_CUR);
	if (r < 0)
		return wasi_errno(errno);
	return put64(c, arg32(c, 1), (uint64_t)r) ? E_SUCCESS : E_OOB;
}

static uint32_t fd_close(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));

	if (!f)
		return E_BADF;
	if (f->own)
		wasi_jrec(c->w, J_CLOSE, f->jid, 0, 0, 0, NULL, NULL);
	close_fd(f);
	return E_SUCCESS;
}

static uint32_t fd_sync(struct call *c)
{
	uint32_t e;
	struct wasi_fd *f = fd_need(c, 0, R_FD_SYNC, &e);

	if (!f)
		return e;
	return fsync(f->host) ? wasi_errno(errno) : E_SUCCESS;
}

static uint32_t fd_datasync(struct call *c)
{
	uint32_t e;
	struct wasi_fd *f = fd_need(c, 0, R_FD_DATASYNC, &e);

	if (!f)
		return e;
	return fdatasync(f->host) ? wasi_errno(errno) : E_SUCCESS;
}

/* Advice is only a hint, and the host's page cache is not the guest's business: the
 * arguments are checked, nothing is done. */
static uint32_t fd_advise(struct call *c)
{
	uint32_t e;

	if (arg32(c, 3) > 5) /* advice: normal .. noreuse */
		return E_INVAL;
	fd_need(c, 0, R_FD_ADVISE, &e);
	return e;
}

static uint32_t fd_allocate(struct call *c)
{
	uint32_t e;
	struct wasi_fd *f = fd_need(c, 0, R_FD_ALLOCATE, &e);
	int r;

	if (!f)
		return e;
	r = posix_fallocate(f->host, (off_t)c->a[1], (off_t)c->a[2]);
	if (!r && f->own)
		wasi_jrec(c->w, J_ALLOC, f->jid, 0, c->a[1], c->a[2], NULL, NULL);
	return r ? wasi_errno(r) : E_SUCCESS;
}

static uint32_t fd_fdstat_get(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	uint8_t *p = gmem(c, arg32(c, 1), 24);

	if (!f)
		return E_BADF;
	if (!p)
		return E_OOB;
	memset(p, 0, 24);
	p[0] = f->type;
	memcpy(p + 2, &f->flags, 2);
	memcpy(p + 8, &f->base, 8);
	memcpy(p + 16, &f->inh, 8);
	return E_SUCCESS;
}

static uint32_t fd_fdstat_set_flags(struct call *c)
{
	uint32_t fl = arg32(c, 1), e;
	struct wasi_fd *f;
	int hf;

	if (fl & ~(uint32_t)FDFLAGS_ALL)
		return E_INVAL;
	f = fd_need(c, 0, R_FD_FDSTAT_SET_FLAGS, &e);
	if (!f)
		return e;
	/* Linux keeps O_SYNC and O_DSYNC as opened (F_SETFL ignores them): rather than
	 * report a change that did not happen, refuse it */
	if ((fl ^ f->flags) & (FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC))
		return E_NOTSUP;
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

/* Rights can only be dropped: asking for one the fd lacks is ENOTCAPABLE. */
static uint32_t fd_fdstat_set_rights(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	uint64_t base = c->a[1], inh = c->a[2];

	if (!f)
		return E_BADF;
	if ((base & ~f->base) || (inh & ~f->inh))
		return E_NOTCAPABLE;
	f->base = base;
	f->inh = inh;
	return E_SUCCESS;
}

static uint32_t put_filestat(struct call *c, uint32_t addr, const struct stat *st)
{
	uint8_t *p = gmem(c, addr, 64);
	uint64_t v[8];

	if (!p)
		return E_OOB;
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
	uint32_t e;
	struct wasi_fd *f = fd_need(c, 0, R_FD_FILESTAT_GET, &e);
	struct stat st;

	if (!f)
		return e;
	if (fstat(f->host, &st))
		return wasi_errno(errno);
	return put_filestat(c, arg32(c, 1), &st);
}

static uint32_t fd_filestat_set_size(struct call *c)
{
	uint32_t e;
	struct wasi_fd *f = fd_need(c, 0, R_FD_FILESTAT_SET_SIZE, &e);

	if (!f)
		return e;
	if (ftruncate(f->host, (off_t)c->a[1]))
		return wasi_errno(errno);
	if (f->own)
		wasi_jrec(c->w, J_SIZE, f->jid, 0, c->a[1], 0, NULL, NULL);
	return E_SUCCESS;
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
	uint32_t e;
	struct wasi_fd *f;
	struct timespec ts[2];

	if (make_times(c->a[1], c->a[2], arg32(c, 3), ts))
		return E_INVAL;
	f = fd_need(c, 0, R_FD_FILESTAT_SET_TIMES, &e);
	if (!f)
		return e;
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
		return E_OOB;
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
		return E_OOB;
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
	if (to->own)
		wasi_jrec(w, J_CLOSE, to->jid, 0, 0, 0, NULL, NULL);
	close_fd(to);
	*to = *from;
	memset(from, 0, sizeof(*from));
	from->host = -1;
	return E_SUCCESS;
}

/* The filetype of entry de of directory d, the same as its filestat's: as d_type says or,
 * where the file system does not say (DT_UNKNOWN), as lstat finds. */
static uint8_t dirent_type(DIR *d, const struct dirent *de)
{
	struct stat st;

	switch (de->d_type) {
	case DT_DIR:
		return FT_DIR;
	case DT_REG:
		return FT_FILE;
	case DT_LNK:
		return FT_SYMLINK;
	case DT_CHR:
		return FT_CHAR;
	case DT_BLK:
		return FT_BLOCK;
	case DT_SOCK:
		return FT_STREAM;
	case DT_UNKNOWN:
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			return FT_UNKNOWN;
		return filetype(st.st_mode);
	default:
		return FT_UNKNOWN; /* a FIFO, which preview1 has no type for */
	}
}

/* Directory entries: cookie n means "start after the first n entries". A cookie the last
 * call ended at (after its last entry, or before it when that was cut off) continues from
 * there; any other reads from the start, so that a listing in small buffers costs what
 * one in a big buffer does. */
static uint32_t fd_readdir(struct call *c)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));
	uint32_t buf = arg32(c, 1), len = arg32(c, 2), used = 0;
	uint64_t cookie = c->a[3], n = 0;
	struct dirent *de;
	long loc;

	if (!f)
		return E_BADF;
	if (f->type != FT_DIR)
		return E_NOTDIR;
	if (!has_rights(f, R_FD_READDIR))
		return E_NOTCAPABLE;
	if (!gmem(c, buf, len))
		return E_OOB;
	if (!f->dir) {
		int d = openat(f->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0)
			return wasi_errno(errno);
		f->dir = fdopendir(d);
		if (!f->dir) {
			close(d);
			return wasi_errno(errno);
		}
		f->rd_valid = false;
	}
	if (f->rd_valid && (cookie == f->rd_cookie[0] || cookie == f->rd_cookie[1])) {
		seekdir(f->dir, f->rd_loc[cookie == f->rd_cookie[1]]);
		n = cookie;
	} else {
		rewinddir(f->dir);
	}
	loc = telldir(f->dir);
	while (used < len && (de = readdir(f->dir)) != NULL) {
		uint8_t hdr[24];
		uint32_t nl = (uint32_t)strlen(de->d_name), k;
		uint64_t next = ++n, ino = de->d_ino;
		if (n <= cookie) {
			loc = telldir(f->dir);
			continue;
		}
		f->rd_cookie[0] = n - 1;
		f->rd_loc[0] = loc;
		loc = telldir(f->dir);
		f->rd_cookie[1] = n;
		f->rd_loc[1] = loc;
		f->rd_valid = true;
		memset(hdr, 0, sizeof(hdr));
		memcpy(hdr, &next, 8);
		memcpy(hdr + 8, &ino, 8);
		memcpy(hdr + 16, &nl, 4);
		hdr[20] = dirent_type(f->dir, de);
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
	return put32(c, arg32(c, 4), used) ? E_SUCCESS : E_OOB;
}

/* ----- paths ----- */

/* Resolves (fd, path) to a directory fd holding the rights in need and a guest path
 * string. */
static uint32_t dir_path(struct call *c, int fdi, int pi, int li, uint64_t need, int *dirfd,
			 char *path)
{
	struct wasi_fd *f = getfd(c->w, arg32(c, fdi));

	if (!f)
		return E_BADF;
	if (f->type != FT_DIR)
		return E_NOTDIR;
	if (!has_rights(f, need))
		return E_NOTCAPABLE;
	*dirfd = f->host;
	return get_path(c, arg32(c, pi), arg32(c, li), path);
}

/* Records a path call on the directory at argument 0 (replication, journal.c). */
static void jrec_path(struct call *c, uint8_t op, const char *path, const char *path2)
{
	wasi_jrec(c->w, op, getfd(c->w, arg32(c, 0))->jid, 0, 0, 0, path, path2);
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
	uint32_t e = dir_path(c, 0, 1, 2, R_PATH_CREATE_DIRECTORY, &d, path);

	e = e ?: with_parent(c->w, d, path, op_mkdir, NULL);
	if (!e)
		jrec_path(c, J_MKDIR, path, NULL);
	return e;
}

static uint32_t path_remove_directory(struct call *c)
{
	char path[PATH_MAX_LEN];
	int d;
	uint32_t e = dir_path(c, 0, 1, 2, R_PATH_REMOVE_DIRECTORY, &d, path);

	e = e ?: with_parent(c->w, d, path, op_rmdir, NULL);
	if (!e)
		jrec_path(c, J_RMDIR, path, NULL);
	return e;
}

static uint32_t path_unlink_file(struct call *c)
{
	char path[PATH_MAX_LEN];
	struct stat st;
	int d;
	uint32_t e = dir_path(c, 0, 1, 2, R_PATH_UNLINK_FILE, &d, path);

	if (e)
		return e;
	if (trailing_slash(path)) { /* never a file: what is there decides the errno */
		e = with_parent(c->w, d, path, op_lstat, &st);
		return e ? e : S_ISDIR(st.st_mode) ? E_ISDIR : E_NOTDIR;
	}
	e = with_parent(c->w, d, path, op_unlink, NULL);
	if (!e)
		jrec_path(c, J_UNLINK, path, NULL);
	return e;
}

static uint32_t path_filestat_get(struct call *c)
{
	char path[PATH_MAX_LEN];
	struct stat st;
	int d;
	uint32_t e;

	if (arg32(c, 1) & ~LOOKUP_ALL)
		return E_INVAL;
	e = dir_path(c, 0, 2, 3, R_PATH_FILESTAT_GET, &d, path);
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
	uint32_t e;

	if ((arg32(c, 1) & ~LOOKUP_ALL) || make_times(c->a[4], c->a[5], arg32(c, 6), a.ts))
		return E_INVAL;
	e = dir_path(c, 0, 2, 3, R_PATH_FILESTAT_SET_TIMES, &d, path);
	if (e)
		return e;
	if ((arg32(c, 1) & 1) || trailing_slash(path)) {
		/* follow: resolve (confined) to an O_PATH fd, which any file has (a socket, one
		 * the caller may not read), and set the times of what it names, as utimensat
		 * by name would; before Linux 5.8, through /proc */
		char proc[64];
		int fd = wasi_path_open(&c->w->res, d, path, O_PATH, 0), rc;
		if (fd < 0)
			return wasi_errno(fd);
		rc = utimensat(fd, "", a.ts, AT_EMPTY_PATH);
		if (rc && errno == EINVAL) {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			rc = utimensat(AT_FDCWD, proc, a.ts, 0);
		}
		e = rc ? wasi_errno(errno) : E_SUCCESS;
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
	char link[PATH_MAX_LEN];
	uint32_t e = dir_path(c, 0, 1, 2, R_PATH_READLINK, &d, path), len = arg32(c, 4);
	uint8_t *buf = gmem(c, arg32(c, 3), len);

	if (e)
		return e;
	if (!buf)
		return E_OOB;
	/* read whole, then cut to the buffer: a short buffer (even of 0 bytes, which
	 * readlinkat refuses) gets the start of the target, as wasmtime does */
	a.buf = link;
	a.len = sizeof(link);
	a.n = 0;
	e = with_parent(c->w, d, path, op_readlink, &a);
	if (e)
		return e;
	if ((size_t)a.n > len)
		a.n = len;
	memcpy(buf, link, (size_t)a.n);
	return put32(c, arg32(c, 5), (uint32_t)a.n) ? E_SUCCESS : E_OOB;
}

static uint32_t path_symlink(struct call *c)
{
	char target[PATH_MAX_LEN], path[PATH_MAX_LEN];
	int d;
	uint32_t e = get_path(c, arg32(c, 0), arg32(c, 1), target);

	if (e || (e = dir_path(c, 2, 3, 4, R_PATH_SYMLINK, &d, path)))
		return e;
	/* An absolute target names the host's root, never the sandbox's: a guest never makes a
	 * link that points out of its preopens (following one is confined anyway, as with
	 * relative targets and links that were there before). */
	if (target[0] == '/')
		return E_NOTCAPABLE;
	if (trailing_slash(path))
		return new_name_with_slash(c->w, d, path);
	e = with_parent(c->w, d, path, op_symlink, target);
	if (!e)
		wasi_jrec(c->w, J_SYMLINK, getfd(c->w, arg32(c, 2))->jid, 0, 0, 0, path, target);
	return e;
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

/* Opens both ends' parents (args: fd, path, length argument indexes of each; need: the
 * right each directory fd must hold). The caller closes them with close_ends(), also on
 * failure. */
static uint32_t open_ends(struct call *c, const int args[2][3], const uint64_t need[2],
			  struct link_end e[2])
{
	uint32_t err;
	int rc;

	e[0].parent = e[1].parent = -1;
	for (int i = 0; i < 2; i++) {
		err = dir_path(c, args[i][0], args[i][1], args[i][2], need[i], &e[i].dirfd,
			       e[i].path);
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
	static const uint64_t need[2] = {R_PATH_LINK_SOURCE, R_PATH_LINK_TARGET};
	struct link_end e[2];
	uint32_t err;

	if (arg32(c, 1) & ~LOOKUP_ALL)
		return E_INVAL;
	err = open_ends(c, args, need, e);
	if (!err)
		err = wasi_errno(do_link(c->w, e, arg32(c, 1) & 1));
	close_ends(e);
	if (!err)
		wasi_jrec(c->w, J_LINK, getfd(c->w, arg32(c, 0))->jid,
			  getfd(c->w, arg32(c, 4))->jid, arg32(c, 1) & 1, 0, e[0].path, e[1].path);
	return err;
}

/* The path of dir's `path` from its preopen in out (trailing slashes dropped); false when
 * dir's own place is unknown or it is too long. */
static bool full_path(const struct wasi_fd *dir, const char *path, char *out, size_t outsz)
{
	size_t n;

	if (!dir->preopen && !dir->path)
		return false;
	n = (size_t)snprintf(out, outsz, "%s%s%s", dir->preopen ? "" : dir->path,
			     dir->preopen ? "" : "/", path);
	if (n >= outsz)
		return false;
	while (n > 1 && out[n - 1] == '/')
		out[--n] = 0;
	return true;
}

/* After a rename the files and directories open that were the renamed one (by inode, new
 * a stat of it now) or lay below it (by their path) are known by their new path:
 * snapshots and replication's failover open them again by it, and replication's
 * checkpoint 0 binds them by it. One whose new path is unknown (out of memory) is
 * unknown from then on. */
static void rename_paths(struct wasi *w, const struct wasi_fd *from, const char *old,
			 const struct wasi_fd *to, const char *new, const struct stat *st)
{
	char a[PATH_MAX_LEN], b[PATH_MAX_LEN];
	int ra = from->root, rb = to->root;
	size_t al, bl;

	if (!full_path(from, old, a, sizeof(a)))
		return;
	if (!full_path(to, new, b, sizeof(b)))
		b[0] = 0;
	al = strlen(a);
	bl = strlen(b);
	for (int i = 0; i < w->nfds; i++) {
		struct wasi_fd *f = &w->fds[i];
		struct stat fs;
		bool same, below;
		size_t rest;
		char *p;
		if (f->host < 0 || !f->own || f->preopen || !f->path)
			continue;
		same = !fstat(f->host, &fs) && fs.st_dev == st->st_dev && fs.st_ino == st->st_ino;
		below = !same && f->root == ra && !strncmp(f->path, a, al) && f->path[al] == '/';
		if (!same && !below)
			continue;
		rest = same ? 0 : strlen(f->path + al);
		p = bl ? core_alloc(bl + rest + 1) : NULL;
		if (p) {
			memcpy(p, b, bl);
			memcpy(p + bl, f->path + al, rest);
			p[bl + rest] = 0;
		}
		core_free(f->path);
		f->path = p;
		f->root = rb;
	}
}

static uint32_t path_rename(struct call *c)
{
	/* fd, old_path, old_len, new_fd, new_path, new_len */
	static const int args[2][3] = {{0, 1, 2}, {3, 4, 5}};
	static const uint64_t need[2] = {R_PATH_RENAME_SOURCE, R_PATH_RENAME_TARGET};
	struct link_end e[2];
	uint32_t err = open_ends(c, args, need, e);

	if (!err)
		err = wasi_errno(do_rename(e));
	if (!err) {
		struct stat st;
		if (!fstatat(end_dir(&e[1]), e[1].base, &st, AT_SYMLINK_NOFOLLOW))
			rename_paths(c->w, getfd(c->w, arg32(c, 0)), e[0].path,
				     getfd(c->w, arg32(c, 3)), e[1].path, &st);
	}
	close_ends(e);
	if (!err)
		wasi_jrec(c->w, J_RENAME, getfd(c->w, arg32(c, 0))->jid,
			  getfd(c->w, arg32(c, 3))->jid, 0, 0, e[0].path, e[1].path);
	return err;
}

/* Remembers where f was opened (below dir, by path) for snapshots; unknown when out of
 * memory or when dir's own place is unknown. */
static void record_path(struct wasi *w, const struct wasi_fd *dir, struct wasi_fd *f,
			const char *path)
{
	const char *prefix = dir->preopen ? NULL : dir->path;
	size_t a = prefix ? strlen(prefix) + 1 : 0, b = strlen(path) + 1;

	(void)w;
	if (!dir->preopen && !dir->path)
		return;
	f->path = core_alloc(a + b);
	if (!f->path)
		return;
	if (prefix) {
		memcpy(f->path, prefix, a - 1);
		f->path[a - 1] = '/';
	}
	memcpy(f->path + a, path, b);
	f->root = dir->root;
}

static uint32_t path_open(struct call *c)
{
	struct wasi *w = c->w;
	char path[PATH_MAX_LEN];
	uint32_t dirflags = arg32(c, 1), oflags = arg32(c, 4), fdflags = arg32(c, 7), nfd;
	uint64_t base = c->a[5], inh = c->a[6], kbase, kinh;
	int d, flags = 0, fd, rc, acc;
	struct wasi_fd *dir;
	struct stat st;
	uint32_t e;

	/* bits no flag set defines (rights are masked below, not refused: programs ask for
	 * more than they can get) */
	if ((dirflags & ~LOOKUP_ALL) || (oflags & ~15u) || (fdflags & ~(uint32_t)FDFLAGS_ALL))
		return E_INVAL;
	e = dir_path(c, 0, 2, 3, R_PATH_OPEN, &d, path);
	if (e)
		return e;
	dir = getfd(w, arg32(c, 0));
	if (((oflags & 1) && !has_rights(dir, R_PATH_CREATE_FILE)) ||
	    ((oflags & 8) && !has_rights(dir, R_PATH_FILESTAT_SET_SIZE)))
		return E_NOTCAPABLE;
	/* synchronous fds need the sync rights among those the directory passes on */
	if (((fdflags & FDFLAG_DSYNC) && !(dir->inh & R_FD_DATASYNC)) ||
	    ((fdflags & (FDFLAG_RSYNC | FDFLAG_SYNC)) && !(dir->inh & R_FD_SYNC)))
		return E_NOTCAPABLE;
	/* a directory to create, or one to truncate, is a contradiction (Linux since 6.4
	 * says EINVAL to the first, older kernels created a file) */
	if ((oflags & 2) && (oflags & 1))
		return E_INVAL;
	/* The new fd gets what was asked for, as far as the directory passes rights on;
	 * asking for more is not an error (callers ask for everything a kind of file might
	 * allow), the fd just does not get it. */
	base &= dir->inh;
	inh &= dir->inh;
	/* read/write access from the rights (a directory opened for writing fails, EISDIR) */
	if ((base & R_FD_READ) && (base & R_FD_WRITE))
		flags = O_RDWR;
	else if (base & R_FD_WRITE)
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
	/* O_TRUNC needs write access on the host; the fd still gets only the rights asked,
	 * those of the access mode they ask for (read only: no fd_allocate, no set_size) */
	acc = flags & O_ACCMODE;
	if ((flags & (O_CREAT | O_TRUNC)) && acc == O_RDONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	fd = wasi_path_open(&w->res, d, path, flags, 0666);
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
	kind_rights(w->fds[nfd].type, acc, &kbase, &kinh);
	record_path(w, dir, &w->fds[nfd], path);
	w->fds[nfd].base = base & kbase;
	w->fds[nfd].inh = inh & kinh;
	w->fds[nfd].flags = (uint16_t)fdflags;
	if (!put32(c, arg32(c, 8), nfd)) {
		close_fd(&w->fds[nfd]);
		return E_OOB;
	}
	/* replication: the standby opens it as well (O_EXCL apart: it did not exist) */
	wasi_jrec(w, J_OPEN, w->fds[nfd].jid, dir->jid,
		  (uint64_t)(flags & (O_ACCMODE | O_CREAT | O_TRUNC | O_DIRECTORY | O_NOFOLLOW)), 0,
		  path, NULL);
	return E_SUCCESS;
}

/* ----- sockets ----- */

/* The socket at argument 0 holding the rights in need: NULL with *e = E_BADF, E_NOTSOCK
 * for any other kind of fd, or E_NOTCAPABLE. */
/* The socket at argument 0 holding need, as a held copy (fd_hold; fd_drop it). */
static uint32_t sock_hold(struct call *c, uint64_t need, struct wasi_fd *f)
{
	uint32_t e = fd_hold(c->w, arg32(c, 0), f);

	if (e)
		return e;
	if (f->type != FT_STREAM && f->type != FT_DGRAM)
		e = E_NOTSOCK;
	else if (!has_rights(f, need))
		e = E_NOTCAPABLE;
	if (e)
		fd_drop(f);
	return e;
}

struct sock_op {
	int host;
	bool send;
	int flags;     /* recvmsg's or sendmsg's */
	int out_flags; /* the last recvmsg's msg_flags */
};

/* io_try_fn of sock_recv and sock_send: MSG_DONTWAIT tries without blocking. */
static ssize_t sock_try(void *op, struct iovec *iov, int cnt, bool nowait)
{
	struct sock_op *o = op;
	int fl = o->flags | (nowait ? MSG_DONTWAIT : 0);
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
	ssize_t n = o->send ? sendmsg(o->host, &msg, fl) : recvmsg(o->host, &msg, fl);

	o->out_flags = msg.msg_flags;
	return n;
}

/* Whether host is a SOCK_STREAM socket (the WASI type does not say: a socket the
 * caller gives is FT_STREAM whatever it is). */
static bool is_stream(int host)
{
	int type;
	socklen_t len = sizeof(type);

	return !getsockopt(host, SOL_SOCKET, SO_TYPE, &type, &len) && type == SOCK_STREAM;
}

/* recvmsg for sock_recv with flags fl, *n the bytes, *out_flags msg_flags. A socket the
 * program made non-blocking is tried once (its O_NONBLOCK is emulated per call on the
 * caller's socket); another waits in io_wait (a pause or stop gives the call up,
 * E_HELD), gathering for MSG_WAITALL on a stream socket as recv does. With MSG_PEEK
 * nothing is consumed, so MSG_WAITALL cannot gather: once the socket is readable the
 * peek blocks for all of it, as before. */
static uint32_t sock_recv_msg(struct call *c, const struct wasi_fd *f, int fl, struct iovec *iov,
			      int cnt, size_t *n, int *out_flags)
{
	struct sock_op o = {f->host, false, fl, 0};
	bool all = (fl & MSG_WAITALL) && !(fl & MSG_PEEK);
	uint32_t e = E_SUCCESS;
	ssize_t r = 0;

	if (f->flags & FDFLAG_NONBLOCK) {
		r = sock_try(&o, iov, cnt, true);
	} else if (fl & MSG_PEEK && fl & MSG_WAITALL) {
		e = wasi_wait_fd(c, f->host, POLLIN);
		if (!e)
			r = sock_try(&o, iov, cnt, false);
	} else {
		if (all)
			o.flags &= ~MSG_WAITALL; /* gathered here, each attempt not blocking */
		e = io_wait(c, f->host, POLLIN, all && is_stream(f->host), sock_try, &o, iov, cnt,
			    &(bool){true}, n);
		*out_flags = o.out_flags;
		return e;
	}
	if (!e && r < 0)
		e = wasi_errno(errno);
	*n = r < 0 ? 0 : (size_t)r;
	*out_flags = o.out_flags;
	return e;
}

/* sock_recv(fd, iovs, n, riflags, out_len, out_roflags); riflags: 1 peek, 2 waitall.
 * May block: w->lock not held. */
static uint32_t sock_recv(struct call *c)
{
	uint32_t e, rif = arg32(c, 3);
	struct wasi_fd f;
	struct iovec iov[64];
	uint16_t rof;
	uint8_t *out;
	int cnt, mfl;
	size_t n;

	if (rif & ~3u)
		return E_INVAL;
	e = sock_hold(c, R_FD_READ, &f);
	if (e)
		return e;
	e = get_iovs(c, arg32(c, 1), arg32(c, 2), iov, &cnt);
	if (e) {
		fd_drop(&f);
		return e;
	}
	e = sock_recv_msg(c, &f, ((rif & 1) ? MSG_PEEK : 0) | ((rif & 2) ? MSG_WAITALL : 0), iov,
			  cnt, &n, &mfl);
	fd_drop(&f);
	if (e)
		return e;
	rof = (mfl & MSG_TRUNC) ? 1 : 0; /* roflags: recv_data_truncated */
	out = gmem(c, arg32(c, 5), 2);
	if (!put32(c, arg32(c, 4), (uint32_t)n) || !out)
		return E_OOB;
	memcpy(out, &rof, 2);
	return E_SUCCESS;
}

/* sock_send(fd, iovs, n, siflags (none defined), out_len). May block: w->lock not held;
 * waits in io_wait as fd_write does (a pause or stop gives it up, or ends it short after
 * part of it was sent), unless the program made the socket non-blocking. */
static uint32_t sock_send(struct call *c)
{
	uint32_t e;
	struct wasi_fd f;
	struct iovec iov[64];
	/* MSG_NOSIGNAL: a closed peer is EPIPE for the guest, never SIGPIPE for lodge */
	struct sock_op o = {-1, true, MSG_NOSIGNAL, 0};
	int cnt;
	size_t n = 0;

	e = sock_hold(c, R_FD_WRITE, &f);
	if (e)
		return e;
	if (arg32(c, 3))
		e = E_INVAL;
	if (!e)
		e = get_iovs(c, arg32(c, 1), arg32(c, 2), iov, &cnt);
	if (e) {
		fd_drop(&f);
		return e;
	}
	o.host = f.host;
	if (f.flags & FDFLAG_NONBLOCK) { /* emulated per call on the caller's socket */
		ssize_t r = sock_try(&o, iov, cnt, true);
		e = r < 0 ? wasi_errno(errno) : E_SUCCESS;
		n = r < 0 ? 0 : (size_t)r;
	} else {
		e = io_wait(c, f.host, POLLOUT, true, sock_try, &o, iov, cnt, &(bool){true}, &n);
	}
	fd_drop(&f);
	if (e)
		return e;
	return put32(c, arg32(c, 4), (uint32_t)n) ? E_SUCCESS : E_OOB;
}

/* sock_shutdown(fd, sdflags): 1 read side, 2 write side, 3 both. */
static uint32_t sock_shutdown(struct call *c)
{
	static const int how[] = {0, SHUT_RD, SHUT_WR, SHUT_RDWR};
	uint32_t sd = arg32(c, 1);
	struct wasi_fd *f = getfd(c->w, arg32(c, 0));

	if (sd > 3)
		return E_INVAL;
	if (!f)
		return E_BADF;
	if (f->type != FT_STREAM && f->type != FT_DGRAM)
		return E_NOTSOCK;
	if (!has_rights(f, R_SOCK_SHUTDOWN))
		return E_NOTCAPABLE;
	if (sd == 0) /* neither side */
		return E_INVAL;
	return shutdown(f->host, how[sd]) ? wasi_errno(errno) : E_SUCCESS;
}

/* Whether host is a listening socket (or cannot be told: accept4 then says). accept4 on
 * another (connected, datagram) fails at once, which waiting for POLLIN would put off
 * until data came. */
static bool is_listening(int host)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(host, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) || on;
}

/* sock_accept(fd, fdflags (only nonblock), out_fd). May block: w->lock not held. Waits
 * for a connection in wasi_wait_fd (a pause or stop gives it up, E_HELD); the accept
 * that follows blocks only if another process took that connection meanwhile. A socket
 * that is not listening is accept4's at once (EINVAL, ENOTSUP). */
static uint32_t sock_accept(struct call *c)
{
	struct wasi *w = c->w;
	uint32_t e, fl = arg32(c, 1), nfd;
	struct wasi_fd f;
	int fd;

	if (fl & ~(uint32_t)FDFLAGS_ALL)
		return E_INVAL;
	e = sock_hold(c, R_SOCK_ACCEPT, &f);
	if (e)
		return e;
	if (fl & ~(uint32_t)FDFLAG_NONBLOCK) {
		fd_drop(&f);
		return E_INVAL;
	}
	if (f.flags & FDFLAG_NONBLOCK) { /* emulated on the caller's socket: nothing waits */
		struct pollfd p = {f.host, POLLIN, 0};
		int r = poll(&p, 1, 0);
		e = r < 0 ? wasi_errno(errno) : r == 0 ? E_AGAIN : E_SUCCESS;
	} else if (is_listening(f.host)) { /* a pause or stop gives it up (E_HELD) */
		e = wasi_wait_fd(c, f.host, POLLIN);
	}
	if (e) {
		fd_drop(&f);
		return e;
	}
	fd = accept4(f.host, NULL, NULL,
		     SOCK_CLOEXEC | ((fl & FDFLAG_NONBLOCK) ? SOCK_NONBLOCK : 0));
	e = fd < 0 ? wasi_errno(errno) : E_SUCCESS;
	fd_drop(&f);
	if (e)
		return e;
	pthread_mutex_lock(&w->lock);
	if (alloc_fd(w, fd, FT_STREAM, &nfd)) {
		pthread_mutex_unlock(&w->lock);
		close(fd);
		return E_NFILE;
	}
	w->fds[nfd].base = R_STREAM | R_SOCK_SHUTDOWN;
	w->fds[nfd].flags = (uint16_t)fl;
	if (!put32(c, arg32(c, 2), nfd)) {
		close_fd(&w->fds[nfd]);
		e = E_OOB;
	}
	pthread_mutex_unlock(&w->lock);
	return e;
}

/* ----- process ----- */

/* No signals: a signal preview1 names (1..30, "none" 0 included) is ENOTSUP, as in
 * wasmtime; another number EINVAL. */
static uint32_t proc_raise(struct call *c)
{
	return arg32(c, 0) > 30 ? E_INVAL : E_NOTSUP;
}

/* ----- the function table ----- */

struct wasi_def {
	const char *name;
	const char *sig; /* params: i = i32, I = i64; results: always one i32 errno */
	/* The alignment each pointer parameter's pointee type needs ("" or one digit per
	 * parameter, 0 or 1 for none): the witx documents say a misaligned pointer traps, as
	 * wasmtime's does. Checked before the call does anything. */
	const char *align;
	uint32_t (*fn)(struct call *c);
	bool may_block; /* takes w->lock itself, only around fd look-ups (host.h) */
};

static const struct wasi_def defs[] = {
	{"args_get", "ii", "41", args_get, false},
	{"args_sizes_get", "ii", "44", args_sizes_get, false},
	{"environ_get", "ii", "41", environ_get, false},
	{"environ_sizes_get", "ii", "44", environ_sizes_get, false},
	{"clock_res_get", "ii", "08", clock_res_get, false},
	{"clock_time_get", "iIi", "008", clock_time_get, false},
	{"fd_advise", "iIIi", "", fd_advise, false},
	{"fd_allocate", "iII", "", fd_allocate, false},
	{"fd_close", "i", "", fd_close, false},
	{"fd_datasync", "i", "", fd_datasync, false},
	{"fd_fdstat_get", "ii", "08", fd_fdstat_get, false},
	{"fd_fdstat_set_flags", "ii", "", fd_fdstat_set_flags, false},
	{"fd_fdstat_set_rights", "iII", "", fd_fdstat_set_rights, false},
	{"fd_filestat_get", "ii", "08", fd_filestat_get, false},
	{"fd_filestat_set_size", "iI", "", fd_filestat_set_size, false},
	{"fd_filestat_set_times", "iIIi", "", fd_filestat_set_times, false},
	{"fd_pread", "iiiIi", "04004", fd_pread, true},
	{"fd_prestat_get", "ii", "04", fd_prestat_get, false},
	{"fd_prestat_dir_name", "iii", "", fd_prestat_dir_name, false},
	{"fd_pwrite", "iiiIi", "04004", fd_pwrite, true},
	{"fd_read", "iiii", "0404", fd_read, true},
	{"fd_readdir", "iiiIi", "00004", fd_readdir, false},
	{"fd_renumber", "ii", "", fd_renumber, false},
	{"fd_seek", "iIii", "0008", fd_seek, false},
	{"fd_sync", "i", "", fd_sync, false},
	{"fd_tell", "ii", "08", fd_tell, false},
	{"fd_write", "iiii", "0404", fd_write, true},
	{"path_create_directory", "iii", "", path_create_directory, false},
	{"path_filestat_get", "iiiii", "00008", path_filestat_get, false},
	{"path_filestat_set_times", "iiiiIIi", "", path_filestat_set_times, false},
	{"path_link", "iiiiiii", "", path_link, false},
	{"path_open", "iiiiiIIii", "000000004", path_open, false},
	{"path_readlink", "iiiiii", "000004", path_readlink, false},
	{"path_remove_directory", "iii", "", path_remove_directory, false},
	{"path_rename", "iiiiii", "", path_rename, false},
	{"path_symlink", "iiiii", "", path_symlink, false},
	{"path_unlink_file", "iii", "", path_unlink_file, false},
	{"poll_oneoff", "iiii", "8804", wasi_poll_oneoff, true},
	{"proc_exit", "i", "", NULL, false},
	{"proc_raise", "i", "", proc_raise, false},
	{"sched_yield", "", "", sched_yield_, false},
	{"random_get", "ii", "", random_get, false},
	{"sock_accept", "iii", "004", sock_accept, true},
	{"sock_recv", "iiiiii", "040042", sock_recv, true},
	{"sock_send", "iiiii", "04004", sock_send, true},
	{"sock_shutdown", "ii", "", sock_shutdown, false},
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
	uint32_t e;

	if (!hx->def->fn) { /* proc_exit */
		hc->exit_code = (int)(uint32_t)slots[0];
		return WASM_TRAP_EXIT;
	}
	for (const char *a = hx->def->align; *a; a++) {
		uint32_t n = (uint32_t)(*a - '0');

		if (n > 1 && ((uint32_t)slots[a - hx->def->align] & (n - 1)))
			return WASM_TRAP_WASI_ALIGN;
	}
	c.w = hx->w;
	c.mem = hc->caller ? wasm_instance_memory(hc->caller) : NULL;
	c.a = slots;
	c.hc = hc;
	if (hx->def->may_block) {
		e = hx->def->fn(&c);
	} else {
		pthread_mutex_lock(&c.w->lock);
		e = hx->def->fn(&c);
		pthread_mutex_unlock(&c.w->lock);
	}
	if (e == E_OOB) /* a pointer outside memory: a trap, as the witx documents say */
		return WASM_TRAP_MEM_OOB;
	if (e == E_HELD) /* slots untouched: made again after the pause */
		return WASM_TRAP_AGAIN;
	slots[0] = e;
	return WASM_TRAP_NONE;
}

int wasi_resolve(void *ctx, const char *module, const char *name, enum wasm_extern_kind kind,
		 struct wasm_extern *out)
{
	struct wasi_impl *wi = ctx;

	if (wi && strcmp(module, "wasi_snapshot_preview1"))
		return wasi_threads_resolve(&wi->w, module, name, kind, out);
	if (!wi || kind != WASM_EXTERN_FUNC)
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
		int fl = fcntl(host[i], F_GETFL);
		w->stdio[i] = host[i];
		w->fds[i].root = i;
		w->fds[i].host = host[i];
		w->fds[i].own = false;
		w->fds[i].type = fstat(host[i], &st) == 0 ? filetype(st.st_mode) : FT_CHAR;
		/* rights as its kind of file and its access mode (stdin may be read-only) */
		kind_rights(w->fds[i].type, fl < 0 ? O_RDWR : fl & O_ACCMODE, &w->fds[i].base,
			    &w->fds[i].inh);
	}
	w->nfds = 3;
	return 0;
}

static int add_preopen(struct wasi *w, const struct wasi_preopen *po, int no)
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
	kind_rights(FT_DIR, O_RDONLY, &w->fds[idx].base, &w->fds[idx].inh);
	w->fds[idx].preopen = core_alloc(n);
	if (!w->fds[idx].preopen) {
		close_fd(&w->fds[idx]);
		return -ENOMEM;
	}
	memcpy(w->fds[idx].preopen, po->guest, n);
	w->fds[idx].root = no;
	return 0;
}

int wasi_create(struct wasm_store *s, const struct wasi_config *cfg, struct wasi **out,
		int *bad_preopen)
{
	/* its own pages: the fd table (MAX_FDS slots, ~56 KB) is written only as far as
	 * fds are used, and calloc's clearing of it was a dozen page faults of every start */
	struct wasi_impl *wi = core_zalloc_pages(sizeof(*wi));
	struct wasi *w;
	int rc;

	if (!wi)
		return -ENOMEM;
	w = &wi->w;
	w->store = s;
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->jlock, NULL);
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
	w->pre_host = core_calloc((size_t)cfg->npreopens + 1, sizeof(char *));
	w->pre_guest = core_calloc((size_t)cfg->npreopens + 1, sizeof(char *));
	if (!w->pre_host || !w->pre_guest) {
		rc = -ENOMEM;
		goto err_free;
	}
	for (int i = 0; i < cfg->npreopens; i++) {
		char *h = (char *)cfg->preopens[i].host, *g = (char *)cfg->preopens[i].guest;
		char **hc = copy_strings(&h, 1), **gc = copy_strings(&g, 1);
		if (!hc || !gc) {
			free_strings(hc, 1);
			free_strings(gc, 1);
			rc = -ENOMEM;
			goto err_free;
		}
		w->pre_host[i] = hc[0];
		w->pre_guest[i] = gc[0];
		core_free(hc);
		core_free(gc);
		w->npre = i + 1;
	}
	for (int i = 0; i < cfg->npreopens; i++) {
		rc = add_preopen(w, &cfg->preopens[i], i);
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
	wasi_threads_destroy(w);
	for (int i = 0; i < w->nfds; i++)
		if (w->fds[i].host >= 0)
			close_fd(&w->fds[i]);
	free_strings(w->argv, w->argc);
	free_strings(w->env, w->nenv);
	free_strings(w->pre_host, w->npre);
	free_strings(w->pre_guest, w->npre);
	sbuf_fini(&w->jour);
	pthread_mutex_destroy(&w->jlock);
	pthread_mutex_destroy(&w->lock);
	/* struct wasi is the first member of struct wasi_impl */
	core_free_pages(w, sizeof(struct wasi_impl));
}
