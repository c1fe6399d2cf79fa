/*
 * What the JIT translates beyond plain integer code (issue 12), each in a loop so that it
 * runs translated (the suite also runs it with --no-jit, and checks with --stats that the
 * JIT did not hand these operations to the interpreter):
 *  1. every AMO (.W and .D) against a plain C reference, signed and unsigned min/max;
 *  2. LR/SC: a counter incremented through LR/SC loops, SC without a reservation or on
 *     another address failing and leaving memory alone;
 *  3. AMO, LR and SC faulting in the middle of a block after registers changed in it: the
 *     trap sees those values, the cause (store/AMO or load access fault), mepc and mtval,
 *     and rd is not written;
 *  4. CSR reads and writes (csrrw/s/c and the immediate forms on mscratch), sfence.vma and
 *     fence.i in hot loops, and an illegal CSR write after registers changed in its block
 *     (mtval = the instruction);
 *  5. mret: every trap above returns through it.
 */
#include "runtime.h"

#define BAD 0x88000000UL /* past the end of the 128 MiB of RAM: access fault */

static volatile uint64_t faults, last_cause, last_tval, last_epc, seen_a1, seen_a2;

static void hook(struct rt_frame *f)
{
	faults++;
	last_cause = f->mcause;
	last_tval = f->mtval;
	last_epc = f->mepc;
	seen_a1 = f->x[11];
	seen_a2 = f->x[12];
	f->mepc += (*(volatile uint16_t *)f->mepc & 3) == 3 ? 4 : 2;
}

static uint64_t mem64[2] __attribute__((aligned(8)));
static uint32_t mem32[2] __attribute__((aligned(8)));

#define AMO(insn, rd, addr, src)                                                                   \
	__asm__ volatile(insn " %0, %2, (%1)" : "=&r"(rd) : "r"(addr), "r"(src) : "memory")

static uint64_t sx32(uint32_t v)
{
	return (uint64_t)(int64_t)(int32_t)v;
}

/* One AMO .W: the value it returns and the memory it leaves, against C. */
static void amo_w(unsigned k, uint32_t src)
{
	uint32_t m = mem32[0], want;
	uint64_t rd = 0;

	switch (k) {
	case 0:
		AMO("amoswap.w", rd, mem32, src);
		want = src;
		break;
	case 1:
		AMO("amoadd.w", rd, mem32, src);
		want = m + src;
		break;
	case 2:
		AMO("amoxor.w", rd, mem32, src);
		want = m ^ src;
		break;
	case 3:
		AMO("amoand.w", rd, mem32, src);
		want = m & src;
		break;
	case 4:
		AMO("amoor.w", rd, mem32, src);
		want = m | src;
		break;
	case 5:
		AMO("amomin.w", rd, mem32, src);
		want = (int32_t)m < (int32_t)src ? m : src;
		break;
	case 6:
		AMO("amomax.w", rd, mem32, src);
		want = (int32_t)m > (int32_t)src ? m : src;
		break;
	case 7:
		AMO("amominu.w", rd, mem32, src);
		want = m < src ? m : src;
		break;
	default:
		AMO("amomaxu.w", rd, mem32, src);
		want = m > src ? m : src;
		break;
	}
	RT_CHECK(1, rd == sx32(m) && mem32[0] == want && mem32[1] == 0x5a5a5a5a);
}

static void amo_d(unsigned k, uint64_t src)
{
	uint64_t m = mem64[0], want, rd = 0;

	switch (k) {
	case 0:
		AMO("amoswap.d", rd, mem64, src);
		want = src;
		break;
	case 1:
		AMO("amoadd.d", rd, mem64, src);
		want = m + src;
		break;
	case 2:
		AMO("amoxor.d", rd, mem64, src);
		want = m ^ src;
		break;
	case 3:
		AMO("amoand.d", rd, mem64, src);
		want = m & src;
		break;
	case 4:
		AMO("amoor.d", rd, mem64, src);
		want = m | src;
		break;
	case 5:
		AMO("amomin.d", rd, mem64, src);
		want = (int64_t)m < (int64_t)src ? m : src;
		break;
	case 6:
		AMO("amomax.d", rd, mem64, src);
		want = (int64_t)m > (int64_t)src ? m : src;
		break;
	case 7:
		AMO("amominu.d", rd, mem64, src);
		want = m < src ? m : src;
		break;
	default:
		AMO("amomaxu.d", rd, mem64, src);
		want = m > src ? m : src;
		break;
	}
	RT_CHECK(2, rd == m && mem64[0] == want && mem64[1] == 0x5a5a5a5a5a5a5a5aull);
}

static void check_amos(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	mem32[1] = 0x5a5a5a5a;
	mem64[1] = 0x5a5a5a5a5a5a5a5aull;
	for (unsigned r = 0; r < 600; r++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		amo_w(r % 9, (uint32_t)(x >> 17));
		amo_d(r % 9, x);
	}
}

static uint64_t lr_sc_add(uint64_t *p, uint64_t v)
{
	uint64_t old, fail;

	__asm__ volatile("1: lr.d %0, (%2)\n\t"
			 "add %1, %0, %3\n\t"
			 "sc.d %1, %1, (%2)\n\t"
			 "bnez %1, 1b\n\t"
			 : "=&r"(old), "=&r"(fail)
			 : "r"(p), "r"(v)
			 : "memory");
	return old;
}

