/*
 * Guest isolation. The daemon's side makes a plan for a guest (which of its files appear
 * where inside, written to a spec file) and forks the guest process into new mount, pid,
 * ipc, uts and network namespaces (the network one empty unless the guest uses the
 * host's network for user networking; Wasm guests share one, struct sandbox_netns) and,
 * where the host allows it, a user namespace. In the user namespace the guest's root is
 * an unprivileged host id of its own (struct sandbox_ids), and the daemon makes each of the guest's
 * files a detached bind mount (open_tree), read-only but for disks, shared directories and its run
 * directory, and idmapped to that namespace, so that files owned by the host's root appear owned by
 * the guest's root and what it creates is owned by the host's root on disk: nothing of the host
 * needs to change owner. The mounts reach the guest as file descriptors. The guest's side (lodge
 * run/wasm --sandbox SPEC) then, before it opens anything: becomes its namespace's root (the
 * unprivileged host id), mounts an empty tmpfs as its root with only those mounts in it, pivots
 * into it and detaches the host's file system, sets its host name, limits open files and core
 * dumps, sets no_new_privs and drops every capability. Last, just before the guest runs
 * (--seccomp), it installs a seccomp filter built with libseccomp from an allow list (one for
 * system guests, one for Wasm guests); any other system call kills the process.
 *
 * Inside paths: /run (the run directory: control socket, console ring, exit record),
 * /files/kernel, /files/initrd, /files/firmware, /files/diskN, /files/module.wasm (module.wat for a
 * text module), and /dirs/N for Wasm preopened directories.
 */
#ifndef LODGE_HOST_SANDBOX_H
#define LODGE_HOST_SANDBOX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "host/cgroup.h"

struct daemon;
struct guest;
struct cJSON;

#define SANDBOX_MAX_BINDS 48
/* What a guest's configuration may share with it (its dirs and disks together): the binds
 * but those of its run directory, module or kernel, initrd and firmware. */
#define SANDBOX_MAX_SHARED (SANDBOX_MAX_BINDS - 4)
/* Backing files a restored guest's config may name ("backing_files": each bound twice). */
#define SANDBOX_MAX_BACKING_FILES 8
#define SANDBOX_ARENA_MAX                                                                          \
	16384 /* bytes of the binds' destinations, the host parts of a Wasm                        \
	       * guest's dirs and disks' backing files, NULs in */

struct sandbox_bind {
	const char *src; /* into the guest's configuration, or the plan's firmware or arena */
	const char *dst; /* in the plan's arena */
	bool rw, dir;
	bool backing;	/* a disk's backing file (add_backing_binds) */
	const char *id; /* NULL, or "DEV:INO": shared only if src is still that regular file
			   (checked on the file opened, not followed through a symlink) */
};

/* The host ids guests' roots map to: `count` of them from `uid`/`gid` (sandbox_ids_init).
 * A slot k (ids uid + k, gid + k) is one guest's, or one pool process's, while it has a
 * process, across every daemon on the host: each claim is a file SANDBOX_IDS_DIR/UID
 * holding the holder's "PID START_TIME" (first the daemon's own, then the guest
 * process's), made and checked under an flock of SANDBOX_IDS_DIR/lock. A claim whose
 * process is gone (a daemon killed, a guest that ended while none ran) is free. */
struct sandbox_ids {
	uid_t uid;
	gid_t gid;
	unsigned count;
	int dirfd, lockfd; /* SANDBOX_IDS_DIR and its lock (sandbox_ids_open); -1: none */
};

#define SANDBOX_IDS_DIR "/run/lodge/ids"

/* Daemon: opens (making it) the host-wide directory of claims. Returns 0, or -errno
 * (slots are then this daemon's alone, as two daemons might share one). */
int sandbox_ids_open(struct sandbox_ids *ids, const char *dir) __attribute__((warn_unused_result));
void sandbox_ids_close(struct sandbox_ids *ids);
/* The slot's claim names `pid` from now on (the process that runs as it), if it is
 * free or held by `prev` (0: by nobody alive). Returns 0, or -EBUSY when another live
 * process holds it, -errno. */
int sandbox_slot_own(const struct sandbox_ids *ids, int slot, pid_t pid, pid_t prev);
/* Frees the slot if its claim names `pid`. A slot < 0 is a no-op. */
void sandbox_slot_release(const struct sandbox_ids *ids, int slot, pid_t pid);

