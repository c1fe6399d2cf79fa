/*
 * The standby's copies of a replicated program's directories (wasi.h "mirror";
 * docs/SNAPSHOT.md "Replication"): a mirror applies the records of a committed checkpoint
 * (journal.c writes them; the format is there) to directories of its own, confined below
 * them by path.c's rules as the program's calls are: the stream is untrusted, a record
 * that is malformed or would leave a directory is refused.
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
#include <unistd.h>

#define J_MAX_FILES 4096u /* the standby's open files and directories */

/* the open flags a record may carry */
#define J_OFLAGS (O_ACCMODE | O_CREAT | O_TRUNC | O_DIRECTORY | O_NOFOLLOW)

__attribute__((format(printf, 4, 5))) static int jfail(char *err, size_t errlen, int rc,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

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
