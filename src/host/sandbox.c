/*
 * Guest isolation (see sandbox.h): the daemon's plan and spawn, the guest's entry into
 * its sandbox, and the seccomp allow lists.
 */
#include "host/procstat.h"
#include "host/sandbox.h"

#include "core/pagemap.h"
#include "disk/disk.h"

#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <seccomp.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "api/json.h"
#include "core/log.h"
#include "host/cgroup.h"
#include "host/daemon.h"
#include "devices/virtio/blk.h"

#define NOFILE_LIMIT 4096

static const char *const firmware_defaults[] = {
	SANDBOX_FIRMWARE_DEBIAN,
};

/* ---- the shared network namespace (daemon) ---- */

int sandbox_netns_open(struct sandbox_netns *n)
{
	int r = 0;

	n->empty = -1;
	n->host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (n->host < 0)
		return -errno;
	/* Into a new one and back: the descriptor keeps it. */
	if (unshare(CLONE_NEWNET) < 0) {
		r = -errno;
	} else {
		n->empty = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (n->empty < 0)
			r = -errno;
		if (setns(n->host, CLONE_NEWNET) < 0) /* not for root with its own namespace */
			r = -errno;
	}
	if (r)
		sandbox_netns_close(n);
	return r;
}

void sandbox_netns_close(struct sandbox_netns *n)
{
	if (n->empty >= 0)
		close(n->empty);
	if (n->host >= 0)
		close(n->host);
	n->empty = n->host = -1;
}

/* ---- host ids (daemon) ---- */

/* The range "lodge:START:COUNT" in a subordinate id file: 1 found, 0 not, -EINVAL. */
static int read_range(const char *path, unsigned long *start, unsigned long *count)
{
	char line[256];
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return 0;
	while (!r && fgets(line, sizeof(line), f)) {
		char *e;
		if (strncmp(line, "lodge:", 6))
			continue;
		errno = 0;
		*start = strtoul(line + 6, &e, 10);
		if (*e != ':' || errno)
			r = -EINVAL;
		else
			*count = strtoul(e + 1, &e, 10);
		r = r ?: (*e && *e != '\n') || errno ? -EINVAL : 1;
	}
	fclose(f);
	return r;
}

int sandbox_ids_init(struct sandbox_ids *ids, const char *subuid, const char *subgid)
{
	unsigned long us = SANDBOX_ID_BASE, uc = SANDBOX_ID_COUNT, gs = us, gc = uc;
	int r = read_range(subuid ? subuid : "/etc/subuid", &us, &uc);

	if (r >= 0)
		r = read_range(subgid ? subgid : "/etc/subgid", &gs, &gc);
	if (r < 0 || !us || !gs || !uc || !gc || us + uc > 0xffffffffUL || gs + gc > 0xffffffffUL)
		return -EINVAL;
	ids->uid = (uid_t)us;
	ids->gid = (gid_t)gs;
	ids->count = (unsigned)(uc < gc ? uc : gc);
	ids->dirfd = ids->lockfd = -1;
	return 0;
}

