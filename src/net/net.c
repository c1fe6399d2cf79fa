/*
 * Network backends (see net.h): opening one by kind, closing.
 */
#include "net/net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int net_backend_open(struct evloop *loop, const struct net_options *opt, struct net_backend **out,
		     char *err, size_t errlen)
{
	if (!opt->kind || !*opt->kind) {
		snprintf(err, errlen, "--net: missing backend: want 'user' or 'tap' first");
		return -EINVAL;
	}
	if (!strcmp(opt->kind, "user"))
		return net_user_open(loop, opt, out, err, errlen);
	if (!strcmp(opt->kind, "tap"))
		return net_tap_open(loop, opt, out, err, errlen);
	snprintf(err, errlen, "--net: unknown backend '%s': want 'user' or 'tap'", opt->kind);
	return -EINVAL;
}

void net_backend_close(struct net_backend *nb)
{
	if (nb)
		nb->ops->close(nb);
}
