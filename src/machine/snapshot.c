/*
 * Machine snapshots (see snapshot.h). The MACHINE section, version 1, little-endian:
 *   u32 version, u64 RAM base, u64 RAM size, u32 harts, u8 bare, u64 time (10 MHz ticks
 *   at the snapshot), u64 HTIF tohost, u64 fromhost, u32 device options, and per option:
 *   string option, u8 has arguments, string arguments (a string is u16 length + bytes).
 * Then the ID section (u32 version 1, 16 random bytes naming this file), for a Diff the
 * PARENT section (u32 version 1, the parent's 16-byte identity, string absolute path; a
 * string of up to PATH_MAX bytes here), one HART section per hart (cpu/state.h), one
 * DEVICE section per device in creation order (string name, then the device's own
 * record), the RAM section: all of RAM, or for a Diff the pages written since the
 * parent (mem's dirty log, which every snapshot and restore restarts), and last the
 * DISKS section (u32 version 2, u32 writable disks, then per writable disk in order: u32
 * files, its image then each backing file below it, and per file its disk_fingerprint:
 * u64 size, u64 hash, u64 dev, u64 ino, u64 gen, u64 mtime_ns; version 2 has no gen,
 * version 1 size and hash only),
 * written once the images are frozen (after the overlay switch, or
 * once the copies are made and renamed into place); files of format version 1 and 2
 * have none.
 */
#include "machine/snapshot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/keyval.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "cpu/hart.h"
#include "cpu/state.h"
#include "devices/virtio/blk.h"
#include "disk/disk.h"
#include "machine/hostallow.h"
#include "machine/machine.h"
#include "snapshot/snapshot.h"

#define MACHINE_VERSION 1
#define MAX_STR		4096
#define ID_LEN		16
#define IDENT_VERSION	1
#define MAX_CHAIN	64 /* a Diff and its parents, the Full one included */
#define DISKS_VERSION                                                                              \
	3 /* 2: without each file's inode generation; 1: without its dev, ino, mtime */
#define GEN_UNKNOWN UINT64_MAX		 /* (a version 2 record: a generation is 32 bits) */
#define CHAIN_FILES (DISK_MAX_CHAIN + 1) /* an image and its backing files */

/* What the DISKS section records of a writable disk: the identity of its image and of
 * each of the image's backing files, top first. */
struct disk_ids {
	unsigned n;
	struct disk_fingerprint f[CHAIN_FILES];
};

/* What the ID and PARENT sections of a file say. */
struct ident {
	bool has_id, has_parent;
	uint8_t id[ID_LEN], parent_id[ID_LEN];
	char parent[PATH_MAX];
	unsigned next; /* the index of the first section after them */
};

struct vm_restore {
	struct snap_reader *rd;
	uint8_t *machine; /* the MACHINE section */
	struct vm_device_arg devs[VM_MAX_DEVICE_ARGS];
	char *strings;			     /* the options' text */
	char *disk_args[VM_MAX_DEVICE_ARGS]; /* options of disks moved onto overlays */
	char *overlays[VM_MAX_DEVICE_ARGS];  /* their files: removed unless restored */
	bool pinned[VM_MAX_DEVICE_ARGS];     /* disks vm_restore_set_disk pointed elsewhere */
	bool restored;
	uint64_t time, tohost, fromhost;
	char path[PATH_MAX]; /* of this file, absolute */
	struct ident ident;
	/* The DISKS section: each writable disk's images at the snapshot, in order */
	bool has_disks;
	unsigned ndisks;
	struct disk_ids disks[VM_MAX_DEVICE_ARGS];
	/* A Diff's parents: chain[0] its parent ... chain[nchain - 1] the Full snapshot. */
	struct snap_reader *chain[MAX_CHAIN];
	char *chain_path[MAX_CHAIN];
	unsigned nchain;
};

void vm_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

bool vm_page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;

	for (unsigned i = 0; i < GMEM_PAGE_SIZE / 8; i++)
		if (w[i])
			return false;
	return true;
}

static void put_str(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (n > MAX_STR) {
		b->err = b->err ?: -E2BIG;
		return;
	}
	sbuf_put_u16(b, (uint16_t)n);
	sbuf_put(b, s, n);
}

/* A disk's options with its image at `path` and its serial number fixed (it defaults to
 * the image's name, which an overlay changes): "path=PATH[,format=F],serial=S
 * [,readonly=on]", the path and serial escaped (a ',' doubled; path= keeps a '='). Returns
 * 0, or -EINVAL / -ENAMETOOLONG. */
static int disk_args(const char *args, const char *path, const char *format, char *out, size_t len)
{
	struct keyval a;
	const char *old, *serial, *ro, *base;
	char err[128], epath[PATH_MAX * 2], eserial[2 * 20 + 1], s20[21];
	int n;

	if (keyval_parse(&a, args, err, sizeof(err)) < 0)
		return -EINVAL;
	old = keyval_get(&a, "", 0) ?: keyval_get(&a, "path", 0);
	serial = keyval_get(&a, "serial", 0);
	ro = keyval_get(&a, "readonly", 0);
	format = format ?: keyval_get(&a, "format", 0);
	base = old && strrchr(old, '/') ? strrchr(old, '/') + 1 : old ? old : "";
	snprintf(s20, sizeof(s20), "%.20s", serial ? serial : base);
	keyval_escape(eserial, sizeof(eserial), s20);
	n = keyval_escape(epath, sizeof(epath), path) >= sizeof(epath)
		    ? -1
		    : snprintf(out, len, "path=%s%s%s,serial=%s%s", epath, format ? ",format=" : "",
			       format ? format : "", eserial,
			       ro && !strcmp(ro, "on") ? ",readonly=on" : "");
	keyval_fini(&a);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The image path a disk's options name, as given, into out (len bytes), and its format
 * into fmt (8 bytes; "" when probed). Returns 0, or -EINVAL (none) / -ENAMETOOLONG. */
static int disk_image(const char *args, char *out, size_t len, char fmt[8])
{
	struct keyval a;
	const char *p, *f;
	char err[128];
	int r = 0;

	if (keyval_parse(&a, args, err, sizeof(err)) < 0)
		return -EINVAL;
	p = keyval_get(&a, "", 0) ?: keyval_get(&a, "path", 0);
	f = keyval_get(&a, "format", 0);
	if (!p)
		r = -EINVAL;
	else if ((size_t)snprintf(out, len, "%s", p) >= len)
		r = -ENAMETOOLONG;
	snprintf(fmt, 8, "%s", f && strlen(f) < 8 ? f : "");
	keyval_fini(&a);
	return r;
}

/* `s` in single quotes for a POSIX shell (each ' as '\''), into out (4 * strlen + 3). */
static void shell_quote(const char *s, char *out)
{
	*out++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(out, "'\\''", 4);
			out += 4;
		} else {
			*out++ = *s;
		}
	}
	*out++ = '\'';
	*out = 0;
}

/* Whether `got` is the very file `want` recorded: the same device, inode and inode
 * generation (this host, not a copy, not a new file given the inode number again). */
static bool same_file(const struct disk_fingerprint *got, const struct disk_fingerprint *want)
{
	return want->ino && got->dev == want->dev && got->ino == want->ino &&
	       (want->gen == GEN_UNKNOWN || got->gen == want->gen);
}

/* Whether file `got` still holds what `want` recorded: the same length and hash, and when
 * it is the very file recorded, the same modification time, so that a write the hash's
 * samples miss is caught too. */
static bool same_fp(const struct disk_fingerprint *got, const struct disk_fingerprint *want)
{
	if (got->size != want->size || got->hash != want->hash)
		return false;
	return !same_file(got, want) || got->mtime_ns == want->mtime_ns;
}

/* The identities of image `img` (format fmt, "": probed) and of its backing files, top
 * first, into ids (a qcow2 image that names a backing file is opened read-only to follow
 * its chain). With `want`, stops at the first file that differs from what it records (or
 * is not in it) with -ESTALE, that file's path in bad (PATH_MAX bytes) and its place in
 * the chain in *depth. Returns 0, or -errno with one line in err (ids->n is 0 when the
 * image itself could not be read). */
static int chain_ids(const char *img, const char *fmt, struct disk_ids *ids,
		     const struct disk_ids *want, char *bad, unsigned *depth, char *err,
		     size_t errlen)
{
	struct disk_options opt = {.format = DISK_FMT_AUTO, .readonly = true};
	struct disk_image_info info;
	char derr[DISK_ERR_LEN];
	struct disk *d = NULL;
	unsigned i = 0;
	int r;

	ids->n = 0;
	if (fmt[0] && disk_format_parse(fmt, &opt.format) < 0)
		return -EINVAL;
	/* the image itself, then (only if it has one: opening costs more than reading) its
	 * backing chain from depth 1 */
	r = disk_fingerprint(img, &ids->f[0]);
	if (!r && ids->f[0].backing) {
		r = disk_open(img, &opt, &d, derr, sizeof(derr));
		if (r) {
			vm_errf(err, errlen, "%s", derr);
			return r;
		}
	}
	for (; !r && i < CHAIN_FILES; i++) {
		const char *path = img;
		if (i && (!d || disk_image_info(d, i, &info)))
			break;
		if (i) {
			path = info.path;
			r = disk_fingerprint(path, &ids->f[i]);
		}
		if (r) {
			vm_errf(err, errlen, "%s: cannot read it: %s", path, strerror(-r));
			break;
		}
		ids->n = i + 1;
		if (want && (i >= want->n || !same_fp(&ids->f[i], &want->f[i]))) {
			snprintf(bad, PATH_MAX, "%s", path);
			*depth = i;
			r = -ESTALE;
		}
	}
	if (r == -ENOENT && !i) /* (the image: no line yet) */
		vm_errf(err, errlen, "%s: cannot read it: %s", img, strerror(-r));
	if (!r && want && ids->n < want->n) { /* (its last file's header changed too) */
		snprintf(bad, PATH_MAX, "%s", img);
		*depth = ids->n;
		r = -ESTALE;
	}
	disk_close(d);
	return r;
}

