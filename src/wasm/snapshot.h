/*
 * Snapshots of a running WebAssembly program (docs/SNAPSHOT.md, "WebAssembly"): one
 * instance of a module run by its WASI command's _start, paused at a point where the
 * interpreter holds its whole state in the store (a loop back-edge, a call, or around a
 * host call of the outermost interpreter run), saved to a snapshot file (the container of
 * snapshot/snapshot.h): the module's bytes, the limits and fuel, memory, tables, globals,
 * dropped segments, the call frames and value slots as indexes and offsets, and WASI's
 * state. A restore in another process builds the same store and goes on from there.
 *
 * The file is untrusted: every count, index, offset and resume point is checked against
 * the module (frames chain through the call ops that made them, pcs are points the
 * compiler recorded), and a truncated, corrupt or unknown-version file is refused with
 * one line.
 */
#ifndef LODGE_WASM_SNAPSHOT_H
#define LODGE_WASM_SNAPSHOT_H

#include "wasm/wasm.h"
#include "wasm/wasi/wasi.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Section types of a Wasm snapshot (beside snapshot/'s RAM and END). */
#define WASM_SNAP_SEC_MODULE 0x10 /* the module's bytes and the store's limits */
#define WASM_SNAP_SEC_STATE  0x11 /* memories, tables, globals, segments, frames, slots */
#define WASM_SNAP_SEC_WASI   0x12 /* wasm/snap/wasi.c */

/* With snapshots on, a paused store parks only where its state can be saved: translated
 * code and nested runs go on to the next such point (docs/SNAPSHOT.md). Any thread
 * (turned off, a pause parks at the next check as without snapshots). */
void wasm_store_set_snapshots(struct wasm_store *s, bool on);

/* Whether the store is parked where a snapshot can be taken. Any thread. */
bool wasm_snapshot_ready(const struct wasm_store *s);

/* Writes a snapshot of inst (the store's only instance, run through WASI w, loaded from
 * module[0..len), called `name` in messages) to path; the store must be parked
 * (wasm_snapshot_ready). Returns 0, -EBUSY (not parked where it can be saved), or
 * -ENOTSUP / -errno with one line in err. Any thread while the program is parked. */
int wasm_snapshot_save(struct wasm_store *s, struct wasm_instance *inst, const struct wasi *w,
		       const uint8_t *module, size_t len, const char *name, const char *path,
		       char *err, size_t errlen) __attribute__((warn_unused_result));

/* The same without the memory's content (no RAM section): a pre-copy migration sends
 * that apart (wasm/precopy.h). Such a file restores only with wasm_snapshot.pages. */
int wasm_snapshot_save_state(struct wasm_store *s, struct wasm_instance *inst, const struct wasi *w,
			     const uint8_t *module, size_t len, const char *name, const char *path,
			     char *err, size_t errlen) __attribute__((warn_unused_result));

/* A snapshot being restored. */
struct wasm_snapshot {
	char *name;	 /* the module's name when saved */
	uint8_t *module; /* its bytes (for a later snapshot) */
	size_t module_len;
	struct wasm_module *mod;
	struct wasm_store *store; /* with the saved limits */
	struct wasi *wasi;
	struct wasm_instance *inst;
	void *priv; /* the file and what is still to load */
	/* Set by the caller before wasm_snapshot_restore for a file without the memory's
	 * content: pages[i * 4096..] holds page i where bit i of present is set (the others
	 * are zero), npages pages; a page past the memory's size is refused. pages must be
	 * one private anonymous mapping: its first pages are moved (mremap) into the memory,
	 * which leaves them unmapped there. */
	uint8_t *pages;
	const uint64_t *present;
	uint64_t npages;
};

/* Reads and checks the file, loads the module and creates its store. cap, if not 0, is
 * the most memory this host gives the program (a migration's destination): its saved
 * budget is lowered to it, so a state larger than cap fails to restore. Returns 0, or
 * -EINVAL (corrupt, with err) / -errno. */
int wasm_snapshot_open(const char *path, uint64_t cap, struct wasm_snapshot **out, char *err,
		       size_t errlen) __attribute__((warn_unused_result));
/* Restores WASI (stdio[0..2] become the program's fds 0-2), instantiates the module and
 * loads memories, tables, globals, frames and slots. Returns 0, or -EINVAL / -errno with
 * err. */
int wasm_snapshot_restore(struct wasm_snapshot *snap, const int stdio[3], char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Goes on with the program where it stopped, until _start returns or traps (as wasm_call). */
enum wasm_trap wasm_snapshot_run(struct wasm_snapshot *snap, struct wasm_trap_info *info);
/* Frees everything (store, WASI, module). NULL is a no-op. */
void wasm_snapshot_close(struct wasm_snapshot *snap);

#endif
