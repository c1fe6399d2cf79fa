/*
 * Goldfish RTC (google,goldfish-rtc, as on QEMU virt): the host's wall-clock time in
 * nanoseconds since the epoch. The alarm registers are accepted but never fire.
 */
#ifndef LODGE_DEVICES_RTC_H
#define LODGE_DEVICES_RTC_H

#include <stdint.h>

struct bus;

#define RTC_BASE 0x00101000ull

struct rtc;

int rtc_create(struct bus *bus, uint64_t base, struct rtc **out)
	__attribute__((warn_unused_result));
void rtc_destroy(struct rtc *rtc);

#endif