/* The image path a disk's options name, made absolute (an overlay refers to it). */
static int disk_path(const char *args, char *out)
{
	struct keyval a;
	const char *p;
	char err[128];
	int r = 0;

	if (keyval_parse(&a, args, err, sizeof(err)) < 0)
		return -EINVAL;
	p = keyval_get(&a, "", 0) ?: keyval_get(&a, "path", 0);
	if (!p || !realpath(p, out))
		r = p ? -errno : -EINVAL;
	keyval_fini(&a);
	return r;
}

/* The options of the k-th device of type `option` (devices of one type are created in
 * the order of their options). */
static struct vm_device_arg *nth_arg(struct vm *vm, const char *option, unsigned k)
{
	for (unsigned i = 0; i < vm->ndev_args; i++)
		if (!strcmp(vm->dev_args[i].option, option) && k-- == 0)
			return &vm->dev_args[i];
	return NULL;
}

/* The k-th virtio-blk device (devices of one type are created in option order). */
static struct device *nth_blk(struct vm *vm, unsigned k)
{
	bool ro;

	for (struct device *d = vm->devices; d; d = d->next)
		if (vblk_is_blk(d, &ro) && k-- == 0)
			return d;
	return NULL;
}

/* Where a snapshot with its disks copied keeps the k-th disk: SNAP.diskK.saved.FORMAT. */
static int copy_name(const char *snap, unsigned k, const char *format, char *out, size_t len)
{
	int n = snprintf(out, len, "%s.disk%u.saved.%s", snap, k, format);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Device option i into the MACHINE section; `copies` (the snapshot's path, or NULL):
 * a writable disk is recorded as its copy next to the snapshot. *k counts disks. */
static int put_dev_arg(struct vm *vm, struct sbuf *b, unsigned i, const char *copies, unsigned *k)
{
	const struct vm_device_arg *a = &vm->dev_args[i];
	char path[PATH_MAX], args[PATH_MAX + 256];
	struct device *d;
	const char *fmt = NULL;
	bool ro = true;
	int r;

	put_str(b, a->option);
	sbuf_put_u8(b, a->args != NULL);
	if (strcmp(a->option, "disk") || !a->args) {
		put_str(b, a->args ? a->args : "");
		return 0;
	}
	d = nth_blk(vm, (*k)++);
	if (copies && d && vblk_is_blk(d, &ro) && !ro) {
		fmt = vblk_disk(d) ? disk_format_name(vblk_disk(d)) : NULL;
		r = fmt ? copy_name(copies, *k - 1, fmt, path, sizeof(path)) : -EBADF;
	} else {
		r = disk_path(a->args, path);
	}
	r = r ?: disk_args(a->args, path, fmt, args, sizeof(args));
	if (!r)
		put_str(b, args);
	return r;
}

static int save_machine(struct vm *vm, struct sbuf *b, const char *copies)
{
	unsigned k = 0;
	int r = 0;

	sbuf_put_u32(b, MACHINE_VERSION);
	sbuf_put_u64(b, vm->mem.base);
	sbuf_put_u64(b, vm->mem.size);
	sbuf_put_u32(b, vm->nharts);
	sbuf_put_u8(b, vm->bare);
	sbuf_put_u64(b, vm_time(vm));
	sbuf_put_u64(b, vm->tohost_pa);
	sbuf_put_u64(b, vm->fromhost_pa);
	sbuf_put_u32(b, vm->ndev_args);
	for (unsigned i = 0; i < vm->ndev_args && !r; i++)
		r = put_dev_arg(vm, b, i, copies, &k);
	return r ?: b->err;
}

/* A copy of an image, synced, written to DST.tmp (each_copy renames it to DST once
 * the snapshot is whole): a reflink (FICLONE: no data copied, whatever the size) where
 * the file system shares extents (XFS, Btrfs), else a copy with holes kept (SEEK_DATA /
 * SEEK_HOLE; all-zero chunks are not written either). Returns 0 or -errno. */
static int copy_image(const char *src, const char *dst)
{
	enum { CHUNK = 1 << 20 };
	char tmp[PATH_MAX];
	struct stat st;
	uint8_t *buf = NULL;
	int in, out = -1, r = 0;
	off_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = S_ISREG(st.st_mode) ? -errno : -EINVAL;
		goto out;
	}
	buf = core_alloc(CHUNK);
	/* a new file: never one at that name already (a symlink, or a file the machine runs
	 * on, which path_clash refused), which O_TRUNC would have emptied */
	unlink(tmp);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (!buf || out < 0) {
		r = !buf ? -ENOMEM : -errno;
		goto out;
	}
	if (ioctl(out, FICLONE, in) == 0)
		off = st.st_size; /* shared extents: nothing left to copy */
	else if (ftruncate(out, st.st_size) < 0)
		r = -errno;
	while (off < st.st_size && !r) {
		off_t data = lseek(in, off, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO)
			break; /* a hole up to the end */
		if (data < 0)  /* no SEEK_DATA here: all of it is data */
			data = off, hole = st.st_size;
		else if ((hole = lseek(in, data, SEEK_HOLE)) < 0)
			hole = st.st_size;
		for (off_t p = data; p < hole && !r;) {
			size_t want = hole - p < CHUNK ? (size_t)(hole - p) : CHUNK;
			ssize_t n = pread(in, buf, want, p);
			if (n <= 0) {
				r = n < 0 ? -errno : -EIO; /* the image shrank under us */
				break;
			}
			bool zero = true;
			for (ssize_t z = 0; z < n && zero; z++)
				zero = !buf[z];
			for (ssize_t w = 0; !zero && w < n;) {
				ssize_t m = pwrite(out, buf + w, (size_t)(n - w), p + w);
				if (m <= 0) {
					r = m < 0 ? -errno : -EIO;
					break;
				}
				w += m;
			}
			p += n;
		}
		off = hole;
	}
	if (!r && fsync(out) < 0)
		r = -errno;
out:
	core_free(buf);
	close(in);
	if (out >= 0) {
		close(out);
		if (r)
			unlink(tmp);
	}
	return r;
}

/* The copy of img (copy_image: COPY.tmp until published) made in another directory
 * names img's backing file by its absolute path where img named it relatively
 * (disk_copy_backing_name). The copy is removed on failure. */
struct host_name {
	char path[PATH_MAX];
};

/* disk_copy_backing_name's rename: a path the daemon's sandbox shows this process under
 * /files/ as the host's path for it (LODGE_HOST_PATHS, "INSIDE<tab>HOST" lines: set by
 * the daemon, host/supervisor.c), else NULL (the path as it is). */
static const char *host_name(void *ctx, const char *path)
{
	struct host_name *h = ctx;
	const char *env = getenv("LODGE_HOST_PATHS"), *line = env;
	size_t n = strlen(path);

	while (line && *line) {
		const char *tab = strchr(line, '\t'), *end = strchr(line, '\n');
		if (!tab || !end || tab > end)
			break;
		if ((size_t)(tab - line) == n && !memcmp(line, path, n) &&
		    (size_t)(end - tab - 1) < sizeof(h->path)) {
			memcpy(h->path, tab + 1, (size_t)(end - tab - 1));
			h->path[end - tab - 1] = 0;
			return h->path;
		}
		line = end + 1;
	}
	return NULL;
}

static int copy_backing_name(const char *img, const char *copy, const char *dev, char *err,
			     size_t errlen)
{
	char tmp[PATH_MAX + 8], why[DISK_ERR_LEN];
	struct host_name h;
	int r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", copy);
	r = disk_copy_backing_name(img, tmp, host_name, &h, why, sizeof(why));
	if (r) {
		vm_errf(err, errlen, "%s: the copy of %s cannot name its backing file: %s", dev,
			img, why);
		unlink(tmp);
	}
	return r;
}

/* The copies of a snapshot's disks are made as SNAP.diskK.saved.FORMAT.tmp: a snapshot
 * that fails before its copies are renamed to their names, just before its own file is
 * renamed into place (COPIES_PUBLISH), leaves an earlier snapshot at the same path
 * whole, its copies too (COPIES_DISCARD removes only the .tmp files); one that fails
 * after that removes them (COPIES_REMOVE: the earlier snapshot's file would name copies
 * that are not its own). Returns 0 or -errno. */
enum copies_op { COPIES_DISCARD, COPIES_PUBLISH, COPIES_REMOVE };

static int each_copy(const char *snap, enum copies_op op)
{
	static const char *const fmts[] = {"raw", "qcow2"};
	char p[PATH_MAX], t[PATH_MAX + 8];
	int r = 0;

	for (unsigned k = 0; k < VM_MAX_DEVICE_ARGS; k++)
		for (unsigned f = 0; f < 2; f++) {
			if (copy_name(snap, k, fmts[f], p, sizeof(p)))
				continue;
			snprintf(t, sizeof(t), "%s.tmp", p);
			if (op == COPIES_REMOVE)
				unlink(p);
			if (op != COPIES_PUBLISH)
				unlink(t);
			else if (!r && rename(t, p) < 0 && errno != ENOENT)
				r = -errno;
		}
	return r;
}

/* After the snapshot is written, with "disks": "copy": every writable disk is closed
 * (its metadata written and synced), copied to SNAP.diskK.saved.FORMAT (what the MACHINE
 * section recorded; .tmp until the snapshot is whole) and opened again; the machine stays
 * on its images. */
static int copy_disks(struct vm *vm, const char *snap, char *err, size_t errlen)
{
	unsigned k = 0;
	int r = 0;

	for (struct device *d = vm->devices; d && !r; d = d->next) {
		char copy[PATH_MAX], aerr[256];
		const char *fmt;
		bool ro;
		int a;
		if (!vblk_is_blk(d, &ro))
			continue;
		if (ro || !vblk_disk(d)) {
			k++;
			continue;
		}
		fmt = disk_format_name(vblk_disk(d));
		r = copy_name(snap, k++, fmt, copy, sizeof(copy));
		if (r)
			break;
		vblk_release(d);
		r = copy_image(vblk_path(d), copy);
		if (r)
			vm_errf(err, errlen, "%s: cannot copy %s to %s: %s", d->name, vblk_path(d),
				copy, strerror(-r));
		else
			r = copy_backing_name(vblk_path(d), copy, d->name, err, errlen);
		a = vblk_attach(d, aerr, sizeof(aerr));
		if (a) {
			vm_errf(err, errlen, "%s: cannot open its image again after the copy: %s",
				d->name, aerr);
			r = a;
		} else {
			/* a new open forgot which blocks were written: replication and
			 * migration must send them all again */
			disk_written_all(vblk_disk(d));
		}
	}
	return r;
}

/* After the snapshot is written: every writable disk moves onto an overlay
 * (PATH.diskN.qcow2 next to the snapshot) whose backing file is its image, which thus
 * stays as the snapshot recorded it. */
static int switch_disks(struct vm *vm, const char *snap, char *err, size_t errlen)
{
	unsigned k = 0;
	int r = 0;

	for (struct device *d = vm->devices; d && !r; d = d->next) {
		struct vm_device_arg *a;
		char ov[PATH_MAX], img[PATH_MAX], args[PATH_MAX + 256], *copy;
		bool ro;
		if (!vblk_is_blk(d, &ro))
			continue;
		a = nth_arg(vm, "disk", k);
		if (!a || !a->args) {
			vm_errf(err, errlen, "%s: its options are unknown", d->name);
			return -EINVAL;
		}
		if (snprintf(ov, sizeof(ov), "%s.disk%u.qcow2", snap, k++) >= (int)sizeof(ov))
			return -ENAMETOOLONG;
		if (ro)
			continue;
		r = disk_path(a->args, img) ?: disk_args(a->args, ov, "qcow2", args, sizeof(args));
		if (r) {
			vm_errf(err, errlen, "%s: %s", d->name, strerror(-r));
			break;
		}
		copy = core_alloc(strlen(args) + 1);
		if (!copy)
			return -ENOMEM;
		strcpy(copy, args);
		r = vblk_switch_overlay(d, ov, img, NULL, err, errlen);
		if (r) {
			core_free(copy);
			break;
		}
		core_free((char *)a->args);
		a->args = copy;
	}
	return r;
}

/* A writable disk that a snapshot with "disks": "copy" and "resume" moved onto a
 * temporary overlay, so that its image stays frozen while it is copied and the machine
 * runs (docs/SNAPSHOT.md "Disks"). */
struct live_disk {
	struct device *dev;
	struct vm_device_arg *arg; /* its options (they keep naming the image) */
	char img[PATH_MAX];	   /* the image, absolute: frozen until the merge */
	char fmt[8];		   /* its format */
	char ov[PATH_MAX];	   /* SNAP.diskK.live.qcow2 over it, which the machine writes */
	char copy[PATH_MAX];	   /* SNAP.diskK.saved.FORMAT */
};

struct save_job {
	struct vm *vm;
	struct snap_writer *w;
	const char *path;
	const struct vm_snapshot_opts *o;
	char *err;
	size_t errlen;
	int r;
	uint8_t id[ID_LEN];
	struct sbuf machine; /* the MACHINE section written: the disks it records */
	uint64_t *pages;     /* the dirty log taken for this snapshot */
	bool log_taken;	     /* the log was on and is now in pages */
	bool log_started;
	/* copy_disks with resume: the disks moved onto overlays (live[0..nlive)) */
	struct live_disk *live;
	unsigned nlive;
};

/* A new file's identity. Random; without getrandom (a sandbox may refuse it) the clocks
 * and the process id still make two snapshots' identities differ. */
static void new_id(uint8_t id[ID_LEN])
{
	uint64_t a, b;

	if (getrandom(id, ID_LEN, GRND_NONBLOCK) == ID_LEN)
		return;
	a = core_clock_ns(CLOCK_REALTIME);
	b = vm_now_ns() ^ ((uint64_t)getpid() << 40);
	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

static int write_ident(struct save_job *j)
{
	struct vm *vm = j->vm;
	struct sbuf b = {0};
	int r;

	sbuf_put_u32(&b, IDENT_VERSION);
	sbuf_put(&b, j->id, ID_LEN);
	r = b.err ?: snap_write_section(j->w, SNAP_SEC_ID, b.data, b.len);
	if (!r && j->o->diff) {
		size_t n = strlen(vm->snap_parent_path);
		b.len = 0;
		sbuf_put_u32(&b, IDENT_VERSION);
		sbuf_put(&b, vm->snap_parent_id, ID_LEN);
		sbuf_put_u16(&b, (uint16_t)n);
		sbuf_put(&b, vm->snap_parent_path, n);
		r = b.err ?: snap_write_section(j->w, SNAP_SEC_PARENT, b.data, b.len);
	}
	sbuf_fini(&b);
	return r;
}

/* The RAM this file holds is RAM as it is now: the dirty log restarts here (what it
 * held goes into j->pages, which a Diff writes and a failure puts back). */
static int write_ram(struct save_job *j)
{
	struct gmem *m = &j->vm->mem;
	int r = 0;

	if (__atomic_load_n(&m->dirty_log, __ATOMIC_ACQUIRE)) {
		r = gmem_dirty_take(m, j->pages, false);
		j->log_taken = !r;
	} else {
		gmem_dirty_start(m);
		j->log_started = true;
	}
	if (r)
		return r;
	if (j->o->diff)
		return snap_write_ram_diff(j->w, m->ram, m->base, m->size, j->pages);
	return snap_write_ram(j->w, m->ram, m->base, m->size,
			      j->o->raw_ram ? SNAP_RAM_RAW : SNAP_RAM_ZSTD);
}

int vm_state_save(struct vm *vm, vm_state_emit_fn emit, void *ctx, char *err, size_t errlen)
{
	struct sbuf b = {0};
	int r = 0;

	for (unsigned i = 0; i < vm->nharts && !r; i++) {
		b.len = 0;
		r = hart_save(vm->harts[i], &b) ?: b.err ?: emit(ctx, SNAP_SEC_HART, b.data, b.len);
	}
	for (struct device *d = vm->devices; d && !r; d = d->next) {
		b.len = 0;
		put_str(&b, d->name);
		r = d->ops->save(d, &b) ?: b.err;
		if (r)
			vm_errf(err, errlen, "%s: cannot save its state: %s", d->name,
				strerror(-r));
		else
			r = emit(ctx, SNAP_SEC_DEVICE, b.data, b.len);
	}
	sbuf_fini(&b);
	return r;
}

int vm_state_config(struct vm *vm, struct sbuf *b)
{
	return save_machine(vm, b, NULL);
}

static int emit_section(void *ctx, uint32_t type, const void *p, size_t len)
{
	return snap_write_section(ctx, type, p, len);
}

/* Writes n blocks (offs[i], lens[i], their bytes one after another in buf) into the image
 * `img` of format `fmt`, then flushes it: all-zero blocks as write-zeroes. The caller's
 * thread owns the image it opens here. Returns 0 or -errno with one line in err. */
static int write_blocks(const char *img, const char *fmt, const uint8_t *buf, const uint64_t *offs,
			const uint32_t *lens, unsigned n, char *err, size_t errlen)
{
	struct disk_options opt = {.format = DISK_FMT_AUTO};
	char derr[DISK_ERR_LEN];
	struct disk *d;
	int r;

	if (disk_format_parse(fmt, &opt.format) < 0)
		return -EINVAL;
	r = disk_open(img, &opt, &d, derr, sizeof(derr));
	if (r) {
		vm_errf(err, errlen, "%s", derr);
		return r;
	}
	for (unsigned i = 0; i < n && !r; i++) {
		bool zero = !buf[0] && !memcmp(buf, buf + 1, lens[i] - 1);
		r = zero ? disk_zero(d, DISK_OP_WRITE_ZEROES, offs[i], lens[i])
			 : disk_pwrite(d, buf, lens[i], offs[i]);
		buf += lens[i];
	}
	r = r ?: disk_flush(d);
	disk_close(d);
	if (r)
		vm_errf(err, errlen, "%s: cannot write to it: %s", img, strerror(-r));
	return r;
}

/* I/O thread, the machine paused and its devices quiesced: the blocks the machine wrote
 * on l's overlay are written into the image below it (read from the overlay a chunk at a
 * time, the overlay closed while the image is open: the image opens for writing only
 * when no chain holds it), then the device goes back onto the image and the overlay is
 * removed. The overlay is left as it was until the image is synced, so a crash at any
 * point leaves the overlay over the image reading as the disk. *blocks counts the
 * blocks merged. On failure the device stays on the overlay (its options then name it:
 * keep that file) and -errno comes back with one line in err. */
static int merge_disk(struct live_disk *l, uint64_t *blocks, char *err, size_t errlen)
{
	enum { CHUNK = 256 }; /* blocks: 16 MiB */
	struct disk *ov = vblk_disk(l->dev);
	uint64_t nb = ov ? disk_written_blocks(ov) : 0, size = ov ? disk_size(ov) : 0, b = 0;
	uint64_t *map = core_calloc((size_t)((nb + 63) / 64) ?: 1, sizeof(uint64_t));
	uint8_t *buf = core_alloc((size_t)CHUNK * DISK_TRACK_BLOCK);
	uint64_t offs[CHUNK];
	uint32_t lens[CHUNK];
	char aerr[DISK_ERR_LEN];
	int r = ov ? 0 : -EBADF;

	if (!map || !buf)
		r = -ENOMEM;
	if (!r && disk_written_take(ov, map) < 0) {
		/* (it reported every block: all are merged) */
	}
	while (!r) {
		unsigned n = 0;
		size_t used = 0;
		r = vblk_attach(l->dev, aerr, sizeof(aerr)); /* the overlay, if closed */
		if (r) {
			vm_errf(err, errlen, "%s", aerr);
			break;
		}
		for (; b < nb && n < CHUNK && !r; b++) {
			uint64_t off = b * DISK_TRACK_BLOCK;
			if (!(map[b / 64] >> (b % 64) & 1) || off >= size)
				continue;
			lens[n] = (uint32_t)(size - off < DISK_TRACK_BLOCK ? size - off
									   : DISK_TRACK_BLOCK);
			offs[n] = off;
			r = vblk_read(l->dev, buf + used, lens[n], off);
			if (r)
				vm_errf(err, errlen, "%s: cannot read it: %s", l->ov, strerror(-r));
			used += lens[n++];
		}
		if (r || !n)
			break;
		vblk_release(l->dev);
		r = write_blocks(l->img, l->fmt, buf, offs, lens, n, err, errlen);
		*blocks += n;
		if (b >= nb)
			break; /* the overlay stays closed: the device goes onto the image */
	}
	if (!r)
		r = vblk_switch_image(l->dev, l->img, l->fmt, err, errlen);
	if (!r) {
		unlink(l->ov);
		/* a new open forgot which blocks were written: replication and migration
		 * must send them all again */
		disk_written_all(vblk_disk(l->dev));
	} else if (!vblk_attach(l->dev, aerr, sizeof(aerr))) {
		char args[PATH_MAX + 256], *p = NULL;
		/* on the overlay from now on: a later snapshot must not take the image
		 * below it for the disk */
		if (!disk_args(l->arg->args, l->ov, "qcow2", args, sizeof(args)) &&
		    (p = core_alloc(strlen(args) + 1))) {
			core_free((char *)l->arg->args);
			l->arg->args = strcpy(p, args);
		}
	} else {
		log_err("%s: %s", l->dev->name, aerr);
	}
	core_free(buf);
	core_free(map);
	return r;
}

struct merge_job {
	struct save_job *j;
	uint64_t blocks;
	int r;
};

/* I/O thread: every disk of a snapshot's background copy goes back onto its image. */
static void merge_on_loop(void *opaque)
{
	struct merge_job *m = opaque;
	struct save_job *j = m->j;
	char err[512];

	for (unsigned i = 0; i < j->nlive; i++) {
		int r = merge_disk(&j->live[i], &m->blocks, err, sizeof(err));
		if (!r)
			continue;
		log_err("%s: cannot merge what the guest wrote during the snapshot's copy "
			"back into %s: %s; it runs on %s (keep that file)",
			j->live[i].dev->name, j->live[i].img, err, j->live[i].ov);
		if (!m->r)
			vm_errf(j->err, j->errlen,
				"%s: the writes made during the copy stay on %s: %s",
				j->live[i].dev->name, j->live[i].ov, err);
		m->r = m->r ?: r;
	}
	j->nlive = 0;
}

/* After the snapshot is written, with "disks": "copy" and the machine to resume: every
 * writable disk moves onto an overlay SNAP.diskK.live.qcow2 over its image, which then
 * stays as the snapshot recorded it while it is copied (vm_snapshot). On failure the
 * disks moved already go back. */
static int switch_live(struct save_job *j)
{
	struct vm *vm = j->vm;
	unsigned k = 0;
	int r = 0;

	for (struct device *d = vm->devices; d && !r; d = d->next) {
		struct live_disk *l = &j->live[j->nlive];
		unsigned n = k;
		bool ro;
		if (!vblk_is_blk(d, &ro))
			continue;
		l->arg = nth_arg(vm, "disk", k++);
		if (ro || !vblk_disk(d))
			continue;
		if (!l->arg || !l->arg->args) {
			vm_errf(j->err, j->errlen, "%s: its options are unknown", d->name);
			r = -EINVAL;
			break;
		}
		snprintf(l->fmt, sizeof(l->fmt), "%s", disk_format_name(vblk_disk(d)));
		r = disk_path(l->arg->args, l->img)
			    ?: copy_name(j->path, n, l->fmt, l->copy, sizeof(l->copy));
		if (!r && snprintf(l->ov, sizeof(l->ov), "%s.disk%u.live.qcow2", j->path, n) >=
				  (int)sizeof(l->ov))
			r = -ENAMETOOLONG;
		if (r) {
			vm_errf(j->err, j->errlen, "%s: %s", d->name, strerror(-r));
			break;
		}
		r = vblk_switch_overlay(d, l->ov, l->img, l->fmt, j->err, j->errlen);
		if (r == -EEXIST) /* never overwritten: it may hold a guest's writes */
			vm_errf(j->err, j->errlen,
				"%s: %s already exists: it may hold what a guest wrote during an "
				"earlier snapshot's copy at this path (the disk of a guest that "
				"runs on it, or of one killed meanwhile: qemu-img commit puts it "
				"back into its image); take the snapshot at another path, or "
				"remove that file once it is not needed",
				d->name, l->ov);
		if (!r) {
			l->dev = d;
			j->nlive++;
		}
	}
	if (r) {
		struct merge_job m = {.j = j};
		char keep[512];
		snprintf(keep, sizeof(keep), "%s", j->err ? j->err : "");
		merge_on_loop(&m); /* nothing was written on them: they only go back */
		vm_errf(j->err, j->errlen, "%s", keep);
	}
	return r;
}

/* On the I/O thread, so that no device callback runs while the state is written. */
static void save_on_loop(void *opaque)
{
	struct save_job *j = opaque;
	struct vm *vm = j->vm;
	struct sbuf b = {0};
	int r;

	r = save_machine(vm, &b, j->o->copy_disks ? j->path : NULL);
	if (r)
		vm_errf(j->err, j->errlen, "cannot record the machine's configuration: %s",
			strerror(-r));
	r = r ?: snap_write_section(j->w, SNAP_SEC_MACHINE, b.data, b.len);
	r = r ?: write_ident(j);
	j->machine = b; /* (vm_snapshot frees it) */
	if (!r)
		r = vm_state_save(vm, emit_section, j->w, j->err, j->errlen);
	/* Devices go before the RAM: saving a virtio device logs its used rings. */
	if (!r)
		r = write_ram(j);
	if (!r && j->live)
		r = switch_live(j);
	else if (!r)
		r = j->o->copy_disks ? copy_disks(vm, j->path, j->err, j->errlen)
				     : switch_disks(vm, j->path, j->err, j->errlen);
	j->r = r;
}

static void quiesce(struct vm *vm)
{
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->quiesce)
			d->ops->quiesce(d);
}

static void unquiesce(struct vm *vm)
{
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->resume)
			d->ops->resume(d);
}