static void check_lrsc(void)
{
	uint64_t fail, v;

	mem64[0] = 0;
	for (uint64_t i = 1; i <= 500; i++)
		RT_CHECK(3, lr_sc_add(&mem64[0], i) == (i - 1) * i / 2);
	RT_CHECK(4, mem64[0] == 500 * 501 / 2);
	for (unsigned i = 0; i < 300; i++) {
		mem32[0] = i;
		/* the last SC ended the reservation: this one fails */
		__asm__ volatile("sc.w %0, %2, (%1)" : "=&r"(fail) : "r"(mem32), "r"(7) : "memory");
		RT_CHECK(5, fail == 1 && mem32[0] == i);
		/* a reservation on mem64[0], an SC on mem64[1]: fails */
		__asm__ volatile("lr.d %0, (%2)\n\t"
				 "sc.d %1, %3, (%4)\n\t"
				 : "=&r"(v), "=&r"(fail)
				 : "r"(&mem64[0]), "r"(9), "r"(&mem64[1])
				 : "memory");
		RT_CHECK(6, fail == 1 && v == 500 * 501 / 2 && mem64[1] == 0x5a5a5a5a5a5a5a5aull);
		/* lr.w sign-extends; sc.w succeeds */
		mem32[0] = 0x80000000u | i;
		__asm__ volatile("lr.w %0, (%2)\n\t"
				 "sc.w %1, %3, (%2)\n\t"
				 : "=&r"(v), "=&r"(fail)
				 : "r"(mem32), "r"(i)
				 : "memory");
		RT_CHECK(7, v == sx32(0x80000000u | i) && fail == 0 && mem32[0] == i);
	}
}

static void check_faults(void)
{
	uint64_t epc;

	for (uint64_t i = 1; i <= 300; i++) {
		register uint64_t r1 __asm__("a1") = i * 7;
		register uint64_t r2 __asm__("a2") = i;
		register uint64_t r3 __asm__("a3") = 77;
		uint64_t bad = BAD;
		unsigned k = i % 3;
		if (k == 0)
			__asm__ volatile("addi a1, a1, 5\n\t"
					 "slli a2, a2, 4\n\t"
					 "1: amoadd.w a3, a1, (%3)\n\t"
					 "addi a2, a2, 1\n\t"
					 "lla %4, 1b\n\t"
					 : "+r"(r1), "+r"(r2), "+r"(r3), "+r"(bad), "=r"(epc)
					 :
					 : "memory");
		else if (k == 1)
			__asm__ volatile("addi a1, a1, 5\n\t"
					 "slli a2, a2, 4\n\t"
					 "1: lr.d a3, (%3)\n\t"
					 "addi a2, a2, 1\n\t"
					 "lla %4, 1b\n\t"
					 : "+r"(r1), "+r"(r2), "+r"(r3), "+r"(bad), "=r"(epc)
					 :
					 : "memory");
		else
			__asm__ volatile("addi a1, a1, 5\n\t"
					 "slli a2, a2, 4\n\t"
					 "1: sc.d a3, a1, (%3)\n\t"
					 "addi a2, a2, 1\n\t"
					 "lla %4, 1b\n\t"
					 : "+r"(r1), "+r"(r2), "+r"(r3), "+r"(bad), "=r"(epc)
					 :
					 : "memory");
		RT_CHECK(8, faults == i && last_cause == (k == 1 ? 5u : 7u) && last_tval == BAD &&
				    last_epc == epc);
		RT_CHECK(9, seen_a1 == i * 7 + 5 && seen_a2 == i << 4);
		RT_CHECK(10, r1 == i * 7 + 5 && r2 == (i << 4) + 1 && r3 == 77);
	}
}

static void check_csrs(void)
{
	uint64_t old, v = 0, epc;

	for (uint64_t i = 1; i <= 400; i++) {
		CSR_WRITE(mscratch, i);
		__asm__ volatile("csrrw %0, mscratch, %1" : "=r"(old) : "r"(i * 3));
		RT_CHECK(11, old == i && CSR_READ(mscratch) == i * 3);
		__asm__ volatile("csrrs %0, mscratch, %1" : "=r"(old) : "r"(0x100ull));
		__asm__ volatile("csrrc %0, mscratch, %1" : "=r"(v) : "r"(1ull));
		RT_CHECK(12, old == i * 3 && v == (i * 3 | 0x100));
		__asm__ volatile("csrrwi %0, mscratch, 21" : "=r"(old));
		__asm__ volatile("csrrsi %0, mscratch, 8" : "=r"(v));
		RT_CHECK(13, old == ((i * 3 | 0x100) & ~1ull) && v == 21);
		__asm__ volatile("csrrci %0, mscratch, 1" : "=r"(v));
		RT_CHECK(14, v == 29 && CSR_READ(mscratch) == 28);
		__asm__ volatile("sfence.vma\n\t"
				 "sfence.vma %0\n\t"
				 "fence.i" ::"r"(i << 12)
				 : "memory");
	}
	faults = 0;
	for (uint64_t i = 1; i <= 300; i++) {
		register uint64_t r1 __asm__("a1") = i * 7;
		register uint64_t r2 __asm__("a2") = i;
		__asm__ volatile("addi a1, a1, 5\n\t"
				 "slli a2, a2, 4\n\t"
				 "1: csrw cycle, a1\n\t" /* read-only: illegal */
				 "lla %2, 1b\n\t"
				 : "+r"(r1), "+r"(r2), "=r"(epc)
				 :
				 : "memory");
		RT_CHECK(15, faults == i && last_cause == 2 && last_epc == epc &&
				     last_tval == *(volatile uint32_t *)epc);
		RT_CHECK(16, seen_a1 == i * 7 + 5 && seen_a2 == i << 4);
	}
}

int main(void)
{
	rt_trap_hook = hook;
	check_amos();
	check_lrsc();
	check_faults();
	check_csrs();
	rt_puts("c jit sys: ok\n");
	return 0;
}
