/*
 * The supervisor: guests' life cycles. Starting forks the guest process (sandboxed by
 * host/sandbox.c), records its pid and start time in the registry, and only then lets it
 * run, so a daemon killed at any point never leaves a guest the registry does not know.
 * The process's pidfd tells when it ends; how it ended comes from waitid (when we are its
 * parent) and its exit record (always, and the only source after a daemon restart). Then
 * its cgroup is removed and its restart policy applies, with exponential backoff for
 * guests that fail quickly.
 *
 * States: created -> running <-> paused; running/paused -> stopped (a clean exit, or one
 * that was asked for) or crashed (any other exit); stopped/crashed -> running again.
 */
#include "host/daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/client.h"
#include "api/json.h"
#include "core/evloop.h"
#include "core/keyval.h"
#include "core/log.h"
#include "core/tcp.h"
#include "host/procstat.h"
#include "devices/virtio/blk.h"
#include "disk/disk.h"
#include "devices/virtio/net.h"
#include "wasm/wasm.h"
#include "host/sandbox.h"
#include "machine/machine.h"

#define MIN_VM_MEMORY	    (16ull << 20)
#define DEFAULT_VM_MEMORY   DAEMON_DEFAULT_VM_MEMORY
#define DEFAULT_HUGEPAGES   true	   /* "hugepages": docs/API.md says why */
#define PRESS_INTERVAL_NS   3000000000ull  /* a guest that missed the button gets another */
#define QUICK_FAIL_NS	    10000000000ull /* a guest that ran this long resets its backoff */
#define CONTROL_TIMEOUT_MS  5000
#define SNAPSHOT_TIMEOUT_MS 120000 /* a system guest's RAM is compressed meanwhile */
#define MIG_CONNECT_MS	    5000
#define MIG_IO_TIMEOUT_S    10 /* a migration peer silent this long is gone (migrate.c) */

static void on_timer(void *opaque);
static void on_exit_fd(void *opaque, int fd, unsigned revents);

static void spawn_free(struct guest *g);
static void incoming_close(struct guest *g);
static int incoming_listen(struct guest *g, char *err, size_t errlen);
static int incoming_watch(struct guest *g);
static bool outgoing_read(struct guest *g);
static void outgoing_done(struct guest *g);
static void ready_close(struct guest *g);
static void arm_timer(struct guest *g);
static void start_answer(struct guest *g, int status, const char *reason);

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_kill(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* SIGKILL to the guest's process, remembered: a process that is not the daemon's child
 * (reattached after a daemon restart) leaves no status to wait for, and its end must not
 * read as an unknown one. Returns pidfd_kill's. */
static int kill_process(struct guest *g)
{
	g->sent_kill = true;
	return pidfd_kill(g->pidfd, SIGKILL);
}

void guest_path(const struct guest *g, const char *rel, char *out, size_t len)
{
	if (snprintf(out, len, "%s/%s", g->dir, rel) >= (int)len)
		out[0] = 0;
}

bool guest_active(const struct guest *g)
{
	return g->pidfd >= 0;
}

struct guest *guest_find(struct daemon *d, const char *name)
{
	for (struct guest *g = d->guests; g; g = g->next)
		if (!strcmp(g->rec.name, name))
			return g;
	return NULL;
}

/* Writes the in-memory record through to the registry. */
static int save(struct guest *g)
{
	int r = registry_update(g->d->reg, &g->rec);

	if (r)
		log_err("guest %s: cannot update the registry: %s", g->rec.name, strerror(-r));
	return r;
}

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = v ? strdup(v) : NULL;
}

static void set_state(struct guest *g, const char *state)
{
	set_str(&g->rec.state, state);
}

/* The process's start time (/proc/PID/stat field 22, clock ticks after boot: a recycled
 * pid does not share it; 0 when it cannot be read) and, when
 * state is given, its state letter (Z: a zombie, already ended). */
static uint64_t proc_stat(pid_t pid, char *state)
{
	char buf[1024];
	const char *p = procstat_read(pid, buf, sizeof(buf));
	unsigned long long v = 0;

	if (p && state)
		*state = p[0];
	if (!p || sscanf(p,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			 "%*d %*d %llu",
			 &v) != 1)
		return 0;
	return v;
}

static uint64_t proc_start_time(pid_t pid)
{
	return proc_stat(pid, NULL);
}

/* ---- creation ---- */

static bool name_ok(const char *n, char *err, size_t errlen)
{
	size_t len = strlen(n);

	if (len == 0 || len > GUEST_NAME_MAX) {
		snprintf(err, errlen, "name '%.80s': must be 1 to %d characters", n,
			 GUEST_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = n[i];
		bool alnum =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("._-", c))) {
			snprintf(err, errlen,
				 "name '%s': may hold only letters, digits, '.', '_' and '-', and "
				 "must start with a letter or digit",
				 n);
			return false;
		}
	}
	if (strstr(n, "..")) {
		snprintf(err, errlen, "name '%s': may not contain '..'", n);
		return false;
	}
	return true;
}

/* An absolute path to an existing file (dir = false) or directory. */
static bool path_ok(const char *field, const char *p, bool dir, char *err, size_t errlen)
{
	struct stat st;

	if (p[0] != '/') {
		snprintf(err, errlen, "%s '%.200s': must be an absolute path", field, p);
		return false;
	}
	if (stat(p, &st) < 0) {
		snprintf(err, errlen, "%s '%.200s': %s", field, p, strerror(errno));
		return false;
	}
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s '%.200s': not a %s", field, p,
			 dir ? "directory" : "regular file");
		return false;
	}
	return true;
}

static bool paths_ok(const cJSON *cfg, const char *field, bool dir, bool host_part, char *err,
		     size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(cfg, field);
	const cJSON *e;

	cJSON_ArrayForEach(e, a)
	{
		char buf[4096];
		char *sep;
		snprintf(buf, sizeof(buf), "%s", e->valuestring);
		sep = host_part ? strstr(buf, "::") : NULL;
		if (sep)
			*sep = 0;
		if (sep && sep[2] != '/') {
			snprintf(err, errlen, "%s '%.200s': the guest path must be absolute", field,
				 e->valuestring);
			return false;
		}
		if (!path_ok(field, buf, dir, err, errlen))
			return false;
	}
	return true;
}

const char *guest_disk_path(const char *spec, char *buf, size_t len)
{
	struct vblk_spec d;
	char why[256];

	if (vblk_split_spec(spec, &d, why, sizeof(why)) ||
	    snprintf(buf, len, "%s", d.path) >= (int)len)
		return spec; /* (checked at create: disks_ok) */
	return buf;
}

/* "disks": each a spec `lodge run --disk` takes, of an existing image (a destination's:
 * its path only, the source's stream has the options). */
static bool disks_ok(const cJSON *cfg, bool path_only, char *err, size_t errlen)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cfg, "disks"))
	{
		struct vblk_spec d;
		char why[300];
		if (vblk_split_spec(e->valuestring, &d, why, sizeof(why))) {
			snprintf(err, errlen, "disks '%.200s': %s", e->valuestring, why);
			return false;
		}
		/* a migration's may say its format (else the source's is taken) */
		if (path_only && d.opts[0] &&
		    (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "standby")) ||
		     (strcmp(d.opts, ",format=raw") && strcmp(d.opts, ",format=qcow2")))) {
			snprintf(err, errlen,
				 "disks '%.200s': a migration's or standby's disks are this host's "
				 "images for the source's writable disks, other options come with "
				 "its stream: give their paths (a ',' in one written twice, or as "
				 "path=), a migration's with format=raw or format=qcow2 at most",
				 e->valuestring);
			return false;
		}
		if ((d.bps && json_uint(cfg, "disk_bps", 0)) ||
		    (d.iops && json_uint(cfg, "disk_iops", 0))) {
			snprintf(err, errlen,
				 "disks '%.200s': has its own %s, and %s sets it too: give one",
				 e->valuestring,
				 d.bps ? "bps=" : "iops=", d.bps ? "disk_bps" : "disk_iops");
			return false;
		}
		if (!path_ok("disks", d.path, false, err, errlen))
			return false;
	}
	return true;
}

static int parse_restart(const char *s, enum restart_policy *out)
{
	if (!strcmp(s, "no"))
		*out = RESTART_NO;
	else if (!strcmp(s, "on-failure"))
		*out = RESTART_ON_FAILURE;
	else if (!strcmp(s, "always"))
		*out = RESTART_ALWAYS;
	else
		return -EINVAL;
	return 0;
}

/* Semantic checks of a create request (json_check did the types). */
/* The kind of guest a snapshot file holds (docs/SNAPSHOT.md): the first MACHINE section
 * (1) makes a system guest, a Wasm MODULE (0x10) a WebAssembly one; sections before it
 * (a later version's identity sections) are skipped. Returns 0 or -EINVAL. */
/* What a snapshot file says of its guest: the kind, and for a system guest its MACHINE
 * section's RAM size and harts (docs/SNAPSHOT.md; 0 when unreadable: the restore itself
 * then refuses the file). */
struct snap_machine {
	uint64_t ram;
	uint32_t harts;
};

static int snapshot_kind(const char *path, enum guest_kind *kind, struct snap_machine *m, char *err,
			 size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t h[32];
	uint64_t off = 32;
	struct stat st;
	int r = -EINVAL;

	if (m)
		*m = (struct snap_machine){0};
	if (fd < 0 || fstat(fd, &st) < 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, "LODGESNP", 8)) {
		snprintf(err, errlen, "restore '%.200s': not a Lodge snapshot", path);
		goto out;
	}
	for (int i = 0; i < 8 && off + 24 <= (uint64_t)st.st_size; i++) {
		uint8_t s[24], p[24];
		uint32_t type;
		uint64_t len = 0;
		if (pread(fd, s, sizeof(s), (off_t)off) != (ssize_t)sizeof(s))
			break;
		type = (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
		       (uint32_t)s[3] << 24;
		for (int k = 7; k >= 0; k--)
			len = len << 8 | s[8 + k];
		if (type == 1 || type == 0x10) {
			*kind = type == 1 ? GUEST_VM : GUEST_WASM;
			/* MACHINE: u32 version, u64 RAM base, u64 RAM size, u32 harts */
			if (m && type == 1 && len >= sizeof(p) &&
			    pread(fd, p, sizeof(p), (off_t)(off + 24)) == (ssize_t)sizeof(p)) {
				for (int k = 7; k >= 0; k--)
					m->ram = m->ram << 8 | p[12 + k];
				for (int k = 3; k >= 0; k--)
					m->harts = m->harts << 8 | p[20 + k];
			}
			r = 0;
			goto out;
		}
		if (len > (uint64_t)st.st_size)
			break;
		off += 24 + len;
	}
	snprintf(err, errlen, "restore '%.200s': a snapshot of an unknown kind", path);
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* A guest created from a snapshot (`restore`): its kernel or module, limits and devices
 * come from the file; a Wasm guest's `dirs` are bound where the saved program had them. */
static int check_restore(const cJSON *c, enum guest_kind *kind, char *err, size_t errlen)
{
	static const char *const from_file[] = {"kernel", "initrd", "append", "firmware", "disks",
						"nets",	  "wasm",   "args",   "env"};
	const char *rs = json_str(c, "restore", ""), *k = json_str(c, "kind", NULL);
	int r;

	for (size_t i = 0; i < sizeof(from_file) / sizeof(from_file[0]); i++)
		if (cJSON_GetObjectItemCaseSensitive(c, from_file[i])) {
			snprintf(err, errlen,
				 "'%s': a guest restored from a snapshot takes it from the file",
				 from_file[i]);
			return -EINVAL;
		}
	if (!path_ok("restore", rs, false, err, errlen))
		return -EINVAL;
	r = snapshot_kind(rs, kind, NULL, err, errlen);
	if (r)
		return r;
	if (k && strcmp(k, *kind == GUEST_VM ? "vm" : "wasm")) {
		snprintf(err, errlen, "kind '%.20s' does not match the snapshot (%s)", k,
			 *kind == GUEST_VM ? "vm" : "wasm");
		return -EINVAL;
	}
	if (*kind == GUEST_VM && cJSON_GetObjectItemCaseSensitive(c, "dirs")) {
		snprintf(err, errlen, "'dirs' is for WebAssembly guests");
		return -EINVAL;
	}
	if (*kind != GUEST_VM && cJSON_GetObjectItemCaseSensitive(c, "backing_files")) {
		snprintf(err, errlen, "'backing_files' is for system guests (their disks' copies)");
		return -EINVAL;
	}
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "backing_files")) >
	    SANDBOX_MAX_BACKING_FILES) {
		snprintf(err, errlen, "backing_files: at most %d", SANDBOX_MAX_BACKING_FILES);
		return -EINVAL;
	}
	return paths_ok(c, "dirs", true, true, err, errlen) ? 0 : -EINVAL;
}

/* A guest that comes by live migration ("incoming": HOST:PORT, where this daemon
 * listens): everything but host settings comes from the stream; "kind" says which. */
static int check_incoming(const cJSON *c, enum guest_kind *kind, char *err, size_t errlen)
{
	static const char *const from_stream[] = {"kernel", "initrd", "append", "firmware", "nets",
						  "wasm",   "args",   "env",	"restore"};
	const char *in = json_str(c, "incoming", ""), *k = json_str(c, "kind", "vm");

	for (size_t i = 0; i < sizeof(from_stream) / sizeof(from_stream[0]); i++)
		if (cJSON_GetObjectItemCaseSensitive(c, from_stream[i])) {
			snprintf(err, errlen,
				 "'%s': a guest that comes by migration takes it from "
				 "the migration stream (--kind wasm for a WebAssembly one)",
				 from_stream[i]);
			return -EINVAL;
		}
	if (!strrchr(in, ':') || !strrchr(in, ':')[1] || strlen(in) > 255) {
		snprintf(err, errlen, "incoming '%.80s': must be HOST:PORT (where to listen)", in);
		return -EINVAL;
	}
	{
		const char *port = strrchr(in, ':') + 1;
		char *end;
		unsigned long n = strtoul(port, &end, 10);
		if (*end || port[0] < '0' || port[0] > '9' || n < 1 || n > 65535) {
			snprintf(err, errlen, "incoming '%.80s': the port must be 1 to 65535", in);
			return -EINVAL;
		}
	}
	if (strcmp(k, "vm") && strcmp(k, "wasm")) {
		snprintf(err, errlen, "kind '%.20s': must be vm or wasm", k);
		return -EINVAL;
	}
	*kind = strcmp(k, "vm") ? GUEST_WASM : GUEST_VM;
	if (*kind == GUEST_VM && cJSON_GetObjectItemCaseSensitive(c, "dirs")) {
		snprintf(err, errlen, "'dirs' is for WebAssembly guests");
		return -EINVAL;
	}
	/* "disks": this host's images for the source's writable disks (copied with the
	 * RAM, or with "shared_disks" the same files, opened once the source let go) */
	if (*kind == GUEST_WASM && cJSON_GetObjectItemCaseSensitive(c, "disks")) {
		snprintf(err, errlen, "'disks' is for system guests");
		return -EINVAL;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "shared_disks")) &&
	    (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "standby")) ||
	     !cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "disks")))) {
		snprintf(err, errlen, "'shared_disks' goes with 'disks' of a migration's guest");
		return -EINVAL;
	}
	return paths_ok(c, "dirs", true, true, err, errlen) && disks_ok(c, true, err, errlen)
		       ? 0
		       : -EINVAL;
}

