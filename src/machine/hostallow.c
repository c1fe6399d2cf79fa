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

#include "core/pathallow.h"
#include "devices/device.h"
#include "machine/snapshot.h"

struct check {
	const struct vm_host_allow *allow;
	const char *option;
	char *err;
	size_t errlen;
};

static int check_path(struct check *c, enum device_host_kind kind, const char *key,
		      const char *name)
{
	const struct vm_host_allow *a = c->allow;
	const char *what = kind == DEVICE_HOST_FILE ? "the file" : "the socket";
	char resolved[PATH_MAX], also[PATH_MAX + 32] = "", hint[128] = "";
	int r = pathallow_resolve(name, kind == DEVICE_HOST_SOCKET, resolved);

	if (!r && a && pathallow_within(resolved, a->paths, a->npaths))
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
