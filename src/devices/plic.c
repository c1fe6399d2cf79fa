/*
 * PLIC (RISC-V platform-level interrupt controller, SiFive layout as on QEMU virt):
 * PLIC_NDEV level-triggered sources, two contexts per hart (M = 2h, S = 2h + 1) that drive
 * the harts' MEIP and SEIP lines. Devices drive sources through the board's plic_line()
 * from any thread. Device type "plic", on every machine, created first.
 *
 * Register map (offsets): priority 0x0 + 4*src; pending 0x1000 + 4*word;
 * enables 0x2000 + 0x80*ctx + 4*word; threshold 0x200000 + 0x1000*ctx, claim/complete
 * at +4. A source is pending while its line is high and it is not claimed; completing a
 * source whose line is still high makes it pending again (level-triggered semantics).
 * One mutex guards the state; hart interrupt lines are recomputed after every change.
 */
#include <errno.h>
#include <libfdt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/device.h"
#include "devices/virt.h"

#define PLIC_SIZE    0x00600000ull
#define PLIC_NDEV    95
#define MAX_HARTS    32
#define NWORDS	     ((PLIC_NDEV + 1 + 31) / 32)
#define MAX_CTX	     (2 * MAX_HARTS)
#define PRIO_MASK    7u
#define SAVE_VERSION 1

/* The harts' local interrupt numbers the contexts drive (mip bits). */
#define IRQ_SEI 9
#define IRQ_MEI 11

struct plic {
	struct device dev;
	pthread_mutex_t lock;
	struct irq_line ctx_line[MAX_CTX];
	unsigned nctx;
	uint32_t prio[PLIC_NDEV + 1];
	uint32_t level[NWORDS]; /* line state */
	uint32_t pending[NWORDS];
	uint32_t claimed[NWORDS];
	uint32_t enable[MAX_CTX][NWORDS];
	uint32_t threshold[MAX_CTX];
	bool out[MAX_CTX]; /* last level driven to the hart */
};

/* Best pending, enabled source above the context's threshold (0 if none). */
static unsigned best(const struct plic *p, unsigned ctx)
{
	unsigned id = 0, prio = 0;

	for (unsigned w = 0; w < NWORDS; w++) {
		uint32_t m = p->pending[w] & p->enable[ctx][w] & ~p->claimed[w];
		while (m) {
			unsigned s = w * 32 + (unsigned)__builtin_ctz(m);
			m &= m - 1;
			if (p->prio[s] > p->threshold[ctx] && p->prio[s] > prio) {
				prio = p->prio[s];
				id = s;
			}
		}
	}
	return id;
}

static void update(struct plic *p)
{
	for (unsigned ctx = 0; ctx < p->nctx; ctx++) {
		bool lvl = best(p, ctx) != 0;
		if (lvl != p->out[ctx]) {
			p->out[ctx] = lvl;
			irq_set(&p->ctx_line[ctx], lvl);
		}
	}
}

static void plic_set_irq(void *opaque, unsigned src, bool level)
{
	struct plic *p = opaque;
	uint32_t bit = 1u << (src % 32);
	unsigned w = src / 32;

	if (src == 0 || src > PLIC_NDEV)
		return;
	pthread_mutex_lock(&p->lock);
	if (level) {
		p->level[w] |= bit;
		p->pending[w] |= bit;
	} else {
		p->level[w] &= ~bit;
		p->pending[w] &= ~bit;
	}
	update(p);
	pthread_mutex_unlock(&p->lock);
}

static uint32_t claim(struct plic *p, unsigned ctx)
{
	unsigned id = best(p, ctx);

	if (id) {
		p->claimed[id / 32] |= 1u << (id % 32);
		p->pending[id / 32] &= ~(1u << (id % 32));
	}
	return id;
}

static void complete(struct plic *p, unsigned id)
{
	uint32_t bit = 1u << (id % 32);

	if (id == 0 || id > PLIC_NDEV)
		return;
	p->claimed[id / 32] &= ~bit;
	if (p->level[id / 32] & bit)
		p->pending[id / 32] |= bit;
}

