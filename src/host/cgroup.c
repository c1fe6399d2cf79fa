/*
 * Control groups (see cgroup.h). Everything is files: mkdir a group, write limits into
 * it, the guest process writes itself ("0") into tasks or cgroup.procs, rmdir it. The v1
 * and v2 paths differ only in file names and formats, kept side by side in the
 * table-like functions below.
 */
#include "host/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define CGROUP2_MAGIC 0x63677270
#define CPU_PERIOD_US 100000

static const char *const ctrl_names[CG_NCTRL] = {"cpu", "cpuacct", "memory", "pids", "blkio"};
static const char *const v2_names[CG_NCTRL] = {"cpu", NULL, "memory", "pids", "io"};

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX + 64];
	int fd, r = 0;
	size_t n = strlen(val);

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, n) != (ssize_t)n)
		r = -errno;
	close(fd);
	return r;
}

static int read_u64(const char *dir, const char *file, const char *key, uint64_t *out)
{
	char path[PATH_MAX + 64], line[256];
	FILE *f;
	int r = -ENOENT;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		size_t kl = key ? strlen(key) : 0;
		if (key && (strncmp(line, key, kl) || line[kl] != ' '))
			continue;
		if (sscanf(line + kl, "%llu", &v) == 1) {
			*out = v;
			r = 0;
		}
		break;
	}
	fclose(f);
	return r;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The daemon's own group in the hierarchy with `ctrl` (v1) or the unified one (NULL). */
static void own_group(const char *ctrl, char *out, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "re");

	snprintf(out, len, "/");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		c2[strcspn(c2 + 1, "\n") + 1] = 0;
		if (!ctrl ? c1[1] == 0 : strstr(c1 + 1, ctrl) != NULL) {
			/* match a whole name in "cpu,cpuacct" */
			bool whole = !ctrl;
			for (char *t = strtok(c1 + 1, ","); t && !whole; t = strtok(NULL, ","))
				whole = !strcmp(t, ctrl);
			if (whole) {
				snprintf(out, len, "%s", c2 + 1);
				break;
			}
		}
	}
	fclose(f);
}

/* v1 mount points from /proc/self/mountinfo. */
static void find_v1(struct cgroup_env *env)
{
	char line[1024];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - "), mnt[PATH_MAX], fstype[32], src[64], opts[512];
		char own[PATH_MAX];
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%31s %63s %511s", fstype, src, opts) != 3 ||
		    strcmp(fstype, "cgroup"))
			continue;
		for (int c = 0; c < CG_NCTRL; c++) {
			bool has = false;
			char tmp[512];
			snprintf(tmp, sizeof(tmp), "%s", opts);
			for (char *t = strtok(tmp, ","); t; t = strtok(NULL, ","))
				has = has || !strcmp(t, ctrl_names[c]);
			if (!has || env->v1[c][0])
				continue;
			own_group(ctrl_names[c], own, sizeof(own));
			if (snprintf(env->v1[c], sizeof(env->v1[c]), "%s%s/%s", mnt,
				     strcmp(own, "/") ? own : "",
				     env->instance) >= (int)sizeof(env->v1[c]))
				env->v1[c][0] = 0;
		}
	}
	fclose(f);
}

/* Enables the controllers guests need in `dir`'s subtree (v2). */
static void enable_v2(struct cgroup_env *env, const char *dir)
{
	char avail[256] = "", path[PATH_MAX + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(avail, sizeof(avail), f))
			avail[0] = 0;
		fclose(f);
	}
	for (int c = 0; c < CG_NCTRL; c++) {
		char tok[16];
		if (!v2_names[c])
			continue;
		snprintf(tok, sizeof(tok), "+%s", v2_names[c]);
		env->v2_ctrl[c] = strstr(avail, v2_names[c]) &&
				  write_file(dir, "cgroup.subtree_control", tok) == 0;
	}
}

static bool is_cgroup2(const char *path)
{
	struct statfs s;

	return statfs(path, &s) == 0 && (unsigned long)s.f_type == CGROUP2_MAGIC;
}

