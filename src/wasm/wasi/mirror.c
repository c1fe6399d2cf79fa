/*
 * The standby's copies of a replicated program's directories (wasi.h "mirror";
 * docs/SNAPSHOT.md "Replication"): a mirror applies the records of a committed checkpoint
 * (journal.c writes them; the format is there) to directories of its own, confined below
 * them by path.c's rules as the program's calls are: the stream is untrusted, a record
 * that is malformed or would leave a directory is refused.
 */
#include "core/alloc.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "wasm/wasi/host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define J_MAX_FILES 4096u	 /* the standby's open files and directories */
#define UNDO_MAX    (256u << 20) /* a checkpoint's undo log in memory */
#define COPY_BUF    (64u << 10)

/* the open flags a record may carry */
#define J_OFLAGS (O_ACCMODE | O_CREAT | O_TRUNC | O_DIRECTORY | O_NOFOLLOW)

/* Makes room for one more element in the array *arrp points to (a pointer to any type:
 * read and written with memcpy), of which n of elem bytes are in use and *cap are
 * allocated: grows it to twice *cap (first when empty). 0, or -ENOMEM with the array as
 * it was. */
static int grow(void *arrp, size_t n, size_t *cap, size_t elem, size_t first)
{
	size_t c;
	void *arr, *p;

	if (n < *cap)
		return 0;
	memcpy(&arr, arrp, sizeof(arr));
	c = *cap ? *cap * 2 : first;
	p = core_realloc(arr, c * elem);
	if (!p)
		return -ENOMEM;
	memcpy(arrp, &p, sizeof(p));
	*cap = c;
	return 0;
}

/* A file or directory the program has open, open on the standby too (id: its jid). */
struct jfile {
	uint32_t id;
	int fd;
	uint8_t fl;    /* JF_*, in the checkpoint being applied */
	uint32_t uino; /* with JF_TOUCHED: its file in m->ino */
};

enum {
	JF_NEW = 1,	/* opened in it */
	JF_DIRTY = 2,	/* an undo record writes through fd: it stays open until the end */
	JF_FRESH = 4,	/* its file was created in it: its bytes need no undo (the file goes) */
	JF_TOUCHED = 8, /* uino is its file's */
};

/* The undo of one change a checkpoint's records made, applied last to first when a later
 * record fails (docs/SNAPSHOT.md "Directories"). Places are a directory (m->ud) and a
 * name (an offset into m->names). */
enum {
	U_DATA = 1, /* the file m->ino[id]: its size and the bytes it had back */
	U_OPEN,	    /* the file `id` opened: closed */
	U_CLOSE,    /* the file `id` (open before the checkpoint) closed: fd, kept, back */
	U_CREATE,   /* d1/n1 (inode ino: a file, a symlink, a link) created: removed */
	U_MKDIR,    /* d1/n1 (ino) made: removed */
	U_MOVE,	    /* d1/n1 moved to d2/n2 (ino; a victim set aside to an area): back */
};

struct undo {
	uint8_t op, fl; /* U_CLOSE: the file's JF_* */
	uint32_t id;
	int fd; /* U_CLOSE */
	uint32_t d1, d2, n1, n2;
	uint64_t ino;
};

/* Bytes [off, off + len) of a file as they were before the checkpoint, at pos of its
 * area's data file. */
struct uspan {
	uint64_t off, len, pos;
};

/* A run of a file's spans, in order: a file's are kept in blocks of SBLK, so that a
 * span kept among many costs a search and a move within its block (a checkpoint may keep
 * a file's spans by the hundred thousand, in any order). */
#define SBLK 256
struct sblk {
	size_t n; /* 1..SBLK */
	struct uspan s[SBLK];
};

/* A file whose bytes or size the checkpoint changes (not one it created): its size
 * before, and the spans of its bytes then that a record overwrote or cut, kept the first
 * time (later changes there destroy only the checkpoint's own bytes). Undone, it gets
 * that size and those spans back, whatever came between. */
struct uino {
	dev_t dev;
	ino_t ino;
	int fd; /* a writable fd on it (a dirty jfile's) */
	uint32_t area;
	uint64_t size;
	struct sblk **b; /* the spans, sorted and apart, in nb blocks */
	size_t nb, bcap;
};

/* A directory an undo record names, held open: its inode outlives the checkpoint's
 * changes (a directory is moved aside, never removed, while they may be undone), wherever
 * they move it. */
struct udir {
	dev_t dev;
	ino_t ino;
	int fd;
};

/* An undo area: a directory of the standby's own, made in the first of its directories
 * on that file system under a random name the program cannot know (and gone before it
 * could see it), for what a checkpoint would destroy: files and directories moved there
 * (v<n>) instead of removed, and the bytes writes overwrite and truncations cut ("data").
 * On the same file system, a move is O(1) and copy_file_range may share blocks. */
struct uarea {
	dev_t dev;
	int root, fd, data;
	uint32_t ud;
	uint64_t dpos;
	char name[40];
};

struct wasi_mirror {
	struct wasi_resolver res;
	int ndirs;
	int *dir;     /* its own directories, open */
	char **host;  /* their paths (messages) */
	char **guest; /* the names the program sees them as */
	struct jfile *f;
	size_t nf;
	bool named;  /* J_DIRS came (checkpoint 0) */
	bool broken; /* an undo failed: the directories match no checkpoint */
	/* the checkpoint being applied */
	bool undo; /* keeps an undo log: every checkpoint but 0 (nothing before it) */
	struct undo *u;
	size_t nu, ucap;
	struct sbuf names;
	struct udir *ud;
	size_t nud, udcap;
	uint32_t *hash; /* ud index + 1 by (dev, ino); hcap a power of 2 */
	size_t hcap;
	struct uarea *area; /* ndirs of them at most */
	int narea;
	struct uino *ino;
	size_t nino, inocap;
	int *keep; /* fds of dirty files closed, closed at the end */
	size_t nkeep, ndirty, keepcap;
	uint64_t nvict;
	uint8_t *buf; /* copying where copy_file_range cannot */
};

static void finish(struct wasi_mirror *m, bool rolled_back);

void wasi_mirror_destroy(struct wasi_mirror *m)
{
	if (!m)
		return;
	finish(m, false);
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
	core_free(m->u);
	sbuf_fini(&m->names);
	core_free(m->ud);
	core_free(m->hash);
	core_free(m->area);
	core_free(m->keep);
	core_free(m->ino);
	core_free(m->buf);
	core_free(m);
}