/* A Wasm guest's args and env within what its process takes (docs/API.md): lodge wasm's
 * GUEST_MAX_ENV --env options, and the whole command line in a pool process's handover
 * (SANDBOX_HANDOVER_MAX; GUEST_MAX_ARGV_BYTES of it for these, the rest for the
 * daemon's own options). Checked at create, so that a start does not fail for them. */
_Static_assert(GUEST_MAX_ARGV_BYTES + (8u << 10) <= SANDBOX_HANDOVER_MAX,
	       "room in a pool process's handover for the daemon's own options");

static bool argv_fits(const cJSON *c, char *err, size_t errlen)
{
	static const char *const fields[] = {"args", "env"};
	static const unsigned max[] = {GUEST_MAX_ARGS, GUEST_MAX_ENV};
	size_t bytes = 0;

	for (unsigned f = 0; f < 2; f++) {
		const cJSON *e, *a = cJSON_GetObjectItemCaseSensitive(c, fields[f]);
		unsigned n = (unsigned)cJSON_GetArraySize(a);
		if (n > max[f]) {
			snprintf(err, errlen, "%s: %u entries, at most %u", fields[f], n, max[f]);
			return false;
		}
		cJSON_ArrayForEach(e, a) bytes += strlen(e->valuestring) + 1;
	}
	if (bytes > GUEST_MAX_ARGV_BYTES) {
		snprintf(err, errlen,
			 "args and env: %zu bytes together (each string with its NUL), at most "
			 "%u (the guest process's command line)",
			 bytes, GUEST_MAX_ARGV_BYTES);
		return false;
	}
	return true;
}

/* A system guest's virtio devices from its configuration (disks and nets): the slots but
 * those of the entropy source every machine has and the power button the daemon adds. */
#define GUEST_VM_DEVICES (VM_VIRTIO_SLOTS - 2)

/* The rest of what the guest process takes of a configuration, checked at create so that
 * a start does not fail for it (the limits are those the start path uses): the kernel
 * command line, what the sandbox shares (dirs and disks), a machine's device slots,
 * each disk once, and network specs `lodge run --net` takes. */
static bool devices_fit(const cJSON *c, bool vm, char *err, size_t errlen)
{
	const cJSON *disks = cJSON_GetObjectItemCaseSensitive(c, "disks");
	const cJSON *nets = cJSON_GetObjectItemCaseSensitive(c, "nets");
	const cJSON *dirs = cJSON_GetObjectItemCaseSensitive(c, "dirs");
	unsigned nd = (unsigned)cJSON_GetArraySize(disks), nn = (unsigned)cJSON_GetArraySize(nets);
	unsigned ndirs = (unsigned)cJSON_GetArraySize(dirs);
	const char *append = json_str(c, "append", NULL);
	size_t arena = 0;
	const cJSON *e, *f;

	if (append && strlen(append) > VM_MAX_CMDLINE) {
		snprintf(err, errlen, "append: %zu bytes, at most %d (the kernel command line)",
			 strlen(append), VM_MAX_CMDLINE);
		return false;
	}
	if (nd + ndirs > SANDBOX_MAX_SHARED) {
		snprintf(err, errlen, "%s: %u entries, at most %d (what the sandbox shares)",
			 vm ? "disks" : "dirs", nd + ndirs, SANDBOX_MAX_SHARED);
		return false;
	}
	cJSON_ArrayForEach(e, dirs)
	{
		const char *sep = strstr(e->valuestring, "::");
		arena += (sep ? (size_t)(sep - e->valuestring) : strlen(e->valuestring)) + 1;
	}
	if (arena > SANDBOX_ARENA_MAX) {
		snprintf(err, errlen,
			 "dirs: their host paths take %zu bytes (each with its NUL), at most %d",
			 arena, SANDBOX_ARENA_MAX);
		return false;
	}
	if (vm && nd + nn > GUEST_VM_DEVICES) {
		snprintf(err, errlen,
			 "disks and nets: %u devices together, at most %d (the machine's virtio "
			 "slots)",
			 nd + nn, GUEST_VM_DEVICES);
		return false;
	}
	cJSON_ArrayForEach(e, disks)
	{
		struct stat a, b;
		char pa[PATH_MAX], pb[PATH_MAX];
		const char *ea = guest_disk_path(e->valuestring, pa, sizeof(pa));
		if (strcmp(ea, e->valuestring))
			arena += strlen(ea) + 1; /* the sandbox keeps it */
		if (stat(ea, &a) < 0)
			continue; /* disks_ok says why */
		for (f = e->next; f; f = f->next)
			if (stat(guest_disk_path(f->valuestring, pb, sizeof(pb)), &b) == 0 &&
			    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
				snprintf(err, errlen,
					 "disks '%.200s' and '%.200s': the same file twice (a disk "
					 "image can be one disk only)",
					 e->valuestring, f->valuestring);
				return false;
			}
	}
	if (arena > SANDBOX_ARENA_MAX) {
		snprintf(err, errlen,
			 "disks: the paths of those with options take %zu bytes (each with its "
			 "NUL), at most %d",
			 arena, SANDBOX_ARENA_MAX);
		return false;
	}
	cJSON_ArrayForEach(e, nets)
	{
		char why[256];
		if (vnet_check_args(e->valuestring, why, sizeof(why))) {
			snprintf(err, errlen, "nets '%.80s': %s", e->valuestring, why);
			return false;
		}
	}
	return true;
}

static int check_config(const cJSON *c, enum guest_kind *kind, char *err, size_t errlen)
{
	const char *k = json_str(c, "kind", NULL), *kernel = json_str(c, "kernel", NULL);
	const char *wasm = json_str(c, "wasm", NULL), *rs = json_str(c, "restart", "no");
	enum restart_policy rp;
	uint64_t cpus = json_uint(c, "cpus", 1), mem = json_uint(c, "memory", 0);
	double quota = json_num(c, "cpu_quota", 0);
	const cJSON *e;

	if (!name_ok(json_str(c, "name", ""), err, errlen))
		return -EINVAL;
	if (!json_str(c, "restore", NULL) && cJSON_GetObjectItemCaseSensitive(c, "backing_files")) {
		snprintf(err, errlen,
			 "'backing_files' goes with 'restore' (the backing files a snapshot's disk "
			 "copies name; a guest's own disks' chains are read at create)");
		return -EINVAL;
	}
	if (json_str(c, "restore", NULL)) {
		int r = check_restore(c, kind, err, errlen);
		if (r)
			return r;
		kernel = *kind == GUEST_VM ? json_str(c, "restore", "") : NULL;
		wasm = kernel ? NULL : json_str(c, "restore", "");
		goto limits;
	}
	if (!json_str(c, "incoming", NULL) &&
	    (cJSON_GetObjectItemCaseSensitive(c, "standby") ||
	     cJSON_GetObjectItemCaseSensitive(c, "failover") ||
	     cJSON_GetObjectItemCaseSensitive(c, "shared_disks"))) {
		snprintf(err, errlen,
			 "'standby', 'failover' and 'shared_disks' go with 'incoming' (where "
			 "the stream comes)");
		return -EINVAL;
	}
	if (strcmp(json_str(c, "failover", "manual"), "manual") &&
	    strcmp(json_str(c, "failover", "manual"), "auto")) {
		snprintf(err, errlen, "failover '%.20s': must be manual or auto",
			 json_str(c, "failover", ""));
		return -EINVAL;
	}
	if (json_str(c, "incoming", NULL)) {
		int r = check_incoming(c, kind, err, errlen);
		if (r)
			return r;
		kernel = *kind == GUEST_VM ? json_str(c, "incoming", "") : NULL;
		wasm = kernel ? NULL : json_str(c, "incoming", "");
		goto limits;
	}
	if (!kernel == !wasm) {
		snprintf(err, errlen,
			 "give either 'kernel' (a system guest) or 'wasm' (a "
			 "WebAssembly guest), not %s",
			 kernel ? "both" : "neither");
		return -EINVAL;
	}
	*kind = kernel ? GUEST_VM : GUEST_WASM;
	if (k && strcmp(k, kernel ? "vm" : "wasm")) {
		snprintf(err, errlen, "kind '%.20s' does not match the guest (%s)", k,
			 kernel ? "vm: it has a kernel" : "wasm: it has a module");
		return -EINVAL;
	}
	if (kernel) {
		static const char *const wasm_only[] = {"wasm", "args", "env", "dirs"};
		for (size_t i = 0; i < sizeof(wasm_only) / sizeof(wasm_only[0]); i++)
			if (cJSON_GetObjectItemCaseSensitive(c, wasm_only[i])) {
				snprintf(err, errlen, "'%s' is for WebAssembly guests",
					 wasm_only[i]);
				return -EINVAL;
			}
	} else {
		static const char *const vm_only[] = {"initrd", "append", "firmware", "disks",
						      "nets"};
		for (size_t i = 0; i < sizeof(vm_only) / sizeof(vm_only[0]); i++)
			if (cJSON_GetObjectItemCaseSensitive(c, vm_only[i])) {
				snprintf(err, errlen, "'%s' is for system guests", vm_only[i]);
				return -EINVAL;
			}
	}
	if ((kernel && !path_ok("kernel", kernel, false, err, errlen)) ||
	    (wasm && !path_ok("wasm", wasm, false, err, errlen)))
		return -EINVAL;
	if ((json_str(c, "initrd", NULL) &&
	     !path_ok("initrd", json_str(c, "initrd", ""), false, err, errlen)) ||
	    (json_str(c, "firmware", NULL) &&
	     !path_ok("firmware", json_str(c, "firmware", ""), false, err, errlen)) ||
	    !disks_ok(c, false, err, errlen) || !paths_ok(c, "dirs", true, true, err, errlen))
		return -EINVAL;
	cJSON_ArrayForEach(
		e, cJSON_GetObjectItemCaseSensitive(c, "env")) if (!strchr(e->valuestring, '=') ||
								   e->valuestring[0] == '=')
	{
		snprintf(err, errlen, "env '%.80s': must be KEY=VALUE", e->valuestring);
		return -EINVAL;
	}
	if (!argv_fits(c, err, errlen))
		return -EINVAL;
limits:
	if (!devices_fit(c, kernel != NULL, err, errlen))
		return -EINVAL;
	if (!kernel && cJSON_GetObjectItemCaseSensitive(c, "hugepages")) {
		snprintf(err, errlen, "'hugepages' is for system guests (their RAM)");
		return -EINVAL;
	}
	if (!kernel && cJSON_GetObjectItemCaseSensitive(c, "jit_cache")) {
		snprintf(err, errlen,
			 "'jit_cache' is for system guests (their harts' code caches)");
		return -EINVAL;
	}
	uint64_t jc = json_uint(c, "jit_cache", VM_JIT_CACHE_DEFAULT);
	if (jc < VM_JIT_CACHE_MIN || jc > VM_JIT_CACHE_MAX) {
		snprintf(err, errlen, "jit_cache %llu: must be %llu to %llu bytes (1M to 1G)",
			 (unsigned long long)jc, (unsigned long long)VM_JIT_CACHE_MIN,
			 (unsigned long long)VM_JIT_CACHE_MAX);
		return -EINVAL;
	}
	if (cpus < 1 || cpus > 32 || (!kernel && cpus != 1)) {
		snprintf(err, errlen, "cpus %llu: must be 1 to 32 (and 1 for WebAssembly guests)",
			 (unsigned long long)cpus);
		return -EINVAL;
	}
	if (mem && (mem % 4096 || (kernel && mem < MIN_VM_MEMORY) || mem > (1ull << 40))) {
		snprintf(err, errlen,
			 "memory %llu: must be a multiple of 4 KiB, at least 16 MiB for a "
			 "system guest, at most 1 TiB",
			 (unsigned long long)mem);
		return -EINVAL;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "nets"))
	{
		static const char *const keys[][2] = {{"bps=", "net_bps"}, {"pps=", "net_pps"}};
		for (size_t q = 0; q < sizeof(keys) / sizeof(keys[0]); q++) {
			char key[8];
			snprintf(key, sizeof(key), ",%s", keys[q][0]);
			if (json_uint(c, keys[q][1], 0) &&
			    (!strncmp(e->valuestring, key + 1, 4) || strstr(e->valuestring, key))) {
				snprintf(err, errlen,
					 "nets '%.80s': has its own %s, and %s sets it too: give "
					 "one",
					 e->valuestring, keys[q][0], keys[q][1]);
				return -EINVAL;
			}
		}
	}
	if (cJSON_GetObjectItemCaseSensitive(c, "cpu_quota") &&
	    !(quota >= GUEST_MIN_CPU_QUOTA && quota <= GUEST_MAX_CPU_QUOTA)) {
		snprintf(err, errlen, "cpu_quota %g: must be from %g to %g (CPUs, e.g. 0.5)", quota,
			 GUEST_MIN_CPU_QUOTA, GUEST_MAX_CPU_QUOTA);
		return -EINVAL;
	}
	if (parse_restart(rs, &rp)) {
		snprintf(err, errlen, "restart '%.40s': must be no, on-failure or always", rs);
		return -EINVAL;
	}
	return 0;
}

