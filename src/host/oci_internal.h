/*
 * What the oci*.c files share: the parsed bundle configuration (config.json, runtime-spec
 * 1.x "config.md"), the container's state directory, cgroups, the initramfs writer and the
 * two ways of running a process (WebAssembly, system VM). Private to src/host.
 */
#ifndef LODGE_HOST_OCI_INTERNAL_H
#define LODGE_HOST_OCI_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/oci.h"

struct cJSON;
struct sbuf;

#define OCI_VERSION "1.0.2" /* the runtime-spec version state JSON reports */

/* Memory Lodge itself needs on top of a guest's RAM or a module's linear memory (code
 * caches, the engine, the relay): added to memory limits for the container's cgroup. */
#define OCI_OVERHEAD_MEM (96ull << 20)
/* Host threads Lodge needs besides the guest's processes: added to pids limits. */
#define OCI_OVERHEAD_PIDS 16

/* How the container's process runs: Lodge's Wasm engine, a riscv64 VM, or (a Kubernetes
 * pod's sandbox container, whose image is the engine's "pause") a process that only waits
 * for the signal that ends the pod. */
enum oci_mode { OCI_MODE_WASM, OCI_MODE_VM, OCI_MODE_PAUSE };

struct oci_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

struct oci_process {
	bool terminal;
	int nargs;
	char **args;
	int nenv;
	char **env;
	const char *cwd;
	uint32_t uid, gid;
	int ngids;
	uint32_t *gids;
	int64_t umask; /* -1: unset */
	int nrlimits;
	struct oci_rlimit *rlimits;
	bool no_new_privs;
	unsigned rows, cols; /* consoleSize, 0: unset */
};

struct oci_mount {
	const char *dest;
	const char *type; /* "bind" for bind mounts (also when only the options say so) */
	const char *source;
	char *options; /* comma-separated */
	bool ro;
};

struct oci_resources {
	int64_t mem_limit; /* bytes, -1: none */
	uint64_t cpu_shares;
	int64_t cpu_quota; /* microseconds per period, -1: none */
	uint64_t cpu_period;
	const char *cpuset_cpus;
	int64_t pids_limit; /* -1: none */
};

struct oci_hook {
	const char *path;
	char **args;
	int nargs;
	char **env;
	int nenv;
	int timeout; /* seconds, 0: none */
};

enum oci_hook_kind {
	OCI_HOOK_PRESTART,
	OCI_HOOK_CREATE_RUNTIME,
	OCI_HOOK_CREATE_CONTAINER,
	OCI_HOOK_START_CONTAINER,
	OCI_HOOK_POSTSTART,
	OCI_HOOK_POSTSTOP,
	OCI_HOOK_KINDS
};

struct oci_spec {
	struct cJSON *json; /* owns every string below */
	const char *version;
	char bundle[PATH_MAX]; /* absolute */
	char rootfs[PATH_MAX]; /* absolute */
	bool root_ro;
	const char *hostname;
	struct oci_process proc;
	int nmounts;
	struct oci_mount *mounts;
	int nannotations;
	const char **ann_keys, **ann_values;
	int nsysctl;
	const char **sysctl_keys, **sysctl_values;
	struct oci_resources res;
	const char *cgroups_path;
	int nhooks[OCI_HOOK_KINDS];
	struct oci_hook *hooks[OCI_HOOK_KINDS];
};

/* ----- oci_spec.c ----- */

/* Reads bundle/config.json into *spec and validates it. Errors are reported runc-style
 * ("JSON specification file config.json not found", "invalid rootfs: ..."). Returns 0,
 * -ENOENT, -EINVAL, -ENOMEM. */
int oci_spec_load(const struct oci_ctx *c, const char *bundle, struct oci_spec *spec);
/* The same from the file at path, for a bundle at directory bundle; the rootfs is checked
 * only when check is set. */
int oci_spec_read(const struct oci_ctx *c, const char *path, const char *bundle, bool check,
		  struct oci_spec *spec);
/* Parses a process object (process.json of exec) into *p; its strings live in *json_out,
 * which the caller frees with cJSON_Delete. */
int oci_process_load(const struct oci_ctx *c, const char *path, struct oci_process *p,
		     struct cJSON **json_out);
void oci_spec_fini(struct oci_spec *spec);
void oci_process_fini(struct oci_process *p);
/* The annotation's value, or NULL. */
const char *oci_spec_annotation(const struct oci_spec *spec, const char *key);
/* The process's value of environment variable name, or NULL. */
const char *oci_process_getenv(const struct oci_process *p, const char *name);

/* ----- oci_path.c ----- */

/* Resolves path inside root as the container would see it (symlinks, also absolute ones,
 * stay below root; missing trailing components are kept). Writes the host path. Returns
 * 0, -ENAMETOOLONG, -ELOOP. */
int oci_path_in_root(const char *root, const char *path, char *out, size_t outlen);
/* Finds the executable args[0] names in the rootfs (PATH lookup as execvp does, with the
 * process's PATH): *host_out gets the host path. Returns 0 or -ENOENT/-EACCES. */
int oci_find_exec(const struct oci_spec *spec, const struct oci_process *p, char *host_out,
		  size_t outlen);
/* Decides how the process runs: WebAssembly, or a riscv64 VM. A script is followed to its
 * interpreter. Reports (runc style) executables of other architectures. */
int oci_choose_mode(const struct oci_ctx *c, const struct oci_spec *spec,
		    const struct oci_process *p, enum oci_mode *out);

/* ----- oci_state.c: <root>/<id>/ ----- */

enum oci_status { OCI_CREATING, OCI_CREATED, OCI_RUNNING, OCI_STOPPED };

