/*
 * Container state under --root: one directory per container (<root>/<id>) holding
 * state.json (what `state` reports, plus Lodge's own fields), a copy of config.json, the
 * exec.fifo that `start` writes (present exactly while the container is "created"), and
 * for VMs the initramfs, the vsock sockets and the console log. The status is not stored:
 * it follows from the container process (alive, and the same process: its start time is
 * kept against pid reuse) and the fifo, as runc derives it. Commands lock the directory
 * with flock while they read and change it.
 */
#include "host/oci_internal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

bool oci_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 200 || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.' || *p == '+'))
			return false;
	return true;
}

const char *oci_status_name(enum oci_status s)
{
	static const char *const names[] = {"creating", "created", "running", "stopped"};
	return names[s];
}

int oci_pid_start_time(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	char state;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu",
			 &state, &start) != 2)
		return -EIO;
	if (state == 'Z' || state == 'X')
		return -ESRCH; /* exited, not yet reaped */
	*out = start;
	return 0;
}

bool oci_pid_alive(pid_t pid, uint64_t start_time)
{
	uint64_t now;

	return pid > 0 && !oci_pid_start_time(pid, &now) && now == start_time;
}

int oci_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX + 8];
	int fd, r = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) && !r)
		r = -errno;
	if (!r && rename(tmp, path))
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) && errno != ENOENT ? -1 : 0;
	return unlink(path) && errno != ENOENT ? -1 : 0;
}

int oci_remove_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		return -errno;
	return 0;
}

/* mkdir -p: engines pass roots whose parents may not exist yet (runc creates them). */
static int mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];

	if (strlen(path) >= sizeof(p))
		return -ENAMETOOLONG;
	strcpy(p, path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int lock_dir(struct oci_state *st)
{
	st->lock_fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->lock_fd < 0)
		return -errno;
	while (flock(st->lock_fd, LOCK_EX)) {
		if (errno != EINTR) {
			int r = -errno;
			close(st->lock_fd);
			st->lock_fd = -1;
			return r;
		}
	}
	return 0;
}

void oci_state_unlock(struct oci_state *st)
{
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
}

static int state_dir(const struct oci_ctx *c, const char *id, struct oci_state *st)
{
	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	if (!oci_id_valid(id)) {
		oci_err(c, "invalid container id format: %s", id);
		return -EINVAL;
	}
	snprintf(st->id, sizeof(st->id), "%s", id);
	if ((size_t)snprintf(st->dir, sizeof(st->dir), "%s/%s", c->root, id) >= sizeof(st->dir)) {
		oci_err(c, "state directory %s/%s: name too long", c->root, id);
		return -ENAMETOOLONG;
	}
	return 0;
}