int sandbox_ids_open(struct sandbox_ids *ids, const char *dir)
{
	char parent[PATH_MAX], *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		if (mkdir(parent, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	ids->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (ids->dirfd < 0)
		return -errno;
	ids->lockfd = openat(ids->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (ids->lockfd < 0) {
		int r = -errno;
		sandbox_ids_close(ids);
		return r;
	}
	return 0;
}

void sandbox_ids_close(struct sandbox_ids *ids)
{
	if (ids->lockfd >= 0)
		close(ids->lockfd);
	if (ids->dirfd >= 0)
		close(ids->dirfd);
	ids->dirfd = ids->lockfd = -1;
}

/* A process's start time (clock ticks after boot), 0 when it is gone or a zombie. */
static unsigned long long start_time(pid_t pid)
{
	char buf[1024];
	const char *p = procstat_read(pid, buf, sizeof(buf));
	unsigned long long v = 0;

	if (!p || p[0] == 'Z' ||
	    sscanf(p,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
		   "%llu",
		   &v) != 1)
		return 0;
	return v;
}

/* The pid claim file fd names, or 0; with `live`, only if that process still runs (the
 * same one: its start time). */
static pid_t claim_holder(int fd, bool live)
{
	char buf[64];
	unsigned long long st;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	int pid;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%d %llu", &pid, &st) != 2 || pid <= 0 || (live && start_time(pid) != st))
		return 0;
	return pid;
}

static int claim_write(int fd, pid_t pid)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%d %llu\n", (int)pid, start_time(pid));

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -errno ?: -EIO;
	return 0;
}

static int claim_open(const struct sandbox_ids *ids, int slot, bool create)
{
	char name[16];

	snprintf(name, sizeof(name), "%u", (unsigned)(ids->uid + (unsigned)slot));
	return openat(ids->dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0),
		      0600);
}

/* Takes the slot for pid if nobody alive but `prev` holds it; under the lock. */
static int claim_locked(const struct sandbox_ids *ids, int slot, pid_t pid, pid_t prev)
{
	int fd = claim_open(ids, slot, true), r;
	pid_t holder;

	if (fd < 0)
		return -errno;
	holder = claim_holder(fd, true);
	r = holder && holder != pid && holder != prev ? -EBUSY : claim_write(fd, pid);
	close(fd);
	return r;
}

int sandbox_slot_own(const struct sandbox_ids *ids, int slot, pid_t pid, pid_t prev)
{
	int r;

	if (slot < 0 || ids->lockfd < 0)
		return 0;
	if (flock(ids->lockfd, LOCK_EX) < 0)
		return -errno;
	r = claim_locked(ids, slot, pid, prev);
	flock(ids->lockfd, LOCK_UN);
	return r;
}

void sandbox_slot_release(const struct sandbox_ids *ids, int slot, pid_t pid)
{
	char name[16];
	int fd;

	if (slot < 0 || ids->lockfd < 0 || flock(ids->lockfd, LOCK_EX) < 0)
		return;
	fd = claim_open(ids, slot, false);
	if (fd >= 0 && claim_holder(fd, false) == pid) {
		snprintf(name, sizeof(name), "%u", (unsigned)(ids->uid + (unsigned)slot));
		unlinkat(ids->dirfd, name, 0);
	}
	if (fd >= 0)
		close(fd);
	flock(ids->lockfd, LOCK_UN);
}

/* The lowest slot of the id range no other guest with a process and no pool process
 * holds; -1 if none (or out of memory). One pass over each: with n of them the answer is
 * at most n. */
int sandbox_pick_slot(const struct daemon *d, const struct guest *g)
{
	unsigned n = d->pool_count, slot;
	bool *used;

	for (const struct guest *o = d->guests; o; o = o->next)
		n++;
	used = calloc(n + 1, sizeof(*used));
	if (!used)
		return -1;
	for (const struct guest *o = d->guests; o; o = o->next)
		if (o != g && guest_active(o) && o->id_slot >= 0 && (unsigned)o->id_slot <= n)
			used[o->id_slot] = true;
	for (const struct pool_proc *pp = d->pool; pp; pp = pp->next)
		if (pp->slot >= 0 && (unsigned)pp->slot <= n)
			used[pp->slot] = true;
	/* Another daemon's claim (or a stale one, taken over) decides among the slots this
	 * one leaves free; the lock makes the check and the claim one step. */
	if (d->ids.lockfd >= 0 && flock(d->ids.lockfd, LOCK_EX) < 0) {
		free(used);
		return -1;
	}
	for (slot = 0; slot < d->ids.count; slot++) {
		if (slot <= n && used[slot])
			continue;
		int r = d->ids.lockfd < 0 ? 0 : claim_locked(&d->ids, (int)slot, getpid(), 0);
		if (r && r != -EBUSY) /* this daemon's choice alone, as without the directory */
			log_warn("daemon: cannot claim host id %u in %s: %s",
				 (unsigned)(d->ids.uid + slot), SANDBOX_IDS_DIR, strerror(-r));
		if (r != -EBUSY)
			break;
	}
	if (d->ids.lockfd >= 0)
		flock(d->ids.lockfd, LOCK_UN);
	free(used);
	return slot < d->ids.count ? (int)slot : -1;
}

/* ---- the plan (daemon) ---- */

/* The module's name inside the sandbox: a text module keeps its ".wat", which is what
 * tells `lodge wasm` it is text (cmd_wasm.c, is_text). */
static const char *module_inside(const char *host)
{
	size_t n = strlen(host);

	return n > 4 && !strcmp(host + n - 4, ".wat") ? "/files/module.wat" : "/files/module.wasm";
}

/* A copy of s in the plan's arena, or NULL when it is full. */
static const char *arena_copy(struct sandbox_plan *p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *at = p->arena + p->arena_used;

	if (p->arena_used + n > sizeof(p->arena))
		return NULL;
	memcpy(at, s, n);
	p->arena_used += n;
	return at;
}

static int add_bind(struct sandbox_plan *p, const char *src, const char *dst, bool rw, bool dir)
{
	struct sandbox_bind *b;

	if (p->nbinds == SANDBOX_MAX_BINDS)
		return -E2BIG;
	b = &p->binds[p->nbinds];
	b->src = src;
	b->dst = arena_copy(p, dst);
	if (!b->dst)
		return -E2BIG;
	p->nbinds++;
	b->rw = rw;
	b->dir = dir;
	b->backing = false;
	b->id = NULL;
	return 0;
}

/* Whether a file bound at `path` would meet another bind: the same path, one of its
 * directories, or a bind below it. */
static bool dst_taken(const struct sandbox_plan *p, const char *path)
{
	size_t len = strlen(path);

	for (unsigned i = 0; i < p->nbinds; i++) {
		const char *d = p->binds[i].dst;
		size_t n = strlen(d);
		if (!strncmp(d, path, n) && (path[n] == 0 || path[n] == '/'))
			return true;
		if (n > len && !strncmp(d, path, len) && d[len] == '/')
			return true;
	}
	return false;
}

/* `path` made canonical as the guest's kernel resolves it in the sandbox, whose tmpfs
 * root has no symlinks: "." and empty parts go, ".." drops a part (at "/" it stays "/").
 * False when the result does not fit. */
static bool sandbox_normalise(const char *path, char *out, size_t len)
{
	size_t n = 0;

	if (len < 2)
		return false;
	out[0] = 0;
	for (const char *p = path; *p;) {
		const char *e = strchr(p, '/');
		size_t k = e ? (size_t)(e - p) : strlen(p);
		if (k == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--; /* the slash before it */
			out[n] = 0;
		} else if (k && !(k == 1 && p[0] == '.')) {
			if (n + 1 + k + 1 > len)
				return false;
			out[n++] = '/';
			memcpy(out + n, p, k);
			n += k;
			out[n] = 0;
		}
		p += k + (e ? 1 : 0);
	}
	if (!n) {
		out[0] = '/';
		out[1] = 0;
	}
	return true;
}

/* Whether a backing file name has a ".." after a plain part ("a/../b"): the kernel
 * resolves it through "a", which the guest's sandbox does not have. */
static bool dir_and_back(const char *name)
{
	bool plain = false;

	for (const char *p = name; *p;) {
		const char *e = strchr(p, '/');
		size_t k = e ? (size_t)(e - p) : strlen(p);
		if (k == 2 && p[0] == '.' && p[1] == '.') {
			if (plain)
				return true;
		} else if (k && !(k == 1 && p[0] == '.')) {
			plain = true;
		}
		p += k + (e ? 1 : 0);
	}
	return false;
}

/* "DEV:INO" of the regular file at path (not followed if a symlink), or "" (out: 48
 * bytes): which file a recorded backing file was, so that a start or restore binds no
 * other (one replaced, or a symlink put in its place, after create). */
static const char *file_id(const char *path, char *out)
{
	struct stat st;

	out[0] = 0;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
		snprintf(out, 48, "%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
	return out;
}

/* Whether host is still the file recorded as `id` (file_id) at create. */
static bool same_file_id(const char *host, const char *id)
{
	char now[48];

	return id && id[0] && !strcmp(file_id(host, now), id);
}

/* Appends [in, real, id] to binds (a "backing_binds" entry). Returns 0 or -ENOMEM. */
static int record_triple(cJSON *binds, const char *in, const char *real, const char *id)
{
	cJSON *pair = cJSON_CreateArray();

	if (!pair || !cJSON_AddItemToArray(binds, pair) ||
	    !cJSON_AddItemToArray(pair, cJSON_CreateString(in)) ||
	    !cJSON_AddItemToArray(pair, cJSON_CreateString(real)) ||
	    !cJSON_AddItemToArray(pair, cJSON_CreateString(id)))
		return -ENOMEM;
	return 0;
}

int sandbox_record_chain(const char *host, unsigned i, struct cJSON *binds, char *err,
			 size_t errlen)
{
	struct disk_options o = {.format = DISK_FMT_QCOW2, .readonly = true, .no_locks = true};
	char derr[DISK_ERR_LEN], in[PATH_MAX], above[PATH_MAX], raw[2 * PATH_MAX], idbuf[48];
	struct disk *d;
	int r = 0;

	if (disk_open(host, &o, &d, derr, sizeof(derr)))
		return 0; /* its start says why */
	snprintf(above, sizeof(above), "/files/disk%u", i);
	for (unsigned k = 1; !r; k++) {
		struct disk_image_info up, im;
		const char *slash;
		char *real;
		if (disk_image_info(d, k - 1, &up) || !up.backing_name ||
		    disk_image_info(d, k, &im))
			break;
		if (dir_and_back(up.backing_name)) {
			snprintf(
				err, errlen,
				"disks '%.200s': its backing file name '%.200s' goes into a "
				"directory and back out ('DIR/..'), which the guest's sandbox does "
				"not have: give the chain plain names (qemu-img rebase -u)",
				host, up.backing_name);
			r = -EINVAL;
			break;
		}
		slash = strrchr(above, '/');
		if (up.backing_name[0] == '/')
			snprintf(raw, sizeof(raw), "%s", up.backing_name);
		else
			snprintf(raw, sizeof(raw), "%.*s/%s", slash ? (int)(slash - above) : 0,
				 above, up.backing_name);
		/* the host's file by its real path: no "..", no symlink (a bind at it) */
		real = realpath(im.path, NULL);
		if (!real || !sandbox_normalise(raw, in, sizeof(in)) || strpbrk(real, "\t\n")) {
			snprintf(err, errlen,
				 "disks '%.200s': its backing file %.200s: %s (give the chain "
				 "names without tabs or newlines: qemu-img rebase -u)",
				 host, im.path, real ? "an odd or too long name" : strerror(errno));
			free(real);
			r = -EINVAL;
			break;
		}
		if (!file_id(real, idbuf)[0]) {
			snprintf(err, errlen,
				 "disks '%.200s': its backing file %.200s is not a regular file",
				 host, real);
			free(real);
			r = -EINVAL;
			break;
		}
		r = record_triple(binds, in, real, idbuf);
		free(real);
		snprintf(above, sizeof(above), "%s", in);
	}
	disk_close(d);
	return r;
}

int sandbox_record_file(const char *path, struct cJSON *binds, char *err, size_t errlen)
{
	char in[PATH_MAX], idbuf[48];
	char *real;
	int r = 0;

	if (path[0] != '/' || !sandbox_normalise(path, in, sizeof(in)) || strpbrk(path, "\t\n")) {
		snprintf(
			err, errlen,
			"backing_files '%.200s': must be an absolute path without tabs or newlines",
			path);
		return -EINVAL;
	}
	for (unsigned k = 0; k < 3; k++) { /* the sandbox's own directories */
		static const char *const own[] = {"/run", "/files", "/dirs"};
		size_t n = strlen(own[k]);
		if (!strncmp(in, own[k], n) && (!in[n] || in[n] == '/')) {
			snprintf(
				err, errlen,
				"backing_files '%.200s': under %s, which the guest's sandbox has "
				"of "
				"its own: the file cannot be shared there (move it, and rebase the "
				"copy that names it: qemu-img rebase -u)",
				path, own[k]);
			return -EINVAL;
		}
	}
	real = realpath(path, NULL);
	if (real && (!strncmp(real, "/proc/", 6) || !strncmp(real, "/sys/", 5) ||
		     !strncmp(real, "/dev/", 5))) {
		snprintf(err, errlen,
			 "backing_files '%.200s': a kernel file (%s), not a disk image", path,
			 real);
		free(real);
		return -EINVAL;
	}
	if (!real || strpbrk(real, "\t\n") || !file_id(real, idbuf)[0]) {
		snprintf(err, errlen, "backing_files '%.200s': %s", path,
			 real ? "not a regular file" : strerror(errno));
		free(real);
		return -EINVAL;
	}
	r = record_triple(binds, in, real, idbuf);
	free(real);
	return r;
}

/* Binds the backing files recorded at create (config "backing_binds": [inside, host]
 * pairs, sandbox_record_chain), read only, where the guest's Lodge looks for them, and
 * each also at its host path (a snapshot's copy of a disk names it so: machine/
 * snapshot.c, LODGE_HOST_PATHS) where that meets no other bind. The images' headers
 * are not read again: the guest's process writes its disks, headers too. A recorded
 * path that meets another file's bind, or lies under /run or another directory, is
 * refused (-EEXIST). */
static int add_recorded_binds(struct sandbox_plan *p, const cJSON *c)
{
	const cJSON *pair;
	int r = 0;

	cJSON_ArrayForEach(pair, cJSON_GetObjectItemCaseSensitive(c, "backing_binds"))
	{
		const cJSON *in = cJSON_GetArrayItem(pair, 0), *host = cJSON_GetArrayItem(pair, 1);
		const cJSON *id = cJSON_GetArrayItem(pair, 2);
		int same = 0;
		if (!cJSON_IsString(in) || !cJSON_IsString(host) || !cJSON_IsString(id) ||
		    in->valuestring[0] != '/' || host->valuestring[0] != '/')
			return -EINVAL;
		if (!same_file_id(host->valuestring, id->valuestring)) {
			p->stale = host->valuestring;
			return -ESTALE;
		}
		for (unsigned i = 0; i < p->nbinds && !same; i++)
			if (!strcmp(p->binds[i].dst, in->valuestring))
				same = strcmp(p->binds[i].src, host->valuestring) ? -1 : 1;
		if (same < 0 || (!same && dst_taken(p, in->valuestring)))
			return -EEXIST;
		if (!same) {
			r = add_bind(p, host->valuestring, in->valuestring, false, false);
			if (r)
				return r;
			p->binds[p->nbinds - 1].backing = true;
			p->binds[p->nbinds - 1].id = id->valuestring;
		}
		if (strcmp(in->valuestring, host->valuestring) &&
		    !dst_taken(p, host->valuestring)) {
			r = add_bind(p, host->valuestring, host->valuestring, false, false);
			if (r)
				return r;
			p->binds[p->nbinds - 1].backing = true;
			p->binds[p->nbinds - 1].id = id->valuestring;
		}
	}
	return 0;
}

/* A "disks" entry (a --disk spec, checked at create): its image bound as the i-th disk,
 * read-only for readonly=on (under another name, /files/ro-diskN: a stream or snapshot
 * that names it finds nothing under that name where a restored or incoming guest's own
 * writable images are /files/diskN); the path is the entry itself, or with options a
 * copy in the arena. */
static int add_disk_bind(struct sandbox_plan *p, const char *spec, unsigned i)
{
	struct vblk_spec d;
	char why[256], dst[64];
	const char *src;

	if (vblk_split_spec(spec, &d, why, sizeof(why)))
		return -EINVAL;
	snprintf(dst, sizeof(dst), "/files/%sdisk%u", d.readonly ? "ro-" : "", i);
	src = strcmp(d.path, spec) ? arena_copy(p, d.path) : spec;
	return src ? add_bind(p, src, dst, !d.readonly, false) : -E2BIG;
}

bool sandbox_default_firmware(const char *binary, char *out, size_t len)
{
	char top[PATH_MAX];
	char *s;

	snprintf(top, sizeof(top), "%s", binary);
	for (int i = 0; i < 3 && (s = strrchr(top, '/')); i++)
		*s = 0;
	if (snprintf(out, len, "%s/guest-cache/out/fw_dynamic.bin", top) < (int)len &&
	    access(out, R_OK) == 0)
		return true;
	for (size_t i = 0; i < sizeof(firmware_defaults) / sizeof(firmware_defaults[0]); i++)
		if (access(firmware_defaults[i], R_OK) == 0) {
			snprintf(out, len, "%s", firmware_defaults[i]);
			return true;
		}
	out[0] = 0;
	return false;
}

static bool uses_host_network(const cJSON *cfg)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cfg, "nets")) > 0;
}

/* The daemon's own list file at path (a regular file of its user that nobody else may
 * write; no FIFO waits: O_NONBLOCK) into buf, NUL-terminated. Returns its length, or -1
 * when there is none, it is not the daemon's, or it does not fit (or holds a NUL). */
static ssize_t read_own_list(const char *path, char *buf, size_t len)
{
	struct stat st;
	ssize_t n = -1;
	int fd = len > 1 ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) : -1;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & 022))
		n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0 || (size_t)n >= len - 1 || memchr(buf, 0, (size_t)n))
		return -1;
	buf[n] = 0;
	return n;
}

/* Splits the line at *l ("A<tab>B<tab>C\n") into the three, advancing *l; false at the
 * end or on a malformed line. */
static bool list_line(const char **l, char *a, char *b, char *c, size_t len)
{
	const char *end = strchr(*l, '\n'), *t1 = strchr(*l, '\t'), *t2;

	if (!end || !t1 || t1 > end || !(t2 = memchr(t1 + 1, '\t', (size_t)(end - t1 - 1))) ||
	    (size_t)(t1 - *l) >= len || (size_t)(t2 - t1 - 1) >= len ||
	    (size_t)(end - t2 - 1) >= len)
		return false;
	snprintf(a, len, "%.*s", (int)(t1 - *l), *l);
	snprintf(b, len, "%.*s", (int)(t2 - t1 - 1), t1 + 1);
	snprintf(c, len, "%.*s", (int)(end - t2 - 1), t2 + 1);
	*l = end + 1;
	return true;
}

/* SNAP.backing (sandbox_write_backing_list) in the plan's arena, or NULL: none, or
 * unreadable, or too long (its copies then get no backing file). */
