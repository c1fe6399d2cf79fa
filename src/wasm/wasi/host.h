/*
 * What the WASI host functions share (wasi.c, poll.c): the per-process state (fd table,
 * path resolver), the call context of one host function, WASI errno and type constants,
 * and the checked accessors for guest memory and arguments. Internal to src/wasm/wasi/.
 */
#ifndef LODGE_WASM_WASI_HOST_H
#define LODGE_WASM_WASI_HOST_H

#include "core/clock.h"
#include "core/sbuf.h"
#include "wasm/wasm.h"
#include "wasm/wasi/path.h"
#include "wasm/wasi/wasi.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define MAX_FDS	     1024
#define PATH_MAX_LEN 4096

/* Rights (preview1 "rights" flags): each fd holds a base set, what calls on it may do,
 * and an inheriting set, the most that fds opened through it (path_open) may get. */
#define R_FD_DATASYNC		  (1ull << 0)
#define R_FD_READ		  (1ull << 1)
#define R_FD_SEEK		  (1ull << 2)
#define R_FD_FDSTAT_SET_FLAGS	  (1ull << 3)
#define R_FD_SYNC		  (1ull << 4)
#define R_FD_TELL		  (1ull << 5)
#define R_FD_WRITE		  (1ull << 6)
#define R_FD_ADVISE		  (1ull << 7)
#define R_FD_ALLOCATE		  (1ull << 8)
#define R_PATH_CREATE_DIRECTORY	  (1ull << 9)
#define R_PATH_CREATE_FILE	  (1ull << 10)
#define R_PATH_LINK_SOURCE	  (1ull << 11)
#define R_PATH_LINK_TARGET	  (1ull << 12)
#define R_PATH_OPEN		  (1ull << 13)
#define R_FD_READDIR		  (1ull << 14)
#define R_PATH_READLINK		  (1ull << 15)
#define R_PATH_RENAME_SOURCE	  (1ull << 16)
#define R_PATH_RENAME_TARGET	  (1ull << 17)
#define R_PATH_FILESTAT_GET	  (1ull << 18)
#define R_PATH_FILESTAT_SET_SIZE  (1ull << 19)
#define R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define R_FD_FILESTAT_GET	  (1ull << 21)
#define R_FD_FILESTAT_SET_SIZE	  (1ull << 22)
#define R_FD_FILESTAT_SET_TIMES	  (1ull << 23)
#define R_PATH_SYMLINK		  (1ull << 24)
#define R_PATH_REMOVE_DIRECTORY	  (1ull << 25)
#define R_PATH_UNLINK_FILE	  (1ull << 26)
#define R_POLL_FD_READWRITE	  (1ull << 27)
#define R_SOCK_SHUTDOWN		  (1ull << 28)
#define R_SOCK_ACCEPT		  (1ull << 29)

/* lookupflags: symlink_follow is the only one */
#define LOOKUP_ALL 1u

enum {
	E_SUCCESS = 0,
	E_2BIG = 1,
	E_ACCES = 2,
	E_AGAIN = 6,
	E_BADF = 8,
	E_BUSY = 10,
	E_EXIST = 20,
	E_FAULT = 21,
	E_FBIG = 22,
	E_ILSEQ = 25,
	E_INTR = 27,
	E_INVAL = 28,
	E_IO = 29,
	E_ISDIR = 31,
	E_LOOP = 32,
	E_MFILE = 33,
	E_MLINK = 34,
	E_NAMETOOLONG = 37,
	E_NFILE = 41,
	E_NOENT = 44,
	E_NOMEM = 48,
	E_NOSPC = 51,
	E_NOSYS = 52,
	E_NOTCONN = 53,
	E_NOTDIR = 54,
	E_NOTEMPTY = 55,
	E_NOTSOCK = 57,
	E_NOTSUP = 58,
	E_NOTTY = 59,
	E_NXIO = 60,
	E_OVERFLOW = 61,
	E_PERM = 63,
	E_PIPE = 64,
	E_RANGE = 68,
	E_ROFS = 69,
	E_SPIPE = 70,
	E_TXTBSY = 74,
	E_XDEV = 75,
	E_NOTCAPABLE = 76,
};

/* Not an errno: what a host function returns when a guest pointer (with its length) is not
 * inside the caller's memory. The witx documents say such a call "shall trap" (and
 * wasmtime's does): wasi_call turns it into WASM_TRAP_MEM_OOB. */
#define E_OOB 0x10000u
/* Not an errno either: a blocking call gave up, with no effect, for a pause or a stop
 * asked for meanwhile (wasm_host_call_held): wasi_call returns WASM_TRAP_AGAIN, and the
 * call is made again after the pause (or a restore), or the program stops. */
