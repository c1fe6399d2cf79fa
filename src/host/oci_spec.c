/*
 * The bundle's config.json (runtime-spec 1.x, config.md and config-linux.md): parsed with
 * cJSON into struct oci_spec and checked the way runc checks it, with runc's messages
 * where engines might match them. Strings point into the cJSON tree, which the spec owns.
 * Fields Lodge cannot honour inside a VM (namespaces, capabilities, seccomp, devices) are
 * read by nobody: the VM is the isolation boundary.
 */
#include "host/oci_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

#define MAX_CONFIG_SIZE (16u << 20)

/* clang-format off */
static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{"RLIMIT_AS", RLIMIT_AS},		{"RLIMIT_CORE", RLIMIT_CORE},
	{"RLIMIT_CPU", RLIMIT_CPU},		{"RLIMIT_DATA", RLIMIT_DATA},
	{"RLIMIT_FSIZE", RLIMIT_FSIZE},		{"RLIMIT_LOCKS", RLIMIT_LOCKS},
	{"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},	{"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", RLIMIT_NICE},		{"RLIMIT_NOFILE", RLIMIT_NOFILE},
	{"RLIMIT_NPROC", RLIMIT_NPROC},		{"RLIMIT_RSS", RLIMIT_RSS},
	{"RLIMIT_RTPRIO", RLIMIT_RTPRIO},	{"RLIMIT_RTTIME", RLIMIT_RTTIME},
	{"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
};

static const char *const hook_names[OCI_HOOK_KINDS] = {
	[OCI_HOOK_PRESTART] = "prestart",
	[OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
	[OCI_HOOK_CREATE_CONTAINER] = "createContainer",
	[OCI_HOOK_START_CONTAINER] = "startContainer",
	[OCI_HOOK_POSTSTART] = "poststart",
	[OCI_HOOK_POSTSTOP] = "poststop",
};
/* clang-format on */

/* Go-style error text ("no such file or directory"), as runc prints it. */
static const char *err_text(int e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(e));
	if (buf[0])
		buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

static char *read_text(const char *path, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	char *buf = NULL;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > MAX_CONFIG_SIZE) {
		errno = S_ISDIR(sb.st_mode) ? EISDIR : EFBIG;
		goto out;
	}
	buf = core_alloc((size_t)sb.st_size + 1);
	if (!buf) {
		errno = ENOMEM;
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	*len_out = got;
out:
	close(fd);
	return buf;
}

/* Parses path as JSON; reports problems as runc does ("JSON specification file ... not
 * found"). */
static int load_json(const struct oci_ctx *c, const char *path, const char *shown, cJSON **out)
{
	size_t len = 0;
	char *text = read_text(path, &len), eb[128];
	const char *end = NULL;
	cJSON *j;

	if (!text) {
		int e = errno;
		if (e == ENOENT)
			oci_err(c, "JSON specification file %s not found", shown);
		else
			oci_err(c, "open %s: %s", path, err_text(e, eb, sizeof(eb)));
		return -e;
	}
	j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!j || !cJSON_IsObject(j)) {
		size_t at = end && end >= text ? (size_t)(end - text) : 0;
		if (j)
			oci_err(c, "%s: the configuration must be a JSON object", shown);
		else
			oci_err(c, "%s: invalid JSON at byte %zu (near \"%.20s\")", shown, at,
				end ? end : "");
		cJSON_Delete(j);
		core_free(text);
		return -EINVAL;
	}
	core_free(text);
	*out = j;
	return 0;
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A JSON number that is an integer in [lo, hi]; absent: *out untouched, returns 0. */
static int get_int(const struct oci_ctx *c, const cJSON *o, const char *key, double lo, double hi,
		   int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
	    v->valuedouble > hi) {
		oci_err(c, "config.json: %s must be an integer from %.0f to %.0f", key, lo, hi);
		return -EINVAL;
	}
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* Collects the strings of array key (absent: none). */
static int get_strs(const struct oci_ctx *c, const cJSON *o, const char *key, char ***out, int *n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *e;
	int i = 0;

	*out = NULL;
	*n = 0;
	if (!a || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a)) {
		oci_err(c, "config.json: %s must be an array of strings", key);
		return -EINVAL;
	}
	*out = core_calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *));
	if (!*out)
		return -ENOMEM;
	cJSON_ArrayForEach(e, a)
	{
		if (!cJSON_IsString(e)) {
			oci_err(c, "config.json: %s must be an array of strings", key);
			return -EINVAL;
		}
		(*out)[i++] = e->valuestring;
	}
	*n = i;
	return 0;
}

