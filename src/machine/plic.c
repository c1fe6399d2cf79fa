/*
 * PLIC model. Register map (offsets): priority 0x0 + 4*src; pending 0x1000 + 4*word;
 * enables 0x2000 + 0x80*ctx + 4*word; threshold 0x200000 + 0x1000*ctx, claim/complete
 * at +4. A source is pending while its line is high and it is not claimed; completing a
 * source whose line is still high makes it pending again (level-triggered semantics).
 * One mutex guards the state; hart interrupt lines are recomputed after every change.
 */
#include "machine/plic.h"

#include <errno.h>
#include <pthread.h>

#include "core/alloc.h"
#include "cpu/hart.h"
#include "machine/machine.h"

#define NWORDS	  ((PLIC_NDEV + 1 + 31) / 32)
#define MAX_CTX	  (2 * VM_MAX_HARTS)
#define PRIO_MASK 7u

struct plic {
	struct vm *vm;
	pthread_mutex_t lock;
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
			hart_set_irq(p->vm->harts[ctx / 2], (ctx & 1) ? MIP_SEIP : MIP_MEIP, lvl);
		}
	}
}

void plic_set_irq(struct plic *p, unsigned src, bool level)
{
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

int plic_create(struct vm *vm, struct plic **out)
{
	struct plic *p = core_calloc(1, sizeof(*p));
	struct bus_region r = {.base = PLIC_BASE,
			       .size = PLIC_SIZE,
			       .name = "plic",
			       .read = plic_read,
			       .write = plic_write};
	int err;

	if (!p)
		return -ENOMEM;
	p->vm = vm;
	p->nctx = 2 * vm->nharts;
	pthread_mutex_init(&p->lock, NULL);
	r.opaque = p;
	err = bus_add(&vm->bus, &r);
	if (err < 0) {
		plic_destroy(p);
		return err;
	}
	*out = p;
	return 0;
}

void plic_destroy(struct plic *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	core_free(p);
}
