/* Unit tests for the Sv39/Sv48 walker (cpu/mmu.c) on a real machine's RAM. */
#include "cpu/mmu.h"

#include <stdlib.h>
#include <string.h>

#include "cpu/hart.h"
#include "harness.h"
#include "machine/machine.h"

#define V 1u
#define R 2u
#define W 4u
#define X 8u
#define U 16u
#define A 64u
#define D 128u

static struct vm *vm;
static struct hart *h;

static uint64_t *pte_at(uint64_t pa)
{
	return vm_ram_ptr(vm, pa, 8);
}

static uint64_t pte(uint64_t pa, unsigned flags)
{
	return ((pa >> 12) << 10) | flags;
}

/* Tables: root at RAM+0x1000 (Sv39) with a level-1 table at +0x2000 and a level-0 table
 * at +0x3000. Mappings:
 *   va 0x40000000 (1G)       -> gigapage at RAM base, RWX A D (S)
 *   va 0x00200000 (2M)       -> megapage at RAM + 0x200000 (misaligned if odd ppn)
 *   va 0x00001000..          -> 4K pages from the level-0 table, per test */
static int setup(unsigned mode)
{
	struct vm_config cfg = {.ram_size = 8u << 20, .nharts = 1};
	uint64_t base = VM_RAM_BASE;

	vm_destroy(vm); /* left over by a failed test */

	if (vm_create(&cfg, &vm) < 0)
		return 1;
	h = vm->harts[0];
	*pte_at(base + 0x1000 + 8 * 1) = pte(base, V | R | W | X | A | D);
	*pte_at(base + 0x1000 + 8 * 0) = pte(base + 0x2000, V);
	*pte_at(base + 0x2000 + 8 * 1) = pte(base + 0x200000, V | R | W | A | D);
	*pte_at(base + 0x2000 + 8 * 0) = pte(base + 0x3000, V);
	h->satp = ((uint64_t)mode << 60) | ((base + 0x1000) >> 12);
	h->priv = PRV_S;
	hart_update_mode(h);
	return 0;
}

static void teardown(void)
{
	vm_destroy(vm);
	vm = NULL;
}

static int t_gigapage(void)
{
	uint64_t pa = 0;
	CHECK(!setup(8));
	CHECK_EQ(mmu_translate(h, 0x40000123, ACC_READ, PRV_S, &pa), 0);
	CHECK_EQ(pa, VM_RAM_BASE + 0x123);
	CHECK_EQ(mmu_translate(h, 0x40000000 + 0x12345678, ACC_FETCH, PRV_S, &pa), 0);
	CHECK_EQ(pa, VM_RAM_BASE + 0x12345678);
	/* S cannot fetch from... a U page, and U cannot touch an S page */
	CHECK_EQ(mmu_translate(h, 0x40000000, ACC_READ, PRV_U, &pa), EXC_LOAD_PAGE);
	CHECK_EQ(h->fault_tval, 0x40000000);
	teardown();
	return 0;
}

static int t_megapage_and_misaligned(void)
{
	uint64_t pa = 0;
	CHECK(!setup(8));
	CHECK_EQ(mmu_translate(h, 0x200008, ACC_WRITE, PRV_S, &pa), 0);
	CHECK_EQ(pa, VM_RAM_BASE + 0x200008);
	CHECK_EQ(mmu_translate(h, 0x200008, ACC_FETCH, PRV_S, &pa), EXC_INSN_PAGE);
	*pte_at(VM_RAM_BASE + 0x2000 + 8) = pte(VM_RAM_BASE + 0x201000, V | R | A);
	CHECK_EQ(mmu_translate(h, 0x200008, ACC_READ, PRV_S, &pa), EXC_LOAD_PAGE);
	teardown();
	return 0;
}

static int t_4k_ad_bits(void)
{
	uint64_t pa = 0, *p;
	CHECK(!setup(8));
	p = pte_at(VM_RAM_BASE + 0x3000 + 8 * 5);
	*p = pte(VM_RAM_BASE + 0x7000, V | R | W);
	CHECK_EQ(mmu_translate(h, 0x5010, ACC_READ, PRV_S, &pa), 0);
	CHECK_EQ(pa, VM_RAM_BASE + 0x7010);
	CHECK_EQ(*p & (A | D), A);
	CHECK_EQ(mmu_translate(h, 0x5010, ACC_WRITE, PRV_S, &pa), 0);
	CHECK_EQ(*p & (A | D), A | D);
	teardown();
	return 0;
}