static int make_dirs(struct guest *g)
{
	char p[600];

	if (mkdir(g->dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	guest_path(g, "run", p, sizeof(p));
	if (mkdir(p, 0750) < 0 && errno != EEXIST)
		return -errno;
	guest_path(g, "root", p, sizeof(p));
	if (mkdir(p, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A guest object for a registry row (takes the row's strings). */
static struct guest *guest_new(struct daemon *d, struct guest_record *rec)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->d = d;
	g->rec = *rec;
	memset(rec, 0, sizeof(*rec));
	g->pidfd = -1;
	g->id_slot = -1;
	g->mig_listen = -1;
	g->ready_fd = -1;
	g->config = cJSON_Parse(g->rec.config ? g->rec.config : "{}");
	g->kind = g->rec.kind && !strcmp(g->rec.kind, "wasm") ? GUEST_WASM : GUEST_VM;
	if (!g->config || parse_restart(json_str(g->config, "restart", "no"), &g->restart))
		g->restart = RESTART_NO;
	if (snprintf(g->dir, sizeof(g->dir), "%s/guests/%s", d->state, g->rec.name) >=
	    (int)sizeof(g->dir))
		g->dir[0] = 0; /* the state directory's name is checked to leave room */
	if (evloop_timer_add(d->loop, on_timer, g, &g->timer)) {
		cJSON_Delete(g->config);
		registry_record_fini(&g->rec);
		free(g);
		return NULL;
	}
	g->next = d->guests;
	d->guests = g;
	return g;
}

static void guest_free(struct guest *g)
{
	struct daemon *d = g->d;

	for (struct guest **pp = &d->guests; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	evloop_timer_del(g->timer);
	evloop_watch_del(g->pid_watch);
	incoming_close(g);
	ready_close(g);
	if (g->start_conn)
		api_conn_on_close(g->start_conn, NULL, NULL);
	if (g->mig_conn)
		api_conn_on_close(g->mig_conn, NULL, NULL);
	evloop_watch_del(g->snap_watch);
	api_client_close(g->snap_client);
	if (g->snap_conn)
		api_conn_on_close(g->snap_conn, NULL, NULL);
	if (g->pidfd >= 0)
		close(g->pidfd);
	/* A process still starting may read this: only free it once it has executed, which
	 * it has when it ended; a guest unloaded while running (daemon exit) executed long
	 * ago, or was killed. */
	spawn_free(g);
	cJSON_Delete(g->config);
	registry_record_fini(&g->rec);
	free(g);
}

/* At create, from the files as the user gives them: a system guest's disk whose spec
 * names no format and whose image is qcow2 gets ",format=qcow2" (a raw one stays
 * unpinned: probed raw at each start, its guest may not write a qcow2 header into it,
 * devices/virtio/blk.c), and every qcow2 disk's backing chain is recorded (config
 * "backing_binds", sandbox_record_chain): the files bound for it at every start, whatever
 * its header says by then. An incoming guest's disks (pin_format false) keep their specs
 * (a format not given is the stream's) and get their chains recorded the same way: on
 * shared storage, or a copy's image that is an overlay, the stream's qcow2 disk opens
 * its backing files where its sandbox has them. */
static int pin_disks(cJSON *c, bool pin_format, char *err, size_t errlen)
{
	cJSON *e, *binds = cJSON_CreateArray();
	unsigned i = 0;
	int r = binds ? 0 : -ENOMEM;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "disks"))
	{
		struct disk_options o = {.readonly = true, .no_locks = true};
		struct vblk_spec v;
		struct disk *dk;
		char why[DISK_ERR_LEN], *spec;
		bool qcow2;
		unsigned k = i++;
		if (r || !cJSON_IsString(e) ||
		    vblk_split_spec(e->valuestring, &v, why, sizeof(why)))
			continue;
		qcow2 = v.qcow2;
		if (!v.format && !disk_open(v.path, &o, &dk, why, sizeof(why))) {
			qcow2 = !strcmp(disk_format_name(dk), "qcow2");
			disk_close(dk);
			if (qcow2 && pin_format &&
			    asprintf(&spec, "%s,format=qcow2", e->valuestring) >= 0) {
				cJSON_SetValuestring(e, spec);
				free(spec);
			}
		}
		if (qcow2)
			r = sandbox_record_chain(v.path, k, binds, err, errlen);
	}
	if (!r && cJSON_GetArraySize(binds))
		cJSON_AddItemToObject(c, "backing_binds", binds);
	else
		cJSON_Delete(binds);
	return r;
}

/* At create of a restored system guest: the files the user gave in "backing_files"
 * recorded as "backing_binds" (sandbox_record_file), bound at every start as a disk's
 * chain is. */
static int record_backing_files(cJSON *c, char *err, size_t errlen)
{
	cJSON *e, *binds = cJSON_GetObjectItemCaseSensitive(c, "backing_binds");
	int r = 0;

	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "backing_files")))
		return 0;
	if (!binds) {
		binds = cJSON_AddArrayToObject(c, "backing_binds");
		if (!binds)
			return -ENOMEM;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "backing_files")) r =
		r ?: sandbox_record_file(e->valuestring, binds, err, errlen);
	return r;
}

int guest_create(struct daemon *d, const cJSON *body, struct guest **out, char *err, size_t errlen)
{
	struct guest_record rec = {0};
	enum guest_kind kind;
	struct guest *g;
	char *text;
	int r = check_config(body, &kind, err, errlen);

	if (r)
		return r;
	if (kind == GUEST_VM && !json_str(body, "firmware", NULL) &&
	    !json_str(body, "restore", NULL) && !json_str(body, "incoming", NULL)) {
		char fw[PATH_MAX];
		if (!sandbox_default_firmware(d->binary, fw, sizeof(fw))) {
			snprintf(err, errlen,
				 "no firmware for the system guest: give 'firmware' (lodge create "
				 "--firmware FILE, an absolute path to OpenSBI's fw_dynamic.bin: "
				 "Debian's opensbi package installs " SANDBOX_FIRMWARE_DEBIAN
				 ", `make guest` builds guest-cache/out/fw_dynamic.bin)");
			return -EINVAL;
		}
	}
	if (guest_find(d, json_str(body, "name", ""))) {
		snprintf(err, errlen, "a guest named '%s' exists already",
			 json_str(body, "name", ""));
		return -EEXIST;
	}
	{
		cJSON *pinned = cJSON_Duplicate(body, true);
		if (!pinned)
			return -ENOMEM;
		r = kind == GUEST_VM
			    ? pin_disks(pinned, !json_str(body, "incoming", NULL), err, errlen)
			    : 0;
		if (!r && kind == GUEST_VM && json_str(body, "restore", NULL))
			r = record_backing_files(pinned, err, errlen);
		text = r ? NULL : cJSON_PrintUnformatted(pinned);
		cJSON_Delete(pinned);
		if (r)
			return r;
	}
	if (!text)
		return -ENOMEM;
	rec.name = strdup(json_str(body, "name", ""));
	rec.kind = strdup(kind == GUEST_VM ? "vm" : "wasm");
	rec.config = text;
	rec.state = strdup("created");
	rec.created_ms = registry_now_ms();
	if (!rec.name || !rec.kind || !rec.state) {
		registry_record_fini(&rec);
		return -ENOMEM;
	}
	r = registry_insert(d->reg, &rec);
	if (r) {
		snprintf(err, errlen,
			 r == -EEXIST ? "a guest named '%s' exists already"
				      : "cannot record guest '%s' in the registry",
			 rec.name);
		registry_record_fini(&rec);
		return r;
	}
	g = guest_new(d, &rec);
	if (!g) {
		registry_record_fini(&rec);
		return -ENOMEM;
	}
	r = make_dirs(g);
	if (r) {
		snprintf(err, errlen, "cannot make %s: %s", g->dir, strerror(-r));
		if (registry_delete(d->reg, g->rec.name))
			log_err("guest %s: cannot remove it from the registry", g->rec.name);
		guest_free(g);
		return r;
	}
	daemon_event(d, g->rec.name, "create", "%s guest", g->rec.kind);
	*out = g;
	return 0;
}

/* ---- the guest process ---- */

struct argv_buf {
	/* the daemon's options, GUEST_MAX_ARGS args, GUEST_MAX_ENV --env K=V, --dir for each
	 * of at most SANDBOX_MAX_BINDS files */
	char *v[64 + GUEST_MAX_ARGS + 2 * GUEST_MAX_ENV + 2 * SANDBOX_MAX_BINDS];
	unsigned n;
	bool overflow;
};

static void arg(struct argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void arg(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->n + 1 >= sizeof(a->v) / sizeof(a->v[0])) {
		a->overflow = true;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s) {
		a->overflow = true;
		return;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void argv_free(struct argv_buf *a)
{
	for (unsigned i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

/* What a starting guest process reads from the daemon's memory (sandbox_spawn): kept
 * until the process has ended. */
struct spawn_res {
	struct argv_buf av, ev;
	struct sandbox_child ch;
};

static void spawn_free(struct guest *g)
{
	if (!g->spawn)
		return;
	argv_free(&g->spawn->av);
	argv_free(&g->spawn->ev);
	sandbox_child_free(&g->spawn->ch);
	free(g->spawn);
	g->spawn = NULL;
}

static void arg_array(struct argv_buf *a, const cJSON *cfg, const char *field, const char *opt)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cfg, field))
	{
		if (opt)
			arg(a, "%s", opt);
		arg(a, "%s", e->valuestring);
	}
}

/* Paths the guest sees through its sandbox: --disk /files/disk0, --dir /dirs/0::/data;
 * `suffix` is appended to each (device options such as ",bps=N"). */
static void arg_paths(struct argv_buf *a, const cJSON *cfg, const char *field, const char *opt,
		      struct sandbox_plan *p, const char *kind, const char *suffix)
{
	unsigned i = 0;
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cfg, field))
	{
		struct vblk_spec d = {.opts = ""};
		const char *path = e->valuestring;
		char why[256];
		if (!strcmp(kind, "disk") && !vblk_split_spec(e->valuestring, &d, why, sizeof(why)))
			path = d.path; /* (checked at create: disks_ok) */
		path = sandbox_inside(p, d.readonly ? "ro-disk" : kind, i++, path);
		arg(a, "%s", opt);
		if (!strcmp(kind, "disk") && strcmp(opt, "--standby-disk") && strpbrk(path, ",=")) {
			/* a host path (no sandbox) with ',' or '=': as path=, its ','s doubled
			 * (--standby-disk takes the path as it is) */
			char esc[2 * PATH_MAX + 1];
			keyval_escape(esc, sizeof(esc), path);
			arg(a, "path=%s%s%s", esc, d.opts, suffix);
		} else {
			arg(a, "%s%s%s", path, d.opts, suffix);
		}
	}
}

/* A guest coming by a stream may have the host files of its own: in the sandbox what it
 * sees under /files (a system guest's disks) or /dirs (a Wasm guest's directories):
 * nothing else of the host's is there; without one their host paths. A system guest's
 * disks are pinned as --incoming-disk or --standby-disk anyway, so any other path its
 * stream names (a disk elsewhere, a vsock socket) is refused; a Wasm migration's stream
 * names its directories (a standby's are pinned with --dir). Port forwards bind in the
 * guest's own network namespace when it has one (no host network). */
static void arg_allow(struct argv_buf *a, enum guest_kind kind, const cJSON *cfg,
		      struct sandbox_plan *p)
{
	const bool vm = kind == GUEST_VM;
	const char *field = vm ? "disks" : "dirs";
	const cJSON *e;

	if (vm && p->netns)
		arg(a, "--incoming-allow-hostfwd");
	if (!vm && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "standby")))
		return;
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cfg, field)))
		return; /* none in its sandbox either */
	if (p->enabled) {
		arg(a, "--incoming-allow=%s", vm ? "/files" : "/dirs");
		return;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cfg, field))
	{
		/* a directory's "HOST::GUEST": its host part; a disk's spec: its path */
		char path[PATH_MAX];
		const char *host =
			vm ? guest_disk_path(e->valuestring, path, sizeof(path)) : e->valuestring;
		const char *sep = vm ? NULL : strstr(host, "::");
		int n = sep ? (int)(sep - host) : (int)strlen(host);
		arg(a, "--incoming-allow=%.*s", n, host);
	}
}

/* ",bps=N" for a rate limit in the config (the devices' token buckets), or "". */
static void bps_suffix(const cJSON *c, const char *bps, const char *ops, const char *ops_key,
		       char *out, size_t len)
{
	uint64_t b = json_uint(c, bps, 0), o = json_uint(c, ops, 0);
	int n = 0;

	out[0] = 0;
	if (b)
		n = snprintf(out, len, ",bps=%llu", (unsigned long long)b);
	if (o && n >= 0 && (size_t)n < len)
		snprintf(out + n, len - (size_t)n, ",%s=%llu", ops_key, (unsigned long long)o);
}