static int plic_read(void *opaque, uint64_t off, unsigned size, uint64_t *out)
{
	struct plic *p = opaque;
	uint32_t v = 0;

	if (size != 4)
		return -EFAULT;
	pthread_mutex_lock(&p->lock);
	if (off < 4 * (PLIC_NDEV + 1)) {
		v = p->prio[off / 4];
	} else if (off >= 0x1000 && off < 0x1000 + 4 * NWORDS) {
		v = p->pending[(off - 0x1000) / 4];
	} else if (off >= 0x2000 && off < 0x2000 + 0x80ull * p->nctx) {
		unsigned ctx = (unsigned)(off - 0x2000) / 0x80, w = (unsigned)(off % 0x80) / 4;
		v = w < NWORDS ? p->enable[ctx][w] : 0;
	} else if (off >= 0x200000 && off < 0x200000 + 0x1000ull * p->nctx) {
		unsigned ctx = (unsigned)(off - 0x200000) / 0x1000;
		if ((off & 0xfff) == 0)
			v = p->threshold[ctx];
		else if ((off & 0xfff) == 4) {
			v = claim(p, ctx);
			update(p);
		}
	}
	pthread_mutex_unlock(&p->lock);
	*out = v;
	return 0;
}

static int plic_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct plic *p = opaque;
	uint32_t v = (uint32_t)val;

	if (size != 4)
		return -EFAULT;
	pthread_mutex_lock(&p->lock);
	if (off < 4 * (PLIC_NDEV + 1)) {
		if (off)
			p->prio[off / 4] = v & PRIO_MASK;
	} else if (off >= 0x2000 && off < 0x2000 + 0x80ull * p->nctx) {
		unsigned ctx = (unsigned)(off - 0x2000) / 0x80, w = (unsigned)(off % 0x80) / 4;
		if (w < NWORDS)
			p->enable[ctx][w] = w == 0 ? v & ~1u : v; /* source 0 does not exist */
	} else if (off >= 0x200000 && off < 0x200000 + 0x1000ull * p->nctx) {
		unsigned ctx = (unsigned)(off - 0x200000) / 0x1000;
		if ((off & 0xfff) == 0)
			p->threshold[ctx] = v & PRIO_MASK;
		else if ((off & 0xfff) == 4)
			complete(p, v);
	}
	update(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* ---- device ops ---- */

static struct plic *to_plic(struct device *dev)
{
	return container_of(dev, struct plic, dev);
}

static void plic_reset(struct device *dev)
{
	struct plic *p = to_plic(dev);

	pthread_mutex_lock(&p->lock);
	memset(p->prio, 0, sizeof(p->prio));
	memset(p->claimed, 0, sizeof(p->claimed));
	memset(p->enable, 0, sizeof(p->enable));
	memset(p->threshold, 0, sizeof(p->threshold));
	memcpy(p->pending, p->level, sizeof(p->pending)); /* lines still high stay pending */
	update(p);
	pthread_mutex_unlock(&p->lock);
}

static void put_words(struct sbuf *out, const uint32_t *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sbuf_put_u32(out, w[i]);
}

static void get_words(struct sreader *in, uint32_t *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		w[i] = sread_u32(in);
}

/* Line levels are not saved: devices drive their lines again after their own load. */
static int plic_save(struct device *dev, struct sbuf *out)
{
	struct plic *p = to_plic(dev);

	pthread_mutex_lock(&p->lock);
	sbuf_put_u32(out, SAVE_VERSION);
	sbuf_put_u32(out, p->nctx);
	put_words(out, p->prio, PLIC_NDEV + 1);
	put_words(out, p->pending, NWORDS);
	put_words(out, p->claimed, NWORDS);
	for (unsigned c = 0; c < p->nctx; c++)
		put_words(out, p->enable[c], NWORDS);
	put_words(out, p->threshold, p->nctx);
	pthread_mutex_unlock(&p->lock);
	return out->err;
}

static int plic_load(struct device *dev, struct sreader *in)
{
	struct plic *p = to_plic(dev);
	int r = 0;

	pthread_mutex_lock(&p->lock);
	if (sread_u32(in) != SAVE_VERSION || sread_u32(in) != p->nctx) {
		r = -EINVAL;
	} else {
		get_words(in, p->prio, PLIC_NDEV + 1);
		get_words(in, p->pending, NWORDS);
		get_words(in, p->claimed, NWORDS);
		for (unsigned c = 0; c < p->nctx; c++)
			get_words(in, p->enable[c], NWORDS);
		get_words(in, p->threshold, p->nctx);
		for (unsigned i = 0; i <= PLIC_NDEV; i++)
			p->prio[i] &= PRIO_MASK;
		for (unsigned c = 0; c < p->nctx; c++)
			p->threshold[c] &= PRIO_MASK;
		p->pending[0] &= ~1u; /* source 0 does not exist */
		r = in->err;
		update(p);
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* interrupts-extended = <&intc(h) m &intc(h) s> for every hart. */
static int prop_irqs_ext(void *fdt, const struct board *b, uint32_t m, uint32_t s)
{
	fdt32_t v[4 * MAX_HARTS];

	for (unsigned h = 0; h < b->nharts; h++) {
		v[4 * h + 0] = cpu_to_fdt32(b->cpu_intc_phandle0 + h);
		v[4 * h + 1] = cpu_to_fdt32(m);
		v[4 * h + 2] = cpu_to_fdt32(b->cpu_intc_phandle0 + h);
		v[4 * h + 3] = cpu_to_fdt32(s);
	}
	return fdt_property(fdt, "interrupts-extended", v, (int)(16 * b->nharts));
}

static int plic_fdt(struct device *dev, void *fdt, const struct board *b)
{
	static const char compat[] = "sifive,plic-1.0.0\0riscv,plic0";
	fdt64_t reg[2] = {cpu_to_fdt64(VIRT_PLIC_BASE), cpu_to_fdt64(PLIC_SIZE)};
	char name[40];
	int r;

	(void)dev;
	snprintf(name, sizeof(name), "plic@%llx", (unsigned long long)VIRT_PLIC_BASE);
	r = fdt_begin_node(fdt, name);
	r = r ?: fdt_property(fdt, "compatible", compat, sizeof(compat));
	r = r ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	r = r ?: fdt_property_u32(fdt, "#interrupt-cells", 1);
	r = r ?: fdt_property_u32(fdt, "#address-cells", 0);
	r = r ?: fdt_property(fdt, "interrupt-controller", NULL, 0);
	r = r ?: fdt_property_u32(fdt, "riscv,ndev", PLIC_NDEV);
	r = r ?: prop_irqs_ext(fdt, b, IRQ_MEI, IRQ_SEI);
	r = r ?: fdt_property_u32(fdt, "phandle", b->plic_phandle);
	return r ?: fdt_end_node(fdt);
}

static void plic_destroy(struct device *dev)
{
	struct plic *p = to_plic(dev);

	pthread_mutex_destroy(&p->lock);
	core_free(p);
}

static const struct device_ops plic_ops = {
	.reset = plic_reset,
	.save = plic_save,
	.load = plic_load,
	.fdt = plic_fdt,
	.destroy = plic_destroy,
};

static int plic_create(struct board *b, const char *args, struct device **out, char *err,
		       size_t errlen)
{
	struct plic *p;
	struct bus_region r = {.base = VIRT_PLIC_BASE,
			       .size = PLIC_SIZE,
			       .name = "plic",
			       .read = plic_read,
			       .write = plic_write};
	int e;

	(void)args;
	if (b->nharts > MAX_HARTS) {
		snprintf(err, errlen, "plic: at most %d harts", MAX_HARTS);
		return -EINVAL;
	}
	p = core_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->nctx = 2 * b->nharts;
	for (unsigned c = 0; c < p->nctx; c++)
		p->ctx_line[c] = b->hart_line(b, c / 2, (c & 1) ? IRQ_SEI : IRQ_MEI);
	pthread_mutex_init(&p->lock, NULL);
	p->dev.ops = &plic_ops;
	snprintf(p->dev.name, sizeof(p->dev.name), "plic");
	r.opaque = p;
	e = bus_add(b->bus, &r);
	if (e < 0) {
		plic_destroy(&p->dev);
		return e;
	}
	b->irqchip_set = plic_set_irq;
	b->irqchip = p;
	*out = &p->dev;
	return 0;
}

static const struct device_type plic_type = {
	.name = "plic",
	.help = "platform-level interrupt controller (always present)",
	.order = 0,
	.always = true,
	.bare = true,
	.create = plic_create,
};
DEVICE_TYPE(plic_type)