static int init_v2(struct cgroup_env *env, const char *root, bool fake)
{
	char own[PATH_MAX], base[PATH_MAX];
	int r;

	if (fake) {
		snprintf(base, sizeof(base), "%s", root);
	} else {
		own_group(NULL, own, sizeof(own));
		if (snprintf(base, sizeof(base), "%s%s", root, strcmp(own, "/") ? own : "") >=
		    (int)sizeof(base))
			return -ENAMETOOLONG;
	}
	if (snprintf(env->v2, sizeof(env->v2), "%s/%s", base, env->instance) >=
	    (int)sizeof(env->v2))
		return -ENAMETOOLONG;
	r = mkdir_p(env->v2);
	if (r)
		return r;
	enable_v2(env, base);
	enable_v2(env, env->v2);
	env->version = 2;
	return 0;
}

int cgroup_env_init(struct cgroup_env *env, int version, const char *root, const char *instance)
{
	const char *r2 = NULL;
	bool fake = root != NULL;
	int any = 0;

	memset(env, 0, sizeof(*env));
	if (!instance[0] || strchr(instance, '/') || strlen(instance) >= sizeof(env->instance))
		return -EINVAL;
	snprintf(env->instance, sizeof(env->instance), "%s", instance);
	if (!root)
		root = "/sys/fs/cgroup";
	if (fake) {
		r2 = root;
	} else if (is_cgroup2(root)) {
		r2 = root;
	} else {
		static char unified[PATH_MAX];
		snprintf(unified, sizeof(unified), "%s/unified", root);
		if (is_cgroup2(unified))
			r2 = unified;
	}
	if (version == 2) {
		if (!r2)
			return -ENOENT;
		return init_v2(env, r2, fake);
	}
	if (version == 0 && r2 && !fake) {
		struct cgroup_env t = *env;
		if (init_v2(&t, r2, false) == 0) {
			if (t.v2_ctrl[CG_CPU] && t.v2_ctrl[CG_MEMORY]) {
				*env = t;
				return 0;
			}
			rmdir(t.v2); /* tried and not taken: leave nothing behind */
		}
	}
	if (fake) {
		for (int c = 0; c < CG_NCTRL; c++)
			if (snprintf(env->v1[c], sizeof(env->v1[c]), "%s/%s/%s", root,
				     ctrl_names[c], env->instance) >= (int)sizeof(env->v1[c]))
				env->v1[c][0] = 0;
	} else {
		find_v1(env);
	}
	for (int c = 0; c < CG_NCTRL; c++) {
		if (!env->v1[c][0])
			continue;
		if (mkdir_p(env->v1[c]))
			env->v1[c][0] = 0;
		else
			any = 1;
	}
	if (!any)
		return -ENOENT;
	env->version = 1;
	return 0;
}

/* rmdir of every directory directly in `dir` (a cgroup's children); counts what went. */
static int sweep_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	int fd, n = 0;

	if (!dp)
		return 0;
	fd = dirfd(dp);
	while ((e = readdir(dp)))
		if ((e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) && strcmp(e->d_name, ".") &&
		    strcmp(e->d_name, "..") && unlinkat(fd, e->d_name, AT_REMOVEDIR) == 0)
			n++;
	closedir(dp);
	return n;
}

int cgroup_env_sweep(const struct cgroup_env *env)
{
	int n = 0;

	if (env->version == 2)
		n += sweep_dir(env->v2);
	for (int c = 0; c < CG_NCTRL && env->version == 1; c++) {
		bool seen = false; /* cpu and cpuacct may share one hierarchy */
		for (int k = 0; k < c && !seen; k++)
			seen = !strcmp(env->v1[k], env->v1[c]);
		if (env->v1[c][0] && !seen)
			n += sweep_dir(env->v1[c]);
	}
	return n;
}

void cgroup_env_fini(const struct cgroup_env *env)
{
	if (env->version == 2)
		rmdir(env->v2);
	for (int c = 0; c < CG_NCTRL && env->version == 1; c++)
		if (env->v1[c][0])
			rmdir(env->v1[c]);
}

/* Guest NAME's group is GROUP_PREFIX NAME: no control file of any controller begins
 * with it, so that no name ("tasks", "cpu.cfs_quota_us", "pids.max"...) is a file of the
 * parent group rather than a group of its own. */
