/*
 * Runtime for the C test programs (tests/guests/NAME.c): UART output, a small printf, exit
 * through the sifive_test finisher, an M-mode trap hook and CSR accessors. Programs are
 * single-hart, M-mode, freestanding (no libc); crt0.S calls main() and exits with its
 * return value (0 = pass).
 */
#ifndef LODGE_GUEST_RUNTIME_H
#define LODGE_GUEST_RUNTIME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Registers at the trap (x[2] is the interrupted sp); the hook may change any of them. */
struct rt_frame {
	uint64_t x[32];
	uint64_t mepc;
	uint64_t mcause;
	uint64_t mtval;
};

/*
 * Called for every M-mode trap when set; the trap returns to frame->mepc, so a hook that
 * handles an exception must advance it. With no hook, a trap prints mcause, mepc and mtval and
 * exits with status 250.
 */
typedef void (*rt_trap_fn)(struct rt_frame *frame);
extern rt_trap_fn rt_trap_hook;

void rt_putc(char c);
void rt_puts(const char *s);
int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
/* Ends the program: 0 passes, 1..255 fails with that status. */
void rt_exit(int status) __attribute__((noreturn));

/* Fail with status n (and say where) unless cond holds. */
#define RT_CHECK(n, cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			rt_printf("FAIL(%d) %s:%d: %s\n", (n), __FILE__, __LINE__, #cond);         \
			rt_exit(n);                                                                \
		}                                                                                  \
	} while (0)

#define CSR_READ(csr)                                                                              \
	({                                                                                         \
		uint64_t v_;                                                                       \
		__asm__ volatile("csrr %0, " #csr : "=r"(v_));                                     \
		v_;                                                                                \
	})
#define CSR_WRITE(csr, val) __asm__ volatile("csrw " #csr ", %0" : : "r"((uint64_t)(val)))
#define CSR_SET(csr, val)   __asm__ volatile("csrs " #csr ", %0" : : "r"((uint64_t)(val)))
#define CSR_CLEAR(csr, val) __asm__ volatile("csrc " #csr ", %0" : : "r"((uint64_t)(val)))

#define RT_UART0	  0x10000000UL
#define RT_FINISHER	  0x100000UL
#define RT_CLINT_MSIP	  0x02000000UL
#define RT_CLINT_MTIMECMP 0x02004000UL
#define RT_CLINT_MTIME	  0x0200bff8UL

#endif
