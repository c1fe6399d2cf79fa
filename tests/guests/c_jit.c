/*
 * The paths a translator gets wrong, each inside a loop run hundreds of times so that the
 * code is translated (at any --jit-hot) before the interesting iteration:
 *  1. a load and 2. a store that fault (access fault) in the middle of a block, after
 *     registers were changed in it: the trap sees those values and mepc/mtval of the
 *     faulting instruction, and the rest of the block runs after the handler skips it;
 *  3. misaligned loads and stores (emulated: the slow path) in a hot loop;
 *  4. self-modifying code: a function rewritten (then fence.i) between calls, in a loop;
 *  5. a timer interrupt ending a tight spin loop that only reads memory;
 *  6. minstret counting the instructions of a translated loop exactly, and not counting
 *     the part of a block after a faulting instruction before it really runs;
 *  7. side exits (forward branches inside a block, cpu/block.h SIDE_EXITS) taken in some
 *     iterations and not in others: the registers changed before and after them, and
 *     minstret not counting the ops a taken side exit skipped.
 */
#include "runtime.h"

#define MCAUSE_MTI (0x8000000000000000ULL | 7)
#define BAD	   0x88000000UL /* past the end of the 128 MiB of RAM: access fault */

static volatile uint64_t faults, last_cause, last_tval, last_epc, seen_a1, seen_a2;
static volatile int flag;

static void hook(struct rt_frame *f)
{
	if (f->mcause == MCAUSE_MTI) {
		volatile uint64_t *mtimecmp = (volatile uint64_t *)RT_CLINT_MTIMECMP;
		*mtimecmp = UINT64_MAX;
		flag = 1;
		return;
	}
	faults++;
	last_cause = f->mcause;
	last_tval = f->mtval;
	last_epc = f->mepc;
	seen_a1 = f->x[11];
	seen_a2 = f->x[12];
	f->mepc += (*(volatile uint16_t *)f->mepc & 3) == 3 ? 4 : 2;
}

static void check_faults(void)
{
	uint64_t a1 = 0, a2 = 0, epc;

	for (uint64_t i = 1; i <= 300; i++) {
		uint64_t bad = BAD;
		__asm__ volatile("addi %0, %0, 1\n\t"
				 "addi %1, %1, 3\n\t"
				 "1: ld t0, 0(%2)\n\t"
				 "add %1, %1, %0\n\t"
				 "lla %3, 1b\n\t"
				 : "+r"(a1), "+r"(a2), "+r"(bad), "=r"(epc)
				 :
				 : "t0", "memory");
		RT_CHECK(1, faults == i && last_cause == 5 && last_tval == BAD && last_epc == epc);
		RT_CHECK(2, a1 == i && a2 == 3 * i + i * (i + 1) / 2);
	}
	faults = 0;
	for (uint64_t i = 1; i <= 300; i++) {
		register uint64_t r1 __asm__("a1") = i * 7;
		register uint64_t r2 __asm__("a2") = i;
		uint64_t bad = BAD + 8;
		__asm__ volatile("addi a1, a1, 5\n\t"
				 "slli a2, a2, 4\n\t"
				 "1: sd a1, 0(%2)\n\t"
				 "addi a2, a2, 1\n\t"
				 "lla %3, 1b\n\t"
				 : "+r"(r1), "+r"(r2), "+r"(bad), "=r"(epc)
				 :
				 : "memory");
		RT_CHECK(3, faults == i && last_cause == 7 && last_tval == BAD + 8 && last_epc == epc);
		RT_CHECK(4, seen_a1 == i * 7 + 5 && seen_a2 == i << 4);
		RT_CHECK(5, r1 == i * 7 + 5 && r2 == (i << 4) + 1);
	}
}

static uint8_t buf[64] __attribute__((aligned(8)));

static void check_misaligned(void)
{
	for (unsigned i = 0; i < 64; i++)
		buf[i] = (uint8_t)(i * 13 + 1);
	uint64_t sum = 0, want = 0;
	for (unsigned r = 0; r < 400; r++) {
		unsigned off = 1 + r % 7;
		uint64_t v;
		__asm__ volatile("ld %0, 0(%1)" : "=r"(v) : "r"(buf + off) : "memory");
		sum += v;
		__asm__ volatile("sw %0, 0(%1)" : : "r"((uint32_t)v ^ r), "r"(buf + 33 + off) : "memory");
	}
	/* The same loop on bytes, as the reference. */
	uint8_t ref[64];
	for (unsigned i = 0; i < 64; i++)
		ref[i] = (uint8_t)(i * 13 + 1);
	for (unsigned r = 0; r < 400; r++) {
		unsigned off = 1 + r % 7;
		uint64_t v = 0;
		for (int k = 7; k >= 0; k--)
			v = v << 8 | ref[off + k];
		want += v;
		uint32_t w = (uint32_t)v ^ r;
		for (int k = 0; k < 4; k++)
			ref[33 + off + k] = (uint8_t)(w >> (8 * k));
	}
	RT_CHECK(6, sum == want && memcmp(buf, ref, 64) == 0);
}