#define GROUP_PREFIX "g-"

static void group_dir(const struct cgroup_env *env, int c, const char *name, char *out, size_t len)
{
	const char *base = env->version == 2 ? env->v2 : env->v1[c];

	if (!base[0] || snprintf(out, len, "%s/" GROUP_PREFIX "%s", base, name) >= (int)len)
		out[0] = 0;
}

/* Whether a limit failed because its controller or file is not on this host (the guest
 * may run without it, reported as skipped) rather than for a reason of its own. */
static bool controller_absent(int r)
{
	return r == -ENODEV || r == -ENOENT;
}

/* Appends "what" or "what(why)" to a space-separated list. */
static void note(char *buf, size_t len, const char *what, const char *why)
{
	size_t n = strlen(buf);

	if (n + 1 >= len)
		return;
	if (snprintf(buf + n, len - n, "%s%s%s%s%s", n ? " " : "", what, why ? "(" : "",
		     why ? why : "", why ? ")" : "") >= (int)(len - n))
		buf[n] = 0;
}

/* One limit: the file(s) to write for controller c. Returns 0 or -errno. */
static int apply(const struct cgroup_env *env, int c, const char *dir,
		 const struct cgroup_limits *l)
{
	char v[128];
	bool v2 = env->version == 2;
	int r;

	switch (c) {
	case CG_CPU: {
		uint64_t q = (uint64_t)(l->cpu_quota * CPU_PERIOD_US);
		if (q < 1000)
			q = 1000; /* the kernel's minimum quota */
		if (v2) {
			snprintf(v, sizeof(v), "%llu %d", (unsigned long long)q, CPU_PERIOD_US);
			return write_file(dir, "cpu.max", v);
		}
		snprintf(v, sizeof(v), "%d", CPU_PERIOD_US);
		r = write_file(dir, "cpu.cfs_period_us", v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)q);
		return r ?: write_file(dir, "cpu.cfs_quota_us", v);
	}
	case CG_MEMORY:
		snprintf(v, sizeof(v), "%llu", (unsigned long long)l->memory);
		if (v2) {
			r = write_file(dir, "memory.max", v);
			if (!r) /* no swap beyond the limit (absent without swap accounting) */
				(void)write_file(dir, "memory.swap.max", "0");
			return r;
		}
		r = write_file(dir, "memory.limit_in_bytes", v);
		if (!r) /* no swap beyond the limit either, where swap is accounted */
			(void)write_file(dir, "memory.memsw.limit_in_bytes", v);
		return r;
	case CG_PIDS:
		snprintf(v, sizeof(v), "%llu", (unsigned long long)l->pids);
		return write_file(dir, "pids.max", v);
	case CG_BLKIO: {
		char bps[24] = "max", iops[24] = "max";
		if (l->io_bps)
			snprintf(bps, sizeof(bps), "%llu", (unsigned long long)l->io_bps);
		if (l->io_iops)
			snprintf(iops, sizeof(iops), "%llu", (unsigned long long)l->io_iops);
		if (v2) {
			snprintf(v, sizeof(v), "%u:%u rbps=%s wbps=%s riops=%s wiops=%s",
				 major(l->io_dev), minor(l->io_dev), bps, bps, iops, iops);
			return write_file(dir, "io.max", v);
		}
		if (l->io_bps) {
			snprintf(v, sizeof(v), "%u:%u %s", major(l->io_dev), minor(l->io_dev), bps);
			r = write_file(dir, "blkio.throttle.read_bps_device", v);
			r = r ?: write_file(dir, "blkio.throttle.write_bps_device", v);
			if (r)
				return r;
		}
		if (l->io_iops) {
			snprintf(v, sizeof(v), "%u:%u %s", major(l->io_dev), minor(l->io_dev),
				 iops);
			r = write_file(dir, "blkio.throttle.read_iops_device", v);
			r = r ?: write_file(dir, "blkio.throttle.write_iops_device", v);
		}
		return r;
	}
	default:
		return 0;
	}
}

static bool wanted(int c, const struct cgroup_limits *l)
{
	switch (c) {
	case CG_CPU:
		return l->cpu_quota > 0;
	case CG_MEMORY:
		return l->memory != 0;
	case CG_PIDS:
		return l->pids != 0;
	case CG_BLKIO:
		return l->io_bps != 0 || l->io_iops != 0;
	default:
		return false;
	}
}