static int t_faults(void)
{
	uint64_t pa = 0, *p;
	CHECK(!setup(8));
	p = pte_at(VM_RAM_BASE + 0x3000 + 8 * 6);
	*p = pte(VM_RAM_BASE + 0x7000, V | W); /* W without R: reserved */
	CHECK_EQ(mmu_translate(h, 0x6000, ACC_READ, PRV_S, &pa), EXC_LOAD_PAGE);
	*p = pte(VM_RAM_BASE + 0x7000, R); /* not valid */
	CHECK_EQ(mmu_translate(h, 0x6000, ACC_WRITE, PRV_S, &pa), EXC_STORE_PAGE);
	*p = pte(VM_RAM_BASE + 0x7000, V | R | A); /* read-only */
	CHECK_EQ(mmu_translate(h, 0x6000, ACC_WRITE, PRV_S, &pa), EXC_STORE_PAGE);
	*p = pte(VM_RAM_BASE + 0x7000, V | R | A) | (1ull << 62); /* reserved PBMT bits */
	CHECK_EQ(mmu_translate(h, 0x6000, ACC_READ, PRV_S, &pa), EXC_LOAD_PAGE);
	/* a non-leaf at level 0 is a page fault */
	*p = pte(VM_RAM_BASE + 0x7000, V);
	CHECK_EQ(mmu_translate(h, 0x6000, ACC_READ, PRV_S, &pa), EXC_LOAD_PAGE);
	/* a next-level table outside RAM: access fault, not page fault */
	*pte_at(VM_RAM_BASE + 0x2000) = pte(0x1000, V);
	CHECK_EQ(mmu_translate(h, 0x6000, ACC_READ, PRV_S, &pa), EXC_LOAD_ACCESS);
	/* non-canonical Sv39 address */
	CHECK_EQ(mmu_translate(h, 0x0000008000000000ull, ACC_READ, PRV_S, &pa), EXC_LOAD_PAGE);
	teardown();
	return 0;
}

static int t_sum_mxr(void)
{
	uint64_t pa = 0, *p;
	CHECK(!setup(8));
	p = pte_at(VM_RAM_BASE + 0x3000 + 8 * 7);
	*p = pte(VM_RAM_BASE + 0x8000, V | R | W | U | A | D);
	CHECK_EQ(mmu_translate(h, 0x7000, ACC_READ, PRV_U, &pa), 0);
	CHECK_EQ(mmu_translate(h, 0x7000, ACC_READ, PRV_S, &pa), EXC_LOAD_PAGE);
	h->mstatus |= MSTATUS_SUM;
	CHECK_EQ(mmu_translate(h, 0x7000, ACC_READ, PRV_S, &pa), 0);
	*p = pte(VM_RAM_BASE + 0x8000, V | X | U | A);
	CHECK_EQ(mmu_translate(h, 0x7000, ACC_FETCH, PRV_S, &pa), EXC_INSN_PAGE); /* never */
	CHECK_EQ(mmu_translate(h, 0x7000, ACC_READ, PRV_U, &pa), EXC_LOAD_PAGE);
	h->mstatus |= MSTATUS_MXR;
	CHECK_EQ(mmu_translate(h, 0x7000, ACC_READ, PRV_U, &pa), 0);
	teardown();
	return 0;
}

static int t_sv48_and_bare(void)
{
	uint64_t pa = 0, base = VM_RAM_BASE;
	CHECK(!setup(9));
	/* Sv48: the Sv39 root becomes level 2; add a level-3 root at +0x4000. */
	*pte_at(base + 0x4000) = pte(base + 0x1000, V);
	h->satp = (9ull << 60) | ((base + 0x4000) >> 12);
	CHECK_EQ(mmu_translate(h, 0x40000040, ACC_READ, PRV_S, &pa), 0);
	CHECK_EQ(pa, base + 0x40);
	CHECK_EQ(mmu_translate(h, 0x0000800000000000ull, ACC_READ, PRV_S, &pa), EXC_LOAD_PAGE);
	/* M-mode and Bare are identity */
	CHECK_EQ(mmu_translate(h, 0x1234, ACC_READ, PRV_M, &pa), 0);
	CHECK_EQ(pa, 0x1234);
	h->satp = 0;
	CHECK_EQ(mmu_translate(h, 0x5678, ACC_WRITE, PRV_S, &pa), 0);
	CHECK_EQ(pa, 0x5678);
	teardown();
	return 0;
}

/* A store or load split across the end of RAM faults and touches nothing (the part
 * inside RAM is neither written nor, for loads, read into the result). */
static int t_straddle_ram_end(void)
{
	uint64_t end, v = 0x1111;
	uint8_t *last;
	CHECK(!setup(8));
	end = VM_RAM_BASE + vm->mem.size;
	last = vm_ram_ptr(vm, end - 8, 8);
	memset(last, 0xa5, 8);
	h->priv = PRV_M;
	hart_update_mode(h);
	for (unsigned size = 2; size <= 8; size *= 2) {
		for (unsigned back = 1; back < size; back++) {
			CHECK_EQ(mmu_store(h, end - back, size, 0), EXC_STORE_ACCESS);
			CHECK_EQ(h->fault_tval, end - back);
			CHECK_EQ(mmu_load(h, end - back, size, &v), EXC_LOAD_ACCESS);
		}
	}
	CHECK_EQ(v, 0x1111);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(last[i], 0xa5);
	/* an 8-byte store ending at the last byte of RAM fits */
	CHECK_EQ(mmu_store(h, end - 8, 8, 0), 0);
	CHECK_EQ(last[7], 0);
	teardown();
	return 0;
}

static const struct unit_test tests[] = {
	{"gigapage", t_gigapage},
	{"megapage_misaligned", t_megapage_and_misaligned},
	{"ad_bits", t_4k_ad_bits},
	{"faults", t_faults},
	{"sum_mxr", t_sum_mxr},
	{"sv48_bare", t_sv48_and_bare},
	{"straddle_ram_end", t_straddle_ram_end},
};

UNIT_MAIN("mmu", tests)