/* One empty network namespace for the Wasm guests (sandbox_netns_open): only a loopback
 * interface, down, which nothing in a guest may bring up (the namespace belongs to the
 * host's user namespace, where guests have no capabilities). Their seccomp list allows no
 * socket of any kind, so they cannot even reach each other's (abstract unix names, ports)
 * there: sharing one isolates the same, and saves creating (about 1 ms) and tearing down
 * (several ms, and kernel memory) one per guest. System guests, which may make IPv4 and
 * IPv6 sockets, keep one each. -1 descriptors: each guest gets a new one. */
struct sandbox_netns {
	int host, empty; /* the daemon's own (the host's), and the shared one */
};

/* Daemon: makes the shared namespace (before any thread starts). Returns 0 or -errno
 * (both descriptors -1: guests then get their own). */
int sandbox_netns_open(struct sandbox_netns *n) __attribute__((warn_unused_result));
void sandbox_netns_close(struct sandbox_netns *n);

/* Defaults when /etc/subuid and /etc/subgid name no range for the user "lodge". */
#define SANDBOX_ID_BASE	 0x70000000u
#define SANDBOX_ID_COUNT 65536u

struct sandbox_plan {
	bool enabled; /* namespaces and pivot_root (false: --no-sandbox) */
	bool seccomp;
	bool userns, netns;
	uid_t host_uid; /* with userns: the host ids the guest's root maps to */
	gid_t host_gid;
	const struct sandbox_netns *shared_net; /* with netns: join this one (NULL: a new one) */
	const char *seccomp_hex; /* the precompiled filter for the spec (NULL: none) */
	char root[PATH_MAX];	 /* host path of the empty directory to build the root in */
	char run_dir[PATH_MAX];	 /* host path of the run directory */
	char sock_path[PATH_MAX], log_path[PATH_MAX], exit_path[PATH_MAX]; /* in run_dir */
	char ready_path[PATH_MAX];					   /* in run_dir */
	char spec_path[PATH_MAX]; /* the spec file the guest reads, "" when not enabled */
	char hostname[64];
	char firmware[PATH_MAX]; /* a system guest's firmware (the request's or a default) */
	struct sandbox_bind binds[SANDBOX_MAX_BINDS];
	unsigned nbinds;
	char inside[4][256]; /* results of sandbox_inside (a small ring) */
	unsigned next_inside;
	char arena[SANDBOX_ARENA_MAX]; /* strings binds point to (host parts of "HOST::GUEST") */
	size_t arena_used;
	/* while a restored guest's binds are planned: the backing files its snapshot's
	 * copies may name (SNAP.backing, in the arena), else NULL */
	const char *trusted;
	/* the recorded backing file that is no longer the file it was (-ESTALE), or NULL */
	const char *stale;
};

/* Daemon: reads the range of host ids for guests from `subuid` and `subgid` (lines
 * "lodge:START:COUNT"; NULL: /etc/subuid, /etc/subgid), else SANDBOX_ID_BASE and
 * SANDBOX_ID_COUNT. Returns 0 or -EINVAL for a malformed or too small range (count < 1,
 * or a range that reaches id 0 or overflows). */
int sandbox_ids_init(struct sandbox_ids *ids, const char *subuid, const char *subgid)
	__attribute__((warn_unused_result));

/* The firmware a system guest gets when its request names none: the default guest's,
 * next to `binary`'s build tree (build/MODE/lodge), then Debian's opensbi
 * (SANDBOX_FIRMWARE_DEBIAN). False (out empty) when neither is there. `lodge run` and
 * `lodge create` look in the current directory first (cli_find_firmware). */
#define SANDBOX_FIRMWARE_DEBIAN "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
bool sandbox_default_firmware(const char *binary, char *out, size_t len);

/* Daemon: plans the sandbox of guest g and writes its spec file. Returns 0, or -errno with
 * the reason in err. */
int sandbox_plan_make(struct daemon *d, struct guest *g, struct sandbox_plan *p, char *err,
		      size_t errlen) __attribute__((warn_unused_result));
void sandbox_plan_fini(struct sandbox_plan *p);