static const char *read_backing_list(struct sandbox_plan *p, const char *snap)
{
	char path[PATH_MAX];
	char *at = p->arena + p->arena_used;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s.backing", snap) >= (int)sizeof(path))
		return NULL;
	n = read_own_list(path, at, sizeof(p->arena) - p->arena_used);
	if (n <= 0)
		return NULL;
	p->arena_used += (size_t)n + 1;
	return at;
}

static int plan_binds(struct sandbox_plan *p, const struct guest *g, const char *firmware)
{
	const cJSON *c = g->config, *e;
	unsigned i = 0;
	char dst[64];
	int r = add_bind(p, p->run_dir, "/run", true, true);

	if (json_str(c, "restore", NULL)) /* a snapshot: read only, the rest comes from it */
		r = r ?: add_bind(p, json_str(c, "restore", ""), "/files/restore", false, false);
	/* a guest coming by live migration gets everything from the stream but the images
	 * for its writable disks, with their chains recorded at create */
	if (json_str(c, "incoming", NULL) && g->kind == GUEST_VM) {
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "disks")) r =
			r ?: add_disk_bind(p, e->valuestring, i++);
		return r ?: add_recorded_binds(p, c);
	}
	if (json_str(c, "restore", NULL) && g->kind == GUEST_VM) {
		/* the copies of its disks the snapshot has, read only (overlays go in /run),
		 * with the backing files the daemon listed when it took the snapshot */
		p->trusted = read_backing_list(p, json_str(c, "restore", ""));
		for (unsigned k = 0; k < SANDBOX_SAVED_DISKS && !r; k++) {
			char saved[PATH_MAX];
			const char *path;
			if (!sandbox_saved_disk(json_str(c, "restore", ""), k, saved,
						sizeof(saved)))
				continue;
			char sid[48];
			const char *id;
			path = arena_copy(p, saved);
			id = arena_copy(p, file_id(saved, sid));
			if (!path || !id)
				return -E2BIG;
			snprintf(dst, sizeof(dst), "/files/disk%u", i++);
			r = add_bind(p, path, dst, false, false);
			if (!r)
				p->binds[p->nbinds - 1].id = id;
			/* and at its host path, where a snapshot of this guest names it (the
			 * copies of its overlays: machine/snapshot.c), which lists it in turn */
			if (!r && !dst_taken(p, path)) {
				r = add_bind(p, path, path, false, false);
				if (!r) {
					p->binds[p->nbinds - 1].backing = true;
					p->binds[p->nbinds - 1].id = id;
				}
			}
		}
		/* the backing files the daemon listed when it took the snapshot ("DST<tab>SRC
		 * <tab>ID" lines: where the copies name them), if each is still that file */
		for (const char *l = p->trusted; !r && l && *l;) {
			char dstp[PATH_MAX], srcp[PATH_MAX], id[PATH_MAX];
			if (!list_line(&l, dstp, srcp, id, sizeof(dstp)))
				break;
			if (dstp[0] == '/' && srcp[0] == '/' && same_file_id(srcp, id) &&
			    !dst_taken(p, dstp)) {
				const char *src = arena_copy(p, srcp), *ida = arena_copy(p, id);
				r = src && ida ? add_bind(p, src, dstp, false, false) : -E2BIG;
				if (!r) {
					p->binds[p->nbinds - 1].backing = true;
					p->binds[p->nbinds - 1].id = ida;
				}
			}
		}
		p->trusted = NULL;
		/* the backing files the user gave for its copies (config "backing_files",
		 * recorded at create): for a snapshot this daemon did not take */
		return r ?: add_recorded_binds(p, c);
	}
	if (g->kind == GUEST_VM) {
		r = r ?: add_bind(p, json_str(c, "kernel", ""), "/files/kernel", false, false);
		if (json_str(c, "initrd", NULL))
			r = r
				    ?: add_bind(p, json_str(c, "initrd", ""), "/files/initrd",
						false, false);
		if (firmware[0])
			r = r ?: add_bind(p, firmware, "/files/firmware", false, false);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "disks")) r =
			r ?: add_disk_bind(p, e->valuestring, i++);
		/* after every disk's: a recorded path that meets one is refused */
		return r ?: add_recorded_binds(p, c);
	}
	if (!json_str(c, "restore", NULL) && !json_str(c, "incoming", NULL))
		r = r
			    ?: add_bind(p, json_str(c, "wasm", ""),
					module_inside(json_str(c, "wasm", "")), false, false);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "dirs"))
	{
		/* "HOST::GUEST": the host part, copied into the plan's arena */
		const char *sep = strstr(e->valuestring, "::");
		size_t n = sep ? (size_t)(sep - e->valuestring) : strlen(e->valuestring);
		char *host = p->arena + p->arena_used;
		if (p->arena_used + n + 1 > sizeof(p->arena))
			return -E2BIG;
		memcpy(host, e->valuestring, n);
		host[n] = 0;
		p->arena_used += n + 1;
		snprintf(dst, sizeof(dst), "/dirs/%u", i++);
		r = r ?: add_bind(p, host, dst, true, true);
	}
	return r;
}

static int write_spec(const struct sandbox_plan *p, char *err, size_t errlen)
{
	cJSON *o = cJSON_CreateObject(), *binds = cJSON_AddArrayToObject(o, "binds");
	char *text;
	FILE *f;
	int r = 0;

	cJSON_AddStringToObject(o, "root", p->root);
	cJSON_AddStringToObject(o, "hostname", p->hostname);
	cJSON_AddNumberToObject(o, "root_fd", SANDBOX_ROOT_FD);
	if (p->seccomp_hex)
		cJSON_AddStringToObject(o, "seccomp", p->seccomp_hex);
	for (unsigned i = 0; i < p->nbinds && binds; i++) {
		/* the mount arrives as a descriptor (sandbox_release), numbered in this order */
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "src", p->binds[i].src);
		cJSON_AddStringToObject(b, "dst", p->binds[i].dst);
		cJSON_AddNumberToObject(b, "fd", SANDBOX_FIRST_FD + i);
		cJSON_AddBoolToObject(b, "dir", p->binds[i].dir);
		cJSON_AddItemToArray(binds, b);
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	f = text ? fopen(p->spec_path, "we") : NULL;
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		r = -errno ?: -ENOMEM;
		snprintf(err, errlen, "cannot write %s: %s", p->spec_path, strerror(-r));
	}
	free(text);
	return r;
}

int sandbox_plan_make(struct daemon *d, struct guest *g, struct sandbox_plan *p, char *err,
		      size_t errlen)
{
	char *firmware = p->firmware;
	int r;

	/* No memset: the plan is large and its arrays are filled as far as they are used. */
	p->spec_path[0] = p->firmware[0] = 0;
	p->nbinds = p->next_inside = 0;
	p->arena_used = 0;
	p->trusted = p->stale = NULL;
	p->enabled = !d->cfg.no_sandbox;
	p->seccomp = p->enabled;
	p->userns = p->enabled && d->userns_ok && !d->cfg.no_userns;
	if (p->userns) {
		g->id_slot = sandbox_pick_slot(d, g);
		if (g->id_slot < 0) {
			snprintf(err, errlen,
				 "all %u host ids for guests are in use (see /etc/subuid)",
				 d->ids.count);
			return -EAGAIN;
		}
		p->host_uid = d->ids.uid + (unsigned)g->id_slot;
		p->host_gid = d->ids.gid + (unsigned)g->id_slot;
	}
	p->netns = p->enabled && !uses_host_network(g->config);
	p->seccomp_hex =
		p->seccomp ? d->seccomp_hex[g->kind == GUEST_VM ? SANDBOX_VM : SANDBOX_WASM] : NULL;
	/* Wasm guests make no sockets at all (seccomp): they share one empty namespace. */
	p->shared_net = g->kind == GUEST_WASM && d->netns.empty >= 0 ? &d->netns : NULL;
	snprintf(p->hostname, sizeof(p->hostname), "%s", g->rec.name);
	guest_path(g, "root", p->root, sizeof(p->root));
	guest_path(g, "run", p->run_dir, sizeof(p->run_dir));
	guest_path(g, "run/api.sock", p->sock_path, sizeof(p->sock_path));
	guest_path(g, "run/console.log", p->log_path, sizeof(p->log_path));
	guest_path(g, "run/exit.json", p->exit_path, sizeof(p->exit_path));
	guest_path(g, "run/ready", p->ready_path, sizeof(p->ready_path));
	if (g->kind == GUEST_VM) {
		const char *fw = json_str(g->config, "firmware", NULL);
		if (fw)
			snprintf(firmware, sizeof(p->firmware), "%s", fw);
		else
			(void)sandbox_default_firmware(d->binary, firmware, sizeof(p->firmware));
	}
	r = plan_binds(p, g, firmware);
	if (r == -EEXIST)
		snprintf(err, errlen,
			 "its disks' backing files would meet at one path in its sandbox (two "
			 "with the same relative name, or one named under /run): give them "
			 "distinct names, or absolute ones (qemu-img rebase -u)");
	else if (r == -ENAMETOOLONG)
		snprintf(err, errlen, "a backing file's path is too long");
	else if (r == -ESTALE)
		snprintf(err, errlen,
			 "its disk's backing file %.300s is no longer the file it was when the "
			 "guest was created (moved, replaced, or a symlink now): create the guest "
			 "again to take the chain as it is",
			 p->stale ? p->stale : "");
	else if (r == -EINVAL)
		snprintf(err, errlen, "its record of its disks' backing files is malformed");
	else if (r)
		snprintf(err, errlen,
			 "too many files to share with the guest (its kernel, disks and their "
			 "backing files, directories: at most %u, their paths %u bytes together)",
			 SANDBOX_MAX_BINDS, SANDBOX_ARENA_MAX);
	if (r)
		return r;
	if (!p->enabled)
		return 0;
	guest_path(g, "sandbox.json", p->spec_path, sizeof(p->spec_path));
	return write_spec(p, err, errlen);
}

/* The plan of g's binds into p (enabled, whatever the daemon's sandboxing: what its
 * files are). Returns plan_binds's result. */
static int plan_for(struct daemon *d, struct guest *g, struct sandbox_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->enabled = true;
	guest_path(g, "run", p->run_dir, sizeof(p->run_dir));
	if (g->kind == GUEST_VM) {
		const char *fw = json_str(g->config, "firmware", NULL);
		if (fw)
			snprintf(p->firmware, sizeof(p->firmware), "%s", fw);
		else
			(void)sandbox_default_firmware(d->binary, p->firmware, sizeof(p->firmware));
	}
	return plan_binds(p, g, p->firmware);
}

