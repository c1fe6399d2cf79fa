/*
 * Capability-confined path resolution for WASI: every guest path is resolved relative to
 * a directory fd (a preopen or a directory opened from one) and may never leave it — not
 * through "..", absolute paths, or symlinks, including ones the guest made itself or a
 * racing process swaps in. Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the
 * kernel and any seccomp policy allow it. Otherwise (kernels before 5.6, a policy answering
 * ENOSYS or EPERM, or LODGE_WASI_NO_OPENAT2=1) walk() resolves every component itself with
 * the same results: the kernel is only ever asked to open one name with O_NOFOLLOW relative
 * to a directory fd we hold; symlinks are read and spliced into the path by hand, an
 * absolute one is refused, ".." pops back to a directory fd we entered earlier and never
 * goes above the start, and at most 40 links are followed (ELOOP past that, as Linux).
 * Returns negative host errnos; an escape attempt is -EXDEV (openat2's answer too), which
 * wasi.c reports as ENOTCAPABLE.
 */
#include "wasm/wasi/path.h"

#include "core/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WALK_MAX_LINKS 40   /* Linux's MAXSYMLINKS */
#define WALK_BUF       8192 /* a path plus one link text */
#define LINK_MAX_LEN   4096

static long sys_openat2(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
#ifdef SYS_openat2
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(unsigned)flags;
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = resolve;
	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
#else
	(void)dirfd, (void)path, (void)flags, (void)mode, (void)resolve;
	errno = ENOSYS;
	return -1;
#endif
}

void wasi_resolver_init(struct wasi_resolver *r)
{
	const char *env = getenv("LODGE_WASI_NO_OPENAT2");

	r->by_hand = env && env[0] && strcmp(env, "0");
	r->probed = r->by_hand;
}

/* A policy that forbids openat2 may answer EPERM rather than ENOSYS: ask once, with a
 * lookup that cannot fail otherwise. */
static void probe(struct wasi_resolver *r)
{
	long fd = sys_openat2(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0, 0);

	if (fd >= 0)
		close((int)fd);
	else if (errno == ENOSYS || errno == EPERM)
		r->by_hand = true;
	r->probed = true;
}

/* ----- the by-hand walk ----- */

struct walk {
	int root;   /* the directory we stay below (the caller's fd, not ours) */
	int *stack; /* directories entered below root, innermost last; ours */
	size_t depth, cap;
	unsigned links;	     /* symlinks followed so far */
	const char *p;	     /* where the next component starts, in path */
	char path[WALK_BUF]; /* what is left to resolve */
};

static int cur(const struct walk *w)
{
	return w->depth ? w->stack[w->depth - 1] : w->root;
}

/* Takes fd: closes it on failure. */
static int push(struct walk *w, int fd)
{
	if (w->depth == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		int *s = core_realloc(w->stack, cap * sizeof(*s));
		if (!s) {
			close(fd);
			return -ENOMEM;
		}
		w->stack = s;
		w->cap = cap;
	}
	w->stack[w->depth++] = fd;
	return 0;
}

/* "..": back to the directory we entered last, which is where Linux would go too; never
 * above the root. */
static int pop(struct walk *w)
{
	if (!w->depth)
		return -EXDEV;
	close(w->stack[--w->depth]);
	return 0;
}

/* The walk continues with the link text followed by rest (what came after the link's
 * name, slashes included, so "link/" still asks for a directory). */
static int splice_link(struct walk *w, const char *link, size_t n, const char *rest)
{
	size_t rl = strlen(rest);

	if (++w->links > WALK_MAX_LINKS)
		return -ELOOP;
	if (n == 0)
		return -ENOENT;
	if (link[0] == '/')
		return -EXDEV; /* as RESOLVE_BENEATH: an absolute link leaves the root */
	if (n + rl + 1 > sizeof(w->path))
		return -ENAMETOOLONG;
	memmove(w->path + n, rest, rl + 1);
	memcpy(w->path, link, n);
	w->p = w->path;
	return 0;
}

/* Reads the link (dirfd, name) — name "" with an O_PATH fd of the link itself — and
 * splices it in. Returns 1 when it is not a link (any more). */
static int follow(struct walk *w, int dirfd, const char *name, const char *rest)
{
	char link[LINK_MAX_LEN];
	ssize_t n = readlinkat(dirfd, name, link, sizeof(link));

	if (n < 0)
		return errno == EINVAL ? 1 : -errno;
	if ((size_t)n == sizeof(link))
		return -ENAMETOOLONG;
	return splice_link(w, link, (size_t)n, rest);
}