/* An rlimit value: 2^64 - 1 (RLIM_INFINITY) arrives as a double, so anything from 2^63 up
 * is infinity. */
static int get_limit(const struct oci_ctx *c, const cJSON *o, const char *key, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble)) {
		oci_err(c, "config.json: rlimit %s must be a number from 0 to 2^64 - 1", key);
		return -EINVAL;
	}
	*out = v->valuedouble >= 9223372036854775808.0 ? RLIM_INFINITY : (uint64_t)v->valuedouble;
	return 0;
}

static int parse_rlimits(const struct oci_ctx *c, const cJSON *proc, struct oci_process *p)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(proc, "rlimits"), *e;

	if (!a || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a)) {
		oci_err(c, "config.json: process.rlimits must be an array");
		return -EINVAL;
	}
	p->rlimits = core_calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*p->rlimits));
	if (!p->rlimits)
		return -ENOMEM;
	cJSON_ArrayForEach(e, a)
	{
		const char *type = get_str(e, "type");
		uint64_t soft = 0, hard = 0;
		size_t k;

		for (k = 0; type && k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
			if (!strcmp(type, rlimit_names[k].name))
				break;
		if (!type || k == sizeof(rlimit_names) / sizeof(rlimit_names[0])) {
			oci_err(c, "rlimit type \"%s\" is invalid", type ? type : "");
			return -EINVAL;
		}
		if (get_limit(c, e, "soft", &soft) || get_limit(c, e, "hard", &hard))
			return -EINVAL;
		p->rlimits[p->nrlimits].resource = rlimit_names[k].resource;
		p->rlimits[p->nrlimits].soft = soft;
		p->rlimits[p->nrlimits].hard = hard;
		p->nrlimits++;
	}
	return 0;
}

static int parse_user(const struct oci_ctx *c, const cJSON *proc, struct oci_process *p)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(proc, "user"), *a, *e;
	int64_t v;

	if (!u)
		return 0;
	v = 0;
	if (get_int(c, u, "uid", 0, 4294967295.0, &v))
		return -EINVAL;
	p->uid = (uint32_t)v;
	v = 0;
	if (get_int(c, u, "gid", 0, 4294967295.0, &v))
		return -EINVAL;
	p->gid = (uint32_t)v;
	if (get_int(c, u, "umask", 0, 0777, &p->umask))
		return -EINVAL;
	a = cJSON_GetObjectItemCaseSensitive(u, "additionalGids");
	if (!cJSON_IsArray(a))
		return 0;
	p->gids = core_calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(uint32_t));
	if (!p->gids)
		return -ENOMEM;
	cJSON_ArrayForEach(e, a)
	{
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 4294967295.0) {
			oci_err(c, "config.json: process.user.additionalGids must be gids");
			return -EINVAL;
		}
		p->gids[p->ngids++] = (uint32_t)e->valuedouble;
	}
	return 0;
}

/* runc's validateProcessSpec, plus the fields Lodge uses. */
static int parse_process(const struct oci_ctx *c, const cJSON *proc, struct oci_process *p)
{
	const cJSON *cs;
	int64_t v;
	int r;

	memset(p, 0, sizeof(*p));
	p->umask = -1;
	if (!cJSON_IsObject(proc)) {
		oci_err(c, "process property must not be empty");
		return -EINVAL;
	}
	p->terminal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(proc, "terminal"));
	p->no_new_privs = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(proc, "noNewPrivileges"));
	p->cwd = get_str(proc, "cwd");
	if (!p->cwd || !*p->cwd) {
		oci_err(c, "Cwd property must not be empty");
		return -EINVAL;
	}
	if (p->cwd[0] != '/') {
		oci_err(c, "Cwd must be an absolute path");
		return -EINVAL;
	}
	r = get_strs(c, proc, "args", &p->args, &p->nargs);
	if (!r && p->nargs == 0) {
		oci_err(c, "args must not be empty");
		r = -EINVAL;
	}
	if (!r)
		r = get_strs(c, proc, "env", &p->env, &p->nenv);
	if (!r)
		r = parse_user(c, proc, p);
	if (!r)
		r = parse_rlimits(c, proc, p);
	cs = cJSON_GetObjectItemCaseSensitive(proc, "consoleSize");
	if (!r && cs) {
		v = 0;
		r = get_int(c, cs, "height", 0, 65535, &v);
		p->rows = (unsigned)v;
		v = 0;
		if (!r)
			r = get_int(c, cs, "width", 0, 65535, &v);
		p->cols = (unsigned)v;
	}
	return r;
}

