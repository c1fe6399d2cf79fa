/*
 * Confined path resolution for WASI (see path.c): a guest path never resolves outside the
 * directory fd it is relative to. Internal to src/wasm/wasi/.
 */
#ifndef LODGE_WASM_WASI_PATH_H
#define LODGE_WASM_WASI_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* How paths are resolved: openat2(RESOLVE_BENEATH) unless by_hand. */
struct wasi_resolver {
	bool by_hand; /* walk component by component (path.c) instead */
	bool probed;  /* whether openat2 works is known (asked at the first lookup) */
};

/* Chooses the method: by hand when LODGE_WASI_NO_OPENAT2 is set to anything but "" or "0",
 * or when openat2 answers ENOSYS or EPERM to a lookup that cannot otherwise fail (an old
 * kernel, a seccomp policy), asked at the first lookup, not here: a program that opens no
 * path (no --dir) makes no such call. wasi_path_open() also switches for good on a later
 * ENOSYS. The resolver is used under its owner's lock (struct wasi's, the journal's). */
void wasi_resolver_init(struct wasi_resolver *r);

/* openat() confined below dirfd, following Linux's rules for ".", "..", trailing slashes,
 * symlinks (at most 40 per lookup) and O_NOFOLLOW on the last component. O_CLOEXEC is
 * added. Returns an fd or a negative errno: -EXDEV when the path would leave dirfd
 * (through "..", an absolute path or an absolute symlink), -ELOOP past 40 links. */
int wasi_path_open(struct wasi_resolver *r, int dirfd, const char *path, int flags, mode_t mode);

/* Splits path into its parent directory, opened confined below dirfd as an O_PATH fd in
 * *parent (-1 when the parent is dirfd itself; otherwise the caller closes it), and its
 * last component in base. Trailing slashes are ignored; a last component of ".." or an
 * absolute path is refused with -EXDEV. Returns 0 or a negative errno. */
int wasi_path_parent(struct wasi_resolver *r, int dirfd, const char *path, int *parent, char *base,
		     size_t basesz);

#endif