int cgroup_create(const struct cgroup_env *env, const char *name, const struct cgroup_limits *lim,
		  char *applied, size_t applen, char *skipped, size_t skiplen)
{
	static const char *const what[CG_NCTRL] = {"cpu", "", "memory", "pids", "io"};
	char dir[PATH_MAX + 80];
	int made = 0, first_err = 0, limit_err = 0;

	if (applied && applen)
		applied[0] = 0;
	if (skipped && skiplen)
		skipped[0] = 0;
	for (int c = 0; c < CG_NCTRL; c++) {
		int r;
		group_dir(env, c, name, dir, sizeof(dir));
		if (!dir[0])
			continue;
		if (env->version == 1 || !made) {
			struct stat st;
			if (mkdir(dir, 0755) < 0 &&
			    (errno != EEXIST || (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)))) {
				r = errno == EEXIST ? -ENOTDIR : -errno;
				first_err = first_err ?: r;
				if (skipped)
					note(skipped, skiplen, ctrl_names[c], strerror(-r));
				continue;
			}
			made++;
		}
		if (!wanted(c, lim))
			continue;
		if (c == CG_BLKIO && !lim->io_dev) {
			if (skipped)
				note(skipped, skiplen, what[c],
				     "the disks are not on a block device");
			continue;
		}
		if (env->version == 2 && !env->v2_ctrl[c])
			r = -ENODEV;
		else
			r = apply(env, c, dir, lim);
		if (r == 0 && applied)
			note(applied, applen, what[c], NULL);
		else if (r && skipped)
			note(skipped, skiplen, what[c],
			     controller_absent(r) ? "controller not available" : strerror(-r));
		if (r && !controller_absent(r))
			limit_err = limit_err ?: r;
	}
	/* Limits wanted for controllers without a hierarchy at all. */
	for (int c = 0; c < CG_NCTRL && env->version == 1; c++)
		if (wanted(c, lim) && !env->v1[c][0] && skipped)
			note(skipped, skiplen, what[c], "controller not mounted");
	if (!made)
		return first_err ? first_err : -ENOENT;
	/* a hierarchy whose group cannot be made, or a limit refused, is no absent
	 * controller: the guest would run without a limit it asked for */
	return first_err ?: limit_err;
}

int cgroup_open_join(const struct cgroup_env *env, const char *name, int fds[CG_NCTRL], unsigned *n)
{
	char dir[PATH_MAX + 80], path[PATH_MAX + 96];
	int r = 0;

	*n = 0;
	for (int c = 0; c < CG_NCTRL && !r; c++) {
		group_dir(env, c, name, dir, sizeof(dir));
		if (!dir[0])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir,
			 env->version == 2 ? "cgroup.procs" : "tasks");
		fds[*n] = open(path, O_WRONLY | O_CLOEXEC);
		if (fds[*n] < 0)
			r = -errno;
		else
			(*n)++;
		if (env->version == 2)
			break;
	}
	if (r) {
		while (*n)
			close(fds[--*n]);
	}
	return r;
}

int cgroup_join(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (write(fds[i], "0", 1) != 1)
			return -errno;
	return 0;
}

int cgroup_stats(const struct cgroup_env *env, const char *name, struct cgroup_stats *out)
{
	char dir[PATH_MAX + 80];
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (env->version == 2) {
		group_dir(env, 0, name, dir, sizeof(dir));
		if (access(dir, F_OK))
			return -ENOENT;
		if (read_u64(dir, "cpu.stat", "usage_usec", &v) == 0)
			out->cpu_ns = v * 1000;
		if (read_u64(dir, "memory.current", NULL, &v) == 0)
			out->memory_bytes = v;
		if (read_u64(dir, "pids.current", NULL, &v) == 0)
			out->pids = v;
		return 0;
	}
	group_dir(env, CG_CPUACCT, name, dir, sizeof(dir));
	if (dir[0] && read_u64(dir, "cpuacct.usage", NULL, &v) == 0)
		out->cpu_ns = v;
	group_dir(env, CG_MEMORY, name, dir, sizeof(dir));
	if (dir[0] && read_u64(dir, "memory.usage_in_bytes", NULL, &v) == 0)
		out->memory_bytes = v;
	group_dir(env, CG_PIDS, name, dir, sizeof(dir));
	if (dir[0] && read_u64(dir, "pids.current", NULL, &v) == 0)
		out->pids = v;
	return 0;
}