/* Rewrites the paths under /files/ that g's sandbox shows it (its disks, kernel, ...) in
 * text (a line of the guest's, len bytes of room) into the host's paths for them, so that
 * what the guest says makes sense outside; cut to len if they are longer. Nothing
 * without a sandbox (the guest sees the host's paths). */
void sandbox_outside_text(struct daemon *d, struct guest *g, char *text, size_t len);

/* At create, for the i-th disk (a qcow2 image at `host`): appends to `binds` an
 * [inside, host] pair for each file of its backing chain, `inside` where the guest's
 * Lodge will look for it in the sandbox (an absolute name as it is, a relative one
 * against the directory of the image naming it, /files for the disk, made canonical).
 * The daemon keeps them (config "backing_binds") and binds those files, and no other,
 * at every start: the guest's process writes its images' headers. 0, or -errno with
 * one line in err. An image that does not open here adds nothing (its start says
 * why). */
int sandbox_record_chain(const char *host, unsigned i, struct cJSON *binds, char *err,
			 size_t errlen);

/* Create of a guest restored from a snapshot with "backing_files": appends
 * [path as given made canonical, its real path, DEV:INO] for the regular file at the
 * absolute `path` to binds (its config's "backing_binds"): bound read-only at both paths
 * at every start while it is still that file, for the snapshot's disk copies to find
 * (a snapshot taken by `lodge run`, which lists no backing files). Returns 0, or -EINVAL
 * (a relative or odd path, not a regular file) or -ENOMEM with one line in err. */
int sandbox_record_file(const char *path, struct cJSON *binds, char *err, size_t errlen);

/* After a system guest's process got its mounts: writes the guest's backing.list (in its
 * directory, which its sandbox does not have; mode 0600), a "PATH<tab>HOST<tab>DEV:INO"
 * line for each backing file shared with it where a copy of its disks may name it, as
 * the mounts took them; none, the file goes. What sandbox_snapshot_clash checks and
 * sandbox_write_backing_list lists. */
void sandbox_record_bound(const struct sandbox_plan *p, struct guest *g);

/* Before `lodge snapshot` of g to SNAP: -EINVAL with the reason in err when SNAP, or a
 * name next to it the snapshot writes (SNAP.backing, SNAP.diskN.saved.FORMAT, and each
 * of those with .tmp), is a file g or another guest of the daemon runs on (its kernel,
 * initrd, firmware, module, disks, their backing files, the copies a restored guest's
 * disks lie over, the snapshot a restored guest starts from): renamed into place, the
 * snapshot would take that file's name. A restored guest may save back to the snapshot
 * file itself. Also -ENOTSUP when a snapshot of g could not be restored: a backing file
 * it was given (its backing.list, or its configuration's) is no longer that file at its
 * path, or a copy of its disks would name a file its sandbox has no bind for at that
 * name (one under /run, or with a tab or a newline in its path). */
int sandbox_snapshot_clash(struct daemon *d, struct guest *g, const char *snap, char *err,
			   size_t errlen);

/* After `lodge snapshot` of g to SNAP with its disks' copies: writes SNAP.backing (mode
 * 0600), a "PATH<tab>HOST<tab>DEV:INO" line for each backing file g's sandbox binds for
 * its disks where a copy may name it (from its backing.list, each still that file; a
 * guest started before that list existed: from its configuration) (its host path; an absolute name
 * as it is), and for a guest restored from a snapshot, that snapshot's copies of its disks, at
 * their host paths (the copies of its overlays over them name them there). A guest restored from
 * SNAP gets those files bound there, if each is still that file, and no other: the copies are
 * written by the guest's process, which the daemon does not trust to name host files; the list is
 * taken only as the daemon's user's own file that no one else may write. Removes the file when
 * there are none. Returns 0 or -errno. */
int sandbox_write_backing_list(struct daemon *d, struct guest *g, const char *snap);

/* Copies of a system guest's disks that the daemon's `lodge snapshot` SNAP left next to
 * it (SNAP.diskK.saved.FORMAT, K < SANDBOX_SAVED_DISKS): the k-th one's format ("raw",
 * "qcow2") with its path in path[len], or NULL if there is none. A guest restored from
 * SNAP gets them, in order, read-only at /files/diskN (its disks' overlays go in /run). */
#define SANDBOX_SAVED_DISKS 32
const char *sandbox_saved_disk(const char *snap, unsigned k, char *path, size_t len);