bool wasi_mirror_broken(const struct wasi_mirror *m)
{
	return m && m->broken;
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
		return wasi_jfail(err, errlen, -ENOMEM, "out of memory");
	wasi_resolver_init(&m->res);
	m->dir = core_calloc((size_t)n + 1, sizeof(int));
	m->host = core_calloc((size_t)n + 1, sizeof(char *));
	m->guest = core_calloc((size_t)n + 1, sizeof(char *));
	m->f = core_calloc(J_MAX_FILES, sizeof(*m->f));
	m->area = core_calloc((size_t)n + 1, sizeof(*m->area));
	m->buf = core_alloc(COPY_BUF);
	if (!m->dir || !m->host || !m->guest || !m->f || !m->area || !m->buf) {
		wasi_mirror_destroy(m);
		return wasi_jfail(err, errlen, -ENOMEM, "out of memory");
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
			return wasi_jfail(err, errlen, -ENOMEM, "out of memory");
		}
		m->dir[i] = open(dirs[i].host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->dir[i] < 0) {
			rc = wasi_jfail(err, errlen, -errno, "--dir %s: %s", dirs[i].host,
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
			rc = wasi_jfail(
				err, errlen, d ? -ENOTEMPTY : -errno,
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

static int add_file(struct wasi_mirror *m, uint32_t id, int fd, uint8_t fl)
{
	if (fd < 0)
		return fd;
	if (!id || find(m, id) || m->nf >= J_MAX_FILES) {
		close(fd);
		return -EINVAL;
	}
	m->f[m->nf++] = (struct jfile){.id = id, .fd = fd, .fl = fl};
	return 0;
}

/* Takes f out of the table: its fd is closed, or kept to the end if an undo record
 * writes through it (room for it was made when it became dirty). */
static void drop_file(struct wasi_mirror *m, struct jfile *f)
{
	if (f->fl & JF_DIRTY)
		m->keep[m->nkeep++] = f->fd;
	else
		close(f->fd);
	*f = m->f[--m->nf];
}

/* Opens path below d (d/path itself when at: one component, no symlink followed) with
 * flags, but read-write first when rw: what a write overwrites or a truncation cuts must
 * be read to be kept (a file the standby may write but not read stays as asked). */
static int open_rw(struct wasi_mirror *m, int d, const char *path, int flags, bool rw, bool at)
{
	int fd = -EACCES;

	for (int i = rw ? 0 : 1; i < 2 && fd == -EACCES; i++) {
		int fl = i ? flags : (flags & ~O_ACCMODE) | O_RDWR;
		fd = at ? openat(d, path, fl | O_CLOEXEC, 0666)
			: wasi_path_open(&m->res, d, path, fl, 0666);
		if (at && fd < 0)
			fd = -errno;
	}
	return fd;
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

/* len bytes of in at ioff to out at ooff: by copy_file_range (in the kernel, blocks shared
 * where the file system can), through buf where it cannot (another file system, a
 * sandbox that refuses it). Past in's end it reads zeros: a file the checkpoint created
 * and cut through one fd (keeping nothing: it goes) may be shorter than the size another
 * fd on it noted. */
static int copy_range(int in, uint64_t ioff, int out, uint64_t ooff, uint64_t len, uint8_t *buf)
{
	bool by_hand = false;

	if (ioff > INT64_MAX || ooff > INT64_MAX || len > INT64_MAX - ioff ||
	    len > INT64_MAX - ooff)
		return -EFBIG;
	while (len) {
		size_t n = len < (1u << 30) ? (size_t)len : (1u << 30);
		ssize_t k;
		if (!by_hand) {
			loff_t a = (loff_t)ioff, b = (loff_t)ooff;
			k = copy_file_range(in, &a, out, &b, n, 0);
			if (k < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP ||
				      errno == ENOSYS || errno == EPERM)) {
				by_hand = true;
				continue;
			}
		} else {
			k = pread(in, buf, n < COPY_BUF ? n : COPY_BUF, (off_t)ioff);
			int rc = k > 0 ? pwrite_all(out, buf, (size_t)k, ooff) : 0;
			if (rc)
				return rc;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (!k) { /* in ends first: the rest of it reads as zeros */
			memset(buf, 0, COPY_BUF);
			for (uint64_t z = 0; z < len; z += COPY_BUF) {
				int rc = pwrite_all(out, buf,
						    len - z < COPY_BUF ? len - z : COPY_BUF,
						    ooff + z);
				if (rc)
					return rc;
			}
			return 0;
		}
		ioff += (uint64_t)k;
		ooff += (uint64_t)k;
		len -= (uint64_t)k;
	}
	return 0;
}

#define SPARSE_MIN (64u << 10) /* a span this long or longer skips the holes in it */

/* copy_range, but the holes of in (below SPARSE_MIN bytes: copied as zeros) are not
 * copied: out keeps what it has there, or when punch, gets a hole (zeros where the file
 * system cannot punch one). A hole of a sparse file is not written out when the undo
 * keeps it, nor written back (as zeros) when the undo restores it. Past in's end is a
 * hole (the undo's data file ends where its last data does). */
static int copy_sparse(int in, uint64_t ioff, int out, uint64_t ooff, uint64_t len, uint8_t *buf,
		       bool punch)
{
	if (len < SPARSE_MIN)
		return copy_range(in, ioff, out, ooff, len, buf);
	if (ioff > INT64_MAX || ooff > INT64_MAX || len > INT64_MAX - ioff ||
	    len > INT64_MAX - ooff)
		return -EFBIG;
	while (len) {
		off_t d = lseek(in, (off_t)ioff, SEEK_DATA);
		uint64_t n;
		int rc;
		if (d < 0 && errno != ENXIO)
			return copy_range(in, ioff, out, ooff, len, buf); /* no SEEK_DATA */
		n = d < 0 || (uint64_t)d - ioff > len ? len : (uint64_t)d - ioff;
		if (n && punch &&
		    fallocate(out, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)ooff,
			      (off_t)n)) {
			if (errno != EOPNOTSUPP && errno != ENOSYS)
				return -errno;
			memset(buf, 0, COPY_BUF);
			for (uint64_t k = 0; k < n; k += COPY_BUF)
				if ((rc = pwrite_all(out, buf, n - k < COPY_BUF ? n - k : COPY_BUF,
						     ooff + k)))
					return rc;
		}
		ioff += n;
		ooff += n;
		len -= n;
		if (!len)
			break;
		d = lseek(in, (off_t)ioff, SEEK_HOLE); /* ioff is in data: there is a hole after */
		if (d < 0)
			return -errno;
		n = (uint64_t)d - ioff < len ? (uint64_t)d - ioff : len;
		if ((rc = copy_range(in, ioff, out, ooff, n, buf)))
			return rc;
		ioff += n;
		ooff += n;
		len -= n;
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

/* ---- the undo log ---- */

/* Room for k more undo records, so that pushing them after a change cannot fail. */
static int reserve(struct wasi_mirror *m, size_t k)
{
	size_t cap = m->ucap ? m->ucap : 64;
	struct undo *u;

	if (m->nu + k <= m->ucap)
		return 0;
	while (cap < m->nu + k)
		cap *= 2;
	if (cap * sizeof(*u) + m->names.len > UNDO_MAX)
		return -E2BIG;
	u = core_realloc(m->u, cap * sizeof(*u));
	if (!u)
		return -ENOMEM;
	m->u = u;
	m->ucap = cap;
	return 0;
}

static struct undo *push(struct wasi_mirror *m, uint8_t op)
{
	struct undo *u = &m->u[m->nu++]; /* reserved */

	memset(u, 0, sizeof(*u));
	u->op = op;
	return u;
}

static int name_of(struct wasi_mirror *m, const char *s, uint32_t *out)
{
	size_t off = m->names.len;

	if (off + strlen(s) + 1 > UINT32_MAX)
		return -E2BIG;
	sbuf_put(&m->names, s, strlen(s) + 1);
	if (m->names.err)
		return -ENOMEM;
	*out = (uint32_t)off;
	return 0;
}

static size_t hash_of(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15u) ^ ((uint64_t)ino * 0xff51afd7ed558ccdu);

	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static int rehash(struct wasi_mirror *m)
{
	size_t cap = m->hcap ? m->hcap * 2 : 256;
	uint32_t *h = core_calloc(cap, sizeof(*h));

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < m->nud; i++) {
		size_t k = hash_of(m->ud[i].dev, m->ud[i].ino, cap);
		while (h[k])
			k = (k + 1) & (cap - 1);
		h[k] = (uint32_t)i + 1;
	}
	core_free(m->hash);
	m->hash = h;
	m->hcap = cap;
	return 0;
}

/* The index of directory fd in m->ud, added (a dup of fd, held) if new. */
static int ud_of(struct wasi_mirror *m, int fd, uint32_t *out)
{
	struct stat st;
	size_t k;
	int rc;

	if (fstat(fd, &st))
		return -errno;
	if ((m->nud + 1) * 2 > m->hcap && (rc = rehash(m)))
		return rc;
	for (k = hash_of(st.st_dev, st.st_ino, m->hcap); m->hash[k]; k = (k + 1) & (m->hcap - 1)) {
		const struct udir *x = &m->ud[m->hash[k] - 1];
		if (x->dev == st.st_dev && x->ino == st.st_ino) {
			*out = m->hash[k] - 1;
			return 0;
		}
	}
	if (grow(&m->ud, m->nud, &m->udcap, sizeof(*m->ud), 64))
		return -ENOMEM;
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	m->ud[m->nud] = (struct udir){st.st_dev, st.st_ino, fd};
	m->hash[k] = (uint32_t)m->nud + 1;
	*out = (uint32_t)m->nud++;
	return 0;
}

/* The undo area on file system dev, made at its first use in a checkpoint. */
static int area_of(struct wasi_mirror *m, dev_t dev, struct uarea **out)
{
	struct uarea *a;
	uint64_t r = 0;
	int root = -1;

	for (int i = 0; i < m->narea; i++)
		if (m->area[i].dev == dev) {
			*out = &m->area[i];
			return 0;
		}
	for (int i = 0; i < m->ndirs && root < 0; i++) {
		struct stat st;
		if (!fstat(m->dir[i], &st) && st.st_dev == dev)
			root = i;
	}
	if (root < 0)
		return -EXDEV; /* not below its directories */
	a = &m->area[m->narea];
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15u ^ (uint64_t)getpid() ^ m->nvict;
	snprintf(a->name, sizeof(a->name), ".lodge-undo-%016llx", (unsigned long long)r);
	if (mkdirat(m->dir[root], a->name, 0700))
		return -errno;
	a->fd = openat(m->dir[root], a->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (a->fd < 0) {
		int rc = -errno;
		unlinkat(m->dir[root], a->name, AT_REMOVEDIR);
		return rc;
	}
	a->dev = dev;
	a->root = root;
	a->data = -1;
	a->dpos = 0;
	m->narea++;
	*out = a;
	return ud_of(m, a->fd, &a->ud);
}

/* Makes f dirty: its fd stays open until the checkpoint is done. */
static int make_dirty(struct wasi_mirror *m, struct jfile *f)
{
	if (f->fl & JF_DIRTY)
		return 0;
	if (grow(&m->keep, m->ndirty, &m->keepcap, sizeof(*m->keep), 16))
		return -ENOMEM;
	m->ndirty++;
	f->fl |= JF_DIRTY;
	return 0;
}

/* f's file in m->ino, added with its size now (and its undo record) at its first change
 * in the checkpoint. */
static int touch(struct wasi_mirror *m, struct jfile *f, struct uino **out)
{
	struct stat st;
	size_t i;
	int rc;

	if (f->fl & JF_TOUCHED) {
		*out = &m->ino[f->uino];
		return 0;
	}
	/* a change through a read-only fd fails, and so would its undo */
	if ((fcntl(f->fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (fstat(f->fd, &st))
		return -errno;
	for (i = 0; i < m->nino; i++)
		if (m->ino[i].dev == st.st_dev && m->ino[i].ino == st.st_ino)
			break;
	if (i == m->nino) {
		rc = reserve(m, 1) ?: make_dirty(m, f);
		if (rc)
			return rc;
		if (grow(&m->ino, m->nino, &m->inocap, sizeof(*m->ino), 16))
			return -ENOMEM;
		m->ino[i] = (struct uino){.dev = st.st_dev,
					  .ino = st.st_ino,
					  .fd = f->fd,
					  .area = UINT32_MAX, /* until a span is kept */
					  .size = (uint64_t)st.st_size};
		m->nino++;
		push(m, U_DATA)->id = (uint32_t)i;
	}
	f->uino = (uint32_t)i;
	f->fl |= JF_TOUCHED;
	*out = &m->ino[i];
	return 0;
}

/* The span at (bi, k) of u's, or NULL past the last. */
static struct uspan *span_at(const struct uino *u, size_t bi, size_t k)
{
	return bi < u->nb && k < u->b[bi]->n ? &u->b[bi]->s[k] : NULL;
}

/* (bi, k) to the next span (past the last: k the last block's n). */
static void span_next(const struct uino *u, size_t *bi, size_t *k)
{
	if (++*k == u->b[*bi]->n && *bi + 1 < u->nb) {
		++*bi;
		*k = 0;
	}
}

static uint64_t span_end(const struct uspan *s)
{
	return s->off + s->len;
}

/* The first of u's spans that ends past off, in (bi, k). */
static void span_find(const struct uino *u, uint64_t off, size_t *bi, size_t *k)
{
	size_t lo = 0, hi = u->nb;

	while (lo < hi) { /* the first block whose last span ends past off */
		size_t mid = lo + (hi - lo) / 2;
		if (span_end(&u->b[mid]->s[u->b[mid]->n - 1]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == u->nb) {
		*bi = u->nb ? u->nb - 1 : 0;
		*k = u->nb ? u->b[*bi]->n : 0;
		return;
	}
	*bi = lo;
	for (*k = 0, hi = u->b[lo]->n; *k < hi;) {
		size_t mid = *k + (hi - *k) / 2;
		if (span_end(&u->b[lo]->s[mid]) <= off)
			*k = mid + 1;
		else
			hi = mid;
	}
}

/* Room for a span at (bi, k), which moves if its block is split. */
static int span_room(struct uino *u, size_t *bi, size_t *k)
{
	struct sblk *b, *nb;

	if (u->nb && u->b[*bi]->n < SBLK)
		return 0;
	if (grow(&u->b, u->nb, &u->bcap, sizeof(*u->b), 4))
		return -ENOMEM;
	nb = core_alloc(sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	if (!u->nb) {
		nb->n = 0;
		u->b[0] = nb;
		u->nb = 1;
		*bi = *k = 0;
		return 0;
	}
	b = u->b[*bi]; /* full: its upper half to nb, after it */
	nb->n = SBLK - SBLK / 2;
	memcpy(nb->s, &b->s[SBLK / 2], nb->n * sizeof(*nb->s));
	b->n = SBLK / 2;
	memmove(&u->b[*bi + 2], &u->b[*bi + 1], (u->nb - *bi - 1) * sizeof(*u->b));
	u->b[*bi + 1] = nb;
	u->nb++;
	if (*k > SBLK / 2) {
		++*bi;
		*k -= SBLK / 2;
	}
	return 0;
}

/* Keeps [off, end) of u's bytes before the checkpoint, as its span at (bi, k), where it
 * goes in order (bi, k then that span's place). */
static int keep_span(struct wasi_mirror *m, struct uino *u, size_t *bi, size_t *k, uint64_t off,
		     uint64_t end)
{
	struct uarea *a;
	struct sblk *b;
	int rc;

	if (u->area == UINT32_MAX) {
		if ((rc = area_of(m, u->dev, &a)) == -EXDEV && m->ndirs) {
			struct stat r; /* not below a directory of its own: the first's area */
			rc = fstat(m->dir[0], &r) ? -errno : area_of(m, r.st_dev, &a);
		}
		if (rc)
			return rc;
		u->area = (uint32_t)(a - m->area);
	}
	a = &m->area[u->area];
	if ((rc = span_room(u, bi, k)))
		return rc;
	if (a->data < 0) {
		a->data = openat(a->fd, "data", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (a->data < 0)
			return -errno;
	}
	rc = copy_sparse(u->fd, off, a->data, a->dpos, end - off, m->buf, false);
	if (rc)
		return rc;
	b = u->b[*bi];
	memmove(&b->s[*k + 1], &b->s[*k], (b->n - *k) * sizeof(*b->s));
	b->s[*k] = (struct uspan){off, end - off, a->dpos};
	b->n++;
	a->dpos += end - off;
	return 0;
}

/* Before a change to file f's bytes or size from off (cut: how many bytes from off it may
 * overwrite or cut off): what it destroys of the file as it was before the checkpoint is
 * kept (nothing when it only appends or extends). */
static int keep_bytes(struct wasi_mirror *m, struct jfile *f, uint64_t off, uint64_t cut)
{
	uint64_t end;
	struct uino *u = NULL;
	size_t bi, k;
	int rc;

	if (!m->undo || (f->fl & JF_FRESH))
		return 0;
	if ((rc = touch(m, f, &u)))
		return rc;
	if (off >= u->size)
		return 0;
	end = cut < u->size - off ? off + cut : u->size;
	span_find(u, off, &bi, &k);
	/* the gaps between the spans already kept */
	while (off < end) {
		const struct uspan *s = span_at(u, bi, k);
		if (s && s->off <= off) {
			off = span_end(s);
			span_next(u, &bi, &k);
			continue;
		}
		uint64_t stop = s && s->off < end ? s->off : end;
		if ((rc = keep_span(m, u, &bi, &k, off, stop)))
			return rc;
		span_next(u, &bi, &k);
		off = stop;
	}
	return 0;
}

/* The undo of a creation at d/name, just made (removed again if it cannot be kept). */
static int keep_created(struct wasi_mirror *m, int d, const char *name, bool dir)
{
	struct undo *u;
	struct stat st;
	uint32_t ud = 0, n = 0;
	int rc;

	if (!m->undo)
		return 0;
	rc = reserve(m, 1) ?: ud_of(m, d, &ud) ?: name_of(m, name, &n);
	if (!rc && fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW))
		rc = -errno;
	if (rc) {
		unlinkat(d, name, dir ? AT_REMOVEDIR : 0);
		return rc;
	}
	u = push(m, dir ? U_MKDIR : U_CREATE);
	u->d1 = ud;
	u->n1 = n;
	u->ino = st.st_ino;
	return 0;
}

/* Reserves the undo of moving d/name (inode ino) to d2/name2, to push once done. */
static int plan_move(struct wasi_mirror *m, int d, const char *name, int d2, const char *name2,
		     uint64_t ino, struct undo *out)
{
	memset(out, 0, sizeof(*out));
	out->op = U_MOVE;
	out->ino = ino;
	return reserve(m, 1) ?: ud_of(m, d, &out->d1) ?: name_of(m, name, &out->n1)
					?: ud_of(m, d2, &out->d2) ?: name_of(m, name2, &out->n2);
}

/* Instead of removing d/name (inode ino): moves it into the undo area. */
static int set_aside(struct wasi_mirror *m, int d, const char *name, uint64_t ino)
{
	struct undo u = {.op = U_MOVE, .ino = ino};
	struct uarea *a;
	char v[32];
	int rc;

	snprintf(v, sizeof(v), "v%llu", (unsigned long long)m->nvict++);
	rc = reserve(m, 1) ?: ud_of(m, d, &u.d1);
	rc = rc ?: area_of(m, m->ud[u.d1].dev, &a) ?: name_of(m, name, &u.n1) ?: name_of(m, v, &u.n2);
	if (rc)
		return rc;
	u.d2 = a->ud;
	if (renameat(d, name, a->fd, v)) /* v is new in the area, which is its own */
		return -errno;
	*push(m, U_MOVE) = u;
	return 0;
}

/* Whether directory d/name is empty: 0, -ENOTEMPTY or an error. */
static int dir_empty(int d, const char *name)
{
	int fd = openat(d, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;
	struct dirent *de;
	DIR *dir;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while (!rc && (errno = 0, de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = -ENOTEMPTY;
	if (!rc && errno)
		rc = -errno;
	closedir(dir);
	return rc;
}

/* Moves d/name back to d2/name2, never over what may be there: renameat2's
 * RENAME_NOREPLACE, or where the file system has not that, a look first. */
static int move_back(int d, const char *name, int d2, const char *name2)
{
	struct stat st;

	if (!renameat2(d, name, d2, name2, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (!fstatat(d2, name2, &st, AT_SYMLINK_NOFOLLOW))
		return -EEXIST;
	if (errno != ENOENT)
		return -errno;
	return renameat(d, name, d2, name2) ? -errno : 0;
}

/* Whether d/name is the inode an undo record expects there. */
static int check_ino(int d, const char *name, uint64_t ino)
{
	struct stat st;

	if (fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	return st.st_ino == ino ? 0 : -ESTALE;
}

/* u's size and bytes as before the checkpoint. */
static int restore_bytes(struct wasi_mirror *m, const struct uino *u)
{
	int rc = ftruncate(u->fd, (off_t)u->size) ? -errno : 0;

	for (size_t i = 0; !rc && i < u->nb; i++)
		for (size_t k = 0; !rc && k < u->b[i]->n; k++) {
			const struct uspan *s = &u->b[i]->s[k];
			rc = copy_sparse(m->area[u->area].data, s->pos, u->fd, s->off, s->len,
					 m->buf, true);
		}
	return rc;
}

static int undo_one(struct wasi_mirror *m, const struct undo *u)
{
	const char *n1 = m->names.data ? (const char *)m->names.data + u->n1 : "";
	const char *n2 = m->names.data ? (const char *)m->names.data + u->n2 : "";
	int d1 = m->nud > u->d1 ? m->ud[u->d1].fd : -1, d2 = m->nud > u->d2 ? m->ud[u->d2].fd : -1;
	struct jfile *f;
	int rc;

	switch (u->op) {
	case U_DATA:
		return restore_bytes(m, &m->ino[u->id]);
	case U_OPEN:
		f = find(m, u->id);
		if (f)
			drop_file(m, f);
		return 0;
	case U_CLOSE:
		if (m->nf >= J_MAX_FILES || find(m, u->id))
			return -EEXIST; /* cannot be: the table was so before */
		m->f[m->nf++] = (struct jfile){.id = u->id, .fd = u->fd, .fl = u->fl};
		return 0;
	case U_CREATE:
	case U_MKDIR:
		rc = check_ino(d1, n1, u->ino);
		if (!rc && unlinkat(d1, n1, u->op == U_MKDIR ? AT_REMOVEDIR : 0))
			rc = -errno;
		return rc;
	case U_MOVE:
		return check_ino(d2, n2, u->ino) ?: move_back(d2, n2, d1, n1);
	}
	return -EINVAL;
}

/* Undoes the checkpoint's changes, last to first. Returns 0, or the first failure (the
 * others are still tried) with which in err. */
static int rollback(struct wasi_mirror *m, char *err, size_t errlen)
{
	static const char *const what[] = {"?",		 "bytes",   "an open", "a close",
					   "a creation", "a mkdir", "a move"};
	int first = 0;

	for (size_t i = m->nu; i-- > 0;) {
		const struct undo *u = &m->u[i];
		int rc;
#ifdef LODGE_TEST_HOOKS
		/* LODGE_TEST_HOOK=undo-fails: the last change is not undone, and says so */
		const char *hook = getenv("LODGE_TEST_HOOK");
		if (i == m->nu - 1 && hook && !strcmp(hook, "undo-fails"))
			rc = -EIO;
		else
#endif
			rc = undo_one(m, u);
		if (rc && !first) {
			first = rc;
			snprintf(err, errlen, "undo #%zu (%s%s%s) failed: %s", i,
				 what[u->op < 7 ? u->op : 0], u->op >= U_CREATE ? " of " : "",
				 u->op >= U_CREATE ? (const char *)m->names.data + u->n1 : "",
				 strerror(-rc));
		}
		if (rc && u->op == U_CLOSE)
			close(u->fd);
	}
	return first;
}

#define RM_DEPTH 32 /* directories rm_entry descends before it moves one up */

/* Removes d/name and all below it, in an undo area (top, open). Records may have built a
 * tree of any depth below a victim directory set aside there, through an fd on it: a
 * directory RM_DEPTH levels down is moved up to top under a new name (*n counts them),
 * for rm_tree's next pass, so that the fds held and the stack stay bounded. A directory
 * is made the standby's to write first (a record may have moved one it may not write
 * below the victim). */
static int rm_entry(int top, int d, const char *name, int depth, uint64_t *n)
{
	struct stat st;
	struct dirent *de;
	DIR *dir;
	char z[32];
	int fd, rc = 0;

	if (!unlinkat(d, name, 0) || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (depth >= RM_DEPTH) {
		snprintf(z, sizeof(z), "z%llu", (unsigned long long)(*n)++);
		return move_back(d, name, top, z);
	}
	/* a directory, not a link (nothing is followed) */
	if (!fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0700) != 0700 && fchmodat(d, name, 0700, 0))
		return -errno;
	fd = openat(d, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (!rc && (de = readdir(dir)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = rm_entry(top, dirfd(dir), de->d_name, depth + 1, n);
	closedir(dir);
	if (!rc && unlinkat(d, name, AT_REMOVEDIR))
		rc = -errno;
	return rc;
}

/* Removes the undo area root/name (open: top) and all in it: passes over what is in it
 * until nothing is (rm_entry moves deep directories up to it for the next pass). */
static int rm_tree(int root, const char *name, int top)
{
	uint64_t n = 0;
	int rc = 0;

	for (bool more = true; !rc && more;) {
		int fd = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct dirent *de;
		DIR *dir = fd < 0 ? NULL : fdopendir(fd);
		if (!dir) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
			break;
		}
		more = false;
		while (!rc && (de = readdir(dir)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
				more = true;
				rc = rm_entry(top, top, de->d_name, 1, &n);
			}
		closedir(dir);
	}
	if (!rc && unlinkat(root, name, AT_REMOVEDIR))
		rc = -errno;
	return rc;
}

/* The checkpoint is done (committed, or rolled back): what its undo held goes, the undo
 * areas too (kept, for a look, when the directories are broken). */
static void finish(struct wasi_mirror *m, bool rolled_back)
{
	for (size_t i = 0; i < m->nu; i++)
		if (m->u[i].op == U_CLOSE && !rolled_back)
			close(m->u[i].fd);
	for (size_t i = 0; i < m->nkeep; i++)
		close(m->keep[i]);
	for (size_t i = 0; i < m->nud; i++)
		close(m->ud[i].fd);
	for (int i = 0; i < m->narea; i++) {
		struct uarea *a = &m->area[i];
		int rc = 0;
		if (a->data >= 0)
			close(a->data);
		if (!m->broken)
			rc = rm_tree(m->dir[a->root], a->name, a->fd);
		close(a->fd);
		if (rc)
			log_warn("standby: cannot remove the undo directory %s/%s: %s",
				 m->host[a->root], a->name, strerror(-rc));
	}
	for (size_t i = 0; i < m->nf; i++)
		m->f[i].fl = 0;
	for (size_t i = 0; i < m->nino; i++) {
		for (size_t k = 0; k < m->ino[i].nb; k++)
			core_free(m->ino[i].b[k]);
		core_free(m->ino[i].b);
	}
	m->nino = 0;
	if (m->hash)
		memset(m->hash, 0, m->hcap * sizeof(*m->hash));
	m->nu = m->nkeep = m->ndirty = m->nud = 0;
	m->narea = 0;
	m->names.len = 0;
	m->names.err = 0;
	m->undo = false;
}

/* ---- the records ---- */

/* Where an O_CREAT open of path below d would create its file: 0 with the place in
 * *parent (-1: d itself) and base when nothing is there, following a dangling symlink at
 * the end as open(2) does; 1 with what is there in *st; or an error. */
static int create_at(struct wasi_mirror *m, int d, const char *path, int flags, int *parent,
		     char *base, struct stat *st)
{
	char cur[PATH_MAX_LEN], t[PATH_MAX_LEN];

	snprintf(cur, sizeof(cur), "%s", path);
	for (int hops = 0; hops <= 40; hops++) {
		size_t len = strlen(cur);
		const char *slash;
		int p = -1, rc;
		ssize_t n;
		if (len && cur[len - 1] == '/')
			return -EISDIR; /* as open(2) answers O_CREAT of "name/" */
		rc = parent_of(m, d, cur, &p, base, 256);
		if (rc)
			return rc;
		if (fstatat(p < 0 ? d : p, base, st, AT_SYMLINK_NOFOLLOW)) {
			rc = errno == ENOENT ? 0 : -errno;
			if (rc && p >= 0)
				close(p);
			*parent = p;
			return rc;
		}
		if (!S_ISLNK(st->st_mode) || (flags & (O_NOFOLLOW | O_EXCL))) {
			if (p >= 0)
				close(p);
			return 1;
		}
		n = readlinkat(p < 0 ? d : p, base, t, sizeof(t) - 1);
		rc = -errno;
		if (p >= 0)
			close(p);
		if (n < 0)
			return rc;
		t[n] = 0;
		if (!n || t[0] == '/')
			return -EXDEV;
		/* the link's text in place of the last component */
		slash = strrchr(cur, '/');
		len = slash ? (size_t)(slash - cur) + 1 : 0;
		if (len + (size_t)n >= sizeof(cur))
			return -ENAMETOOLONG;
		memcpy(cur + len, t, (size_t)n + 1);
	}
	return -ELOOP;
}

/* J_OPEN creating its file at d/base (undo: it goes). */
static int open_new(struct wasi_mirror *m, const struct jrec *j, int d, const char *base, int fl)
{
	int fd, rc;

	if ((rc = reserve(m, 2)))
		return rc;
	fd = open_rw(m, d, base, (fl | O_CREAT | O_EXCL | O_NOFOLLOW) & ~O_TRUNC,
		     (fl & O_ACCMODE) == O_WRONLY, true);
	if (fd < 0)
		return fd;
	rc = keep_created(m, d, base, false);
	if (rc) {
		close(fd);
		return rc;
	}
	push(m, U_OPEN)->id = j->id;
	rc = add_file(m, j->id, fd, JF_NEW | JF_FRESH);
	if (rc) { /* nothing was, nothing is: the two records go */
		m->nu -= 2;
		unlinkat(d, base, 0);
	}
	return rc;
}

/* J_OPEN of what is there (st: what create_at found, or NULL): an O_TRUNC of a regular
 * file keeps what it cuts. */
static int open_old(struct wasi_mirror *m, const struct jrec *j, int d, int fl,
		    const struct stat *st)
{
	bool trunc = fl & O_TRUNC;
	struct stat now;
	struct jfile *f;
	int fd, rc;

	if ((rc = reserve(m, 1)))
		return rc;
	/* never O_CREAT: had create_at and the open disagreed, nothing is made unseen */
	fl &= ~O_CREAT;
	fd = open_rw(m, d, j->path, fl & ~O_TRUNC, (fl & O_ACCMODE) == O_WRONLY || trunc, false);
	if (fd < 0)
		return fd;
	if (fstat(fd, &now) || (st && now.st_ino != st->st_ino)) {
		close(fd);
		return -ESTALE;
	}
	if (trunc && !S_ISREG(now.st_mode)) { /* what open(2) does with it */
		close(fd);
		fd = wasi_path_open(&m->res, d, j->path, fl, 0);
		if (fd < 0)
			return fd;
		trunc = false;
	}
	push(m, U_OPEN)->id = j->id;
	rc = add_file(m, j->id, fd, JF_NEW);
	if (rc) {
		m->nu--;
		return rc;
	}
	if (!trunc || !now.st_size)
		return 0;
	f = find(m, j->id);
	rc = keep_bytes(m, f, 0, UINT64_MAX);
	if (!rc && ftruncate(f->fd, 0))
		rc = errno == EBADF || errno == EINVAL ? -EACCES : -errno;
	return rc; /* the open stays recorded, and undone with the rest */
}

static int apply_open(struct wasi_mirror *m, const struct jrec *j)
{
	int d = dirfd_of(m, j->id2), fl = (int)j->a, parent = -1, rc;
	struct stat st;
	char base[256];

	if (d < 0 || (j->a & ~(uint64_t)J_OFLAGS))
		return d < 0 ? d : -EINVAL;
	if (!m->undo)
		return add_file(m, j->id,
				open_rw(m, d, j->path, fl,
					(fl & O_ACCMODE) == O_WRONLY || (fl & O_TRUNC), false),
				0);
	if (!(fl & O_CREAT))
		return open_old(m, j, d, fl, NULL);
	rc = create_at(m, d, j->path, fl, &parent, base, &st);
	if (rc == 1)
		return fl & O_EXCL ? -EEXIST : open_old(m, j, d, fl, &st);
	if (rc)
		return rc;
	rc = open_new(m, j, parent < 0 ? d : parent, base, fl);
	if (parent >= 0)
		close(parent);
	return rc;
}

static int apply_close(struct wasi_mirror *m, const struct jrec *j)
{
	struct jfile *f = find(m, j->id);
	struct undo *u;
	int rc;

	if (!f)
		return -EBADF;
	if (!m->undo || (f->fl & JF_NEW)) {
		drop_file(m, f);
		return 0;
	}
	/* open before this checkpoint: kept open, to be put back */
	if ((rc = reserve(m, 1)))
		return rc;
	u = push(m, U_CLOSE);
	u->id = f->id;
	u->fd = f->fd;
	u->fl = f->fl;
	*f = m->f[--m->nf];
	return 0;
}

/* J_WRITE, J_SIZE, J_ALLOC */
static int apply_bytes(struct wasi_mirror *m, const struct jrec *j)
{
	struct jfile *f = find(m, j->id);
	int rc;

	if (!f)
		return -EBADF;
	if (j->op == J_WRITE) {
		if (j->a > (uint64_t)INT64_MAX - j->dlen)
			return -EFBIG;
		return keep_bytes(m, f, j->a, j->dlen) ?: pwrite_all(f->fd, j->data, j->dlen, j->a);
	}
	if (j->a > (uint64_t)INT64_MAX || j->b > (uint64_t)INT64_MAX - j->a)
		return -EFBIG;
	if (j->op == J_SIZE) {
		rc = keep_bytes(m, f, j->a, UINT64_MAX);
		return rc ?: ftruncate(f->fd, (off_t)j->a) ? -errno : 0;
	}
	rc = keep_bytes(m, f, j->a, 0);
	return rc ?: -posix_fallocate(f->fd, (off_t)j->a, (off_t)j->b);
}

/* J_RMDIR, J_UNLINK of d/base: set aside, when undo is kept, with what unlinkat(2) would
 * have checked checked first. */
static int apply_remove(struct wasi_mirror *m, int d, const char *base, bool dir)
{
	struct stat st;
	int rc;

	if (!m->undo)
		return unlinkat(d, base, dir ? AT_REMOVEDIR : 0) ? -errno : 0;
	if (fstatat(d, base, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (dir != !!S_ISDIR(st.st_mode))
		return dir ? -ENOTDIR : -EISDIR;
	if (dir && (rc = dir_empty(d, base)))
		return rc;
	return set_aside(m, d, base, st.st_ino);
}

/* J_RENAME d/base to d2/base2: what it would replace is set aside first (the checks
 * rename(2) would make on it made first), and it is undone by renaming back. */
static int apply_rename(struct wasi_mirror *m, int d, const char *base, int d2, const char *base2)
{
	struct stat s1, s2;
	bool victim = false;
	struct undo u;
	int rc;

	if (!m->undo)
		return renameat(d, base, d2, base2) ? -errno : 0;
	if (fstatat(d, base, &s1, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (!fstatat(d2, base2, &s2, AT_SYMLINK_NOFOLLOW)) {
		if (s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino) /* rename(2) does nothing */
			return renameat(d, base, d2, base2) ? -errno : 0;
		if (S_ISDIR(s2.st_mode) && !S_ISDIR(s1.st_mode))
			return -EISDIR;
		if (!S_ISDIR(s2.st_mode) && S_ISDIR(s1.st_mode))
			return -ENOTDIR;
		if (S_ISDIR(s2.st_mode) && (rc = dir_empty(d2, base2)))
			return rc;
		if ((rc = set_aside(m, d2, base2, s2.st_ino)))
			return rc;
		victim = true;
	} else if (errno != ENOENT) {
		return -errno;
	}
	rc = plan_move(m, d, base, d2, base2, s1.st_ino, &u);
	if (!rc && renameat(d, base, d2, base2))
		rc = -errno;
	if (!rc) {
		*push(m, U_MOVE) = u;
	} else if (victim) { /* back where it was */
		int r = undo_one(m, &m->u[m->nu - 1]);
		m->nu--;
		if (r)
			m->broken = true;
	}
	return rc;
}

/* J_LINK: d/base to d2/base2 (follow: what it leads to, confined) */
static int apply_link(struct wasi_mirror *m, const struct jrec *j, int d, const char *base, int d2,
		      const char *base2)
{
	char proc[64];
	int src, rc;

	if (!j->a) {
		rc = linkat(d, base, d2, base2, 0) ? -errno : 0;
	} else {
		src = wasi_path_open(&m->res, dirfd_of(m, j->id), j->path, O_PATH, 0);
		if (src < 0)
			return src;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", src);
		rc = linkat(AT_FDCWD, proc, d2, base2, AT_SYMLINK_FOLLOW) ? -errno : 0;
		close(src);
	}
	return rc ?: keep_created(m, d2, base2, false);
}

/* J_RENAME, J_LINK */
static int apply_two(struct wasi_mirror *m, const struct jrec *j)
{
	char base[256], base2[256];
	int d = dirfd_of(m, j->id), d2 = dirfd_of(m, j->id2), parent = -1, parent2 = -1, rc;

	rc = parent_of(m, d, j->path, &parent, base, sizeof(base));
	rc = rc ?: parent_of(m, d2, j->path2, &parent2, base2, sizeof(base2));
	if (!rc) {
		d = parent < 0 ? d : parent;
		d2 = parent2 < 0 ? d2 : parent2;
		rc = j->op == J_RENAME ? apply_rename(m, d, base, d2, base2)
				       : apply_link(m, j, d, base, d2, base2);
	}
	if (parent >= 0)
		close(parent);
	if (parent2 >= 0)
		close(parent2);
	return rc;
}

/* J_MKDIR, J_RMDIR, J_UNLINK, J_SYMLINK and checkpoint 0's J_TDIR, J_TLINK, J_TFILE */
static int apply_one_path(struct wasi_mirror *m, const struct jrec *j)
{
	bool tree = j->op == J_TDIR || j->op == J_TLINK || j->op == J_TFILE;
	int d = tree ? root_of(m, j->a) : dirfd_of(m, j->id), parent = -1, rc, fd;
	char base[256];

	rc = parent_of(m, d, j->path, &parent, base, sizeof(base));
	if (rc)
		return rc;
	d = parent < 0 ? d : parent;
	switch (j->op) {
	case J_TDIR:
	case J_MKDIR:
		rc = mkdirat(d, base, j->op == J_TDIR ? 0700 : 0777) ? -errno : 0;
		rc = rc ?: keep_created(m, d, base, true);
		break;
	case J_RMDIR:
	case J_UNLINK:
		rc = apply_remove(m, d, base, j->op == J_RMDIR);
		break;
	case J_TLINK:
	case J_SYMLINK:
		if (j->path2[0] == '/' || !j->path2[0]) /* as path_symlink refuses */
			rc = -EXDEV;
		else
			rc = symlinkat(j->path2, d, base) ? -errno : 0;
		rc = rc ?: keep_created(m, d, base, false);
		break;
	case J_TFILE:
		fd = openat(d, base,
			    O_WRONLY | O_NOFOLLOW | O_CLOEXEC | (j->dlen ? 0 : O_CREAT | O_EXCL),
			    0600);
		if (fd < 0) {
			rc = -errno;
		} else {
			rc = pwrite_all(fd, j->data, j->dlen, j->b);
			close(fd);
		}
		break;
	}
	if (parent >= 0)
		close(parent);
	return rc;
}

static int apply_one(struct wasi_mirror *m, const struct jrec *j)
{
	int d, fd;

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
	case J_TFILE:
	case J_MKDIR:
	case J_RMDIR:
	case J_UNLINK:
	case J_SYMLINK:
		return apply_one_path(m, j);
	case J_TMODE:
		return set_mode(m, root_of(m, j->a), j->path, j->b);
	case J_BIND:
		d = root_of(m, j->a);
		if (d < 0 || (j->b & ~(uint64_t)J_OFLAGS))
			return -EINVAL;
		if (!j->path[0]) {
			fd = fcntl(d, F_DUPFD_CLOEXEC, 0);
			return add_file(m, j->id, fd < 0 ? -errno : fd, 0);
		}
		fd = open_rw(m, d, j->path, (int)j->b, ((int)j->b & O_ACCMODE) == O_WRONLY, false);
		return add_file(m, j->id, fd, 0);
	case J_OPEN:
		return apply_open(m, j);
	case J_CLOSE:
		return apply_close(m, j);
	case J_WRITE:
	case J_SIZE:
	case J_ALLOC:
		return apply_bytes(m, j);
	case J_RENAME:
	case J_LINK:
		return apply_two(m, j);
	}
	return -EINVAL;
}

static const char *op_name(uint8_t op)
{
	static const char *const n[] = {
		"?",	 "dirs",   "dirname", "tree dir", "tree file", "tree link", "tree mode",
		"bind",	 "open",   "close",   "write",	  "set_size",  "allocate",  "mkdir",
		"rmdir", "unlink", "symlink", "rename",	  "link"};

	return op < J_OPS_END ? n[op] : "?";
}

/* Whether record j may come where it is: checkpoint 0 begins with J_DIRS, and only it
 * carries the tree (nothing in a later one is not undone). */
static bool in_place(const struct jrec *j, bool first, size_t n)
{
	if ((j->op == J_DIRS) != (first && n == 0))
		return false;
	return first || (j->op != J_TDIR && j->op != J_TFILE && j->op != J_TLINK &&
			 j->op != J_TMODE && j->op != J_BIND);
}

static void say_failed(struct wasi_mirror *m, const struct jrec *j, size_t i, int rc, char *err,
		       size_t errlen)
{
	if (rc == -ENOTDIR && (j->op == J_DIRS || j->op == J_DIRNAME))
		snprintf(err, errlen,
			 "the primary's program has %llu directories%s%s; this standby was "
			 "given %d --dir (give each as HOST::GUEST with the primary's GUEST "
			 "names, in its order)",
			 (unsigned long long)(j->op == J_DIRS ? j->a : j->a + 1),
			 j->op == J_DIRNAME ? ", the next named " : "",
			 j->op == J_DIRNAME ? j->path : "", m->ndirs);
	else /* the reason first: a long path is cut short, not the reason */
		snprintf(err, errlen, "directory record #%zu (%s) failed: %s (%s%s%s)", i,
			 op_name(j->op),
			 rc == -EXDEV	? "it would leave the standby's directories"
			 : rc == -E2BIG ? "too many changes in one checkpoint to keep their undo"
					: strerror(-rc),
			 j->path, j->path2[0] ? " -> " : "", j->path2);
}

int wasi_mirror_apply(struct wasi_mirror *m, const uint8_t *p, size_t len, bool first, char *err,
		      size_t errlen)
{
	struct sreader r;
	struct jrec *j;
	size_t n = 0;
	int rc = 0;

	if (m->broken)
		return wasi_jfail(err, errlen, -ENOTRECOVERABLE,
				  "the standby's directories match no checkpoint (an undo failed)");
	j = core_alloc(sizeof(*j));
	if (!j)
		return wasi_jfail(err, errlen, -ENOMEM, "out of memory");
	/* all of it well formed before anything is applied */
	sreader_init(&r, p, len);
	while (r.off < r.len) {
		if (!get_rec(&r, j)) {
			core_free(j);
			snprintf(err, errlen, "corrupt: a malformed directory record (#%zu)", n);
			return -EINVAL;
		}
		if (!in_place(j, first, n)) {
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
	m->undo = !first;
	sreader_init(&r, p, len);
	for (size_t i = 0; !rc && r.off < r.len; i++) {
		get_rec(&r, j);
		rc = apply_one(m, j);
		if (rc)
			say_failed(m, j, i, rc, err, errlen);
	}
	core_free(j);
	if (rc && m->undo) {
		char why[200] = "a file set aside could not be put back";
		if (rollback(m, why, sizeof(why)) || m->broken) {
			size_t k = strlen(err);
			m->broken = true;
			log_err("standby: %s: the directories match no checkpoint (what the undo "
				"kept is left in %s/%s)",
				why, m->narea ? m->host[m->area[0].root] : "?",
				m->narea ? m->area[0].name : "?");
			snprintf(err + k, errlen - k,
				 "; undoing the records before it failed too: the standby's "
				 "directories match no checkpoint");
			rc = -ENOTRECOVERABLE;
		}
	}
	finish(m, rc != 0);
	return rc;
}