int oci_state_new(const struct oci_ctx *c, const char *id, struct oci_state *st)
{
	struct timespec ts;
	struct tm tm;
	char date[40];
	int r = state_dir(c, id, st);

	if (r)
		return r;
	r = mkdir_p(c->root, 0711);
	if (r) {
		oci_err(c, "cannot create the state directory %s: %s", c->root, strerror(-r));
		return r;
	}
	if (mkdir(st->dir, 0711)) {
		r = -errno;
		if (r == -EEXIST)
			oci_err(c, "container with id exists: %s", id);
		else
			oci_err(c, "cannot create %s: %s", st->dir, strerror(-r));
		return r;
	}
	r = lock_dir(st);
	if (r) {
		oci_err(c, "cannot lock %s: %s", st->dir, strerror(-r));
		rmdir(st->dir);
		return r;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(st->created, sizeof(st->created), "%s.%09ldZ", date, ts.tv_nsec);
	st->status = OCI_CREATING;
	return 0;
}

static void copy_str(char *dst, size_t len, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	snprintf(dst, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static double get_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void compute_status(struct oci_state *st)
{
	char fifo[PATH_MAX + 16];

	if (st->pid <= 0) {
		st->status = OCI_CREATING;
		return;
	}
	if (!oci_pid_alive(st->pid, st->pid_start)) {
		st->status = OCI_STOPPED;
		return;
	}
	snprintf(fifo, sizeof(fifo), "%s/exec.fifo", st->dir);
	st->status = access(fifo, F_OK) ? OCI_RUNNING : OCI_CREATED;
}

/* Reads state.json into st (the directory is locked or being listed). */
static int read_state(struct oci_state *st)
{
	char path[PATH_MAX + 16], buf[65536];
	const cJSON *l, *mode;
	cJSON *j;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/state.json", st->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	j = cJSON_Parse(buf);
	if (!j)
		return -EIO;
	copy_str(st->bundle, sizeof(st->bundle), j, "bundle");
	copy_str(st->rootfs, sizeof(st->rootfs), j, "rootfs");
	copy_str(st->created, sizeof(st->created), j, "created");
	st->pid = (pid_t)get_num(j, "pid");
	l = cJSON_GetObjectItemCaseSensitive(j, "lodge");
	copy_str(st->cgroup, sizeof(st->cgroup), l, "cgroup");
	st->pid_start = (uint64_t)get_num(l, "pidStart");
	mode = cJSON_GetObjectItemCaseSensitive(l, "mode");
	st->mode = !cJSON_IsString(mode)		   ? OCI_MODE_VM
		   : !strcmp(mode->valuestring, "wasm")	   ? OCI_MODE_WASM
		   : !strcmp(mode->valuestring, "sandbox") ? OCI_MODE_PAUSE
							   : OCI_MODE_VM;
	cJSON_Delete(j);
	compute_status(st);
	return 0;
}

int oci_state_load(const struct oci_ctx *c, const char *id, struct oci_state *st)
{
	int r = state_dir(c, id, st);

	if (r)
		return r;
	r = lock_dir(st);
	if (r == 0)
		r = read_state(st);
	if (r) {
		oci_state_unlock(st);
		if (r == -ENOENT)
			oci_err(c, "container does not exist");
		else
			oci_err(c, "container %s: cannot read its state: %s", id, strerror(-r));
	}
	return r;
}

/* The annotations saved with the configuration (config.json in the state directory). */
static cJSON *saved_annotations(const struct oci_state *st)
{
	char path[PATH_MAX + 16];
	cJSON *cfg, *ann = NULL;
	char *text;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/config.json", st->dir);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) ||
	    !(text = core_alloc((size_t)n + 1))) {
		fclose(f);
		return NULL;
	}
	text[fread(text, 1, (size_t)n, f)] = 0;
	fclose(f);
	cfg = cJSON_Parse(text);
	core_free(text);
	ann = cJSON_DetachItemFromObjectCaseSensitive(cfg, "annotations");
	cJSON_Delete(cfg);
	if (ann && (!cJSON_IsObject(ann) || !ann->child)) {
		cJSON_Delete(ann);
		ann = NULL;
	}
	return ann;
}

/* runc's state (libcontainer's containerState): the runtime-spec state plus rootfs,
 * created and owner; pid 0 once stopped. */
static cJSON *state_object(const struct oci_state *st, bool private)
{
	cJSON *o = cJSON_CreateObject(), *l, *ann;
	bool stopped = st->status == OCI_STOPPED;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "ociVersion", OCI_VERSION);
	cJSON_AddStringToObject(o, "id", st->id);
	cJSON_AddNumberToObject(o, "pid", stopped && !private ? 0 : st->pid);
	if (!private)
		cJSON_AddStringToObject(o, "status", oci_status_name(st->status));
	cJSON_AddStringToObject(o, "bundle", st->bundle);
	cJSON_AddStringToObject(o, "rootfs", st->rootfs);
	cJSON_AddStringToObject(o, "created", st->created);
	cJSON_AddStringToObject(o, "owner", "");
	ann = private ? NULL : saved_annotations(st);
	if (ann)
		cJSON_AddItemToObject(o, "annotations", ann);
	if (private) {
		l = cJSON_AddObjectToObject(o, "lodge");
		if (l) {
			cJSON_AddStringToObject(l, "mode",
						st->mode == OCI_MODE_WASM    ? "wasm"
						: st->mode == OCI_MODE_PAUSE ? "sandbox"
									     : "vm");
			cJSON_AddNumberToObject(l, "pidStart", (double)st->pid_start);
			cJSON_AddStringToObject(l, "cgroup", st->cgroup);
		}
	}
	return o;
}

int oci_state_save(const struct oci_ctx *c, const struct oci_state *st)
{
	char path[PATH_MAX + 16], *s;
	cJSON *o = state_object(st, true);
	int r = -ENOMEM;

	s = o ? cJSON_Print(o) : NULL;
	cJSON_Delete(o);
	snprintf(path, sizeof(path), "%s/state.json", st->dir);
	if (s)
		r = oci_write_file(path, s, strlen(s), 0600);
	cJSON_free(s);
	if (r)
		oci_err(c, "cannot write %s: %s", path, strerror(-r));
	return r;
}

/* Go's json.MarshalIndent(x, "", "  ") layout: cJSON indents with tabs. */
static void print_indented(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\t')
			fputs("  ", f);
		else if (*s == ':' && s[1] == '\t')
			fputc(':', f), fputc(' ', f), s++;
		else
			fputc(*s, f);
	}
}

