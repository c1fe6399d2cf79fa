/*
 * Traps and interrupts handled in C through the runtime's trap hook (crt0.S saves every
 * register): ecall (cause 11, mepc at the ecall), an illegal instruction (mtval = its
 * bits), a load access fault from a plain C pointer dereference (mtval = the address),
 * each resumed past the faulting instruction (2 or 4 bytes, read from memory), and ten
 * timer interrupts, each re-arming mtimecmp, waited for with wfi. The hook also checks
 * that registers survive a trap.
 */
#include "runtime.h"

#define MCAUSE_MTI (0x8000000000000000ULL | 7)

static volatile uint64_t last_cause, last_tval, last_epc;
static volatile int ticks;

static void arm_timer(uint64_t delta)
{
	volatile uint64_t *mtime = (volatile uint64_t *)RT_CLINT_MTIME;
	volatile uint64_t *mtimecmp = (volatile uint64_t *)RT_CLINT_MTIMECMP;

	*mtimecmp = *mtime + delta;
}

static void hook(struct rt_frame *f)
{
	if (f->mcause == MCAUSE_MTI) {
		ticks++;
		if (ticks < 10) {
			arm_timer(500);
		} else {
			volatile uint64_t *mtimecmp = (volatile uint64_t *)RT_CLINT_MTIMECMP;

			*mtimecmp = UINT64_MAX;
		}
		return;
	}
	last_cause = f->mcause;
	last_tval = f->mtval;
	last_epc = f->mepc;
	/* skip the instruction: 4 bytes if its low bits are 11, else 2 */
	f->mepc += (*(volatile uint16_t *)f->mepc & 3) == 3 ? 4 : 2;
	f->x[10] = 0x600d; /* a0 */
}

int main(void)
{
	register uint64_t a0 __asm__("a0");
	register uint64_t s2 __asm__("s2") = 0x5151;
	uint64_t here;

	rt_trap_hook = hook;

	a0 = 0;
	__asm__ volatile("auipc %1, 0\n\tecall" : "+r"(a0), "=r"(here) : : "memory");
	RT_CHECK(1, last_cause == 11 && last_epc == here + 4 && a0 == 0x600d);

	a0 = 0;
	__asm__ volatile("auipc %1, 0\n\t.word 0xc0001073" : "+r"(a0), "=r"(here) : : "memory");
	RT_CHECK(2, last_cause == 2 && last_tval == 0xc0001073 && last_epc == here + 4);
	RT_CHECK(3, a0 == 0x600d);

	a0 = *(volatile uint64_t *)0x88000000UL;
	RT_CHECK(4, last_cause == 5 && last_tval == 0x88000000UL);
	__asm__ volatile("" : "+r"(s2));
	RT_CHECK(5, s2 == 0x5151);

	CSR_WRITE(mie, 1 << 7);
	CSR_SET(mstatus, 8);
	arm_timer(500);
	for (int spins = 0; ticks < 10; spins++) {
		__asm__ volatile("wfi");
		RT_CHECK(6, spins < 10000000);
	}
	CSR_CLEAR(mstatus, 8);
	RT_CHECK(7, ticks == 10);

	rt_puts("c trap: ok\n");
	return 0;
}
