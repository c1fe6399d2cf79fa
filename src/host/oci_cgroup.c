/*
 * The container's cgroup, in whichever layout the host has: cgroup v1 controllers (also
 * the "hybrid" layout, v1 controllers beside a v2 tree that holds at most a controller
 * or two, as on this project's CI hosts, which crun refuses) or the unified v2 tree.
 * Layout and mount points come from /proc/self/mountinfo. The container's process, and
 * with it Lodge's VM or Wasm engine, joins the cgroup in every hierarchy; memory, CPU and
 * pids limits from config.json are applied there, memory and pids with Lodge's own
 * overhead added (the guest or module gets the configured amount).
 *
 * cgroupsPath is taken from the root of each hierarchy (a relative path too: later
 * commands run in other cgroups than create did, and must find the same directory);
 * --systemd-cgroup's "slice:prefix:name" becomes slice directories and prefix-name.scope,
 * without talking to systemd. Without cgroupsPath the cgroup is /<id>, as runc's.
 */
#include "host/oci_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

#define MAX_HIER 16

struct hier {
	char mnt[PATH_MAX];
	char opts[256]; /* controllers (v1: super options) */
};

struct layout {
	bool v2;
	int n;
	struct hier h[MAX_HIER];
};

/* Unescapes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = 0;
}

static bool has_opt(const char *opts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opts; p && *p;) {
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == 0))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

static void read_layout(struct layout *l)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], v2mnt[PATH_MAX] = "";
	bool seen_v1 = false;

	memset(l, 0, sizeof(*l));
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], fstype[64], super[256];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s %*s %255s", fstype, super) != 2)
			continue;
		unescape(mnt);
		if (!strcmp(fstype, "cgroup2") && !v2mnt[0]) {
			snprintf(v2mnt, sizeof(v2mnt), "%s", mnt);
		} else if (!strcmp(fstype, "cgroup") && l->n < MAX_HIER) {
			bool dup = false;
			for (int i = 0; i < l->n; i++)
				dup |= !strcmp(l->h[i].opts, super);
			if (dup)
				continue;
			seen_v1 = true;
			snprintf(l->h[l->n].mnt, sizeof(l->h[l->n].mnt), "%s", mnt);
			snprintf(l->h[l->n].opts, sizeof(l->h[l->n].opts), "%s", super);
			l->n++;
		}
	}
	if (f)
		fclose(f);
	if (!seen_v1 && v2mnt[0]) {
		l->v2 = true;
		l->n = 1;
		snprintf(l->h[0].mnt, sizeof(l->h[0].mnt), "%s", v2mnt);
		snprintf(l->h[0].opts, sizeof(l->h[0].opts), "memory,cpu,cpuset,pids");
	}
}

/* "a-b.slice" -> "/a.slice/a-b.slice" (systemd's slice naming). */
static int expand_slice(const char *slice, char *out, size_t len)
{
	size_t n = strlen(slice), used = 0;

	out[0] = 0;
	if (!strcmp(slice, "-.slice") || !*slice)
		return 0;
	if (n < 6 || strcmp(slice + n - 6, ".slice") || strchr(slice, '/'))
		return -EINVAL;
	for (size_t i = 0; i < n - 6; i++) {
		if (slice[i] != '-')
			continue;
		if (i == 0 || slice[i - 1] == '-')
			return -EINVAL;
		used += (size_t)snprintf(out + used, len - used, "/%.*s.slice", (int)i, slice);
	}
	used += (size_t)snprintf(out + used, len - used, "/%s", slice);
	return used >= len ? -ENAMETOOLONG : 0;
}

int oci_cgroup_path(const struct oci_ctx *c, const struct oci_spec *spec, const char *id, char *out,
		    size_t len)
{
	const char *p = spec->cgroups_path;

	if (!p || !*p) {
		snprintf(out, len, "/%s", id);
		return 0;
	}
	if (c->systemd_cgroup) {
		const char *a = strchr(p, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		char slice[PATH_MAX / 2];
		if (!b || strchr(b + 1, ':')) {
			oci_err(c,
				"expected cgroupsPath to be of format \"slice:prefix:name\" for "
				"systemd cgroups, got \"%s\" instead",
				p);
			return -EINVAL;
		}
		snprintf(slice, sizeof(slice), "%.*s", (int)(a - p), p);
		if (expand_slice(slice[0] ? slice : "system.slice", out, len)) {
			oci_err(c, "cgroupsPath \"%s\": bad slice name \"%s\"", p, slice);
			return -EINVAL;
		}
		if ((size_t)snprintf(out + strlen(out), len - strlen(out), "/%.*s-%s.scope",
				     (int)(b - a - 1), a + 1, b + 1) >= len - strlen(out))
			return -ENAMETOOLONG;
		return 0;
	}
	if (strstr(p, "..")) {
		oci_err(c, "cgroupsPath \"%s\" must not contain \"..\"", p);
		return -EINVAL;
	}
	if ((size_t)snprintf(out, len, "%s%s", p[0] == '/' ? "" : "/", p) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int write_str(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX * 2];
	int fd, r = 0;
	size_t n = strlen(val);

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, n) != (ssize_t)n)
		r = -errno;
	close(fd);
	return r;
}

