/*
 * Unit tests for virtio-blk (devices/virtio/blk.c) on a fake board: the test plays the
 * guest driver (tests/unit/vdriver.h) with requests as large as Linux sends them (its
 * 1280 KiB max_sectors_kb in 4 KiB pages scattered over RAM, through an indirect table),
 * on raw images and on qcow2 overlays whose writes cross clusters that must be copied
 * from the backing file, allocated whole in one batch, or waited for while another
 * request allocates them. Every byte read back is checked against the image file and a
 * model of what was written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk.h"

#include "core/evloop.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "disk/disk.h"
#include "harness.h"
#include "vdriver.h"

#define RAM	  (32ull << 20)
#define HDR_AT	  (VD_RAM_BASE + 0x200000) /* request headers, 16 bytes each */
#define STAT_AT	  (VD_RAM_BASE + 0x201000) /* status bytes */
#define IND_AT	  (VD_RAM_BASE + 0x210000) /* indirect tables, 0x4000 bytes each */
#define DATA_AT	  (VD_RAM_BASE + 0x400000) /* data pages, 8 MiB */
#define DATA_LEN  (8ull << 20)
#define SEG	  4096u
#define NSEG	  320u /* 1280 KiB: Linux's default max_sectors_kb */
#define DISK_SIZE (8ull << 20)
#define CS	  65536u /* qcow2 cluster size of the test images */

#define F_SEG_MAX  2
#define F_BLK_SIZE 6
#define F_FLUSH	   9
#define T_IN	   0
#define T_OUT	   1

static struct vdriver drv;
static struct evloop *loop;
static struct device *dev;
static char dir[64];

static int start(const char *args)
{
	const struct device_type *t = device_type_find_option("disk");
	struct board b;
	char err[300];

	if (!t || evloop_create(&loop) < 0 || vd_board(&drv, &b, loop, RAM) < 0)
		return -1;
	if (t->create(&b, args, &dev, err, sizeof(err)) < 0) {
		fprintf(stderr, "create %s: %s\n", args, err);
		return -1;
	}
	if (evloop_start(loop, "test-io") < 0)
		return -1;
	return vd_init(&drv,
		       1ull << VIRTIO_F_INDIRECT_DESC | 1ull << F_SEG_MAX | 1ull << F_BLK_SIZE |
			       1ull << F_FLUSH,
		       1) & VIRTIO_STATUS_DRIVER_OK
		       ? 0
		       : -1;
}

static void stop(void)
{
	evloop_stop(loop);
	dev->ops->destroy(dev);
	evloop_destroy(loop);
	gmem_fini(&drv.mem);
}

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *p = vd_ptr(&drv, table + 16ull * i, 16);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Guest address of data page `i` of request `slot`: scattered, never two neighbours in a
 * row (7 is prime to NSEG), so the device sees nseg separate segments. */
static uint64_t page_at(unsigned slot, unsigned i)
{
	return DATA_AT + (uint64_t)slot * (DATA_LEN / 2) + (uint64_t)((i * 7) % NSEG) * SEG;
}

/*
 * Makes request `slot` (0 or 1) available without kicking: `type` at `sector`, `nseg`
 * data pages of which the first starts `lead` bytes in and the last is `tail` bytes short
 * (so segments need not be whole pages), through an indirect table.
 */
static void post(unsigned slot, uint32_t type, uint64_t sector, unsigned nseg, uint32_t lead,
		 uint32_t tail)
{
	struct vd_queue *q = &drv.q[0];
	uint64_t hdr = HDR_AT + 16ull * slot, ind = IND_AT + 0x4000ull * slot;
	uint8_t h[16] = {0};
	uint16_t w = type == T_IN ? VIRTQ_DESC_F_WRITE : 0, head = (uint16_t)(q->next_desc % VD_QN);

	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	gmem_write(&drv.mem, hdr, h, sizeof(h));
	put_desc(ind, 0, hdr, 16, VIRTQ_DESC_F_NEXT, 1);
	for (unsigned i = 0; i < nseg; i++) {
		uint32_t len = SEG - (i == 0 ? lead : 0) - (i == nseg - 1 ? tail : 0);
		put_desc(ind, i + 1, page_at(slot, i) + (i == 0 ? lead : 0), len,
			 (uint16_t)(w | VIRTQ_DESC_F_NEXT), (uint16_t)(i + 2));
	}
	*(uint8_t *)vd_ptr(&drv, STAT_AT + slot, 1) = 0xff;
	put_desc(ind, nseg + 1, STAT_AT + slot, 1, VIRTQ_DESC_F_WRITE, 0);
	put_desc(q->desc, head, ind, 16 * (nseg + 2), VIRTQ_DESC_F_INDIRECT, 0);
	q->next_desc++;
	memcpy(vd_ptr(&drv, q->avail + 4 + 2ull * (q->avail_idx % VD_QN), 2), &head, 2);
	q->avail_idx++;
	__atomic_store_n((uint16_t *)vd_ptr(&drv, q->avail + 2, 2), q->avail_idx, __ATOMIC_RELEASE);
}

