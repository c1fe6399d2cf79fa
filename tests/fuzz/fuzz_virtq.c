/*
 * libFuzzer target: the virtio devices and their split-virtqueue walker driven by a
 * hostile driver. Every registered virtio device type (virtio-rng, -blk, -vsock, -balloon
 * now; others as they register, each with a harmless backend from `backends` below) sits
 * on a fake board whose guest RAM is a small heap block, so ASan reports any host access
 * outside it. The input is a program for a driver: register accesses of any width and
 * offset, bytes written into RAM, descriptors, ring entries, queue set-ups, notifies,
 * resets, snapshots and hostile restores (a device's saved state with bytes changed or
 * cut, as a crafted snapshot file or migration stream would hold it); a notify is served
 * at once by running the I/O loop on this thread (until the disk answered), or by one
 * turn of it only.
 *
 * After every operation the transport's invariants are checked (abort on violation):
 *   - the interrupt line is high exactly when InterruptStatus is non-zero;
 *   - a queue never holds more chains than its size (chains taken minus used <= num),
 *     and the used index never runs ahead of the chains taken;
 *   - nothing is taken from a queue before DRIVER_OK or while DEVICE_NEEDS_RESET is set;
 *   - a reset (status 0) returns status, queues and interrupt status to zero;
 *   - devices that complete every request soon (rng, blk) have nothing in flight once
 *     the loop has settled, unless they set DEVICE_NEEDS_RESET;
 *   - a device's saved state loads back (after a reset too) and saves to the same bytes;
 *   - a hostile state is refused or taken without a sanitizer report (the queue counts of
 *     a device running on one are not checked until its next reset).
 * Input format: see the OP_* list; readers return zeros once the input is used up.
 * FUZZ_VIRTQ_TRACE=1 in the environment prints each operation and the device's state
 * (for reading a crashing input with the replay driver).
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "devices/device.h"
#include "devices/virtio/virtio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_BASE  0x80000000ull
#define RAM_SIZE  (64ull << 10)
#define SLOT_BASE 0x10001000ull
#define MAX_DEVS  16

/* Arguments for device types that need a backend; types not listed get none. A type
 * whose creation fails is left out (with a note on stderr). "@DISK@" stands for a scratch
 * raw image in a temporary directory, "@DIR@" for that directory. virtio-net is not
 * listed: its user-mode backend would open host connections for the fuzzer's packets. */
static const struct {
	const char *type, *args;
	/* every chain it takes is used again soon (rng: at once; blk: when the disk
	 * answers), so a running device has none in flight once the loop has settled;
	 * others (vsock's rx queue) keep buffers until they have something to put there */
	bool settles;
} backends[] = {
	{"virtio-rng", NULL, true},
	{"virtio-blk", "@DISK@", true},
	{"virtio-vsock", "3,@DIR@/vsock", false},
	{"virtio-balloon", "", false},
};

struct fdev {
	struct device *dev;
	struct virtio_dev *vd;
	bool settles;
	bool level; /* the interrupt line as the device last drove it */
	/* per queue: chains taken and not yet used, as seen from outside */
	uint16_t last_avail[VIRTIO_MAX_QUEUES], used_idx[VIRTIO_MAX_QUEUES];
	long inflight[VIRTIO_MAX_QUEUES];
	bool tracked[VIRTIO_MAX_QUEUES];
	/* it runs on a hostile state (op_load_hostile) until its next reset: its queues'
	 * counts of chains in flight are not known, so they are not checked */
	bool loose;
};

static struct {
	bool ready;
	struct gmem mem;
	struct bus bus;
	struct evloop *loop;
	struct evloop_timer *quit_timer;
	struct board board;
	unsigned nslots;
	struct fdev devs[MAX_DEVS];
	unsigned ndevs;
	char dir[64];
	bool trace;
	bool settled;		 /* the last operation ended with drain() */
	struct fdev *just_reset; /* the operation ended with a reset of this device */
	bool notified;		 /* a queue was notified in this input: requests may be at the disk */
} F;

/* ---- the fake board ---- */

static void slot_irq(void *opaque, unsigned n, bool level)
{
	(void)opaque;
	if (n < MAX_DEVS)
		F.devs[n].level = level;
}

