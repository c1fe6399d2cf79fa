/*
 * WASI preview1 ("wasi_snapshot_preview1") as host functions for the wasm engine:
 * arguments, environment, clocks, random, file descriptors (stdio and preopened
 * directories), paths (capability-confined below a preopen), poll_oneoff, proc_exit and
 * sched_yield, and wasi-threads' thread-spawn (threads.c). A struct wasi is one process's
 * WASI state (its fd table); it is tied to one store (and the thread stores of its
 * threads) and reaches guest memory only through wasm_memory_range(). Its host functions
 * may be called from the program's threads at once (the fd table is locked, host.h).
 */
#ifndef LODGE_WASM_WASI_WASI_H
#define LODGE_WASM_WASI_WASI_H

#include "wasm/wasm.h"

struct wasi;

struct wasi_preopen {
	const char *host;  /* directory on the host */
	const char *guest; /* name the guest sees ("/data", ".") */
};

struct wasi_config {
	int argc;
	char **argv; /* argv[0] is the program name */
	int nenv;
	char **env; /* "KEY=VALUE" strings */
	int npreopens;
	const struct wasi_preopen *preopens;
	int stdin_fd, stdout_fd, stderr_fd; /* host fds for guest fds 0..2 (not closed) */
};

/* Creates WASI state for store s: copies the configuration and opens the preopened
 * directories. Returns 0, -ENOMEM, or a negative errno from opening a directory (with
 * the offending entry's index in *bad_preopen when not NULL). */
int wasi_create(struct wasm_store *s, const struct wasi_config *cfg, struct wasi **out,
		int *bad_preopen) __attribute__((warn_unused_result));

/* Closes every fd WASI opened and frees the state. NULL is a no-op. Host functions
 * already handed to the store must not be called afterwards. */
void wasi_destroy(struct wasi *w);

/* A wasm_resolve_fn for module "wasi_snapshot_preview1" (ctx is the struct wasi).
 * Returns -ENOENT for other modules and unknown names. */
int wasi_resolve(void *ctx, const char *module, const char *name, enum wasm_extern_kind kind,
		 struct wasm_extern *out);

/* wasi-threads for the instances of m (the program's module, which must outlive w):
 * wasi_resolve then also resolves ("wasi" "thread-spawn") and m's first import of a
 * shared memory (made in w's store at the first resolve, the same for every thread).
 * At most max_threads spawned threads run at once; each thread store gets the JIT
 * setting jit_hot. Returns 0, -ENOMEM or -EBUSY (already enabled). */
int wasi_threads_enable(struct wasi *w, const struct wasm_module *m, unsigned max_threads,
			uint32_t jit_hot) __attribute__((warn_unused_result));
/* The main thread's call returned with *trap (and *info): ends the program. When a thread
 * ended it first (proc_exit or a trap), *trap and *info become that thread's outcome.
 * Every thread is interrupted and joined, and its store destroyed. Returns 0, or -EBUSY
 * when a thread blocked in a host call did not stop within a second: it still runs, so w
 * and the store must not be destroyed (the caller ends the process). */
int wasi_threads_finish(struct wasi *w, enum wasm_trap *trap, struct wasm_trap_info *info);

/* Replication (wasm/replicate.h): while `hold` is set, what the program writes with
 * fd_write to the caller's fds (stdio: guest fds 0-2 and their renumbered copies) goes to
 * hold(opaque, host fd, iov, cnt) instead of the host fd, which returns the bytes it took
 * (the program sees them written) or -errno. NULL ends it. Writes to files WASI opened
 * itself are not held (they are the program's disk: wasi_journal_begin records them);
 * replication refuses programs with sockets of their own. */
struct iovec;
typedef long (*wasi_hold_fn)(void *opaque, int host, const struct iovec *iov, int cnt);
void wasi_set_hold(struct wasi *w, wasi_hold_fn hold, void *opaque);

/* Replication of the program's directories (journal.c), the program parked (in no WASI
 * call) for begin, take and end. begin appends checkpoint 0's records to `first`: the
 * preopens' names and whole content (regular files, directories, symlinks whose target
 * stays inside; modes) and the files open now; from then on every call that changes the
 * directories and succeeds is recorded, at most `max` bytes of records between two takes.
 * Returns 0, or -EOPNOTSUPP (a socket, wasi-threads, a special file, a symlink out of
 * its directory, an fd whose path is unknown) / -errno with one line in err. take appends
 * the records since begin or the last take to out: 0, or -EFBIG (more than max) /
 * -ENOMEM with err. end stops recording. */
struct sbuf;
/* Whether w can be replicated now (the refusals of begin but those of its directories'
 * content): 0 or -EOPNOTSUPP with err. */
int wasi_journal_check(struct wasi *w, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int wasi_journal_begin(struct wasi *w, size_t max, struct sbuf *first, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int wasi_journal_take(struct wasi *w, struct sbuf *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void wasi_journal_end(struct wasi *w);

/* The standby's side (mirror.c): its own copies of the program's preopens (dirs[i].host,
 * each empty: refused otherwise; dirs[i].guest the name the primary's program has for it).
 * apply carries out one committed checkpoint's records (untrusted: all are checked for
 * form first, then applied in order, confined below the directories as WASI's calls are;
 * first: checkpoint 0's) all or nothing: what each record of a later checkpoint destroys
 * is kept aside until the last succeeds, and a failure undoes those before it. Returns 0
 * or -errno with one line in err; -ENOTRECOVERABLE when the undo itself failed: the
 * directories then match no checkpoint, broken says so from then on, and every later
 * apply is refused. Called by one thread at a time. */
struct wasi_mirror;
int wasi_mirror_create(int n, const struct wasi_preopen *dirs, struct wasi_mirror **out, char *err,
		       size_t errlen) __attribute__((warn_unused_result));
int wasi_mirror_apply(struct wasi_mirror *m, const uint8_t *p, size_t len, bool first, char *err,
		      size_t errlen) __attribute__((warn_unused_result));
bool wasi_mirror_broken(const struct wasi_mirror *m);
void wasi_mirror_destroy(struct wasi_mirror *m);

/* Snapshots (wasm/snap/wasi.c): appends w's state (arguments, environment, preopens, the fd
 * table with each file's path and offset) to b. Returns 0, or -ENOTSUP (a socket or an fd
 * whose path is unknown) / -errno with one line in err. */
struct sbuf;
int wasi_save(const struct wasi *w, struct sbuf *b, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Creates WASI state for s from a saved record (untrusted: every length and index is
 * checked), reopening the preopens and files and seeking them to their offsets; the
 * program's stdio is stdio[0..2]. Returns 0, or -EINVAL / -errno with one line in err. */
int wasi_restore(struct wasm_store *s, const uint8_t *data, size_t len, const int stdio[3],
		 struct wasi **out, char *err, size_t errlen) __attribute__((warn_unused_result));
/* For the restores that follow in this process: the preopens are these n host
 * directories in place of the saved ones (a standby taking over with its own copies); a
 * saved program with another number of preopens is refused. n < 0: as saved. */
void wasi_restore_dirs(int n, const char *const *host);
/* For the restores that follow in this process, when the saved preopens are used (no
 * wasi_restore_dirs): each must resolve to one of these n host paths or below one
 * (core/pathallow.h), else the restore is refused, saying so (a migration's stream names
 * them: --incoming-allow). Not called: no check (a snapshot file of this host's). */
void wasi_restore_allow(unsigned n, const char *const *paths);

#endif
