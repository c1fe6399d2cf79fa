/*
 * Capability-confined path resolution for WASI: every guest path is resolved relative to
 * a directory fd (a preopen or a directory opened from one) and may never leave it —
 * not through "..", absolute paths, or symlinks (including ones swapped in by a racing
 * process). Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has it;
 * otherwise walks component by component with O_NOFOLLOW, refusing ".." and symlinks in
 * directory position (stricter than needed, never looser). Returns negative host errnos;
 * an escape attempt is -EXDEV, which wasi.c reports as ENOTCAPABLE.
 */
#include "wasm/wasi/path.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int openat2_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
#ifdef SYS_openat2
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(unsigned)flags;
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
#else
	(void)dirfd, (void)path, (void)flags, (void)mode;
	errno = ENOSYS;
	return -1;
#endif
}

/* Fallback: open each directory component with O_NOFOLLOW; ".." and absolute paths are
 * refused outright. */
static int walk_open(int dirfd, const char *path, int flags, mode_t mode)
{
	char comp[256];
	const char *p = path;
	int cur = dirfd, fd;

	if (path[0] == '/')
		return -EXDEV;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		bool last = true;

		if (slash) {
			const char *q = slash;
			while (*q == '/')
				q++;
			last = *q == 0;
		}
		if (n >= sizeof(comp)) {
			fd = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = 0;
		if (!strcmp(comp, "..")) {
			fd = -EXDEV;
			break;
		}
		if (last) {
			fd = openat(cur, n ? comp : ".", flags | (slash ? O_DIRECTORY : 0), mode);
			if (fd < 0)
				fd = -errno;
			break;
		}
		fd = openat(cur, n ? comp : ".", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			fd = errno == ELOOP ? -EXDEV : -errno;
			break;
		}
		if (cur != dirfd)
			close(cur);
		cur = fd;
		p = slash + 1;
		while (*p == '/')
			p++;
	}
	if (cur != dirfd)
		close(cur);
	return fd;
}

int wasi_path_open(int dirfd, const char *path, int flags, mode_t mode)
{
	int fd;

	if (!path[0])
		return -ENOENT;
	fd = openat2_beneath(dirfd, path, flags | O_CLOEXEC, mode);
	if (fd >= 0)
		return fd;
	if (errno != ENOSYS)
		return -errno;
	/* openat2 missing: the walk never follows a symlink to an intermediate directory,
	 * and the caller's O_NOFOLLOW covers the last component */
	return walk_open(dirfd, path, flags | O_CLOEXEC, mode);
}

int wasi_path_parent(int dirfd, const char *path, int *parent, char *base, size_t basesz)
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
	*parent = wasi_path_open(dirfd, dir, O_PATH | O_DIRECTORY, 0);
	return *parent < 0 ? *parent : 0;
}
