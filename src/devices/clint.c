/*
 * CLINT (SiFive core-local interruptor, as on QEMU virt): per-hart msip (software
 * interrupt) at 0x0000 + 4*hart and mtimecmp (timer) at 0x4000 + 8*hart, and the shared
 * mtime at 0xbff8 (the board's 10 MHz time base: read-only here, as the clock is the
 * host's). 4- and 8-byte accesses; the 32-bit halves of the 64-bit registers work too.
 * msip drives each hart's MSIP line; mtimecmp goes to the hart through the board, and
 * the hart raises MTIP itself when its time passes it (no host timer). Device type
 * "clint", on every machine.
 */
#include <errno.h>
#include <libfdt.h>
#include <pthread.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/device.h"
#include "devices/virt.h"

#define CLINT_SIZE    0x10000
#define MSIP_BASE     0x0000u
#define MTIMECMP_BASE 0x4000u
#define MTIME_OFF     0xbff8u
#define MAX_HARTS     32
#define SAVE_VERSION  1

/* The harts' local interrupt numbers (mip bits). */
#define IRQ_MSI 3
#define IRQ_MTI 7

struct clint {
	struct device dev;
	struct board *board;
	unsigned nharts;
	pthread_mutex_t lock; /* msip and mtimecmp: any hart may write any hart's */
	uint32_t msip[MAX_HARTS];
	uint64_t mtimecmp[MAX_HARTS];
	struct irq_line msip_line[MAX_HARTS];
};

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
	struct clint *c = opaque;

	if (size < 4)
		return -EFAULT;
	*out = 0;
	pthread_mutex_lock(&c->lock);
	if (off < MSIP_BASE + 4ull * c->nharts)
		*out = c->msip[off / 4];
	else if (off >= MTIMECMP_BASE && off < MTIMECMP_BASE + 8ull * c->nharts)
		*out = part(c->mtimecmp[(off - MTIMECMP_BASE) / 8], off, size);
	pthread_mutex_unlock(&c->lock);
	if (off >= MTIME_OFF && off < MTIME_OFF + 8)
		*out = part(c->board->time(c->board), off, size);
	return 0;
}