/* The command line of the guest process (paths as the guest will see them). */
static void build_argv(struct guest *g, struct sandbox_plan *p, struct argv_buf *a)
{
	const cJSON *c = g->config;
	uint64_t mem = json_uint(c, "memory", 0);

	const char *restore = json_str(c, "restore", NULL);
	const char *incoming = json_str(c, "incoming", NULL);

	arg(a, "lodge");
	if (incoming) {
		/* the daemon listens and hands the connection over (the guest may have no
		 * network): the control socket gets it */
		arg(a, "%s", g->kind == GUEST_VM ? "run" : "wasm");
		if (g->kind == GUEST_WASM && mem) /* this host's cap on what the stream brings */
			arg(a, "--max-memory=%llu", (unsigned long long)mem);
		arg_allow(a, g->kind, c, p);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "standby"))) {
			/* the primary's replication stream instead of a migration */
			arg(a, "--standby=control");
			if (!strcmp(json_str(c, "failover", "manual"), "auto"))
				arg(a, "--failover=auto");
			arg_paths(a, c, "disks", "--standby-disk", p, "disk", "");
			/* a Wasm standby's copies of the primary's directories */
			arg_paths(a, c, "dirs", "--dir", p, "dir", "");
		} else {
			arg(a, "--incoming=control");
			arg_paths(a, c, "disks", "--incoming-disk", p, "disk",
				  cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "shared_disks"))
					  ? ",shared=on"
					  : "");
		}
		restore = incoming; /* no module or arguments below */
	} else if (restore) {
		/* everything but host options comes from the snapshot */
		arg(a, "%s", g->kind == GUEST_VM ? "run" : "wasm");
		arg(a, "--restore=%s", sandbox_inside(p, "restore", 0, restore));
		if (g->kind == GUEST_VM) {
			/* its disks: overlays in the run directory over the copies the
			 * snapshot has (sandbox.c binds them), each checked against what
			 * the snapshot recorded of it (they are its own, at other paths) */
			char saved[PATH_MAX];
			const char *fmt;
			for (unsigned k = 0, i = 0; k < SANDBOX_SAVED_DISKS; k++)
				if ((fmt = sandbox_saved_disk(restore, k, saved, sizeof(saved))))
					arg(a, "--restore-disk=%s,format=%s,verify=on",
					    sandbox_inside(p, "disk", i++, saved), fmt);
			arg(a, "--overlay-dir=%s", p->enabled ? "/run" : p->run_dir);
		}
	} else if (g->kind == GUEST_VM) {
		arg(a, "run");
		arg(a, "--kernel=%s", sandbox_inside(p, "kernel", 0, json_str(c, "kernel", "")));
		if (json_str(c, "initrd", NULL))
			arg(a, "--initrd=%s",
			    sandbox_inside(p, "initrd", 0, json_str(c, "initrd", "")));
		const char *fw = sandbox_inside(p, "firmware", 0, "");
		if (fw[0]) /* the request's, or the default one the plan found */
			arg(a, "--firmware=%s", fw);
		if (json_str(c, "append", NULL))
			arg(a, "--append=%s", json_str(c, "append", ""));
		arg(a, "--mem=%llu", (unsigned long long)(mem ? mem : DEFAULT_VM_MEMORY));
		arg(a, "--cpus=%llu", (unsigned long long)json_uint(c, "cpus", 1));
		char disk_bps[64], net_bps[64];
		const cJSON *e;
		bps_suffix(c, "disk_bps", "disk_iops", "iops", disk_bps, sizeof(disk_bps));
		bps_suffix(c, "net_bps", "net_pps", "pps", net_bps, sizeof(net_bps));
		arg_paths(a, c, "disks", "--disk", p, "disk", disk_bps);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "nets"))
		{
			arg(a, "--net");
			arg(a, "%s%s", e->valuestring, net_bps);
		}
		arg(a, "--power-button");
	} else {
		arg(a, "wasm");
		if (mem)
			arg(a, "--max-memory=%llu", (unsigned long long)mem);
		arg_array(a, c, "env", "--env");
		arg_paths(a, c, "dirs", "--dir", p, "dir", "");
	}
	if (g->kind == GUEST_VM) {
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(c, "hugepages");
		arg(a, "--hugepages=%s", (h ? cJSON_IsTrue(h) : DEFAULT_HUGEPAGES) ? "on" : "off");
		if (cJSON_GetObjectItemCaseSensitive(c, "jit_cache"))
			arg(a, "--jit-cache=%llu",
			    (unsigned long long)json_uint(c, "jit_cache", 0));
	}
	arg(a, "--api=%s", sandbox_inside(p, "run", 0, "api.sock"));
	arg(a, "--console-log=%s", sandbox_inside(p, "run", 0, "console.log"));
	arg(a, "--exit-file=%s", sandbox_inside(p, "run", 0, "exit.json"));
	if (g->ready_fd >= 0)
		arg(a, "--ready-file=%s", sandbox_inside(p, "run", 0, "ready"));
	if (p->seccomp)
		arg(a, "--seccomp");
	if (p->spec_path[0]) /* open for it, under its own descriptor (sandbox.h) */
		arg(a, "--sandbox=%s", SANDBOX_SPEC_PATH);
	if (g->kind == GUEST_WASM && !restore) {
		arg(a, "--");
		arg(a, "%s", sandbox_inside(p, "wasm", 0, json_str(c, "wasm", "")));
		arg_array(a, c, "args", NULL);
	}
}

/* The guest's environment: nothing of the daemon's but logging and test settings. */
static void build_env(struct argv_buf *e, bool sandboxed)
{
	static const char *const keep[] = {"LODGE_LOG", "UBSAN_OPTIONS", "LODGE_TEST_HOOK"};
	const char *asan = getenv("ASAN_OPTIONS");

	arg(e, "PATH=/usr/bin:/bin");
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (getenv(keep[i]))
			arg(e, "%s=%s", keep[i], getenv(keep[i]));
	/* Sanitizer builds: the leak checker stops the world with ptrace, which the seccomp
	 * filter (rightly) forbids. */
	if (asan || sandboxed)
		arg(e, "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "", asan ? ":" : "");
}

/* LODGE_HOST_PATHS for a sandboxed system guest: "INSIDE<tab>HOST" lines for the files
 * bound under /files/ and its disks' backing files (machine/snapshot.c: a snapshot's copy of a disk
 * whose backing file had a relative name names it by its host path, which a restore, sandboxed or
 * not, finds). Paths with a tab or newline are left out (a copy then names the sandbox's
 * path, which a restore refuses with the reason). */
static void host_paths_env(const struct sandbox_plan *p, struct argv_buf *e)
{
	size_t n = 0, room = 0;
	char *s;

	for (unsigned i = 0; i < p->nbinds; i++)
		room += strlen(p->binds[i].dst) + strlen(p->binds[i].src) + 2;
	s = calloc(1, room + 1);
	if (!s) {
		e->overflow = true;
		return;
	}
	for (unsigned i = 0; i < p->nbinds; i++) {
		const struct sandbox_bind *b = &p->binds[i];
		if (b->dir || (strncmp(b->dst, "/files/", 7) && !b->backing) ||
		    strpbrk(b->dst, "\t\n") || strpbrk(b->src, "\t\n"))
			continue;
		n += (size_t)snprintf(s + n, room + 1 - n, "%s\t%s\n", b->dst, b->src);
	}
	arg(e, "LODGE_HOST_PATHS=%s", s);
	free(s);
}

char **guest_env_create(bool sandboxed)
{
	struct argv_buf *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	build_env(e, sandboxed);
	if (e->overflow) {
		argv_free(e);
		free(e);
		return NULL;
	}
	return e->v; /* the first member: guest_env_free finds e again */
}

void guest_env_free(char **env)
{
	struct argv_buf *e = (struct argv_buf *)(void *)env;

	if (!e)
		return;
	argv_free(e);
	free(e);
}

/* Block device holding the guest's disk images, for the io limit (0: none, e.g. tmpfs). */
static dev_t disk_device(const struct guest *g)
{
	const cJSON *e;
	struct stat st;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(g->config, "disks"))
	{
		char path[PATH_MAX];
		if (stat(guest_disk_path(e->valuestring, path, sizeof(path)), &st) == 0 &&
		    major(st.st_dev) != 0)
			return st.st_dev;
	}
	return 0;
}

/* Makes the guest's group with its limits. Returns 0 (limits whose controller the host
 * lacks skipped, and reported), or -ECANCELED with err set when the group or a limit
 * cannot be made: the guest does not start rather than run without its limits. */
static int setup_cgroup(struct guest *g, char *err, size_t errlen)
{
	struct daemon *d = g->d;
	const cJSON *c = g->config;
	uint64_t mem = json_uint(c, "memory", 0), cpus = json_uint(c, "cpus", 1);
	struct cgroup_limits lim = {
		.cpu_quota = json_num(c, "cpu_quota", 0),
		.pids = 64 + cpus,
		.io_bps = json_uint(c, "disk_bps", 0),
		.io_iops = json_uint(c, "disk_iops", 0),
		.io_dev = disk_device(g),
	};
	int r;

	g->cg_applied[0] = g->cg_skipped[0] = 0;
	if (!d->have_cgroups) {
		snprintf(g->cg_skipped, sizeof(g->cg_skipped), "all(no cgroup file system)");
		return 0;
	}
	if (g->kind == GUEST_VM && json_str(c, "restore", NULL)) {
		/* a restored guest's RAM and harts are the snapshot's: the group is sized for
		 * them, or for a larger 'memory' (a file that does not say: the restore
		 * refuses it) */
		struct snap_machine m;
		enum guest_kind kind;
		char why[300];
		if (!snapshot_kind(json_str(c, "restore", ""), &kind, &m, why, sizeof(why)) &&
		    m.ram && m.ram <= (1ull << 40) && m.harts && m.harts <= VM_MAX_HARTS) {
			mem = mem > m.ram ? mem : m.ram;
			cpus = m.harts;
			lim.pids = 64 + cpus;
		}
	}
	if (g->kind == GUEST_VM) {
		/* the code caches beyond the default's, which the overhead counts: decoded
		 * blocks and as much translated code, each hart at least 1 MiB of each */
		uint64_t floor = cpus << 20, jc = json_uint(c, "jit_cache", VM_JIT_CACHE_DEFAULT);
		uint64_t used = jc > floor ? jc : floor;
		uint64_t dflt = VM_JIT_CACHE_DEFAULT > floor ? VM_JIT_CACHE_DEFAULT : floor;
		lim.memory = (mem ? mem : DEFAULT_VM_MEMORY) + d->cfg.mem_overhead +
			     cpus * (8u << 20) + 2 * (used - dflt);
	} else if (mem)
		lim.memory = mem + d->cfg.mem_overhead;
	else if (json_str(c, "wasm", NULL)) /* the engine's default budget; a restored or
					     * incoming program brings its own */
		lim.memory = WASM_DEFAULT_MAX_MEMORY + d->cfg.mem_overhead;
	g->cg_lim = lim;
	cgroup_destroy(&d->cg, g->rec.name); /* anything left from a crash */
	r = cgroup_create(&d->cg, g->rec.name, &lim, g->cg_applied, sizeof(g->cg_applied),
			  g->cg_skipped, sizeof(g->cg_skipped));
	if (r) {
		snprintf(err, errlen, "cannot set up its cgroup: %s%s%s", strerror(-r),
			 g->cg_skipped[0] ? "; limits skipped: " : "", g->cg_skipped);
		cgroup_destroy(&d->cg, g->rec.name);
		g->cg_applied[0] = 0;
		return -ECANCELED;
	}
	return 0;
}

/* Removes the disk overlays a restored guest made in its run directory (lodge run
 * --restore --overlay-dir: SNAPSHOT.diskN.restore-PID.qcow2; in the sandbox PID is always
 * 1), made at its start and kept until the next. */
static void remove_restore_overlays(const struct guest *g)
{
	char p[600];
	DIR *dir;

	guest_path(g, "run", p, sizeof(p));
	dir = opendir(p);
	for (struct dirent *de; dir && (de = readdir(dir));)
		if (!fnmatch("*.disk[0-9]*.restore-[0-9]*.qcow2", de->d_name, 0))
			unlinkat(dirfd(dir), de->d_name, 0);
	if (dir)
		closedir(dir);
}

static void clear_run_dir(struct guest *g)
{
	char p[600];

	guest_path(g, "run/api.sock", p, sizeof(p));
	unlink(p);
	guest_path(g, "run/ready", p, sizeof(p));
	unlink(p);
	guest_path(g, "run/exit.json", p, sizeof(p));
	unlink(p);
	/* each start of a restored guest restores the snapshot afresh, disks as they were
	 * at it, as its RAM is */
	remove_restore_overlays(g);
}