static void no_irq(void *opaque, unsigned n, bool level)
{
	(void)opaque;
	(void)n;
	(void)level;
}

static int fake_slot(struct board *b, uint64_t *base, struct irq_line *line, unsigned *irq)
{
	(void)b;
	if (F.nslots == MAX_DEVS)
		return -ENOSPC;
	*base = SLOT_BASE + 0x1000ull * F.nslots;
	*line = (struct irq_line){.fn = slot_irq, .n = F.nslots};
	*irq = 1 + F.nslots++;
	return 0;
}

static struct irq_line fake_plic_line(struct board *b, unsigned n)
{
	(void)b;
	return (struct irq_line){.fn = no_irq, .n = n};
}

static struct irq_line fake_hart_line(struct board *b, unsigned hart, unsigned irq)
{
	(void)b;
	(void)hart;
	return (struct irq_line){.fn = no_irq, .n = irq};
}

static void fake_timecmp(struct board *b, unsigned hart, uint64_t cmp)
{
	(void)b;
	(void)hart;
	(void)cmp;
}

static uint64_t fake_time(struct board *b)
{
	(void)b;
	return evloop_now_ns() / 100;
}

static void fake_power(struct board *b, bool reboot, int code)
{
	(void)b;
	(void)reboot;
	(void)code;
}

static void quit_fn(void *opaque)
{
	evloop_quit(opaque);
}

/* Guest RAM on the heap (not gmem_init's mmap), so ASan's redzones surround it. It is
 * cleared before each input. */
static void ram_init(void)
{
	uint64_t pages = RAM_SIZE >> GMEM_PAGE_SHIFT;

	/* page-aligned, as a real mapping (virtio-balloon discards whole pages of it) */
	F.mem.ram = aligned_alloc(GMEM_PAGE_SIZE, RAM_SIZE);
	F.mem.base = RAM_BASE;
	F.mem.size = RAM_SIZE;
	F.mem.page_flags = calloc(pages, 1);
	F.mem.page_gen = calloc(pages, sizeof(uint32_t));
	F.mem.dirty = calloc((pages + 63) / 64, sizeof(uint64_t));
	F.mem.dirty_log = true;
	if (!F.mem.ram || !F.mem.page_flags || !F.mem.page_gen || !F.mem.dirty)
		abort();
}

static void expand(const char *in, char *out, size_t len)
{
	const char *disk = strstr(in, "@DISK@"), *dir = strstr(in, "@DIR@");

	if (disk)
		snprintf(out, len, "%.*s%s/disk.img%s", (int)(disk - in), in, F.dir, disk + 6);
	else if (dir)
		snprintf(out, len, "%.*s%s%s", (int)(dir - in), in, F.dir, dir + 5);
	else
		snprintf(out, len, "%s", in);
}

/* The transport of the device just created: the bus region at its slot. */
static struct virtio_dev *find_transport(uint64_t base)
{
	for (unsigned i = 0; i < F.bus.n; i++)
		if (F.bus.regions[i].base == base)
			return F.bus.regions[i].opaque;
	return NULL;
}

static void create_one(const struct device_type *t)
{
	char args[256], err[256] = "";
	const char *a = NULL;
	bool settles = false;
	struct device *dev;
	unsigned slot = F.nslots;

	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i].type, t->name)) {
			settles = backends[i].settles;
			if (backends[i].args) {
				expand(backends[i].args, args, sizeof(args));
				a = args;
			}
		}
	if (t->create(&F.board, a, &dev, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_virtq: %s left out: %s\n", t->name, err);
		return;
	}
	if (F.nslots != slot + 1) {
		dev->ops->destroy(dev); /* not a virtio device */
		return;
	}
	F.devs[F.ndevs] = (struct fdev){
		.dev = dev, .vd = find_transport(SLOT_BASE + 0x1000ull * slot), .settles = settles};
	if (!F.devs[F.ndevs].vd)
		abort();
	F.ndevs++;
}

/* At exit: the devices, the loop and RAM go, then the scratch directory and whatever the
 * backends made there (the disk image, vsock's unix socket). */