static int read_str(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX * 2];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return 0;
}

/* mkdir -p of mnt + path. A v1 cpuset directory starts empty and takes no process until
 * it has CPUs and memory nodes, so each new level copies its parent's. */
static int make_dirs(const struct hier *h, const char *path, bool v2)
{
	char dir[PATH_MAX * 2], parent[PATH_MAX * 2], val[4096];
	size_t base = strlen(h->mnt);
	bool cpuset = !v2 && has_opt(h->opts, "cpuset");

	if (base + strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s%s", h->mnt, path);
	for (char *p = dir + base + 1;; p++) {
		if (*p != '/' && *p != 0)
			continue;
		char saved = *p;
		*p = 0;
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		if (cpuset) {
			snprintf(parent, sizeof(parent), "%s", dir);
			*strrchr(parent, '/') = 0;
			for (int k = 0; k < 2; k++) {
				const char *f = k ? "cpuset.mems" : "cpuset.cpus";
				if (!read_str(dir, f, val, sizeof(val)) && !val[0] &&
				    !read_str(parent, f, val, sizeof(val)))
					write_str(dir, f, val);
			}
		}
		*p = saved;
		if (!saved)
			break;
	}
	return 0;
}

struct limit {
	const char *file;
	char val[64];
};

/* The limit files of hierarchy h and their values; the count. */
static int limits_for(const struct hier *h, bool v2, const struct oci_resources *r,
		      uint64_t mem_overhead, struct limit *out)
{
	int n = 0;

	if (has_opt(h->opts, "memory") && r->mem_limit >= 0) {
		out[n].file = v2 ? "memory.max" : "memory.limit_in_bytes";
		snprintf(out[n++].val, sizeof(out->val), "%llu",
			 (unsigned long long)((uint64_t)r->mem_limit + mem_overhead));
	}
	if (has_opt(h->opts, "cpu")) {
		if (v2 && (r->cpu_quota > 0 || r->cpu_period)) {
			out[n].file = "cpu.max";
			snprintf(out[n++].val, sizeof(out->val), "%s %llu",
				 r->cpu_quota > 0 ? "" : "max",
				 (unsigned long long)(r->cpu_period ? r->cpu_period : 100000));
			if (r->cpu_quota > 0) /* "QUOTA PERIOD" */
				snprintf(out[n - 1].val, sizeof(out->val), "%lld %llu",
					 (long long)r->cpu_quota,
					 (unsigned long long)(r->cpu_period ? r->cpu_period
									    : 100000));
		}
		if (v2 && r->cpu_shares) {
			out[n].file = "cpu.weight"; /* runc's conversion of shares to weight */
			snprintf(out[n++].val, sizeof(out->val), "%llu",
				 (unsigned long long)(1 + ((r->cpu_shares < 2 ? 2 : r->cpu_shares) -
							   2) * 9999 /
								  262142));
		}
		if (!v2 && r->cpu_shares) {
			out[n].file = "cpu.shares";
			snprintf(out[n++].val, sizeof(out->val), "%llu",
				 (unsigned long long)r->cpu_shares);
		}
		if (!v2 && r->cpu_period) {
			out[n].file = "cpu.cfs_period_us";
			snprintf(out[n++].val, sizeof(out->val), "%llu",
				 (unsigned long long)r->cpu_period);
		}
		if (!v2 && r->cpu_quota) {
			out[n].file = "cpu.cfs_quota_us";
			snprintf(out[n++].val, sizeof(out->val), "%lld", (long long)r->cpu_quota);
		}
	}
	if (has_opt(h->opts, "cpuset") && r->cpuset_cpus) {
		out[n].file = "cpuset.cpus";
		snprintf(out[n++].val, sizeof(out->val), "%s", r->cpuset_cpus);
	}
	if (has_opt(h->opts, "pids") && r->pids_limit > 0) {
		out[n].file = "pids.max";
		snprintf(out[n++].val, sizeof(out->val), "%lld",
			 (long long)r->pids_limit + OCI_OVERHEAD_PIDS);
	}
	return n;
}

static bool wants_limits(const struct oci_resources *r)
{
	return r->mem_limit >= 0 || r->cpu_shares || r->cpu_quota > 0 || r->cpuset_cpus ||
	       r->pids_limit > 0;
}

/* v2: a controller works in a cgroup only when every ancestor delegates it. */
static void enable_v2_controllers(const struct hier *h, const char *path)
{
	char dir[PATH_MAX * 2], avail[512];
	static const char *const ctl[] = {"memory", "cpu", "cpuset", "pids"};

	snprintf(dir, sizeof(dir), "%s%s", h->mnt, path);
	*strrchr(dir, '/') = 0; /* the parent: its subtree_control governs path */
	for (char *p = dir + strlen(h->mnt);; p = strchr(p + 1, '/')) {
		char saved = p ? *p : 0;
		if (p)
			*p = 0;
		if (!read_str(dir, "cgroup.controllers", avail, sizeof(avail)))
			for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
				char op[16];
				if (!strstr(avail, ctl[i]))
					continue;
				snprintf(op, sizeof(op), "+%s", ctl[i]);
				write_str(dir, "cgroup.subtree_control", op);
			}
		if (!p)
			break;
		*p = saved;
	}
}

