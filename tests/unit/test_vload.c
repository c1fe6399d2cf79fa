/*
 * A virtio device whose state is loaded (restore, migration, failover) serves the
 * requests the saved rings hold without waiting for a notify: a request the driver made
 * available while the source machine was quiesced for the checkpoint had its notify
 * then, and none comes again on the machine that loads the state. Here for the devices
 * with no test file of their own for it (virtio-rng, virtio-balloon); virtio-blk and
 * virtio-net have theirs in test_vblk.c and test_vnet.c. The test plays the guest
 * (tests/unit/vdriver.h): it makes a request available without a kick, saves, resets
 * the device (its pending notifies are forgotten, as on another machine), loads, and
 * waits for the request to be used. And a hostile saved state (a crafted snapshot or
 * migration stream, its checksums made good) that the transport never holds is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio/balloon.h"
#include "devices/virtio/rng.h"

#include "core/evloop.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "harness.h"
#include "vdriver.h"

#define RAM  (16ull << 20)
#define AREA (VD_RAM_BASE + (8ull << 20)) /* pages the balloon takes */

static struct vdriver drv;
static struct evloop *loop;
static struct device *dev;

static int board(struct board *b)
{
	if (evloop_create(&loop) < 0 || vd_board(&drv, b, loop, RAM) < 0)
		return -1;
	return 0;
}

static int run(uint64_t features, unsigned nq)
{
	if (evloop_start(loop, "test-io") < 0)
		return -1;
	return vd_init(&drv, features, nq) & VIRTIO_STATUS_DRIVER_OK ? 0 : -1;
}

static void stop(void)
{
	evloop_stop(loop);
	dev->ops->destroy(dev);
	evloop_destroy(loop);
	gmem_fini(&drv.mem);
}

/* Saves the device, resets it, and loads the state again; 0 or -1. */
static int save_reset_load(void)
{
	struct sbuf s = {0};
	struct sreader in;
	int r = -1;

	if (dev->ops->save(dev, &s) == 0) {
		dev->ops->reset(dev);
		sreader_init(&in, s.data, s.len);
		if (dev->ops->load(dev, &in) == 0 && in.off == s.len)
			r = 0;
	}
	sbuf_fini(&s);
	return r;
}

static int rng_request_served_after_load(void)
{
	struct board b;
	struct vd_buf buf;
	uint32_t id, len;
	uint8_t *p;
	unsigned nonzero = 0;

	CHECK(board(&b) == 0);
	CHECK(vrng_create(&b, &dev) == 0);
	CHECK(run(0, 1) == 0);
	buf = (struct vd_buf){.gpa = vd_alloc(&drv), .len = 64, .writable = true};
	p = vd_ptr(&drv, buf.gpa, 64);
	memset(p, 0, 64);
	vd_post(&drv, 0, &buf, 1);
	CHECK_EQ(vd_used(&drv, 0, 50, &id, &len), 0); /* no kick: nothing yet */
	CHECK(save_reset_load() == 0);
	CHECK_EQ(vd_used(&drv, 0, 5000, &id, &len), 1);
	CHECK_EQ(len, 64);
	for (unsigned i = 0; i < 64; i++)
		nonzero += p[i] != 0;
	CHECK(nonzero > 0);
	stop();
	return 0;
}