int vm_ram_lease_fd(const struct vm *vm)
{
	return snap_ram_lease_eventfd(vm->mem.ram);
}

int vm_ram_lease_signal_here(const struct vm *vm)
{
	return snap_ram_lease_signal_here(vm->mem.ram);
}

struct detach_job {
	struct vm *vm;
	int r;
};

static void detach_on_loop(void *opaque)
{
	struct detach_job *j = opaque;

	j->r = snap_ram_lease_detach(j->vm->mem.ram, j->vm->mem.hugepages);
}

int vm_ram_detach(struct vm *vm, char *err, size_t errlen)
{
	struct detach_job j = {.vm = vm};
	bool was_paused;
	int p;

	if (err && errlen)
		err[0] = 0;
	if (snap_ram_lease_eventfd(vm->mem.ram) < 0) /* moved off already */
		return 0;
	/* held: replication's checkpoint or a snapshot's background copy, which pause and
	 * resume the machine on their own threads, must not let it run during the copy */
	p = vm_pause_hold(vm, &was_paused);
	if (p) {
		snap_ram_lease_end(vm->mem.ram);
		return p;
	}
	quiesce(vm);
	evloop_call(vm->loop, detach_on_loop, &j);
	unquiesce(vm);
	vm_pause_release(vm, was_paused);
	if (j.r)
		vm_errf(err, errlen,
			"cannot copy the guest's %llu MiB of memory out of the snapshot file it is "
			"mapped from: %s",
			(unsigned long long)(vm->mem.size >> 20), strerror(-j.r));
	return j.r;
}