char *oci_state_json(const struct oci_state *st, bool pretty)
{
	cJSON *o = state_object(st, false);
	char *s = NULL;

	if (o)
		s = pretty ? cJSON_Print(o) : cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int oci_state_print(const struct oci_state *st)
{
	char *s = oci_state_json(st, true);

	if (!s)
		return -ENOMEM;
	print_indented(stdout, s);
	fflush(stdout);
	cJSON_free(s);
	return 0;
}

/* Every container's state (unlocked reads; a container being deleted is skipped). */
int oci_list(const struct oci_ctx *c, bool json, bool quiet)
{
	DIR *d = opendir(c->root);
	struct dirent *e;
	struct oci_state *all = NULL;
	size_t n = 0, cap = 0, w[3] = {2, 3, 6};
	cJSON *arr;
	char *s;

	if (!d && errno != ENOENT) {
		oci_err(c, "cannot read %s: %s", c->root, strerror(errno));
		return -errno;
	}
	while (d && (e = readdir(d))) {
		struct oci_state st;
		if (e->d_name[0] == '.' || !oci_id_valid(e->d_name))
			continue;
		memset(&st, 0, sizeof(st));
		snprintf(st.id, sizeof(st.id), "%s", e->d_name);
		snprintf(st.dir, sizeof(st.dir), "%s/%s", c->root, e->d_name);
		if (read_state(&st))
			continue;
		if (n == cap) {
			struct oci_state *m = core_realloc(all, (cap = cap * 2 + 8) * sizeof(*all));
			if (!m)
				break;
			all = m;
		}
		all[n++] = st;
		if (strlen(st.id) > w[0])
			w[0] = strlen(st.id);
		if (strlen(st.bundle) > w[2])
			w[2] = strlen(st.bundle);
	}
	if (d)
		closedir(d);
	if (json) {
		arr = cJSON_CreateArray();
		for (size_t i = 0; arr && i < n; i++) {
			cJSON *o = state_object(&all[i], false);
			if (o)
				cJSON_ReplaceItemInObjectCaseSensitive(o, "owner",
								       cJSON_CreateString("root"));
			cJSON_AddItemToArray(arr, o);
		}
		s = arr ? cJSON_PrintUnformatted(arr) : NULL;
		printf("%s\n", s ? s : "[]");
		cJSON_free(s);
		cJSON_Delete(arr);
	} else if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", all[i].id);
	} else {
		printf("%-*s   %-10s  %-7s   %-*s   %-30s   %s\n", (int)w[0], "ID", "PID", "STATUS",
		       (int)w[2], "BUNDLE", "CREATED", "OWNER");
		for (size_t i = 0; i < n; i++)
			printf("%-*s   %-10d  %-7s   %-*s   %-30s   root\n", (int)w[0], all[i].id,
			       all[i].status == OCI_STOPPED ? 0 : all[i].pid,
			       oci_status_name(all[i].status), (int)w[2], all[i].bundle,
			       all[i].created);
	}
	core_free(all);
	return 0;
}
