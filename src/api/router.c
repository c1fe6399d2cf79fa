/*
 * Request routing: a route is METHOD + a pattern of '/'-separated segments, each either
 * literal or a "{parameter}". The raw path is split at '/' before percent-decoding, so an
 * encoded slash ("%2F") stays inside its segment (and then fails the handler's own name
 * check) instead of changing the route. No normalisation: "." and ".." are segments like
 * any other, and an empty segment matches no parameter.
 */
#include "api/server.h"

#include <stdio.h>
#include <string.h>

/* The next segment of s (after a '/'): start and length; returns false at the end. */
static bool next_segment(const char **s, const char **seg, size_t *len)
{
	const char *p = *s;

	if (*p != '/')
		return false;
	p++;
	*seg = p;
	while (*p && *p != '/')
		p++;
	*len = (size_t)(p - *seg);
	*s = p;
	return true;
}

/* 1: matches; 0: does not; -1: a parameter did not decode; -2: one is too long. */
static int match_one(const char *pattern, const char *path, struct api_match *m)
{
	const char *ps, *xs;
	size_t pl, xl;

	m->nparams = 0;
	for (;;) {
		bool more_p = next_segment(&pattern, &ps, &pl);
		bool more_x = next_segment(&path, &xs, &xl);
		if (!more_p || !more_x)
			return more_p == more_x && !*path ? 1 : 0;
		if (pl >= 2 && ps[0] == '{' && ps[pl - 1] == '}') {
			if (xl == 0 || m->nparams == API_MAX_PARAMS)
				return 0;
			long r = http_unescape(xs, xl, m->params[m->nparams], API_PARAM_MAX, false);
			if (r < 0)
				return (int)r;
			m->nparams++;
		} else if (pl != xl || memcmp(ps, xs, pl)) {
			return 0;
		}
	}
}

static const char *method_text(enum http_method m)
{
	static const char *const names[] = {"?", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};

	return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}

int api_route_match(const struct api_route *routes, unsigned n, enum http_method method,
		    const char *path, struct api_match *m)
{
	bool path_known = false;
	size_t used = 0;

	m->route = NULL;
	m->allow[0] = 0;
	m->too_long = false;
	for (unsigned i = 0; i < n; i++) {
		int r = match_one(routes[i].pattern, path, m);
		if (r < 0) {
			m->status = 400;
			m->too_long = r == -2;
			return -1;
		}
		if (!r)
			continue;
		if (routes[i].method == method) {
			m->route = &routes[i];
			return 0;
		}
		path_known = true;
		if (!strstr(m->allow, method_text(routes[i].method)) &&
		    used + 10 < sizeof(m->allow))
			used += (size_t)snprintf(m->allow + used, sizeof(m->allow) - used, "%s%s",
						 used ? ", " : "", method_text(routes[i].method));
	}
	m->status = path_known ? 405 : 404;
	return -1;
}
