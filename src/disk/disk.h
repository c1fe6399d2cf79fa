/*
 * Disk images: raw and qcow2 (version 3; version 2 read-only) behind one format-neutral,
 * asynchronous block API, for the virtio-blk device and for tools (`lodge disk`).
 *
 * A `struct disk` is an open image plus its backing chain (qcow2 backing files, always
 * opened read-only). Data reads and writes and fsync go through io_uring (one ring per
 * disk) and never block the caller; qcow2 metadata (L2 tables, refcount blocks) lives in
 * a bounded cache and is read, on a miss, and written, at a flush, synchronously by the
 * calling thread. Ordering that keeps qcow2 consistent after a crash (qemu's rules): data
 * is durable before the L2 entry that points to it, a refcount before the cluster is
 * used, and a freed cluster is reused only after the L2 entry that dropped it is durable.
 *
 * Threads: a disk is not thread-safe. Every function taking a `struct disk` must be called
 * from the one thread that owns it (the machine's I/O thread, or a tool's main thread);
 * completion callbacks run on that thread too, inside disk_complete(). Different disks
 * may be owned by different threads.
 *
 * Format of qcow2: qemu's docs/interop/qcow2.txt. Errors are negative errnos; open and
 * create also fill a caller buffer with one line naming the file, the reason and a hint.
 */
#ifndef LODGE_DISK_DISK_H
#define LODGE_DISK_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct disk;

enum disk_format {
	DISK_FMT_AUTO,	/* probe: qcow2 by its magic, else raw (see disk_open) */
	DISK_FMT_RAW,	/* the file's bytes are the disk's bytes */
	DISK_FMT_QCOW2, /* qcow2 version 3 (version 2: read-only) */
};

/* Longest backing chain disk_open follows: the image plus this many backing files. */
#define DISK_MAX_CHAIN 16

/* Most iovec entries one request may carry (the kernel's UIO_MAXIOV). */
#define DISK_MAX_IOV 1024

/* Room for disk_open's and disk_create's error line; longer lines are truncated. */
#define DISK_ERR_LEN 512

/* Asked before each backing file of a chain opens: `image` the chain's top image as
 * disk_open was given it, `readonly` how it was opened, `backing` the backing file's path
 * (resolved against its overlay). Nonzero (-errno, one line in err: the whole message)
 * refuses it unopened. */
struct disk_backing_check {
	int (*fn)(void *ctx, const char *image, bool readonly, const char *backing, char *err,
		  size_t errlen);
	void *ctx;
};

struct disk_options {
	enum disk_format format; /* DISK_FMT_AUTO probes */
	bool readonly;		 /* open with O_RDONLY; writes fail with -EROFS */
	bool no_locks;		 /* with readonly only: take no locks, to look at the chain
				    (disk_image_info) of an image that did not open for a lock
				    conflict, and say why; never for I/O */
	const struct disk_backing_check *backing_check; /* NULL: any backing file opens */
};

/*
 * Opens the image at `path` and its backing chain.
 *
 * Format: DISK_FMT_AUTO chooses qcow2 when the file starts with the qcow2 magic and raw
 * otherwise, except that it refuses (rather than guess raw) a file named *.qcow2 without
 * the magic and files carrying another image format's signature (VMDK, VDI, VHDX, VHD,
 * QED, LUKS): pass DISK_FMT_RAW to read such a file as raw bytes. A qcow2 header is
 * validated completely before anything is used: version, cluster size (512 B..2 MiB), L1
 * and refcount table placement (cluster-aligned, inside the file, within qemu's size
 * limits), refcount order, header extensions, backing file name; unknown incompatible
 * feature bits, encryption and external data files are refused, naming the feature.
 * Images with the corrupt bit, with the dirty bit (lazy refcounts after a crash), with
 * internal snapshots, or of version 2 open only read-only.
 *
 * Backing files: a relative name is resolved against the directory of the image naming
 * it (as qemu does); the backing format extension is honoured (else probed); every
 * backing file opens read-only. A missing backing file, a chain that loops (the same
 * file twice) or one longer than DISK_MAX_CHAIN is an error.
 *
 * Locking: the image and each backing file are locked with open-file-description locks
 * on the same bytes qemu uses (write permission: byte 101, "no other writer": byte 201),
 * so neither another Lodge nor a qemu can write an image Lodge has open, and Lodge
 * cannot open one that another process is writing. A conflict is an error (-EBUSY).
 * `no_locks` (read-only only, else -EINVAL) skips them.
 *
 * On success returns 0 and stores the disk in *out; the caller owns it (disk_close).
 * On failure returns a negative errno: -ENOENT, -EISDIR, -EACCES (open's own errors);
 * -EINVAL for a corrupt header or a refused probe; -ENOTSUP for a feature Lodge does not
 * implement; -EROFS for an image that only opens read-only (or a read-only file system);
 * -EBUSY for a lock conflict; -ELOOP for a looping or too long chain; -ENOMEM; -EIO. It
 * writes one line "PATH: what failed: why (hint)" to `err` (errlen bytes, may be 0) and
 * has written nothing to any file. `opt` NULL means auto-detected and writable.
 */