/* "disks": "copy" with "resume": the state is written and the disks are on overlays
 * over their frozen images (switch_live). The machine runs again while the images are
 * copied (on this thread); then it pauses briefly while what it wrote on the overlays
 * meanwhile goes into the images and the disks go back onto them. Returns 0 once the
 * copies are synced, or -errno with one line in j->err (the copies removed). */
static int copy_live(struct save_job *j)
{
	struct vm *vm = j->vm;
	struct merge_job m = {.j = j};
	uint64_t paused = __atomic_load_n(&vm->env.clock.paused_ns, __ATOMIC_ACQUIRE);
	uint64_t t0 = vm_now_ns(), t1, t2, t3, bytes = 0;
	bool resumed = vm_resume(vm) == 0;
	int r = 0, p;

	for (unsigned i = 0; i < j->nlive && !r; i++) {
		char tmp[PATH_MAX + 8];
		struct stat st;
		r = copy_image(j->live[i].img, j->live[i].copy);
		snprintf(tmp, sizeof(tmp), "%s.tmp", j->live[i].copy); /* (until published) */
		if (r)
			vm_errf(j->err, j->errlen, "%s: cannot copy %s to %s: %s",
				j->live[i].dev->name, j->live[i].img, j->live[i].copy,
				strerror(-r));
		else
			r = copy_backing_name(j->live[i].img, j->live[i].copy, j->live[i].dev->name,
					      j->err, j->errlen);
		if (!r && stat(tmp, &st) == 0)
			bytes += (uint64_t)st.st_blocks * 512;
	}
	t1 = vm_now_ns();
	/* harts that stopped meanwhile (the guest powered off) need no pause */
	p = resumed ? vm_pause(vm) : 0;
	t2 = vm_now_ns();
	quiesce(vm);
	evloop_call(vm->loop, merge_on_loop, &m);
	unquiesce(vm);
	if (resumed && !p)
		vm_resume(vm);
	t3 = vm_now_ns();
	if (!r && m.r)
		r = m.r;
	if (j->o->stats)
		*j->o->stats = (struct vm_snapshot_stats){
			.background = true,
			.paused_ns = paused && paused < t0 ? t0 - paused : 0,
			.copy_ns = t1 - t0,
			.copy_bytes = bytes,
			.merge_ns = t3 - t2,
			.merge_blocks = m.blocks};
	return r;
}

/* True when device option i is a writable disk. */
static bool writable_disk(const struct vm_restore *rs, unsigned i)
{
	struct keyval a;
	const char *ro;
	char err[128];
	bool w;

	if (strcmp(rs->devs[i].option, "disk") || !rs->devs[i].args)
		return false;
	if (keyval_parse(&a, rs->devs[i].args, err, sizeof(err)) < 0)
		return false;
	ro = keyval_get(&a, "readonly", 0);
	w = !(ro && !strcmp(ro, "on"));
	keyval_fini(&a);
	return w;
}

/* Once the disks are frozen (moved onto overlays, or their copies made and renamed into
 * place): the DISKS section, the identity of the image the MACHINE section records for
 * each writable disk, in order (a restore compares it with the image it finds there). */
