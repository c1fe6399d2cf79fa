/*
 * The guest side of the Lodge host: what `lodge run` and `lodge wasm` serve when the
 * daemon starts them as guests.
 *
 * - The control socket (--api SOCKET), an HTTP API shaped like Firecracker's:
 *     GET   /vm       {"kind", "state": "Running"|"Paused", "stats": {instret, cpu_time_ns,
 *                     rss_bytes, ram_resident_bytes, uptime_ns[, net_rx_bytes,
 *                     net_tx_bytes, disk_read_bytes, disk_write_bytes]}} (the last four
 *                     when the guest kind has devices: summed over its NICs and disks)
 *     PATCH /vm       {"state": "Paused"|"Resumed"}                         -> 204
 *     PUT   /actions  {"action_type": "Stop"|"Kill"}                        -> 204
 *     PUT   /snapshot/create  {"snapshot_path": FILE[, "snapshot_type": "Full"|"Diff",
 *                     "ram_format": "zstd"|"raw"]} with the guest paused       -> 204
 *     PUT   /migrate  {"destination": "HOST:PORT"[, "post_copy": true, "precopy_rounds":
 *                     N, "max_bandwidth": BYTES_PER_S]}: live migration to `lodge
 *                     run|wasm --incoming tcp:HOST:PORT`; 204 once the destination runs
 *                     the guest (this process then exits, reason "migrated"); on failure
 *                     the guest runs on here: 502 migration_failed
 *     POST  /migrate/send[?post_copy=1&precopy_rounds=N&max_bandwidth=B]  upgrade;
 *                     then the daemon sends a socket connected to the
 *                     destination (SCM_RIGHTS, its HOST:PORT as the message's bytes):
 *                     the migration runs over it and its outcome comes back as one
 *                     JSON line {"ok", "error", "message"} (the daemon connects: this
 *                     process may have no network)
 *     POST  /migrate/receive  upgrade, with --incoming control: the same hand-over of
 *                     the connection the daemon accepted from the source; the outcome
 *                     (the machine loaded and running, or why not) as one JSON line
 *     POST  /console  upgrade to a raw stream: the console's output from now on, and
 *                     input to the guest; any number of clients may attach and detach
 *                     without disturbing the guest.
 * - The console log (--console-log FILE): the guest's console output goes through a pipe
 *   into a ring file (core/logring.h) that the daemon reads for `lodge logs`, and to the
 *   attached clients; its input comes from the attached clients only.
 * - The exit record (--exit-file FILE): {"status": N, "reason": "..."} written just before
 *   the process exits, so that a daemon that was not the guest's parent (it restarted)
 *   still learns why the guest stopped.
 * - The ready signal (--ready-file FIFO): one byte written to a FIFO the daemon reads once
 *   the guest is set up (its machine built or its module instantiated) and about to run,
 *   so that `lodge start` can tell a guest that runs from one whose set-up failed.
 *
 * The server runs on its own event-loop thread; the ops below are called there.
 */
#ifndef LODGE_CLI_GUESTCTL_H
#define LODGE_CLI_GUESTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guestctl;
struct guestctl_snapshot;

/* PUT /migrate's options (machine/migrate.h's vm_migrate_opts). */
struct guestctl_migrate {
	bool post_copy;
	bool stop_copy; /* Wasm: stop and copy instead of pre-copy ("stop_and_copy") */
	unsigned precopy_rounds;
	uint64_t max_bandwidth;
};

struct vm_repl_stats;

/* What a system guest's devices moved (GET /vm's stats). */
struct guestctl_io {
	uint64_t net_rx, net_tx;	/* Ethernet frame bytes, all NICs */
	uint64_t disk_read, disk_write; /* data bytes of completed requests, all disks */
};

