/*
 * Snapshots of a whole machine (docs/SNAPSHOT.md): vm_snapshot writes a paused machine's
 * configuration, clock, harts, devices and RAM to a file (snapshot/snapshot.h), and a
 * restore recreates the machine from it: vm_restore_open reads the configuration, the
 * caller creates the machine from it (vm_create), and vm_restore loads everything into it
 * before it runs. The guest's clock continues from the saved value.
 */
#ifndef LODGE_MACHINE_SNAPSHOT_H
#define LODGE_MACHINE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/disk.h"

struct vm;
struct vm_config;
struct vm_restore;

/* Shared by snapshots, migration and replication: formats one line into err (if any), and
 * whether a guest page (GMEM_PAGE_SIZE bytes, 8-byte aligned) is all zero. */
void vm_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool vm_page_zero(const uint8_t *p);

/* What a snapshot with a background copy (copy_disks and resume) took. */
struct vm_snapshot_stats {
	bool background;       /* the images were copied while the machine ran */
	uint64_t paused_ns;    /* from the pause (vm_pause) to the resume before the copy */
	uint64_t copy_ns;      /* the copies, the machine running */
	uint64_t copy_bytes;   /* the copies' data (their allocated bytes) */
	uint64_t merge_ns;     /* the second pause: the overlays' writes into the images */
	uint64_t merge_blocks; /* DISK_TRACK_BLOCK-byte blocks written meanwhile, merged */
};

struct vm_snapshot_opts {
	bool raw_ram; /* RAM uncompressed and page-aligned (a restore maps it: lazy) */
	bool diff;    /* only the RAM written since the last snapshot taken or restored */
	/* Writable disks copied to PATH.diskN.saved.FORMAT (N counts every disk) at the
	 * snapshot, which records the copies; the machine stays on its images. Without it
	 * the machine moves onto new overlays PATH.diskN.qcow2 over its images, which the
	 * snapshot records (docs/SNAPSHOT.md "Disks"). */
	bool copy_disks;
	/* The machine resumes once its state is saved, before vm_snapshot returns. With
	 * copy_disks its writable disks first move onto temporary overlays
	 * (PATH.diskN.live.qcow2) over their images, which are copied while it runs; then a
	 * short pause writes what it wrote on the overlays back into the images, and it goes
	 * on there. The pause does not grow with the images' data. */
	bool resume;
	struct vm_snapshot_stats *stats; /* filled when not NULL */
};

/* Any thread but a hart's or the I/O thread's, with the machine paused (vm_pause): waits
 * for devices' host I/O in flight, then writes the snapshot to `path` (absolute;
 * atomically: a temporary file renamed). A Diff (o->diff) holds the RAM pages written
 * since the machine's last snapshot (Full or Diff) or its restore, and names that file
 * as its parent. The machine stays paused unless o->resume. Returns 0, -EBUSY (not paused), -ECHILD
 * (a Diff with no parent), or -errno with one line in err. */