static int write_disks(struct save_job *j)
{
	struct vm_config cfg = {0};
	struct vm_restore *rs;
	struct sbuf b = {0};
	unsigned k = 0;
	int r = vm_restore_config(j->machine.data, j->machine.len, &cfg, &rs);

	if (r)
		return r;
	sbuf_put_u32(&b, DISKS_VERSION);
	sbuf_put_u32(&b, vm_restore_writable_disks(rs));
	for (unsigned i = 0; i < cfg.ndevices && !r; i++) {
		char img[PATH_MAX] = "", fmt[8], why[DISK_ERR_LEN] = "";
		struct disk_ids ids;
		unsigned n = k;
		if (strcmp(rs->devs[i].option, "disk") || !rs->devs[i].args)
			continue;
		k++; /* (disks count as SNAP.diskN names them: read-only ones too) */
		if (!writable_disk(rs, i))
			continue;
		r = disk_image(rs->devs[i].args, img, sizeof(img), fmt);
		r = r ?: chain_ids(img, fmt, &ids, NULL, NULL, NULL, why, sizeof(why));
		if (r) {
			vm_errf(j->err, j->errlen,
				"disk %u: cannot read its image %s to record what it holds: %s", n,
				img, why[0] ? why : strerror(-r));
			break;
		}
		sbuf_put_u32(&b, ids.n);
		for (unsigned f = 0; f < ids.n; f++) {
			sbuf_put_u64(&b, ids.f[f].size);
			sbuf_put_u64(&b, ids.f[f].hash);
			sbuf_put_u64(&b, ids.f[f].dev);
			sbuf_put_u64(&b, ids.f[f].ino);
			sbuf_put_u64(&b, ids.f[f].gen);
			sbuf_put_u64(&b, (uint64_t)ids.f[f].mtime_ns);
		}
	}
	vm_restore_close(rs);
	r = r ?: b.err ?: snap_write_section(j->w, SNAP_SEC_DISKS, b.data, b.len);
	sbuf_fini(&b);
	return r;
}

/* Whether the file at `name` (if any) is one of the machine's disk images or a file of
 * their backing chains: a snapshot written there (renamed into place) would take the
 * image's name from it. Returns the device's name, or NULL. */
static const char *own_image(struct vm *vm, const char *name)
{
	struct stat st, is;

	if (lstat(name, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	for (struct device *d = vm->devices; d; d = d->next) {
		char real[PATH_MAX];
		bool ro;
		if (!vblk_is_blk(d, &ro) || !vblk_disk(d))
			continue;
		for (unsigned k = 0; !disk_image_real_path(vblk_disk(d), k, real, sizeof(real));
		     k++)
			if (stat(real, &is) == 0 && is.st_dev == st.st_dev &&
			    is.st_ino == st.st_ino)
				return d->name;
	}
	return NULL;
}

/* A snapshot at path (or, copying disks, its copies' names) must not replace the
 * machine's own images: refused, -EEXIST with the reason (a bad path: 400). */
static int path_clash(struct vm *vm, const char *path, bool copies, char *err, size_t errlen)
{
	static const char *const fmts[] = {"raw", "qcow2"};
	char name[PATH_MAX], tmp[PATH_MAX + 8];
	const char *dev = own_image(vm, path);

	/* (and the temporary names they are written under) */
	if (!dev && snprintf(tmp, sizeof(tmp), "%s.tmp", path) < (int)sizeof(tmp))
		dev = own_image(vm, tmp);
	for (unsigned k = 0; !dev && copies && k < VM_MAX_DEVICE_ARGS; k++)
		for (unsigned f = 0; !dev && f < 2; f++)
			if (!copy_name(path, k, fmts[f], name, sizeof(name))) {
				dev = own_image(vm, name);
				if (!dev &&
				    snprintf(tmp, sizeof(tmp), "%s.tmp", name) < (int)sizeof(tmp))
					dev = own_image(vm, tmp);
			}
	if (!dev)
		return 0;
	vm_errf(err, errlen,
		"%s: the snapshot%s would replace %s's image (or a backing file of it), which "
		"the machine runs on: give another path",
		path, own_image(vm, path) ? "" : "'s disk copies", dev);
	return -EEXIST;
}

int vm_snapshot(struct vm *vm, const char *path, const struct vm_snapshot_opts *o, char *err,
		size_t errlen)
{
	struct save_job j = {.vm = vm, .path = path, .o = o, .err = err, .errlen = errlen};
	bool published = false;
	int r;

	if (err && errlen)
		err[0] = 0;
	if (!vm_paused(vm))
		return -EBUSY;
	if (o->diff && !vm->snap_parent_path) {
		vm_errf(err, errlen,
			"a Diff snapshot holds what changed since this machine's last snapshot "
			"or restore, and there is none: take a Full snapshot first");
		return -ECHILD;
	}
	if (strlen(path) >= PATH_MAX || path[0] != '/') {
		vm_errf(err, errlen, "%.80s: must be an absolute path", path);
		return -EINVAL;
	}
	r = path_clash(vm, path, o->copy_disks, err, errlen);
	if (r)
		return r;
	j.pages = core_calloc(gmem_dirty_words(&vm->mem), sizeof(uint64_t));
	if (!j.pages)
		return -ENOMEM;
	new_id(j.id);
	r = snap_writer_open(path, &j.w);
	if (r) {
		vm_errf(err, errlen, "%s: cannot create it: %s", path, snap_path_error(r));
		core_free(j.pages);
		return r;
	}
	if (o->copy_disks && o->resume &&
	    !(j.live = core_calloc(VM_MAX_DEVICE_ARGS, sizeof(*j.live)))) {
		snap_writer_abort(j.w);
		core_free(j.pages);
		return -ENOMEM;
	}
	quiesce(vm);
	evloop_call(vm->loop, save_on_loop, &j);
	unquiesce(vm);
	r = j.r;
	if (!r && j.live)
		r = copy_live(&j);
	core_free(j.live);
	if (!r && o->copy_disks) {
		published = true;
		r = each_copy(path, COPIES_PUBLISH);
		if (r)
			vm_errf(err, errlen, "%s: cannot rename its disks' copies into place: %s",
				path, strerror(-r));
	}
	/* the images are frozen now, the copies at their names: what they hold goes last
	 * into the file */
	if (!r)
		r = write_disks(&j);
	if (r) {
		snap_writer_abort(j.w);
	} else {
		r = snap_writer_commit(j.w);
	}
	if (!r) {
		char *copy = core_alloc(strlen(path) + 1);
		if (copy) {
			core_free(vm->snap_parent_path);
			vm->snap_parent_path = strcpy(copy, path);
			memcpy(vm->snap_parent_id, j.id, ID_LEN);
		} else {
			r = -ENOMEM; /* the file is there, but no Diff can name it */
		}
	}
	if (r && o->copy_disks)
		each_copy(path, published ? COPIES_REMOVE : COPIES_DISCARD);
	if (r && j.log_taken) /* the next Diff still needs what the log held */
		gmem_dirty_merge(&vm->mem, j.pages);
	else if (r && j.log_started)
		gmem_dirty_stop(&vm->mem);
	core_free(j.pages);
	sbuf_fini(&j.machine);
	if (r && err && errlen && !err[0])
		vm_errf(err, errlen, "%s: cannot write it: %s", path, strerror(-r));
	if (o->resume)
		vm_resume(vm); /* (done already after a background copy) */
	return r;
}

/* ---- restore ---- */

/* A string from the MACHINE section, copied to *strp (NUL-terminated). */
static const char *get_str(struct sreader *in, char **strp, const char *end)
{
	uint16_t n = sread_u16(in);
	char *s = *strp;

	if (n > MAX_STR || (size_t)(end - s) < (size_t)n + 1) {
		sreader_fail(in);
		return NULL;
	}
	sread(in, s, n);
	s[n] = 0;
	*strp += n + 1;
	return memchr(s, 0, n) ? NULL : s; /* an embedded NUL is malformed */
}

static int parse_machine(struct vm_restore *rs, const uint8_t *p, size_t len, struct vm_config *cfg)
{
	struct sreader in;
	char *s = rs->strings, *end = rs->strings + len;
	uint32_t ndev;

	sreader_init(&in, p, len);
	if (sread_u32(&in) != MACHINE_VERSION || sread_u64(&in) != VM_RAM_BASE)
		return -EINVAL;
	cfg->ram_size = sread_u64(&in);
	cfg->nharts = sread_u32(&in);
	cfg->bare = sread_u8(&in) != 0;
	rs->time = sread_u64(&in);
	rs->tohost = sread_u64(&in);
	rs->fromhost = sread_u64(&in);
	ndev = sread_u32(&in);
	if (in.err || ndev > VM_MAX_DEVICE_ARGS || cfg->nharts < 1 || cfg->nharts > VM_MAX_HARTS)
		return -EINVAL;
	for (uint32_t i = 0; i < ndev; i++) {
		bool has;
		rs->devs[i].option = get_str(&in, &s, end);
		has = sread_u8(&in) != 0;
		rs->devs[i].args = get_str(&in, &s, end);
		if (!rs->devs[i].option || !rs->devs[i].args)
			return -EINVAL;
		if (!has)
			rs->devs[i].args = NULL;
	}
	if (in.err || in.off != len)
		return -EINVAL;
	cfg->devices = rs->devs;
	cfg->ndevices = ndev;
	return 0;
}

/* Creates one overlay and points disk option i at it. */
static int restore_overlay(struct vm_restore *rs, unsigned i, const char *ov,
			   const struct disk_create_options *co, char *err, size_t errlen)
{
	char args[PATH_MAX + 256], derr[DISK_ERR_LEN];
	int r = disk_create(ov, co, derr, sizeof(derr));

	if (r) {
		vm_errf(err, errlen, "its disk %s: %s", co->backing, derr);
		return r;
	}
	rs->overlays[i] = core_alloc(strlen(ov) + 1);
	if (!rs->overlays[i]) {
		unlink(ov);
		return -ENOMEM;
	}
	strcpy(rs->overlays[i], ov);
	r = disk_args(rs->devs[i].args, ov, "qcow2", args, sizeof(args));
	if (!r && !(rs->disk_args[i] = core_alloc(strlen(args) + 1)))
		r = -ENOMEM;
	if (!r)
		rs->devs[i].args = strcpy(rs->disk_args[i], args);
	return r;
}

unsigned vm_restore_writable_disks(const struct vm_restore *rs)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VM_MAX_DEVICE_ARGS && rs->devs[i].option; i++)
		n += writable_disk(rs, i);
	return n;
}

