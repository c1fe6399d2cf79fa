/*
 * The disk layer's front: opening an image and its backing chain (probing, locking,
 * loop and depth checks), the request engine (disk_submit/disk_complete with the FLUSH
 * barrier), the synchronous helpers and disk_close. Formats are in raw.c and qcow2*.c,
 * host I/O in io.c. Contracts: disk.h.
 */
#include "disk/disk.h"

#include "disk/internal.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

/* SQ entries; the CQ is twice as large and bounds the operations in flight. */
#define RING_ENTRIES 128

/* One request: the caller's (req) or an internal metadata flush (req == NULL). */
struct dreq {
	struct aio aio;
	struct disk *d;
	struct disk_req *req;
	struct dreq *prev, *next; /* run list; `next` also links held and done */
	enum disk_op op;
	uint64_t len;
	bool flush_started;
};

char *disk_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = core_alloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

const char *disk_format_str(enum disk_format fmt)
{
	switch (fmt) {
	case DISK_FMT_RAW:
		return "raw";
	case DISK_FMT_QCOW2:
		return "qcow2";
	case DISK_FMT_AUTO:
		break;
	}
	return "auto";
}

int disk_format_parse(const char *s, enum disk_format *out)
{
	if (!strcmp(s, "raw"))
		*out = DISK_FMT_RAW;
	else if (!strcmp(s, "qcow2"))
		*out = DISK_FMT_QCOW2;
	else if (!strcmp(s, "auto"))
		*out = DISK_FMT_AUTO;
	else
		return -EINVAL;
	return 0;
}

/* ---- Locks (qemu's byte layout, so Lodge and qemu see each other's) ---- */

#define LOCK_PERM_BASE	 100 /* held: this opener uses the permission */
#define LOCK_SHARED_BASE 200 /* held: this opener forbids others the permission */
#define PERM_READ	 0   /* consistent read */
#define PERM_WRITE	 1
#define PERM_RESIZE	 3

static int lock_byte(int fd, int cmd, short type, off_t byte, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = byte;
	fl->l_len = 1;
	return fcntl(fd, cmd, fl) ? -errno : 0;
}

/* Some other open file description holds a lock on `byte`: -EBUSY; else 0 or -errno. */
static int lock_test(int fd, off_t byte)
{
	struct flock fl;
	int r = lock_byte(fd, F_OFD_GETLK, F_WRLCK, byte, &fl);

	if (r)
		return r;
	return fl.l_type == F_UNLCK ? 0 : -EBUSY;
}

int disk_lock_fd(int fd, bool readonly, char *err, size_t errlen)
{
	static const int write_perms[] = {PERM_READ, PERM_WRITE, PERM_RESIZE};
	static const int unshared[] = {PERM_WRITE, PERM_RESIZE};
	unsigned nperm = readonly ? 1 : ARRAY_SIZE(write_perms);
	struct flock fl;
	int r = 0;

	for (unsigned i = 0; i < nperm && !r; i++)
		r = lock_byte(fd, F_OFD_SETLK, F_RDLCK, LOCK_PERM_BASE + write_perms[i], &fl);
	for (unsigned i = 0; i < ARRAY_SIZE(unshared) && !r; i++)
		r = lock_byte(fd, F_OFD_SETLK, F_RDLCK, LOCK_SHARED_BASE + unshared[i], &fl);
	if (r == -EAGAIN || r == -EACCES) {
		r = -EBUSY;
	} else if (r) {
		disk_errf(err, errlen, "cannot lock: %s", strerror(-r));
		return r;
	}
	/* a writer of the image: nobody else may hold our perms' "unshared" bytes */
	for (unsigned i = 0; i < ARRAY_SIZE(unshared) && !r; i++)
		r = lock_test(fd, LOCK_PERM_BASE + unshared[i]);
	if (r == -EBUSY) {
		disk_errf(err, errlen,
			  "image is in use: another process has it open for writing (stop it "
			  "first)");
		return r;
	}
	for (unsigned i = 0; i < nperm && !r; i++)
		r = lock_test(fd, LOCK_SHARED_BASE + write_perms[i]);
	if (r == -EBUSY) {
		disk_errf(err, errlen,
			  "image is in use: another process has it open and does not allow "
			  "writers (a running VM or a backing chain using it; open it read-only)");
		return r;
	}
	if (r)
		disk_errf(err, errlen, "cannot test locks: %s", strerror(-r));
	return r;
}

