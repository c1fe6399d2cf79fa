/*
 * Goldfish RTC registers: 0x00 TIME_LOW, 0x04 TIME_HIGH, 0x08 ALARM_LOW, 0x0c ALARM_HIGH,
 * 0x10 IRQ_ENABLED, 0x14 CLEAR_ALARM, 0x18 ALARM_STATUS, 0x1c CLEAR_INTERRUPT.
 * Reading TIME_LOW samples the clock; TIME_HIGH returns the high half of that sample,
 * as the Linux driver expects (it reads low first). The sample is per device, and a
 * read pair from two harts at once may mix samples: Linux serialises RTC reads.
 */
#include "devices/rtc.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <time.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/clock.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/device.h"
#include "devices/virt.h"

struct rtc {
	uint64_t latched; /* atomic */
};

static int rtc_read(void *opaque, uint64_t off, unsigned size, uint64_t *out)
{
	uint64_t *latched = opaque, now;

	(void)size;
	switch (off) {
	case 0x00:
		/* The low half comes from this read's own sample: reading the latch back
		 * would race with another hart's TIME_LOW read (and could mix samples). */
		now = core_clock_ns(CLOCK_REALTIME);
		__atomic_store_n(latched, now, __ATOMIC_RELAXED);
		*out = (uint32_t)now;
		break;
	case 0x04:
		*out = __atomic_load_n(latched, __ATOMIC_RELAXED) >> 32;
		break;
	default:
		*out = 0;
		break;
	}
	return 0;
}

static int rtc_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	(void)opaque;
	(void)off;
	(void)size;
	(void)val;
	return 0; /* setting the host's clock from a guest is not allowed; alarms unsupported */
}

int rtc_create(struct bus *bus, uint64_t base, struct rtc **out)
{
	struct rtc *rtc = core_calloc(1, sizeof(*rtc));
	struct bus_region r = {
		.base = base, .size = 0x1000, .name = "rtc", .read = rtc_read, .write = rtc_write};
	int err;

	if (!rtc)
		return -ENOMEM;
	r.opaque = &rtc->latched;
	err = bus_add(bus, &r);
	if (err < 0) {
		core_free(rtc);
		return err;
	}
	*out = rtc;
	return 0;
}

void rtc_destroy(struct rtc *rtc)
{
	core_free(rtc);
}

/* ---- the device type "rtc" at VIRT_RTC_BASE ---- */

struct rtc_dev {
	struct device dev;
	struct rtc *rtc;
};

static struct rtc_dev *to_rd(struct device *dev)
{
	return container_of(dev, struct rtc_dev, dev);
}

static void rd_reset(struct device *dev)
{
	(void)dev; /* the clock is the host's; nothing else is kept */
}

/* The clock is the host's wall clock, so there is nothing to save but the format. */
static int rd_save(struct device *dev, struct sbuf *out)
{
	(void)dev;
	sbuf_put_u32(out, 1);
	return out->err;
}

static int rd_load(struct device *dev, struct sreader *in)
{
	(void)dev;
	return sread_u32(in) == 1 && !in->err ? 0 : -EINVAL;
}

static int rd_fdt(struct device *dev, void *fdt, const struct board *b)
{
	fdt64_t reg[2] = {cpu_to_fdt64(VIRT_RTC_BASE), cpu_to_fdt64(0x1000)};
	char name[40];
	int r;

	(void)dev;
	snprintf(name, sizeof(name), "rtc@%llx", (unsigned long long)VIRT_RTC_BASE);
	r = fdt_begin_node(fdt, name);
	r = r ?: fdt_property_string(fdt, "compatible", "google,goldfish-rtc");
	r = r ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	r = r ?: fdt_property_u32(fdt, "interrupts", VIRT_RTC_IRQ);
	r = r ?: fdt_property_u32(fdt, "interrupt-parent", b->plic_phandle);
	return r ?: fdt_end_node(fdt);
}

static void rd_destroy(struct device *dev)
{
	struct rtc_dev *rd = to_rd(dev);

	rtc_destroy(rd->rtc);
	core_free(rd);
}

static const struct device_ops rtc_ops = {
	.reset = rd_reset,
	.save = rd_save,
	.load = rd_load,
	.fdt = rd_fdt,
	.destroy = rd_destroy,
};

static int rd_create(struct board *b, const char *args, struct device **out, char *err,
		     size_t errlen)
{
	struct rtc_dev *rd = core_calloc(1, sizeof(*rd));
	int r;

	(void)args;
	(void)err;
	(void)errlen;
	if (!rd)
		return -ENOMEM;
	r = rtc_create(b->bus, VIRT_RTC_BASE, &rd->rtc);
	if (r < 0) {
		core_free(rd);
		return r;
	}
	rd->dev.ops = &rtc_ops;
	snprintf(rd->dev.name, sizeof(rd->dev.name), "rtc");
	*out = &rd->dev;
	return 0;
}

static const struct device_type rtc_type = {
	.name = "rtc",
	.help = "goldfish real-time clock: the host's wall clock (always present)",
	.order = 11,
	.always = true,
	.bare = true,
	.create = rd_create,
};
DEVICE_TYPE(rtc_type)