static int open_log(struct guest *g)
{
	char p[600];

	guest_path(g, "lodge.log", p, sizeof(p));
	return open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

/* Forks the guest process. It joins its cgroup itself, then waits for a byte on a pipe
 * before it runs, so that it is in the registry (pid, start time) first. */
static int spawn(struct guest *g, char *err, size_t errlen)
{
	struct daemon *d = g->d;
	static struct sandbox_plan plan; /* large: one at a time, on the loop thread */
	struct spawn_res *sr;
	int logfd, r;
	pid_t pid;

	spawn_free(g);
	sr = calloc(1, sizeof(*sr));
	if (!sr)
		return -ENOMEM;
	g->spawn = sr;
	r = sandbox_plan_make(d, g, &plan, err, errlen);
	if (r) {
		sandbox_slot_release(&d->ids, g->id_slot, getpid());
		g->id_slot = -1;
		return r;
	}
	build_argv(g, &plan, &sr->av);
	build_env(&sr->ev, !d->cfg.no_sandbox);
	if (g->kind == GUEST_VM && plan.enabled)
		host_paths_env(&plan, &sr->ev);
	logfd = open_log(g);
	if (sr->av.overflow || sr->ev.overflow || logfd < 0) {
		snprintf(err, errlen, "cannot prepare the guest process: %s",
			 logfd < 0 ? strerror(errno) : "too many arguments");
		r = -ENOMEM;
		goto out;
	}
	sr->ch = (struct sandbox_child){
		.binary = d->binary, .argv = sr->av.v, .envp = sr->ev.v, .logfd = logfd};
	if (d->have_cgroups &&
	    (r = cgroup_open_join(&d->cg, g->rec.name, sr->ch.cgfds, &sr->ch.ncgfds))) {
		snprintf(err, errlen, "cannot join its cgroup: %s", strerror(-r));
		sandbox_slot_release(&d->ids, g->id_slot, getpid()); /* sandbox_plan_make's */
		g->id_slot = -1;
		r = -ECANCELED;
		goto out;
	}
	/* A Wasm guest takes a process from the warm pool when one waits (pool.c). */
	r = g->kind == GUEST_WASM ? pool_adopt(g, &plan, &sr->ch, &pid, err, errlen) : -EAGAIN;
	if (r == -EAGAIN)
		r = sandbox_spawn(&plan, &sr->ch, &pid, err, errlen);
	/* The child has its own copies, and reads the numbers from sr (kept) */
	for (unsigned i = 0; i < sr->ch.ncgfds; i++)
		close(sr->ch.cgfds[i]);
	if (r) {
		sandbox_slot_release(&d->ids, g->id_slot, getpid()); /* sandbox_plan_make's */
		g->id_slot = -1;
		goto out;
	}
	/* the backing files it was given, as they were: what a snapshot of it may list */
	if (g->kind == GUEST_VM)
		sandbox_record_bound(&plan, g);
	/* its host ids are the process's from now on (a pooled one's already) */
	if (sandbox_slot_own(&d->ids, g->id_slot, pid, getpid()))
		log_warn("guest %s: another process claimed its host id %u", g->rec.name,
			 (unsigned)(d->ids.uid + (unsigned)g->id_slot));
	g->pidfd = sr->ch.pidfd;
	g->child = true;
	g->sent_kill = g->found_gone = false;
	g->rec.pid = pid;
	g->rec.pid_start = proc_start_time(pid);
	set_state(g, "running");
	g->rec.has_exit = false;
	set_str(&g->rec.exit_reason, NULL);
	g->rec.stop_requested = false;
	g->rec.started_ms = registry_now_ms();
	g->started_mono = evloop_now_ns();
	r = save(g);
	/* Only now may it run: a registry that does not know it must not have it running. */
	if (r || sandbox_release(&sr->ch)) {
		kill_process(g);
		snprintf(err, errlen, "cannot record the guest process");
		r = -EIO;
	}
	if (evloop_watch_add(d->loop, g->pidfd, POLLIN, on_exit_fd, g, &g->pid_watch))
		log_err("guest %s: cannot watch its process", g->rec.name);
out:
	if (logfd >= 0)
		close(logfd);
	sandbox_plan_fini(&plan);
	return r;
}

/* ---- the start's ready signal ---- */

static void ready_close(struct guest *g)
{
	evloop_watch_del(g->ready_watch);
	g->ready_watch = NULL;
	if (g->ready_fd >= 0)
		close(g->ready_fd);
	g->ready_fd = -1;
}

static void start_conn_gone(void *opaque)
{
	struct guest *g = opaque;

	g->start_conn = NULL;
	g->start_wait_at = 0;
}

/* Answers the `lodge start` waiting, if any: 204, or status with the reason. */
static void start_answer(struct guest *g, int status, const char *reason)
{
	struct api_conn *c = g->start_conn;

	g->start_conn = NULL;
	g->start_wait_at = 0;
	if (!c)
		return;
	api_conn_on_close(c, NULL, NULL);
	if (status == 204)
		api_reply(c, 204, NULL, NULL, 0);
	else
		api_reply_error(c, status, "start_failed", "guest %s: its start failed: %s",
				g->rec.name, reason);
}

/* The guest wrote its byte (set up), or closed the FIFO without (it is ending: its exit
 * answers the start). */
static void on_ready(void *opaque, int fd, unsigned revents)
{
	struct guest *g = opaque;
	char b;
	ssize_t n = read(fd, &b, 1);

	(void)revents;
	if (n < 0 && errno == EAGAIN)
		return;
	ready_close(g);
	if (n == 1) {
		log_info("guest %s: set up %.1f ms after its start", g->rec.name,
			 (double)(evloop_now_ns() - g->started_mono) / 1e6);
		start_answer(g, 204, NULL);
	}
}

/* Makes run/ready, a FIFO the guest writes a byte to once it is set up, and watches it.
 * Without it (an error here: logged) the start is answered at once, as before. */
static void ready_open(struct guest *g)
{
	char p[600];

	ready_close(g);
	guest_path(g, "run/ready", p, sizeof(p));
	unlink(p);
	if (mkfifo(p, 0600) < 0 ||
	    (g->ready_fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    evloop_watch_add(g->d->loop, g->ready_fd, POLLIN, on_ready, g, &g->ready_watch)) {
		log_warn("guest %s: %s: %s (its start is answered before it is set up)",
			 g->rec.name, p, strerror(errno));
		ready_close(g);
	}
}

int guest_start_wait(struct guest *g, struct api_conn *conn)
{
	if (g->ready_fd < 0 || !guest_active(g) || g->start_conn)
		return -EALREADY;
	g->start_conn = conn;
	g->start_wait_at = evloop_now_ns() + GUEST_START_WAIT_NS;
	api_conn_on_close(conn, start_conn_gone, g);
	arm_timer(g);
	return 0;
}

int guest_start(struct guest *g, char *err, size_t errlen)
{
	int r;

	if (guest_active(g)) {
		snprintf(err, errlen, "guest %s is already %s", g->rec.name, g->rec.state);
		return -EBUSY;
	}
	g->restart_at = 0;
	clear_run_dir(g);
	r = make_dirs(g);
	if (r) {
		snprintf(err, errlen, "cannot make %s: %s", g->dir, strerror(-r));
		return r;
	}
	if (json_str(g->config, "incoming", NULL)) {
		r = incoming_listen(g, err, errlen);
		if (r)
			return r;
	}
	r = setup_cgroup(g, err, errlen);
	if (r) {
		incoming_close(g);
		return r;
	}
	if (g->mig_listen < 0)
		ready_open(g);
	r = spawn(g, err, errlen);
	if (r) {
		ready_close(g);
		incoming_close(g);
		if (g->d->have_cgroups)
			cgroup_destroy(&g->d->cg, g->rec.name);
		return r;
	}
	daemon_event(g->d, g->rec.name, "start", "pid %lld", (long long)g->rec.pid);
	if (g->mig_listen >= 0) {
		set_state(g, "incoming"); /* running once the migration brought the guest */
		save(g);
		if (incoming_watch(g))
			log_err("guest %s: cannot watch its migration socket", g->rec.name);
	}
	return 0;
}

/* ---- the control socket ---- */

/* One request to the guest's control socket, connect to answer within timeout_ms (it
 * runs on the loop: a guest that stalls must not hold the daemon longer). *cause, when
 * given, gets the client's error. */
static int control_timeout(struct guest *g, const char *method, const char *path, const char *body,
			   struct api_result *r, int timeout_ms, int *cause)
{
	char sock[600];
	struct api_client *c;
	int e;

	guest_path(g, "run/api.sock", sock, sizeof(sock));
	e = api_client_open(sock, timeout_ms, &c);
	if (!e) {
		e = api_client_call(c, method, path, body, r);
		api_client_close(c);
	}
	if (cause)
		*cause = e;
	return e ? -ECOMM : 0;
}

int guest_control(struct guest *g, const char *method, const char *path, const char *body,
		  struct api_result *r)
{
	return control_timeout(g, method, path, body, r, CONTROL_TIMEOUT_MS, NULL);
}

/* err for a control request that failed with the client's error `cause`. */
static void control_error(struct guest *g, int cause, char *err, size_t errlen)
{
	char sock[600];

	guest_path(g, "run/api.sock", sock, sizeof(sock));
	if (cause == -ENOENT || cause == -ECONNREFUSED)
		snprintf(err, errlen, "guest %s: its control socket %s does not answer (starting?)",
			 g->rec.name, sock);
	else if (cause == -ETIMEDOUT)
		snprintf(err, errlen, "guest %s: its control socket %s did not answer within %d ms",
			 g->rec.name, sock, CONTROL_TIMEOUT_MS);
	else if (cause == -EPROTO)
		snprintf(err, errlen,
			 "guest %s: its control socket %s gave a malformed answer (or too many "
			 "interim ones)",
			 g->rec.name, sock);
	else
		snprintf(err, errlen, "guest %s: its control socket %s failed: %s", g->rec.name,
			 sock, strerror(-cause));
}

/* How long an action right after a start waits for the guest's control socket. */
#define START_WAIT_NS	   5000000000ull
#define START_WAIT_STEP_US 50000
#define START_WAIT_TRIES   40

static int control_simple(struct guest *g, const char *method, const char *path, const char *body,
			  char *err, size_t errlen)
{
	struct api_result res;
	int cause;
	int r = control_timeout(g, method, path, body, &res, CONTROL_TIMEOUT_MS, &cause);

	/* Just started (a Wasm guest's new process when no pool process waited): its control
	 * socket may not be there yet, so `lodge start x && lodge pause x` waits for it, a
	 * little. */
	for (int i = 0; r && i < START_WAIT_TRIES && guest_active(g) &&
			evloop_now_ns() - g->started_mono < START_WAIT_NS;
	     i++) {
		usleep(START_WAIT_STEP_US);
		r = control_timeout(g, method, path, body, &res, CONTROL_TIMEOUT_MS, &cause);
	}
	if (r) {
		control_error(g, cause, err, errlen);
		return r;
	}
	if (res.status != 204) {
		snprintf(err, errlen, "guest %s: %s", g->rec.name,
			 json_str(res.json, "message", "the guest refused"));
		r = res.status == 409 ? -EBUSY : -EIO;
	}
	api_result_fini(&res);
	return r;
}

/* True (with err) while a snapshot of g is under way: the actions that would change its
 * state meanwhile wait for its end (409). */
static bool snapshot_busy(const struct guest *g, char *err, size_t errlen)
{
	if (!g->snap_at)
		return false;
	snprintf(err, errlen, "guest %s is busy taking a snapshot (to %s): try again once it ended",
		 g->rec.name, g->snap_path);
	return true;
}

int guest_sync_state(struct guest *g, bool force, int timeout_ms)
{
	struct api_result res;
	const char *st, *now;
	int r;

	if (!guest_active(g) ||
	    (strcmp(g->rec.state, "running") && strcmp(g->rec.state, "paused"))) {
		g->state_unsure = false; /* it has no process: nothing to ask */
		return 0;
	}
	if ((!g->state_unsure && !force) || g->snap_at) /* a snapshot sets the state at its end */
		return 0;
	if (control_timeout(g, "GET", "/vm", NULL, &res, timeout_ms, NULL))
		return -ECOMM;
	st = res.status == 200 ? json_str(res.json, "state", "") : "";
	now = !strcmp(st, "Paused") ? "paused" : !strcmp(st, "Running") ? "running" : NULL;
	r = now ? 0 : -ECOMM;
	if (now) {
		g->state_unsure = false;
		if (strcmp(now, g->rec.state)) {
			log_info(
				"guest %s: it is %s, not %s as last recorded (an action that timed "
				"out took effect later)",
				g->rec.name, now, g->rec.state);
			set_state(g, now);
			save(g);
			daemon_event(g->d, g->rec.name, *now == 'p' ? "pause" : "resume", "%s", "");
		}
	}
	api_result_fini(&res);
	return r;
}

/* Before a pause or a resume the registry's view does not allow: the guest may have
 * done an earlier one late (its control socket timed out), or been paused by itself. */
static void sync_before(struct guest *g, const char *want)
{
	if (g->state_unsure ||
	    (guest_active(g) && strcmp(g->rec.state, want) &&
	     (!strcmp(g->rec.state, "running") || !strcmp(g->rec.state, "paused"))))
		(void)guest_sync_state(g, true, CONTROL_TIMEOUT_MS);
}

int guest_pause(struct guest *g, char *err, size_t errlen)
{
	int r;

	if (snapshot_busy(g, err, errlen))
		return -EBUSY;
	sync_before(g, "running");
	if (!guest_active(g) || strcmp(g->rec.state, "running")) {
		snprintf(err, errlen, "guest %s is not running (it is %s)", g->rec.name,
			 g->rec.state);
		return -EBUSY;
	}
	r = control_simple(g, "PATCH", "/vm", "{\"state\":\"Paused\"}", err, errlen);
	if (r == -ECOMM)
		g->state_unsure = true; /* it may pause once it answers */
	if (r)
		return r;
	g->state_unsure = false;
	set_state(g, "paused");
	save(g);
	daemon_event(g->d, g->rec.name, "pause", "%s", "");
	return 0;
}

int guest_resume(struct guest *g, char *err, size_t errlen)
{
	int r;

	if (snapshot_busy(g, err, errlen))
		return -EBUSY;
	sync_before(g, "paused");
	if (!guest_active(g) || strcmp(g->rec.state, "paused")) {
		snprintf(err, errlen, "guest %s is not paused (it is %s)", g->rec.name,
			 g->rec.state);
		return -EBUSY;
	}
	r = control_simple(g, "PATCH", "/vm", "{\"state\":\"Resumed\"}", err, errlen);
	if (r == -ECOMM)
		g->state_unsure = true;
	if (r)
		return r;
	g->state_unsure = false;
	set_state(g, "running");
	save(g);
	daemon_event(g->d, g->rec.name, "resume", "%s", "");
	return 0;
}

/* ---- snapshots ---- */

/* Copies src to dst (another file system): 0 or -errno. */
static int copy_file(const char *src, const char *dst)
{
	/* (no symlink either way: the source is in a guest's run directory) */
	int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), out = -1, r = 0;
	char buf[1 << 16];
	struct stat st;
	ssize_t n;

	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(in);
		return -EINVAL;
	}
	/* a new file (a .tmp name): never one there already, which O_TRUNC would empty
	 * (sandbox_snapshot_clash refused a file a guest runs on) */
	unlink(dst);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		bool zero = true; /* a disk's copy stays sparse */
		for (ssize_t z = 0; z < n && zero; z++)
			zero = !buf[z];
		if (zero) {
			if (lseek(out, n, SEEK_CUR) < 0) {
				r = -errno;
				goto out;
			}
			continue;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno != EINTR) {
				r = -errno;
				goto out;
			}
			off += w > 0 ? w : 0;
		}
	}
	if (n < 0 || ftruncate(out, lseek(out, 0, SEEK_CUR)) < 0 || fsync(out) < 0)
		r = -errno;
out:
	close(in);
	if (close(out) < 0 && !r)
		r = -errno;
	if (r)
		unlink(dst);
	return r;
}

/* The copies of a system guest's disks that go with a snapshot (SNAP.diskN.saved.FORMAT,
 * docs/SNAPSHOT.md). SAVED_STAGE moves those of `from` (the guest's run directory) next
 * to `to` under a temporary name (SAVED.tmp); SAVED_COMMIT, once the snapshot `to` is in
 * place, renames them to their names and removes the stale copies of an earlier
 * snapshot to that path; SAVED_DISCARD removes `to`'s temporary ones and SAVED_REMOVE
 * `from`'s copies. A failed snapshot thus leaves an earlier one and its copies as they
 * were. Returns 0 or -errno (a failed stage has discarded what it moved). */
enum saved_op { SAVED_STAGE, SAVED_COMMIT, SAVED_DISCARD, SAVED_REMOVE };

static int saved_disks(enum saved_op op, const char *from, const char *to)
{
	static const char *const fmts[] = {"raw", "qcow2"};
	char a[PATH_MAX + 64], b[PATH_MAX + 64], t[PATH_MAX + 72];
	struct stat st;
	int r = 0;

	for (unsigned k = 0; k < SANDBOX_SAVED_DISKS; k++)
		for (unsigned f = 0; f < 2; f++) {
			snprintf(a, sizeof(a), "%s.disk%u.saved.%s", from ? from : "", k, fmts[f]);
			snprintf(b, sizeof(b), "%s.disk%u.saved.%s", to ? to : "", k, fmts[f]);
			snprintf(t, sizeof(t), "%s.tmp", b);
			if (op == SAVED_REMOVE) {
				unlink(a);
			} else if (op == SAVED_DISCARD) {
				unlink(t);
			} else if (op == SAVED_COMMIT) {
				if (rename(t, b) == 0)
					continue;
				if (errno == ENOENT)
					unlink(b); /* an earlier snapshot's */
				else if (!r)
					r = -errno;
			} else if (!r && lstat(a, &st) == 0) {
				/* only a regular file: the guest's process writes its run
				 * directory, and a symlink there would name any host file */
				if (!S_ISREG(st.st_mode))
					r = -EINVAL;
				else if (rename(a, t) < 0)
					r = errno == EXDEV ? copy_file(a, t) : -errno;
				unlink(a);
			}
		}
	if (r && op != SAVED_COMMIT)
		saved_disks(SAVED_DISCARD, NULL, to);
	return r;
}