int disk_open(const char *path, const struct disk_options *opt, struct disk **out, char *err,
	      size_t errlen) __attribute__((warn_unused_result));

/*
 * Waits for every request in flight (their `done` callbacks run), writes the qcow2
 * metadata still in memory and fsyncs it, releases the locks and frees the disk and its
 * backing chain. A failure to write metadata is logged (the image may then have leaked
 * clusters, which `qemu-img check -r leaks` repairs; it is never inconsistent).
 * Must not be called from a `done` callback. NULL is a no-op.
 */
void disk_close(struct disk *d);

/* The virtual size in bytes (qcow2: the header's size; raw: the file's length). */
uint64_t disk_size(const struct disk *d);

/* True when the disk was opened read-only (writes, discards and zeroing fail). */
bool disk_readonly(const struct disk *d);

/* "raw" or "qcow2": the format of the image itself (not of its backing files). */
const char *disk_format_name(const struct disk *d);

/* The name of a format for messages: "auto", "raw", "qcow2". */
const char *disk_format_str(enum disk_format fmt);

/* Parses "raw", "qcow2" or "auto". Returns 0, or -EINVAL for anything else. */
int disk_format_parse(const char *s, enum disk_format *out) __attribute__((warn_unused_result));

/* One image of an open chain, as `lodge disk info` shows it. */
struct disk_image_info {
	const char *path;	    /* as opened (a backing file: resolved against its overlay) */
	const char *backing_name;   /* as stored in the image, or NULL */
	enum disk_format format;    /* DISK_FMT_RAW or DISK_FMT_QCOW2 */
	uint64_t virtual_size;	    /* bytes */
	uint64_t allocated;	    /* bytes the file occupies on the host (st_blocks) */
	uint32_t cluster_size;	    /* qcow2 only, else 0 */
	uint32_t qcow2_version;	    /* qcow2 only, else 0 */
	uint64_t incompat_features; /* qcow2 header bits (dirty, corrupt, compression type) */
	uint64_t metadata_cached;   /* qcow2: bytes of metadata in memory: the L1 and refcount
				       tables, cached L2 slices and refcount blocks */
};

/*
 * Describes image `depth` of the chain: 0 is the image opened, 1 its backing file, and so
 * on. Returns 0, or -ENOENT when the chain is shorter. The strings live as long as the
 * disk. A device may use depth 0's cluster_size as its discard granularity: discards of
 * whole clusters free space, smaller ones are written as zeroes.
 */
int disk_image_info(const struct disk *d, unsigned depth, struct disk_image_info *out)
	__attribute__((warn_unused_result));

/* The path of the file image `depth` of the chain has open, from its descriptor
 * (/proc/self/fd): what was opened, whatever its name points to now. Returns 0, -ENOENT
 * (no such image), or -errno (no /proc, or a path longer than len). */
int disk_image_real_path(const struct disk *d, unsigned depth, char *out, size_t len)
	__attribute__((warn_unused_result));

/* ---- Asynchronous requests ---- */

enum disk_op {
	DISK_OP_READ,	      /* fill iov from [offset, offset + iov length) */
	DISK_OP_WRITE,	      /* store iov at offset */
	DISK_OP_FLUSH,	      /* make every write completed before it durable */
	DISK_OP_DISCARD,      /* the range reads as zeroes; whole clusters are deallocated */
	DISK_OP_WRITE_ZEROES, /* the range reads as zeroes; whole clusters become zero clusters */
};

/*
 * One request. The caller fills the public fields, keeps the request, its iovec array and
 * the buffers alive and unmodified until `done` runs, and may reuse it afterwards.
 *   READ/WRITE: offset and iov/iovcnt (1..DISK_MAX_IOV entries; the length is their sum,
 *     may be 0; any byte offset and length); `len` is ignored.
 *   DISCARD/WRITE_ZEROES: offset and len; iov is ignored.
 *   FLUSH: no fields. It completes only after every request submitted before it has
 *     completed and the data and metadata of all completed writes are on stable storage
 *     (fdatasync); requests that modify the disk and are submitted after it wait for it
 *     (reads do not). A write whose flush completed survives a kill -9 of the process and
 *     a host crash.
 * Requests in flight at the same time are unordered with respect to each other (as on a
 * real disk): a read overlapping an unfinished write sees old or new data per sector.
 * A qcow2 DISCARD deallocates whole clusters (zero clusters when there is a backing file,
 * so backing data never shows through) and zeroes partial ones; raw punches a hole.
 */