/* Whether text[at..] starts the path `path` as a whole (the next byte ends it). */
static bool path_at(const char *text, const char *path, size_t n)
{
	char next;

	if (strncmp(text, path, n))
		return false;
	next = text[n];
	return !(next == '-' || next == '_' || next == '.' || (next >= '0' && next <= '9') ||
		 (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z'));
}

void sandbox_outside_text(struct daemon *d, struct guest *g, char *text, size_t len)
{
	struct sandbox_plan *p;
	char *out;
	size_t o = 0;

	if (d->cfg.no_sandbox || !len || !strstr(text, "/files/"))
		return;
	p = calloc(1, sizeof(*p));
	out = calloc(1, len);
	if (!p || !out)
		goto done;
	if (plan_for(d, g, p))
		goto done;
	for (const char *t = text; *t && o + 1 < len;) {
		const struct sandbox_bind *hit = NULL; /* the longest path there */
		for (unsigned i = 0; i < p->nbinds; i++)
			if (!strncmp(p->binds[i].dst, "/files/", 7) &&
			    path_at(t, p->binds[i].dst, strlen(p->binds[i].dst)) &&
			    (!hit || strlen(p->binds[i].dst) > strlen(hit->dst)))
				hit = &p->binds[i];
		if (!hit) {
			out[o++] = *t++;
			continue;
		}
		o += (size_t)snprintf(out + o, len - o, "%s", hit->src);
		if (o >= len)
			o = len - 1;
		t += strlen(hit->dst);
	}
	out[o] = 0;
	memcpy(text, out, o + 1);
done:
	free(out);
	free(p);
}

/* Whether b is a backing file a copy of the guest's disks may name: bound at a path
 * outside /files/ (its host path, or an absolute name as its overlay has it). */
static bool listable(const struct sandbox_bind *b)
{
	return b->backing && strncmp(b->dst, "/files/", 7);
}

void sandbox_record_bound(const struct sandbox_plan *p, struct guest *g)
{
	char path[700], tmp[720];
	FILE *f = NULL;
	unsigned n = 0;
	int fd;

	guest_path(g, "backing.list", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = p->enabled ? open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)
			: -1;
	if (fd >= 0 && !(f = fdopen(fd, "w")))
		close(fd);
	for (unsigned i = 0; f && i < p->nbinds; i++) {
		const struct sandbox_bind *b = &p->binds[i];
		if (!listable(b) || !b->id || strpbrk(b->src, "\t\n") || strpbrk(b->dst, "\t\n"))
			continue;
		fprintf(f, "%s\t%s\t%s\n", b->dst, b->src, b->id);
		n++;
	}
	if (f && (fflush(f) || fclose(f)))
		n = 0;
	else if (f && n && rename(tmp, path) == 0)
		return;
	unlink(tmp);
	if (p->enabled)
		unlink(path); /* none: an earlier start's goes */
}

/* g's backing.list (sandbox_record_bound), in buf; false when there is none. */
static bool read_bound(struct guest *g, char *buf, size_t len)
{
	char path[700];

	guest_path(g, "backing.list", path, sizeof(path));
	return read_own_list(path, buf, len) >= 0;
}

/* Whether a snapshot of g could be restored, with the plan p made for it now: -ENOTSUP
 * with the reason in err when not (see sandbox_snapshot_clash). */
static int restorable(const struct sandbox_plan *p, struct guest *g, char *err, size_t errlen)
{
	static char buf[SANDBOX_ARENA_MAX * 2];
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	bool restored = json_str(g->config, "restore", NULL) != NULL;

	for (unsigned i = 0; i < p->nbinds; i++) {
		const struct sandbox_bind *x = &p->binds[i];
		bool named = false;
		/* a file a copy names by its host path: its backing files, and a restored
		 * guest's snapshot copies its overlays lie over */
		if (!x->backing && !(restored && !strncmp(x->dst, "/files/disk", 11)))
			continue;
		for (unsigned k = 0; k < p->nbinds && !named; k++)
			named = !strcmp(p->binds[k].dst, x->src);
		if (named && !strpbrk(x->src, "\t\n"))
			continue;
		snprintf(err, errlen,
			 "guest %s: a snapshot's copies of its disks would name %.300s, which %s: "
			 "a guest restored from it could not find it (move the file, then create "
			 "or restore the guest again)",
			 g->rec.name, x->src,
			 strpbrk(x->src, "\t\n")
				 ? "has a tab or a newline in its path"
				 : "lies under a directory its sandbox has of its own "
				   "(/run, /files, /dirs)");
		return -ENOTSUP;
	}
	if (!read_bound(g, buf, sizeof(buf)))
		return 0; /* started before the list: its configuration is what it has */
	for (const char *l = buf; *l;) {
		if (!list_line(&l, a, b, c, sizeof(a)))
			break;
		if (same_file_id(b, c))
			continue;
		snprintf(err, errlen,
			 "guest %s: its disks' backing file %.300s is no longer the file it was "
			 "given at its start (moved, replaced or removed since): a snapshot's "
			 "copies could not name it; put it back, or stop and start the guest",
			 g->rec.name, b);
		return -ENOTSUP;
	}
	return 0;
}

/* What the snapshot to snap writes, renames over or removes, as names[] (n of them):
 * FILE, FILE.backing, FILE.diskK.saved.FORMAT, each also with .tmp; *ids the DEV:INO of
 * each that exists (a regular file), "" for the others. */
#define CLASH_NAMES (2 * (2 + 2 * SANDBOX_SAVED_DISKS))
struct clash_names {
	char name[CLASH_NAMES][PATH_MAX + 48];
	struct stat st[CLASH_NAMES];
	bool there[CLASH_NAMES];
	unsigned n, nthere;
};

static void clash_names(const char *snap, struct clash_names *c)
{
	static const char *const fmts[] = {"raw", "qcow2"};

	c->n = c->nthere = 0;
	for (unsigned k = 0; k < 2 + 2 * SANDBOX_SAVED_DISKS; k++)
		for (unsigned t = 0; t < 2; t++) {
			char *name = c->name[c->n];
			size_t len = sizeof(c->name[0]);
			const char *tmp = t ? ".tmp" : "";
			int m = k == 0	 ? snprintf(name, len, "%s%s", snap, tmp)
				: k == 1 ? snprintf(name, len, "%s.backing%s", snap, tmp)
					 : snprintf(name, len, "%s.disk%u.saved.%s%s", snap,
						    (k - 2) / 2, fmts[(k - 2) % 2], tmp);
			if (m < 0 || (size_t)m >= len)
				continue;
			c->there[c->n] =
				lstat(name, &c->st[c->n]) == 0 && S_ISREG(c->st[c->n].st_mode);
			c->nthere += c->there[c->n];
			c->n++;
		}
}

/* Whether one of c's files is one guest gg's plan p binds: -EINVAL with the reason. g is
 * the guest being snapshotted (it may save back to the snapshot it was restored from). */
static int clash_with(const struct clash_names *c, const struct sandbox_plan *p,
		      const struct guest *gg, const struct guest *g, const char *snap, char *err,
		      size_t errlen)
{
	for (unsigned k = 0; k < c->n; k++) {
		struct stat bs;
		if (!c->there[k])
			continue;
		for (unsigned i = 0; i < p->nbinds; i++) {
			const struct sandbox_bind *b = &p->binds[i];
			if (b->dir || (k == 0 && gg == g && !strcmp(b->dst, "/files/restore")) ||
			    stat(b->src, &bs) < 0 || bs.st_dev != c->st[k].st_dev ||
			    bs.st_ino != c->st[k].st_ino)
				continue;
			snprintf(err, errlen,
				 "path '%.200s': %.200s is a file guest %s %s (%s): the snapshot "
				 "would replace it; give another path",
				 snap, c->name[k], gg->rec.name,
				 !strcmp(b->dst, "/files/restore") ? "was restored from"
								   : "runs on",
				 !strncmp(b->dst, "/files/disk", 11) ||
						 !strncmp(b->dst, "/files/ro-disk", 14)
					 ? "one of its disks"
				 : b->backing ? "a backing file of its disks"
				 : !strcmp(b->dst, "/files/restore")
					 ? "the snapshot every start of it begins from"
					 : "its kernel, initrd, firmware or module");
			return -EINVAL;
		}
	}
	return 0;
}

int sandbox_snapshot_clash(struct daemon *d, struct guest *g, const char *snap, char *err,
			   size_t errlen)
{
	struct sandbox_plan *p = calloc(1, sizeof(*p));
	struct clash_names *c = calloc(1, sizeof(*c));
	int r = 0;

	if (!p || !c) {
		free(p);
		free(c);
		return -ENOMEM;
	}
	r = plan_for(d, g, p);
	if (r) {
		/* its files cannot be told: one of them is not what it was */
		snprintf(err, errlen,
			 "guest %s: %s%.300s%s: a snapshot of it could not be restored; put it "
			 "back, or create the guest again",
			 g->rec.name, p->stale ? "its disks' backing file " : "its files ",
			 p->stale ? p->stale : "cannot be told",
			 p->stale ? " is no longer the file it was (moved, replaced or a symlink "
				    "now)"
				  : "");
		r = -ENOTSUP;
	}
	if (!r && g->kind == GUEST_VM && !d->cfg.no_sandbox)
		r = restorable(p, g, err, errlen);
	clash_names(snap, c);
	/* what the snapshot writes must not be a file this guest, or any other, runs on */
	if (!r && c->nthere)
		r = clash_with(c, p, g, g, snap, err, errlen);
	for (struct guest *gg = d->guests; !r && c->nthere && gg; gg = gg->next)
		if (gg != g && !plan_for(d, gg, p))
			r = clash_with(c, p, gg, g, snap, err, errlen);
	free(p);
	free(c);
	return r;
}

/* One line of SNAP.backing into *f, which opens tmp at the first. Returns 0 or -errno. */
static int backing_line(FILE **f, const char *tmp, const char *dst, const char *src, const char *id)
{
	if (!*f) {
		int fd;
		unlink(tmp); /* a crash's (a symlink there goes, not its target) */
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || !(*f = fdopen(fd, "w"))) {
			int r = -errno;
			if (fd >= 0)
				close(fd);
			return r;
		}
	}
	return fprintf(*f, "%s\t%s\t%s\n", dst, src, id) < 0 ? -EIO : 0;
}

int sandbox_write_backing_list(struct daemon *d, struct guest *g, const char *snap)
{
	static char bound[SANDBOX_ARENA_MAX * 2];
	struct sandbox_plan *p = calloc(1, sizeof(*p));
	char path[PATH_MAX], tmp[PATH_MAX + 8], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	unsigned listed_n = 0;
	FILE *f = NULL;
	int r = 0, stale = 0;

	if (!p)
		return -ENOMEM;
	if (snprintf(path, sizeof(path), "%s.backing", snap) >= (int)sizeof(path)) {
		free(p);
		return -ENAMETOOLONG;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (d->cfg.no_sandbox) {
		/* nothing is bound: the copies name the host's files */
	} else if (read_bound(g, bound, sizeof(bound))) {
		/* the files its mounts took at its start, each if still that file */
		for (const char *l = bound; !r && *l && list_line(&l, a, b, c, sizeof(a));) {
			if (!same_file_id(b, c)) {
				stale = -ESTALE;
				continue;
			}
			r = backing_line(&f, tmp, a, b, c);
			listed_n += !r;
		}
	} else if (!plan_for(d, g, p)) { /* a guest started before its backing.list */
		for (unsigned i = 0; i < p->nbinds && !r; i++) {
			const struct sandbox_bind *x = &p->binds[i];
			char id[48];
			/* where a copy may name it: not under /files/, whose files a restored
			 * guest has others of (a restored guest's own snapshot's copies are
			 * bound at their host paths too: plan_binds) */
			if (!listable(x) || strpbrk(x->src, "\t\n") || strpbrk(x->dst, "\t\n") ||
			    !file_id(x->src, id)[0])
				continue;
			r = backing_line(&f, tmp, x->dst, x->src, id);
			listed_n += !r;
		}
	}
	if (f && (fflush(f) || fsync(fileno(f))) && !r)
		r = -errno;
	if (f && fclose(f) && !r)
		r = -errno;
	if (!r && listed_n && rename(tmp, path) < 0)
		r = -errno;
	if (r || !listed_n) {
		unlink(tmp);
		if (!r)
			unlink(path); /* an earlier snapshot's */
	}
	free(p);
	return r ?: stale;
}

void sandbox_plan_fini(struct sandbox_plan *p)
{
	(void)p; /* nothing allocated; the spec file stays for inspection */
}

const char *sandbox_saved_disk(const char *snap, unsigned k, char *path, size_t len)
{
	static const char *const fmts[] = {"raw", "qcow2"};
	struct stat st;

	for (unsigned f = 0; f < 2; f++) {
		int n = snprintf(path, len, "%s.disk%u.saved.%s", snap, k, fmts[f]);
		/* lstat: a symlink is not a copy the daemon made (it would name any file) */
		if (n > 0 && (size_t)n < len && lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			return fmts[f];
	}
	return NULL;
}

const char *sandbox_inside(struct sandbox_plan *p, const char *what, unsigned i, const char *host)
{
	char *out = p->inside[p->next_inside++ % 4];
	const size_t cap = sizeof(p->inside[0]);
	const char *sep;

	if (!strcmp(what, "run")) {
		if (!p->enabled) /* the host path: the run directory may be long */
			return !strcmp(host, "api.sock")      ? p->sock_path
			       : !strcmp(host, "console.log") ? p->log_path
			       : !strcmp(host, "ready")	      ? p->ready_path
							      : p->exit_path;
		snprintf(out, cap, "/run/%s", host);
		return out;
	}
	if (!strcmp(what, "firmware")) {
		for (unsigned k = 0; k < p->nbinds; k++)
			if (!strcmp(p->binds[k].dst, "/files/firmware"))
				return p->enabled ? "/files/firmware" : p->binds[k].src;
		return host;
	}
	if (!p->enabled)
		return host;
	if (!strcmp(what, "dir")) {
		sep = strstr(host, "::");
		if (snprintf(out, cap, "/dirs/%u::%s", i, sep ? sep + 2 : host) >= (int)cap)
			out[0] = 0; /* an over-long guest path: the guest reports it */
	} else if (!strcmp(what, "disk") || !strcmp(what, "ro-disk")) {
		snprintf(out, cap, "/files/%s%u", what, i);
	} else if (!strcmp(what, "wasm")) {
		snprintf(out, cap, "%s", module_inside(host));
	} else {
		snprintf(out, cap, "/files/%.32s", what);
	}
	return out;
}

/* ---- spawning (daemon) ---- */

static void release_fds(struct sandbox_child *ch);

static int write_map(pid_t pid, const char *file, const char *map)
{
	char path[64];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, map, strlen(map)) < 0)
		r = -errno;
	close(fd);
	return r;
}

#define CHILD_STACK (64u << 10)

/* What the child reads, kept at the top of its stack. */
struct child_args {
	const struct sandbox_child *ch;
	int go, devnull;
	int peer;   /* the daemon's end of go's pair: the child's copy closes first */
	bool stall; /* test builds: LODGE_TEST_HOOK=child-stall, 3 s before the wait */
};

/* Waits for the daemon's go (one byte, with the mounts as descriptors): fills fds, returns
 * how many, or -1. Only system calls. */
static int child_wait(int go, int *fds)
{
	union {
		char buf[CMSG_SPACE(SANDBOX_MAX_BINDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	char c;
	struct iovec io = {.iov_base = &c, .iov_len = 1};
	struct msghdr m = {.msg_iov = &io,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *h;
	int n = 0;

	if (recvmsg(go, &m, MSG_CMSG_CLOEXEC) != 1 || (m.msg_flags & MSG_CTRUNC))
		return -1;
	h = CMSG_FIRSTHDR(&m);
	if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
		n = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(h), (size_t)n * sizeof(int));
	}
	return n;
}

/* Moves fds[0..n) to SANDBOX_SPEC_FD and up, in order: above the targets first, then down
 * into place (dup2 clears close-on-exec). Returns 0 or -1. */
static int child_place_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		int t = fcntl(fds[i], F_DUPFD_CLOEXEC, SANDBOX_SPEC_FD + n);
		if (t < 0)
			return -1;
		close(fds[i]);
		fds[i] = t;
	}
	for (int i = 0; i < n; i++)
		if (dup2(fds[i], SANDBOX_SPEC_FD + i) < 0)
			return -1;
	return 0;
}

/* The sandbox's part of the child (with the daemon's go in hand): opens the spec and the
 * root directory while it is still the host's root (their paths need not be open to the
 * guest's host ids), becomes the root of its user namespace (so that it executes with
 * capabilities there), lays the descriptors out for the guest. Returns how many. */
static int child_sandbox(const struct sandbox_child *ch, int *fds, int nmounts)
{
	int n = nmounts + 2;

	memmove(fds + 2, fds, (size_t)nmounts * sizeof(int));
	fds[0] = open(ch->spec, O_RDONLY | O_CLOEXEC);
	fds[1] = open(ch->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fds[0] < 0 || fds[1] < 0)
		return -1;
	if (ch->userns &&
	    (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return -1;
	return child_place_fds(fds, n) ? -1 : n;
}

/* A pool process's part (with the daemon's go: its id map is written): becomes the root of
 * its user namespace and keeps its socket to the daemon, on SANDBOX_POOL_FD, across the
 * exec. Returns how many descriptors it keeps from there (1), or -1. */
static int child_pool(const struct sandbox_child *ch, int go)
{
	int fds[2] = {go, open(ch->root, O_PATH | O_DIRECTORY | O_CLOEXEC)};

	if (fds[1] < 0)
		return -1;
	if (ch->userns &&
	    (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return -1;
	return child_place_fds(fds, 2) ? -1 : 2; /* SANDBOX_POOL_FD, SANDBOX_POOL_ROOT_FD */
}

/* Closes every descriptor the child has but its own: go, /dev/null, the log and the
 * cgroups' files. Sharing the daemon's memory, it sorts them on its stack. */
static void child_close_others(const struct child_args *a)
{
	int keep[3 + CG_NCTRL], n = 0, from = 3; /* stdio: dup2ed over before the exec */

	keep[n++] = a->go;
	keep[n++] = a->devnull;
	keep[n++] = a->ch->logfd;
	for (unsigned i = 0; i < a->ch->ncgfds && i < CG_NCTRL; i++)
		keep[n++] = a->ch->cgfds[i];
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if (keep[i] < from)
			continue; /* stdio, a duplicate or -1 */
		if (keep[i] > from)
			syscall(SYS_close_range, (unsigned)from, (unsigned)keep[i] - 1, 0u);
		from = keep[i] + 1;
	}
	syscall(SYS_close_range, (unsigned)from, ~0u, 0u);
}

/* The child, between the clone and the exec, sharing the daemon's memory: it touches only
 * its own stack and what the daemon keeps for it (sandbox_spawn). Joins its cgroups,
 * waits for the daemon, then becomes the guest. */
static int child_main(void *opaque)
{
	const struct child_args *a = opaque;
	int fds[SANDBOX_MAX_BINDS + 2], n;
	sigset_t none;

	/* The daemon's file table came with the clone; keep only what this child uses. Held
	 * here, the daemon's end of our socket pair would keep the wait below from ever seeing
	 * the daemon go (a daemon killed before its go left this process waiting for good,
	 * in its groups), and its listening socket would keep answering after the daemon was
	 * killed (a new daemon took the old path for another's, and clients were refused once
	 * this process left). */
	child_close_others(a);
	/* Into the guest's cgroups before anything runs (see cgroup_join); meanwhile the daemon
	 * records us. */
	if (cgroup_join(a->ch->cgfds, a->ch->ncgfds)) {
		static const char msg[] = "lodge: cannot join the guest's cgroup\n";
		ssize_t w = write(a->ch->logfd, msg, sizeof(msg) - 1);
		(void)w; /* nowhere else to say it */
		_exit(125);
	}
	if (a->stall) { /* a child the daemon is killed beside, held between clone and exec */
		struct timespec ts = {.tv_sec = 3};
		for (int i = 0; i < 10 && nanosleep(&ts, &ts) < 0; i++)
			; /* interrupted: the rest (errno is the daemon's thread's: not read) */
	}
	n = child_wait(a->go, fds);
	if (n < 0)
		_exit(125); /* the daemon went away before it recorded us */
	if (a->ch->pool)
		n = child_pool(a->ch, a->go);
	else if (a->ch->spec[0])
		n = child_sandbox(a->ch, fds, n);
	if (n < 0) {
		static const char msg[] = "lodge: cannot enter the guest's user namespace\n";
		ssize_t w = write(a->ch->logfd, msg, sizeof(msg) - 1);
		(void)w;
		_exit(125);
	}
	/* The daemon's signal mask and ignored SIGPIPE are not the guest's. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (dup2(a->devnull, 0) < 0 || dup2(a->devnull, 1) < 0 || dup2(a->ch->logfd, 2) < 0)
		_exit(125);
	syscall(SYS_close_range, SANDBOX_SPEC_FD + n, ~0u, 0);
	execve(a->ch->binary, a->ch->argv, a->ch->envp);
	_exit(127);
}

/* One of the guest's files as a detached mount: read-only unless rw, never suid or device
 * files, idmapped to the guest's user namespace (usfd >= 0) where the file system allows
 * it. Returns the mount's descriptor or -errno. */
static int make_mount(const struct sandbox_bind *b, int usfd, const char *guest)
{
	unsigned rec = b->dir ? AT_RECURSIVE : 0;
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					      (b->rw ? 0 : MOUNT_ATTR_RDONLY)};
	int fd;

	if (b->id) {
		/* the very file that was checked: opened without following a symlink (one
		 * planted at its path since is not followed), and compared on the opened
		 * file, then mounted from that descriptor */
		struct stat st;
		char now[48];
		int pfd = open(b->src, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0)
			return -errno;
		if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (snprintf(now, sizeof(now), "%llu:%llu", (unsigned long long)st.st_dev,
			      (unsigned long long)st.st_ino),
		     strcmp(now, b->id))) {
			close(pfd);
			return -ESTALE;
		}
		fd = (int)syscall(SYS_open_tree, pfd, "",
				  AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		close(pfd);
	} else {
		fd = (int)syscall(SYS_open_tree, AT_FDCWD, b->src,
				  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
	}
	if (fd < 0)
		return -errno;
	if (usfd >= 0) {
		attr.attr_set |= MOUNT_ATTR_IDMAP;
		attr.userns_fd = (__u64)(unsigned)usfd;
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | rec, &attr, sizeof(attr)) ==
		    0)
			return fd;
		/* e.g. a file system without idmapped mounts: the guest's host id then needs
		 * the access itself */
		log_warn("guest %s: %s is not idmapped (%s): the guest's host uid needs access to "
			 "it",
			 guest, b->src, strerror(errno));
		attr.attr_set &= ~(__u64)MOUNT_ATTR_IDMAP;
		attr.userns_fd = 0;
	}
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | rec, &attr, sizeof(attr)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* The plan's mounts for the guest process `pid` (idmapped to its user namespace), into
 * ch->bindfds. Returns 0 or -errno with the reason in err. */
static int setup_mounts(const struct sandbox_plan *p, pid_t pid, struct sandbox_child *ch,
			char *err, size_t errlen)
{
	char path[64];
	int usfd = -1, r = 0;

	if (p->userns && p->enabled && p->nbinds) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		usfd = open(path, O_RDONLY | O_CLOEXEC);
		if (usfd < 0) {
			r = -errno;
			snprintf(err, errlen, "cannot open the guest's user namespace: %s",
				 strerror(-r));
			return r;
		}
	}
	for (unsigned i = 0; i < p->nbinds && p->enabled; i++) {
		r = make_mount(&p->binds[i], usfd, p->hostname);
		if (r == -ESTALE) {
			snprintf(err, errlen,
				 "cannot share %s with the guest: it is no longer the file it was "
				 "(moved, replaced or a symlink now)",
				 p->binds[i].src);
			break;
		}
		if (r < 0) {
			snprintf(err, errlen, "cannot share %s with the guest: %s", p->binds[i].src,
				 strerror(-r));
			break;
		}
		ch->bindfds[ch->nbindfds++] = r;
		r = 0;
	}
	if (usfd >= 0)
		close(usfd);
	return r;
}

/* The daemon's half of the set-up once the child exists: the id maps, then the mounts. */
static int setup_child(const struct sandbox_plan *p, pid_t pid, struct sandbox_child *ch, char *err,
		       size_t errlen)
{
	char map[64];
	int r = 0;

	if (p->userns) {
		/* The guest's root is an unprivileged host id (see README). */
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)p->host_uid);
		r = write_map(pid, "uid_map", map);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)p->host_gid);
		r = r ?: write_map(pid, "gid_map", map);
		if (r) {
			snprintf(err, errlen, "cannot map the guest's user namespace: %s",
				 strerror(-r));
			return r;
		}
	}
	return setup_mounts(p, pid, ch, err, errlen);
}

