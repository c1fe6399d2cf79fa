/*
 * Whether a host path a peer named lies where this host allowed: resolved (realpath:
 * symlinks and ".." followed), then compared with allowed paths, each a directory (the
 * path may be anywhere below it) or a file (that one). Used by the destinations of
 * migration and replication streams (machine/hostallow.h, the Wasm snapshot's
 * directories), which must not let the stream choose this host's files.
 */
#ifndef LODGE_CORE_PATHALLOW_H
#define LODGE_CORE_PATHALLOW_H

#include <stdbool.h>

/* Resolves `path` into out (PATH_MAX bytes). With `may_be_new`, a path that does not
 * exist yet (a socket to be made) is resolved by its directory, its last name kept (it
 * must be a name: not empty, "." or ".."). Returns 0 or -errno. Any thread. */
int pathallow_resolve(const char *path, bool may_be_new, char *out)
	__attribute__((warn_unused_result));

/* Whether the resolved path is one of allow[0..n) (each resolved now: one that no
 * longer resolves allows nothing) or lies below one. Any thread. */
bool pathallow_within(const char *resolved, const char *const *allow, unsigned n);

#endif
