/*
 * A writer of cpio "newc" archives (the format of Linux's initramfs, see the kernel's
 * Documentation/driver-api/early-userspace/buffer-format.rst), used to put a container's
 * rootfs and volumes in its VM's initramfs. Trees are walked with openat and O_NOFOLLOW,
 * so symlinks in an image are stored as symlinks and never followed on the host. Hard
 * links are stored as separate files (nlink 1): the content is right, only shared storage
 * is lost. Owners, modes and times are kept; device nodes keep their numbers.
 */
#include "host/oci_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_DEPTH 128
#define NEWC_MAX  0xffffffffull

void oci_cpio_init(struct oci_cpio *a, int fd)
{
	memset(a, 0, sizeof(*a));
	a->fd = fd;
	a->ino = 1000;
}

static void put(struct oci_cpio *a, const void *p, size_t n)
{
	while (!a->err && n) {
		ssize_t w = write(a->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			a->err = w < 0 ? -errno : -EIO;
			return;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
		a->off += (uint64_t)w;
	}
}

static void pad4(struct oci_cpio *a)
{
	static const char zeros[4];

	put(a, zeros, (size_t)((4 - a->off % 4) % 4));
}

static void header(struct oci_cpio *a, const char *name, uint32_t mode, uint32_t uid, uint32_t gid,
		   uint64_t mtime, uint32_t rdev, uint64_t size)
{
	char h[111];
	size_t nl = strlen(name) + 1;

	if (size > NEWC_MAX || nl > PATH_MAX) {
		if (!a->err)
			a->err = -EFBIG;
		return;
	}
	snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 a->ino++, mode, uid, gid, 1u, (uint32_t)mtime, (uint32_t)size, 0u, 0u, major(rdev),
		 minor(rdev), (uint32_t)nl, 0u);
	put(a, h, 110);
	put(a, name, nl);
	pad4(a);
}

void oci_cpio_add(struct oci_cpio *a, const char *name, uint32_t mode, uint32_t uid, uint32_t gid,
		  uint64_t mtime, uint32_t rdev, const void *data, uint64_t size)
{
	header(a, name, mode, uid, gid, mtime, rdev, size);
	put(a, data, (size_t)size);
	pad4(a);
}

/* Copies the regular file fd (size bytes) after its header. */
static void add_file_fd(struct oci_cpio *a, const char *name, const struct stat *sb, int fd)
{
	char buf[65536];
	uint64_t left = (uint64_t)sb->st_size;

	header(a, name, sb->st_mode, sb->st_uid, sb->st_gid, (uint64_t)sb->st_mtime, 0,
	       (uint64_t)sb->st_size);
	while (!a->err && left) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) { /* the file shrank under us: fail rather than misalign */
			a->err = n < 0 ? -errno : -EIO;
			return;
		}
		put(a, buf, (size_t)n);
		left -= (uint64_t)n;
	}
	pad4(a);
}

/* Adds the entry `ent` of directory dfd as name; recurses into directories. */
static void add_at(struct oci_cpio *a, int dfd, const char *ent, const char *name, int depth)
{
	struct stat sb;
	char target[PATH_MAX];
	ssize_t tl;
	int fd;

	if (a->err)
		return;
	if (fstatat(dfd, ent, &sb, AT_SYMLINK_NOFOLLOW)) {
		a->err = -errno;
		return;
	}
	switch (sb.st_mode & S_IFMT) {
	case S_IFLNK:
		tl = readlinkat(dfd, ent, target, sizeof(target) - 1);
		if (tl < 0) {
			a->err = -errno;
			return;
		}
		oci_cpio_add(a, name, sb.st_mode, sb.st_uid, sb.st_gid, (uint64_t)sb.st_mtime, 0,
			     target, (uint64_t)tl);
		return;
	case S_IFREG:
		fd = openat(dfd, ent, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			a->err = -errno;
			return;
		}
		add_file_fd(a, name, &sb, fd);
		close(fd);
		return;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		oci_cpio_add(a, name, sb.st_mode, sb.st_uid, sb.st_gid, (uint64_t)sb.st_mtime,
			     (uint32_t)sb.st_rdev, NULL, 0);
		return;
	case S_IFDIR:
		break;
	default: /* sockets cannot be archived; a container never needs a stale one */
		return;
	}
	oci_cpio_add(a, name, sb.st_mode, sb.st_uid, sb.st_gid, (uint64_t)sb.st_mtime, 0, NULL, 0);
	if (depth >= MAX_DEPTH) {
		a->err = -ELOOP;
		return;
	}
	fd = openat(dfd, ent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	char child[PATH_MAX];

	if (!d) {
		a->err = -errno;
		if (fd >= 0)
			close(fd);
		return;
	}
	while (!a->err && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", name, e->d_name) >=
		    sizeof(child)) {
			a->err = -ENAMETOOLONG;
			break;
		}
		add_at(a, dirfd(d), e->d_name, child, depth + 1);
	}
	closedir(d);
}

int oci_cpio_add_path(struct oci_cpio *a, const char *src, const char *name)
{
	add_at(a, AT_FDCWD, src, name, 0);
	return a->err;
}

int oci_cpio_finish(struct oci_cpio *a)
{
	oci_cpio_add(a, "TRAILER!!!", 0, 0, 0, 0, 0, NULL, 0);
	/* The kernel reads archives in 512-byte blocks after the first. */
	static const char zeros[512];
	put(a, zeros, (size_t)((512 - a->off % 512) % 512));
	return a->err;
}