/* ---- Probing ---- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Other formats' signatures: AUTO refuses these rather than call them raw. */
static const char *foreign_format(const uint8_t *h, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
		const char *magic;
		size_t len;
	} sigs[] = {
		{"VMDK", 0, "KDMV", 4},
		{"VMDK (descriptor)", 0, "# Disk DescriptorFile", 21},
		{"VHDX", 0, "vhdxfile", 8},
		{"VHD", 0, "conectix", 8},
		{"QED", 0, "QED\0", 4},
		{"LUKS", 0, "LUKS\xba\xbe", 6},
		{"VDI", 64, "\x7f\x10\xda\xbe", 4},
	};

	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (n >= sigs[i].off + sigs[i].len &&
		    !memcmp(h + sigs[i].off, sigs[i].magic, sigs[i].len))
			return sigs[i].name;
	return NULL;
}

static int probe(struct img *im, enum disk_format want, enum disk_format *out, char *err,
		 size_t errlen)
{
	uint8_t h[512];
	ssize_t n;
	bool magic;
	const char *other;

	if (want == DISK_FMT_RAW) {
		*out = DISK_FMT_RAW;
		return 0;
	}
	n = pread(im->fd, h, sizeof(h), 0);
	if (n < 0) {
		int r = -errno;
		disk_errf(err, errlen, "cannot read: %s", strerror(errno));
		return r;
	}
	magic = n >= 4 && !memcmp(h, "QFI\xfb", 4);
	if (want == DISK_FMT_QCOW2 && !magic) {
		disk_errf(err, errlen,
			  "not a qcow2 image: no QFI\\xfb magic at offset 0 (is it raw? then "
			  "say so with the raw format)");
		return -EINVAL;
	}
	if (magic) {
		*out = DISK_FMT_QCOW2;
		return 0;
	}
	other = foreign_format(h, (size_t)n);
	if (other) {
		disk_errf(err, errlen,
			  "looks like a %s image, which Lodge does not read (convert it with "
			  "qemu-img convert -O qcow2, or force the raw format to see its bytes)",
			  other);
		return -EINVAL;
	}
	if (ends_with(im->path, ".qcow2") || ends_with(im->path, ".qcow")) {
		disk_errf(err, errlen,
			  "named like a qcow2 image but has no qcow2 magic (truncated or "
			  "corrupt? force the raw format if it really is raw)");
		return -EINVAL;
	}
	*out = DISK_FMT_RAW;
	im->probed_raw = true;
	return 0;
}

const char *disk_sector0_format(const uint8_t *h, size_t n)
{
	if (n >= 4 && !memcmp(h, "QFI\xfb", 4))
		return "qcow2";
	return foreign_format(h, n);
}

/* ---- Opening the chain ---- */

struct chain {
	dev_t dev[DISK_MAX_CHAIN + 1];
	ino_t ino[DISK_MAX_CHAIN + 1];
	const char *path[DISK_MAX_CHAIN + 1];
	unsigned n;
	bool whole;	 /* err holds the complete message (no "backing file X:" prefix) */
	bool in_backing; /* the failure was in a backing file */
	bool no_locks;	 /* disk_options.no_locks */
	const struct disk_backing_check *check; /* disk_options.backing_check */
	bool readonly;				/* disk_options.readonly */
};

static void img_free(struct img *im)
{
	while (im) {
		struct img *next = im->backing;
		if (im->fmt && im->ops)
			im->ops->close(im);
		if (im->fd >= 0)
			close(im->fd);
		core_free(im->path);
		core_free(im->backing_name);
		core_free(im);
		im = next;
	}
}

char *disk_backing_path(const char *overlay, const char *name)
{
	const char *slash = strrchr(overlay, '/');
	size_t dir = slash ? (size_t)(slash - overlay) + 1 : 0;
	size_t n = strlen(name);
	char *p;

	if (name[0] == '/' || !dir)
		return disk_strdup(name);
	p = core_alloc(dir + n + 1);
	if (!p)
		return NULL;
	memcpy(p, overlay, dir);
	memcpy(p + dir, name, n + 1);
	return p;
}