/* A component before the last: a directory to enter or a link to splice in. */
static int step(struct walk *w, const char *name, const char *rest)
{
	struct stat st;
	int fd = openat(cur(w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
	} else if (S_ISDIR(st.st_mode)) {
		return push(w, fd);
	} else if (S_ISLNK(st.st_mode)) {
		rc = follow(w, fd, "", rest);
		if (rc == 1)
			rc = -ENOTDIR;
	} else {
		rc = -ENOTDIR;
	}
	close(fd);
	return rc;
}

/* The last component, opened with O_NOFOLLOW always: a link there is spliced in by hand
 * unless the caller asked for O_NOFOLLOW (a trailing slash overrides that, as in Linux).
 * Returns 0 with the fd in *out, 1 when the walk goes on through a link, or an errno. */
static int last(struct walk *w, const char *name, const char *rest, bool trailing, int flags,
		mode_t mode, int *out)
{
	bool want_follow = !(flags & O_NOFOLLOW) || trailing;
	struct stat st;
	int fd, rc, err;

	if (trailing && (flags & O_CREAT))
		return -EISDIR; /* what open(2) answers for "name/" with O_CREAT */
	fd = openat(cur(w), name, flags | O_NOFOLLOW | (trailing ? O_DIRECTORY : 0), mode);
	if (fd >= 0) {
		/* only O_PATH opens a link itself rather than failing */
		if (!want_follow || !(flags & O_PATH) || fstat(fd, &st) || !S_ISLNK(st.st_mode)) {
			*out = fd;
			return 0;
		}
		rc = follow(w, fd, "", rest);
		close(fd);
		return rc ? rc : 1;
	}
	err = errno;
	/* a link at the end fails with ELOOP, or ENOTDIR under O_DIRECTORY */
	if (!want_follow || (err != ELOOP && err != ENOTDIR))
		return -err;
	rc = follow(w, cur(w), name, rest);
	if (rc == 1)
		return -err; /* not a link: the error was real */
	return rc ? rc : 1;
}

/* Resolves w->path below w->root. Returns an fd or a negative errno. */
static int walk(struct walk *w, int flags, mode_t mode)
{
	char name[256];

	for (;;) {
		const char *p = w->p, *rest, *next;
		size_t n = strcspn(p, "/");
		int rc, fd = -1;

		if (p[0] == '/')
			return -EXDEV; /* an absolute path (or link text, see splice_link) */
		if (n == 0)
			return -ENOENT; /* only an empty path gets here */
		if (n >= sizeof(name))
			return -ENAMETOOLONG;
		memcpy(name, p, n);
		name[n] = 0;
		rest = next = p + n;
		while (*next == '/')
			next++;
		w->p = next;
		if (!strcmp(name, ".") || !strcmp(name, "..")) {
			rc = n == 2 ? pop(w) : 0;
			if (rc)
				return rc;
			if (*next)
				continue;
			fd = openat(cur(w), ".", flags, mode);
			return fd < 0 ? -errno : fd;
		}
		if (*next)
			rc = step(w, name, rest);
		else
			rc = last(w, name, rest, next != rest, flags, mode, &fd);
		if (rc < 0)
			return rc;
		if (fd >= 0)
			return fd;
	}
}

static int walk_open(int dirfd, const char *path, int flags, mode_t mode)
{
	struct walk *w;
	size_t len = strlen(path);
	int fd;

	if (len >= WALK_BUF / 2)
		return -ENAMETOOLONG;
	w = core_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->root = dirfd;
	memcpy(w->path, path, len + 1);
	w->p = w->path;
	fd = walk(w, flags, mode);
	while (w->depth)
		close(w->stack[--w->depth]);
	core_free(w->stack);
	core_free(w);
	return fd;
}

int wasi_path_open(struct wasi_resolver *r, int dirfd, const char *path, int flags, mode_t mode)
{
	const uint64_t beneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

	if (!path[0])
		return -ENOENT;
	flags |= O_CLOEXEC;
	if (!r->probed)
		probe(r);
	for (int tries = 0; !r->by_hand && tries < 8; tries++) {
		long fd = sys_openat2(dirfd, path, flags, mode, beneath);
		if (fd >= 0)
			return (int)fd;
		if (errno == ENOSYS)
			r->by_hand = true;
		else if (errno != EAGAIN) /* EAGAIN: a rename raced the lookup; retry */
			return -errno;
	}
	return walk_open(dirfd, path, flags, mode);
}

int wasi_path_parent(struct wasi_resolver *r, int dirfd, const char *path, int *parent, char *base,
		     size_t basesz)
{
	char dir[4096];
	size_t len = strlen(path);
	const char *slash;
	size_t blen;

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len == 0)
		return -ENOENT;
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len);
	dir[len] = 0;
	slash = strrchr(dir, '/');
	blen = slash ? len - (size_t)(slash - dir) - 1 : len;
	if (blen == 0 || blen >= basesz)
		return blen ? -ENAMETOOLONG : -EXDEV; /* "/" alone */
	memcpy(base, slash ? slash + 1 : dir, blen);
	base[blen] = 0;
	if (!strcmp(base, ".."))
		return -EXDEV;
	if (!slash) {
		*parent = -1; /* the directory itself */
		return 0;
	}
	if (slash == dir)
		return -EXDEV; /* absolute */
	dir[slash - dir] = 0;
	*parent = wasi_path_open(r, dirfd, dir, O_PATH | O_DIRECTORY, 0);
	return *parent < 0 ? *parent : 0;
}
