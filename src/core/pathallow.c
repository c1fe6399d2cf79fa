/*
 * Resolving a host path a peer named and comparing it with allowed ones (pathallow.h).
 */
#include "core/pathallow.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int pathallow_resolve(const char *path, bool may_be_new, char *out)
{
	struct stat st;
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (!may_be_new || lstat(path, &st) == 0)
		return realpath(path, out) ? 0 : -errno;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	if (!slash) {
		strcpy(dir, ".");
	} else if (!n) {
		strcpy(dir, "/");
	} else {
		memcpy(dir, path, n);
		dir[n] = 0;
	}
	if (!realpath(dir, out))
		return -errno;
	if (strlen(out) + 1 + strlen(base) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (strcmp(out, "/"))
		strcat(out, "/");
	strcat(out, base);
	return 0;
}

/* Whether `path` (resolved) is allowed entry `a` itself or lies below it. */
static bool under(const char *path, const char *a)
{
	char ra[PATH_MAX];
	size_t n;

	if (!realpath(a, ra))
		return false; /* gone since it was given: allows nothing */
	if (!strcmp(ra, "/"))
		return true;
	n = strlen(ra);
	return !strncmp(path, ra, n) && (path[n] == '/' || !path[n]);
}

bool pathallow_within(const char *resolved, const char *const *allow, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (under(resolved, allow[i]))
			return true;
	return false;
}