static int open_file(struct img *im, char *err, size_t errlen)
{
	struct stat st;
	int r;

	/* Only a regular file or a block device is an image: a FIFO would block the open
	 * for good, a character device may act on being opened (a watchdog). Checked by
	 * name first, opened without blocking, checked again by descriptor. */
	if (!stat(im->path, &st) && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) &&
	    !S_ISDIR(st.st_mode)) {
		disk_errf(err, errlen, "not a regular file or block device");
		return -EINVAL;
	}
	im->fd = open(im->path,
		      (im->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (im->fd < 0) {
		r = -errno;
		if (!im->readonly && (r == -EACCES || r == -EPERM || r == -EROFS))
			disk_errf(err, errlen,
				  "cannot open for writing: %s (open it read-only, or make it "
				  "writable)",
				  strerror(-r));
		else
			disk_errf(err, errlen, "cannot open: %s", strerror(-r));
		return r;
	}
	if (fstat(im->fd, &st)) {
		r = -errno;
		disk_errf(err, errlen, "cannot stat: %s", strerror(-r));
		return r;
	}
	if (S_ISDIR(st.st_mode)) {
		disk_errf(err, errlen, "is a directory, not a disk image");
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		disk_errf(err, errlen, "not a regular file or block device");
		return -EINVAL;
	}
	im->blockdev = S_ISBLK(st.st_mode);
	r = fcntl(im->fd, F_GETFL);
	if (r < 0 || fcntl(im->fd, F_SETFL, r & ~O_NONBLOCK) < 0) {
		r = -errno;
		disk_errf(err, errlen, "cannot set up its descriptor: %s", strerror(-r));
		return r;
	}
	return 0;
}

static int chain_check(struct img *im, struct chain *c, char *err, size_t errlen)
{
	struct stat st;
	size_t len;

	if (fstat(im->fd, &st)) {
		int r = -errno;
		disk_errf(err, errlen, "%s: cannot stat: %s", im->path, strerror(-r));
		c->whole = true;
		return r;
	}
	for (unsigned i = 0; i < c->n; i++) {
		if (c->dev[i] != st.st_dev || c->ino[i] != st.st_ino)
			continue;
		len = (size_t)snprintf(err, errlen, "%s: backing chain loops: ", c->path[0]);
		for (unsigned k = 0; k < c->n && len < errlen; k++)
			len += (size_t)snprintf(err + len, errlen - len, "%s -> ", c->path[k]);
		if (len < errlen)
			snprintf(err + len, errlen - len,
				 "%s (point one of them at another base with qemu-img rebase -u)",
				 im->path);
		c->whole = true;
		return -ELOOP;
	}
	if (c->n == DISK_MAX_CHAIN + 1) {
		disk_errf(err, errlen,
			  "%s: backing chain longer than %d images (flatten it with qemu-img "
			  "convert)",
			  c->path[0], DISK_MAX_CHAIN + 1);
		c->whole = true;
		return -ELOOP;
	}
	c->dev[c->n] = st.st_dev;
	c->ino[c->n] = st.st_ino;
	c->path[c->n++] = im->path;
	return 0;
}

static int open_chain(struct disk *d, const char *path, enum disk_format fmt, bool readonly,
		      struct chain *c, struct img **out, char *err, size_t errlen);

/* Opens im's backing file; on failure err describes the file that failed. */
static int open_backing(struct img *im, struct chain *c, char *err, size_t errlen)
{
	char *bpath = disk_backing_path(im->path, im->backing_name);
	int r;

	if (!bpath) {
		disk_errf(err, errlen, "%s: out of memory", im->path);
		return -ENOMEM;
	}
	if (c->check && c->check->fn) {
		r = c->check->fn(c->check->ctx, c->path[0], c->readonly, bpath, err, errlen);
		if (r) {
			c->whole = c->in_backing = true;
			core_free(bpath);
			return r < 0 ? r : -EPERM;
		}
	}
	r = open_chain(im->d, bpath, im->backing_format, true, c, &im->backing, err, errlen);
	if (r)
		c->in_backing = true;
	core_free(bpath);
	return r;
}

static int open_chain(struct disk *d, const char *path, enum disk_format fmt, bool readonly,
		      struct chain *c, struct img **out, char *err, size_t errlen)
{
	char why[DISK_ERR_LEN] = "";
	enum disk_format found = DISK_FMT_RAW;
	struct img *im;
	int r;

	im = core_calloc(1, sizeof(*im));
	if (!im || !(im->path = disk_strdup(path))) {
		core_free(im);
		disk_errf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	im->d = d;
	im->fd = -1;
	im->readonly = readonly;
	r = open_file(im, why, sizeof(why));
	if (!r)
		r = chain_check(im, c, err, errlen);
	if (r && c->whole)
		goto err_free;
	if (!r && !c->no_locks)
		r = disk_lock_fd(im->fd, im->readonly, why, sizeof(why));
	if (!r)
		r = probe(im, fmt, &found, why, sizeof(why));
	if (!r) {
		im->ops = found == DISK_FMT_QCOW2 ? &disk_qcow2_ops : &disk_raw_ops;
		r = found == DISK_FMT_QCOW2 ? disk_qcow2_open(im, why, sizeof(why))
					    : disk_raw_open(im, why, sizeof(why));
	}
	if (r) {
		disk_errf(err, errlen, "%s: %s", path, why);
		goto err_free;
	}
	if (im->backing_name) {
		r = open_backing(im, c, err, errlen);
		if (r)
			goto err_free;
	}
	*out = im;
	return 0;

err_free:
	img_free(im);
	return r;
}

static int disk_alloc(struct disk **out, char *err, size_t errlen)
{
	struct disk *d = core_calloc(1, sizeof(*d));
	int r;

	if (!d) {
		disk_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->efd < 0) {
		r = -errno;
		disk_errf(err, errlen, "cannot create an eventfd: %s", strerror(-r));
		goto err_free;
	}
	r = io_uring_queue_init(RING_ENTRIES, &d->ring, 0);
	if (r < 0) {
		disk_errf(err, errlen,
			  "cannot set up io_uring: %s (Lodge needs Linux 5.6 or later with "
			  "io_uring allowed: see /proc/sys/kernel/io_uring_disabled and seccomp)",
			  strerror(-r));
		goto err_close_efd;
	}
	r = io_uring_register_eventfd(&d->ring, d->efd);
	if (r < 0) {
		disk_errf(err, errlen, "cannot register the eventfd with io_uring: %s",
			  strerror(-r));
		goto err_exit_ring;
	}
	d->ring_cap = d->ring.cq.ring_entries;
	*out = d;
	return 0;

err_exit_ring:
	io_uring_queue_exit(&d->ring);
err_close_efd:
	close(d->efd);
err_free:
	core_free(d);
	return r;
}

static void disk_free(struct disk *d)
{
	img_free(d->top);
	io_uring_queue_exit(&d->ring);
	close(d->efd);
	core_free(d->zeros);
	core_free(d->written);
	core_free(d);
}

int disk_open(const char *path, const struct disk_options *opt, struct disk **out, char *err,
	      size_t errlen)
{
	static const struct disk_options defaults = {.format = DISK_FMT_AUTO};
	struct chain c = {.n = 0};
	char why[DISK_ERR_LEN] = "";
	struct disk *d = NULL;
	int r;

	if (!opt)
		opt = &defaults;
	if (opt->no_locks && !opt->readonly) {
		disk_errf(err, errlen, "%s: opening without locks is for read-only inspection",
			  path);
		return -EINVAL;
	}
	c.no_locks = opt->no_locks;
	c.check = opt->backing_check;
	c.readonly = opt->readonly;
	r = disk_alloc(&d, why, sizeof(why));
	if (r) {
		disk_errf(err, errlen, "%s: %s", path, why);
		return r;
	}
	r = open_chain(d, path, opt->format, opt->readonly, &c, &d->top, why, sizeof(why));
	if (r) {
		/* a backing file's failure: say which image needed it */
		if (c.whole || !c.in_backing)
			disk_errf(err, errlen, "%s", why);
		else
			disk_errf(err, errlen, "%s: backing file %s", path, why);
		goto err_free;
	}
	if (d->top->ops->activate && !d->top->readonly) {
		r = d->top->ops->activate(d->top, why, sizeof(why));
		if (r) {
			disk_errf(err, errlen, "%s: %s", path, why);
			goto err_free;
		}
	}
	if (!d->top->readonly) {
		d->nblocks = (d->top->size + DISK_TRACK_BLOCK - 1) / DISK_TRACK_BLOCK;
		d->written = core_calloc((size_t)((d->nblocks + 63) / 64) ?: 1, sizeof(uint64_t));
		d->written_lost = !d->written;
	}
	*out = d;
	return 0;

err_free:
	disk_free(d);
	return r;
}

/* Marks the blocks of [off, off + len) written. */
static void mark_written(struct disk *d, uint64_t off, uint64_t len)
{
	if (!d->written || !len)
		return;
	for (uint64_t b = off / DISK_TRACK_BLOCK; b <= (off + len - 1) / DISK_TRACK_BLOCK; b++)
		d->written[b / 64] |= 1ull << (b % 64);
}

uint64_t disk_written_blocks(const struct disk *d)
{
	return d->nblocks;
}

int disk_written_take(struct disk *d, uint64_t *out)
{
	size_t words = (size_t)((d->nblocks + 63) / 64);

	if (!d->nblocks)
		return 0;
	if (d->written_lost) {
		memset(out, 0xff, words * sizeof(uint64_t));
		if (d->nblocks % 64)
			out[words - 1] = (1ull << (d->nblocks % 64)) - 1;
		return -ENOMEM;
	}
	for (size_t i = 0; i < words; i++) {
		out[i] |= d->written[i];
		d->written[i] = 0;
	}
	return 0;
}

void disk_written_all(struct disk *d)
{
	if (d->nblocks)
		mark_written(d, 0, d->top->size);
}

void disk_get_stats(const struct disk *d, struct disk_stats *out)
{
	const struct disk_stats *s = &d->stats;

	out->requests = __atomic_load_n(&s->requests, __ATOMIC_RELAXED);
	out->host_reads = __atomic_load_n(&s->host_reads, __ATOMIC_RELAXED);
	out->host_writes = __atomic_load_n(&s->host_writes, __ATOMIC_RELAXED);
	out->host_syncs = __atomic_load_n(&s->host_syncs, __ATOMIC_RELAXED);
	out->host_async = __atomic_load_n(&s->host_async, __ATOMIC_RELAXED);
	out->submits = __atomic_load_n(&s->submits, __ATOMIC_RELAXED);
	out->meta_reads = __atomic_load_n(&s->meta_reads, __ATOMIC_RELAXED);
	out->meta_writes = __atomic_load_n(&s->meta_writes, __ATOMIC_RELAXED);
	out->clusters = __atomic_load_n(&s->clusters, __ATOMIC_RELAXED);
}

uint64_t disk_size(const struct disk *d)
{
	return d->top->size;
}

bool disk_readonly(const struct disk *d)
{
	return d->top->readonly;
}

const char *disk_format_name(const struct disk *d)
{
	return disk_format_str(d->top->ops->format);
}

int disk_event_fd(const struct disk *d)
{
	return d->efd;
}

int disk_image_info(const struct disk *d, unsigned depth, struct disk_image_info *out)
{
	struct img *im = d->top;
	struct stat st;

	for (unsigned i = 0; i < depth && im; i++)
		im = im->backing;
	if (!im)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->path = im->path;
	out->backing_name = im->backing_name;
	out->format = im->ops->format;
	out->virtual_size = im->size;
	if (!fstat(im->fd, &st))
		out->allocated = (uint64_t)st.st_blocks * 512;
	if (im->ops->format == DISK_FMT_QCOW2)
		disk_qcow2_describe(im, out);
	return 0;
}

int disk_image_real_path(const struct disk *d, unsigned depth, char *out, size_t len)
{
	struct img *im = d->top;
	char link[64];
	ssize_t n;

	for (unsigned i = 0; i < depth && im; i++)
		im = im->backing;
	if (!im)
		return -ENOENT;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", im->fd);
	n = readlink(link, out, len);
	if (n < 0)
		return -errno;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	out[n] = 0;
	return 0;
}

/* ---- The request engine ---- */

static bool modifies(enum disk_op op)
{
	return op == DISK_OP_WRITE || op == DISK_OP_DISCARD || op == DISK_OP_WRITE_ZEROES;
}

static void signal_efd(struct disk *d)
{
	uint64_t one = 1;

	if (!d->completing && write(d->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err("disk: %s: cannot signal the eventfd: %s", d->top->path, strerror(errno));
}

static void list_append(struct dreq **head, struct dreq **tail, struct dreq *dr)
{
	dr->next = NULL;
	if (*tail)
		(*tail)->next = dr;
	else
		*head = dr;
	*tail = dr;
}

static struct dreq *list_pop(struct dreq **head, struct dreq **tail)
{
	struct dreq *dr = *head;

	if (dr) {
		*head = dr->next;
		if (!*head)
			*tail = NULL;
	}
	return dr;
}

static void pump(struct disk *d);

static void dreq_finished(struct aio *a)
{
	struct dreq *dr = container_of(a, struct dreq, aio);
	struct disk *d = dr->d;

	if (dr->prev)
		dr->prev->next = dr->next;
	else
		d->run_head = dr->next;
	if (dr->next)
		dr->next->prev = dr->prev;
	else
		d->run_tail = dr->prev;
	if (d->flush_active == dr)
		d->flush_active = NULL;
	if (!dr->req) {
		if (a->result)
			log_err("disk: %s: writing metadata failed: %s", d->top->path,
				strerror(-a->result));
		d->internal_flush_queued = false;
		d->nreq--;
		core_free(dr);
	} else {
		list_append(&d->done_head, &d->done_tail, dr);
		signal_efd(d);
	}
	pump(d);
}

static void start(struct disk *d, struct dreq *dr)
{
	struct img *top = d->top;
	struct disk_req *q = dr->req;

	dr->prev = d->run_tail;
	dr->next = NULL;
	if (d->run_tail)
		d->run_tail->next = dr;
	else
		d->run_head = dr;
	d->run_tail = dr;
	aio_init(&dr->aio, dreq_finished);
	switch (dr->op) {
	case DISK_OP_READ:
		top->ops->read(top, q->offset, q->iov, q->iovcnt, 0, dr->len, &dr->aio);
		break;
	case DISK_OP_WRITE:
		top->ops->write(top, q->offset, q->iov, q->iovcnt, 0, dr->len, &dr->aio);
		break;
	case DISK_OP_DISCARD:
	case DISK_OP_WRITE_ZEROES:
		if (dr->len)
			top->ops->zero(top, q->offset, dr->len, dr->op == DISK_OP_DISCARD,
				       &dr->aio);
		break;
	case DISK_OP_FLUSH:
		/* runs from pump() once everything before it has finished */
		d->flush_active = dr;
		return;
	}
	aio_put(&dr->aio, 0);
}

/* Starts what can start: the active flush once it is first in line, then held requests
 * up to the next flush. Re-entered from completions; the outer call does the work. */
static void pump(struct disk *d)
{
	struct dreq *dr;

	if (d->pumping)
		return;
	d->pumping = true;
	for (;;) {
		dr = d->flush_active;
		if (dr && !dr->flush_started && d->run_head == dr) {
			dr->flush_started = true;
			if (!d->top->readonly)
				d->top->ops->flush(d->top, &dr->aio);
			aio_put(&dr->aio, 0);
			continue;
		}
		if (!d->flush_active && d->held_head) {
			start(d, list_pop(&d->held_head, &d->held_tail));
			continue;
		}
		break;
	}
	d->pumping = false;
}

static void enqueue(struct disk *d, struct dreq *dr)
{
	d->nreq++;
	if ((modifies(dr->op) || dr->op == DISK_OP_FLUSH) && (d->flush_active || d->held_head))
		list_append(&d->held_head, &d->held_tail, dr);
	else
		start(d, dr);
	pump(d);
}

void disk_request_flush(struct disk *d)
{
	struct dreq *dr;

	if (d->internal_flush_queued)
		return;
	dr = core_calloc(1, sizeof(*dr));
	if (!dr)
		return; /* the metadata stays dirty in memory until the next flush */
	dr->d = d;
	dr->op = DISK_OP_FLUSH;
	d->internal_flush_queued = true;
	enqueue(d, dr);
}

static int check_req(const struct disk *d, const struct disk_req *q, uint64_t *len)
{
	uint64_t n = 0;

	switch (q->op) {
	case DISK_OP_READ:
	case DISK_OP_WRITE:
		if (!q->iov || q->iovcnt == 0 || q->iovcnt > DISK_MAX_IOV)
			return -EINVAL;
		for (unsigned i = 0; i < q->iovcnt; i++) {
			if (q->iov[i].iov_len > UINT64_MAX - n)
				return -EINVAL;
			n += q->iov[i].iov_len;
		}
		break;
	case DISK_OP_DISCARD:
	case DISK_OP_WRITE_ZEROES:
		n = q->len;
		break;
	case DISK_OP_FLUSH:
		break;
	default:
		return -EINVAL;
	}
	if (q->offset > d->top->size || n > d->top->size - q->offset)
		return -EINVAL;
	if (modifies(q->op) && d->top->readonly)
		return -EROFS;
	*len = n;
	return 0;
}

int disk_submit(struct disk *d, struct disk_req *q)
{
	struct dreq *dr;
	uint64_t len = 0;
	int r = check_req(d, q, &len);

	if (r)
		return r;
	dr = core_calloc(1, sizeof(*dr));
	if (!dr)
		return -ENOMEM;
	dr->d = d;
	dr->req = q;
	dr->op = q->op;
	dr->len = len;
	if (modifies(q->op))
		mark_written(d, q->offset, len);
	DISK_STAT_INC(d, requests);
	enqueue(d, dr);
	if (!d->plugged)
		disk_io_kick(d);
	return 0;
}

void disk_plug(struct disk *d)
{
	d->plugged = true;
}

void disk_unplug(struct disk *d)
{
	d->plugged = false;
	disk_io_kick(d);
}

void disk_complete(struct disk *d)
{
	uint64_t v;
	bool progress;

	if (read(d->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err("disk: %s: cannot read the eventfd: %s", d->top->path, strerror(errno));
	d->completing = true;
	do {
		struct dreq *dr;
		disk_io_kick(d);
		progress = disk_io_reap(d);
		while ((dr = list_pop(&d->done_head, &d->done_tail))) {
			struct disk_req *q = dr->req;
			int res = dr->aio.result;
			/* Marked again now it is done: a copy that read the block while the
			 * write was in flight (live migration's pre-copy) sends it again. */
			if (modifies(dr->op))
				mark_written(d, q->offset, dr->len);
			d->nreq--;
			core_free(dr);
			q->done(q, res);
			progress = true;
		}
	} while (progress);
	disk_io_kick(d);
	d->completing = false;
}

/* ---- Synchronous helpers ---- */

static void wait_event(struct disk *d)
{
	struct pollfd p = {.fd = d->efd, .events = POLLIN};

	disk_io_kick(d);
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
}

/* A request and what became of it, for the synchronous helpers. */
struct sync_req {
	struct disk_req q;
	bool done;
	int res;
};

static void sync_done(struct disk_req *q, int res)
{
	struct sync_req *s = q->opaque;

	s->done = true;
	s->res = res;
}

static int run_sync(struct disk *d, struct sync_req *s)
{
	int r;

	s->q.done = sync_done;
	s->q.opaque = s;
	s->done = false;
	r = disk_submit(d, &s->q);
	if (r)
		return r;
	while (!s->done) {
		wait_event(d);
		disk_complete(d);
	}
	return s->res;
}

int disk_pread(struct disk *d, void *buf, size_t len, uint64_t offset)
{
	struct iovec iov = {buf, len};
	struct sync_req s = {.q = {.op = DISK_OP_READ, .offset = offset, .iov = &iov, .iovcnt = 1}};

	return run_sync(d, &s);
}

int disk_pwrite(struct disk *d, const void *buf, size_t len, uint64_t offset)
{
	struct iovec iov = {(void *)(uintptr_t)buf, len}; /* only read from */
	struct sync_req s = {
		.q = {.op = DISK_OP_WRITE, .offset = offset, .iov = &iov, .iovcnt = 1}};

	return run_sync(d, &s);
}

int disk_flush(struct disk *d)
{
	struct sync_req s = {.q = {.op = DISK_OP_FLUSH}};

	return run_sync(d, &s);
}

int disk_zero(struct disk *d, enum disk_op op, uint64_t offset, uint64_t len)
{
	struct sync_req s = {.q = {.op = op, .offset = offset, .len = len}};

	if (op != DISK_OP_DISCARD && op != DISK_OP_WRITE_ZEROES)
		return -EINVAL;
	return run_sync(d, &s);
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	while (d->nreq) {
		wait_event(d);
		disk_complete(d);
	}
	if (!d->top->readonly) {
		int r = disk_flush(d);
		if (r)
			log_err("disk: %s: final flush failed: %s", d->top->path, strerror(-r));
	}
	disk_free(d);
}
