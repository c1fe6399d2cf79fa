/*
 * Replication of a program's directories (wasi.h "journal"; docs/SNAPSHOT.md
 * "Replication"). The preopened directories are the program's disk: on the primary, once
 * replication starts, every call that changes them and succeeds is recorded here (the
 * bytes of writes included), and each checkpoint takes what was recorded since the last.
 * Checkpoint 0 carries the directories' whole content and the files open then. On the
 * standby a mirror applies the records of a committed checkpoint to directories of its
 * own, confined below them by path.c's rules as the program's calls are: the stream is
 * untrusted, a record that is malformed or would leave a directory is refused.
 *
 * A record: u8 op, u32 id, u32 id2, u64 a, u64 b, u32 length + path, u32 length + path2,
 * u32 length + data. ids name the program's open directories and files (wasi_fd.jid).
 */
#include "core/alloc.h"
#include "core/sbuf.h"
#include "wasm/wasi/host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define J_DATA_MAX  (1u << 20)	  /* the bytes of one record; longer writes are split */
#define J_MAX_FILES 4096u	  /* the standby's open files and directories */
#define J_MAX_DEPTH 256		  /* directory levels copied at checkpoint 0 */
#define J_TREE_MAX  (1024u << 20) /* checkpoint 0's records (the directories' content) */

/* the open flags a record may carry */
#define J_OFLAGS (O_ACCMODE | O_CREAT | O_TRUNC | O_DIRECTORY | O_NOFOLLOW)

static void put_rec(struct sbuf *b, uint8_t op, uint32_t id, uint32_t id2, uint64_t a, uint64_t bb,
		    const char *path, const char *path2, const void *data, size_t dlen)
{
	size_t pl = path ? strlen(path) : 0, p2 = path2 ? strlen(path2) : 0;

	sbuf_put_u8(b, op);
	sbuf_put_u32(b, id);
	sbuf_put_u32(b, id2);
	sbuf_put_u64(b, a);
	sbuf_put_u64(b, bb);
	sbuf_put_u32(b, (uint32_t)pl);
	sbuf_put(b, path, pl);
	sbuf_put_u32(b, (uint32_t)p2);
	sbuf_put(b, path2, p2);
	sbuf_put_u32(b, (uint32_t)dlen);
	sbuf_put(b, data, dlen);
}

/* ---- primary: recording ---- */