int vm_restore_set_disk(struct vm_restore *rs, unsigned k, const char *path, const char *format)
{
	char args[PATH_MAX + 256];
	char *copy;
	int r;

	for (unsigned i = 0; i < VM_MAX_DEVICE_ARGS && rs->devs[i].option; i++) {
		if (!writable_disk(rs, i) || k--)
			continue;
		r = disk_args(rs->devs[i].args, path, format, args, sizeof(args));
		if (r)
			return r;
		copy = core_alloc(strlen(args) + 1);
		if (!copy)
			return -ENOMEM;
		core_free(rs->disk_args[i]);
		rs->disk_args[i] = copy;
		rs->devs[i].args = strcpy(copy, args);
		rs->pinned[i] = true;
		return 0;
	}
	return -ENOENT;
}

/* The image disk `disk` (the wi-th writable one) is restored from must hold what the
 * snapshot recorded (its DISKS section): the guest's memory (its page cache, its file
 * system's state) goes with that disk, and another one under it is silent corruption.
 * Returns 0, or -ESTALE / -errno with one line in err (a missing image is left to the
 * overlay's creation to report). */
static int check_image(const struct vm_restore *rs, unsigned wi, unsigned disk, const char *img,
		       const char *fmt, bool given, char *err, size_t errlen)
{
	const struct disk_ids *want = &rs->disks[wi];
	const char *hint =
		given ? ""
		      : ", or pass --restore-disk PATH to restore onto another image on purpose";
	struct disk_ids *got = core_alloc(sizeof(*got));
	char how[96], why[DISK_ERR_LEN] = "", *bad = core_alloc(PATH_MAX);
	unsigned depth = 0;
	int r = got && bad
			? chain_ids(img, fmt ? fmt : "", got, want, bad, &depth, why, sizeof(why))
			: -ENOMEM;

	const struct disk_fingerprint *gf = got ? &got->f[depth] : NULL, *wf = &want->f[depth];
	if (r == -ENOENT && !got->n) {
		r = 0; /* a missing image: the overlay's creation says so, as it always did */
	} else if (r == -ESTALE && depth < got->n && depth < want->n && gf->size == wf->size &&
		   gf->hash == wf->hash) {
		/* the very file, its samples unchanged, another mtime: written in place or
		 * touched. The bytes may be the snapshot's again (a copy written back over
		 * it): only the user knows, so say how to vouch for them. */
		char *q = core_alloc(4 * PATH_MAX + 3);
		int64_t sec = wf->mtime_ns / 1000000000, ns = wf->mtime_ns % 1000000000;
		if (ns < 0) { /* (a time before 1970: the seconds round down) */
			sec--;
			ns += 1000000000;
		}
		if (q)
			shell_quote(bad, q);
		vm_errf(err, errlen,
			"its disk %u: %s%s%s was modified after the snapshot (the same file, its "
			"modification time is not the one recorded): the guest's memory would not "
			"match that disk if its bytes changed. If it holds the snapshot's bytes "
			"again (a copy written back over it), set its time back: touch -m -d "
			"@%lld.%09lld %s; else put back the file the snapshot was taken with%s",
			disk, bad, depth ? ", below its image " : "", depth ? img : "",
			(long long)sec, (long long)ns, q ? q : bad, hint);
		core_free(q);
	} else if (r == -ESTALE && depth == 0) {
		if (got->f[0].size != want->f[0].size)
			snprintf(how, sizeof(how), "it is %llu bytes long, it was %llu",
				 (unsigned long long)got->f[0].size,
				 (unsigned long long)want->f[0].size);
		else
			snprintf(how, sizeof(how), "the same size, other content");
		vm_errf(err, errlen,
			"its disk %u: the image %s changed since the snapshot (%s): the guest's "
			"memory would not match that disk; put back the image the snapshot was "
			"taken with%s",
			disk, img, how, hint);
	} else if (r == -ESTALE) {
		vm_errf(err, errlen,
			"its disk %u: %s, below its image %s, changed since the snapshot (or the "
			"image's chain of backing files did): the guest's memory would not match "
			"that disk; put back the files the snapshot was taken with%s",
			disk, bad, img, hint);
	} else if (r) {
		vm_errf(err, errlen, "its disk %u: %s", disk, why[0] ? why : strerror(-r));
	}
	core_free(bad);
	core_free(got);
	return r;
}

int vm_restore_check_chains(struct vm *vm, const struct vm_restore *rs,
			    const struct vm_host_allow *allow, char *err, size_t errlen)
{
	struct disk_image_info info;
	unsigned k = 0;
	int r = 0;

	for (unsigned i = 0; i < VM_MAX_DEVICE_ARGS && rs->devs[i].option && !r; i++) {
		struct device *dev;
		if (strcmp(rs->devs[i].option, "disk"))
			continue;
		dev = nth_blk(vm, k++); /* devices of a type are made in option order */
		if (rs->pinned[i] || !dev || !vblk_disk(dev))
			continue;
		/* the files as opened (their descriptors): a name swapped for a symlink
		 * since vm_restore_check_host looked at it is seen here, before the guest
		 * runs (without /proc, as in the daemon's sandbox, the names as opened) */
		for (unsigned depth = 0; !r && !disk_image_info(vblk_disk(dev), depth, &info);
		     depth++) {
			char real[PATH_MAX];
			const char *what = depth ? "backing file (its image names it)" : "image";
			if (disk_image_real_path(vblk_disk(dev), depth, real, sizeof(real)))
				snprintf(real, sizeof(real), "%s", info.path);
			r = vm_host_allow_file(allow, "disk", what, real, err, errlen);
		}
	}
	return r;
}

static int backing_allowed(void *ctx, const char *image, bool readonly, const char *backing,
			   char *err, size_t errlen)
{
	const struct vm_restore_backing *b = ctx;
	const struct vm_restore *rs = b->rs;

	/* a pinned image is a writable disk's: a read-only disk naming the same file is the
	 * stream's (refused later as the same image twice, its chain not opened before) */
	for (unsigned i = 0; !readonly && i < VM_MAX_DEVICE_ARGS && rs->devs[i].option; i++) {
		struct vblk_spec d;
		char why[256];
		if (rs->pinned[i] && !strcmp(rs->devs[i].option, "disk") &&
		    !vblk_split_spec(rs->devs[i].args, &d, why, sizeof(why)) &&
		    !strcmp(d.path, image))
			return 0; /* this host's own image: its chain is its own */
	}
	return vm_host_allow_file(b->allow, "disk", "backing file (its image names it)", backing,
				  err, errlen);
}

void vm_restore_backing_init(struct vm_restore_backing *b, const struct vm_restore *rs,
			     const struct vm_host_allow *allow)
{
	*b = (struct vm_restore_backing){.rs = rs, .allow = allow};
	b->check = (struct disk_backing_check){.fn = backing_allowed, .ctx = b};
}

int vm_restore_check_host(const struct vm_restore *rs, const struct vm_host_allow *allow, char *err,
			  size_t errlen)
{
	int r = 0;

	for (unsigned i = 0; i < VM_MAX_DEVICE_ARGS && rs->devs[i].option && !r; i++)
		if (!rs->pinned[i])
			r = vm_host_allow_check(allow, rs->devs[i].option, rs->devs[i].args, err,
						errlen);
	return r;
}

/* The ".diskN.saved.FORMAT" that ends the name of a snapshot's copy of a disk (copy_name),
 * or NULL. */
static const char *copy_suffix(const char *path)
{
	const char *sfx = NULL;
	unsigned k;
	int end = 0;

	for (const char *q = strstr(path, ".disk"); q; q = strstr(q + 1, ".disk"))
		sfx = q;
	if (!sfx)
		return NULL;
	/* (end stays 0 unless the whole pattern matched) */
	if (sscanf(sfx, ".disk%u.saved.raw%n", &k, &end) == 1 && end && !sfx[end])
		return sfx;
	end = 0;
	if (sscanf(sfx, ".disk%u.saved.qcow2%n", &k, &end) == 1 && end && !sfx[end])
		return sfx;
	return NULL;
}

/* The restored machine must not write the images the snapshot refers to (a second
 * restore needs them as they are): each writable disk gets a new overlay,
 * SNAPSHOT.diskN.restore-PID.qcow2 (in o->overlay_dir if set), with the image as its
 * backing file: the one the snapshot records, checked against what the snapshot saw,
 * or the k-th of o->disks, checked only with verify=on (its size is the device's to
 * check, as it loads). */