int sandbox_spawn(const struct sandbox_plan *p, struct sandbox_child *ch, pid_t *pid, char *err,
		  size_t errlen)
{
	struct child_args *args;
	int go[2], devnull, pidfd = -1, flags = CLONE_VM | CLONE_PIDFD | SIGCHLD;
	uint8_t *stack;
	long r;

	ch->nbindfds = ch->nhandfds = 0;
	ch->userns = p->userns;
	snprintf(ch->spec, sizeof(ch->spec), "%s", p->spec_path);
	snprintf(ch->root, sizeof(ch->root), "%s", p->root);
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -ENOMEM;
#ifdef __SANITIZE_ADDRESS__
	/* A mapping at the address of an earlier child's stack keeps the shadow of its frames
	 * (it executed instead of returning): fresh memory for the sanitizer too. */
	__asan_unpoison_memory_region(stack, CHILD_STACK);
#endif
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, go) < 0) {
		r = -errno;
		goto err_stack;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		r = -errno;
		goto err_pipe;
	}
	if (p->enabled)
		flags |= CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
			 (p->netns ? CLONE_NEWNET : 0) | (p->userns ? CLONE_NEWUSER : 0);
	/* The shared empty network namespace: the child is born in it. */
	bool shared = (flags & CLONE_NEWNET) && p->shared_net &&
		      setns(p->shared_net->empty, CLONE_NEWNET) == 0;
	if (shared)
		flags &= ~CLONE_NEWNET;
	args = (struct child_args *)(void *)(stack + CHILD_STACK - 256);
	*args = (struct child_args){.ch = ch, .go = go[0], .devnull = devnull, .peer = go[1]};
