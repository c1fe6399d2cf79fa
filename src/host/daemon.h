/*
 * The Lodge host daemon (`lodge daemon`): one process that keeps the registry of guests
 * (host/registry.h), runs each guest as its own `lodge run` / `lodge wasm` process
 * (host/supervisor.c), isolated (host/sandbox.h, host/cgroup.h), and serves the REST API
 * (host/handlers.c, docs/API.md) on a unix socket.
 *
 * The daemon holds nothing about a guest that the registry or the guest's own files do not
 * also hold: configuration and state live in SQLite, console output in the guest's ring
 * file, how it ended in its exit record; what is in memory (process handles, timers,
 * waiting API requests) is rebuilt when the daemon starts again, and guests keep running
 * meanwhile (it finds them again through their pid, start time and control socket).
 *
 * Threading: one thread runs the event loop; everything here is called on it.
 *
 * State directory layout (STATE, default /var/lib/lodge):
 *   STATE/lodge.db                  the registry
 *   STATE/guests/NAME/lodge.log     the guest process's own messages (stderr)
 *   STATE/guests/NAME/run/          shared with the guest (its /run when sandboxed):
 *       api.sock                    its control socket
 *       console.log                 its console, a ring file
 *       exit.json                   its exit record
 *   STATE/guests/NAME/root/         the empty directory its sandbox is built in
 */
#ifndef LODGE_HOST_DAEMON_H
#define LODGE_HOST_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "api/server.h"
#include "host/cgroup.h"
#include "host/registry.h"
#include "host/sandbox.h"

struct evloop;
struct evloop_timer;
struct evloop_watch;

#define DAEMON_DEFAULT_STATE  "/var/lib/lodge"
#define DAEMON_DEFAULT_SOCKET "/run/lodge/lodge.sock"
#define GUEST_NAME_MAX	      63
/* A Wasm guest's "args" and "env" (checked at create): lodge wasm takes 256 --env; their
 * strings share its command line, which a pool process receives in one message of
 * SANDBOX_HANDOVER_MAX (64 KiB) with the daemon's own options. */
#define GUEST_MAX_ARGS	     256
#define GUEST_MAX_ENV	     256
#define GUEST_MAX_ARGV_BYTES (48u << 10)
#define GUEST_MIN_CPU_QUOTA  0.001 /* CPUs: the kernel's 1 ms quota of a 100 ms period */
#define GUEST_MAX_CPU_QUOTA  1024.0

struct daemon_config {
	const char *state_dir;
	const char *socket;
	const char *group;	  /* the socket's group, NULL: the daemon's */
	int cgroup_version;	  /* 0 auto, 1, 2 */
	const char *cgroup_root;  /* NULL: /sys/fs/cgroup */
	uint64_t mem_overhead;	  /* added to a guest's memory for its cgroup limit */
	unsigned stop_timeout;	  /* seconds a stop waits before killing */
	bool no_sandbox;	  /* run guests without namespaces/seccomp (debugging) */
	bool no_userns;		  /* sandbox without a user namespace */
	const char *lodge_binary; /* what guests run (default: this binary) */
	unsigned wasm_pool;	  /* Wasm guest processes kept waiting (pool.c); 0: none */
};

#define DAEMON_DEFAULT_WASM_POOL 2
#define DAEMON_DEFAULT_VM_MEMORY (256ull << 20) /* a system guest's RAM without 'memory' */
#define DAEMON_MAX_WASM_POOL	 64

enum restart_policy { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS };
enum guest_kind { GUEST_VM, GUEST_WASM };

/* An API request waiting for a guest to stop (stop, kill, rm --force). */
struct waiter {
	struct waiter *next;
	struct guest *g;
	struct api_conn *conn;
	int status;  /* the answer once the guest stopped: 204 */
	bool remove; /* rm --force: remove the guest once it stopped */
};

/* A `logs --follow` stream. */
struct follower {
	struct follower *next;
	struct guest *g;
	struct api_conn *conn;
	struct logring *ring; /* NULL until the guest's ring exists */
	uint64_t pos;
	struct evloop_timer *timer;
};

