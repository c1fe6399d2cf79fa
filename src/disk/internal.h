/*
 * Private to src/disk/: the pieces the format drivers (raw.c, qcow2*.c) share with the
 * request engine (disk.c, io.c).
 *
 * An image (`struct img`) is one file of a chain with a format driver (`struct img_ops`).
 * Drivers split a request into host I/O operations (`struct dio`, one io_uring SQE each)
 * and count them on an aggregator (`struct aio`): each sub-operation holds a reference and
 * the aggregator's function runs when the last one is dropped, with the first error.
 * Everything runs on the disk's owning thread, so none of this is locked.
 */
#ifndef LODGE_DISK_INTERNAL_H
#define LODGE_DISK_INTERNAL_H

#include "disk/disk.h"

#include <liburing.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct img;
struct dreq;

/*
 * The open disk: the ring, the image chain and the request engine (disk.c). Requests
 * that are started sit on the `run` list in submission order; a FLUSH runs once it is
 * first on that list (everything before it finished), and while one is active,
 * modifying requests wait on `held`. Finished requests wait on `done` for disk_complete.
 */
struct disk {
	struct io_uring ring;
	int efd;
	struct img *top;
	/* io.c */
	unsigned ring_inflight; /* dios the kernel owns */
	unsigned ring_cap;
	unsigned sq_pending; /* prepared, not yet submitted */
	struct dio *ovf_head, *ovf_tail;
	uint8_t *zeros;
	size_t zeros_len;
	/* disk.c */
	struct dreq *run_head, *run_tail;
	struct dreq *held_head, *held_tail;
	struct dreq *done_head, *done_tail;
	struct dreq *flush_active;
	bool internal_flush_queued;
	bool completing;   /* inside disk_complete: no need to signal the eventfd */
	bool pumping;	   /* inside pump(): nested calls return at once */
	bool plugged;	   /* disk_plug: disk_submit leaves the ring to disk_unplug */
	unsigned nreq;	   /* requests accepted and not yet handed to `done` */
	uint64_t *written; /* DISK_TRACK_BLOCK blocks modified since disk_written_take
			    * (writable disks; NULL when read-only or out of memory) */
	uint64_t nblocks;
	bool written_lost;	 /* no bitmap: every block counts as written */
	struct disk_stats stats; /* owning thread writes, anyone reads (disk_get_stats) */
};

/* Counts one event in d->stats (relaxed atomics: only the owning thread writes, so no
 * read-modify-write is needed, but --stats reads from another thread). */
#define DISK_STAT_INC(d, field)                                                                    \
	__atomic_store_n(&(d)->stats.field,                                                        \
			 __atomic_load_n(&(d)->stats.field, __ATOMIC_RELAXED) + 1,                 \
			 __ATOMIC_RELAXED)

/* A completion counter. Starts with one reference (the starter's), dropped last. */
struct aio {
	unsigned pending;
	int result; /* first error, else 0 */
	void (*fn)(struct aio *a);
};

static inline void aio_init(struct aio *a, void (*fn)(struct aio *a))
{
	a->pending = 1;
	a->result = 0;
	a->fn = fn;
}

static inline void aio_get(struct aio *a)
{
	a->pending++;
}

/* Records an error without dropping a reference. */
static inline void aio_error(struct aio *a, int res)
{
	if (res < 0 && !a->result)
		a->result = res;
}

/* Drops a reference, recording `res` if it is the first error; may run a->fn. */
static inline void aio_put(struct aio *a, int res)
{
	aio_error(a, res);
	if (--a->pending == 0)
		a->fn(a);
}

enum dio_op { DIO_READ, DIO_WRITE, DIO_FSYNC, DIO_FALLOCATE };

/*
 * One host I/O operation. Reads that end early at end of file are completed with zeroes;
 * other short transfers are resubmitted for the rest. When `cb` is NULL the completion
 * drops a reference on `parent` with the result (0 or -errno); otherwise `cb` runs and is
 * responsible for the parent. The dio is freed after its completion has run.
 */
struct dio {
	struct dio *next; /* queue while the ring is full */
	struct disk *d;
	struct aio *parent;
	void (*cb)(struct dio *io, int res);
	void *arg;
	int fd;
	enum dio_op op;
	int mode; /* fallocate mode */
	uint64_t off;
	uint64_t len; /* bytes still to transfer (fallocate: the range) */
	unsigned iovcnt;
	struct iovec iov[];
};

/*
 * A format driver. read/write/zero split [off, off + len) of the image's virtual disk into
 * host operations that each hold a reference on `parent`; they report errors through
 * aio_error(parent) and never drop the caller's reference. The iovec array (starting
 * `skip` bytes in) is only borrowed for the call; the buffers it points to stay valid
 * until `parent` completes. write/zero/flush are only called on writable images.
 */
struct img_ops {
	enum disk_format format;
	void (*read)(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt,
		     size_t skip, uint64_t len, struct aio *parent);
	void (*write)(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt,
		      size_t skip, uint64_t len, struct aio *parent);
	/* discard: may deallocate; either way the range reads back as zeroes */
	void (*zero)(struct img *im, uint64_t off, uint64_t len, bool discard, struct aio *parent);
	/* data and metadata durable; called only when no write is in flight */
	void (*flush)(struct img *im, struct aio *parent);
	/* optional: called once the whole chain opened, before any request (a writable
	 * qcow2 clears unknown auto-clear feature bits here); 0 or -errno + message */
	int (*activate)(struct img *im, char *err, size_t errlen);
	/* writes what metadata is still dirty (best effort, logged) and frees the driver's
	 * state (not the img) */
	void (*close)(struct img *im);
};

