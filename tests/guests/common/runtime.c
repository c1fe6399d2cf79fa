/*
 * Runtime for the C test programs: see runtime.h. Output goes to the ns16550a UART with
 * LSR polling (THR empty, bit 5) as a real driver does; exit writes the sifive_test
 * finisher. Also the mem* functions the compiler may call on its own.
 */
#include "runtime.h"

#define UART_THR      0
#define UART_LSR      5
#define UART_LSR_THRE 0x20

rt_trap_fn rt_trap_hook;

void rt_putc(char c)
{
	volatile uint8_t *uart = (volatile uint8_t *)RT_UART0;

	while (!(uart[UART_LSR] & UART_LSR_THRE))
		;
	uart[UART_THR] = (uint8_t)c;
}

void rt_puts(const char *s)
{
	while (*s)
		rt_putc(*s++);
}

void rt_exit(int status)
{
	volatile uint32_t *fin = (volatile uint32_t *)RT_FINISHER;

	if (status == 0)
		*fin = 0x5555;
	else
		*fin = ((uint32_t)status << 16) | 0x3333;
	for (;;)
		;
}

/* Output sink for the formatter: writes into buf up to size-1 bytes, counts everything. */
struct sink {
	char *buf;
	size_t size;
	size_t len;
};

static void put(struct sink *s, char c)
{
	if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void put_num(struct sink *s, uint64_t v, unsigned base, int neg, int width, char pad,
		    int left)
{
	char tmp[24];
	int n = 0, len;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	len = n + neg;
	if (neg && pad == '0')
		put(s, '-'); /* the sign goes before the zero padding */
	for (int i = len; !left && i < width; i++)
		put(s, pad);
	if (neg && pad != '0')
		put(s, '-');
	while (n > 0)
		put(s, tmp[--n]);
	for (int i = len; left && i < width; i++)
		put(s, ' ');
}

/* Supports %[-][0][width][l|ll|z](d|i|u|x|p|c|s|%). */
int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = {buf, size, 0};

	for (; *fmt; fmt++) {
		int left = 0, width = 0, lng = 0;
		char pad = ' ';

		if (*fmt != '%') {
			put(&s, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '-') {
			left = 1;
			fmt++;
		}
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

			put_num(&s, mag, 10, v < 0, width, pad, left);
			break;
		}
		case 'u':
		case 'x':
			put_num(&s, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned),
				*fmt == 'u' ? 10 : 16, 0, width, pad, left);
			break;
		case 'p':
			put(&s, '0');
			put(&s, 'x');
			put_num(&s, (uint64_t)va_arg(ap, void *), 16, 0, 0, ' ', 0);
			break;
		case 'c':
			put(&s, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			int n = 0;

			for (const char *p = str; *p; p++)
				n++;
			for (int i = n; !left && i < width; i++)
				put(&s, ' ');
			for (const char *p = str; *p; p++)
				put(&s, *p);
			for (int i = n; left && i < width; i++)
				put(&s, ' ');
			break;
		}
		case '%':
			put(&s, '%');
			break;
		default:
			put(&s, '?');
			if (!*fmt)
				fmt--;
			break;
		}
	}
	if (size)
		buf[s.len < size ? s.len : size - 1] = 0;
	return (int)s.len;
}

int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int rt_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rt_puts(buf);
	return n;
}

void rt_trap(struct rt_frame *f);
void rt_trap(struct rt_frame *f)
{
	if (rt_trap_hook) {
		rt_trap_hook(f);
		return;
	}
	rt_printf("unexpected trap: mcause=%lx mepc=%lx mtval=%lx\n", f->mcause, f->mepc, f->mtval);
	rt_exit(250);
}

/* The compiler may emit calls to these; keep it from turning their loops into calls to
 * themselves. */
#define NO_LDP __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_LDP void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

NO_LDP void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

NO_LDP void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	if (p < q)
		return memcpy(d, s, n);
	while (n--)
		p[n] = q[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}