struct guest {
	struct guest *next;
	struct daemon *d;
	struct guest_record rec; /* the registry row, kept in step with it */
	cJSON *config;		 /* rec.config, parsed */
	enum guest_kind kind;
	enum restart_policy restart;
	char dir[512]; /* STATE/guests/NAME */
	/* the running process */
	int pidfd;	 /* -1 when none */
	bool child;	 /* we forked it (waitid gives its status) */
	bool sent_kill;	 /* the daemon sent its process SIGKILL (kill, a stop's timeout) */
	bool found_gone; /* its end was found at the daemon's start, not seen as it came */
	/* a pause or resume on its control socket failed (timed out): the guest may still do
	 * it once it answers, so the registry's running/paused is a guess until
	 * guest_sync_state asked the guest */
	bool state_unsure;
	struct evloop_watch *pid_watch;
	uint64_t started_mono; /* when it started (ns, monotonic) */
	char cg_applied[128], cg_skipped[256];
	struct cgroup_limits cg_lim; /* its group's limits (setup_cgroup; pool_adopt again) */
	int id_slot; /* its host ids (daemon->ids + slot) while it has a process; -1: none */
	struct spawn_res *spawn; /* what the guest process's start needs kept (supervisor.c) */
	/* its start until it said it is set up (run/ready, a FIFO: --ready-file): the read
	 * end, and the `lodge start` waiting for it (answered then, or with the reason once
	 * the process ended first, or at start_wait_at) */
	int ready_fd; /* -1 when none */
	struct evloop_watch *ready_watch;
	struct api_conn *start_conn;
	uint64_t start_wait_at; /* 0: nobody waits */
	/* stopping: deadline for the power button, then the kill */
	struct evloop_timer *timer;
	uint64_t kill_at;  /* 0: no stop in progress */
	uint64_t press_at; /* next press of the power button */
	/* restarting after a failure */
	uint64_t restart_at; /* 0: none pending */
	unsigned backoff;
	struct waiter *waiters;
	struct follower *followers;
	/* an incoming migration (config "incoming"): the daemon's listening socket until the
	 * source connects, then the guest's answer once the connection was handed over; an
	 * outgoing one (mig_out): the guest's answer, and the request waiting for it */
	int mig_listen; /* -1 when none */
	struct evloop_watch *mig_watch;
	struct api_client *mig_client;
	struct evloop_watch *mig_client_watch;
	char mig_buf[1024];
	size_t mig_len;
	bool mig_out;
	bool mig_repl; /* the outgoing hand-over is replication's: the guest runs on */
	struct api_conn *mig_conn;
	char mig_peer[256];
	/* a snapshot under way (guest_snapshot): the control connection its answer comes
	 * on, the request waiting for it, its deadline (0: none under way) and what to do
	 * once it came */
	struct api_client *snap_client;
	struct evloop_watch *snap_watch;
	struct api_conn *snap_conn;
	uint64_t snap_at;
	bool snap_was_running, snap_leave_paused;
	char snap_path[600];
};

/* An `events --follow` stream. */
struct event_follower {
	struct event_follower *next;
	struct daemon *d;
	struct api_conn *conn;
	char guest[GUEST_NAME_MAX + 1]; /* "" = every guest */
	int64_t since;			/* only events after this id (?since=) */
};

struct daemon {
	struct daemon_config cfg;
	char state[512];
	char binary[512];
	struct evloop *loop;
	struct registry *reg;
	struct api_server *srv;
	struct cgroup_env cg;
	char cg_instance[32]; /* "lodge.<hash of the state directory>" */
	bool have_cgroups;
	int state_lock; /* <state>/daemon.lock, write-locked while this daemon runs (or -1) */
	gid_t sock_gid;
	struct guest *guests;
	struct event_follower *event_followers;
	bool userns_ok;			 /* the host lets us create user namespaces */
	struct sandbox_ids ids;		 /* the host ids guests' roots map to */
	struct sandbox_netns netns;	 /* the empty network namespace guests share */
	char *seccomp_hex[2];		 /* the guests' filters, per enum sandbox_kind */
	struct pool_proc *pool;		 /* the warm pool's processes (pool.c) */
	unsigned pool_count;		 /* how many (ready or not) */
	unsigned pool_failures;		 /* in a row that died before they were ready */
	unsigned pool_seq;		 /* names the pool processes' cgroups (".pool.N") */
	struct evloop_timer *pool_timer; /* the refill */
	char **pool_env;		 /* their environment (guest_env_create) */
	int quit;			 /* set by a termination signal */
};