/* The path the guest sees for one of its files: `what` is "kernel", "initrd", "firmware",
 * "wasm", "disk" (index i), "dir" (index i, host as "HOST[::GUEST]", the result is
 * "INSIDE::GUEST"), or "run" (host is a file name in the run directory). Without a
 * sandbox the host path. The result lives until 4 more calls. */
const char *sandbox_inside(struct sandbox_plan *p, const char *what, unsigned i, const char *host);

struct sandbox_child {
	const char *binary;
	char *const *argv, *const *envp;
	int logfd;	     /* the guest's stderr */
	int cgfds[CG_NCTRL]; /* cgroup_open_join's files: the child joins its groups first */
	unsigned ncgfds;
	int bindfds[SANDBOX_MAX_BINDS]; /* internal: the plan's mounts, sent at release */
	unsigned nbindfds;
	char spec[PATH_MAX], root[PATH_MAX]; /* internal: the plan's, for the child */
	bool userns;
	bool pool; /* a pool process: executes `lodge wasm --pool-wait` (see below) */
	int handfds[2 + CG_NCTRL]; /* internal: log, spec, cgroups for the handover */
	unsigned nhandfds;
	int pidfd;   /* out */
	int gofd;    /* internal: the pipe the child waits on (a pool process's socket) */
	void *stack; /* out: the child's stack (see sandbox_spawn) */
};

/* Daemon: starts the guest process (in its namespaces when the plan says so). The child
 * shares the daemon's memory until it executes `binary` (CLONE_VM: no page tables to copy,
 * no copy-on-write faults in the daemon afterwards), running on ch->stack and reading
 * *ch, binary, argv and envp: the caller keeps all of them (and frees the stack with
 * sandbox_child_free) until the guest process has ended. The child joins its cgroups
 * through ch->cgfds at once (the caller closes its copies after the call; a child that
 * cannot join says so on logfd and exits 125), then waits until sandbox_release before it
 * executes. Returns 0 with the pid and ch->pidfd, or -errno
 * with the reason in err. */
