/*
 * CLINT register file: msip at 0x0000 + 4*hart, mtimecmp at 0x4000 + 8*hart, mtime at
 * 0xbff8. 4- and 8-byte accesses (the 32-bit halves of the 64-bit registers work too).
 * mtime is read-only here: a write is ignored, as the clock is the host's.
 */
#include "machine/clint.h"

#include <errno.h>

#include "cpu/hart.h"
#include "machine/machine.h"

#define MSIP_BASE     0x0000u
#define MTIMECMP_BASE 0x4000u
#define MTIME_OFF     0xbff8u

static uint64_t part(uint64_t reg, uint64_t off, unsigned size)
{
	return size == 8 ? reg : (reg >> (8 * (off & 4))) & 0xffffffffu;
}

static uint64_t merge(uint64_t reg, uint64_t off, unsigned size, uint64_t val)
{
	unsigned sh;

	if (size == 8)
		return val;
	sh = 8 * (unsigned)(off & 4);
	return (reg & ~(0xffffffffull << sh)) | ((val & 0xffffffffu) << sh);
}

static int clint_read(void *opaque, uint64_t off, unsigned size, uint64_t *out)
{
	struct vm *vm = opaque;

	if (size < 4)
		return -EFAULT;
	if (off < MSIP_BASE + 4 * vm->nharts) {
		struct hart *h = vm->harts[off / 4];
		*out = (__atomic_load_n(&h->mip, __ATOMIC_ACQUIRE) & MIP_MSIP) ? 1 : 0;
		return 0;
	}
	if (off >= MTIMECMP_BASE && off < MTIMECMP_BASE + 8 * vm->nharts) {
		struct hart *h = vm->harts[(off - MTIMECMP_BASE) / 8];
		*out = part(__atomic_load_n(&h->mtimecmp, __ATOMIC_ACQUIRE), off, size);
		return 0;
	}
	if (off >= MTIME_OFF && off < MTIME_OFF + 8) {
		*out = part(hart_time(vm->harts[0]), off, size);
		return 0;
	}
	*out = 0;
	return 0;
}

static int clint_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct vm *vm = opaque;

	if (size < 4)
		return -EFAULT;
	if (off < MSIP_BASE + 4 * vm->nharts) {
		hart_set_irq(vm->harts[off / 4], MIP_MSIP, val & 1);
		return 0;
	}
	if (off >= MTIMECMP_BASE && off < MTIMECMP_BASE + 8 * vm->nharts) {
		struct hart *h = vm->harts[(off - MTIMECMP_BASE) / 8];
		uint64_t v = merge(__atomic_load_n(&h->mtimecmp, __ATOMIC_ACQUIRE), off, size, val);
		__atomic_store_n(&h->mtimecmp, v, __ATOMIC_RELEASE);
		hart_kick(h); /* re-evaluate MTIP now */
		return 0;
	}
	return 0;
}

int clint_init(struct vm *vm, uint64_t base)
{
	struct bus_region r = {.base = base,
			       .size = CLINT_SIZE,
			       .name = "clint",
			       .opaque = vm,
			       .read = clint_read,
			       .write = clint_write};

	return bus_add(&vm->bus, &r);
}