#define E_HELD 0x10001u

/* fdflags. For the caller's fds (stdio, not own) APPEND and NONBLOCK are emulated. */
enum {
	FDFLAG_APPEND = 1,
	FDFLAG_DSYNC = 2,
	FDFLAG_NONBLOCK = 4,
	FDFLAG_RSYNC = 8,
	FDFLAG_SYNC = 16,
	FDFLAGS_ALL = 31
};

enum { FT_UNKNOWN, FT_BLOCK, FT_CHAR, FT_DIR, FT_FILE, FT_DGRAM, FT_STREAM, FT_SYMLINK };

struct wasi_fd {
	int host; /* -1: free slot */
	bool own; /* ours: opened by us, closed on destroy, its flags ours to set */
	uint8_t type;
	uint16_t flags;	    /* fdflags */
	uint64_t base, inh; /* rights: base and inheriting */
	char *preopen;	    /* guest name, for preopened directories */
	DIR *dir;	    /* readdir state on its own fd, for directories */
	/* fd_readdir: the cookies before and after the last entry it gave and dir's telldir
	 * positions there, so that reading on from either seeks instead of starting over */
	bool rd_valid;
	uint64_t rd_cookie[2];
	long rd_loc[2];
	/* snapshots (wasm/snap/wasi.c): the preopen (its number) an fd was opened below and the
	 * path from there as path_open was given it (NULL: unknown); stdio: which (0-2) */
	int root;
	char *path;
	bool dup;	/* a copy made by fd_hold whose host fd is a dup to close (fd_drop) */
	bool nowait_no; /* the fd refused RWF_NOWAIT (a terminal): its reads and writes skip it */
	uint32_t jid;	/* replication (journal.c): the id its records name it by */
};

/* A poll_oneoff given up for a pause (E_HELD): its arguments and when it began, so that
 * the same call made again after the pause keeps its relative clocks' deadlines (poll.c). */
struct wasi_poll_held {
	bool on;
	uint32_t subs, evs, n, nevents; /* its arguments */
	uint64_t start;			/* the program's clock when it was first made */
};

struct wasi {
	struct wasm_store *store;
	/* the main thread's poll_oneoff given up for a pause (a thread's own is in poll.c);
	 * a snapshot saves it (wasm/snap/wasi.c) */
	struct wasi_poll_held held;
	char **argv, **env;
	int argc, nenv;
	struct wasi_fd fds[MAX_FDS];
	int nfds; /* slots in use are below nfds */
	struct wasi_resolver res;
	int npre; /* the preopens as configured (snapshots) */
	char **pre_host, **pre_guest;
	int stdio[3]; /* the caller's fds for guest fds 0-2 */
	/* wasi-threads (threads.c): every thread calls the same functions on this state.
	 * Calls that cannot block run whole under lock (wasi_call takes it); those that may
	 * block (fd_read, fd_write, fd_pread, fd_pwrite, poll_oneoff, sock_recv, sock_send,
	 * sock_accept) take it only to look their fds up (fd_hold) and, once `shared` is set
	 * (the first spawn), work on a dup of the host fd, so that an fd_close or
	 * fd_renumber in another thread meanwhile neither closes nor reuses it underneath. */
	pthread_mutex_t lock;
	bool shared;
	/* replication (wasi_set_hold): output to the caller's fds held back; atomic */
	wasi_hold_fn hold;
	void *hold_opaque;
	struct wasi_threads *threads;
	/* replication of the directories (journal.c): the calls that changed them since the
	 * last checkpoint, recorded while jon (jlock; jon read atomically) */
	pthread_mutex_t jlock;
	struct sbuf jour;
	bool jon, jover;
	size_t jmax;
	uint32_t next_jid; /* under lock */
};

/* One host function call: the process, the caller's memory (NULL if it has none), the
 * argument slots (the result goes in a[0]) and the engine's call. */
struct call {
	struct wasi *w;
	struct wasm_memory *mem;
	uint64_t *a;
	struct wasm_host_call *hc; /* its store's pause and stop (E_HELD) */
};

/* The guest range [addr, addr + len), or NULL when it is not all inside memory. */
static inline uint8_t *gmem(struct call *c, uint64_t addr, uint64_t len)
{
	return c->mem ? wasm_memory_range(c->mem, addr, len) : NULL;
}

static inline uint32_t arg32(struct call *c, int i)
{
	return (uint32_t)c->a[i];
}

static inline bool put32(struct call *c, uint32_t addr, uint32_t v)
{
	uint8_t *p = gmem(c, addr, 4);

	if (p)
		memcpy(p, &v, 4);
	return p != NULL;
}