static void snap_conn_gone(void *opaque)
{
	struct guest *g = opaque;

	g->snap_conn = NULL; /* the snapshot goes on; nobody waits for its answer */
}

/* The guest answered the snapshot request (r = 0 and res), or did not (r < 0: its
 * connection failed, it ended, or SNAPSHOT_TIMEOUT_MS passed): moves the file into
 * place, resumes the guest, answers the waiting request. */
static void snapshot_done(struct guest *g, int r, struct api_result *res)
{
	struct api_conn *conn = g->snap_conn;
	const char *path = g->snap_path;
	char host[600], err[700];

	evloop_watch_del(g->snap_watch);
	g->snap_watch = NULL;
	api_client_close(g->snap_client);
	g->snap_client = NULL;
	g->snap_at = 0;
	arm_timer(g);
	g->snap_conn = NULL;
	if (conn)
		api_conn_on_close(conn, NULL, NULL);
	guest_path(g, "run/snapshot.tmp", host, sizeof(host));
	if (r) {
		snprintf(err, sizeof(err), "guest %s: its control socket does not answer",
			 g->rec.name);
		r = -ECOMM;
	} else if (res->status != 204) {
		snprintf(err, sizeof(err), "guest %s: %s", g->rec.name,
			 json_str(res->json, "message", "the guest refused"));
		r = res->status == 409 ? -EBUSY : -EIO;
	}
	if (!r && g->kind == GUEST_VM) {
		r = saved_disks(SAVED_STAGE, host, path);
		if (r)
			snprintf(err, sizeof(err), "%s: its disks' copies: %s", path, strerror(-r));
	}
	if (!r && rename(host, path) < 0) {
		/* on another file system: copy beside FILE, then rename over it, so a
		 * failed copy (a full disk) leaves an earlier file at that path intact */
		char tmp[sizeof(g->snap_path) + 8];

		r = -errno;
		if (r == -EXDEV) {
			snprintf(tmp, sizeof(tmp), "%s.tmp", path);
			r = copy_file(host, tmp);
			if (!r && rename(tmp, path) < 0) {
				r = -errno;
				unlink(tmp);
			}
		}
		if (r)
			snprintf(err, sizeof(err), "%s: %s", path, strerror(-r));
	}
	if (g->kind == GUEST_VM && r) {
		saved_disks(SAVED_DISCARD, NULL, path);
	} else if (g->kind == GUEST_VM) {
		/* the file is in place: what fails now is said (a restore of it would fail),
		 * the files left as they are */
		int c = saved_disks(SAVED_COMMIT, NULL, path);
		int b = c ? 0 : sandbox_write_backing_list(g->d, g, path);
		if (c || b) {
			r = -EIO;
			snprintf(err, sizeof(err),
				 "%.300s: the snapshot is written, but %s: %.80s; a restore of it "
				 "would fail",
				 path,
				 c ? "its disks' copies could not be put in place"
				   : "its list of backing files (FILE.backing) was not written",
				 b == -ESTALE ? "a backing file changed during the snapshot"
					      : strerror(-(c ? c : b)));
		}
	}
	unlink(host);
	saved_disks(SAVED_REMOVE, host, NULL);
	if (g->snap_was_running && (r || !g->snap_leave_paused) && guest_active(g)) {
		char e2[256];
		if (guest_resume(g, e2, sizeof(e2)))
			log_err("guest %s: cannot resume it after the snapshot: %s", g->rec.name,
				e2);
	}
	if (!r)
		daemon_event(g->d, g->rec.name, "snapshot", "%s", path);
	else
		log_info("guest %s: snapshot to %s failed: %s", g->rec.name, path, err);
	if (conn && r)
		daemon_reply_errno(conn, r, err);
	else if (conn)
		api_reply(conn, 204, NULL, NULL, 0);
}

/* The guest's answer to the snapshot request: read it (the rest of it within
 * CONTROL_TIMEOUT_MS, as for any control request) and finish. */
static void on_snapshot_answer(void *opaque, int fd, unsigned revents)
{
	struct guest *g = opaque;
	struct api_result res;
	int r;

	(void)fd;
	(void)revents;
	r = api_client_recv(g->snap_client, CONTROL_TIMEOUT_MS, &res);
	snapshot_done(g, r, &res);
	api_result_fini(&res);
}

/* The name of the kernel's pseudo file system `dir` is on (proc, sysfs...), or NULL. */
static const char *pseudo_fs(const char *dir)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} fs[] = {{0x9fa0, "proc"},	   {0x62656572, "sysfs"},   {0x27e0eb, "cgroup"},
		  {0x63677270, "cgroup2"}, {0x64626720, "debugfs"}, {0x73636673, "securityfs"},
		  {0x74726163, "tracefs"}, {0x1cd1, "devpts"},	    {0xcafe4a11, "bpf"}};
	struct statfs st;

	if (statfs(dir, &st) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		if ((unsigned long)st.f_type == fs[i].magic)
			return fs[i].name;
	return NULL;
}

/* A system guest with a read-only disk: a snapshot or stream would name that disk by its
 * sandbox's path, which a restored or incoming guest does not have (its read-only images
 * are not carried): -ENOTSUP with err saying so, else 0. */
static int ro_disk_refused(const struct guest *g, const char *what, char *err, size_t errlen)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(g->config, "disks"))
	{
		struct vblk_spec d;
		char why[256];
		if (!vblk_split_spec(e->valuestring, &d, why, sizeof(why)) && d.readonly) {
			snprintf(err, errlen,
				 "guest %s has a read-only disk (%.200s), which a %s does not "
				 "carry to the guest it makes: not supported yet (give the disk "
				 "without readonly=on to move it)",
				 g->rec.name, d.path, what);
			return -ENOTSUP;
		}
	}
	return 0;
}

int guest_snapshot(struct guest *g, const char *path, bool leave_paused, struct api_conn *conn,
		   char *err, size_t errlen)
{
	bool was_running = !strcmp(g->rec.state, "running");
	char host[600], inside[600], body[700], *slash;
	struct api_client *c;
	struct stat st;
	int r, cause;

	if (!guest_active(g) || (!was_running && strcmp(g->rec.state, "paused"))) {
		snprintf(err, errlen, "guest %s is not running (it is %s)", g->rec.name,
			 g->rec.state);
		return -EBUSY;
	}
	if (snapshot_busy(g, err, errlen))
		return -EBUSY;
	if (g->mig_out) {
		snprintf(err, errlen, "guest %s is migrating", g->rec.name);
		return -EBUSY;
	}
	r = ro_disk_refused(g, "snapshot", err, errlen);
	if (r)
		return r;
	/* (a restored guest's disks are overlays over its snapshot's copies: the copies of
	 * them name those by their host paths, machine/snapshot.c, and SNAP.backing lists
	 * them, sandbox_write_backing_list) */
	if (path[0] != '/' || strlen(path) >= sizeof(host) || !(slash = strrchr(path, '/'))) {
		snprintf(err, errlen, "path '%.200s': must be an absolute path", path);
		return -EINVAL;
	}
	snprintf(host, sizeof(host), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(host, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    (stat(path, &st) == 0 && !S_ISREG(st.st_mode))) {
		snprintf(err, errlen,
			 "path '%.200s': its directory does not exist or it is not a file", path);
		return -EINVAL;
	}
	if (pseudo_fs(host)) {
		snprintf(err, errlen,
			 "path '%.200s': on %s, a kernel file system that holds no files: give a "
			 "path on a disk",
			 path, pseudo_fs(host));
		return -EINVAL;
	}
	r = sandbox_snapshot_clash(g->d, g, path, err, errlen);
	if (r)
		return r;
	if (was_running) {
		r = guest_pause(g, err, errlen);
		if (r)
			return r;
	}
	/* the guest writes into its own run directory (the only one its sandbox may
	 * write), and the daemon moves the file into place */
	guest_path(g, "run/snapshot.tmp", host, sizeof(host));
	if (g->d->cfg.no_sandbox)
		snprintf(inside, sizeof(inside), "%s", host);
	else
		snprintf(inside, sizeof(inside), "/run/snapshot.tmp");
	unlink(host);
	saved_disks(SAVED_REMOVE, host, NULL); /* a failed snapshot's leftovers */
	/* a system guest's writable disks are copied next to the file (not moved onto
	 * overlays, which would live in its run directory); a guest that runs on after
	 * the snapshot is resumed by its process once its state is saved, and its images
	 * are copied while it runs (docs/SNAPSHOT.md "Disks") */
	snprintf(body, sizeof(body), "{\"snapshot_path\":\"%s\"%s%s}", inside,
		 g->kind == GUEST_VM ? ",\"disks\":\"copy\"" : "",
		 g->kind == GUEST_VM && was_running && !leave_paused ? ",\"resume\":true" : "");
	/* The request is sent here (connect and send bounded by CONTROL_TIMEOUT_MS); its
	 * answer comes on the loop (on_snapshot_answer), or SNAPSHOT_TIMEOUT_MS passes
	 * (on_timer), and the daemon serves other requests meanwhile. */
	guest_path(g, "run/api.sock", inside, sizeof(inside));
	cause = api_client_open(inside, CONTROL_TIMEOUT_MS, &c);
	if (!cause) {
		cause = api_client_send(c, "PUT", "/snapshot/create", body);
		if (!cause)
			cause = evloop_watch_add(g->d->loop, api_client_fd(c), POLLIN,
						 on_snapshot_answer, g, &g->snap_watch);
		if (cause)
			api_client_close(c);
	}
	if (cause) {
		snprintf(err, errlen, "guest %s: its control socket does not answer", g->rec.name);
		if (was_running) {
			char e2[256];
			if (guest_resume(g, e2, sizeof(e2)))
				log_err("guest %s: cannot resume it after the snapshot: %s",
					g->rec.name, e2);
		}
		return -ECOMM;
	}
	g->snap_client = c;
	snprintf(g->snap_path, sizeof(g->snap_path), "%s", path);
	g->snap_was_running = was_running;
	g->snap_leave_paused = leave_paused;
	g->snap_at = evloop_now_ns() + SNAPSHOT_TIMEOUT_MS * 1000000ull;
	arm_timer(g);
	g->snap_conn = conn;
	if (conn)
		api_conn_on_close(conn, snap_conn_gone, g);
	return 0;
}

/* ---- stopping ---- */

static void arm_timer(struct guest *g)
{
	uint64_t t = 0;

	if (g->kill_at)
		t = g->kill_at;
	if (g->press_at && (!t || g->press_at < t))
		t = g->press_at;
	if (g->restart_at && (!t || g->restart_at < t))
		t = g->restart_at;
	if (g->start_wait_at && (!t || g->start_wait_at < t))
		t = g->start_wait_at;
	if (g->snap_at && (!t || g->snap_at < t))
		t = g->snap_at;
	if (t)
		evloop_timer_arm(g->timer, t);
	else
		evloop_timer_disarm(g->timer);
}

static int add_waiter(struct guest *g, struct api_conn *conn, bool remove);

static void press(struct guest *g)
{
	struct api_result res;

	if (guest_control(g, "PUT", "/actions", "{\"action_type\":\"Stop\"}", &res) == 0)
		api_result_fini(&res);
}

int guest_stop(struct guest *g, unsigned timeout, struct api_conn *conn, char *err, size_t errlen)
{
	uint64_t now = evloop_now_ns();

	if (snapshot_busy(g, err, errlen))
		return -EBUSY;
	if (!guest_active(g)) {
		if (g->restart_at) { /* a restart is pending: cancel it */
			g->restart_at = 0;
			g->rec.stop_requested = true;
			save(g);
			arm_timer(g);
			return 0;
		}
		snprintf(err, errlen, "guest %s is not running (it is %s)", g->rec.name,
			 g->rec.state);
		return -EALREADY; /* stopped already: nothing to do (docker's 304) */
	}
	if (!g->rec.stop_requested) {
		g->rec.stop_requested = true;
		save(g);
		daemon_event(g->d, g->rec.name, "stop", "timeout %us", timeout);
		press(g);
		g->kill_at = now + (uint64_t)timeout * 1000000000ull;
		g->press_at = g->kind == GUEST_VM ? now + PRESS_INTERVAL_NS : 0;
		if (!timeout) {
			kill_process(g);
			g->kill_at = g->press_at = 0;
		}
		arm_timer(g);
	}
	return conn ? add_waiter(g, conn, false) : 0;
}

int guest_kill(struct guest *g, struct api_conn *conn, char *err, size_t errlen)
{
	if (!guest_active(g)) {
		snprintf(err, errlen, "guest %s is not running (it is %s)", g->rec.name,
			 g->rec.state);
		return -EBUSY;
	}
	if (!g->rec.stop_requested) {
		g->rec.stop_requested = true;
		save(g);
	}
	daemon_event(g->d, g->rec.name, "kill", "%s", "SIGKILL");
	if (kill_process(g) < 0 && errno != ESRCH) {
		snprintf(err, errlen, "guest %s: kill: %s", g->rec.name, strerror(errno));
		return -EIO;
	}
	return conn ? add_waiter(g, conn, false) : 0;
}

static void on_timer(void *opaque)
{
	struct guest *g = opaque;
	uint64_t now = evloop_now_ns();
	char err[256];

	if (g->snap_at && now >= g->snap_at) {
		log_err("guest %s: no answer to the snapshot within %d ms", g->rec.name,
			SNAPSHOT_TIMEOUT_MS);
		snapshot_done(g, -ETIMEDOUT, NULL);
	}
	if (g->kill_at && now >= g->kill_at) {
		g->kill_at = g->press_at = 0;
		daemon_event(g->d, g->rec.name, "kill", "%s", "stop timeout");
		if (g->pidfd >= 0)
			kill_process(g);
	}
	if (g->start_wait_at && now >= g->start_wait_at) { /* running, slow to set up */
		log_info("guest %s: not set up %.1f s after its start: it runs on", g->rec.name,
			 (double)(now - g->started_mono) / 1e9);
		start_answer(g, 204, NULL);
	}
	if (g->press_at && now >= g->press_at) {
		press(g);
		g->press_at = now + PRESS_INTERVAL_NS;
	}
	if (g->restart_at && now >= g->restart_at) {
		g->restart_at = 0;
		g->rec.restarts++;
		if (guest_start(g, err, sizeof(err)))
			daemon_event(g->d, g->rec.name, "restart-failed", "%s", err);
		else
			daemon_event(g->d, g->rec.name, "restart", "restart %llu",
				     (unsigned long long)g->rec.restarts);
		save(g);
	}
	arm_timer(g);
}

/* ---- the end of a guest process ---- */

static void read_exit_record(struct guest *g, bool *have, int *status, char *reason, size_t len)
{
	char p[600], buf[1024];
	ssize_t n;
	int fd;
	cJSON *o;

	*have = false;
	guest_path(g, "run/exit.json", p, sizeof(p));
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	o = cJSON_Parse(buf);
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "status"))) {
		*have = true;
		*status = (int)json_num(o, "status", 0);
		snprintf(reason, len, "%s", json_str(o, "reason", "exit"));
	}
	cJSON_Delete(o);
}