struct img {
	struct disk *d;
	const struct img_ops *ops;
	char *path;	    /* as opened */
	char *backing_name; /* as stored in the image, or NULL */
	enum disk_format backing_format;
	struct img *backing; /* read-only, or NULL */
	int fd;
	bool readonly;
	bool blockdev;
	/* raw by probing, not by format=raw: a guest write that would give its first sector
	 * another format's signature is refused (raw.c, as QEMU does since CVE-2008-2004:
	 * else the next open would take it as, say, qcow2 with a backing file of the
	 * guest's choosing, any host file) */
	bool probed_raw;
	uint64_t size;	    /* virtual size */
	uint64_t raw_flags; /* raw: which fallocate modes failed (IMG_NO_*) */
	void *fmt;	    /* the driver's state */
	uint64_t last_log_ns;
	unsigned suppressed;
};

#define IMG_NO_PUNCH (1u << 0)
#define IMG_NO_ZERO  (1u << 1)

extern const struct img_ops disk_raw_ops;
extern const struct img_ops disk_qcow2_ops;

/*
 * What opening a file found, for the format drivers' open functions. They fill `size`,
 * `backing_name`/`backing_format` and `fmt`, and return 0 or a negative errno with a
 * message (without the path, which the caller prepends) in err.
 */
int disk_raw_open(struct img *im, char *err, size_t errlen);
/* The format a first sector (n bytes of it) says, other than raw ("qcow2", "VMDK", ...),
 * or NULL. */
const char *disk_sector0_format(const uint8_t *h, size_t n);
int disk_qcow2_open(struct img *im, char *err, size_t errlen);
/* qcow2 details for disk_image_info */
void disk_qcow2_describe(const struct img *im, struct disk_image_info *out);

/* ---- io.c: host I/O through the disk's ring ---- */

/*
 * A dio for `len` bytes of the iovec array starting `skip` bytes in (a copy of the slice
 * is kept, not the array), or for zeroes when iov is NULL (writes only). Returns NULL when
 * out of memory.
 */
struct dio *disk_dio_new(struct img *im, enum dio_op op, uint64_t off, const struct iovec *iov,
			 unsigned iovcnt, size_t skip, uint64_t len);
/* Queues it; takes a reference on `parent` (when not NULL) for the completion. */
void disk_dio_submit(struct dio *io, struct aio *parent);
/* Reads or writes `len` bytes of an iovec slice (or zeroes for a NULL write iov) at host
 * offset `off` of im's file, in as many dios as needed, each holding a ref on parent. */
void disk_io_rw(struct img *im, enum dio_op op, uint64_t off, const struct iovec *iov,
		unsigned iovcnt, size_t skip, uint64_t len, struct aio *parent);
/* Starts fdatasync of im's file, holding a reference on parent. */
void disk_io_fsync(struct img *im, struct aio *parent);

/* Moves queued dios into the ring and submits what is prepared. */
void disk_io_kick(struct disk *d);
/* Runs the completions the kernel posted; true if there were any. */
bool disk_io_reap(struct disk *d);

/* A shared, zero-filled, read-only buffer of at least `len` bytes (up to 2 MiB), or NULL. */
const uint8_t *disk_zero_buf(struct disk *d, size_t len);
/* Asks for an internal flush (qcow2: too much dirty metadata). */
void disk_request_flush(struct disk *d);

/* ---- iov helpers (io.c) ---- */

/* Copies `len` bytes between a flat buffer and an iovec slice starting `skip` bytes in. */
void disk_iov_to_buf(const struct iovec *iov, unsigned iovcnt, size_t skip, void *buf, size_t len);
void disk_buf_to_iov(const struct iovec *iov, unsigned iovcnt, size_t skip, const void *buf,
		     size_t len);
/* Entries a slice of `len` bytes starting `skip` bytes in spans, and copying it into out
 * (which has room for that many). */
unsigned disk_iov_slice_count(const struct iovec *iov, unsigned iovcnt, size_t skip, uint64_t len);
unsigned disk_iov_slice(const struct iovec *iov, unsigned iovcnt, size_t skip, uint64_t len,
			struct iovec *out);
void disk_iov_memset0(const struct iovec *iov, unsigned iovcnt, size_t skip, size_t len);

/* ---- Logging ---- */

/* Logs "disk: PATH: ..." for a corrupt image or a failed host operation, at most about
 * once a second per image (STYLE: guest-triggerable errors are rate-limited). */
void disk_img_log(struct img *im, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats into err (errlen may be 0). */
void disk_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Big-endian accessors for on-disk structures. */
static inline uint16_t be16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t be64_get(const uint8_t *p)
{
	return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}

static inline void be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void be64_put(uint8_t *p, uint64_t v)
{
	be32_put(p, (uint32_t)(v >> 32));
	be32_put(p + 4, (uint32_t)v);
}

/* ---- disk.c ---- */

/* Takes qemu-compatible OFD locks on fd for a reader or a writer: 0, or -EBUSY when
 * another process's locks conflict (or -errno), with a message in err. */
int disk_lock_fd(int fd, bool readonly, char *err, size_t errlen);
/* `name` resolved against the directory of `overlay` (unless absolute); core_free it. */
char *disk_backing_path(const char *overlay, const char *name);
char *disk_strdup(const char *s);

/* pread/pwrite of exactly len bytes: 0, -EIO on a short transfer, or -errno. */
int disk_pread_full(int fd, void *buf, size_t len, uint64_t off);
int disk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

#endif