#ifdef LODGE_TEST_HOOKS
	args->stall =
		getenv("LODGE_TEST_HOOK") && !strcmp(getenv("LODGE_TEST_HOOK"), "child-stall");
#endif
	ch->stack = stack;
	r = clone(child_main, args, flags, args, (pid_t *)&pidfd, NULL, NULL);
	/* Back (the daemon itself uses no network; a guest with user networking would have
	 * none, were this to fail, which it does not for root with its own namespace). */
	if (shared && setns(p->shared_net->host, CLONE_NEWNET) < 0)
		log_err("daemon: cannot return to the host's network namespace: %s",
			strerror(errno));
	if (r < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create the guest process: %s", strerror(errno));
		ch->stack = NULL;
		goto err_null;
	}
	/* The child has its own copy of the file table (no CLONE_FILES). */
	close(go[0]);
	close(devnull);
	ch->gofd = go[1];
	int e = setup_child(p, (pid_t)r, ch, err, errlen);
	if (e) {
		kill((pid_t)r, SIGKILL);
		release_fds(ch);
		close(go[1]);
		close(pidfd);
		return e; /* the stack stays with ch until the process is reaped */
	}
	ch->pidfd = pidfd;
	*pid = (pid_t)r;
	return 0;
err_null:
	close(devnull);
err_pipe:
	close(go[0]);
	close(go[1]);
err_stack:
	munmap(stack, CHILD_STACK);
	return (int)r;
}

void sandbox_child_free(struct sandbox_child *ch)
{
	release_fds(ch);
	if (ch->stack)
		munmap(ch->stack, CHILD_STACK);
	ch->stack = NULL;
}

static void release_fds(struct sandbox_child *ch)
{
	while (ch->nbindfds)
		close(ch->bindfds[--ch->nbindfds]);
	while (ch->nhandfds)
		close(ch->handfds[--ch->nhandfds]);
}

int sandbox_adopt(const struct sandbox_plan *p, struct sandbox_child *ch, pid_t pid, char *err,
		  size_t errlen)
{
	int r = 0;

	ch->nbindfds = ch->nhandfds = 0;
	if (!ch->pool || !p->enabled || !p->spec_path[0])
		return -EINVAL;
	/* The pool process is its namespace's root already: it may not be able to look the
	 * spec up itself (as a spawned child does before that). Its root directory it opened
	 * itself, in its own mount namespace (sandbox.h). */
	ch->handfds[ch->nhandfds++] = fcntl(ch->logfd, F_DUPFD_CLOEXEC, 0);
	ch->handfds[ch->nhandfds++] = open(p->spec_path, O_RDONLY | O_CLOEXEC);
	for (unsigned i = 0; i < ch->ncgfds; i++)
		ch->handfds[ch->nhandfds++] = fcntl(ch->cgfds[i], F_DUPFD_CLOEXEC, 0);
	for (unsigned i = 0; i < ch->nhandfds && !r; i++)
		if (ch->handfds[i] < 0)
			r = -errno;
	if (r)
		snprintf(err, errlen, "cannot open the guest's files for its process: %s",
			 strerror(-r));
	else
		r = setup_mounts(p, pid, ch, err, errlen);
	if (r)
		release_fds(ch); /* closing -1 is harmless */
	return r;
}

/* The handover to an adopted pool process (sandbox.h): the header, the command line, and
 * the descriptors. */