struct oci_state {
	char id[256];
	char dir[PATH_MAX]; /* <root>/<id> */
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
	char created[64]; /* RFC 3339 with nanoseconds */
	char cgroup[PATH_MAX];
	enum oci_mode mode;
	pid_t pid;		/* the container's process on the host (0: none yet) */
	uint64_t pid_start;	/* its start time (/proc/PID/stat), against pid reuse */
	enum oci_status status; /* computed when loaded */
	int lock_fd;		/* flock on the directory while held */
};

bool oci_id_valid(const char *id);
/* Creates <root>/<id>; fails with "container with id exists" (-EEXIST). Locked on return. */
int oci_state_new(const struct oci_ctx *c, const char *id, struct oci_state *st);
/* Loads and locks the state of id; -ENOENT (reported "container does not exist"). */
int oci_state_load(const struct oci_ctx *c, const char *id, struct oci_state *st);
int oci_state_save(const struct oci_ctx *c, const struct oci_state *st);
void oci_state_unlock(struct oci_state *st);
/* Prints the runtime-spec state JSON (runc's shape, two-space indent, no newline). */
int oci_state_print(const struct oci_state *st);
/* The state JSON (for hooks: compact); the caller frees it with cJSON_free. */
char *oci_state_json(const struct oci_state *st, bool pretty);
const char *oci_status_name(enum oci_status s);
/* Whether pid is alive and still the process that started at start_time. */
bool oci_pid_alive(pid_t pid, uint64_t start_time);
int oci_pid_start_time(pid_t pid, uint64_t *out);
/* Writes a file atomically (temporary + rename). */
int oci_write_file(const char *path, const void *data, size_t len, mode_t mode);
/* rm -rf for the state directory. */
int oci_remove_tree(const char *path);

/* ----- oci_cgroup.c ----- */

/* The container's cgroup: cgroups_path from config.json (or the id), under every mounted
 * v1 hierarchy, or the v2 tree. */
int oci_cgroup_path(const struct oci_ctx *c, const struct oci_spec *spec, const char *id, char *out,
		    size_t outlen);
/* Creates the cgroup, applies the limits and moves pid into it. Limits that cannot be
 * applied are errors; a missing or read-only cgroup file system without limits is not. */
int oci_cgroup_enter(const struct oci_ctx *c, const char *path, const struct oci_resources *r,
		     uint64_t mem_overhead, pid_t pid);
/* The pids in the cgroup (*out allocated; NULL/0 when none or no cgroup). */
int oci_cgroup_pids(const char *path, pid_t **out, size_t *n);
/* Removes the cgroup directories (they must be empty). */
void oci_cgroup_remove(const struct oci_ctx *c, const char *path);

/* ----- oci_cpio.c: a cpio "newc" archive writer (the format Linux's initramfs reads) ----- */

struct oci_cpio {
	int fd;
	uint64_t off;
	uint32_t ino;
	int err;
};

void oci_cpio_init(struct oci_cpio *a, int fd);
/* Adds one entry: name (no leading '/'), mode (type and permissions), data for files,
 * the link target for symlinks. Sticky errors, as sbuf. */
void oci_cpio_add(struct oci_cpio *a, const char *name, uint32_t mode, uint32_t uid, uint32_t gid,
		  uint64_t mtime, uint32_t rdev, const void *data, uint64_t size);
/* Adds the host file, or directory tree, at src as name (no leading '/'). */
int oci_cpio_add_path(struct oci_cpio *a, const char *src, const char *name);
/* Writes the trailer; returns 0 or the first error. */
int oci_cpio_finish(struct oci_cpio *a);

/* ----- oci_wb.c: writing read-write directory volumes back from a VM ----- */

struct oci_wb;

/* Records how each read-write directory bind mount of spec looks now, before the VM gets
 * its copy. *out is NULL-safe to destroy. Returns 0 or -ENOMEM. */
int oci_wb_create(const struct oci_ctx *c, const struct oci_spec *spec, struct oci_wb **out);
void oci_wb_destroy(struct oci_wb *wb);
/* Whether config.json's mount number `mount` is written back. */
bool oci_wb_has(const struct oci_wb *wb, int mount);
/* Applies one OCI_F_WB_* frame from the guest (untrusted). Returns 0, or -EPROTO for a
 * malformed one (the session must end), -EIO when the volume cannot be opened. */
int oci_wb_frame(struct oci_wb *wb, uint8_t type, const uint8_t *p, uint32_t len);

/* ----- oci_vm.c ----- */

/* Prepares the VM of a created container in st->dir: the initramfs (base + rootfs +
 * volumes + the container file), and in *wb_out the volumes' write-back state. Runs in
 * the container's process before start. */
int oci_vm_prepare(const struct oci_ctx *c, const struct oci_state *st, const struct oci_spec *spec,
		   struct oci_wb **wb_out);
/* Boots the VM, runs the container's process in it and relays its stdio and the signals
 * this process receives; writes volumes back through wb (may be NULL). Returns the
 * process's wait status (>= 0) or a negative errno. */
int oci_vm_run(const struct oci_ctx *c, const struct oci_state *st, const struct oci_spec *spec,
	       struct oci_wb *wb);
/* The next frame in buf[0..have) from the guest (untrusted): 1 with its type and payload
 * length when it is complete (the payload follows the header), 0 when more bytes are
 * needed, -EPROTO for an unknown type or a length over OCI_FRAME_MAX. */
int oci_frame_next(const uint8_t *buf, size_t have, uint8_t *type, uint32_t *len);
/* Runs p in the running VM of st (an exec session). Returns a wait status or -errno.
 * started() is called once the guest started it (or could not: with a negative errno). */
int oci_vm_exec(const struct oci_ctx *c, const struct oci_state *st, const struct oci_process *p,
		void (*started)(void *arg, int err), void *arg);

#endif
