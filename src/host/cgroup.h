/*
 * A control group per guest, on cgroup v2 (the unified hierarchy) or the v1 controllers
 * (cpu, cpuacct, memory, pids, blkio each in its own hierarchy, as on hybrid systems).
 * Guests' groups nest under the daemon's own group in each hierarchy, in a directory of
 * the daemon's own (`instance`, "lodge.<hash of its state directory>"): guest NAME is
 * <hierarchy>/<daemon's group>/<instance>/g-NAME (the prefix: no name is a control file
 * such as "tasks" or "pids.max" of the parent group), so that two daemons on one host (two state
 * directories) never touch each other's groups, even for guests of the same name.
 *
 * Limits: CPU as a quota (fraction of one CPU per 100 ms period), memory (hard limit,
 * no swap beyond it), number of tasks, and read/write bytes per second on one block
 * device. A limit whose controller or file is missing on the host is skipped and
 * reported (the guest runs without it), never silently dropped; a limit refused for any
 * other reason fails cgroup_create (the guest does not start).
 *
 * Threading: the daemon's loop thread (cgroup_join: the new guest process).
 */
#ifndef LODGE_HOST_CGROUP_H
#define LODGE_HOST_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum cgroup_ctrl { CG_CPU, CG_CPUACCT, CG_MEMORY, CG_PIDS, CG_BLKIO, CG_NCTRL };

/* Where the hierarchies are. */
struct cgroup_env {
	int version;		     /* 1 or 2; 0 when no usable cgroup file system */
	char instance[64];	     /* the directory of this daemon's groups */
	char v2[PATH_MAX];	     /* v2: the directory holding guests' groups */
	char v1[CG_NCTRL][PATH_MAX]; /* v1: per controller, or "" when not mounted */
	bool v2_ctrl[CG_NCTRL];	     /* v2: controllers enabled for guests' groups */
};

struct cgroup_limits {
	double cpu_quota; /* CPUs (0.5 = half of one), 0 = none */
	uint64_t memory;  /* bytes, 0 = none */
	uint64_t pids;	  /* tasks, 0 = none */
	uint64_t io_bps;  /* bytes/s each way on io_dev, 0 = none */
	uint64_t io_iops; /* operations/s each way on io_dev, 0 = none */
	dev_t io_dev;	  /* the block device of the guest's disks (0: none) */
};

struct cgroup_stats {
	uint64_t cpu_ns;       /* CPU time used */
	uint64_t memory_bytes; /* memory charged */
	uint64_t pids;	       /* tasks now */
};

/* Finds the hierarchies and creates the parent groups named `instance`. `version` 0 picks
 * v2 when
 * it has the cpu and memory controllers and v1 otherwise; 1 or 2 forces one. `root`
 * (NULL: /sys/fs/cgroup) is where the unified hierarchy is, or for v1 the directory
 * holding one directory per controller (used by tests with a fake tree; with the default
 * root, v1 mount points come from /proc/self/mountinfo). Returns 0, or -ENOENT when no
 * such hierarchy exists, or -errno from mkdir. */
int cgroup_env_init(struct cgroup_env *env, int version, const char *root, const char *instance)
	__attribute__((warn_unused_result));

/* Removes the empty guest groups under the daemon's parent groups: what a previous daemon
 * of the same state directory left when it was killed (kill -9 runs no cgroup_env_fini).
 * A group with a process in it (a guest that outlived that daemon) stays: rmdir refuses
 * it. Call only while no other daemon uses this state directory (an empty group may be
 * one just made for a guest about to join it). Returns how many groups were removed. */
int cgroup_env_sweep(const struct cgroup_env *env);

/* Removes the daemon's parent groups if they are empty (guests still running keep them).
 * Called when the daemon exits. */
void cgroup_env_fini(const struct cgroup_env *env);

/* Creates (or reuses) the group for guest `name` and applies the limits. Returns 0, or
 * -errno when the group cannot be created in a hierarchy, or a limit cannot be applied
 * for another reason than its controller missing on the host (ENOENT, ENODEV: skipped). `applied`
 * (may be NULL) gets a list such as "cpu memory pids" of limits that took effect; `skipped` the
 * others with why. */
int cgroup_create(const struct cgroup_env *env, const char *name, const struct cgroup_limits *lim,
		  char *applied, size_t applen, char *skipped, size_t skiplen)
	__attribute__((warn_unused_result));

/* Opens, in every hierarchy, the file through which a process joins guest `name`'s group
 * (v1 `tasks`, v2 `cgroup.procs`), for cgroup_join in the new guest process: the kernel
 * checks a write against the credentials of whoever opened the file, so the guest joins
 * through them from inside its user namespace. Fills fds (O_CLOEXEC) and *n. Returns 0,
 * or -errno with nothing left open. */
int cgroup_open_join(const struct cgroup_env *env, const char *name, int fds[CG_NCTRL], unsigned *n)
	__attribute__((warn_unused_result));

/* Moves the calling, single-threaded process into the groups whose join files are fds[0..n)
 * (from cgroup_open_join) by writing "0", itself. A task that moves itself on v1 does not
 * take the kernel's global threadgroup lock for writing, which moving another process
 * does (that waits for an RCU grace period: milliseconds on a busy host). Only system
 * calls: safe in a child between clone and exec. Returns 0 or -errno of the first failed
 * write. */
int cgroup_join(const int *fds, unsigned n) __attribute__((warn_unused_result));

/* Renames group `from` to `to` in every v1 hierarchy (`to` must not exist): how a warm-pool
 * process, which joined a group of its own before it executed, becomes a guest's without
 * moving between groups when the guest starts (on v1 a move into the cpu controller's
 * group waits milliseconds on a busy host, measured 2-30 ms at load 17). Returns 0, or
 * -errno (those renamed already are renamed back); -EOPNOTSUPP on v2, which cannot
 * rename groups. */
int cgroup_rename(const struct cgroup_env *env, const char *from, const char *to)
	__attribute__((warn_unused_result));

/* Removes every group whose name starts with `prefix` (in every hierarchy), killing what is
 * still in it, as cgroup_destroy: a killed daemon's warm-pool groups (".pool.", which no
 * guest's name can start with), whose processes may not have exited yet when the next
 * daemon of the state directory starts. Returns how many went. */
int cgroup_destroy_prefixed(const struct cgroup_env *env, const char *prefix);

/* Usage figures (fields the hierarchy does not have are 0). Returns 0 or -ENOENT. */
int cgroup_stats(const struct cgroup_env *env, const char *name, struct cgroup_stats *out);

/* Removes the guest's groups (killing what is left in them first). Returns 0 or -errno of
 * the first rmdir that failed; a group that does not exist is not an error. */
int cgroup_destroy(const struct cgroup_env *env, const char *name);

/* The guest's group in the v2 hierarchy, or in the v1 memory hierarchy ("" if none). */
void cgroup_path(const struct cgroup_env *env, const char *name, char *out, size_t len);

#endif