struct disk_req {
	enum disk_op op;
	uint64_t offset;
	const struct iovec *iov;
	unsigned iovcnt;
	uint64_t len;
	/* Called once, from disk_complete() on the owning thread, with 0 or a negative
	 * errno: -EIO (host I/O error, or a corrupt image: logged, rate-limited), -ENOSPC,
	 * -ENOMEM. It may submit new requests; it must not close the disk. */
	void (*done)(struct disk_req *req, int result);
	void *opaque; /* the caller's */
};

/*
 * Starts a request. Never waits for data I/O; may read or write qcow2 metadata
 * synchronously (a cache miss). Returns 0 when the request was accepted: `done` will run
 * exactly once, from a later disk_complete(), never from inside disk_submit(). Returns a
 * negative errno and never calls `done` when it was not: -EINVAL (range past the end of
 * the disk, bad iovcnt, unknown op), -EROFS (a modifying request on a read-only disk),
 * -ENOMEM.
 */
int disk_submit(struct disk *d, struct disk_req *req) __attribute__((warn_unused_result));

/*
 * Batching: between disk_plug and disk_unplug, disk_submit prepares the host I/O of the
 * requests it accepts without entering the kernel, and disk_unplug hands all of it over
 * with one system call (a device taking several requests off its queue at once). Only a
 * full submission ring is submitted early. Not nested; other functions are unaffected.
 */
void disk_plug(struct disk *d);
void disk_unplug(struct disk *d);

/*
 * An eventfd that becomes readable when disk_complete() has work: completions from the
 * kernel or requests finished without I/O. Owned by the disk (do not close it); the
 * caller's event loop polls it for POLLIN and then calls disk_complete().
 */
int disk_event_fd(const struct disk *d);

/*
 * Reaps completions, advances the requests they belong to (which may submit more I/O),
 * and runs the `done` callbacks of finished requests, on the calling thread. Does not
 * block. Call it whenever disk_event_fd() is readable; spurious calls are harmless.
 */
void disk_complete(struct disk *d);

/* ---- Synchronous convenience, for tools and tests ---- */

/*
 * Each submits one request and waits for it (polling the event fd and running
 * disk_complete(), so `done` callbacks of other requests in flight may run meanwhile).
 * Return 0 or the request's negative errno. Not for the machine's I/O thread.
 */
int disk_pread(struct disk *d, void *buf, size_t len, uint64_t offset)
	__attribute__((warn_unused_result));
int disk_pwrite(struct disk *d, const void *buf, size_t len, uint64_t offset)
	__attribute__((warn_unused_result));
int disk_flush(struct disk *d) __attribute__((warn_unused_result));
/* op is DISK_OP_DISCARD or DISK_OP_WRITE_ZEROES. */
int disk_zero(struct disk *d, enum disk_op op, uint64_t offset, uint64_t len)
	__attribute__((warn_unused_result));

/* ---- Written blocks (replication, live migration: machine/replicate.c, migrate.c) ----
 * A writable disk records which DISK_TRACK_BLOCK-byte blocks of its virtual disk every
 * accepted WRITE, DISCARD and WRITE_ZEROES touched since it was opened, one bit each,
 * until they are taken: when the request is accepted and again when it completes (a
 * block read back while a write to it was in flight is then reported again). Owning
 * thread only. */
#define DISK_TRACK_BLOCK (64u << 10)

/* Blocks the disk has (0 for a read-only disk): a bitmap has (n + 63) / 64 words. */
uint64_t disk_written_blocks(const struct disk *d);
/* ORs the blocks written since the last take (or the open) into `out` and forgets them.
 * Returns 0, or -ENOMEM when the disk could not keep its bitmap: every block is then
 * reported. */
int disk_written_take(struct disk *d, uint64_t *out);
/* Marks every block written again (what was taken went nowhere: a live migration that
 * failed; replication then still sends every block). */
void disk_written_all(struct disk *d);

/*
 * What a disk did since it was opened, for `lodge run --stats` and tests: requests
 * against host operations shows how requests were merged or split (a sequential 1 MiB
 * request on a raw image or on contiguous qcow2 clusters is one readv/writev).
 */
struct disk_stats {
	uint64_t requests;    /* accepted by disk_submit (flushes included) */
	uint64_t host_reads;  /* readv operations on the image files (the backing chain too) */
	uint64_t host_writes; /* writev operations (data, and the zero writes of write-zeroes) */
	uint64_t host_syncs;  /* fdatasync operations */
	uint64_t host_async;  /* reads/writes of 128 KiB or more handed to io_uring's worker
			       * threads at once (resubmissions of short ones included) */
	uint64_t submits;     /* io_uring_submit calls: system calls that handed I/O over */
	uint64_t meta_reads;  /* qcow2: L2 slices and refcount blocks read (cache misses) */
	uint64_t meta_writes; /* qcow2: metadata writes (flushes; new L2 tables zeroed) */
	uint64_t clusters;    /* qcow2: clusters the allocator handed out (data, L2 tables) */
};

