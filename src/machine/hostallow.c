/*
 * The destination's check of the host resources a stream's device options name (see
 * hostallow.h). Each device type lists its own (device_type.host_names); this file
 * resolves paths and compares them with what the destination allowed.
 */
#include "machine/hostallow.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/device.h"
#include "machine/snapshot.h"

struct check {
	const struct vm_host_allow *allow;
	const char *option;
	char *err;
	size_t errlen;
};

/* Whether `path` (resolved) is allowed entry `a` itself or lies below it. */
static bool under(const char *path, const char *a)
{
	char ra[PATH_MAX];
	size_t n;

	if (!realpath(a, ra))
		return false; /* gone since it was given: allows nothing */
	n = strlen(ra);
	if (!strcmp(ra, "/"))
		return true;
	return !strncmp(path, ra, n) && (path[n] == '/' || !path[n]);
}

static bool path_allowed(const struct vm_host_allow *allow, const char *resolved)
{
	for (unsigned i = 0; allow && i < allow->npaths; i++)
		if (under(resolved, allow->paths[i]))
			return true;
	return false;
}

/* A socket's path, resolved: the whole of it when it exists, else its directory's and
 * its own last name (which must be a name). Returns 0 or -errno. */
static int resolve_socket(const char *path, char out[PATH_MAX])
{
	struct stat st;
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (lstat(path, &st) == 0)
		return realpath(path, out) ? 0 : -errno;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	if (!slash)
		strcpy(dir, ".");
	else if (!n)
		strcpy(dir, "/");
	else {
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

static int check_path(struct check *c, enum device_host_kind kind, const char *key,
		      const char *name)
{
	const struct vm_host_allow *a = c->allow;
	const char *what = kind == DEVICE_HOST_FILE ? "the file" : "the socket";
	char resolved[PATH_MAX], also[PATH_MAX + 32] = "", hint[128] = "";
	int r = kind == DEVICE_HOST_FILE ? (realpath(name, resolved) ? 0 : -errno)
					 : resolve_socket(name, resolved);

	if (!r && path_allowed(a, resolved))
		return 0;
	if (!r && strcmp(resolved, name))
		snprintf(also, sizeof(also), " (%s)", resolved);
	else if (r)
		snprintf(also, sizeof(also), " (%s here)", strerror(-r));
	if (kind == DEVICE_HOST_FILE && a && a->pin_hint)
		snprintf(hint, sizeof(hint), ", or %s for a writable disk", a->pin_hint);
	vm_errf(c->err, c->errlen,
		"the stream's --%s names %s %s%s as its %s, and this host allowed no such path: "
		"give --incoming-allow DIR with a directory that holds it%s, if the guest may "
		"have it",
		c->option, what, name, also, key, hint);
	return -EPERM;
}

static int check_one(void *ctx, enum device_host_kind kind, const char *key, const char *name)
{
	struct check *c = ctx;
	const struct vm_host_allow *a = c->allow;

	switch (kind) {
	case DEVICE_HOST_FILE:
	case DEVICE_HOST_SOCKET:
		return check_path(c, kind, key, name);
	case DEVICE_HOST_TAP:
		for (unsigned i = 0; a && i < a->ntaps; i++)
			if (!strcmp(a->taps[i], name))
				return 0;
		vm_errf(c->err, c->errlen,
			"the stream's --%s names the tap interface '%s' (%s=): give "
			"--incoming-allow-tap %s if the guest may have it",
			c->option, name, key, name[0] ? name : "NAME");
		return -EPERM;
	case DEVICE_HOST_PORT:
		if (a && a->hostfwd)
			return 0;
		vm_errf(c->err, c->errlen,
			"the stream's --%s forwards a port of this host (%s=%s): give "
			"--incoming-allow-hostfwd if the guest may bind it",
			c->option, key, name);
		return -EPERM;
	}
	return -EINVAL;
}

int vm_host_allow_file(const struct vm_host_allow *allow, const char *option, const char *what,
		       const char *path, char *err, size_t errlen)
{
	struct check c = {.allow = allow, .option = option, .err = err, .errlen = errlen};

	return check_path(&c, DEVICE_HOST_FILE, what, path);
}

int vm_host_allow_check(const struct vm_host_allow *allow, const char *option, const char *args,
			char *err, size_t errlen)
{
	const struct device_type *t = device_type_find_option(option);
	struct check c = {.allow = allow, .option = option, .err = err, .errlen = errlen};
	char derr[256] = "";
	int r;

	if (!t) {
		vm_errf(err, errlen, "the stream names a device --%s this Lodge does not have",
			option);
		return -EINVAL;
	}
	if (!t->host_names || !args)
		return 0;
	r = t->host_names(args, check_one, &c, derr, sizeof(derr));
	if (r && r != -EPERM)
		vm_errf(err, errlen, "the stream's --%s options are refused: %s", option,
			derr[0] ? derr : strerror(-r));
	return r;
}