static int balloon_inflate_served_after_load(void)
{
	struct board b;
	struct vballoon_config cfg = {.size = 0};
	struct vd_buf buf;
	char err[200];
	uint32_t id, len, *pfns;

	CHECK(board(&b) == 0);
	CHECK(vballoon_create(&b, &cfg, &dev, err, sizeof(err)) == 0);
	CHECK(run(0, 2) == 0);
	memset(vd_ptr(&drv, AREA, 4 * 4096), 0xa5, 4 * 4096);
	buf = (struct vd_buf){.gpa = vd_alloc(&drv), .len = 4 * 4, .writable = false};
	pfns = vd_ptr(&drv, buf.gpa, 16);
	for (unsigned i = 0; i < 4; i++)
		pfns[i] = (uint32_t)((AREA >> 12) + i);
	vd_post(&drv, 0, &buf, 1);
	CHECK_EQ(vd_used(&drv, 0, 50, &id, &len), 0);
	CHECK(save_reset_load() == 0);
	CHECK_EQ(vd_used(&drv, 0, 5000, &id, &len), 1);
	CHECK_EQ(*(uint8_t *)vd_ptr(&drv, AREA, 1), 0); /* given back: reads as zero */
	/* The deflate queue had nothing: looking at it changed nothing. */
	CHECK(!(vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	stop();
	return 0;
}

/* The transport's record (virtio.c): u32 version, u64 driver features, u32 status,
 * u32 interrupt status, ... */
#define OFF_FEATURES 4
#define OFF_STATUS   12
#define OFF_ISR	     16

/* Loads the saved state s with the u32 at off set to v (or the u64 features' high half
 * for OFF_FEATURES + 4), after a reset; the load's result. */
static int load_with(const struct sbuf *s, size_t off, uint32_t v)
{
	uint8_t copy[4096];
	struct sreader in;
	int r;

	if (s->len > sizeof(copy))
		return -100;
	memcpy(copy, s->data, s->len);
	for (unsigned i = 0; i < 4; i++)
		copy[off + i] = (uint8_t)(v >> (8 * i));
	dev->ops->reset(dev);
	sreader_init(&in, copy, s->len);
	r = dev->ops->load(dev, &in);
	return r < 0 ? r : in.off == s->len ? 0 : -101;
}

static int hostile_transport_state_refused(void)
{
	struct board b;
	struct sbuf s = {0};
	uint32_t status;

	CHECK(board(&b) == 0);
	CHECK(vrng_create(&b, &dev) == 0);
	CHECK(run(0, 1) == 0);
	CHECK_EQ(dev->ops->save(dev, &s), 0);
	status = (uint32_t)s.data[OFF_STATUS];
	CHECK(status & VIRTIO_STATUS_DRIVER_OK);
	CHECK(status & VIRTIO_STATUS_FEATURES_OK);
	CHECK_EQ(load_with(&s, OFF_STATUS, status), 0); /* as saved */
	/* interrupt bits the device never raises: a guest acknowledging only its own
	 * would see the line stay high */
	CHECK_EQ(load_with(&s, OFF_ISR, 0x100), -EINVAL);
	CHECK_EQ(load_with(&s, OFF_ISR, VIRTIO_INT_USED | VIRTIO_INT_CONFIG), 0);
	/* status bits past the register's byte */
	CHECK_EQ(load_with(&s, OFF_STATUS, status | 0x100), -EINVAL);
	/* running without negotiated features: DRIVER_OK without FEATURES_OK ... */
	CHECK_EQ(load_with(&s, OFF_STATUS, status & ~VIRTIO_STATUS_FEATURES_OK), -EINVAL);
	/* ... unless that stopped the device, as write_status does */
	CHECK_EQ(
		load_with(&s, OFF_STATUS,
			  (status & ~VIRTIO_STATUS_FEATURES_OK) | VIRTIO_STATUS_DEVICE_NEEDS_RESET),
		0);
	/* features accepted without VERSION_1 (bit 32) */
	CHECK_EQ(load_with(&s, OFF_FEATURES + 4, 0), -EINVAL);
	CHECK_EQ(load_with(&s, OFF_STATUS, status), 0);
	sbuf_fini(&s);
	stop();
	return 0;
}

static const struct unit_test tests[] = {
	{"rng_request_served_after_load", rng_request_served_after_load},
	{"balloon_inflate_served_after_load", balloon_inflate_served_after_load},
	{"hostile_transport_state_refused", hostile_transport_state_refused},
};

int main(void)
{
	return unit_run("vload", tests, ARRAY_SIZE(tests));
}