static void cleanup(void)
{
	DIR *dir;
	struct dirent *e;

	/* destroy waits for requests still at the disk */
	for (unsigned i = 0; i < F.ndevs; i++)
		F.devs[i].dev->ops->destroy(F.devs[i].dev);
	evloop_destroy(F.loop);
	free(F.mem.ram);
	free(F.mem.page_flags);
	free(F.mem.page_gen);
	free(F.mem.dirty);
	dir = opendir(F.dir);

	while (dir && (e = readdir(dir))) {
		char path[sizeof(F.dir) + sizeof(e->d_name) + 1];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", F.dir, e->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rmdir(F.dir);
}

/* A 1 MiB scratch image for block devices: it must keep its size whatever the driver
 * asks (writes stay inside it). */
#define DISK_SIZE (1ull << 20)

static void make_disk(void)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/disk.img", F.dir);
	f = fopen(path, "w");
	if (!f || ftruncate(fileno(f), DISK_SIZE) < 0)
		abort();
	fclose(f);
}

static void setup(void)
{
	unsigned n;
	const struct device_type *const *types = device_types(&n);

	log_set_level(LOG_ERR); /* "device needs reset" lines would flood the output */
	/* tmpfs when there is one: blk flushes are fsyncs of the scratch image */
	snprintf(F.dir, sizeof(F.dir), "%s/fuzz_virtq.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(F.dir))
		abort();
	atexit(cleanup);
	make_disk();
	ram_init();
	if (evloop_create(&F.loop) < 0 ||
	    evloop_timer_add(F.loop, quit_fn, F.loop, &F.quit_timer) < 0)
		abort();
	F.board = (struct board){.bus = &F.bus,
				 .mem = &F.mem,
				 .loop = F.loop,
				 .nharts = 1,
				 .virtio_slot = fake_slot,
				 .plic_line = fake_plic_line,
				 .hart_line = fake_hart_line,
				 .hart_set_timecmp = fake_timecmp,
				 .time = fake_time,
				 .power = fake_power};
	for (unsigned i = 0; i < n && F.ndevs < MAX_DEVS; i++)
		if (!strncmp(types[i]->name, "virtio-", 7))
			create_one(types[i]);
	if (!F.ndevs) {
		fprintf(stderr, "fuzz_virtq: no virtio device type registered\n");
		abort();
	}
	F.ready = true;
}

/* Block devices write only inside their disk: the image keeps its size. */
static void check_disk(void)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/disk.img", F.dir);
	if (stat(path, &st) < 0 || (uint64_t)st.st_size != DISK_SIZE) {
		fprintf(stderr, "fuzz_virtq: the scratch disk changed size\n");
		abort();
	}
}

/* One turn of the I/O loop on this thread, waiting at most `wait_ns` for something. */
static void turn(uint64_t wait_ns)
{
	evloop_timer_arm(F.quit_timer, evloop_now_ns() + wait_ns);
	evloop_run(F.loop);
}

/* A running device that settles still has chains in flight (at the disk). */
static bool unsettled(void)
{
	for (unsigned i = 0; i < F.ndevs; i++) {
		struct virtio_dev *v = F.devs[i].vd;
		bool busy = false;
		if (!F.devs[i].settles)
			continue;
		pthread_mutex_lock(&v->lock);
		for (unsigned q = 0; q < v->nqueues && virtio_dev_running(v); q++)
			busy |= v->vq[q].ready && v->vq[q].last_avail != v->vq[q].used_idx;
		pthread_mutex_unlock(&v->lock);
		if (busy)
			return true;
	}
	return false;
}

/* Runs the I/O loop on this thread until it has nothing more to do right now: queue
 * notifications are served, what their callbacks asked for next (a second turn), and
 * requests at the disk complete (waited for up to a second). */
static void drain(void)
{
	uint64_t end = evloop_now_ns() + 1000000000ull;

	turn(0);
	turn(0);
	while (unsettled() && evloop_now_ns() < end)
		turn(100000);
	F.settled = true;
}

/* After an input: every request still at the disk (of a device that broke meanwhile,
 * which drain() does not wait for, or that was reset with requests at the disk: its
 * queues then show none) completes, so none is left for the next input, and none looks
 * leaked (the kernel's io_uring ring, which LeakSanitizer does not scan, is all that
 * points to it: a 30-minute run reported a request sent just before a reset so). */
