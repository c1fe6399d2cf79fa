/*
 * Linux's PAGEMAP_SCAN ioctl on /proc/self/pagemap (Linux 6.7) and the userfaultfd
 * features it works with, for hosts whose C library headers predate them: the kernel's
 * ABI (include/uapi/linux/fs.h and userfaultfd.h), defined here only where missing.
 */
#ifndef LODGE_CORE_PAGEMAP_H
#define LODGE_CORE_PAGEMAP_H

#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>

#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN	      _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING   (1ull << 0) /* write-protect the pages found */
#define PM_SCAN_CHECK_WPASYNC (1ull << 1) /* only in UFFD_FEATURE_WP_ASYNC ranges */
#define PAGE_IS_WRITTEN	      (1ull << 1)
#endif

#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_UNPOPULATED (1ull << 13)
#define UFFD_FEATURE_WP_ASYNC	    (1ull << 15)
#endif

#endif