/* Runs the daemon until SIGTERM/SIGINT (guests keep running). Returns a process exit
 * status: 0, or 1 when it could not start (the message says why). */
int daemon_main(const struct daemon_config *cfg);

/* ---- supervisor.c ---- */

/* Loads every guest from the registry and finds the running ones again. */
int supervisor_load(struct daemon *d) __attribute__((warn_unused_result));
/* Frees the in-memory guests (their processes go on). */
void supervisor_unload(struct daemon *d);

struct guest *guest_find(struct daemon *d, const char *name);

/* Checks a create request and adds the guest (state created). Returns 0, or -EINVAL /
 * -EEXIST with the reason in err, -EIO. */
/* A "disks" entry (a `lodge run --disk` spec, checked at create): its image's host path
 * (into buf, or the entry itself). */
const char *guest_disk_path(const char *spec, char *buf, size_t len);
int guest_create(struct daemon *d, const cJSON *body, struct guest **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Each returns 0, or a negative errno with a reason in err: -EBUSY (wrong state),
 * -EIO/-ENOMEM (host failure), -ECOMM (the guest's control socket did not answer). */
int guest_start(struct guest *g, char *err, size_t errlen) __attribute__((warn_unused_result));
/* After a guest_start: answers `conn` once the guest process says it is set up (204), or
 * ended before that (502 start_failed with its exit reason: a module that does not load,
 * a kernel that is no ELF), or after GUEST_START_WAIT_NS at the most (204: it runs, slow
 * to set up). Returns 0 when it will, or -EALREADY: answer now (nothing to wait for). */
#define GUEST_START_WAIT_NS 3000000000ull
int guest_start_wait(struct guest *g, struct api_conn *conn) __attribute__((warn_unused_result));
int guest_pause(struct guest *g, char *err, size_t errlen) __attribute__((warn_unused_result));
int guest_resume(struct guest *g, char *err, size_t errlen) __attribute__((warn_unused_result));
/* For a guest whose state is unsure (state_unsure), or always with `force`: asks the
 * running guest whether it is paused (GET /vm, within timeout_ms) and makes the registry
 * say what it does (a "pause"/"resume" event when that changed). Returns 0 once known,
 * else -ECOMM (the guest did not answer: the registry's state stays, still unsure). */
int guest_sync_state(struct guest *g, bool force, int timeout_ms);
/* Saves a running or paused guest to `path` (absolute: the daemon writes it): pauses it
 * if it runs, has it write a snapshot into its own run directory (its sandbox), moves
 * that to path, and resumes it unless leave_paused. The guest writes it while the
 * daemon serves on: returns 0 when it started, and `conn` (may be NULL) is answered
 * later, 204 once the file is in place or the error (502 when the guest did not answer
 * within its bound). Else -EBUSY (not running or paused; a snapshot or migration under
 * way), -EINVAL (a bad path) or -ECOMM with err. While it runs, pause, resume, stop,
 * migrate, replicate and another snapshot of the guest get -EBUSY; kill ends it. */
int guest_snapshot(struct guest *g, const char *path, bool leave_paused, struct api_conn *conn,
		   char *err, size_t errlen) __attribute__((warn_unused_result));
/* Live migration to another daemon's guest created with "incoming": HOST:PORT. The
 * daemon connects (it has the host's network; the guest process may not) and hands the
 * socket to the guest, which migrates over it while the daemon serves on. Returns 0 when
 * the migration started: `conn` is answered later, 204 once the guest runs there and its
 * process here has ended (reason "migrated"), or the error that left it running here
 * (502 migration_failed, 409 not_supported). `opts` is POST /migrate/send's query
 * (post_copy=1&precopy_rounds=N&max_bandwidth=B; "" for none). Else -EBUSY, -EINVAL,
 * -ECONNABORTED (the destination cannot be reached) or -ECOMM with err. */
int guest_migrate(struct guest *g, const char *dest, const char *opts, struct api_conn *conn,
		  char *err, size_t errlen) __attribute__((warn_unused_result));
/* Continuous replication to another daemon's guest created with "incoming": HOST:PORT
 * and "standby": true (docs/SNAPSHOT.md "Replication"): the daemon connects and hands the
 * socket over (POST /replicate/send). Returns 0 when it started: `conn` is answered 204
 * once the standby has the first checkpoint (the guest runs on, replicated), or 502
 * replication_failed. Else -EBUSY, -EINVAL, -ECONNABORTED or -ECOMM with err. */
int guest_replicate(struct guest *g, const char *dest, unsigned interval_ms, struct api_conn *conn,
		    char *err, size_t errlen) __attribute__((warn_unused_result));
/* A standby guest takes over from its last checkpoint (PUT /failover on its control
 * socket). Returns 0, -EBUSY (not a standby waiting) or -ECOMM with err. */
int guest_failover(struct guest *g, char *err, size_t errlen) __attribute__((warn_unused_result));
/* Stop (power off, then kill after `timeout` s) and kill: the answer to `conn` is sent
 * once the guest has stopped (conn may be NULL). guest_stop of a guest that has no
 * process (and no pending restart) returns -EALREADY: nothing to stop. */
int guest_stop(struct guest *g, unsigned timeout, struct api_conn *conn, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int guest_kill(struct guest *g, struct api_conn *conn, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Removes a guest that is not running; with force, kills it first and answers `conn`
 * once removed. */
int guest_remove(struct guest *g, bool force, struct api_conn *conn, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* True while the guest has a process. */
bool guest_active(const struct guest *g);

/* Calls the guest's control socket: METHOD path with a JSON body; the answer in *r
 * (api_result_fini it). Returns 0 or -ECOMM. */
struct api_result;
int guest_control(struct guest *g, const char *method, const char *path, const char *body,
		  struct api_result *r) __attribute__((warn_unused_result));

/* Paths inside the guest's directory. */
void guest_path(const struct guest *g, const char *rel, char *out, size_t len);

/* Records an event (registry, event followers). */
void daemon_event(struct daemon *d, const char *guest, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The environment of a guest process: nothing of the daemon's but logging and test
 * settings. NULL when out of memory; guest_env_free frees it. */
char **guest_env_create(bool sandboxed);
void guest_env_free(char **env);

/* ---- pool.c: the warm pool of Wasm guest processes ---- */

/* A process of the pool: spawned into its namespaces, id-mapped to its own slot, waiting in
 * `lodge wasm --pool-wait` (sandbox.h) for a guest. */
struct pool_proc {
	struct pool_proc *next;
	struct daemon *d;
	struct sandbox_child ch;
	pid_t pid;
	int slot;    /* its host ids (daemon->ids + slot); -1 without a user namespace */
	bool ready;  /* it said it waits */
	char cg[24]; /* its own cgroup (".pool.N", v1), renamed the guest's on adoption; "" */
	struct evloop_watch *exit_watch, *sock_watch;
};

/* Starts filling the pool (cfg.wasm_pool processes; none without a sandbox). Returns 0 or
 * -errno (the daemon then runs without one). */
int pool_open(struct daemon *d) __attribute__((warn_unused_result));
/* Kills and reaps every pool process. */
void pool_close(struct daemon *d);
/* Spawns a Wasm guest from a ready pool process: the guest g's plan p, its command line,
 * log and cgroup files in ch (as for sandbox_spawn, whose results it gives: ch->pidfd,
 * *pid). Schedules a refill. Returns 0, -EAGAIN when no process is ready (spawn a new
 * one), or another -errno with the reason in err. */
int pool_adopt(struct guest *g, const struct sandbox_plan *p, struct sandbox_child *ch, pid_t *pid,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

/* ---- handlers.c ---- */

extern const struct api_route daemon_routes[];
extern const unsigned daemon_nroutes;
/* Answers an error -errno of the guest_* calls: its HTTP status and code, with msg. */
void daemon_reply_errno(struct api_conn *c, int r, const char *msg);

/* Tells `logs --follow` and `events --follow` streams that new data may be there. */
void followers_guest_stopped(struct guest *g);
void event_followers_push(struct daemon *d, int64_t id);

#endif