static void quiesce_all(void)
{
	bool taken = F.notified; /* some chain may have been taken: it may be at the disk */

	for (unsigned i = 0; i < F.ndevs; i++)
		for (unsigned q = 0; q < F.devs[i].vd->nqueues && F.devs[i].dev->ops->quiesce; q++)
			taken |= F.devs[i].vd->vq[q].ready &&
				 F.devs[i].vd->vq[q].last_avail != F.devs[i].vd->vq[q].used_idx;
	if (!taken)
		return; /* and no thread to start */
	if (evloop_start(F.loop, "fuzz-io") < 0)
		abort();
	for (unsigned i = 0; i < F.ndevs; i++)
		if (F.devs[i].dev->ops->quiesce)
			F.devs[i].dev->ops->quiesce(F.devs[i].dev);
	evloop_stop(F.loop);
	for (unsigned i = 0; i < F.ndevs; i++)
		if (F.devs[i].dev->ops->resume)
			F.devs[i].dev->ops->resume(F.devs[i].dev);
}

/* ---- the input ---- */

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t get(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->n--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

#define get8(in)  ((uint8_t)get(in, 1))
#define get16(in) ((uint16_t)get(in, 2))
#define get32(in) ((uint32_t)get(in, 4))
#define get64(in) get(in, 8)

/* A guest physical address: mostly inside RAM, sometimes near its end, at places a
 * hostile driver likes (0, MMIO, the top of the address space), or anything. */
static uint64_t get_addr(struct input *in)
{
	static const uint64_t odd[] = {
		0,
		0x100000,
		0x2000000,
		0xc000000,
		0x10000000,
		SLOT_BASE,
		RAM_BASE - 16,
		RAM_BASE + RAM_SIZE,
		~0ull - 15,
		~0ull,
		1ull << 63,
		RAM_BASE + RAM_SIZE - 1,
		RAM_BASE - 1,
	};
	uint8_t mode = get8(in);

	switch (mode % 8) {
	case 5:
		return RAM_BASE + RAM_SIZE - get8(in);
	case 6:
		return odd[get8(in) % (sizeof(odd) / sizeof(odd[0]))];
	case 7:
		return get64(in);
	default:
		return RAM_BASE + get16(in) % RAM_SIZE;
	}
}

static uint32_t get_len(struct input *in)
{
	uint8_t mode = get8(in);

	switch (mode % 8) {
	case 4:
		return get16(in); /* up to all of RAM */
	case 5:
		return 0;
	case 6:
		return 0xffffffffu - get8(in);
	case 7:
		return get32(in);
	default:
		return get16(in) % 4096;
	}
}

static uint32_t get_qsize(struct input *in)
{
	static const uint32_t sizes[] = {1, 2, 4, 8, 16, 64, 128, 256, 0, 3, 1000, 32768, 65536};
	uint8_t mode = get8(in);

	return mode < 0xf0 ? sizes[mode % (sizeof(sizes) / sizeof(sizes[0]))] : get32(in);
}

/* ---- the driver's actions ---- */

static struct fdev *cur;

static uint64_t mmio_read(uint64_t off, unsigned size)
{
	uint64_t v = 0;

	if (bus_read(&F.bus, cur->vd->base + off, size, &v) < 0)
		abort(); /* the whole window is the device's */
	return v;
}

static void mmio_write(uint64_t off, unsigned size, uint64_t val)
{
	if (off < 0x050 + 4 && off + size > 0x050) /* QueueNotify */
		F.notified = true;
	if (bus_write(&F.bus, cur->vd->base + off, size, val) < 0)
		abort();
}

static void wr32(uint64_t off, uint32_t val)
{
	mmio_write(off, 4, val);
}

static void ram_write(uint64_t gpa, const void *src, size_t len)
{
	uint8_t *p = gmem_ptr(&F.mem, gpa, len);

	if (p)
		memcpy(p, src, len);
}

static void put_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	ram_write(table + 16ull * i, d, sizeof(d));
}