/* Data bytes of a request laid out by post(). */
static size_t req_bytes(unsigned nseg, uint32_t lead, uint32_t tail)
{
	return (size_t)nseg * SEG - lead - tail;
}

/* Copies between a flat buffer and request slot's data pages. */
static void pages_io(unsigned slot, unsigned nseg, uint32_t lead, uint32_t tail, uint8_t *buf,
		     bool to_pages)
{
	size_t done = 0;

	for (unsigned i = 0; i < nseg; i++) {
		uint32_t in = i == 0 ? lead : 0;
		uint32_t len = SEG - in - (i == nseg - 1 ? tail : 0);
		uint8_t *p = vd_ptr(&drv, page_at(slot, i) + in, len);
		if (to_pages)
			memcpy(p, buf + done, len);
		else
			memcpy(buf + done, p, len);
		done += len;
	}
}

/* Waits for `n` used entries; each must report status OK and, with `in_len`, that many
 * bytes written (data and status). */
static int wait_ok(unsigned n, uint32_t in_len)
{
	for (unsigned k = 0; k < n; k++) {
		uint32_t id, len;
		if (!vd_used(&drv, 0, 10000, &id, &len))
			return -1;
		if (in_len && len != in_len)
			return -2;
	}
	for (unsigned s = 0; s < n; s++)
		if (*(uint8_t *)vd_ptr(&drv, STAT_AT + s, 1) != 0)
			return -3;
	return vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET ? -4 : 0;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	bool ok = fd >= 0 && write(fd, buf, len) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* What the image at path (any format) holds: its whole virtual disk into buf. */
static int image_bytes(const char *path, uint8_t *buf, size_t len)
{
	struct disk *d;
	int r = disk_open(path, &(struct disk_options){.readonly = true}, &d, NULL, 0);

	if (r)
		return r;
	r = disk_pread(d, buf, len, 0);
	disk_close(d);
	return r;
}

/* The device advertises enough segments for Linux's largest requests. */
static int config_segments(void)
{
	char path[128], args[160];
	uint8_t *img = calloc(1, DISK_SIZE);
	bool ro = true;

	CHECK(img != NULL);
	snprintf(path, sizeof(path), "%s/cfg.raw", dir);
	CHECK(write_file(path, img, DISK_SIZE) == 0);
	snprintf(args, sizeof(args), "%s,format=raw", path);
	CHECK(start(args) == 0);
	CHECK(vblk_is_blk(dev, &ro) && !ro);
	CHECK(vd_rd(&drv, 0x100 + 12) >= NSEG);	       /* seg_max */
	CHECK(vd_rd(&drv, 0x100 + 8) >= SEG);	       /* size_max */
	CHECK_EQ(vd_rd(&drv, 0x100), DISK_SIZE / 512); /* capacity, low half */
	stop();
	free(img);
	return 0;
}

/* A 1280 KiB read in 320 scattered segments, starting mid-page at an odd sector. */
static int large_read_raw(void)
{
	char path[128], args[160];
	uint8_t *img = malloc(DISK_SIZE), *got = malloc(NSEG * SEG);
	const uint64_t sector = 777;
	const uint32_t lead = 512, tail = 1024;
	size_t n = req_bytes(NSEG, lead, tail);

	CHECK(img && got);
	fill(img, DISK_SIZE, 1);
	snprintf(path, sizeof(path), "%s/read.raw", dir);
	CHECK(write_file(path, img, DISK_SIZE) == 0);
	snprintf(args, sizeof(args), "%s,format=raw", path);
	CHECK(start(args) == 0);
	post(0, T_IN, sector, NSEG, lead, tail);
	vd_kick(&drv, 0);
	CHECK_EQ(wait_ok(1, (uint32_t)n + 1), 0);
	pages_io(0, NSEG, lead, tail, got, false);
	CHECK(memcmp(got, img + sector * 512, n) == 0);
	stop();
	free(img);
	free(got);
	return 0;
}

/* A 1280 KiB write in 320 segments, read back by the device and from the file. */
static int large_write_raw(void)
{
	char path[128], args[160];
	uint8_t *img = calloc(1, DISK_SIZE), *data = malloc(NSEG * SEG), *got = malloc(NSEG * SEG);
	const uint64_t sector = 4099;
	size_t n = req_bytes(NSEG, 0, 512);

	CHECK(img && data && got);
	snprintf(path, sizeof(path), "%s/write.raw", dir);
	CHECK(write_file(path, img, DISK_SIZE) == 0);
	snprintf(args, sizeof(args), "%s,format=raw", path);
	CHECK(start(args) == 0);
	fill(data, n, 2);
	pages_io(0, NSEG, 0, 512, data, true);
	post(0, T_OUT, sector, NSEG, 0, 512);
	vd_kick(&drv, 0);
	CHECK_EQ(wait_ok(1, 1), 0);
	memset(vd_ptr(&drv, DATA_AT, DATA_LEN), 0, DATA_LEN);
	post(1, T_IN, sector, NSEG, 0, 512);
	vd_kick(&drv, 0);
	CHECK_EQ(wait_ok(1, (uint32_t)n + 1), 0);
	pages_io(1, NSEG, 0, 512, got, false);
	CHECK(memcmp(got, data, n) == 0);
	stop();
	memcpy(img + sector * 512, data, n);
	free(got);
	got = malloc(DISK_SIZE);
	CHECK(got && image_bytes(path, got, DISK_SIZE) == 0);
	CHECK(memcmp(got, img, DISK_SIZE) == 0);
	free(img);
	free(data);
	free(got);
	return 0;
}

/*
 * qcow2 overlay (64 KiB clusters) on a raw backing file full of data. Two writes go in one
 * kick: A from the middle of cluster 3 over whole clusters 4..7 (new clusters, one batch)
 * to the first half of cluster 8; B over the second half of cluster 8, which A is
 * allocating (B waits for it). Cluster 3's first part and cluster 8 around the two
 * halves come from the backing file. Then one large read across all of it, the image's
 * bytes through a fresh open, and the backing file untouched.
 */
static int qcow2_overlay_writes(void)
{
	char base[128], top[128], args[160], err[300];
	uint8_t *back = malloc(DISK_SIZE), *model = malloc(DISK_SIZE), *a = malloc(NSEG * SEG);
	uint8_t *b = malloc(NSEG * SEG), *got = malloc(DISK_SIZE);
	const uint64_t a_off = 3ull * CS + CS / 2 + 4096, b_off = 8ull * CS + CS / 2;
	const unsigned a_nseg = (unsigned)((b_off - a_off) / SEG), b_nseg = CS / 2 / SEG;
	size_t an = req_bytes(a_nseg, 0, 0), bn = req_bytes(b_nseg, 0, 0);
	struct disk_create_options co = {
		.format = DISK_FMT_QCOW2, .backing = base, .backing_format = DISK_FMT_RAW};

	CHECK(back && model && a && b && got);
	CHECK(a_nseg <= NSEG && (b_off - a_off) % SEG == 0);
	fill(back, DISK_SIZE, 3);
	snprintf(base, sizeof(base), "%s/base.raw", dir);
	snprintf(top, sizeof(top), "%s/top.qcow2", dir);
	CHECK(write_file(base, back, DISK_SIZE) == 0);
	CHECK_EQ(disk_create(top, &co, err, sizeof(err)), 0);
	snprintf(args, sizeof(args), "%s,format=qcow2", top);
	CHECK(start(args) == 0);
	fill(a, an, 4);
	fill(b, bn, 5);
	pages_io(0, a_nseg, 0, 0, a, true);
	pages_io(1, b_nseg, 0, 0, b, true);
	post(0, T_OUT, a_off / 512, a_nseg, 0, 0);
	post(1, T_OUT, b_off / 512, b_nseg, 0, 0);
	vd_kick(&drv, 0);
	CHECK_EQ(wait_ok(2, 1), 0);
	memcpy(model, back, DISK_SIZE);
	memcpy(model + a_off, a, an);
	memcpy(model + b_off, b, bn);
	/* read [2 clusters, 2 + 20) back in one request */
	memset(vd_ptr(&drv, DATA_AT, DATA_LEN), 0, DATA_LEN);
	post(0, T_IN, 2ull * CS / 512, NSEG, 0, 0);
	vd_kick(&drv, 0);
	CHECK_EQ(wait_ok(1, NSEG * SEG + 1), 0);
	pages_io(0, NSEG, 0, 0, got, false);
	CHECK(memcmp(got, model + 2ull * CS, NSEG * SEG) == 0);
	stop();
	CHECK_EQ(image_bytes(top, got, DISK_SIZE), 0);
	CHECK(memcmp(got, model, DISK_SIZE) == 0);
	CHECK_EQ(image_bytes(base, got, DISK_SIZE), 0);
	CHECK(memcmp(got, back, DISK_SIZE) == 0);
	free(back);
	free(model);
	free(a);
	free(b);
	free(got);
	return 0;
}

/* Overwrites of allocated clusters and fresh ones in one request: the batch of fresh
 * clusters must end where an allocated cluster (written in place) comes between. */
static int qcow2_mixed_clusters(void)
{
	char top[128], args[160], err[300];
	uint8_t *model = calloc(1, DISK_SIZE), *d1 = malloc(NSEG * SEG), *d2 = malloc(NSEG * SEG);
	uint8_t *got = malloc(DISK_SIZE);
	struct disk_create_options co = {.format = DISK_FMT_QCOW2, .size = DISK_SIZE};
	const unsigned n1 = CS / SEG; /* one cluster */

	CHECK(model && d1 && d2 && got);
	snprintf(top, sizeof(top), "%s/mixed.qcow2", dir);
	CHECK_EQ(disk_create(top, &co, err, sizeof(err)), 0);
	snprintf(args, sizeof(args), "%s,format=qcow2", top);
	CHECK(start(args) == 0);
	/* clusters 5 and 9 allocated first (in that order: host clusters not in guest order) */
	fill(d1, 2 * CS, 6);
	pages_io(0, n1, 0, 0, d1, true);
	post(0, T_OUT, 9ull * CS / 512, n1, 0, 0);
	vd_kick(&drv, 0);
	CHECK_EQ(wait_ok(1, 1), 0);
	pages_io(0, n1, 0, 0, d1 + CS, true);
	post(0, T_OUT, 5ull * CS / 512, n1, 0, 0);
	vd_kick(&drv, 0);
	CHECK_EQ(wait_ok(1, 1), 0);
	memcpy(model + 9ull * CS, d1, CS);
	memcpy(model + 5ull * CS, d1 + CS, CS);
	/* then clusters 3..12 in one write */
	fill(d2, 10ull * CS, 7);
	pages_io(0, 10 * n1, 0, 0, d2, true);
	post(0, T_OUT, 3ull * CS / 512, 10 * n1, 0, 0);
	vd_kick(&drv, 0);
	CHECK_EQ(wait_ok(1, 1), 0);
	memcpy(model + 3ull * CS, d2, 10ull * CS);
	stop();
	CHECK_EQ(image_bytes(top, got, DISK_SIZE), 0);
	CHECK(memcmp(got, model, DISK_SIZE) == 0);
	free(model);
	free(d1);
	free(d2);
	free(got);
	return 0;
}

/* 4 KiB clusters on a backing file: a write from a partial cluster over a 2 MiB L2
 * table's edge, where a new L2 table is placed between the data clusters, so the fresh
 * clusters of one request are not all neighbours in the file. */
static int qcow2_small_clusters(void)
{
	char base[128], top[128], args[160], err[300];
	uint8_t *back = malloc(DISK_SIZE), *model = malloc(DISK_SIZE), *a = malloc(NSEG * SEG);
	uint8_t *got = malloc(DISK_SIZE);
	const uint64_t off = (3ull << 19) + 1024;
	size_t n = req_bytes(NSEG, 0, 512);
	struct disk_create_options co = {.format = DISK_FMT_QCOW2,
					 .backing = base,
					 .backing_format = DISK_FMT_RAW,
					 .cluster_bits = 12};

	CHECK(back && model && a && got);
	fill(back, DISK_SIZE, 8);
	snprintf(base, sizeof(base), "%s/base4k.raw", dir);
	snprintf(top, sizeof(top), "%s/top4k.qcow2", dir);
	CHECK(write_file(base, back, DISK_SIZE) == 0);
	CHECK_EQ(disk_create(top, &co, err, sizeof(err)), 0);
	snprintf(args, sizeof(args), "%s,format=qcow2", top);
	CHECK(start(args) == 0);
	fill(a, n, 9);
	pages_io(0, NSEG, 0, 512, a, true);
	post(0, T_OUT, off / 512, NSEG, 0, 512);
	vd_kick(&drv, 0);
	CHECK_EQ(wait_ok(1, 1), 0);
	stop();
	memcpy(model, back, DISK_SIZE);
	memcpy(model + off, a, n);
	CHECK_EQ(image_bytes(top, got, DISK_SIZE), 0);
	CHECK(memcmp(got, model, DISK_SIZE) == 0);
	free(back);
	free(model);
	free(a);
	free(got);
	return 0;
}

/*
 * A request the driver makes available while the machine is quiesced for a snapshot:
 * its notify comes then and the paused device takes nothing. The saved state holds the
 * request in the ring and no notify will come for it again on the machine that loads it
 * (restore, migration, failover): that device must look at its queue by itself.
 */
static int load_serves_request_made_while_quiesced(void)
{
	char path[128], args[160];
	uint8_t *img = malloc(DISK_SIZE), *got = malloc(SEG), *ram_copy = malloc(RAM);
	const struct device_type *t = device_type_find_option("disk");
	struct vd_queue q0;
	struct sbuf s = {0};
	struct sreader in;
	struct board b;
	char err[300];
	uint32_t id, len;

	CHECK(img && got && ram_copy && t);
	fill(img, DISK_SIZE, 7);
	snprintf(path, sizeof(path), "%s/quiesced.raw", dir);
	CHECK(write_file(path, img, DISK_SIZE) == 0);
	snprintf(args, sizeof(args), "%s,format=raw", path);
	CHECK(start(args) == 0);
	dev->ops->quiesce(dev);
	post(0, T_IN, 8, 1, 0, 0);
	vd_kick(&drv, 0);
	CHECK_EQ(vd_used(&drv, 0, 50, &id, &len), 0); /* paused: not taken */
	CHECK_EQ(dev->ops->save(dev, &s), 0);
	memcpy(ram_copy, vd_ptr(&drv, VD_RAM_BASE, RAM), RAM);
	q0 = drv.q[0];
	stop();

	/* Another machine loads the state: same RAM, same image, no notify. */
	CHECK(evloop_create(&loop) == 0 && vd_board(&drv, &b, loop, RAM) == 0);
	CHECK(t->create(&b, args, &dev, err, sizeof(err)) == 0);
	CHECK(evloop_start(loop, "test-io") == 0);
	memcpy(vd_ptr(&drv, VD_RAM_BASE, RAM), ram_copy, RAM);
	drv.q[0] = q0;
	sreader_init(&in, s.data, s.len);
	CHECK_EQ(dev->ops->load(dev, &in), 0);
	CHECK_EQ(wait_ok(1, SEG + 1), 0);
	pages_io(0, 1, 0, 0, got, false);
	CHECK(memcmp(got, img + 8 * 512, SEG) == 0);
	stop();
	sbuf_fini(&s);
	free(img);
	free(got);
	free(ram_copy);
	return 0;
}

/*
 * Layouts other than Linux's (5.2.6.4: the device must not assume one): a write whose
 * header and data share one descriptor, a write whose header is split over two, and a
 * read whose status byte sits at the end of its last data descriptor. Their data part is
 * cut out of the chain rather than taken from it whole; the bytes must land where the
 * layout says, and the status byte stays out of the data.
 */
static int unusual_layouts(void)
{
	char path[128], args[160];
	uint8_t *img = calloc(1, DISK_SIZE), want[3 * SEG], h[16] = {0}, *p;
	const uint32_t out = T_OUT, in = T_IN;
	uint64_t buf = DATA_AT, sector = 40;
	uint32_t id, len;

	CHECK(img != NULL);
	snprintf(path, sizeof(path), "%s/layout.raw", dir);
	CHECK(write_file(path, img, DISK_SIZE) == 0);
	snprintf(args, sizeof(args), "%s,format=raw", path);
	CHECK(start(args) == 0);
	fill(want, sizeof(want), 9);

	/* Write 1: [header + 1 KiB of data][3 KiB of data][status]. */
	memcpy(h, &out, 4);
	memcpy(h + 8, &sector, 8);
	p = vd_ptr(&drv, buf, 16 + SEG);
	memcpy(p, h, 16);
	memcpy(p + 16, want, 1024);
	memcpy(vd_ptr(&drv, buf + 0x10000, SEG), want + 1024, SEG - 1024);
	vd_post(&drv, 0,
		(struct vd_buf[]){{buf, 16 + 1024, false},
				  {buf + 0x10000, SEG - 1024, false},
				  {STAT_AT, 1, true}},
		3);
	vd_kick(&drv, 0);
	CHECK(vd_used(&drv, 0, 10000, &id, &len) == 1);
	CHECK_EQ(*(uint8_t *)vd_ptr(&drv, STAT_AT, 1), 0);

	/* Write 2: [first 10 header bytes][last 6 header bytes + 4 KiB of data][status]. */
	sector = 48;
	memcpy(h + 8, &sector, 8);
	memcpy(vd_ptr(&drv, buf + 0x20000, 10), h, 10);
	p = vd_ptr(&drv, buf + 0x30000, 6 + SEG);
	memcpy(p, h + 10, 6);
	memcpy(p + 6, want + SEG, SEG);
	vd_post(&drv, 0,
		(struct vd_buf[]){{buf + 0x20000, 10, false},
				  {buf + 0x30000, 6 + SEG, false},
				  {STAT_AT + 1, 1, true}},
		3);
	vd_kick(&drv, 0);
	CHECK(vd_used(&drv, 0, 10000, &id, &len) == 1);
	CHECK_EQ(*(uint8_t *)vd_ptr(&drv, STAT_AT + 1, 1), 0);

	/* Read both back: [header][2 KiB][6 KiB + status]. */
	sector = 40;
	memcpy(h, &in, 4);
	memcpy(h + 8, &sector, 8);
	memcpy(vd_ptr(&drv, HDR_AT, 16), h, 16);
	memset(vd_ptr(&drv, buf + 0x40000, 0x10000), 0xee, 0x10000);
	vd_post(&drv, 0,
		(struct vd_buf[]){{HDR_AT, 16, false},
				  {buf + 0x40000, 2048, true},
				  {buf + 0x48000, 2 * SEG - 2048 + 1, true}},
		3);
	vd_kick(&drv, 0);
	CHECK(vd_used(&drv, 0, 10000, &id, &len) == 1);
	CHECK_EQ(len, 2 * SEG + 1);
	CHECK_EQ(*(uint8_t *)vd_ptr(&drv, buf + 0x48000 + 2 * SEG - 2048, 1), 0); /* status */
	CHECK(memcmp(vd_ptr(&drv, buf + 0x40000, 2048), want, 2048) == 0);
	CHECK(memcmp(vd_ptr(&drv, buf + 0x48000, 2 * SEG - 2048), want + 2048, 2 * SEG - 2048) ==
	      0);
	stop();
	CHECK(image_bytes(path, img, DISK_SIZE) == 0);
	CHECK(memcmp(img + 40 * 512, want, 2 * SEG) == 0);
	free(img);
	return 0;
}

static void io_thread_idle(void *opaque)
{
	(void)opaque;
}

/*
 * Requests that finish together reach the driver together: six reads past the disk's end
 * (each ends at once with IOERR) made available with one kick are published with one
 * used-index update and one interrupt, not one of each per request, so the guest runs
 * its interrupt path and its completion handler once (without EVENT_IDX every used-index
 * update interrupts).
 */
static int completions_batched(void)
{
	char path[128], args[160];
	uint8_t *img = calloc(1, DISK_SIZE);
	struct vd_queue *q = &drv.q[0];
	uint32_t id, len;
	unsigned before;

	CHECK(img);
	snprintf(path, sizeof(path), "%s/batch.raw", dir);
	CHECK(write_file(path, img, DISK_SIZE) == 0);
	free(img);
	snprintf(args, sizeof(args), "%s,format=raw", path);
	CHECK(start(args) == 0);
	before = __atomic_load_n(&drv.irq_raised, __ATOMIC_ACQUIRE);
	for (unsigned s = 0; s < 6; s++)
		post(s, T_IN, DISK_SIZE / 512, 1, 0, 0);
	vd_kick(&drv, 0);
	VD_WAIT(vd_ld16(&drv, q->used + 2) != q->used_seen, 10000);
	CHECK_EQ(vd_ld16(&drv, q->used + 2), 6); /* all six at once */
	for (unsigned s = 0; s < 6; s++) {
		CHECK_EQ(vd_used(&drv, 0, 0, &id, &len), 1);
		CHECK_EQ(len, 1);				       /* the status byte only */
		CHECK_EQ(*(uint8_t *)vd_ptr(&drv, STAT_AT + s, 1), 1); /* IOERR */
	}
	evloop_call(loop, io_thread_idle, NULL); /* the notification has been served */
	CHECK_EQ(__atomic_load_n(&drv.irq_raised, __ATOMIC_ACQUIRE) - before, 1);
	stop();
	return 0;
}

/* A --disk spec split for the daemon: the path (bare, path=, ',,' undone) and the
 * options after it, escaped again; what --disk refuses is refused. */
static int split_spec(void)
{
	struct vblk_spec d;
	char err[256];

	CHECK_EQ(vblk_split_spec("/a/b.img", &d, err, sizeof(err)), 0);
	CHECK(!strcmp(d.path, "/a/b.img") && !d.opts[0] && !d.readonly && !d.bps && !d.iops);
	CHECK_EQ(vblk_split_spec("path=/a,,b=c.img,readonly=on,serial=x,,y,iops=5", &d, err,
				 sizeof(err)),
		 0);
	CHECK(!strcmp(d.path, "/a,b=c.img"));
	CHECK(!strcmp(d.opts, ",readonly=on,serial=x,,y,iops=5"));
	CHECK(d.readonly && d.iops && !d.bps);
	CHECK_EQ(vblk_split_spec("/a.img,bps=1M,format=qcow2", &d, err, sizeof(err)), 0);
	CHECK(!strcmp(d.opts, ",bps=1M,format=qcow2") && d.bps && !d.iops && !d.readonly);
	CHECK_EQ(vblk_split_spec("/a.img,bps=0", &d, err, sizeof(err)), 0);
	CHECK(d.bps && !d.iops); /* given, if 0: another bps= would repeat the key */
	CHECK_EQ(vblk_split_spec("/a.img,bogus=1", &d, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bogus") != NULL);
	CHECK_EQ(vblk_split_spec("/a,b.img", &d, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "written twice") != NULL);
	CHECK_EQ(vblk_split_spec("/a.img,burst=4", &d, err, sizeof(err)), -EINVAL);
	CHECK_EQ(vblk_split_spec("", &d, err, sizeof(err)), -EINVAL);
	return 0;
}

static const struct unit_test tests[] = {
	{"completions_batched", completions_batched},
	{"config_segments", config_segments},
	{"large_read_raw", large_read_raw},
	{"large_write_raw", large_write_raw},
	{"qcow2_overlay_writes", qcow2_overlay_writes},
	{"qcow2_mixed_clusters", qcow2_mixed_clusters},
	{"qcow2_small_clusters", qcow2_small_clusters},
	{"load_serves_request_made_while_quiesced", load_serves_request_made_while_quiesced},
	{"unusual_layouts", unusual_layouts},
	{"split_spec", split_spec},
};

int main(void)
{
	int r;
	char cmd[96];

	snprintf(dir, sizeof(dir), "/tmp/lodge-test-vblk.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	r = unit_run("vblk", tests, ARRAY_SIZE(tests));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_vblk: could not remove %s\n", dir);
	return r;
}