/* The guest process's last message, for a failure it explained itself. */
static void last_log_line(struct guest *g, char *out, size_t len)
{
	char p[600], buf[4096];
	ssize_t n;
	off_t size;
	int fd;

	out[0] = 0;
	guest_path(g, "lodge.log", p, sizeof(p));
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	n = pread(fd, buf, sizeof(buf) - 1,
		  size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	char *nl = strrchr(buf, '\n');
	if (snprintf(out, len, "%s", nl ? nl + 1 : buf) >= (int)len)
		out[len - 1] = 0;
}

static bool oom_killed(struct guest *g)
{
	char dir[600], path[700], line[128];
	bool hit = false;
	FILE *f;

	if (!g->d->have_cgroups)
		return false;
	cgroup_path(&g->d->cg, g->rec.name, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir,
		 g->d->cg.version == 2 ? "memory.events" : "memory.oom_control");
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "oom_kill %llu", &v) == 1 && v > 0)
			hit = true;
	}
	fclose(f);
	return hit;
}

static const char *signal_text(int sig)
{
	switch (sig) {
	case SIGKILL:
		return "SIGKILL";
	case SIGSYS:
		return "SIGSYS (seccomp: a forbidden system call)";
	case SIGSEGV:
		return "SIGSEGV";
	case SIGABRT:
		return "SIGABRT";
	case SIGTERM:
		return "SIGTERM";
	case SIGBUS:
		return "SIGBUS";
	default:
		return strsignal(sig);
	}
}

/* A restored system guest whose disk copies name a backing file its sandbox lacks (a
 * snapshot this daemon did not take lists none): the option that gives it. */
static void backing_hint(const struct guest *g, char *line, size_t len)
{
	static const char hint[] = " (a snapshot this daemon did not take lists no backing "
				   "files: give each with lodge restore --backing-file FILE)";
	size_t n = strlen(line);

	if (g->kind == GUEST_VM && json_str(g->config, "restore", NULL) &&
	    strstr(line, "backing file") && strstr(line, "cannot open") && n + sizeof(hint) <= len)
		memcpy(line + n, hint, sizeof(hint));
}

/* How the process ended: status and reason. */
static void exit_cause(struct guest *g, int *status, char *reason, size_t len)
{
	siginfo_t si = {0};
	bool have_rec, waited = false;
	int rec_status = 0;
	char rec_reason[256];

	if (g->child && waitid((idtype_t)P_PIDFD, (id_t)g->pidfd, &si, WEXITED | WNOHANG) == 0 &&
	    si.si_pid)
		waited = true;
	read_exit_record(g, &have_rec, &rec_status, rec_reason, sizeof(rec_reason));
	if (waited && si.si_code != CLD_EXITED) {
		*status = 128 + si.si_status;
		snprintf(reason, len, "killed by signal %s%s", signal_text(si.si_status),
			 si.si_status == SIGKILL && oom_killed(g) ? " (out of memory: cgroup limit)"
								  : "");
	} else if (have_rec) {
		char line[1200] = "";
		*status = rec_status;
		if (rec_status ==
		    125) { /* lodge could not set the guest up: its message says why */
			last_log_line(g, line, sizeof(line));
			sandbox_outside_text(g->d, g, line, sizeof(line));
			backing_hint(g, line, sizeof(line));
		}
		if (snprintf(reason, len, "%s%s%s", rec_reason, line[0] ? ": " : "", line) >=
		    (int)len)
			reason[len - 1] = 0;
	} else if (waited) {
		char line[1200];
		*status = si.si_status;
		last_log_line(g, line, sizeof(line));
		sandbox_outside_text(g->d, g, line, sizeof(line));
		if (snprintf(reason, len, "exit status %d%s%s", si.si_status, line[0] ? ": " : "",
			     line) >= (int)len)
			reason[len - 1] = 0;
	} else if (g->sent_kill) { /* not the daemon's child: no status, but its SIGKILL */
		*status = 128 + SIGKILL;
		snprintf(reason, len, "killed by signal SIGKILL");
	} else {
		*status = 255;
		snprintf(reason, len, "%s, with no exit record (killed by a signal%s?)",
			 g->found_gone ? "ended while the daemon was away" : "ended",
			 g->found_gone ? "" : " from outside the daemon");
	}
}

static void answer_waiters(struct guest *g);

static void schedule_restart(struct guest *g, bool failed)
{
	uint64_t ran = evloop_now_ns() - g->started_mono;
	uint64_t delay;

	if (g->rec.stop_requested || g->restart == RESTART_NO ||
	    (g->restart == RESTART_ON_FAILURE && !failed))
		return;
	g->backoff = ran >= QUICK_FAIL_NS ? 0 : g->backoff + 1;
	delay = 100000000ull << (g->backoff < 8 ? g->backoff : 8); /* 0.1 s .. 25.6 s */
	g->restart_at = evloop_now_ns() + delay;
	arm_timer(g);
}

/* The process ended: record why, release what it held, apply the restart policy. */
static void guest_exited(struct guest *g)
{
	struct daemon *d = g->d;
	char reason[1600], sock[600];
	int status;
	bool failed;

	if (g->mig_out) { /* its answer came with its end: all it wrote is there now */
		(void)outgoing_read(g);
		outgoing_done(g);
	}
	exit_cause(g, &status, reason, sizeof(reason));
	incoming_close(g);
	ready_close(g);
	spawn_free(g); /* the process is gone: nothing reads its start-up memory any more */
	evloop_watch_del(g->pid_watch);
	g->pid_watch = NULL;
	close(g->pidfd);
	g->pidfd = -1;
	if (g->snap_at) /* a snapshot under way: what the guest answered, or the error */
		on_snapshot_answer(g, -1, 0);
	g->kill_at = g->press_at = 0;
	failed = !g->rec.stop_requested && status != 0;
	set_state(g, failed ? "crashed" : "stopped");
	sandbox_slot_release(&d->ids, g->id_slot, (pid_t)g->rec.pid);
	g->id_slot = -1;
	g->rec.pid = 0;
	g->rec.pid_start = 0;
	g->rec.has_exit = true;
	g->rec.exit_status = status;
	set_str(&g->rec.exit_reason, reason);
	g->rec.finished_ms = registry_now_ms();
	save(g);
	if (d->have_cgroups && cgroup_destroy(&d->cg, g->rec.name))
		log_warn("guest %s: its cgroup could not be removed", g->rec.name);
	guest_path(g, "run/api.sock", sock, sizeof(sock));
	unlink(sock);
	daemon_event(d, g->rec.name, failed ? "crash" : "exit", "status %d: %s", status, reason);
	schedule_restart(g, failed);
	arm_timer(g);
	followers_guest_stopped(g);
	start_answer(g, 502, reason); /* it ended before it said it was set up */
	answer_waiters(g);
}

static void on_exit_fd(void *opaque, int fd, unsigned revents)
{
	(void)fd;
	(void)revents;
	guest_exited(opaque);
}

/* ---- waiting for a guest to stop ---- */

static void waiter_gone(void *opaque)
{
	struct waiter *w = opaque;

	w->conn = NULL;
}

static int add_waiter(struct guest *g, struct api_conn *conn, bool remove)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->g = g;
	w->conn = conn;
	w->status = 204;
	w->remove = remove;
	w->next = g->waiters;
	g->waiters = w;
	api_conn_on_close(conn, waiter_gone, w);
	return 0;
}

static void remove_now(struct guest *g);

static void answer_waiters(struct guest *g)
{
	struct waiter *w = g->waiters;
	bool remove = false;

	g->waiters = NULL;
	while (w) {
		struct waiter *next = w->next;
		if (w->conn) {
			api_conn_on_close(w->conn, NULL, NULL);
			api_reply(w->conn, w->status, NULL, NULL, 0);
		}
		remove = remove || w->remove;
		free(w);
		w = next;
	}
	if (remove)
		remove_now(g);
}

/* ---- removal ---- */

static int rm_tree(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dir;
	struct dirent *e;

	if (fd < 0)
		return unlinkat(at, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rm_tree(dirfd(dir), e->d_name);
	closedir(dir);
	return unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

static void remove_now(struct guest *g)
{
	struct daemon *d = g->d;
	char name[GUEST_NAME_MAX + 1], guests[600];

	snprintf(name, sizeof(name), "%s", g->rec.name);
	if (registry_delete(d->reg, name))
		log_err("guest %s: cannot delete it from the registry", name);
	if (d->have_cgroups)
		cgroup_destroy(&d->cg, name);
	snprintf(guests, sizeof(guests), "%s/guests", d->state);
	rm_tree(AT_FDCWD, g->dir);
	followers_guest_stopped(g);
	guest_free(g);
	daemon_event(d, name, "remove", "%s", "");
}

int guest_remove(struct guest *g, bool force, struct api_conn *conn, char *err, size_t errlen)
{
	int r;

	if (guest_active(g)) {
		if (!force) {
			snprintf(err, errlen,
				 "guest %s is %s: stop it first (or remove with force)",
				 g->rec.name, g->rec.state);
			return -EBUSY;
		}
		r = guest_kill(g, NULL, err, errlen);
		if (r)
			return r;
		return conn ? add_waiter(g, conn, true) : 0;
	}
	remove_now(g);
	if (conn)
		api_reply(conn, 204, NULL, NULL, 0);
	return 0;
}

/* ---- loading and reattaching ---- */

/* A guest the registry says runs: find its process again, or learn that it ended. */
/* The slot of the host ids a running guest's root maps to (its uid_map), or -1. */
static int id_slot_of(const struct daemon *d, pid_t pid)
{
	char path[64];
	unsigned inside, host, n;
	FILE *f;
	int slot = -1;

	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%u %u %u", &inside, &host, &n) == 3 && inside == 0 && n == 1 &&
	    host >= d->ids.uid && host - d->ids.uid < d->ids.count)
		slot = (int)(host - d->ids.uid);
	fclose(f);
	return slot;
}

static void reattach(struct guest *g)
{
	pid_t pid = (pid_t)g->rec.pid;
	int fd;

	if (pid <= 0) {
		g->found_gone = true;
		guest_exited(g);
		return;
	}
	fd = pidfd_open_(pid);
	/* The pid may have been reused by another process: its start time tells. */
	if (fd >= 0 && proc_start_time(pid) != g->rec.pid_start) {
		close(fd);
		fd = -1;
	}
	g->child = false;
	g->sent_kill = false;
	g->started_mono = evloop_now_ns();
	if (fd < 0) {
		g->pidfd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* for guest_exited */
		g->found_gone = true;
		guest_exited(g);
		return;
	}
	g->pidfd = fd;
	{
		char st = 0;
		/* ended while the daemon was away, not yet reaped by its new parent */
		if (proc_stat(pid, &st) && st == 'Z')
			g->found_gone = true;
	}
	g->id_slot = id_slot_of(g->d, pid);
	/* its claim on the host-wide registry (a daemon before it may not have made one) */
	if (sandbox_slot_own(&g->d->ids, g->id_slot, pid, 0))
		log_warn("guest %s: another process claims its host id %u", g->rec.name,
			 (unsigned)(g->d->ids.uid + (unsigned)g->id_slot));
	if (evloop_watch_add(g->d->loop, fd, POLLIN, on_exit_fd, g, &g->pid_watch)) {
		log_err("guest %s: cannot watch its process", g->rec.name);
		return;
	}
	daemon_event(g->d, g->rec.name, "reattach", "pid %d", (int)pid);
	if (g->rec.stop_requested) { /* a stop was in progress: finish it */
		g->kill_at = evloop_now_ns() + (uint64_t)g->d->cfg.stop_timeout * 1000000000ull;
		arm_timer(g);
	}
}

static void load_one(void *opaque, struct guest_record *rec)
{
	struct daemon *d = opaque;
	struct guest *g = guest_new(d, rec);

	if (!g) {
		log_err("out of memory loading the registry");
		return;
	}
	if (!strcmp(g->rec.state, "running") || !strcmp(g->rec.state, "paused"))
		reattach(g);
	else if (!strcmp(g->rec.state, "incoming")) {
		/* its listening socket was the daemon's: the source cannot reach it any more */
		reattach(g);
		if (guest_active(g)) {
			daemon_event(d, g->rec.name, "kill", "%s",
				     "the daemon restarted while it waited for a migration");
			kill_process(g);
		}
	} else {
		if (d->have_cgroups)
			cgroup_destroy(&d->cg, g->rec.name); /* no stale groups */
		/* A restart pending when the daemon went away (restart_at is memory only):
		 * schedule it again, with the backoff from the start (started_mono is 0). */
		if (!strcmp(g->rec.state, "stopped") || !strcmp(g->rec.state, "crashed"))
			schedule_restart(g, !strcmp(g->rec.state, "crashed"));
	}
}

int supervisor_load(struct daemon *d)
{
	return registry_each(d->reg, load_one, d);
}

void supervisor_unload(struct daemon *d)
{
	while (d->guests) {
		struct guest *g = d->guests;
		struct waiter *w = g->waiters;
		while (w) {
			struct waiter *n = w->next;
			free(w);
			w = n;
		}
		g->waiters = NULL;
		guest_free(g);
	}
}

/* ---- live migration ---- */

/* Sends `fd` (SCM_RIGHTS) with the peer's name as the message's bytes. */
static int send_fd(int sock, int fd, const char *peer)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = (void *)peer, .iov_len = strlen(peer) ? strlen(peer) : 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	memset(&cm, 0, sizeof(cm));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Asks the guest's control socket for the hand-over (`path`, an upgrade) and sends it
 * `fd`; the connection (*out) then carries the guest's outcome line. A guest that is
 * still starting gets up to MIG_CONNECT_MS to open its socket. */
static int hand_over(struct guest *g, const char *path, int fd, const char *peer,
		     struct api_client **out, char *err, size_t errlen)
{
	uint64_t until = evloop_now_ns() + MIG_CONNECT_MS * 1000000ull;
	char sock[600];
	struct api_client *c = NULL;
	struct api_result res;
	int r;

	guest_path(g, "run/api.sock", sock, sizeof(sock));
	while ((r = api_client_open(sock, CONTROL_TIMEOUT_MS, &c)) &&
	       (r == -ENOENT || r == -ECONNREFUSED) && evloop_now_ns() < until)
		usleep(20000);
	if (r) {
		snprintf(err, errlen, "guest %s: its control socket does not answer", g->rec.name);
		return -ECOMM;
	}
	r = api_client_upgrade(c, "POST", path, &res);
	if (r || res.status != 101) {
		snprintf(err, errlen, "guest %s: %s", g->rec.name,
			 r ? "its control socket does not answer"
			   : json_str(res.json, "message", "it refused the migration"));
		if (!r) {
			r = res.status == 409 ? -EBUSY : -ECOMM;
			api_result_fini(&res);
		} else {
			r = -ECOMM;
		}
		api_client_close(c);
		return r;
	}
	r = send_fd(api_client_fd(c), fd, peer);
	if (r) {
		snprintf(err, errlen, "guest %s: cannot hand the connection over: %s", g->rec.name,
			 strerror(-r));
		api_client_close(c);
		return -ECOMM;
	}
	*out = c;
	return 0;
}

/* The guest's outcome line {"ok", "error", "message"}: 0, or -errno with err. */
static int outcome(struct guest *g, const char *line, char *err, size_t errlen)
{
	cJSON *o = cJSON_Parse(line);
	const char *code = json_str(o, "error", "migration_failed");
	int r = 0;

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"))) {
		snprintf(err, errlen, "guest %s: %s", g->rec.name,
			 o ? json_str(o, "message", "the migration failed")
			   : "a malformed answer to the migration");
		r = !strcmp(code, "not_supported")    ? -ENOTSUP
		    : !strcmp(code, "migration_lost") ? -ENOTRECOVERABLE
						      : -ECONNABORTED;
	} else {
		snprintf(err, errlen, "%s", json_str(o, "message", ""));
	}
	cJSON_Delete(o);
	return r;
}