static inline bool put64(struct call *c, uint32_t addr, uint64_t v)
{
	uint8_t *p = gmem(c, addr, 8);

	if (p)
		memcpy(p, &v, 8);
	return p != NULL;
}

/* The open WASI fd, or NULL. */
static inline struct wasi_fd *getfd(struct wasi *w, uint32_t fd)
{
	if (fd >= (uint32_t)w->nfds || w->fds[fd].host < 0)
		return NULL;
	return &w->fds[fd];
}

/* A copy of open fd `fd`'s entry to work on with w->lock not held (fd_rw and the
 * like): *out is the entry as it is, with a dup of its host fd once threads share the
 * table. Returns E_SUCCESS, E_BADF, or the dup's errno. Release with fd_drop. */
uint32_t fd_hold(struct wasi *w, uint32_t fd, struct wasi_fd *out);
void fd_drop(struct wasi_fd *held);
/* Called before the first thread starts: from then on fd_hold duplicates. */
void wasi_share(struct wasi *w);

/* Whether fd f holds every right in need. */
static inline bool has_rights(const struct wasi_fd *f, uint64_t need)
{
	return (f->base & need) == need;
}

/* A host errno (either sign) as a WASI errno; EXDEV, path.c's "would escape", becomes
 * ENOTCAPABLE. */
uint32_t wasi_errno(int e);

/* WASI clock id -> host clock. Returns 0 or -EINVAL for an unknown id. */
int wasi_clock_id(uint32_t id, clockid_t *out);

/* threads.c: ("wasi" "thread-spawn") and the shared memory import, once enabled (-ENOENT
 * otherwise); the end of w (after wasi_threads_finish). */
int wasi_threads_resolve(struct wasi *w, const char *module, const char *name,
			 enum wasm_extern_kind kind, struct wasm_extern *out);
void wasi_threads_destroy(struct wasi *w);

/* The journal's records (journal.c; the format is there; mirror.c applies them). */
/* Formats one line into err (errlen bytes) and returns rc: how both sides fail. */
int wasi_jfail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define J_DATA_MAX (1u << 20) /* the bytes of one record; longer writes are split */
enum {
	J_DIRS = 1, /* a: the program's preopens (then a J_DIRNAME each) */
	J_DIRNAME,  /* a: preopen, path: its guest name */
	J_TDIR,	    /* checkpoint 0: a: preopen, path: a directory to make */
	J_TFILE,    /* a: preopen, b: offset, path: a regular file, data its bytes there */
	J_TLINK,    /* a: preopen, path: a symlink, path2: its target */
	J_TMODE,    /* a: preopen, b: mode, path (not a symlink) */
	J_BIND,	    /* id: an fd open at checkpoint 0; a: its preopen, b: open flags,
		       path: below the preopen (none: the preopen itself) */
	J_OPEN,	    /* id: the new fd, id2: the directory, path, a: open flags */
	J_CLOSE,    /* id */
	J_WRITE,    /* id, a: offset, data */
	J_SIZE,	    /* id, a: size */
	J_ALLOC,    /* id, a: offset, b: length */
	J_MKDIR,    /* id: directory, path */
	J_RMDIR,    /* id, path */
	J_UNLINK,   /* id, path */
	J_SYMLINK,  /* id, path: the new link, path2: its target */
	J_RENAME,   /* id, path, id2, path2 */
	J_LINK,	    /* id, path, id2, path2, a: follow symlinks */
	J_OPS_END
};

/* Records a call that changed the program's directories (nothing unless replicating). */
void wasi_jrec(struct wasi *w, uint8_t op, uint32_t id, uint32_t id2, uint64_t a, uint64_t b,
	       const char *path, const char *path2);
/* Records the first n bytes of iov written to file id at offset off. */
struct iovec;
void wasi_jrec_write(struct wasi *w, uint32_t id, uint64_t off, const struct iovec *iov, int cnt,
		     size_t n);

/* poll_oneoff(in, out, nsubscriptions, nevents_out) (poll.c). Returns a WASI errno. */
uint32_t wasi_poll_oneoff(struct call *c);
/* Waits until host fd fd is ready for events (POLLIN or POLLOUT; an error or a hangup
 * counts as ready: the read or write made next reports it) or a pause or stop is asked
 * for on the calling thread's store (its wake fd, polled with fd). Returns E_SUCCESS,
 * E_HELD (then give the call up with nothing done the program could see), or poll's
 * errno. Without a wake fd (no eventfd) it waits for fd alone (poll.c). w->lock not
 * held. */
uint32_t wasi_wait_fd(struct call *c, int fd, short events);

#endif