/* Whether v1 controller c shares its hierarchy with a controller before it (cpu and
 * cpuacct may be mounted together). */
static bool shared_hierarchy(const struct cgroup_env *env, int c)
{
	for (int k = 0; k < c; k++)
		if (!strcmp(env->v1[k], env->v1[c]))
			return true;
	return false;
}

int cgroup_rename(const struct cgroup_env *env, const char *from, const char *to)
{
	char src[PATH_MAX + 80], dst[PATH_MAX + 80];
	int c, r = 0, done = 0;

	if (env->version != 1)
		return -EOPNOTSUPP;
	for (c = 0; c < CG_NCTRL; c++) {
		if (!env->v1[c][0] || shared_hierarchy(env, c))
			continue;
		group_dir(env, c, from, src, sizeof(src));
		group_dir(env, c, to, dst, sizeof(dst));
		if (!src[0] || !dst[0]) {
			r = -ENAMETOOLONG;
			break;
		}
		if (rename(src, dst) < 0) {
			r = -errno;
			break;
		}
		done++;
	}
	/* a hierarchy refused: the ones renamed go back */
	for (int k = 0; r && done && k < c; k++) {
		if (!env->v1[k][0] || shared_hierarchy(env, k))
			continue;
		group_dir(env, k, from, src, sizeof(src));
		group_dir(env, k, to, dst, sizeof(dst));
		if (rename(dst, src) < 0)
			r = -EIO;
	}
	return r;
}

/* Kills whatever is still in the group (a guest's processes outlive it only by a bug). */
static void kill_members(const char *dir)
{
	char path[PATH_MAX + 64], line[32];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= (int)sizeof(path))
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long pid = strtol(line, NULL, 10);
		if (pid > 0)
			kill((pid_t)pid, SIGKILL);
	}
	fclose(f);
}

int cgroup_destroy(const struct cgroup_env *env, const char *name)
{
	char dir[PATH_MAX + 80];
	int first = 0;

	for (int c = 0; c < CG_NCTRL; c++) {
		group_dir(env, c, name, dir, sizeof(dir));
		if (!dir[0])
			continue;
		for (int tries = 0; tries < 50; tries++) {
			if (rmdir(dir) == 0 || errno == ENOENT)
				break;
			if (errno != EBUSY) {
				first = first ?: -errno;
				break;
			}
			kill_members(dir);
			usleep(10000);
			if (tries == 49)
				first = first ?: -EBUSY;
		}
		if (env->version == 2)
			break;
	}
	return first;
}

int cgroup_destroy_prefixed(const struct cgroup_env *env, const char *prefix)
{
	size_t pl = strlen(prefix);
	int n = 0;

	for (int c = 0; c < CG_NCTRL; c++) {
		const char *base = env->version == 2 ? env->v2 : env->v1[c];
		struct dirent *e;
		DIR *dp;

		if (env->version == 1 && (!base[0] || shared_hierarchy(env, c)))
			continue;
		dp = opendir(base);
		if (!dp)
			continue;
		/* cgroup_destroy removes the group from every hierarchy: the later ones no
		 * longer list it */
		while ((e = readdir(dp)))
			if (!strncmp(e->d_name, GROUP_PREFIX, sizeof(GROUP_PREFIX) - 1) &&
			    !strncmp(e->d_name + sizeof(GROUP_PREFIX) - 1, prefix, pl) &&
			    (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) &&
			    cgroup_destroy(env, e->d_name + sizeof(GROUP_PREFIX) - 1) == 0)
				n++;
		closedir(dp);
		if (env->version == 2)
			break;
	}
	return n;
}

void cgroup_path(const struct cgroup_env *env, const char *name, char *out, size_t len)
{
	group_dir(env, CG_MEMORY, name, out, len);
}