/* Room for a two-instruction function: addi a0, zero, K; ret. */
static uint32_t code[16] __attribute__((aligned(64)));

static void check_smc(void)
{
	uint64_t (*fn)(void) = (uint64_t(*)(void))(uintptr_t)code;

	for (uint32_t k = 0; k < 500; k++) {
		uint32_t imm = (k * 37) & 0x7ff;
		code[0] = 0x00000513u | (imm << 20); /* addi a0, zero, imm */
		code[1] = 0x00008067u;		     /* ret */
		__asm__ volatile("fence.i" ::: "memory");
		for (int rep = 0; rep < 3; rep++)
			RT_CHECK(7, fn() == imm);
	}
}

static void check_spin_interrupt(void)
{
	volatile uint64_t *mtime = (volatile uint64_t *)RT_CLINT_MTIME;
	volatile uint64_t *mtimecmp = (volatile uint64_t *)RT_CLINT_MTIMECMP;

	flag = 0;
	CSR_WRITE(mie, 1 << 7);
	*mtimecmp = *mtime + 20000; /* 2 ms */
	CSR_SET(mstatus, 8);
	__asm__ volatile("1: lw t0, 0(%0)\n\t"
			 "beqz t0, 1b\n\t"
			 :
			 : "r"(&flag)
			 : "t0", "memory");
	CSR_CLEAR(mstatus, 8);
	RT_CHECK(8, flag == 1);
}

static void check_instret(void)
{
	uint64_t before, after, n = 1000;

	__asm__ volatile("csrr %0, minstret\n\t"
			 "1: addi %2, %2, -1\n\t"
			 "bnez %2, 1b\n\t"
			 "csrr %1, minstret\n\t"
			 : "=&r"(before), "=&r"(after), "+r"(n));
	/* the loop's 2000 instructions and the first csrr itself */
	RT_CHECK(9, after - before == 2001);

	/* The same five instructions with the fault first or last in the block: the trap
	 * path is the same, so both must retire the same number of instructions. */
	uint64_t d_first = 0, d_last = 0;
	for (int r = 0; r < 100; r++) {
		uint64_t bad = BAD;
		__asm__ volatile("csrr %0, minstret\n\t"
				 "ld t0, 0(%2)\n\t"
				 "nop\n\tnop\n\tnop\n\tnop\n\t"
				 "csrr %1, minstret\n\t"
				 : "=&r"(before), "=&r"(after)
				 : "r"(bad)
				 : "t0", "memory");
		d_first = after - before;
		__asm__ volatile("csrr %0, minstret\n\t"
				 "nop\n\tnop\n\tnop\n\tnop\n\t"
				 "ld t0, 0(%2)\n\t"
				 "csrr %1, minstret\n\t"
				 : "=&r"(before), "=&r"(after)
				 : "r"(bad)
				 : "t0", "memory");
		d_last = after - before;
		RT_CHECK(10, d_first == d_last);
	}
}

static void check_side_exits(void)
{
	uint64_t before, after, n = 300, odd = 0, big = 0, acc = 0;

	/* One block from 1: to the backward bnez with two side exits (to 2: and 3:). Per
	 * iteration 7 instructions, one more for an odd n and one more for n >= 100. */
	__asm__ volatile("csrr %0, minstret\n\t"
			 "1: andi t0, %2, 1\n\t"
			 "addi %5, %5, 7\n\t"
			 "beqz t0, 2f\n\t"
			 "addi %3, %3, 1\n\t"
			 "2: sltiu t1, %2, 100\n\t"
			 "bnez t1, 3f\n\t"
			 "addi %4, %4, 1\n\t"
			 "3: addi %2, %2, -1\n\t"
			 "bnez %2, 1b\n\t"
			 "csrr %1, minstret\n\t"
			 : "=&r"(before), "=&r"(after), "+r"(n), "+r"(odd), "+r"(big), "+r"(acc)
			 :
			 : "t0", "t1");
	RT_CHECK(11, odd == 150 && big == 201 && acc == 2100 && n == 0);
	/* 7 * 300 + 150 + 201, and the first csrr */
	RT_CHECK(12, after - before == 2452);
}

int main(void)
{
	rt_trap_hook = hook;
	check_faults();
	check_misaligned();
	check_smc();
	check_spin_interrupt();
	check_instret();
	check_side_exits();
	rt_puts("c jit: ok\n");
	return 0;
}