static int restore_overlays(struct vm_restore *rs, const char *snap,
			    const struct vm_restore_opts *o, char *err, size_t errlen)
{
	const char *base = strrchr(snap, '/') ? strrchr(snap, '/') + 1 : snap;
	unsigned k = 0, w = 0, wi = 0, nw = vm_restore_writable_disks(rs);

	if (o && o->ndisks && o->ndisks != nw) {
		vm_errf(err, errlen,
			"it has %u writable disk%s and %u --restore-disk %s given: give one per "
			"writable disk, in order",
			nw, nw == 1 ? "" : "s", o->ndisks, o->ndisks == 1 ? "was" : "were");
		return -EINVAL;
	}
	for (unsigned i = 0; i < VM_MAX_DEVICE_ARGS && rs->devs[i].option; i++) {
		struct keyval a, given;
		const char *img, *ro, *fmt, *verify = NULL;
		char ov[PATH_MAX], derr[DISK_ERR_LEN], who[PATH_MAX + 16];
		struct disk_create_options co = {.format = DISK_FMT_QCOW2};
		bool has_given = false, writable;
		unsigned disk = k;
		int r, n;

		if (strcmp(rs->devs[i].option, "disk") || !rs->devs[i].args)
			continue;
		if (keyval_parse(&a, rs->devs[i].args, derr, sizeof(derr)) < 0)
			return -EINVAL;
		img = keyval_get(&a, "", 0) ?: keyval_get(&a, "path", 0);
		ro = keyval_get(&a, "readonly", 0);
		fmt = keyval_get(&a, "format", 0);
		writable = !(ro && !strcmp(ro, "on"));
		r = 0;
		if (writable && o && o->ndisks) {
			if (keyval_parse(&given, o->disks[w], derr, sizeof(derr)) < 0) {
				vm_errf(err, errlen, "--restore-disk %s: %s", o->disks[w], derr);
				keyval_fini(&a);
				return -EINVAL;
			}
			has_given = true;
			img = keyval_get(&given, "", 0) ?: keyval_get(&given, "path", 0);
			fmt = keyval_get(&given, "format", 0) ?: fmt;
			verify = keyval_get(&given, "verify", 0);
			snprintf(who, sizeof(who), "--restore-disk %s", o->disks[w]);
			if (verify && strcmp(verify, "on") && strcmp(verify, "off")) {
				vm_errf(err, errlen, "%s: verify=%s: say on or off", who, verify);
				r = -EINVAL;
			} else if (keyval_check_unused(&given, who, derr, sizeof(derr))) {
				vm_errf(err, errlen,
					"%s (it takes PATH[,format=raw|qcow2][,verify=on])", derr);
				r = -EINVAL;
			}
			w++;
			struct stat ist; /* (stat, not access(): the guest's seccomp list) */
			if (!r && img && stat(img, &ist) < 0) {
				vm_errf(err, errlen, "--restore-disk %s: %s", o->disks[w - 1],
					strerror(errno));
				r = -ENOENT;
			}
		}
		/* a copy the snapshot made (SNAP.diskN.saved.FORMAT) not where it recorded it:
		 * the snapshot and its copies moved together (or the daemon wrote it in its
		 * guest's sandbox, /run/snapshot.tmp...): the one beside this file, if any,
		 * checked as the recorded one would be */
		char beside[PATH_MAX];
		struct stat bst;
		const char *suffix = img && !has_given ? copy_suffix(img) : NULL;
		if (suffix && writable && stat(img, &bst) < 0 &&
		    snprintf(beside, sizeof(beside), "%s%s", snap, suffix) < (int)sizeof(beside) &&
		    stat(beside, &bst) == 0) {
			log_warn("restore: its disk %u: %s is not there; the copy beside the "
				 "snapshot, %s, is taken (checked as that one would be)",
				 disk, img, beside);
			img = beside;
		}
		if (!r && (!img || (fmt && disk_format_parse(fmt, &co.backing_format) < 0)))
			r = -EINVAL;
		if (!r && writable && rs->has_disks &&
		    (!has_given || (verify && !strcmp(verify, "on"))))
			r = check_image(rs, wi, disk, img, fmt, has_given, err, errlen);
		wi += writable;
		if (!r && o && o->overlay_dir)
			n = snprintf(ov, sizeof(ov), "%s/%s.disk%u.restore-%d.qcow2",
				     o->overlay_dir, base, k++, (int)getpid());
		else
			n = snprintf(ov, sizeof(ov), "%s.disk%u.restore-%d.qcow2", snap, k++,
				     (int)getpid());
		if (!r && (n < 0 || n >= (int)sizeof(ov)))
			r = -ENAMETOOLONG;
		co.backing = img;
		if (!r && writable)
			r = restore_overlay(rs, i, ov, &co, err, errlen);
		if (r == -EINVAL && has_given && err && errlen && !err[0])
			vm_errf(err, errlen,
				"--restore-disk %s: no image path, or an unknown format",
				o->disks[w - 1]);
		if (has_given)
			keyval_fini(&given);
		keyval_fini(&a);
		if (r)
			return r;
	}
	return 0;
}

/* Reads the ID and PARENT sections that follow MACHINE (a version 1 file has neither). */
static int read_ident(struct snap_reader *rd, struct ident *out, char *err, size_t errlen)
{
	unsigned n, i = 1;
	const struct snap_section *sec = snap_sections(rd, &n);
	struct sreader in;
	uint8_t *p;
	int r;

	memset(out, 0, sizeof(*out));
	if (i < n && sec[i].type == SNAP_SEC_ID) {
		r = snap_read_section(rd, &sec[i], &p, err, errlen);
		if (r)
			return r;
		sreader_init(&in, p, (size_t)sec[i].len);
		r = sread_u32(&in) == IDENT_VERSION ? 0 : -EINVAL;
		sread(&in, out->id, ID_LEN);
		if (r || in.err || in.off != sec[i].len)
			r = -EINVAL;
		core_free(p);
		if (r) {
			vm_errf(err, errlen, "corrupt: the identity section is malformed");
			return r;
		}
		out->has_id = true;
		i++;
	}
	if (i < n && sec[i].type == SNAP_SEC_PARENT) {
		uint16_t len;
		r = snap_read_section(rd, &sec[i], &p, err, errlen);
		if (r)
			return r;
		sreader_init(&in, p, (size_t)sec[i].len);
		r = sread_u32(&in) == IDENT_VERSION && out->has_id ? 0 : -EINVAL;
		sread(&in, out->parent_id, ID_LEN);
		len = sread_u16(&in);
		if (len >= sizeof(out->parent))
			r = -EINVAL;
		else
			sread(&in, out->parent, len);
		if (r || in.err || in.off != sec[i].len || out->parent[0] != '/' ||
		    memchr(out->parent, 0, len))
			r = -EINVAL;
		core_free(p);
		if (r) {
			vm_errf(err, errlen, "corrupt: the parent section is malformed");
			return r;
		}
		out->parent[len] = 0;
		out->has_parent = true;
		i++;
	}
	out->next = i;
	return 0;
}

/* The DISKS section, the file's last (version 1 and 2 files have none: their disks are
 * not checked). */
static int read_disks(struct vm_restore *rs, char *err, size_t errlen)
{
	unsigned n;
	const struct snap_section *sec = snap_sections(rs->rd, &n);
	struct sreader in;
	uint32_t version;
	uint8_t *p;
	int r;

	if (!n || sec[n - 1].type != SNAP_SEC_DISKS)
		return 0;
	r = snap_read_section(rs->rd, &sec[n - 1], &p, err, errlen);
	if (r)
		return r;
	sreader_init(&in, p, (size_t)sec[n - 1].len);
	version = sread_u32(&in);
	r = version >= 1 && version <= DISKS_VERSION ? 0 : -EINVAL;
	rs->ndisks = sread_u32(&in);
	if (rs->ndisks != vm_restore_writable_disks(rs) || rs->ndisks > VM_MAX_DEVICE_ARGS)
		r = -EINVAL;
	for (unsigned i = 0; i < rs->ndisks && !r && !in.err; i++) {
		struct disk_ids *ids = &rs->disks[i];
		ids->n = sread_u32(&in);
		if (ids->n < 1 || ids->n > CHAIN_FILES) {
			r = -EINVAL;
			break;
		}
		for (unsigned f = 0; f < ids->n; f++) {
			ids->f[f] = (struct disk_fingerprint){0}; /* version 1: hash only */
			ids->f[f].size = sread_u64(&in);
			ids->f[f].hash = sread_u64(&in);
			if (version >= 2) {
				ids->f[f].dev = sread_u64(&in);
				ids->f[f].ino = sread_u64(&in);
				ids->f[f].gen = version >= 3 ? sread_u64(&in) : GEN_UNKNOWN;
				ids->f[f].mtime_ns = (int64_t)sread_u64(&in);
			}
		}
	}
	if (r || in.err || in.off != sec[n - 1].len) {
		vm_errf(err, errlen,
			"corrupt: the disks section is malformed (or names another number of "
			"writable disks than the machine's)");
		r = -EINVAL;
	}
	core_free(p);
	rs->has_disks = !r;
	return r;
}

/* A file's RAM section: its last, or the one before DISKS (NULL: neither). */
static const struct snap_section *ram_section(const struct snap_reader *rd)
{
	unsigned n;
	const struct snap_section *sec = snap_sections(rd, &n);

	if (n && sec[n - 1].type == SNAP_SEC_DISKS)
		n--;
	return n >= 2 && sec[n - 1].type == SNAP_SEC_RAM ? &sec[n - 1] : NULL;
}

/* Opens a Diff's parents up to the Full snapshot, each checked against the identity its
 * child recorded. */
static int open_chain(struct vm_restore *rs, char *err, size_t errlen)
{
	struct ident cur = rs->ident, up;
	const char *child = rs->path;
	char perr[256];
	int r;

	while (cur.has_parent) {
		struct snap_reader *p;
		if (rs->nchain == MAX_CHAIN) {
			vm_errf(err, errlen, "a chain of more than %d snapshots (or a loop): %s",
				MAX_CHAIN, cur.parent);
			return -EINVAL;
		}
		rs->chain_path[rs->nchain] = core_alloc(strlen(cur.parent) + 1);
		if (!rs->chain_path[rs->nchain])
			return -ENOMEM;
		strcpy(rs->chain_path[rs->nchain], cur.parent);
		r = snap_reader_open(cur.parent, &p, perr, sizeof(perr));
		if (r) {
			vm_errf(err, errlen, "its parent snapshot %s (recorded in %s): %s",
				cur.parent, child, perr);
			core_free(rs->chain_path[rs->nchain]);
			rs->chain_path[rs->nchain] = NULL;
			return r;
		}
		rs->chain[rs->nchain] = p;
		child = rs->chain_path[rs->nchain++];
		r = read_ident(p, &up, perr, sizeof(perr));
		if (r) {
			vm_errf(err, errlen, "its parent snapshot %s: %s", child, perr);
			return r;
		}
		if (!up.has_id || memcmp(up.id, cur.parent_id, ID_LEN)) {
			vm_errf(err, errlen,
				"its parent snapshot %s is not the one it was taken from (its "
				"identity differs: the file was replaced)",
				child);
			return -EINVAL;
		}
		cur = up;
	}
	return 0;
}

int vm_restore_open(const char *path, const struct vm_restore_opts *o, struct vm_config *cfg,
		    struct vm_restore **out, char *err, size_t errlen)
{
	struct vm_restore *rs = core_calloc(1, sizeof(*rs));
	const struct snap_section *sec;
	unsigned n;
	int r;

