/*
 * Support code for the benchmark programs: polled ns16550a output, the
 * sifive_test finisher, the trap reporter crt0.S jumps to, and the libc
 * memory functions GCC may emit calls to even with -ffreestanding.
 */
#include "bench.h"

extern char __heap_start[];

void bench_trap_report(uint64_t cause, uint64_t epc, uint64_t tval);

void bench_putc(char c)
{
	volatile uint8_t *uart = (volatile uint8_t *)BENCH_UART;

	/* LSR bit 5: transmit holding register empty. */
	while (!(uart[5] & 0x20)) {
	}
	uart[0] = (uint8_t)c;
}

void bench_puts(const char *s)
{
	while (*s) {
		bench_putc(*s++);
	}
}

void bench_put_hex(uint64_t v)
{
	bench_puts("0x");
	for (int shift = 60; shift >= 0; shift -= 4) {
		bench_putc("0123456789abcdef"[(v >> shift) & 0xf]);
	}
}

void bench_checksum(const char *name, uint64_t sum)
{
	bench_puts("checksum ");
	bench_puts(name);
	bench_putc(' ');
	bench_put_hex(sum);
	bench_putc('\n');
}

void bench_exit(int code)
{
	volatile uint32_t *fin = (volatile uint32_t *)BENCH_FINISHER;

	if (code == 0) {
		*fin = 0x5555;
	} else {
		*fin = 0x3333 | ((uint32_t)code << 16);
	}
	for (;;) {
		__asm__ volatile("wfi");
	}
}

void bench_trap_report(uint64_t cause, uint64_t epc, uint64_t tval)
{
	bench_puts("unexpected trap: mcause=");
	bench_put_hex(cause);
	bench_puts(" mepc=");
	bench_put_hex(epc);
	bench_puts(" mtval=");
	bench_put_hex(tval);
	bench_putc('\n');
	bench_exit(99);
}

void *bench_heap(void)
{
	return __heap_start;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--) {
		*d++ = *s++;
	}
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	if (d < s) {
		return memcpy(dst, src, n);
	}
	while (n--) {
		d[n] = s[n];
	}
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--) {
		*d++ = (uint8_t)c;
	}
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a;
	const uint8_t *y = b;

	for (size_t i = 0; i < n; i++) {
		if (x[i] != y[i]) {
			return x[i] < y[i] ? -1 : 1;
		}
	}
	return 0;
}
