/*
 * Replication of a program's directories (wasi.h "journal"; docs/SNAPSHOT.md
 * "Replication"). The preopened directories are the program's disk: on the primary, once
 * replication starts, every call that changes them and succeeds is recorded here (the
 * bytes of writes included), and each checkpoint takes what was recorded since the last.
 * Checkpoint 0 carries the directories' whole content and the files open then. The
 * standby applies them (mirror.c).
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

int wasi_jfail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

#define J_MAX_DEPTH 256		  /* directory levels copied at checkpoint 0 */
#define J_TREE_MAX  (1024u << 20) /* checkpoint 0's records (the directories' content) */

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
		return wasi_jfail(err, errlen, rc, "%s/%s: cannot read the directory", host, rel);
	}
	if (depth > J_MAX_DEPTH) {
		closedir(dir);
		return wasi_jfail(err, errlen, -ELOOP, "%s/%s: directories nested too deep", host,
				  rel);
	}
	while (!rc && (errno = 0, de = readdir(dir))) {
		char path[PATH_MAX_LEN];
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "",
				     de->d_name) >= sizeof(path))
			return closedir(dir), wasi_jfail(err, errlen, -ENAMETOOLONG,
							 "%s/%s...: a path too long", host, rel);
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			rc = wasi_jfail(err, errlen, -errno, "%s/%s: cannot stat it", host, path);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(dir), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				rc = wasi_jfail(err, errlen, -errno, "%s/%s: cannot open it", host,
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
				rc = wasi_jfail(err, errlen, -errno, "%s/%s: cannot open it", host,
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
				rc = wasi_jfail(err, errlen, -errno, "%s/%s: cannot read it", host,
						path);
			close(f);
			put_rec(b, J_TMODE, 0, 0, (uint64_t)k, st.st_mode & 07777, path, NULL, NULL,
				0);
		} else if (S_ISLNK(st.st_mode)) {
			char t[PATH_MAX_LEN];
			ssize_t n = readlinkat(dirfd(dir), de->d_name, t, sizeof(t) - 1);
			if (n < 0) {
				rc = wasi_jfail(err, errlen, -errno, "%s/%s: cannot read the link",
						host, path);
				break;
			}
			t[n] = 0;
			if (!target_inside(t, depth))
				rc = wasi_jfail(
					err, errlen, -EOPNOTSUPP,
					"%s/%s is a symlink that points out of the directory: "
					"only links that stay inside are replicated",
					host, path);
			else
				put_rec(b, J_TLINK, 0, 0, (uint64_t)k, 0, path, t, NULL, 0);
		} else {
			rc = wasi_jfail(
				err, errlen, -EOPNOTSUPP,
				"%s/%s is a special file (a FIFO, socket or device): only regular "
				"files, directories and symlinks are replicated",
				host, path);
		}
		if (b->err)
			rc = wasi_jfail(err, errlen, -ENOMEM, "%s: out of memory", host);
		else if (!rc && b->len > J_TREE_MAX)
			rc = wasi_jfail(
				err, errlen, -EFBIG,
				"the program's directories hold more than %u MiB: too much to "
				"copy to a standby at once",
				J_TREE_MAX >> 20);
	}
	if (!rc && errno)
		rc = wasi_jfail(err, errlen, -errno, "%s/%s: cannot read the directory", host, rel);
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
		return wasi_jfail(err, errlen, -EOPNOTSUPP, "%s",
				  "the program uses wasi-threads: it is not replicated");
	for (int i = 0; i < w->nfds; i++) {
		const struct wasi_fd *f = &w->fds[i];
		if (f->host < 0 || !f->own)
			continue;
		if (f->type == FT_STREAM || f->type == FT_DGRAM)
			return wasi_jfail(
				err, errlen, -EOPNOTSUPP,
				"the program has a socket (fd %d): sockets are not replicated "
				"(what it sends would reach the outside before a checkpoint "
				"covers it)",
				i);
		if (!f->preopen && !f->path)
			return wasi_jfail(err, errlen, -EOPNOTSUPP,
					  "fd %d: where the program opened it is unknown", i);
		if (!f->preopen && !path_still_names(w, f))
			return wasi_jfail(
				err, errlen, -EOPNOTSUPP,
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
		rc = wasi_jfail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	put_rec(first, J_DIRS, 0, 0, (uint64_t)w->npre, 0, NULL, NULL, NULL, 0);
	for (int k = 0; k < w->npre; k++)
		put_rec(first, J_DIRNAME, 0, 0, (uint64_t)k, 0, w->pre_guest[k], NULL, NULL, 0);
	for (int k = 0; !rc && k < w->npre; k++) {
		int d = open(w->pre_host[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0)
			rc = wasi_jfail(err, errlen, -errno, "%s: %s", w->pre_host[k],
					strerror(errno));
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
		rc = wasi_jfail(err, errlen, -ENOMEM, "out of memory");
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
			rc = wasi_jfail(err, errlen, -ENOMEM, "out of memory");
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