static bool has_option(const cJSON *opts, const char *name)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, opts)
	{
		if (cJSON_IsString(e) && !strcmp(e->valuestring, name))
			return true;
	}
	return false;
}

static int parse_mounts(const struct oci_ctx *c, const cJSON *root, struct oci_spec *s)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "mounts"), *m;

	if (!a || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a)) {
		oci_err(c, "config.json: mounts must be an array");
		return -EINVAL;
	}
	s->mounts = core_calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*s->mounts));
	if (!s->mounts)
		return -ENOMEM;
	cJSON_ArrayForEach(m, a)
	{
		struct oci_mount *mt = &s->mounts[s->nmounts];
		const cJSON *opts = cJSON_GetObjectItemCaseSensitive(m, "options"), *e;
		size_t len = 1;

		mt->dest = get_str(m, "destination");
		mt->type = get_str(m, "type");
		mt->source = get_str(m, "source");
		if (!mt->dest || mt->dest[0] != '/') {
			oci_err(c, "mount destination %s is not absolute",
				mt->dest ? mt->dest : "(none)");
			return -EINVAL;
		}
		if (has_option(opts, "bind") || has_option(opts, "rbind"))
			mt->type = "bind";
		if (!mt->type || !*mt->type) {
			oci_err(c, "mount %s: no type (and not a bind mount)", mt->dest);
			return -EINVAL;
		}
		if (!strcmp(mt->type, "bind") && (!mt->source || mt->source[0] != '/')) {
			oci_err(c, "mount %s: a bind mount needs an absolute source", mt->dest);
			return -EINVAL;
		}
		mt->ro = has_option(opts, "ro");
		cJSON_ArrayForEach(e, opts)
		{
			if (cJSON_IsString(e))
				len += strlen(e->valuestring) + 1;
		}
		mt->options = core_calloc(1, len);
		if (!mt->options)
			return -ENOMEM;
		cJSON_ArrayForEach(e, opts)
		{
			if (!cJSON_IsString(e))
				continue;
			if (mt->options[0])
				strcat(mt->options, ",");
			strcat(mt->options, e->valuestring);
		}
		s->nmounts++;
	}
	return 0;
}

/* The string members of object key as parallel arrays. */
static int parse_map(const struct oci_ctx *c, const cJSON *o, const char *key, const char ***keys,
		     const char ***values, int *n)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key), *e;

	*n = 0;
	if (!m || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsObject(m)) {
		oci_err(c, "config.json: %s must be an object of strings", key);
		return -EINVAL;
	}
	*keys = core_calloc((size_t)cJSON_GetArraySize(m) + 1, sizeof(char *));
	*values = core_calloc((size_t)cJSON_GetArraySize(m) + 1, sizeof(char *));
	if (!*keys || !*values)
		return -ENOMEM;
	cJSON_ArrayForEach(e, m)
	{
		if (!cJSON_IsString(e)) {
			oci_err(c, "config.json: %s.%s must be a string", key, e->string);
			return -EINVAL;
		}
		(*keys)[*n] = e->string;
		(*values)[(*n)++] = e->valuestring;
	}
	return 0;
}

