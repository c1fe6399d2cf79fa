/*
 * The physical address map's MMIO part: a sorted table of device regions. RAM is not on
 * the bus (harts reach it directly through their TLBs). Regions are added before harts
 * start and never removed while they run, so lookups take no lock.
 */
#ifndef LODGE_CORE_BUS_H
#define LODGE_CORE_BUS_H

#include <stdint.h>

/* Device callbacks: `off` is relative to the region base, size is 1, 2, 4 or 8.
 * Return 0, or -EFAULT to make the access an access fault. Called on hart threads. */
typedef int (*bus_read_fn)(void *opaque, uint64_t off, unsigned size, uint64_t *out);
typedef int (*bus_write_fn)(void *opaque, uint64_t off, unsigned size, uint64_t val);

struct bus_region {
	uint64_t base, size;
	const char *name;
	void *opaque;
	bus_read_fn read;
	bus_write_fn write;
};

#define BUS_MAX_REGIONS 64

struct bus {
	struct bus_region regions[BUS_MAX_REGIONS];
	unsigned n;
};

/* Adds a region; returns 0, -EBUSY if it overlaps another, -ENOSPC if the table is full. */
int bus_add(struct bus *bus, const struct bus_region *r) __attribute__((warn_unused_result));

/* Reads/writes `size` bytes at physical address pa. -EFAULT when no device claims it. */
int bus_read(const struct bus *bus, uint64_t pa, unsigned size, uint64_t *out);
int bus_write(const struct bus *bus, uint64_t pa, unsigned size, uint64_t val);

#endif
