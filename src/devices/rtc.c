/*
 * Goldfish RTC registers: 0x00 TIME_LOW, 0x04 TIME_HIGH, 0x08 ALARM_LOW, 0x0c ALARM_HIGH,
 * 0x10 IRQ_ENABLED, 0x14 CLEAR_ALARM, 0x18 ALARM_STATUS, 0x1c CLEAR_INTERRUPT.
 * Reading TIME_LOW samples the clock; TIME_HIGH returns the high half of that sample,
 * as the Linux driver expects (it reads low first). The sample is per device, and a
 * read pair from two harts at once may mix samples: Linux serialises RTC reads.
 */
#include "devices/rtc.h"

#include <errno.h>
#include <time.h>

#include "core/alloc.h"
#include "core/bus.h"

struct rtc {
	uint64_t latched; /* atomic */
};

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int rtc_read(void *opaque, uint64_t off, unsigned size, uint64_t *out)
{
	uint64_t *latched = opaque, now;

	(void)size;
	switch (off) {
	case 0x00:
		/* The low half comes from this read's own sample: reading the latch back
		 * would race with another hart's TIME_LOW read (and could mix samples). */
		now = wall_ns();
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
