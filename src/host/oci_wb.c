/*
 * Write-back of a VM container's read-write directory volumes. The VM gets copies of
 * them (in its initramfs); when the container's process has ended and nothing runs in the
 * guest any more, the guest init sends each volume's final state (OCI_F_WB_* frames,
 * oci_proto.h): every entry, with the content of what changed since boot. Applying it is
 * a three-way merge against what the host directory held when the copy was made (the
 * manifest): a change the container made is applied only where the host's entry is still
 * as it was (same type, inode, size and mtime), deletions likewise; where the host changed
 * the same path meanwhile, the host's version stays and a warning names it.
 *
 * The frames are untrusted: paths must be relative, without "." or ".." components, and
 * are resolved below the volume one directory at a time with O_NOFOLLOW, so a symlink the
 * guest made (or found) cannot lead a write outside the volume. Files are written to a
 * temporary name and renamed into place with their mode, owner and mtime.
 */
#include "host/oci_internal.h"
#include "host/oci_proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

#define MAX_VOLS  16
#define MAX_DEPTH 128

struct mentry {
	char *path;
	mode_t type;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool seen;
};

struct wbvol {
	int mount; /* index in config.json's mounts (/oci/volumes/N in the guest) */
	const char *src;
	struct mentry *m; /* sorted by path */
	size_t n, cap;
};

struct oci_wb {
	const struct oci_ctx *c;
	struct wbvol v[MAX_VOLS];
	int nv;
	int cur;    /* volume being received, -1: none */
	int rootfd; /* its directory */
	/* the file being received */
	int fd, dirfd;
	bool skip;
	uint64_t left;
	char leaf[NAME_MAX + 1];
	char tmp[32]; /* the temporary name files and links are written under */
	uint32_t mode, uid, gid;
	struct timespec mtime;
	unsigned conflicts;
};

static int m_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mentry *)a)->path, ((const struct mentry *)b)->path);
}

static struct mentry *m_find(struct wbvol *v, const char *path)
{
	struct mentry key = {.path = (char *)path};

	return v->n ? bsearch(&key, v->m, v->n, sizeof(key), m_cmp) : NULL;
}