enum {
	OP_DEVICE,    /* u8 DeviceID (or index): the device the next operations drive */
	OP_WRITE32,   /* u8 reg/4, u32 value */
	OP_WRITE,     /* u16 offset, u8 width (1 << n), u64 value: any access */
	OP_READ,      /* u16 offset, u8 width */
	OP_RAM,	      /* addr, u8 n, n bytes */
	OP_DESC,      /* u8 queue, u16 index, addr, len, u8 flags, u16 next: in its table */
	OP_IND_DESC,  /* addr of a table, u16 index, addr, len, u8 flags, u16 next */
	OP_QUEUE,     /* u8 queue, size, 3 addr, u8 ready: a queue set-up */
	OP_HANDSHAKE, /* u8 steps, u64 features */
	OP_OFFER,     /* u8 queue, u16 head, u8 count: avail ring entries and idx */
	OP_AVAIL_IDX, /* u8 queue, u16 idx, u16 flags, u16 used_event */
	OP_NOTIFY,    /* u8 queue (>= 0xf0: u32 raw; 0x40..0xef: one loop turn only) */
	OP_RESET,     /* status 0 */
	OP_ACK,	      /* u32 bits */
	OP_RESET_MID, /* u8 queue: notify and reset before the I/O loop runs */
	OP_CONFIG,    /* u16 offset, u8 width, u8 write, u64 value: config space */
	OP_SNAPSHOT,  /* u8 mode: save the device, maybe reset it (bit 0), load it back; mode
		       * 0xf0-0xff: a hostile restore instead (op_load_hostile) */
	OP_COUNT,
};

/* The device's own state of queue q (the harness is the driver and the only thread). */
static struct virtq *vq(unsigned q)
{
	return &cur->vd->vq[q % cur->vd->nqueues];
}

static void op_queue(struct input *in)
{
	uint8_t sel = get8(in);
	uint32_t qsel = sel >= 0xf0 ? get32(in) : sel % VIRTIO_MAX_QUEUES;
	uint32_t num = get_qsize(in);
	uint64_t desc = get_addr(in), avail = get_addr(in), used = get_addr(in);
	uint8_t ready = get8(in);

	wr32(0x030, qsel);
	wr32(0x038, num);
	wr32(0x080, (uint32_t)desc);
	wr32(0x084, (uint32_t)(desc >> 32));
	wr32(0x090, (uint32_t)avail);
	wr32(0x094, (uint32_t)(avail >> 32));
	wr32(0x0a0, (uint32_t)used);
	wr32(0x0a4, (uint32_t)(used >> 32));
	if (ready < 0xe0)
		wr32(0x044, 1);
	else if (ready < 0xf0)
		wr32(0x044, 0);
}

/* Status steps: bit 0 ACK, 1 DRIVER, 2 write features, 3 FEATURES_OK, 4 DRIVER_OK,
 * 5 reset first, 6 offered features only. */
static void op_handshake(struct input *in)
{
	uint8_t steps = get8(in);
	uint64_t feat = get64(in);
	uint32_t st = 0;

	if (steps & 0x20)
		wr32(0x070, 0);
	if (steps & 0x40) {
		uint64_t offered;
		wr32(0x014, 0);
		offered = mmio_read(0x010, 4);
		wr32(0x014, 1);
		offered |= mmio_read(0x010, 4) << 32;
		feat &= offered;
		feat |= 1ull << VIRTIO_F_VERSION_1;
	}
	if (steps & 1)
		wr32(0x070, st |= VIRTIO_STATUS_ACKNOWLEDGE);
	if (steps & 2)
		wr32(0x070, st |= VIRTIO_STATUS_DRIVER);
	if (steps & 4) {
		wr32(0x024, 0);
		wr32(0x020, (uint32_t)feat);
		wr32(0x024, 1);
		wr32(0x020, (uint32_t)(feat >> 32));
	}
	if (steps & 8)
		wr32(0x070, st |= VIRTIO_STATUS_FEATURES_OK);
	if (steps & 16)
		wr32(0x070, st |= VIRTIO_STATUS_DRIVER_OK);
}