static int parse_resources(const struct oci_ctx *c, const cJSON *lnx, struct oci_resources *r)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(lnx, "resources");
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(res, "memory");
	const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(res, "cpu");
	const cJSON *pids = cJSON_GetObjectItemCaseSensitive(res, "pids");
	int64_t shares = 0, period = 0;

	r->mem_limit = r->cpu_quota = r->pids_limit = -1;
	if (get_int(c, mem, "limit", -1, 9.2e18, &r->mem_limit) ||
	    get_int(c, cpu, "shares", 0, 262144, &shares) ||
	    get_int(c, cpu, "quota", -1, 9.2e18, &r->cpu_quota) ||
	    get_int(c, cpu, "period", 0, 1e6, &period) ||
	    get_int(c, pids, "limit", -1, 9.2e18, &r->pids_limit))
		return -EINVAL;
	if (r->pids_limit == 0) /* runtime-spec: 0 and -1 both mean no limit */
		r->pids_limit = -1;
	r->cpu_shares = (uint64_t)shares;
	r->cpu_period = (uint64_t)period;
	r->cpuset_cpus = get_str(cpu, "cpus");
	if (r->cpuset_cpus && !*r->cpuset_cpus)
		r->cpuset_cpus = NULL;
	return 0;
}

static int parse_hooks(const struct oci_ctx *c, const cJSON *root, struct oci_spec *s)
{
	const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(root, "hooks");

	for (int k = 0; k < OCI_HOOK_KINDS && hooks; k++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(hooks, hook_names[k]), *h;

		if (!cJSON_IsArray(a))
			continue;
		s->hooks[k] =
			core_calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(struct oci_hook));
		if (!s->hooks[k])
			return -ENOMEM;
		cJSON_ArrayForEach(h, a)
		{
			struct oci_hook *hk = &s->hooks[k][s->nhooks[k]];
			int64_t t = 0;

			hk->path = get_str(h, "path");
			if (!hk->path || hk->path[0] != '/') {
				oci_err(c, "config.json: hooks.%s: path must be absolute",
					hook_names[k]);
				return -EINVAL;
			}
			if (get_strs(c, h, "args", &hk->args, &hk->nargs) ||
			    get_strs(c, h, "env", &hk->env, &hk->nenv) ||
			    get_int(c, h, "timeout", 1, 86400, &t))
				return -EINVAL;
			hk->timeout = (int)t;
			s->nhooks[k]++;
		}
	}
	return 0;
}

/* ociVersion: Lodge implements 1.x; the runtime-spec wants an error for what it cannot
 * handle. */
static int check_version(const struct oci_ctx *c, const char *v)
{
	if (!v || !*v) {
		oci_err(c, "config.json: ociVersion is missing (this is not an OCI bundle?)");
		return -EINVAL;
	}
	if (strncmp(v, "1.", 2) || !isdigit((unsigned char)v[2])) {
		oci_err(c, "unsupported spec version \"%s\": lodge-oci implements runtime-spec 1.x",
			v);
		return -EINVAL;
	}
	return 0;
}

static int check_rootfs(const struct oci_ctx *c, const cJSON *root, struct oci_spec *s, bool check)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "root");
	const char *path = get_str(r, "path");
	struct stat sb;
	char eb[128];

	if (!path || !*path) {
		oci_err(c, "root.path is empty");
		return -EINVAL;
	}
	s->root_ro = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "readonly"));
	if ((size_t)snprintf(s->rootfs, sizeof(s->rootfs), "%s%s%s",
			     path[0] == '/' ? "" : s->bundle, path[0] == '/' ? "" : "/",
			     path) >= sizeof(s->rootfs))
		return -ENAMETOOLONG;
	if (!check)
		return 0;
	if (stat(s->rootfs, &sb)) {
		int e = errno;
		oci_err(c, "invalid rootfs: stat %s: %s", s->rootfs, err_text(e, eb, sizeof(eb)));
		return -e;
	}
	if (!S_ISDIR(sb.st_mode)) {
		oci_err(c, "invalid rootfs: %s is not a directory", s->rootfs);
		return -ENOTDIR;
	}
	return 0;
}

/* At create, as runc: a bind mount's source must exist (runc fails to mount it). */
static int check_mount_sources(const struct oci_ctx *c, const struct oci_spec *s)
{
	struct stat sb;
	char eb[128];

	for (int i = 0; i < s->nmounts; i++) {
		const struct oci_mount *m = &s->mounts[i];
		int e;

		if (strcmp(m->type, "bind") || !stat(m->source, &sb))
			continue;
		e = errno;
		oci_err(c, "error mounting \"%s\" to rootfs at \"%s\": stat %s: %s", m->source,
			m->dest, m->source, err_text(e, eb, sizeof(eb)));
		return -e;
	}
	return 0;
}