/* Records every entry below dfd (the host's side of the volume before the copy). */
static int manifest(struct wbvol *v, int dfd, const char *rel, int depth)
{
	int fd = dup(dfd), r = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	char path[PATH_MAX];

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (!r && (e = readdir(d))) {
		struct stat sb;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "",
				     e->d_name) >= sizeof(path))
			continue;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue;
		if (v->n == v->cap) {
			struct mentry *m =
				core_realloc(v->m, (v->cap = v->cap * 2 + 64) * sizeof(*m));
			if (!m) {
				r = -ENOMEM;
				break;
			}
			v->m = m;
		}
		v->m[v->n] = (struct mentry){NULL,	 sb.st_mode & S_IFMT, sb.st_ino,
					     sb.st_size, sb.st_mtim,	      false};
		v->m[v->n].path = core_alloc(strlen(path) + 1);
		if (!v->m[v->n].path) {
			r = -ENOMEM;
			break;
		}
		strcpy(v->m[v->n++].path, path);
		if (S_ISDIR(sb.st_mode) && depth < MAX_DEPTH) {
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				r = manifest(v, sub, path, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
	return r;
}

int oci_wb_create(const struct oci_ctx *c, const struct oci_spec *spec, struct oci_wb **out)
{
	struct oci_wb *wb;
	int r = 0;

	*out = NULL;
	wb = core_calloc(1, sizeof(*wb));
	if (!wb)
		return -ENOMEM;
	wb->c = c;
	wb->cur = wb->rootfd = wb->fd = wb->dirfd = -1;
	snprintf(wb->tmp, sizeof(wb->tmp), ".lodge-wb-%d.tmp", (int)getpid());
	for (int i = 0; i < spec->nmounts && !r; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		struct stat sb;
		int fd;

		if (strcmp(m->type, "bind") || m->ro || stat(m->source, &sb) ||
		    !S_ISDIR(sb.st_mode))
			continue;
		if (wb->nv == MAX_VOLS) {
			oci_warn(c, "volume %s: more than %d read-write volumes: not written back",
				 m->dest, MAX_VOLS);
			continue;
		}
		fd = open(m->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		wb->v[wb->nv].mount = i;
		wb->v[wb->nv].src = m->source;
		r = manifest(&wb->v[wb->nv], fd, "", 0);
		close(fd);
		if (wb->v[wb->nv].n > 1)
			qsort(wb->v[wb->nv].m, wb->v[wb->nv].n, sizeof(struct mentry), m_cmp);
		wb->nv++;
	}
	if (r) {
		oci_wb_destroy(wb);
		return r;
	}
	*out = wb;
	return 0;
}

void oci_wb_destroy(struct oci_wb *wb)
{
	if (!wb)
		return;
	if (wb->fd >= 0) {
		close(wb->fd);
		unlinkat(wb->dirfd, wb->tmp, 0);
	}
	if (wb->dirfd >= 0)
		close(wb->dirfd);
	if (wb->rootfd >= 0)
		close(wb->rootfd);
	for (int i = 0; i < wb->nv; i++) {
		for (size_t k = 0; k < wb->v[i].n; k++)
			core_free(wb->v[i].m[k].path);
		core_free(wb->v[i].m);
	}
	core_free(wb);
}

bool oci_wb_has(const struct oci_wb *wb, int mount)
{
	for (int i = 0; wb && i < wb->nv; i++)
		if (wb->v[i].mount == mount)
			return true;
	return false;
}

/* ----- applying the guest's state ----- */

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A relative path of plain components: no "", "." or ".."; no NUL. */
static bool path_ok(const char *p, size_t n)
{
	size_t start = 0;

	if (n == 0 || n >= PATH_MAX || memchr(p, 0, n))
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		size_t l = i - start;
		if (l == 0 || l > NAME_MAX || (l == 1 && p[start] == '.') ||
		    (l == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

/* Opens the directory holding path, one component at a time, never through a symlink.
 * Returns its fd (and the last component in leaf) or -1. */
static int open_parent(int rootfd, const char *path, char *leaf)
{
	char buf[PATH_MAX], *s = buf, *slash;
	int fd = dup(rootfd);

	strcpy(buf, path);
	while (fd >= 0 && (slash = strchr(s, '/'))) {
		int next;
		*slash = 0;
		next = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
		s = slash + 1;
	}
	strcpy(leaf, s);
	return fd;
}

/* Whether the host's entry (stat in hs, or absent) is still what the manifest recorded. */
static bool host_unchanged(const struct mentry *me, const struct stat *hs, bool exists)
{
	if (!me)
		return !exists;
	if (!exists || (hs->st_mode & S_IFMT) != me->type || hs->st_ino != me->ino)
		return false;
	if (S_ISDIR(hs->st_mode)) /* its entries are checked one by one */
		return true;
	return hs->st_size == me->size && hs->st_mtim.tv_sec == me->mtime.tv_sec &&
	       hs->st_mtim.tv_nsec == me->mtime.tv_nsec;
}

static void conflict(struct oci_wb *wb, const char *path, const char *why)
{
	wb->conflicts++;
	oci_warn(wb->c, "volume %s: %s %s: kept the host's version", wb->v[wb->cur].src, path, why);
}

/* Makes room for a new entry named leaf: removes what is there (already checked to be
 * unchanged since the copy). */
static int clear(int dfd, const char *leaf, const struct stat *hs, bool exists, bool want_dir)
{
	if (!exists || (want_dir && S_ISDIR(hs->st_mode)))
		return 0;
	return unlinkat(dfd, leaf, S_ISDIR(hs->st_mode) ? AT_REMOVEDIR : 0) ? -errno : 0;
}

static void set_meta(struct oci_wb *wb, int dfd, const char *leaf, bool link)
{
	struct timespec ts[2] = {wb->mtime, wb->mtime};

	if (!link && fchmodat(dfd, leaf, wb->mode & 07777, 0))
		oci_debug(wb->c, "write-back: chmod %s: %s", leaf, strerror(errno));
	/* Not being root (rootless) keeps our own ownership. */
	if (fchownat(dfd, leaf, wb->uid, wb->gid, AT_SYMLINK_NOFOLLOW) && errno != EPERM)
		oci_debug(wb->c, "write-back: chown %s: %s", leaf, strerror(errno));
	utimensat(dfd, leaf, ts, AT_SYMLINK_NOFOLLOW);
}

static void finish_file(struct oci_wb *wb)
{
	struct timespec ts[2] = {wb->mtime, wb->mtime};

	if (!wb->skip) {
		/* On the open file, before it has its name: nothing else can be reached. */
		if (fchmod(wb->fd, wb->mode & 07777))
			oci_debug(wb->c, "write-back: chmod %s: %s", wb->leaf, strerror(errno));
		if (fchown(wb->fd, wb->uid, wb->gid) && errno != EPERM)
			oci_debug(wb->c, "write-back: chown %s: %s", wb->leaf, strerror(errno));
		futimens(wb->fd, ts);
		if (close(wb->fd) || renameat(wb->dirfd, wb->tmp, wb->dirfd, wb->leaf)) {
			oci_warn(wb->c, "volume %s: cannot write %s back: %s", wb->v[wb->cur].src,
				 wb->leaf, strerror(errno));
			unlinkat(wb->dirfd, wb->tmp, 0);
		}
	}
	wb->fd = -1;
	if (wb->dirfd >= 0)
		close(wb->dirfd);
	wb->dirfd = -1;
	wb->skip = false;
}

static int entry(struct oci_wb *wb, const uint8_t *p, uint32_t len)
{
	char kind = (char)p[0], path[PATH_MAX], target[PATH_MAX];
	uint64_t size = le(p + 24, 8);
	uint32_t plen = (uint32_t)le(p + 36, 4);
	struct wbvol *v = &wb->v[wb->cur];
	struct mentry *me;
	struct stat hs;
	bool exists;
	int dfd, r = 0;

	if (len < OCI_WB_ENTRY_SIZE || plen > len - OCI_WB_ENTRY_SIZE || !strchr("sfdl", kind) ||
	    !kind || !path_ok((const char *)p + OCI_WB_ENTRY_SIZE, plen))
		return -EPROTO;
	if (kind == 'l' ? size != len - OCI_WB_ENTRY_SIZE - plen || size >= PATH_MAX || !size
			: len != OCI_WB_ENTRY_SIZE + plen)
		return -EPROTO;
	memcpy(path, p + OCI_WB_ENTRY_SIZE, plen);
	path[plen] = 0;
	me = m_find(v, path);
	if (me)
		me->seen = true;
	if (kind == 's')
		return 0;
	wb->mode = (uint32_t)le(p + 4, 4);
	wb->uid = (uint32_t)le(p + 8, 4);
	wb->gid = (uint32_t)le(p + 12, 4);
	wb->mtime.tv_sec = (time_t)le(p + 16, 8);
	wb->mtime.tv_nsec = (long)(le(p + 32, 4) % 1000000000u);
	dfd = open_parent(wb->rootfd, path, wb->leaf);
	exists = dfd >= 0 && !fstatat(dfd, wb->leaf, &hs, AT_SYMLINK_NOFOLLOW);
	if (dfd < 0 || !host_unchanged(me, &hs, exists)) {
		conflict(wb, path,
			 dfd < 0 ? "has no directory on the host any more"
				 : "changed on the host meanwhile");
		if (dfd >= 0)
			close(dfd);
		if (kind == 'f' && size) { /* its data still comes: drop it */
			wb->skip = true;
			wb->left = size;
		}
		return 0;
	}
	if (kind == 'd') {
		r = clear(dfd, wb->leaf, &hs, exists, true);
		if (!r && (!exists || !S_ISDIR(hs.st_mode)) && mkdirat(dfd, wb->leaf, 0700))
			r = -errno;
		if (!r)
			set_meta(wb, dfd, wb->leaf, false);
	} else if (kind == 'l') {
		memcpy(target, p + OCI_WB_ENTRY_SIZE + plen, size);
		target[size] = 0;
		unlinkat(dfd, wb->tmp, 0);
		r = symlinkat(target, dfd, wb->tmp) ? -errno : 0;
		if (!r && exists && S_ISDIR(hs.st_mode))
			r = clear(dfd, wb->leaf, &hs, exists, false);
		if (!r && renameat(dfd, wb->tmp, dfd, wb->leaf))
			r = -errno;
		if (!r)
			set_meta(wb, dfd, wb->leaf, true);
	} else {
		if (exists && S_ISDIR(hs.st_mode))
			r = clear(dfd, wb->leaf, &hs, exists, false);
		unlinkat(dfd, wb->tmp, 0);
		wb->fd = r ? -1
			   : openat(dfd, wb->tmp,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (wb->fd >= 0) {
			wb->dirfd = dfd;
			wb->left = size;
			if (!size)
				finish_file(wb);
			return 0;
		}
		r = r ? r : -errno;
		wb->skip = size != 0;
		wb->left = size;
	}
	if (r)
		oci_warn(wb->c, "volume %s: cannot write %s back: %s", v->src, path, strerror(-r));
	close(dfd);
	return 0;
}

static int data(struct oci_wb *wb, const uint8_t *p, uint32_t len)
{
	if (len > wb->left || (wb->fd < 0 && !wb->skip))
		return -EPROTO;
	if (!wb->skip) {
		for (uint32_t off = 0; off < len;) {
			ssize_t n = write(wb->fd, p + off, len - off);
			if (n <= 0) {
				oci_warn(wb->c, "volume %s: cannot write %s back: %s",
					 wb->v[wb->cur].src, wb->leaf, strerror(errno));
				close(wb->fd);
				unlinkat(wb->dirfd, wb->tmp, 0);
				wb->skip = true;
				break;
			}
			off += (uint32_t)n;
		}
	}
	wb->left -= len;
	if (!wb->left) {
		if (wb->skip)
			wb->fd = -1;
		finish_file(wb);
	}
	return 0;
}

/* What the guest no longer has: deleted on the host where the host's entry is unchanged.
 * Reverse path order removes children before their directories. */
static void deletions(struct oci_wb *wb)
{
	struct wbvol *v = &wb->v[wb->cur];
	char leaf[NAME_MAX + 1];

	for (size_t i = v->n; i-- > 0;) {
		struct mentry *me = &v->m[i];
		struct stat hs;
		bool exists;
		int dfd;

		if (me->seen)
			continue;
		dfd = open_parent(wb->rootfd, me->path, leaf);
		exists = dfd >= 0 && !fstatat(dfd, leaf, &hs, AT_SYMLINK_NOFOLLOW);
		if (!exists) { /* gone on both sides */
			if (dfd >= 0)
				close(dfd);
			continue;
		}
		if (!host_unchanged(me, &hs, exists) ||
		    unlinkat(dfd, leaf, S_ISDIR(hs.st_mode) ? AT_REMOVEDIR : 0))
			conflict(wb, me->path,
				 "was deleted in the container but changed on the host");
		close(dfd);
	}
}

int oci_wb_frame(struct oci_wb *wb, uint8_t type, const uint8_t *p, uint32_t len)
{
	bool busy = wb->left > 0;

	switch (type) {
	case OCI_F_WB_BEGIN:
		if (len != 4 || busy || wb->cur >= 0)
			return -EPROTO;
		for (int i = 0; i < wb->nv; i++)
			if (wb->v[i].mount == (int)le(p, 4))
				wb->cur = i;
		if (wb->cur < 0)
			return -EPROTO;
		for (size_t k = 0; k < wb->v[wb->cur].n; k++)
			wb->v[wb->cur].m[k].seen = false;
		wb->rootfd = open(wb->v[wb->cur].src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (wb->rootfd < 0) {
			oci_warn(wb->c, "volume %s: %s: nothing written back", wb->v[wb->cur].src,
				 strerror(errno));
			wb->cur = -1; /* its entries are then refused: end the session */
			return -EIO;
		}
		wb->conflicts = 0;
		return 0;
	case OCI_F_WB_ENTRY:
		return wb->cur < 0 || busy ? -EPROTO : entry(wb, p, len);
	case OCI_F_WB_DATA:
		return wb->cur < 0 || !busy ? -EPROTO : data(wb, p, len);
	case OCI_F_WB_END:
		if (wb->cur < 0 || busy || len)
			return -EPROTO;
		deletions(wb);
		if (wb->conflicts)
			oci_warn(wb->c,
				 "volume %s: %u changes of the container were not written "
				 "back (the host changed the same paths)",
				 wb->v[wb->cur].src, wb->conflicts);
		close(wb->rootfd);
		wb->rootfd = -1;
		wb->cur = -1;
		return 0;
	default:
		return -EPROTO;
	}
}