int vm_snapshot(struct vm *vm, const char *path, const struct vm_snapshot_opts *o, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/* Opens a snapshot and fills *cfg with the machine it holds: RAM size, harts, bare or
 * not, and the device options (pointing into *out; valid until vm_restore_close). The
 * caller sets the rest (console, JIT, timeout). Each writable disk goes on a new qcow2
 * overlay (o->overlay_dir, or next to the snapshot: SNAPSHOT.diskN.restore-PID.qcow2)
 * over the image the snapshot records, or over o->disks[k]. A Diff's parents are opened too, each
 * checked against the identity its child recorded. Returns 0, or -EINVAL / -errno with
 * one line in err (truncated, corrupt, unknown version, a parent missing or not the
 * one recorded). */
struct vm_restore_opts {
	/* "PATH[,format=raw|qcow2][,verify=on]" per writable disk of the snapshot, in order:
	 * the images its disks are restored from instead of those it records
	 * (--restore-disk), or none. The recorded images are compared with what the
	 * snapshot's DISKS section says of them (a replaced file is refused, -ESTALE); these
	 * only with verify=on. */
	const char *const *disks;
	unsigned ndisks;
	const char *overlay_dir; /* where the restore's overlays go; NULL: by the snapshot */
};
int vm_restore_open(const char *path, const struct vm_restore_opts *o, struct vm_config *cfg,
		    struct vm_restore **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Loads the snapshot into `vm`, a machine just created from its configuration and not yet
 * running: harts, devices (matched by name in creation order), RAM (mapped from the file
 * when it is stored uncompressed and `lazy` is set) and the clock. Returns 0, or -errno
 * with one line in err; the machine must then be destroyed. */
int vm_restore(struct vm *vm, struct vm_restore *rs, bool lazy, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A machine restored lazily (its RAM mapped from the snapshot file) holds a read lease on
 * that file: vm_ram_lease_fd is an eventfd that becomes readable when another process
 * opens the file for writing or cuts it (-1: RAM is not mapped from a file). The machine's
 * owner then calls vm_ram_detach from a thread that is neither a hart's nor the I/O
 * thread's, serialized with vm_snapshot and migration: it pauses the machine (unless it
 * is), waits for devices' host I/O in flight, moves RAM off the file into memory of its
 * own, and resumes it. Returns 0, -ESHUTDOWN (the machine is stopping: the lease is given
 * up), or -errno with one line in err (the machine cannot go on without the file). */
int vm_ram_lease_fd(const struct vm *vm);
/* The lease's signal goes to the calling thread (the one that waits on vm_ram_lease_fd),
 * not to a hart or the I/O thread: 0 or -errno. */
int vm_ram_lease_signal_here(const struct vm *vm);
int vm_ram_detach(struct vm *vm, char *err, size_t errlen) __attribute__((warn_unused_result));
void vm_restore_close(struct vm_restore *rs);

/* ---- pieces for live migration (machine/migrate.c) ---- */
struct sbuf;
struct device;

/* The MACHINE section's payload: configuration, clock, HTIF words, device options. */
int vm_state_config(struct vm *vm, struct sbuf *b) __attribute__((warn_unused_result));
/* A vm_restore holding only such a configuration (no file): fills *cfg as
 * vm_restore_open does. Returns 0, -EINVAL (malformed) or -ENOMEM. */
int vm_restore_config(const uint8_t *p, size_t len, struct vm_config *cfg, struct vm_restore **out)
	__attribute__((warn_unused_result));
/* Sets the HTIF words the configuration holds and the machine's clock to `time` (10 MHz
 * ticks): the guest's time goes on from there. Before the machine runs. */
void vm_restore_finish(struct vm *vm, const struct vm_restore *rs, uint64_t time);

/* Points the configuration's k-th writable disk (counting from 0, in option order) at
 * the image `path` (replication: the standby's own copy; migration: the destination's),
 * of format `format` ("raw", "qcow2"; NULL: the one the configuration names). Returns 0,
 * -ENOENT (no such disk), -EINVAL, -ENAMETOOLONG or -ENOMEM. */
int vm_restore_set_disk(struct vm_restore *rs, unsigned k, const char *path, const char *format)
	__attribute__((warn_unused_result));
/* The writable disks the configuration has. */
unsigned vm_restore_writable_disks(const struct vm_restore *rs);
/* Checks the host resources every device option of the configuration names, but the
 * disks vm_restore_set_disk pointed at this host's images, against `allow` (NULL: none
 * allowed): before the machine is created from a stream. Returns 0, or -EPERM / -EINVAL
 * with one line in err (machine/hostallow.h). */
struct vm_host_allow;
int vm_restore_check_host(const struct vm_restore *rs, const struct vm_host_allow *allow, char *err,
			  size_t errlen) __attribute__((warn_unused_result));
/* The same for the backing files of those disks (a qcow2 image names them itself), in
 * `vm` created from the configuration: once its disks are open (a deferred one is
 * skipped until it is attached), before the machine runs. */
int vm_restore_check_chains(struct vm *vm, const struct vm_restore *rs,
			    const struct vm_host_allow *allow, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same before they open: `check` (for vm_config.disk_check) refuses a backing file of
 * a disk the stream chose (not one vm_restore_set_disk pinned) outside `allow`, unopened.
 * rs and allow must outlive the machine's creation and vblk_attach. */
struct vm_restore_backing {
	const struct vm_restore *rs;
	const struct vm_host_allow *allow;
	struct disk_backing_check check;
};
void vm_restore_backing_init(struct vm_restore_backing *b, const struct vm_restore *rs,
			     const struct vm_host_allow *allow);

typedef int (*vm_state_emit_fn)(void *ctx, uint32_t type, const void *p, size_t len);
/* Saves every hart (SNAP_SEC_HART) and device (SNAP_SEC_DEVICE), in order, through
 * `emit`. On the machine's I/O thread, paused, devices quiesced. Returns 0 or -errno
 * (one line in err for a device). */
int vm_state_save(struct vm *vm, vm_state_emit_fn emit, void *ctx, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Loads one hart's / device's record (the payload of such a section). Returns 0 or
 * -EINVAL with one line in err. */
int vm_state_load_hart(struct vm *vm, unsigned i, const uint8_t *p, size_t len, char *err,
		       size_t errlen) __attribute__((warn_unused_result));
int vm_state_load_device(struct device *d, const uint8_t *p, size_t len, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
