/* MMIO dispatch: binary search over regions kept sorted by base address. */
#include "core/bus.h"

#include <errno.h>
#include <stddef.h>

int bus_add(struct bus *bus, const struct bus_region *r)
{
	unsigned i;

	if (bus->n == BUS_MAX_REGIONS)
		return -ENOSPC;
	for (i = 0; i < bus->n; i++) {
		const struct bus_region *o = &bus->regions[i];
		if (r->base < o->base + o->size && o->base < r->base + r->size)
			return -EBUSY;
	}
	for (i = bus->n; i > 0 && bus->regions[i - 1].base > r->base; i--)
		bus->regions[i] = bus->regions[i - 1];
	bus->regions[i] = *r;
	bus->n++;
	return 0;
}

static const struct bus_region *find(const struct bus *bus, uint64_t pa, unsigned size)
{
	unsigned lo = 0, hi = bus->n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct bus_region *r = &bus->regions[mid];
		if (pa < r->base)
			hi = mid;
		else if (pa - r->base >= r->size)
			lo = mid + 1;
		else
			return (pa - r->base + size <= r->size) ? r : NULL;
	}
	return NULL;
}

int bus_read(const struct bus *bus, uint64_t pa, unsigned size, uint64_t *out)
{
	const struct bus_region *r = find(bus, pa, size);

	if (!r || !r->read)
		return -EFAULT;
	return r->read(r->opaque, pa - r->base, size, out);
}

int bus_write(const struct bus *bus, uint64_t pa, unsigned size, uint64_t val)
{
	const struct bus_region *r = find(bus, pa, size);

	if (!r || !r->write)
		return -EFAULT;
	return r->write(r->opaque, pa - r->base, size, val);
}