int oci_cgroup_enter(const struct oci_ctx *c, const char *path, const struct oci_resources *r,
		     uint64_t mem_overhead, pid_t pid)
{
	struct layout l;
	char dir[PATH_MAX * 2], pidstr[32];
	bool need = wants_limits(r);
	int rc;

	read_layout(&l);
	if (l.n == 0) {
		if (need) {
			oci_err(c, "no cgroup file system is mounted: cannot apply the resource "
				   "limits of config.json");
			return -ENOENT;
		}
		return 0;
	}
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	for (int i = 0; i < l.n; i++) {
		struct limit lim[8];
		int nl;

		if (l.v2)
			enable_v2_controllers(&l.h[i], path);
		rc = make_dirs(&l.h[i], path, l.v2);
		snprintf(dir, sizeof(dir), "%s%s", l.h[i].mnt, path);
		if (rc) {
			if (!need && (rc == -EROFS || rc == -EACCES || rc == -EPERM)) {
				oci_warn(c, "cgroup %s: %s (no limits asked for: going on)", dir,
					 strerror(-rc));
				continue;
			}
			oci_err(c, "cannot create cgroup %s: %s", dir, strerror(-rc));
			return rc;
		}
		nl = limits_for(&l.h[i], l.v2, r, mem_overhead, lim);
		for (int k = 0; k < nl; k++) {
			rc = write_str(dir, lim[k].file, lim[k].val);
			if (rc) {
				oci_err(c, "cgroup %s: cannot set %s to %s: %s", dir, lim[k].file,
					lim[k].val, strerror(-rc));
				return rc;
			}
		}
		rc = write_str(dir, "cgroup.procs", pidstr);
		if (rc && (need || (rc != -EACCES && rc != -EPERM && rc != -EROFS))) {
			oci_err(c, "cannot move process %d into cgroup %s: %s", (int)pid, dir,
				strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int oci_cgroup_pids(const char *path, pid_t **out, size_t *n)
{
	struct layout l;
	char file[PATH_MAX * 2], line[32];
	int pick = 0;
	size_t cap = 0;
	FILE *f;

	*out = NULL;
	*n = 0;
	read_layout(&l);
	if (l.n == 0 || !path[0])
		return 0;
	for (int i = 0; i < l.n; i++) /* the pids or memory hierarchy, else the first */
		if (has_opt(l.h[i].opts, "pids") ||
		    (has_opt(l.h[i].opts, "memory") && !has_opt(l.h[pick].opts, "pids")))
			pick = i;
	snprintf(file, sizeof(file), "%s%s/cgroup.procs", l.h[pick].mnt, path);
	f = fopen(file, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (*n == cap) {
			pid_t *m = core_realloc(*out, (cap = cap * 2 + 16) * sizeof(pid_t));
			if (!m) {
				fclose(f);
				return -ENOMEM;
			}
			*out = m;
		}
		(*out)[(*n)++] = (pid_t)atoi(line);
	}
	fclose(f);
	return 0;
}

void oci_cgroup_remove(const struct oci_ctx *c, const char *path)
{
	struct layout l;
	char dir[PATH_MAX * 2];

	if (!path[0] || !strcmp(path, "/"))
		return;
	read_layout(&l);
	for (int i = 0; i < l.n; i++) {
		snprintf(dir, sizeof(dir), "%s%s", l.h[i].mnt, path);
		/* A process that just died leaves the cgroup when its parent reaps it. */
		for (int tries = 0; rmdir(dir) && errno == EBUSY && tries < 100; tries++)
			nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
		if (!access(dir, F_OK))
			oci_warn(c, "cannot remove cgroup %s: %s", dir, strerror(errno));
	}
}