int oci_spec_load(const struct oci_ctx *c, const char *bundle, struct oci_spec *s)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];

	if (!realpath(bundle && *bundle ? bundle : ".", dir)) {
		char eb[128];
		int r = -errno;
		oci_err(c, "bundle %s: %s", bundle ? bundle : ".", err_text(-r, eb, sizeof(eb)));
		return r;
	}
	snprintf(path, sizeof(path), "%s/config.json", dir);
	return oci_spec_read(c, path, dir, true, s);
}

int oci_spec_read(const struct oci_ctx *c, const char *path, const char *bundle, bool check,
		  struct oci_spec *s)
{
	const cJSON *lnx;
	int r;

	memset(s, 0, sizeof(*s));
	snprintf(s->bundle, sizeof(s->bundle), "%s", bundle);
	r = load_json(c, path, "config.json", &s->json);
	if (r)
		return r;
	s->version = get_str(s->json, "ociVersion");
	r = check_version(c, s->version);
	if (!r)
		r = check_rootfs(c, s->json, s, check);
	if (!r)
		r = parse_process(c, cJSON_GetObjectItemCaseSensitive(s->json, "process"),
				  &s->proc);
	if (!r)
		r = parse_mounts(c, s->json, s);
	if (!r && check)
		r = check_mount_sources(c, s);
	if (!r)
		r = parse_map(c, s->json, "annotations", &s->ann_keys, &s->ann_values,
			      &s->nannotations);
	lnx = cJSON_GetObjectItemCaseSensitive(s->json, "linux");
	if (!r)
		r = parse_map(c, lnx, "sysctl", &s->sysctl_keys, &s->sysctl_values, &s->nsysctl);
	if (!r)
		r = parse_resources(c, lnx, &s->res);
	if (!r)
		r = parse_hooks(c, s->json, s);
	s->hostname = get_str(s->json, "hostname");
	s->cgroups_path = get_str(lnx, "cgroupsPath");
	if (r == -ENOMEM)
		oci_err(c, "config.json: out of memory");
	if (r)
		oci_spec_fini(s);
	return r;
}

int oci_process_load(const struct oci_ctx *c, const char *path, struct oci_process *p,
		     cJSON **json_out)
{
	cJSON *j;
	int r = load_json(c, path, path, &j);

	if (r)
		return r;
	r = parse_process(c, j, p);
	if (r) {
		oci_process_fini(p);
		cJSON_Delete(j);
		return r;
	}
	*json_out = j;
	return 0;
}

void oci_process_fini(struct oci_process *p)
{
	core_free(p->args);
	core_free(p->env);
	core_free(p->gids);
	core_free(p->rlimits);
	memset(p, 0, sizeof(*p));
}

void oci_spec_fini(struct oci_spec *s)
{
	oci_process_fini(&s->proc);
	for (int i = 0; i < s->nmounts; i++)
		core_free(s->mounts[i].options);
	core_free(s->mounts);
	core_free(s->ann_keys);
	core_free(s->ann_values);
	core_free(s->sysctl_keys);
	core_free(s->sysctl_values);
	for (int k = 0; k < OCI_HOOK_KINDS; k++) {
		for (int i = 0; i < s->nhooks[k]; i++) {
			core_free(s->hooks[k][i].args);
			core_free(s->hooks[k][i].env);
		}
		core_free(s->hooks[k]);
	}
	cJSON_Delete(s->json);
	memset(s, 0, sizeof(*s));
}

const char *oci_spec_annotation(const struct oci_spec *s, const char *key)
{
	for (int i = 0; i < s->nannotations; i++)
		if (!strcmp(s->ann_keys[i], key))
			return s->ann_values[i];
	return NULL;
}

const char *oci_process_getenv(const struct oci_process *p, const char *name)
{
	size_t n = strlen(name);

	for (int i = p->nenv - 1; i >= 0; i--)
		if (!strncmp(p->env[i], name, n) && p->env[i][n] == '=')
			return p->env[i] + n + 1;
	return NULL;
}
