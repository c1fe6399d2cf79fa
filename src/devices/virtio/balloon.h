/*
 * virtio-balloon (virtio 1.2, 5.5): the host sets a target (num_pages) and the guest
 * gives that many 4 KiB pages back (inflate), whose host memory the device frees with
 * madvise(MADV_DONTNEED); deflate hands them back to the guest. Also: memory statistics
 * from the guest (VIRTIO_BALLOON_F_STATS_VQ) and free page reporting
 * (VIRTIO_BALLOON_F_PAGE_REPORTING), which frees the host memory behind pages the guest
 * reports free. Device type "virtio-balloon", option `--balloon [size=SIZE]`.
 */
#ifndef LODGE_DEVICES_VIRTIO_BALLOON_H
#define LODGE_DEVICES_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct board;
struct device;

/* Feature bits (5.5.3). */
#define VBALLOON_F_MUST_TELL_HOST 0
#define VBALLOON_F_STATS_VQ	  1
#define VBALLOON_F_DEFLATE_ON_OOM 2
#define VBALLOON_F_FREE_PAGE_HINT 3
#define VBALLOON_F_PAGE_POISON	  4
#define VBALLOON_F_PAGE_REPORTING 5

#define VBALLOON_PAGE_SIZE 4096u

/* Statistics tags (5.5.6.3) the device keeps: swap in/out, major/minor faults, free,
 * total, available memory, caches, hugetlb allocations/failures, and newer Linux ones
 * up to tag 15. */
#define VBALLOON_S_NR 16

struct vballoon_stats {
	uint64_t val[VBALLOON_S_NR];
	uint32_t valid;	  /* bit per tag the guest sent */
	uint64_t updates; /* how many statistics buffers arrived */
};

struct vballoon_config {
	uint64_t size;		   /* initial target in bytes (a multiple of 4 KiB) */
	unsigned stats_interval_s; /* ask the guest for fresh statistics this often (0 = never) */
	bool deflate_on_oom;	   /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
};

/* Adds a virtio-balloon to board `b`. -EINVAL with `err` filled for a target larger than
 * RAM, -ENOSPC (no virtio slot), -ENOMEM. Main thread, before the I/O loop runs. */
int vballoon_create(struct board *b, const struct vballoon_config *cfg, struct device **out,
		    char *err, size_t errlen) __attribute__((warn_unused_result));

/* Any thread: sets the target to `pages` 4 KiB pages and tells the guest (a configuration
 * change interrupt). -EINVAL when that is more than the guest's RAM. */
int vballoon_set_target(struct device *dev, uint32_t pages) __attribute__((warn_unused_result));

/* Any thread: the target and the number of pages the guest says the balloon holds. */
void vballoon_get(struct device *dev, uint32_t *target_out, uint32_t *actual_out);

/* Any thread: the last statistics the guest sent, and asks it for fresh ones (they
 * arrive later, when the guest gets to it). */
void vballoon_stats(struct device *dev, struct vballoon_stats *out);

#endif