static void mig_conn_gone(void *opaque)
{
	struct guest *g = opaque;

	g->mig_conn = NULL; /* the migration goes on; nobody waits for its answer */
}

/* The source's migration ended: the guest's outcome line is in mig_buf (or it ended
 * without one). Answers the waiting request, at once or (success) once the guest
 * process has ended. */
static void outgoing_done(struct guest *g)
{
	struct api_conn *conn = g->mig_conn;
	char err[600];
	int r;

	g->mig_out = false;
	g->mig_conn = NULL;
	if (conn)
		api_conn_on_close(conn, NULL, NULL);
	if (!memchr(g->mig_buf, '\n', g->mig_len)) {
		snprintf(err, sizeof(err),
			 "guest %s: it gave no answer about the migration (did its process end?)",
			 g->rec.name);
		r = -ECOMM;
	} else {
		r = outcome(g, g->mig_buf, err, sizeof(err));
	}
	incoming_close(g);
	if (g->mig_repl) {
		g->mig_repl = false;
		daemon_event(g->d, g->rec.name, r ? "replicate-failed" : "replicating", "%s",
			     r ? err : g->mig_peer);
		if (conn && r)
			api_reply_error(conn, r == -ENOTSUP ? 409 : 502,
					r == -ENOTSUP ? "not_supported" : "replication_failed",
					"%s", err);
		else if (conn)
			api_reply(conn, 204, NULL, NULL, 0);
		return;
	}
	if (r) {
		size_t n = strlen(err);
		if (r == -ECONNABORTED && n + 1 < sizeof(err) && !strstr(err, "runs on here"))
			snprintf(err + n, sizeof(err) - n, " (it runs on here)");
		daemon_event(g->d, g->rec.name, "migrate-failed", "%s", err);
		if (conn)
			api_reply_error(conn, r == -ENOTSUP ? 409 : 502,
					r == -ENOTSUP		? "not_supported"
					: r == -ECONNABORTED	? "migration_failed"
					: r == -ENOTRECOVERABLE ? "migration_lost"
								: "guest_unreachable",
					"%s", err);
		return;
	}
	/* the guest process ends now (reason "migrated"): no restart policy applies */
	g->rec.stop_requested = true;
	save(g);
	daemon_event(g->d, g->rec.name, "migrated", "to %s", g->mig_peer);
	if (conn && (!guest_active(g) || add_waiter(g, conn, false)))
		api_reply(conn, 204, NULL, NULL, 0);
}

/* Reads what the guest has sent about its migration; false once it is complete (a
 * line, the end, or more than the buffer holds). */
static bool outgoing_read(struct guest *g)
{
	for (;;) {
		ssize_t n = read(api_client_fd(g->mig_client), g->mig_buf + g->mig_len,
				 sizeof(g->mig_buf) - 1 - g->mig_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n > 0)
			g->mig_len += (size_t)n;
		g->mig_buf[g->mig_len] = 0;
		if (n <= 0 || memchr(g->mig_buf, '\n', g->mig_len) ||
		    g->mig_len + 1 >= sizeof(g->mig_buf))
			return false;
	}
}

static void on_outgoing(void *opaque, int fd, unsigned revents)
{
	struct guest *g = opaque;

	(void)fd;
	(void)revents;
	if (!outgoing_read(g))
		outgoing_done(g);
}

int guest_migrate(struct guest *g, const char *dest, const char *opts, struct api_conn *conn,
		  char *err, size_t errlen)
{
	struct api_client *c = NULL;
	char path[160];
	int fd, r;

	if (!guest_active(g) ||
	    (strcmp(g->rec.state, "running") && strcmp(g->rec.state, "paused"))) {
		snprintf(err, errlen, "guest %s is not running (it is %s)", g->rec.name,
			 g->rec.state);
		return -EBUSY;
	}
	if (snapshot_busy(g, err, errlen))
		return -EBUSY;
	if (g->mig_client) {
		snprintf(err, errlen, "guest %s is migrating already", g->rec.name);
		return -EBUSY;
	}
	r = ro_disk_refused(g, "migration", err, errlen);
	if (r)
		return r;
	fd = tcp_dial(dest, MIG_CONNECT_MS, MIG_IO_TIMEOUT_S);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %.200s: %s: guest %s runs on here", dest,
			 fd == -EINVAL ? "not HOST:PORT with a port from 1 to 65535, or its host "
					 "does not resolve"
				       : strerror(-fd),
			 g->rec.name);
		return fd == -EINVAL ? -EINVAL : -ECONNABORTED;
	}
	daemon_event(g->d, g->rec.name, "migrate", "to %s%s%s", dest, opts[0] ? " " : "", opts);
	snprintf(path, sizeof(path), "/migrate/send%s%.120s", opts[0] ? "?" : "", opts);
	r = hand_over(g, path, fd, dest, &c, err, errlen);
	close(fd); /* the guest has its own now */
	if (r)
		return r;
	/* The guest migrates on its own; its answer comes on this connection. */
	g->mig_client = c;
	g->mig_len = api_client_take_buffered(c, g->mig_buf, sizeof(g->mig_buf) - 1);
	g->mig_buf[g->mig_len] = 0;
	snprintf(g->mig_peer, sizeof(g->mig_peer), "%s", dest);
	fcntl(api_client_fd(c), F_SETFL, O_NONBLOCK);
	if (evloop_watch_add(g->d->loop, api_client_fd(c), POLLIN, on_outgoing, g,
			     &g->mig_client_watch)) {
		api_client_close(c);
		g->mig_client = NULL;
		snprintf(err, errlen, "guest %s: cannot watch its migration", g->rec.name);
		return -ENOMEM;
	}
	g->mig_out = true;
	g->mig_conn = conn;
	if (conn)
		api_conn_on_close(conn, mig_conn_gone, g);
	return 0;
}

int guest_replicate(struct guest *g, const char *dest, unsigned interval_ms, struct api_conn *conn,
		    char *err, size_t errlen)
{
	struct api_client *c = NULL;
	char peer[300];
	int fd, r;

	if (!guest_active(g) ||
	    (strcmp(g->rec.state, "running") && strcmp(g->rec.state, "paused"))) {
		snprintf(err, errlen, "guest %s is not running (it is %s)", g->rec.name,
			 g->rec.state);
		return -EBUSY;
	}
	if (snapshot_busy(g, err, errlen))
		return -EBUSY;
	r = ro_disk_refused(g, "replication", err, errlen);
	if (r)
		return r;
	if (g->mig_client) {
		snprintf(err, errlen, "guest %s is migrating or starting replication already",
			 g->rec.name);
		return -EBUSY;
	}
	fd = tcp_dial(dest, MIG_CONNECT_MS, MIG_IO_TIMEOUT_S);
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %.200s: %s: guest %s runs on unreplicated",
			 dest,
			 fd == -EINVAL ? "not HOST:PORT with a port from 1 to 65535, or its host "
					 "does not resolve"
				       : strerror(-fd),
			 g->rec.name);
		return fd == -EINVAL ? -EINVAL : -ECONNABORTED;
	}
	daemon_event(g->d, g->rec.name, "replicate", "to %s every %u ms", dest, interval_ms);
	snprintf(peer, sizeof(peer), "%.255s %u", dest, interval_ms);
	r = hand_over(g, "/replicate/send", fd, peer, &c, err, errlen);
	close(fd);
	if (r)
		return r;
	g->mig_client = c;
	g->mig_len = api_client_take_buffered(c, g->mig_buf, sizeof(g->mig_buf) - 1);
	g->mig_buf[g->mig_len] = 0;
	snprintf(g->mig_peer, sizeof(g->mig_peer), "%s", dest);
	fcntl(api_client_fd(c), F_SETFL, O_NONBLOCK);
	if (evloop_watch_add(g->d->loop, api_client_fd(c), POLLIN, on_outgoing, g,
			     &g->mig_client_watch)) {
		api_client_close(c);
		g->mig_client = NULL;
		snprintf(err, errlen, "guest %s: cannot watch its replication", g->rec.name);
		return -ENOMEM;
	}
	g->mig_out = true;
	g->mig_repl = true;
	g->mig_conn = conn;
	if (conn)
		api_conn_on_close(conn, mig_conn_gone, g);
	return 0;
}

int guest_failover(struct guest *g, char *err, size_t errlen)
{
	if (!guest_active(g) || strcmp(g->rec.state, "incoming") ||
	    !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g->config, "standby"))) {
		snprintf(err, errlen, "guest %s is not a standby waiting to take over (it is %s)",
			 g->rec.name, g->rec.state);
		return -EBUSY;
	}
	daemon_event(g->d, g->rec.name, "failover", "%s", "asked for");
	return control_simple(g, "PUT", "/failover", NULL, err, errlen);
}

/* ---- the destination ---- */

static void incoming_close(struct guest *g)
{
	evloop_watch_del(g->mig_watch);
	g->mig_watch = NULL;
	if (g->mig_listen >= 0)
		close(g->mig_listen);
	g->mig_listen = -1;
	evloop_watch_del(g->mig_client_watch);
	g->mig_client_watch = NULL;
	api_client_close(g->mig_client);
	g->mig_client = NULL;
	g->mig_len = 0;
}

static int incoming_listen(struct guest *g, char *err, size_t errlen)
{
	const char *addr = json_str(g->config, "incoming", "");
	struct addrinfo *ai;
	int one = 1, fd, r = tcp_resolve(addr, true, &ai);

	if (r) {
		snprintf(err, errlen,
			 "incoming '%.200s': not HOST:PORT with a port from 1 to 65535, or its "
			 "host does not resolve",
			 addr);
		return -EINVAL;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot listen on %.200s for the migration: %s", addr,
			 strerror(-r));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return r == -EADDRINUSE ? -EBUSY : -EIO;
	}
	freeaddrinfo(ai);
	g->mig_listen = fd;
	return 0;
}

/* The guest's outcome after the hand-over: it runs, or it failed (and exits itself). */
static void on_incoming_outcome(void *opaque, int fd, unsigned revents)
{
	struct guest *g = opaque;
	char err[512];
	ssize_t n = read(fd, g->mig_buf + g->mig_len, sizeof(g->mig_buf) - 1 - g->mig_len);

	(void)revents;
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0)
		g->mig_len += (size_t)n;
	g->mig_buf[g->mig_len] = 0;
	if (n > 0 && !memchr(g->mig_buf, '\n', g->mig_len) && g->mig_len + 1 < sizeof(g->mig_buf))
		return;
	if (n > 0 && outcome(g, g->mig_buf, err, sizeof(err)) == 0) {
		set_state(g, "running");
		save(g);
		daemon_event(g->d, g->rec.name,
			     cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g->config, "standby"))
				     ? "failed-over"
				     : "migrated-in",
			     "%s", "running");
	} else {
		daemon_event(g->d, g->rec.name, "incoming-failed", "%s",
			     n > 0 ? err : "the guest closed its control connection");
	}
	incoming_close(g); /* a failed guest process exits by itself (status 125) */
}

static void on_incoming_conn(void *opaque, int fd, unsigned revents)
{
	struct guest *g = opaque;
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	char host[128] = "?", port[16] = "?", peer[160], err[512];
	int c = accept4(fd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);

	(void)revents;
	if (c < 0)
		return;
	if (fcntl(c, F_SETFL, 0) < 0) {
		close(c);
		return;
	}
	tcp_stream_opts(c, MIG_IO_TIMEOUT_S);
	getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), port, sizeof(port),
		    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(peer, sizeof(peer), "%s:%s", host, port);
	incoming_close(g); /* one stream per start */
	if (hand_over(g, "/migrate/receive", c, peer, &g->mig_client, err, sizeof(err))) {
		daemon_event(g->d, g->rec.name, "incoming-failed", "%s", err);
		kill_process(g); /* the source sees the connection close */
	} else {
		daemon_event(g->d, g->rec.name, "incoming", "from %s", peer);
		fcntl(api_client_fd(g->mig_client), F_SETFL, O_NONBLOCK);
		g->mig_len =
			api_client_take_buffered(g->mig_client, g->mig_buf, sizeof(g->mig_buf) - 1);
		if (evloop_watch_add(g->d->loop, api_client_fd(g->mig_client), POLLIN,
				     on_incoming_outcome, g, &g->mig_client_watch))
			log_err("guest %s: cannot watch its migration", g->rec.name);
	}
	close(c);
}

static int incoming_watch(struct guest *g)
{
	return evloop_watch_add(g->d->loop, g->mig_listen, POLLIN, on_incoming_conn, g,
				&g->mig_watch);
}