static void op_desc(struct input *in, bool indirect)
{
	uint64_t table = indirect ? get_addr(in) & ~15ull : vq(get8(in))->desc_gpa;
	uint16_t i = get16(in);
	uint64_t addr = get_addr(in);
	uint32_t len = get_len(in);
	uint8_t flags = get8(in);
	uint16_t next = get16(in);

	put_desc(table, i, addr, len, flags & 7, next);
}

/* Makes `count` chains with heads from `head` on available (indexes wrap: a count beyond
 * the queue size makes the idx jump past what the ring holds). */
static void op_offer(struct input *in)
{
	struct virtq *q = vq(get8(in));
	uint16_t head = get16(in), count = get8(in), idx;
	uint32_t num = q->num && q->num <= VIRTQ_MAX_SIZE ? q->num : 1;
	uint8_t *p = gmem_ptr(&F.mem, q->avail_gpa, 6 + 2ull * num);

	if (!p)
		return;
	memcpy(&idx, p + 2, 2);
	for (uint16_t i = 0; i < count && i < num; i++) {
		uint16_t h = (uint16_t)(head + i);
		memcpy(p + 4 + 2 * ((idx + i) % num), &h, 2);
	}
	idx = (uint16_t)(idx + count);
	memcpy(p + 2, &idx, 2);
}

static void op_avail_idx(struct input *in)
{
	struct virtq *q = vq(get8(in));
	uint16_t idx = get16(in), flags = get16(in), ev = get16(in);
	uint32_t num = q->num && q->num <= VIRTQ_MAX_SIZE ? q->num : 1;

	ram_write(q->avail_gpa, &flags, 2);
	ram_write(q->avail_gpa + 2, &idx, 2);
	if (gmem_ptr(&F.mem, q->avail_gpa, 6 + 2ull * num))
		ram_write(q->avail_gpa + 4 + 2ull * num, &ev, 2);
}

static void op_notify(struct input *in, bool reset_mid)
{
	uint8_t q = get8(in);
	uint32_t v = q >= 0xf0 ? get32(in) : q % VIRTIO_MAX_QUEUES;

	wr32(0x050, v);
	if (reset_mid)
		wr32(0x070, 0);
	if (q >= 0x40 && q < 0xf0 && !reset_mid)
		turn(0); /* only taken and sent to the disk: the next operations meet them there */
	else
		drain();
	if (reset_mid)
		F.just_reset = cur;
}

static void op_config(struct input *in)
{
	uint16_t off = 0x100 + get16(in) % 0xf00;
	unsigned size = 1u << (get8(in) & 3);
	bool write = get8(in) & 1;
	uint64_t val = get64(in);

	if (off + size > VIRTIO_MMIO_SIZE)
		return;
	if (write)
		mmio_write(off, size, val);
	else
		(void)mmio_read(off, size);
}

/* As on a machine, quiesce waits for completions that the I/O thread delivers. */
static void quiesce_cur(void)
{
	struct device *dev = cur->dev;

	if (dev->ops->quiesce) {
		if (evloop_start(F.loop, "fuzz-io") < 0)
			abort();
		dev->ops->quiesce(dev);
		evloop_stop(F.loop);
	}
}

/* A hostile restore (a crafted snapshot, its checksums made good): the device's own saved
 * state with bytes changed (u8 count, then count times u16 offset and u8 value) and maybe
 * cut short (u8 cut, then a u16 length), loaded after a reset. The load must check what it
 * takes; a state it refuses is followed by a reset (a machine whose restore failed never
 * runs), one it takes runs on under the next operations. */
static void op_load_hostile(struct input *in)
{
	struct device *dev = cur->dev;
	struct sbuf a = {0};
	struct sreader r;
	uint8_t n = get8(in);
	size_t len;

	quiesce_cur();
	if (dev->ops->save(dev, &a) < 0 || !a.len)
		abort();
	for (unsigned i = 0; i < n; i++) {
		uint16_t off = get16(in);
		a.data[off % a.len] = get8(in);
	}
	len = a.len;
	if (get8(in) & 1)
		len = get16(in) % (a.len + 1);
	dev->ops->reset(dev);
	sreader_init(&r, a.data, len);
	if (dev->ops->load(dev, &r) < 0 || r.off != len) {
		dev->ops->reset(dev);
		F.just_reset = cur;
		cur->loose = false;
	} else {
		cur->loose = true;
	}
	if (F.trace)
		fprintf(stderr, "hostile state of %zu bytes (%u changed): %s\n", len, n,
			cur->loose ? "taken" : "refused");
	if (dev->ops->resume) {
		dev->ops->resume(dev);
		drain();
	}
	sbuf_fini(&a);
}