static int clint_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct clint *c = opaque;

	if (size < 4)
		return -EFAULT;
	pthread_mutex_lock(&c->lock);
	if (off < MSIP_BASE + 4ull * c->nharts) {
		unsigned h = (unsigned)off / 4;
		c->msip[h] = val & 1;
		irq_set(&c->msip_line[h], val & 1);
	} else if (off >= MTIMECMP_BASE && off < MTIMECMP_BASE + 8ull * c->nharts) {
		unsigned h = (unsigned)(off - MTIMECMP_BASE) / 8;
		c->mtimecmp[h] = merge(c->mtimecmp[h], off, size, val);
		c->board->hart_set_timecmp(c->board, h, c->mtimecmp[h]);
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static struct clint *to_clint(struct device *dev)
{
	return container_of(dev, struct clint, dev);
}

/* Pushes the register state to the harts (after a reset or a load). Lock held. */
static void drive(struct clint *c)
{
	for (unsigned h = 0; h < c->nharts; h++) {
		irq_set(&c->msip_line[h], c->msip[h]);
		c->board->hart_set_timecmp(c->board, h, c->mtimecmp[h]);
	}
}

static void clint_reset(struct device *dev)
{
	struct clint *c = to_clint(dev);

	pthread_mutex_lock(&c->lock);
	for (unsigned h = 0; h < c->nharts; h++) {
		c->msip[h] = 0;
		c->mtimecmp[h] = ~0ull;
	}
	drive(c);
	pthread_mutex_unlock(&c->lock);
}

static int clint_save(struct device *dev, struct sbuf *out)
{
	struct clint *c = to_clint(dev);

	pthread_mutex_lock(&c->lock);
	sbuf_put_u32(out, SAVE_VERSION);
	sbuf_put_u32(out, c->nharts);
	for (unsigned h = 0; h < c->nharts; h++) {
		sbuf_put_u32(out, c->msip[h]);
		sbuf_put_u64(out, c->mtimecmp[h]);
	}
	pthread_mutex_unlock(&c->lock);
	return out->err;
}

static int clint_load(struct device *dev, struct sreader *in)
{
	struct clint *c = to_clint(dev);
	int r;

	pthread_mutex_lock(&c->lock);
	if (sread_u32(in) != SAVE_VERSION || sread_u32(in) != c->nharts) {
		pthread_mutex_unlock(&c->lock);
		return -EINVAL;
	}
	for (unsigned h = 0; h < c->nharts; h++) {
		c->msip[h] = sread_u32(in) & 1;
		c->mtimecmp[h] = sread_u64(in);
	}
	r = in->err;
	if (!r)
		drive(c);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* interrupts-extended = <&intc(h) 3 &intc(h) 7> for every hart: M-soft, M-timer. */
static int clint_fdt(struct device *dev, void *fdt, const struct board *b)
{
	static const char compat[] = "sifive,clint0\0riscv,clint0";
	fdt64_t reg[2] = {cpu_to_fdt64(VIRT_CLINT_BASE), cpu_to_fdt64(CLINT_SIZE)};
	fdt32_t irqs[4 * MAX_HARTS];
	char name[40];
	int r;

	(void)dev;
	for (unsigned h = 0; h < b->nharts; h++) {
		irqs[4 * h + 0] = cpu_to_fdt32(b->cpu_intc_phandle0 + h);
		irqs[4 * h + 1] = cpu_to_fdt32(IRQ_MSI);
		irqs[4 * h + 2] = cpu_to_fdt32(b->cpu_intc_phandle0 + h);
		irqs[4 * h + 3] = cpu_to_fdt32(IRQ_MTI);
	}
	snprintf(name, sizeof(name), "clint@%llx", (unsigned long long)VIRT_CLINT_BASE);
	r = fdt_begin_node(fdt, name);
	r = r ?: fdt_property(fdt, "compatible", compat, sizeof(compat));
	r = r ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	r = r ?: fdt_property(fdt, "interrupts-extended", irqs, (int)(16 * b->nharts));
	return r ?: fdt_end_node(fdt);
}

static void clint_destroy(struct device *dev)
{
	struct clint *c = to_clint(dev);

	pthread_mutex_destroy(&c->lock);
	core_free(c);
}

static const struct device_ops clint_ops = {
	.reset = clint_reset,
	.save = clint_save,
	.load = clint_load,
	.fdt = clint_fdt,
	.destroy = clint_destroy,
};

static int clint_create(struct board *b, const char *args, struct device **out, char *err,
			size_t errlen)
{
	struct clint *c;
	struct bus_region r = {.base = VIRT_CLINT_BASE,
			       .size = CLINT_SIZE,
			       .name = "clint",
			       .read = clint_read,
			       .write = clint_write};
	int e;

	(void)args;
	if (b->nharts > MAX_HARTS) {
		snprintf(err, errlen, "clint: at most %d harts", MAX_HARTS);
		return -EINVAL;
	}
	c = core_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->board = b;
	c->nharts = b->nharts;
	for (unsigned h = 0; h < c->nharts; h++) {
		c->mtimecmp[h] = ~0ull;
		c->msip_line[h] = b->hart_line(b, h, IRQ_MSI);
	}
	pthread_mutex_init(&c->lock, NULL);
	c->dev.ops = &clint_ops;
	snprintf(c->dev.name, sizeof(c->dev.name), "clint");
	r.opaque = c;
	e = bus_add(b->bus, &r);
	if (e < 0) {
		clint_destroy(&c->dev);
		return e;
	}
	*out = &c->dev;
	return 0;
}

static const struct device_type clint_type = {
	.name = "clint",
	.help = "core-local interruptor: timer and software interrupts (always present)",
	.order = 1,
	.always = true,
	.bare = true,
	.create = clint_create,
};
DEVICE_TYPE(clint_type)