	if (!rs)
		return -ENOMEM;
	r = snap_reader_open(path, &rs->rd, err, errlen);
	if (r)
		goto fail;
	sec = snap_sections(rs->rd, &n);
	if (n && sec[0].type == SNAP_WASM_SEC_MODULE) {
		vm_errf(err, errlen,
			"a WebAssembly program's snapshot, not a system VM's: restore it with "
			"lodge wasm --restore");
		r = -EINVAL;
		goto fail;
	}
	if (!n || sec[0].type != SNAP_SEC_MACHINE) {
		vm_errf(err, errlen, "corrupt: the first section is not the machine's");
		r = -EINVAL;
		goto fail;
	}
	r = snap_read_section(rs->rd, &sec[0], &rs->machine, err, errlen);
	if (r)
		goto fail;
	rs->strings = core_alloc((size_t)sec[0].len + 1);
	if (!rs->strings) {
		r = -ENOMEM;
		goto fail;
	}
	r = parse_machine(rs, rs->machine, (size_t)sec[0].len, cfg);
	if (r) {
		vm_errf(err, errlen, "corrupt: the machine section is malformed");
		goto fail;
	}
	if (!realpath(path, rs->path)) {
		r = -errno;
		vm_errf(err, errlen, "cannot resolve its path: %s", strerror(-r));
		goto fail;
	}
	r = read_ident(rs->rd, &rs->ident, err, errlen) ?: open_chain(rs, err, errlen);
	r = r ?: read_disks(rs, err, errlen);
	if (r)
		goto fail;
	r = restore_overlays(rs, path, o, err, errlen);
	if (r) {
		if (!err || !err[0])
			vm_errf(err, errlen, "cannot set up its disks: %s", strerror(-r));
		goto fail;
	}
	*out = rs;
	return 0;
fail:
	vm_restore_close(rs);
	return r;
}

void vm_restore_close(struct vm_restore *rs)
{
	if (!rs)
		return;
	snap_reader_close(rs->rd);
	for (unsigned i = 0; i < rs->nchain; i++)
		snap_reader_close(rs->chain[i]);
	for (unsigned i = 0; i < MAX_CHAIN; i++)
		core_free(rs->chain_path[i]);
	core_free(rs->machine);
	core_free(rs->strings);
	for (unsigned i = 0; i < VM_MAX_DEVICE_ARGS; i++) {
		if (rs->overlays[i] && !rs->restored)
			unlink(rs->overlays[i]);
		core_free(rs->overlays[i]);
		core_free(rs->disk_args[i]);
	}
	core_free(rs);
}

int vm_state_load_hart(struct vm *vm, unsigned i, const uint8_t *p, size_t len, char *err,
		       size_t errlen)
{
	struct sreader in;
	int r;

	sreader_init(&in, p, len);
	r = i < vm->nharts ? hart_load(vm->harts[i], &in) : -EINVAL;
	if (!r && in.off != len)
		r = -EINVAL;
	if (r)
		vm_errf(err, errlen, "corrupt: the state of hart %u does not load", i);
	return r;
}

static int load_hart(struct vm *vm, struct vm_restore *rs, const struct snap_section *s, unsigned i,
		     char *err, size_t errlen)
{
	uint8_t *p;
	int r = snap_read_section(rs->rd, s, &p, err, errlen);

	if (r)
		return r;
	r = vm_state_load_hart(vm, i, p, (size_t)s->len, err, errlen);
	core_free(p);
	return r;
}

/* Device names are "TYPE INSTANCE"; a disk's instance is its image's name, which an
 * overlay changes, so devices match by type (and position). */
static bool same_type(const char *a, const char *b)
{
	size_t n = strcspn(a, " ");

	return n == strcspn(b, " ") && !strncmp(a, b, n);
}

int vm_state_load_device(struct device *d, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	char name[MAX_STR + 1], *np = name;
	const char *got;
	struct sreader in;
	int r;

	sreader_init(&in, p, len);
	got = get_str(&in, &np, name + sizeof(name));
	if (!got || !same_type(got, d->name)) {
		vm_errf(err, errlen, "the snapshot's device '%.64s' is not this machine's '%s'",
			got ? got : "?", d->name);
		r = -EINVAL;
	} else {
		r = d->ops->load(d, &in);
		if (!r && in.off != len)
			r = -EINVAL;
		if (r == -EMEDIUMTYPE) /* (a disk's load: its image, not the record) */
			vm_errf(err, errlen,
				"%s: its image is not the size of the disk saved with it: give an "
				"image of that size",
				d->name);
		else if (r)
			vm_errf(err, errlen, "%s: its saved state does not load (%s)", d->name,
				strerror(-r));
	}
	return r;
}

static int load_device(struct device *d, struct vm_restore *rs, const struct snap_section *s,
		       char *err, size_t errlen)
{
	uint8_t *p;
	int r = snap_read_section(rs->rd, s, &p, err, errlen);

	if (r)
		return r;
	r = vm_state_load_device(d, p, (size_t)s->len, err, errlen);
	core_free(p);
	return r;
}

/* The sections after MACHINE: harts, devices, RAM, in that order and number. RAM is
 * loaded first: a device's load may write to guest memory (vsock tells the guest its
 * connections were reset). */
/* RAM from the Full snapshot at the root of the chain, then each Diff's pages in order
 * (the Full one's RAM may be mapped: a Diff's pages then replace the mapped ones). */
static int load_ram(struct vm *vm, struct vm_restore *rs, bool lazy, char *err, size_t errlen)
{
	char perr[256];
	int r = 0;

	for (unsigned k = rs->nchain; k-- > 0 && !r;) {
		const struct snap_section *ram = ram_section(rs->chain[k]);
		if (!ram) {
			snprintf(perr, sizeof(perr),
				 "corrupt: its last section is not RAM (nor DISKS after RAM)");
			r = -EINVAL;
		} else {
			r = snap_read_ram(rs->chain[k], ram, vm->mem.ram, vm->mem.base,
					  vm->mem.size, lazy && k == rs->nchain - 1,
					  k != rs->nchain - 1, perr, sizeof(perr));
		}
		if (r)
			vm_errf(err, errlen, "its parent snapshot %s: %s", rs->chain_path[k], perr);
	}
	if (!r) /* (load_sections checked the order: there is one) */
		r = snap_read_ram(rs->rd, ram_section(rs->rd), vm->mem.ram, vm->mem.base,
				  vm->mem.size, lazy && !rs->nchain, rs->ident.has_parent, err,
				  errlen);
	return r;
}

static int load_sections(struct vm *vm, struct vm_restore *rs, bool lazy, char *err, size_t errlen)
{
	unsigned n, ndev = 0, k = rs->ident.next;
	const struct snap_section *sec = snap_sections(rs->rd, &n);
	unsigned want_n;
	int r;

	for (struct device *d = vm->devices; d; d = d->next)
		ndev++;
	want_n = k + vm->nharts + ndev + 1 + rs->has_disks;
	for (unsigned i = k; i < n; i++) {
		uint32_t want = i < k + vm->nharts	     ? SNAP_SEC_HART
				: i < k + vm->nharts + ndev  ? SNAP_SEC_DEVICE
				: i == k + vm->nharts + ndev ? SNAP_SEC_RAM
							     : SNAP_SEC_DISKS;
		if (sec[i].type != want || n != want_n) {
			vm_errf(err, errlen,
				"corrupt: sections missing or out of order (section %u of %u; this "
				"machine has %u harts and %u devices)",
				i, n, vm->nharts, ndev);
			return -EINVAL;
		}
	}
	if (n != want_n) {
		vm_errf(err, errlen, "corrupt: %u sections where %u were expected", n, want_n);
		return -EINVAL;
	}
	r = load_ram(vm, rs, lazy, err, errlen);
	for (unsigned i = 0; i < vm->nharts && !r; i++)
		r = load_hart(vm, rs, &sec[k++], i, err, errlen);
	for (struct device *d = vm->devices; d && !r; d = d->next)
		r = load_device(d, rs, &sec[k++], err, errlen);
	return r;
}

int vm_restore(struct vm *vm, struct vm_restore *rs, bool lazy, char *err, size_t errlen)
{
	int r;

	if (err && errlen)
		err[0] = 0;
	r = load_sections(vm, rs, lazy, err, errlen);
	if (r)
		return r;
	vm_restore_finish(vm, rs, rs->time);
	/* The next Diff holds what changed since this restore (a version 1 file has no
	 * identity to name). */
	if (rs->ident.has_id) {
		char *copy = core_alloc(strlen(rs->path) + 1);
		if (!copy)
			return -ENOMEM;
		core_free(vm->snap_parent_path);
		vm->snap_parent_path = strcpy(copy, rs->path);
		memcpy(vm->snap_parent_id, rs->ident.id, ID_LEN);
		gmem_dirty_start(&vm->mem);
	}
	rs->restored = true;
	return 0;
}

void vm_restore_finish(struct vm *vm, const struct vm_restore *rs, uint64_t time)
{
	vm->tohost_pa = rs->tohost;
	vm->fromhost_pa = rs->fromhost;
	if (vm->tohost_pa && vm_ram_ptr(vm, vm->tohost_pa, 8) && !(vm->tohost_pa & 7))
		vm->mem.page_flags[(vm->tohost_pa - vm->mem.base) >> 12] |= PAGE_WATCH;
	else
		vm->tohost_pa = 0;
	/* The clock goes on from the saved time: `time` = (now - start) / 100. Unsigned
	 * arithmetic keeps that right even when the host has been up for less time. */
	hart_env_clock_set(&vm->env, vm_now_ns() - time * 100, 0);
}

int vm_restore_config(const uint8_t *p, size_t len, struct vm_config *cfg, struct vm_restore **out)
{
	struct vm_restore *rs = core_calloc(1, sizeof(*rs));
	int r;

	if (!rs)
		return -ENOMEM;
	rs->machine = core_alloc(len + 1);
	rs->strings = core_alloc(len + 1);
	if (!rs->machine || !rs->strings) {
		vm_restore_close(rs);
		return -ENOMEM;
	}
	memcpy(rs->machine, p, len);
	r = parse_machine(rs, rs->machine, len, cfg);
	if (r) {
		vm_restore_close(rs);
		return r;
	}
	*out = rs;
	return 0;
}