void wasi_jrec(struct wasi *w, uint8_t op, uint32_t id, uint32_t id2, uint64_t a, uint64_t b,
	       const char *path, const char *path2)
{
	if (!__atomic_load_n(&w->jon, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&w->jlock);
	if (w->jon && !w->jover) {
		put_rec(&w->jour, op, id, id2, a, b, path, path2, NULL, 0);
		if (w->jour.err || w->jour.len > w->jmax)
			w->jover = true;
	}
	pthread_mutex_unlock(&w->jlock);
}

void wasi_jrec_write(struct wasi *w, uint32_t id, uint64_t off, const struct iovec *iov, int cnt,
		     size_t n)
{
	if (!__atomic_load_n(&w->jon, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&w->jlock);
	for (int i = 0; i < cnt && n && w->jon && !w->jover; i++) {
		size_t left = iov[i].iov_len < n ? iov[i].iov_len : n, done = 0;
		while (left) {
			size_t k = left < J_DATA_MAX ? left : J_DATA_MAX;
			put_rec(&w->jour, J_WRITE, id, 0, off, 0, NULL, NULL,
				(const uint8_t *)iov[i].iov_base + done, k);
			off += k;
			done += k;
			left -= k;
		}
		n -= done;
		if (w->jour.err || w->jour.len > w->jmax)
			w->jover = true;
	}
	pthread_mutex_unlock(&w->jlock);
}

__attribute__((format(printf, 4, 5))) static int jfail(char *err, size_t errlen, int rc,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* Whether a relative symlink target, from a link `depth` levels below the root, stays
 * below the root by its own components. */
static bool target_inside(const char *t, int depth)
{
	if (t[0] == '/')
		return false;
	while (*t) {
		const char *e = strchr(t, '/');
		size_t n = e ? (size_t)(e - t) : strlen(t);
		if (n == 2 && t[0] == '.' && t[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (n && !(n == 1 && t[0] == '.')) {
			depth++;
		}
		t += n + (e ? 1 : 0);
	}
	return true;
}

/* Copies directory d (rel below preopen k, `depth` levels down) into b. */
static int copy_tree(struct sbuf *b, int k, const char *host, int d, const char *rel, int depth,
		     uint8_t *buf, char *err, size_t errlen)
{
	DIR *dir = fdopendir(d);
	struct dirent *de;
	int rc = 0;

	if (!dir) {
		rc = -errno;
		close(d);
		return jfail(err, errlen, rc, "%s/%s: cannot read the directory", host, rel);
	}
	if (depth > J_MAX_DEPTH) {
		closedir(dir);
		return jfail(err, errlen, -ELOOP, "%s/%s: directories nested too deep", host, rel);
	}
	while (!rc && (errno = 0, de = readdir(dir))) {
		char path[PATH_MAX_LEN];
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "",
				     de->d_name) >= sizeof(path))
			return closedir(dir), jfail(err, errlen, -ENAMETOOLONG,
						    "%s/%s...: a path too long", host, rel);
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			rc = jfail(err, errlen, -errno, "%s/%s: cannot stat it", host, path);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(dir), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				rc = jfail(err, errlen, -errno, "%s/%s: cannot open it", host,
					   path);
				break;
			}
			put_rec(b, J_TDIR, 0, 0, (uint64_t)k, 0, path, NULL, NULL, 0);
			rc = copy_tree(b, k, host, sub, path, depth + 1, buf, err, errlen);
			put_rec(b, J_TMODE, 0, 0, (uint64_t)k, st.st_mode & 07777, path, NULL, NULL,
				0);
		} else if (S_ISREG(st.st_mode)) {
			int f = openat(dirfd(dir), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			uint64_t off = 0;
			ssize_t n = 0;
			if (f < 0) {
				rc = jfail(err, errlen, -errno, "%s/%s: cannot open it", host,
					   path);
				break;
			}
			put_rec(b, J_TFILE, 0, 0, (uint64_t)k, 0, path, NULL, NULL, 0);
			while (b->len <= J_TREE_MAX &&
			       (n = pread(f, buf, J_DATA_MAX, (off_t)off)) > 0) {
				put_rec(b, J_TFILE, 0, 0, (uint64_t)k, off, path, NULL, buf,
					(size_t)n);
				off += (uint64_t)n;
			}
			if (n < 0)
				rc = jfail(err, errlen, -errno, "%s/%s: cannot read it", host,
					   path);
			close(f);
			put_rec(b, J_TMODE, 0, 0, (uint64_t)k, st.st_mode & 07777, path, NULL, NULL,
				0);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX_LEN];
			ssize_t n = readlinkat(dirfd(dir), de->d_name, t, sizeof(t) - 1);
			if (n < 0) {
				rc = jfail(err, errlen, -errno, "%s/%s: cannot read the link", host,
					   path);
				break;
			}
			t[n] = 0;
			if (!target_inside(t, depth))
				rc = jfail(err, errlen, -EOPNOTSUPP,
					   "%s/%s is a symlink that points out of the directory: "
					   "only links that stay inside are replicated",
					   host, path);
			else
				put_rec(b, J_TLINK, 0, 0, (uint64_t)k, 0, path, t, NULL, 0);
		} else {
			rc = jfail(
				err, errlen, -EOPNOTSUPP,
				"%s/%s is a special file (a FIFO, socket or device): only regular "
				"files, directories and symlinks are replicated",
				host, path);
		}
		if (b->err)
			rc = jfail(err, errlen, -ENOMEM, "%s: out of memory", host);
		else if (!rc && b->len > J_TREE_MAX)
			rc = jfail(err, errlen, -EFBIG,
				   "the program's directories hold more than %u MiB: too much to "
				   "copy to a standby at once",
				   J_TREE_MAX >> 20);
	}
	if (!rc && errno)
		rc = jfail(err, errlen, -errno, "%s/%s: cannot read the directory", host, rel);
	closedir(dir);
	return rc;
}

/* Whether f's path (below its preopen) still leads to the file f has open: the standby
 * opens it by that path (checkpoint 0's BIND, and at failover). */
static bool path_still_names(struct wasi *w, const struct wasi_fd *f)
{
	struct stat a, b;
	int d, fd;

	if (f->root < 0 || f->root >= w->npre || fstat(f->host, &a))
		return false;
	d = open(w->pre_host[f->root], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = d < 0 ? -1 : wasi_path_open(&w->res, d, f->path, O_PATH, 0);
	if (d >= 0)
		close(d);
	if (fd < 0)
		return false;
	if (fstat(fd, &b))
		b.st_ino = 0;
	close(fd);
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* What refuses replication in w's fd table; w->lock held. */
static int check_locked(struct wasi *w, char *err, size_t errlen)
{
	if (w->threads)
		return jfail(err, errlen, -EOPNOTSUPP, "%s",
			     "the program uses wasi-threads: it is not replicated");
	for (int i = 0; i < w->nfds; i++) {
		const struct wasi_fd *f = &w->fds[i];
		if (f->host < 0 || !f->own)
			continue;
		if (f->type == FT_STREAM || f->type == FT_DGRAM)
			return jfail(err, errlen, -EOPNOTSUPP,
				     "the program has a socket (fd %d): sockets are not replicated "
				     "(what it sends would reach the outside before a checkpoint "
				     "covers it)",
				     i);
		if (!f->preopen && !f->path)
			return jfail(err, errlen, -EOPNOTSUPP,
				     "fd %d: where the program opened it is unknown", i);
		if (!f->preopen && !path_still_names(w, f))
			return jfail(err, errlen, -EOPNOTSUPP,
				     "fd %d: %s is no longer the file the program has open there "
				     "(removed, or another put in its place): a standby could not "
				     "open it; replicate after the program closes it",
				     i, f->path);
	}
	return 0;
}

int wasi_journal_check(struct wasi *w, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&w->lock);
	rc = check_locked(w, err, errlen);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int wasi_journal_begin(struct wasi *w, size_t max, struct sbuf *first, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	int rc;

	pthread_mutex_lock(&w->lock);
	rc = check_locked(w, err, errlen);
	if (rc)
		goto out;
	buf = core_alloc(J_DATA_MAX);
	if (!buf) {
		rc = jfail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	put_rec(first, J_DIRS, 0, 0, (uint64_t)w->npre, 0, NULL, NULL, NULL, 0);
	for (int k = 0; k < w->npre; k++)
		put_rec(first, J_DIRNAME, 0, 0, (uint64_t)k, 0, w->pre_guest[k], NULL, NULL, 0);
	for (int k = 0; !rc && k < w->npre; k++) {
		int d = open(w->pre_host[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0)
			rc = jfail(err, errlen, -errno, "%s: %s", w->pre_host[k], strerror(errno));
		else
			rc = copy_tree(first, k, w->pre_host[k], d, "", 0, buf, err, errlen);
	}
	/* the fds open now, each under a new id */
	for (int i = 0; !rc && i < w->nfds; i++) {
		struct wasi_fd *f = &w->fds[i];
		int fl;
		if (f->host < 0 || !f->own)
			continue;
		f->jid = ++w->next_jid;
		fl = fcntl(f->host, F_GETFL);
		fl = (fl < 0 ? O_RDONLY : fl & O_ACCMODE) | (f->type == FT_DIR ? O_DIRECTORY : 0);
		put_rec(first, J_BIND, f->jid, 0, (uint64_t)f->root, (uint64_t)fl,
			f->preopen ? NULL : f->path, NULL, NULL, 0);
	}
	if (!rc && first->err)
		rc = jfail(err, errlen, -ENOMEM, "out of memory");
	if (!rc) {
		pthread_mutex_lock(&w->jlock);
		w->jour.len = 0;
		w->jour.err = 0;
		w->jmax = max;
		w->jover = false;
		__atomic_store_n(&w->jon, true, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&w->jlock);
	}
out:
	pthread_mutex_unlock(&w->lock);
	core_free(buf);
	return rc;
}

int wasi_journal_take(struct wasi *w, struct sbuf *out, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&w->jlock);
	if (w->jover) {
		rc = -EFBIG;
		snprintf(err, errlen,
			 "the program changed more than %zu MiB in its directories between two "
			 "checkpoints",
			 w->jmax >> 20);
	} else {
		sbuf_put(out, w->jour.data, w->jour.len);
		if (out->err)
			rc = jfail(err, errlen, -ENOMEM, "out of memory");
	}
	w->jour.len = 0;
	pthread_mutex_unlock(&w->jlock);
	return rc;
}

void wasi_journal_end(struct wasi *w)
{
	pthread_mutex_lock(&w->jlock);
	__atomic_store_n(&w->jon, false, __ATOMIC_RELEASE);
	sbuf_fini(&w->jour);
	w->jover = false;
	pthread_mutex_unlock(&w->jlock);
}

/* ---- standby: the mirror ---- */

struct jfile {
	uint32_t id;
	int fd;
};

struct wasi_mirror {
	struct wasi_resolver res;
	int ndirs;
	int *dir;     /* its own directories, open */
	char **host;  /* their paths (messages) */
	char **guest; /* the names the program sees them as */
	struct jfile *f;
	size_t nf;
	bool named; /* J_DIRS came (checkpoint 0) */
};

void wasi_mirror_destroy(struct wasi_mirror *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->ndirs; i++) {
		if (m->dir[i] >= 0)
			close(m->dir[i]);
		core_free(m->host[i]);
		core_free(m->guest[i]);
	}
	for (size_t i = 0; i < m->nf; i++)
		close(m->f[i].fd);
	core_free(m->dir);
	core_free(m->host);
	core_free(m->guest);
	core_free(m->f);
	core_free(m);
}

static char *dupstr(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = core_alloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

int wasi_mirror_create(int n, const struct wasi_preopen *dirs, struct wasi_mirror **out, char *err,
		       size_t errlen)
{
	struct wasi_mirror *m = core_calloc(1, sizeof(*m));

	if (!m)
		return jfail(err, errlen, -ENOMEM, "out of memory");
	wasi_resolver_init(&m->res);
	m->dir = core_calloc((size_t)n + 1, sizeof(int));
	m->host = core_calloc((size_t)n + 1, sizeof(char *));
	m->guest = core_calloc((size_t)n + 1, sizeof(char *));
	m->f = core_calloc(J_MAX_FILES, sizeof(*m->f));
	if (!m->dir || !m->host || !m->guest || !m->f) {
		wasi_mirror_destroy(m);
		return jfail(err, errlen, -ENOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		DIR *d;
		struct dirent *de;
		int rc = 0;
		m->dir[i] = -1;
		m->ndirs = i + 1;
		m->host[i] = dupstr(dirs[i].host);
		m->guest[i] = dupstr(dirs[i].guest);
		if (!m->host[i] || !m->guest[i]) {
			wasi_mirror_destroy(m);
			return jfail(err, errlen, -ENOMEM, "out of memory");
		}
		m->dir[i] = open(dirs[i].host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->dir[i] < 0) {
			rc = jfail(err, errlen, -errno, "--dir %s: %s", dirs[i].host,
				   strerror(errno));
			wasi_mirror_destroy(m);
			return rc;
		}
		/* never write over what is there: the directory must be empty */
		d = fdopendir(fcntl(m->dir[i], F_DUPFD_CLOEXEC, 0));
		while (d && (de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				rc = -ENOTEMPTY;
		if (d)
			closedir(d);
		if (!d || rc) {
			rc = jfail(err, errlen, d ? -ENOTEMPTY : -errno,
				   "--dir %s: %s (a standby's directory must be empty: it receives "
				   "the primary's copy)",
				   dirs[i].host, d ? "not empty" : strerror(errno));
			wasi_mirror_destroy(m);
			return rc;
		}
	}
	*out = m;
	return 0;
}

struct jrec {
	uint8_t op;
	uint32_t id, id2;
	uint64_t a, b;
	char path[PATH_MAX_LEN], path2[PATH_MAX_LEN];
	const uint8_t *data;
	uint32_t dlen;
};

/* One record from r: every length checked, strings without NULs. */
static bool get_str(struct sreader *r, char *out)
{
	uint32_t n = sread_u32(r);

	if (r->err || n >= PATH_MAX_LEN || n > r->len - r->off)
		return false;
	sread(r, out, n);
	out[n] = 0;
	return !r->err && strlen(out) == n;
}

static bool get_rec(struct sreader *r, struct jrec *j)
{
	j->op = sread_u8(r);
	j->id = sread_u32(r);
	j->id2 = sread_u32(r);
	j->a = sread_u64(r);
	j->b = sread_u64(r);
	if (r->err || !j->op || j->op >= J_OPS_END || !get_str(r, j->path) || !get_str(r, j->path2))
		return false;
	j->dlen = sread_u32(r);
	if (r->err || j->dlen > J_DATA_MAX || j->dlen > r->len - r->off)
		return false;
	j->data = r->data + r->off;
	r->off += j->dlen;
	return true;
}

static struct jfile *find(struct wasi_mirror *m, uint32_t id)
{
	for (size_t i = 0; i < m->nf; i++)
		if (m->f[i].id == id)
			return &m->f[i];
	return NULL;
}

/* The standby's open directory for id (an error: -EBADF). */
static int dirfd_of(struct wasi_mirror *m, uint32_t id)
{
	struct jfile *f = find(m, id);

	return f ? f->fd : -EBADF;
}

static int root_of(struct wasi_mirror *m, uint64_t k)
{
	return k < (uint64_t)m->ndirs ? m->dir[k] : -EBADF;
}

/* parent and last component of path below dirfd (confined as WASI's calls are) */
static int parent_of(struct wasi_mirror *m, int dirfd, const char *path, int *parent, char *base,
		     size_t basesz)
{
	if (dirfd < 0)
		return dirfd;
	if (!path[0])
		return -ENOENT;
	return wasi_path_parent(&m->res, dirfd, path, parent, base, basesz);
}

static int add_file(struct wasi_mirror *m, uint32_t id, int fd)
{
	if (fd < 0)
		return fd;
	if (!id || find(m, id) || m->nf >= J_MAX_FILES) {
		close(fd);
		return -EINVAL;
	}
	m->f[m->nf++] = (struct jfile){id, fd};
	return 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	if (off > (uint64_t)INT64_MAX - n)
		return -EFBIG;
	while (n) {
		ssize_t k = pwrite(fd, p, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* chmod of path below root, never through a symlink (the mirror makes no FIFOs, and
 * O_NONBLOCK would not wait on one) */
static int set_mode(struct wasi_mirror *m, int root, const char *path, uint64_t mode)
{
	int fd, rc;

	if (mode > 07777)
		return -EINVAL;
	fd = root < 0 ? root
		      : wasi_path_open(&m->res, root, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	rc = fchmod(fd, (mode_t)mode) ? -errno : 0;
	close(fd);
	return rc;
}

static int apply_one(struct wasi_mirror *m, const struct jrec *j)
{
	char base[256], base2[256];
	int parent = -1, parent2 = -1, d, fd, rc = 0;
	struct jfile *f;

	switch (j->op) {
	case J_DIRS:
		if (m->named || j->a != (uint64_t)m->ndirs)
			return -ENOTDIR;
		m->named = true;
		return 0;
	case J_DIRNAME:
		if (j->a >= (uint64_t)m->ndirs || strcmp(m->guest[j->a], j->path))
			return -ENOTDIR;
		return 0;
	case J_TDIR:
	case J_TLINK:
	case J_MKDIR:
	case J_RMDIR:
	case J_UNLINK:
	case J_SYMLINK:
		d = j->op == J_TDIR || j->op == J_TLINK ? root_of(m, j->a) : dirfd_of(m, j->id);
		rc = parent_of(m, d, j->path, &parent, base, sizeof(base));
		if (rc)
			return rc;
		d = parent < 0 ? d : parent;
		if (j->op == J_TDIR)
			rc = mkdirat(d, base, 0700) ? -errno : 0;
		else if (j->op == J_MKDIR)
			rc = mkdirat(d, base, 0777) ? -errno : 0;
		else if (j->op == J_RMDIR)
			rc = unlinkat(d, base, AT_REMOVEDIR) ? -errno : 0;
		else if (j->op == J_UNLINK)
			rc = unlinkat(d, base, 0) ? -errno : 0;
		else if (j->path2[0] == '/' || !j->path2[0]) /* as path_symlink refuses */
			rc = -EXDEV;
		else
			rc = symlinkat(j->path2, d, base) ? -errno : 0;
		break;
	case J_TFILE:
		d = root_of(m, j->a);
		rc = parent_of(m, d, j->path, &parent, base, sizeof(base));
		if (rc)
			return rc;
		fd = openat(parent < 0 ? d : parent, base,
			    O_WRONLY | O_NOFOLLOW | O_CLOEXEC | (j->dlen ? 0 : O_CREAT | O_EXCL),
			    0600);
		if (fd < 0)
			rc = -errno;
		else {
			rc = pwrite_all(fd, j->data, j->dlen, j->b);
			close(fd);
		}
		break;
	case J_TMODE:
		return set_mode(m, root_of(m, j->a), j->path, j->b);
	case J_BIND:
		d = root_of(m, j->a);
		if (d < 0 || (j->b & ~(uint64_t)J_OFLAGS))
			return -EINVAL;
		fd = !j->path[0] ? fcntl(d, F_DUPFD_CLOEXEC, 0)
				 : wasi_path_open(&m->res, d, j->path, (int)j->b, 0);
		return add_file(m, j->id, fd < 0 && !j->path[0] ? -errno : fd);
	case J_OPEN:
		d = dirfd_of(m, j->id2);
		if (d < 0 || (j->a & ~(uint64_t)J_OFLAGS))
			return d < 0 ? d : -EINVAL;
		return add_file(m, j->id, wasi_path_open(&m->res, d, j->path, (int)j->a, 0666));
	case J_CLOSE:
		f = find(m, j->id);
		if (!f)
			return -EBADF;
		close(f->fd);
		*f = m->f[--m->nf];
		return 0;
	case J_WRITE:
	case J_SIZE:
	case J_ALLOC:
		f = find(m, j->id);
		if (!f)
			return -EBADF;
		if (j->op == J_WRITE)
			return pwrite_all(f->fd, j->data, j->dlen, j->a);
		if (j->a > (uint64_t)INT64_MAX || j->b > (uint64_t)INT64_MAX - j->a)
			return -EFBIG;
		if (j->op == J_SIZE)
			return ftruncate(f->fd, (off_t)j->a) ? -errno : 0;
		rc = posix_fallocate(f->fd, (off_t)j->a, (off_t)j->b);
		return -rc;
	case J_RENAME:
	case J_LINK:
		d = dirfd_of(m, j->id);
		fd = dirfd_of(m, j->id2);
		rc = parent_of(m, d, j->path, &parent, base, sizeof(base));
		rc = rc ?: parent_of(m, fd, j->path2, &parent2, base2, sizeof(base2));
		if (rc)
			break;
		d = parent < 0 ? d : parent;
		fd = parent2 < 0 ? fd : parent2;
		if (j->op == J_RENAME) {
			rc = renameat(d, base, fd, base2) ? -errno : 0;
		} else if (!j->a) {
			rc = linkat(d, base, fd, base2, 0) ? -errno : 0;
		} else { /* follow: what the source leads to, confined */
			char proc[64];
			int src = wasi_path_open(&m->res, dirfd_of(m, j->id), j->path, O_PATH, 0);
			if (src < 0) {
				rc = src;
				break;
			}
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", src);
			rc = linkat(AT_FDCWD, proc, fd, base2, AT_SYMLINK_FOLLOW) ? -errno : 0;
			close(src);
		}
		break;
	default:
		return -EINVAL;
	}
	if (parent >= 0)
		close(parent);
	if (parent2 >= 0)
		close(parent2);
	return rc;
}

static const char *op_name(uint8_t op)
{
	static const char *const n[] = {
		"?",	 "dirs",   "dirname", "tree dir", "tree file", "tree link", "tree mode",
		"bind",	 "open",   "close",   "write",	  "set_size",  "allocate",  "mkdir",
		"rmdir", "unlink", "symlink", "rename",	  "link"};

	return op < J_OPS_END ? n[op] : "?";
}

int wasi_mirror_apply(struct wasi_mirror *m, const uint8_t *p, size_t len, bool first, char *err,
		      size_t errlen)
{
	struct sreader r;
	struct jrec *j = core_alloc(sizeof(*j));
	size_t n = 0;
	int rc = 0;

	if (!j)
		return jfail(err, errlen, -ENOMEM, "out of memory");
	/* all of it well formed before anything is applied */
	sreader_init(&r, p, len);
	while (r.off < r.len) {
		if (!get_rec(&r, j)) {
			core_free(j);
			snprintf(err, errlen, "corrupt: a malformed directory record (#%zu)", n);
			return -EINVAL;
		}
		if ((j->op == J_DIRS) != (first && n == 0)) {
			core_free(j);
			snprintf(err, errlen, "corrupt: directory record #%zu out of place", n);
			return -EINVAL;
		}
		n++;
	}
	if (first && !n) {
		core_free(j);
		snprintf(err, errlen, "corrupt: checkpoint 0 without its directories");
		return -EINVAL;
	}
	sreader_init(&r, p, len);
	for (size_t i = 0; !rc && r.off < r.len; i++) {
		get_rec(&r, j);
		rc = apply_one(m, j);
		if (rc == -ENOTDIR && (j->op == J_DIRS || j->op == J_DIRNAME))
			snprintf(
				err, errlen,
				"the primary's program has %llu directories%s%s; this standby was "
				"given %d --dir (give each as HOST::GUEST with the primary's GUEST "
				"names, in its order)",
				(unsigned long long)(j->op == J_DIRS ? j->a : j->a + 1),
				j->op == J_DIRNAME ? ", the next named " : "",
				j->op == J_DIRNAME ? j->path : "", m->ndirs);
		else if (rc)
			/* the reason first: a long path is cut short, not the reason */
			snprintf(err, errlen, "directory record #%zu (%s) failed: %s (%s%s%s)", i,
				 op_name(j->op),
				 rc == -EXDEV ? "it would leave the standby's directories"
					      : strerror(-rc),
				 j->path, j->path2[0] ? " -> " : "", j->path2);
	}
	core_free(j);
	return rc;
}