static int send_handover(struct sandbox_child *ch)
{
	union {
		char buf[CMSG_SPACE((2 + CG_NCTRL + SANDBOX_MAX_BINDS) * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct sandbox_handover h = {.magic = SANDBOX_HANDOVER_MAGIC,
				     .ncg = (uint16_t)ch->ncgfds,
				     .nmounts = (uint16_t)ch->nbindfds};
	unsigned nfds = ch->nhandfds + ch->nbindfds;
	size_t len = sizeof(h);
	char *msg = malloc(SANDBOX_HANDOVER_MAX);
	struct iovec io = {.iov_base = msg};
	struct msghdr m = {.msg_iov = &io,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int r = 0;

	if (!msg)
		return -ENOMEM;
	for (char *const *a = ch->argv; *a && !r; a++, h.argc++) {
		size_t n = strlen(*a) + 1;
		if (len + n > SANDBOX_HANDOVER_MAX)
			r = -E2BIG;
		else
			memcpy(msg + len, *a, n);
		len += n;
	}
	memcpy(msg, &h, sizeof(h));
	io.iov_len = len;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), ch->handfds, ch->nhandfds * sizeof(int));
	memcpy(CMSG_DATA(c) + ch->nhandfds * sizeof(int), ch->bindfds, ch->nbindfds * sizeof(int));
	if (!r && sendmsg(ch->gofd, &m, MSG_NOSIGNAL) != (ssize_t)len)
		r = -errno ?: -EIO;
	free(msg);
	return r;
}

int sandbox_release(struct sandbox_child *ch)
{
	union {
		char buf[CMSG_SPACE(SANDBOX_MAX_BINDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	char c = 'g';
	struct iovec io = {.iov_base = &c, .iov_len = 1};
	struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1};
	int r;

	if (ch->pool && ch->nhandfds) { /* an adopted pool process: its guest */
		r = send_handover(ch);
		release_fds(ch);
		close(ch->gofd);
		ch->gofd = -1;
		return r;
	}
	if (ch->nbindfds) {
		struct cmsghdr *h;
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(ch->nbindfds * sizeof(int));
		h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(ch->nbindfds * sizeof(int));
		memcpy(CMSG_DATA(h), ch->bindfds, ch->nbindfds * sizeof(int));
	}
	r = sendmsg(ch->gofd, &m, MSG_NOSIGNAL) == 1 ? 0 : -errno;
	release_fds(ch);
	if (!ch->pool) { /* a pool process keeps it: its handover comes there */
		close(ch->gofd);
		ch->gofd = -1;
	}
	return r;
}

/* ---- the pool process (guest) ---- */

static int make_root(int dirfd);
static int pivot_into(int m);

/* The handover's command line: argc NUL-terminated strings in buf[0..len). */
static int split_argv(char *buf, size_t len, unsigned argc, char ***out)
{
	char **v = calloc((size_t)argc + 1, sizeof(*v));
	size_t off = 0;

	if (!v)
		return -ENOMEM;
	for (unsigned i = 0; i < argc; i++) {
		char *end = off < len ? memchr(buf + off, 0, len - off) : NULL;
		if (!end) {
			free(v);
			return -EINVAL;
		}
		v[i] = buf + off;
		off = (size_t)(end - buf) + 1;
	}
	if (off != len) {
		free(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Lays n descriptors out from SANDBOX_SPEC_FD up, in order (as child_place_fds, but with
 * no exec to close the copies after). */
static int place_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int t = fcntl(fds[i], F_DUPFD_CLOEXEC, SANDBOX_SPEC_FD + (int)n);
		if (t < 0)
			return -errno;
		close(fds[i]);
		fds[i] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		/* the guest's lodge reads them: no close-on-exec (as after a spawn) */
		if (dup2(fds[i], SANDBOX_SPEC_FD + (int)i) < 0)
			return -errno;
		close(fds[i]);
	}
	return 0;
}

/* Takes the handover in buf: checks it, joins the cgroups, lays the descriptors out. */
static int take_handover(char *buf, size_t len, int *fds, unsigned nfds, char ***argv)
{
	struct sandbox_handover h;
	int r;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != SANDBOX_HANDOVER_MAGIC || h.ncg > CG_NCTRL || h.argc < 2 ||
	    nfds != 2u + h.ncg + h.nmounts)
		return -EINVAL;
	r = split_argv(buf + sizeof(h), len - sizeof(h), h.argc, argv);
	if (r)
		return r;
	/* Into the guest's cgroups first, as a spawned child (only this thread runs). */
	r = cgroup_join(fds + 2, h.ncg);
	if (!r && dup2(fds[0], 2) < 0)
		r = -errno;
	for (unsigned i = 0; i < h.ncg; i++)
		close(fds[2 + i]);
	close(fds[0]);
	/* spec and mounts where a spawned guest finds them; in the root's place (we are in
	 * it already) a copy of the spec, closed at once */
	fds[0] = fds[1];
	fds[1] = fcntl(fds[0], F_DUPFD_CLOEXEC, 0);
	memmove(fds + 2, fds + 2 + h.ncg, h.nmounts * sizeof(int));
	r = r ?: fds[1] < 0 ? -errno : place_fds(fds, 2u + h.nmounts);
	close(SANDBOX_ROOT_FD);
	return r;
}

/* A pool process's heap, backed while it waits: a start then reads its module and
 * compiles it into pages it already has. A page fault costs 4-10 us on this paravirtualised
 * host, and a 222 KB service took ~57 of them reading its module into a buffer mmap()ed
 * apart (glibc's threshold is 128 KiB) and ~70 more growing the heap as it compiled.
 * Allocations under 4 * POOL_HEAP_WARM come from the heap (M_MMAP_THRESHOLD), and its
 * freed top stays backed (M_TRIM_THRESHOLD). Like the rest of the pool process's memory made
 * before the handover, these pages are charged to the daemon's cgroup, not the guest's. */
#define POOL_HEAP_WARM (1u << 20)

static void warm_heap(void)
{
	void *p;

	if (!mallopt(M_MMAP_THRESHOLD, 4 * POOL_HEAP_WARM) ||
	    !mallopt(M_TRIM_THRESHOLD, 8 * POOL_HEAP_WARM) || !(p = malloc(POOL_HEAP_WARM)))
		return;
	uintptr_t lo = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t hi = ((uintptr_t)p + POOL_HEAP_WARM) & ~(uintptr_t)4095;
	if (madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) < 0)
		memset(p, 0, POOL_HEAP_WARM); /* a kernel before 5.14 */
	free(p);
}

/* Before it says it is ready: the sandbox's root, without the guest's files (those come
 * with the handover), so that detaching the host's file system (an RCU grace period, some
 * ms) is not on a start's path; and the heap's first pages (warm_heap). */
static int pool_prepare(int *statm_fd)
{
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC), m;

	warm_heap();

	/* out of the way of the descriptors the handover lays out */
	*statm_fd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, SANDBOX_POOL_HIGH_FD);
	if (fd >= 0)
		close(fd);
	m = make_root(SANDBOX_POOL_ROOT_FD);
	m = m < 0 ? m : pivot_into(m);
	if (m < 0)
		log_err("pool: cannot build the sandbox's root: %s", strerror(-m));
	return m;
}

int sandbox_pool_wait(int *argc, char ***argv, int *statm_fd)
{
	union {
		char buf[CMSG_SPACE((2 + CG_NCTRL + SANDBOX_MAX_BINDS) * sizeof(int))];
		struct cmsghdr align;
	} u;
	const char ready = SANDBOX_POOL_READY;
	char *buf = malloc(SANDBOX_HANDOVER_MAX);
	struct iovec io = {.iov_base = buf, .iov_len = SANDBOX_HANDOVER_MAX};
	struct msghdr m = {.msg_iov = &io,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;
	int fds[3 + CG_NCTRL + SANDBOX_MAX_BINDS]; /* one more: the root's place */
	unsigned nfds = 0;
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	r = pool_prepare(statm_fd);
	if (r) {
		free(buf);
		return r;
	}
	if (write(SANDBOX_POOL_FD, &ready, 1) != 1) {
		free(buf);
		return -EPIPE; /* the daemon is gone already */
	}
	do
		n = recvmsg(SANDBOX_POOL_FD, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		free(buf);
		return -EPIPE;
	}
	c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
		nfds = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
	}
	r = (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
		    ? -E2BIG
		    : take_handover(buf, (size_t)n, fds, nfds, argv);
	if (r) {
		log_err("pool: cannot take over the guest: %s", strerror(-r));
		free(buf);
		return r;
	}
	for (*argc = 0; (*argv)[*argc]; (*argc)++)
		;
	return 0; /* buf stays: the command line points into it */
}

/* ---- entering the sandbox (guest) ---- */

/* The spec's text from f (closed), or NULL. */
static char *read_spec_file(FILE *f)
{
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static char *read_spec(const char *path)
{
	return read_spec_file(fopen(path, "re"));
}

/* Creates the mount point for a bind under the new root (the directory `root`): a
 * directory or an empty file, with the directories leading to it. */
static int make_point(int root, const char *dst, bool dir)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s", dst + (dst[0] == '/')) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (char *s = path; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdirat(root, path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (dir)
		return mkdirat(root, path, 0755) < 0 && errno != EEXIST ? -errno : 0;
	fd = openat(root, path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* A new tmpfs (detached) for the root. Returns its descriptor or -errno. */
static int make_tmpfs(void)
{
	int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC), m = -1;

	if (fs < 0)
		return -errno;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "1m", 0) == 0 &&
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0755", 0) == 0 &&
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
				 MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (m < 0)
		m = -errno;
	close(fs);
	return m;
}

/* A new tmpfs on the directory `dirfd` (closed), in a mount namespace whose mounts no
 * longer propagate to the host's. Returns its descriptor or -errno. */
static int make_root(int dirfd)
{
	int m = 0;

	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		m = -errno;
	m = m ?: make_tmpfs();
	if (m >= 0 && syscall(SYS_move_mount, m, "", dirfd, "",
			      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
		close(m);
		m = -errno;
	}
	close(dirfd);
	return m;
}

/* Moves the daemon's mounts (the descriptors the spec names) onto their mount points under
 * the root directory `m`. */
static int bind_all(const cJSON *spec, int m)
{
	const cJSON *b;
	int r = 0;

	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(spec, "binds"))
	{
		const char *dst = json_str(b, "dst", "/x");
		int fd = (int)json_uint(b, "fd", 0);
		if (r)
			break;
		r = fd < SANDBOX_FIRST_FD ? -EBADF : make_point(m, dst, json_bool(b, "dir", false));
		if (!r && syscall(SYS_move_mount, fd, "", m, dst + 1, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			r = -errno;
		if (r)
			log_err("sandbox: cannot share %s as %s: %s", json_str(b, "src", ""), dst,
				strerror(-r));
		close(fd);
	}
	return r;
}

/* Builds the root: a tmpfs on the spec's root directory with the daemon's mounts on their
 * mount points. Leaves the tmpfs's descriptor in *out. The root directory is a descriptor
 * too: the guest's host ids need not be able to look its path up. */
static int build_root(const cJSON *spec, int *out)
{
	const char *root = json_str(spec, "root", NULL);
	int dirfd, m, r;

	if (!root || root[0] != '/')
		return -EINVAL;
	dirfd = (int)json_uint(spec, "root_fd", 0);
	if (dirfd != SANDBOX_ROOT_FD)
		return -EBADF;
	m = make_root(dirfd);
	if (m < 0)
		return m;
	r = bind_all(spec, m);
	if (r) {
		close(m);
		return r;
	}
	*out = m;
	return 0;
}

/* Makes the tmpfs `m` (closed) the root and detaches the host's file system. */
static int pivot_into(int m)
{
	int r = 0;

	/* pivot_root(".", "."): the old root ends up stacked on the new one, and goes. */
	if (fchdir(m) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		r = -errno;
	close(m);
	return r;
}

/* The root itself holds only mount points: makes it read-only. */
static int seal_root(void)
{
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
	    0)
		return -errno;
	return 0;
}

static int pivot(int m)
{
	return pivot_into(m) ?: seal_root();
}

static int drop_privileges(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	struct rlimit nofile = {NOFILE_LIMIT, NOFILE_LIMIT}, core = {0, 0};

	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_CORE, &core) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* EINVAL: past the kernel's last capability (they are numbered without gaps) */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno != EINVAL)
				return -errno;
			break;
		}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &h, data) < 0)
		return -errno;
	return 0;
}

/* The spec's precompiled filter (hex of struct sock_filter[]) into f. */
static int read_filter(const cJSON *spec, struct sandbox_filter *f)
{
	const char *hex = json_str(spec, "seccomp", NULL);
	size_t n = hex ? strlen(hex) : 0;
	uint8_t *b;

	if (!hex)
		return 0;
	if (!n || n % (2 * sizeof(struct sock_filter)) ||
	    n / 2 / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return -EINVAL;
	b = malloc(n / 2);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
			free(b);
			return -EINVAL;
		}
		b[i] = (uint8_t)v;
	}
	f->insns = b;
	f->count = (unsigned)(n / 2 / sizeof(struct sock_filter));
	return 0;
}

/* The rest of entering, once the root is built (r: 0 if it was): the spec's filter, the
 * host name, privileges. */
static int finish(const cJSON *spec, int r, struct sandbox_filter *filter)
{
	const char *host = json_str(spec, "hostname", "guest");

	filter->insns = NULL;
	filter->count = 0;
	if (!r && (r = read_filter(spec, filter)))
		log_err("sandbox: the spec's seccomp filter is malformed");
	if (!r && sethostname(host, strlen(host)) < 0) {
		r = -errno;
		log_err("sandbox: cannot set the host name: %s", strerror(errno));
	}
	if (!r) {
		r = drop_privileges();
		if (r)
			log_err("sandbox: cannot drop privileges: %s", strerror(-r));
	}
	return r;
}

int sandbox_enter(const char *spec_path, int *statm_fd, struct sandbox_filter *filter)
{
	char *text = read_spec(spec_path);
	cJSON *spec = text ? cJSON_Parse(text) : NULL;
	int r, m = -1;

	free(text);
	if (!strcmp(spec_path, SANDBOX_SPEC_PATH))
		close(SANDBOX_SPEC_FD); /* read through a new description */
	*statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (!spec) {
		log_err("sandbox: cannot read the spec %s: %s", spec_path,
			errno ? strerror(errno) : "malformed");
		return -EINVAL;
	}
	r = build_root(spec, &m);
	if (!r) {
		r = pivot(m);
		if (r)
			log_err("sandbox: cannot pivot into %s: %s", json_str(spec, "root", ""),
				strerror(-r));
	} else if (r != -EINVAL) {
		log_err("sandbox: cannot build the root %s: %s", json_str(spec, "root", ""),
			strerror(-r));
	}
	r = finish(spec, r, filter);
	cJSON_Delete(spec);
	return r;
}

int sandbox_enter_pooled(struct sandbox_filter *filter)
{
	/* no /proc to reopen it through any more: read from the descriptor itself */
	char *text = read_spec_file(fdopen(SANDBOX_SPEC_FD, "re"));
	cJSON *spec = text ? cJSON_Parse(text) : NULL;
	int r, m;

	free(text);
	if (!spec) {
		log_err("sandbox: cannot read the spec: %s", errno ? strerror(errno) : "malformed");
		return -EINVAL;
	}
	/* The root is ours already (sandbox_pool_wait): only the guest's files to add. */
	m = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = m < 0 ? -errno : bind_all(spec, m);
	if (m >= 0)
		close(m);
	r = r ?: seal_root();
	if (r)
		log_err("sandbox: cannot build the root: %s", strerror(-r));
	r = finish(spec, r, filter);
	cJSON_Delete(spec);
	return r;
}