struct guestctl_ops {
	const char *kind; /* "vm" or "wasm" */
	/* Each returns 0 or -errno (-EAGAIN: not possible right now, e.g. while rebooting;
	 * -ENODEV: the guest has no way to do it). Control thread. */
	int (*pause)(void *opaque);
	int (*resume)(void *opaque);
	int (*stop)(void *opaque); /* ask the guest to power off */
	int (*kill)(void *opaque); /* stop the guest at once */
	bool (*paused)(void *opaque);
	/* stop and kill may come while a snapshot is written (PUT /actions answers at once;
	 * the guest ends once the snapshot is complete): they only ask, never wait (Wasm) */
	bool end_beside_snapshot;
	uint64_t (*instret)(void *opaque);	/* work done so far (0 if not counted) */
	uint64_t (*ram_resident)(void *opaque); /* guest RAM backed by host memory (bytes) */
	void (*io)(void *opaque, struct guestctl_io *out); /* NULL: no devices to count */
	/* Writes a snapshot of the paused guest; -EBUSY when it is not paused; other errors
	 * with one line in err. NULL: the guest kind has no snapshots. Worker thread. */
	int (*snapshot)(void *opaque, const struct guestctl_snapshot *req, char *err,
			size_t errlen);
	/* Migrates the guest to `dest` (HOST:PORT; over `fd`, a connected socket it takes,
	 * unless -1); 0 once the destination runs it, else
	 * -errno with one line in err (the guest runs on). NULL: not supported. Worker
	 * thread. `migrated` is then called on the control thread, after the answer went
	 * out: it ends this guest. -ENOTRECOVERABLE: a post-copy migration failed after the
	 * switch (the guest is lost: it stays paused until `migrated`, `lost` true, ends it
	 * after the answer went out, so the client always hears why). */
	int (*migrate)(void *opaque, const char *dest, const struct guestctl_migrate *o, int fd,
		       char *err, size_t errlen);
	void (*migrated)(void *opaque, bool lost);
	/* Replication (machine/replicate.h; NULL: not supported). replicate starts it to
	 * `dest` (HOST:PORT; over `fd`, a connected socket it takes, unless -1) and returns once
	 * the standby has the first checkpoint: 0, or -errno with one line in err (-EALREADY: it
	 * runs already; -EOPNOTSUPP: this guest cannot be, 409). Worker thread. replication fills
	 * *out (and the standby's name) for GET /replicate: -ENOENT when it never ran. failover
	 * makes a standby take over: -ENOENT when this is none. Control thread. */
	int (*replicate)(void *opaque, const char *dest, unsigned interval_ms, int fd, char *err,
			 size_t errlen);
	int (*replication)(void *opaque, struct vm_repl_stats *out, char *dest, size_t cap);
	int (*failover)(void *opaque);
};

/* A snapshot request (PUT /snapshot/create). */
struct guestctl_snapshot {
	const char *path; /* absolute */
	bool raw_ram;	  /* "ram_format": "raw" (uncompressed, mapped on restore) */
	bool diff;	  /* "snapshot_type": "Diff" (what changed since the last one) */
	bool copy_disks;  /* "disks": "copy" (else "overlay"; docs/SNAPSHOT.md "Disks") */
	bool resume;	  /* "resume": true: the guest runs again once its state is saved
			   * (a system guest's disks are then copied while it runs) */
};

struct guestctl_config {
	const char *api_path;	 /* NULL: no control socket */
	const char *console_log; /* NULL: the console stays on stdin/stdout */
	const char *exit_file;	 /* NULL: no exit record */
	const char *ready_file;	 /* NULL: no ready signal (a FIFO the daemon reads) */
	int statm_fd;		 /* /proc/self/statm opened earlier (sandbox), or -1 */
	bool incoming;		 /* --incoming control: serve POST /migrate/receive */
};

/* Opens the console pipes and ring, binds the control socket (mode 0600) and starts the
 * control thread. Main thread, before the guest starts. Returns 0, or -errno (the message
 * is logged, naming the file). */
int guestctl_open(const struct guestctl_config *cfg, const struct guestctl_ops *ops, void *opaque,
		  struct guestctl **out) __attribute__((warn_unused_result));

/* With --console-log: the fd the guest reads its console input from, and the fd it
 * writes its console output to (-1 without). Owned by the guestctl. */
int guestctl_console_in(const struct guestctl *g);
int guestctl_console_out(const struct guestctl *g);

/* With cfg->incoming: waits until the daemon handed over the migration stream's socket
 * (POST /migrate/receive). Main thread. Returns 0 with *fd (the caller closes it) and the
 * peer's name in peer. */
int guestctl_incoming(struct guestctl *g, int *fd, char *peer, size_t cap);
/* Sends the incoming migration's outcome (r: 0 or -errno, msg why) to the daemon. */
void guestctl_incoming_done(struct guestctl *g, int r, const char *msg);

/* Says the guest is set up and about to run (--ready-file): once, later calls and NULL
 * are no-ops. Main thread. */
void guestctl_ready(struct guestctl *g);

/* Records how the guest ended (--exit-file) and flushes the console output still in the
 * pipe to the ring. Main thread, once the guest stopped. An operation still running (a
 * stop or kill that ended the guest before its worker reported) is answered first: it
 * waits up to 10 s for it. */
void guestctl_exit(struct guestctl *g, int status, const char *reason);

/* Writes the exit record {"status", "reason"} to path (--exit-file) at once, without the
 * console's flush: for a process that ends from another thread (a second SIGTERM). Any
 * thread; one record at a time. */
void guestctl_exit_record(const char *path, int status, const char *reason);

/* Stops the control thread, closes the socket (unlinked), the ring and the pipes. NULL is
 * a no-op. */
void guestctl_close(struct guestctl *g);

#endif