/* A device's saved state must load back, and load to the same state. */
static void op_snapshot(struct input *in)
{
	struct device *dev = cur->dev;
	struct sbuf a = {0}, b = {0};
	struct sreader r;
	uint8_t mode = get8(in);
	bool reset = mode & 1;

	if (mode >= 0xf0) {
		op_load_hostile(in);
		return;
	}
	quiesce_cur();
	if (dev->ops->save(dev, &a) < 0)
		abort();
	if (reset)
		dev->ops->reset(dev);
	sreader_init(&r, a.data, a.len);
	if (dev->ops->load(dev, &r) < 0 || r.off != a.len) {
		fprintf(stderr, "fuzz_virtq: %s: its own saved state does not load\n", dev->name);
		abort();
	}
	if (dev->ops->save(dev, &b) < 0 || a.len != b.len || memcmp(a.data, b.data, a.len)) {
		fprintf(stderr, "fuzz_virtq: %s: state changed by a save and load\n", dev->name);
		abort();
	}
	if (dev->ops->resume) {
		dev->ops->resume(dev);
		drain();
	}
	sbuf_fini(&a);
	sbuf_fini(&b);
}

static void op_ram(struct input *in)
{
	uint64_t gpa = get_addr(in);
	uint8_t n = get8(in), buf[256];

	for (unsigned i = 0; i < n; i++)
		buf[i] = get8(in);
	ram_write(gpa, buf, n);
}

/* The device whose DeviceID is `b` (stable as more types register), else the b-th. */
static struct fdev *pick_device(uint8_t b)
{
	for (unsigned i = 0; i < F.ndevs; i++)
		if (F.devs[i].vd->ops->device_id == b)
			return &F.devs[i];
	return &F.devs[b % F.ndevs];
}

static void step(struct input *in)
{
	uint8_t op = get8(in);

	switch (op % OP_COUNT) {
	case OP_DEVICE:
		cur = pick_device(get8(in));
		break;
	case OP_WRITE32: {
		uint8_t reg = get8(in);
		wr32(4u * reg, get32(in));
		if (reg * 4u == 0x050 || reg * 4u == 0x070)
			drain();
		break;
	}
	case OP_WRITE: {
		uint16_t off = get16(in) & 0xfff;
		unsigned size = 1u << (get8(in) & 3);
		uint64_t val = get64(in);
		if (off + size <= VIRTIO_MMIO_SIZE)
			mmio_write(off, size, val);
		drain();
		break;
	}
	case OP_READ: {
		uint16_t off = get16(in) & 0xfff;
		unsigned size = 1u << (get8(in) & 3);
		if (off + size <= VIRTIO_MMIO_SIZE)
			(void)mmio_read(off, size);
		break;
	}
	case OP_RAM:
		op_ram(in);
		break;
	case OP_DESC:
	case OP_IND_DESC:
		op_desc(in, op % OP_COUNT == OP_IND_DESC);
		break;
	case OP_QUEUE:
		op_queue(in);
		break;
	case OP_HANDSHAKE:
		op_handshake(in);
		break;
	case OP_OFFER:
		op_offer(in);
		break;
	case OP_AVAIL_IDX:
		op_avail_idx(in);
		break;
	case OP_NOTIFY:
	case OP_RESET_MID:
		op_notify(in, op % OP_COUNT == OP_RESET_MID);
		break;
	case OP_RESET:
		wr32(0x070, 0);
		drain();
		F.just_reset = cur;
		break;
	case OP_ACK:
		wr32(0x064, get32(in));
		break;
	case OP_CONFIG:
		op_config(in);
		break;
	case OP_SNAPSHOT:
		op_snapshot(in);
		break;
	}
}

/* ---- invariants ---- */

