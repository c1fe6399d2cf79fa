/*
 * Confined path resolution for WASI (see path.c): a guest path never resolves outside the
 * directory fd it is relative to. Internal to src/wasm/wasi/.
 */
#ifndef LODGE_WASM_WASI_PATH_H
#define LODGE_WASM_WASI_PATH_H

#include <stddef.h>
#include <sys/types.h>

/* openat() confined below dirfd. O_CLOEXEC is added. Returns an fd or a negative errno
 * (-EXDEV when the path would escape). */
int wasi_path_open(int dirfd, const char *path, int flags, mode_t mode);

/* Splits path into its parent directory, opened confined below dirfd as an O_PATH fd in
 * *parent (-1 when the parent is dirfd itself; otherwise the caller closes it), and its
 * last component in base. Trailing slashes are ignored; a last component of ".." or an
 * absolute path is refused with -EXDEV. Returns 0 or a negative errno. */
int wasi_path_parent(int dirfd, const char *path, int *parent, char *base, size_t basesz);

#endif