int sandbox_spawn(const struct sandbox_plan *p, struct sandbox_child *ch, pid_t *pid, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/* Frees the child's stack (once the process ended). NULL stack is a no-op. */
void sandbox_child_free(struct sandbox_child *ch);

/* Daemon: lets the child run, handing it its mounts (it exits at once if this is never
 * called and the daemon goes away). Returns 0 or -errno. */
int sandbox_release(struct sandbox_child *ch) __attribute__((warn_unused_result));

/* The warm pool of Wasm guest processes (host/pool.c). A pool process is spawned as a
 * guest is (sandbox_spawn with ch->pool and a plan without files: its namespaces, its id
 * map, the shared network namespace) but executes `lodge wasm --pool-wait` at once, with
 * its socket to the daemon on SANDBOX_POOL_FD, and writes one byte there when it waits.
 * Before it executes it opens the plan's root directory (SANDBOX_POOL_ROOT_FD: in its own
 * mount namespace, the one its root tmpfs must be mounted in; any empty directory does,
 * as each process mounts on it in its own namespace). A start then adopts it
 * (sandbox_adopt) and sandbox_release hands it everything the spawn of a new process
 * would have had: its command line, log, spec, cgroup files and mounts, in one message
 * (struct sandbox_handover and the descriptors in that order). The daemon closing the
 * socket instead makes it exit. */
#define SANDBOX_POOL_FD	       3
#define SANDBOX_POOL_ROOT_FD   4
#define SANDBOX_POOL_HIGH_FD   128 /* and up: what the pool process keeps beside */
#define SANDBOX_POOL_READY     'r'
#define SANDBOX_HANDOVER_MAX   (64u << 10) /* the message, command line included */
#define SANDBOX_HANDOVER_MAGIC 0x4c4f4447u

struct sandbox_handover {
	uint32_t magic;
	uint16_t ncg, nmounts; /* descriptors: log, spec, then ncg, then nmounts */
	uint32_t argc;	       /* then argc strings, each ending in a NUL */
};

/* Daemon: claims the lowest id slot (sandbox_ids) free of every guest with a process but g
 * (NULL: none excluded), every pool process, and every other daemon's claim, for this
 * daemon (sandbox_slot_own then gives it to the process); -1 if none. */
int sandbox_pick_slot(const struct daemon *d, const struct guest *g);

/* Daemon: makes the waiting pool process `pid` (ch: its sandbox_spawn'd child, whose ready
 * byte was seen) the guest the plan describes: ch->argv, ch->logfd and ch->cgfds are the
 * guest's (copied here: the caller keeps its own). Makes the plan's mounts for its user
 * namespace; sandbox_release then sends everything. Returns 0 or -errno with the reason in
 * err (the caller then kills the process). */
int sandbox_adopt(const struct sandbox_plan *p, struct sandbox_child *ch, pid_t pid, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/* Pool process (`lodge wasm --pool-wait`): builds its sandbox's root and pivots into it
 * (its /proc/self/statm open first, on a descriptor >= SANDBOX_POOL_HIGH_FD in
 * *statm_fd, -1 if it could not be), says it is ready, waits for its guest, joins
 * the guest's cgroups, makes the log its stderr and lays the spec, root and mounts out as
 * a spawned guest finds them (SANDBOX_SPEC_FD...). Returns 0 with the guest's command
 * line in *argc and *argv (from "lodge"; allocated, kept for the process's life), -EPIPE when
 * the daemon closed the socket (nothing to do: exit), or another -errno (logged). */
int sandbox_pool_wait(int *argc, char ***argv, int *statm_fd) __attribute__((warn_unused_result));

/* Pool process, with its guest: sandbox_enter for a root built before the guest came
 * (sandbox_pool_wait pivots into it while it waits): the spec's mounts on their mount
 * points, then the same as sandbox_enter. Returns 0 or -errno (logged). */
struct sandbox_filter;
int sandbox_enter_pooled(struct sandbox_filter *filter) __attribute__((warn_unused_result));

/* The guest process finds its spec file, its root directory (O_PATH) and its mounts
 * (in the spec's order) open on these descriptors: it may not be allowed to look their
 * paths up itself. Its --sandbox argument names SANDBOX_SPEC_PATH. */
#define SANDBOX_SPEC_FD	  3
#define SANDBOX_ROOT_FD	  4
#define SANDBOX_FIRST_FD  5
#define SANDBOX_SPEC_PATH "/proc/self/fd/3"

/* A seccomp filter the daemon compiled (BPF instructions), for the guest to install. */
struct sandbox_filter {
	void *insns; /* struct sock_filter[count]; NULL: none (the guest compiles its own) */
	unsigned count;
};

/* Guest: enters the sandbox described by the spec file (see above). Must run before any
 * thread starts and before any guest file is opened. Returns 0, or -errno after logging
 * what failed. *statm_fd gets /proc/self/statm opened before /proc disappears (-1 when
 * it could not be); *filter the spec's precompiled seccomp filter (for sandbox_seccomp;
 * zeroed when the spec has none). */
int sandbox_enter(const char *spec_path, int *statm_fd, struct sandbox_filter *filter)
	__attribute__((warn_unused_result));

enum sandbox_kind { SANDBOX_VM, SANDBOX_WASM };

/* Daemon: compiles the allow list for `kind` with libseccomp, as text for a guest's spec
 * (hex of the BPF instructions; free() it): compiling it once saves each guest's start
 * that work (~0.8 ms here). Returns 0 or -errno. */
int sandbox_seccomp_export(enum sandbox_kind kind, char **hex) __attribute__((warn_unused_result));

/* Guest: installs the seccomp allow list for `kind` on every thread of the process: the
 * precompiled `pre` when it holds one (freed and zeroed), else compiled here with
 * libseccomp. Returns 0 or -errno (logged). */
int sandbox_seccomp(enum sandbox_kind kind, struct sandbox_filter *pre)
	__attribute__((warn_unused_result));

/* Builds with LODGE_TEST_HOOKS (the test build): LODGE_TEST_HOOK=forbidden-syscall in the
 * environment makes the guest call a system call outside its allow list right after the
 * filter is installed, which must kill it with SIGSYS; rwf-flags makes a pwritev2 with
 * the flags a Wasm filter allows (RWF_NOWAIT, RWF_APPEND), then a preadv2 with
 * RWF_HIPRI, which must kill it. Elsewhere a no-op. */
void sandbox_test_hook(void);

#endif