#define ASSERT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_virtq: %s: invariant broken: %s (line %d)\n",        \
				d->vd->name, #cond, __LINE__);                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_queue(struct fdev *d, unsigned i, bool was_stopped)
{
	const struct virtq *q = &d->vd->vq[i];
	uint16_t took, used;

	if (!q->ready) {
		d->tracked[i] = false;
		return;
	}
	if (d->loose) { /* on a hostile state: counts not known, not checked */
		d->tracked[i] = false;
		return;
	}
	if (!d->tracked[i]) {
		/* newly started: virtq_start begins at 0 */
		ASSERT(q->last_avail == 0 && q->used_idx == 0);
		d->tracked[i] = true;
		d->last_avail[i] = d->used_idx[i] = 0;
		d->inflight[i] = 0;
	}
	took = (uint16_t)(q->last_avail - d->last_avail[i]);
	used = (uint16_t)(q->used_idx - d->used_idx[i]);
	if (was_stopped)
		ASSERT(took == 0); /* nothing taken while stopped (in-flight ones may end) */
	d->inflight[i] += (long)took - (long)used;
	ASSERT(d->inflight[i] >= 0);		/* never more used than taken */
	ASSERT(d->inflight[i] <= (long)q->num); /* never more taken than the ring holds */
	ASSERT((uint16_t)(q->last_avail - q->used_idx) == d->inflight[i]);
	if (d->settles && F.settled && virtio_dev_running(d->vd))
		ASSERT(d->inflight[i] == 0);
	d->last_avail[i] = q->last_avail;
	d->used_idx[i] = q->used_idx;
}

/* `was_stopped`: before the operation the device was not processing (no DRIVER_OK, or
 * DEVICE_NEEDS_RESET), so if it still is not, no queue may have moved. */
static void check(struct fdev *d, bool was_stopped)
{
	const struct virtio_dev *v = d->vd;
	uint32_t isr = __atomic_load_n(&v->isr, __ATOMIC_ACQUIRE);
	bool stopped = !virtio_dev_running(v);

	ASSERT(d->level == (isr != 0));
	ASSERT(!(isr & ~(VIRTIO_INT_USED | VIRTIO_INT_CONFIG)));
	if (d == F.just_reset) {
		d->loose = false;
		ASSERT(v->status == 0 && isr == 0);
		for (unsigned i = 0; i < v->nqueues; i++)
			ASSERT(!v->vq[i].ready);
	}
	for (unsigned i = 0; i < v->nqueues; i++)
		check_queue(d, i, was_stopped && stopped);
}

static void trace(uint8_t op)
{
	const struct virtio_dev *v = cur->vd;

	fprintf(stderr, "op %2u on %s: status 0x%02x isr %u", op % OP_COUNT, v->name, v->status,
		v->isr);
	for (unsigned i = 0; i < v->nqueues; i++)
		if (v->vq[i].ready)
			fprintf(stderr, " q%u[num %u taken %u used %u]", i, v->vq[i].num,
				v->vq[i].last_avail, v->vq[i].used_idx);
	fprintf(stderr, "\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	bool stopped[MAX_DEVS];
	uint8_t op = 0;

	if (!F.ready) {
		setup();
		F.trace = getenv("FUZZ_VIRTQ_TRACE") != NULL;
	}
	memset(F.mem.ram, 0, RAM_SIZE);
	for (unsigned i = 0; i < F.ndevs; i++) {
		F.devs[i].dev->ops->reset(F.devs[i].dev);
		memset(F.devs[i].tracked, 0, sizeof(F.devs[i].tracked));
		F.devs[i].level = false;
		F.devs[i].loose = false;
	}
	drain();
	F.notified = false;
	cur = &F.devs[0];
	check_disk();
	while (in.n) {
		for (unsigned i = 0; i < F.ndevs; i++)
			stopped[i] = !virtio_dev_running(F.devs[i].vd);
		if (F.trace && in.n)
			op = *in.p;
		F.just_reset = NULL;
		F.settled = false;
		step(&in);
		if (F.trace)
			trace(op);
		for (unsigned i = 0; i < F.ndevs; i++)
			check(&F.devs[i], stopped[i]);
	}
	quiesce_all();
	return 0;
}