/* Copies the counters. Safe from any thread (each counter is read atomically; the set
 * is not a snapshot while requests run). */
void disk_get_stats(const struct disk *d, struct disk_stats *out);

/* ---- Creating images ---- */

struct disk_create_options {
	enum disk_format format;	 /* DISK_FMT_QCOW2 (also for AUTO) or DISK_FMT_RAW */
	uint64_t size;			 /* bytes, rounded up to 512; 0 with a backing file: its
					  * virtual size */
	const char *backing;		 /* qcow2 only: backing file name, stored as given and
					  * resolved against the new image's directory; or NULL */
	enum disk_format backing_format; /* AUTO: probe the backing file and record it */
	unsigned cluster_bits;		 /* qcow2: 9..21 (512 B..2 MiB); 0 = 16 (64 KiB) */
	bool overwrite;			 /* replace an existing file (else -EEXIST) */
};

/*
 * Creates an image: raw as a sparse file of `size` bytes; qcow2 version 3 with 64 KiB
 * clusters (or cluster_bits), 16-bit refcounts, zlib compression type, and, with a
 * backing file, the
 * backing format header extension (the backing chain is opened read-only first, so it
 * must exist and be valid). The new file is fsynced. Returns 0, or a negative errno with
 * one line in `err` (-EEXIST, -EINVAL for a bad option, -EFBIG for a size beyond qemu's
 * L1 table limit (32 MiB of L1: 2 PiB with 64 KiB clusters), the backing file's open
 * error, -EBUSY when an image to overwrite is in use, I/O errors); after a failure no
 * new file is left behind.
 */
int disk_create(const char *path, const struct disk_create_options *opt, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * `copy` is a byte copy of the qcow2 image `image`, in another directory: a relative
 * backing file name it stores (resolved against image's directory, as disk_open does) no
 * longer names the same file from there, so it is rewritten as the absolute path, or
 * (`rename`, non-NULL) as rename(the resolved absolute path) when that returns a string
 * (the caller's translation of paths; NULL keeps the path). An absolute name stays unless
 * rename(name) returns another. Only the name in the header
 * cluster changes (as `qemu-img rebase -u`); nothing for a raw image or one without a
 * backing file, or when the name stays the same. Returns 0, or a negative errno with one
 * line in err: -ENAMETOOLONG when the name does not fit the header cluster, -ENOTSUP when
 * the header cluster holds other metadata, -EINVAL for a header that is not qcow2's.
 */
int disk_copy_backing_name(const char *image, const char *copy,
			   const char *(*rename)(void *ctx, const char *path), void *ctx, char *err,
			   size_t errlen) __attribute__((warn_unused_result));

/* ---- Identity of an image file ---- */

/* What a snapshot records of an image it leaves frozen, so that a restore notices the
 * file was replaced (machine/snapshot.c). Not a checksum of the whole file: */
struct disk_fingerprint {
	uint64_t size; /* the file's length in bytes (not the disk's virtual size) */
	uint64_t hash; /* of the length, the first 1 MiB, 64 blocks of 4 KiB spread evenly
			* over the rest (the last ending the file), and a qcow2 image's L1
			* table (its first 1 MiB); fingerprint.c has the exact algorithm */
	bool backing;  /* not part of it: the file begins with a qcow2 header that names a
			* backing file (whose own identity is the caller's to take) */
	/* Not part of the hash either: which file this is on this host, and when its bytes
	 * last changed. A regular file's device, inode and inode generation (where the file
	 * system keeps one, FS_IOC_GETVERSION: ext4, XFS and Btrfs give an inode number used
	 * again another; else 0) and its modification time in ns (ino 0: a block device,
	 * whose times do not follow its content). The same file found again with another
	 * mtime was written (or touched) since: a change the samples may miss. */
	uint64_t dev, ino, gen;
	int64_t mtime_ns;
};

/*
 * Reads the file (or block device) at `path` (opened read-only, no lock; any format: its
 * bytes as they are) and fills *out. It reads at most about 2.3 MiB, whatever the size:
 * a file replaced by another (a copy of another image, one created again) is told apart,
 * a single block changed outside the parts read is not (on the same host the caller
 * compares dev, ino and mtime_ns for that). The file's times and owner are not part of
 * the hash.
 * Returns 0, or -errno (-EINVAL: neither a regular file nor a block device; -EIO: it
 * shrank while read).
 */
int disk_fingerprint(const char *path, struct disk_fingerprint *out)
	__attribute__((warn_unused_result));

#endif
