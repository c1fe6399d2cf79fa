/*
 * virtio-blk (virtio 1.2, 5.2) in front of a disk image (disk/disk.h): `--disk PATH,...`.
 * What a machine snapshot needs of it (machine/snapshot.c): moving a quiesced device onto
 * a new qcow2 overlay whose backing file is the image it used, so that the image stays as
 * the snapshot recorded it.
 */
#ifndef LODGE_DEVICES_VIRTIO_BLK_H
#define LODGE_DEVICES_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct device;
struct disk;

/* True when `dev` is a virtio-blk device; *readonly_out then says whether it was opened
 * read-only. */
bool vblk_is_blk(const struct device *dev, bool *readonly_out);

/* The image of a virtio-blk device (NULL for another device), for replication's
 * written blocks (machine/replicate.c). Only on the machine's I/O thread, or before the
 * machine runs. */
struct disk *vblk_disk(struct device *dev);

/* I/O thread (or no loop running), the device quiesced: closes the image (its metadata
 * written and synced), creates `overlay` (qcow2, backing file `backing`: the image's
 * absolute path, of format `backing_format`: "raw", "qcow2" or NULL to probe) and
 * continues on it. On failure the device goes back to `backing` itself and -errno is
 * returned with one line in err; an `overlay` that existed already is left as it was
 * (-EEXIST). */
int vblk_switch_overlay(struct device *dev, const char *overlay, const char *backing,
			const char *backing_format, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* I/O thread (or no loop running), the device quiesced: continues on the image `path`
 * (format "raw", "qcow2" or NULL to probe) instead of the one it is on: a snapshot that
 * copied the images while the machine ran on overlays goes back to them once it merged
 * the overlays' writes into them (machine/snapshot.c). The size must be the device's.
 * On failure the device stays on the image it had and -errno is returned with one line
 * in err. */
int vblk_switch_image(struct device *dev, const char *path, const char *format, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

/* Live migration (machine/migrate.c). vblk_release: I/O thread (or no loop running), the
 * device quiesced: closes the image (metadata written and synced, its locks released),
 * so that another process may open it; the machine must not run until vblk_attach.
 * vblk_attach opens the image again, or for the first time on a machine created with
 * board.defer_disks (a writable disk is then created closed); its size must be the one
 * the device had. Returns 0 or -errno with one line in err. */
void vblk_release(struct device *dev);
int vblk_attach(struct device *dev, char *err, size_t errlen) __attribute__((warn_unused_result));
/* I/O thread, the machine running or not: reads [off, off + len) of the image (the
 * pre-copy of its blocks). Returns 0 or -errno (-EBADF: released). */
int vblk_read(struct device *dev, void *buf, size_t len, uint64_t off)
	__attribute__((warn_unused_result));
/* The image's path as --disk named it. */
const char *vblk_path(const struct device *dev);

/* The data bytes the guest's completed reads and writes moved since the device was made
 * (GET /vm's stats); false when dev is no virtio-blk device. Any thread. */
bool vblk_io_bytes(const struct device *dev, uint64_t *read_out, uint64_t *written_out);

/* A --disk spec (PATH[,format=...][,readonly=on][,serial=...][,bps=N]...), checked as
 * the device checks it (keys, values, limits; the file is not opened): its image's path,
 * and the options after it (",KEY=VALUE...", values escaped) for a spec with another
 * path in front (the daemon's guests see their images at the sandbox's paths). Returns 0
 * or -errno with one line in err. */
struct vblk_spec {
	char path[4096];
	char opts[512];
	bool readonly;	/* readonly=on */
	bool format;	/* format= given */
	bool qcow2;	/* format=qcow2 given */
	bool bps, iops; /* a bps= or iops= of its own (0 too) */
};
int vblk_split_spec(const char *spec, struct vblk_spec *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