/* ---- seccomp ---- */

/* What both kinds of guest need once running: memory, threads (clone with CLONE_THREAD
 * only: no new processes), synchronisation, time, the control socket and pipes, signals
 * for the runtime itself. */
static const int common_calls[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(lseek),
	SCMP_SYS(close),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(statx),
	SCMP_SYS(fcntl),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(futex),
	SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	SCMP_SYS(brk),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigtimedwait), /* lodge wasm's signal thread: sigwait restarts after a stop */
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(gettid),
	SCMP_SYS(getpid),
	SCMP_SYS(tgkill),
	SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getrandom),
	SCMP_SYS(accept4),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(getsockopt),
	SCMP_SYS(shutdown),
	SCMP_SYS(eventfd2),
	SCMP_SYS(pipe2),
	SCMP_SYS(unlink),
	SCMP_SYS(rename),
	SCMP_SYS(openat),
	SCMP_SYS(getrusage),
	SCMP_SYS(prlimit64),
	SCMP_SYS(sysinfo),
	SCMP_SYS(readlink),
	SCMP_SYS(getcwd),
	SCMP_SYS(mincore),	   /* the control socket's ram_resident_bytes */
	SCMP_SYS(restart_syscall), /* a system call resumed after a stop (SIGSTOP, freezer) */
};

/* System guests also re-create the machine on a guest reboot (memfd for JIT code); their
 * machine, made after the filter is in, opens its disks' io_uring rings, and user
 * networking (libslirp) makes the host sockets of the guest's connections and port
 * forwards (socket() itself only for IPv4 and IPv6: see sandbox_seccomp); glib, under
 * libslirp, seeds its random numbers with getppid() where /dev/urandom is missing, as
 * in the guest's root. */
static const int vm_calls[] = {
	SCMP_SYS(memfd_create),
	SCMP_SYS(ftruncate),
	SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
	SCMP_SYS(connect),
	SCMP_SYS(bind),
	SCMP_SYS(listen),
	SCMP_SYS(accept), /* libslirp takes a port forward's connections with accept() */
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	SCMP_SYS(getppid),
	SCMP_SYS(fsync),     /* a snapshot's file (snapshot/file.c) before its rename */
	SCMP_SYS(fallocate), /* an idle hart punches its code buffer (jit/codebuf.c) */
	SCMP_SYS(fadvise64), /* the samples of a disk image's fingerprint, asked for at once
			      * (disk/fingerprint.c): a snapshot's and a restore's */
};

/* WebAssembly guests run WASI, whose file calls stay below the preopened directories;
 * the JIT makes its code buffer's memfd at its first translation (jit/codebuf.c), in
 * each wasi-threads thread's store too, after the filter is in. WASI reads and writes
 * pipes, terminals and sockets with preadv2/pwritev2 (RWF_NOWAIT: a pause or stop gives
 * a blocked call up, wasi.c io_wait), and appends to the caller's stdio with pwritev2
 * (RWF_APPEND): build_filter allows those two flags only. */
static const int wasm_calls[] = {
	SCMP_SYS(openat2),    SCMP_SYS(mkdirat),   SCMP_SYS(unlinkat),	 SCMP_SYS(renameat),
	SCMP_SYS(renameat2),  SCMP_SYS(linkat),	   SCMP_SYS(symlinkat),	 SCMP_SYS(readlinkat),
	SCMP_SYS(getdents64), SCMP_SYS(fsync),	   SCMP_SYS(fdatasync),	 SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate),  SCMP_SYS(utimensat), SCMP_SYS(futimesat),	 SCMP_SYS(fadvise64),
	SCMP_SYS(dup),	      SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(memfd_create),
};

static int allow_all(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
		if (r)
			return r;
	}
	return 0;
}

/* The allow list for `kind` as a libseccomp filter. Returns 0 or -errno. */
static int build_filter(enum sandbox_kind kind, scmp_filter_ctx *out)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r;

	if (!ctx)
		return -ENOMEM;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	r = r ?: allow_all(ctx, common_calls, sizeof(common_calls) / sizeof(common_calls[0]));
	r = r
		    ?: (kind == SANDBOX_VM
				? allow_all(ctx, vm_calls, sizeof(vm_calls) / sizeof(vm_calls[0]))
				: allow_all(ctx, wasm_calls,
					    sizeof(wasm_calls) / sizeof(wasm_calls[0])));
	/* Threads yes, processes no: clone only with CLONE_THREAD; clone3 (whose flags a
	 * filter cannot see) answers ENOSYS, and the C library falls back to clone. */
	r = r
		    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
					SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	r = r ?: seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* WASI's preadv2 and pwritev2: their flags (argument 5) RWF_NOWAIT and RWF_APPEND at
	 * most (none of RWF_NOAPPEND, RWF_HIPRI, RWF_SYNC...) */
	if (kind == SANDBOX_WASM) {
		const uint64_t other = ~(uint64_t)(RWF_NOWAIT | RWF_APPEND);
		r = r
			    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(preadv2), 1,
						SCMP_A5(SCMP_CMP_MASKED_EQ, other, 0))
			    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwritev2), 1,
						SCMP_A5(SCMP_CMP_MASKED_EQ, other, 0));
	}
	if (kind == SANDBOX_VM) /* libslirp's sockets; never netlink, packet or unix ones */
		r = r
			    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
						SCMP_A0(SCMP_CMP_EQ, AF_INET))
			    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
						SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	/* The guest memory's dirty log (core/gmem.c) registers for and issues private
	 * expedited memory barriers: they reach only this process's own threads. */
	if (kind == SANDBOX_VM)
		r = r
			    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(membarrier), 1,
						SCMP_A0(SCMP_CMP_EQ,
							MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED))
			    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(membarrier), 1,
						SCMP_A0(SCMP_CMP_EQ, MEMBARRIER_CMD_PRIVATE_EXPEDITED));
	/* A post-copy migration's destination (machine/migrate.c): a userfaultfd on the
	 * guest's RAM, and the five requests it makes of it (meaningless on any other
	 * descriptor). Without CAP_SYS_PTRACE the kernel grants user-mode faults only. */
	if (kind == SANDBOX_VM) {
		static const unsigned long uffd_ioctls[] = {UFFDIO_API, UFFDIO_REGISTER,
							    UFFDIO_UNREGISTER, UFFDIO_COPY,
							    UFFDIO_ZEROPAGE};
		r = r ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(userfaultfd), 0);
		/* a snapshot's disk copies share the image's extents where they can */
		r = r
			    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
						SCMP_A1(SCMP_CMP_EQ, FICLONE));
		for (size_t i = 0; i < sizeof(uffd_ioctls) / sizeof(uffd_ioctls[0]); i++)
			r = r
				    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
							SCMP_A1(SCMP_CMP_EQ, uffd_ioctls[i]));
	}
	/* A Wasm program's pre-copy migration (wasm/snap/precopy.c): a userfaultfd in
	 * asynchronous write-protect mode on its memory, and PAGEMAP_SCAN on the
	 * /proc/self/pagemap it opened before the sandbox; a post-copy's destination
	 * (wasm/snap/postcopy.c) fills its memory's holes (UFFDIO_COPY, _ZEROPAGE). */
	if (kind == SANDBOX_WASM) {
		static const unsigned long wp_ioctls[] = {UFFDIO_API,	     UFFDIO_REGISTER,
							  UFFDIO_UNREGISTER, PAGEMAP_SCAN,
							  UFFDIO_COPY,	     UFFDIO_ZEROPAGE};
		r = r ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(userfaultfd), 0);
		for (size_t i = 0; i < sizeof(wp_ioctls) / sizeof(wp_ioctls[0]); i++)
			r = r
				    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
							SCMP_A1(SCMP_CMP_EQ, wp_ioctls[i]));
	}
	/* the inode generation of a disk image a snapshot records and a restore compares
	 * (disk/fingerprint.c): reads a number of an fd the process holds */
	r = r
		    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					SCMP_A1(SCMP_CMP_EQ, FS_IOC_GETVERSION));
	/* isatty() on the console: TCGETS only. */
	r = r
		    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					SCMP_A1(SCMP_CMP_EQ, 0x5401 /* TCGETS */));
	r = r
		    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
					SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	if (r) {
		seccomp_release(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}

int sandbox_seccomp_export(enum sandbox_kind kind, char **hex)
{
	scmp_filter_ctx ctx;
	uint8_t buf[BPF_MAXINSNS * sizeof(struct sock_filter)];
	int fd, r = build_filter(kind, &ctx);
	ssize_t n = 0;

	if (r)
		return r;
	fd = memfd_create("lodge-seccomp", MFD_CLOEXEC);
	r = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	if (!r && (n = pread(fd, buf, sizeof(buf), 0)) <= 0)
		r = n < 0 ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	if (r)
		return r;
	*hex = malloc((size_t)n * 2 + 1);
	if (!*hex)
		return -ENOMEM;
	for (ssize_t i = 0; i < n; i++)
		snprintf(*hex + 2 * i, 3, "%02x", buf[i]);
	return 0;
}

/* Installs a precompiled filter on every thread, as seccomp_load would. */
static int load_filter(const struct sandbox_filter *f)
{
	struct sock_fprog prog = {.len = (unsigned short)f->count, .filter = f->insns};
	long r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (r < 0)
		return -errno;
	return r ? -EAGAIN : 0; /* a thread id: that thread could not take it */
}

int sandbox_seccomp(enum sandbox_kind kind, struct sandbox_filter *pre)
{
	scmp_filter_ctx ctx;
	int r;

	if (pre && pre->insns) {
		r = load_filter(pre);
		free(pre->insns);
		pre->insns = NULL;
		pre->count = 0;
	} else {
		r = build_filter(kind, &ctx);
		if (!r) {
			r = seccomp_load(ctx);
			seccomp_release(ctx);
		}
	}
	if (r)
		log_err("seccomp: cannot install the filter: %s", strerror(-r));
	return r;
}

void sandbox_test_hook(void)
{
#ifdef LODGE_TEST_HOOKS
	const char *h = getenv("LODGE_TEST_HOOK");

	if (h && !strcmp(h, "forbidden-syscall")) {
		log_warn("test hook: calling ptrace, which the seccomp filter forbids");
		syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
		log_err("test hook: the forbidden system call returned");
	}
	if (h && !strcmp(h, "rwf-flags")) { /* (a Wasm filter's preadv2 and pwritev2 flags) */
		struct iovec v = {(void *)"", 0};
		if (pwritev2(2, &v, 1, -1, RWF_NOWAIT | RWF_APPEND) < 0 && errno != EAGAIN &&
		    errno != EOPNOTSUPP)
			log_err("test hook: pwritev2 with RWF_NOWAIT | RWF_APPEND: %s",
				strerror(errno));
		log_warn("test hook: pwritev2 with RWF_NOWAIT | RWF_APPEND allowed; RWF_HIPRI, "
			 "which the seccomp filter forbids");
		(void)preadv2(0, &v, 1, -1, RWF_HIPRI);
		log_err("test hook: the forbidden flag passed");
	}
#endif
}
