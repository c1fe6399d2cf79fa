/*
 * The C runtime itself (common/crt0.S, runtime.c): zero-filled .bss, initialised .data,
 * the formatter (which leans on 64-bit divu/remu and sign handling), and UART output
 * with LSR polling. Prints exactly "c runtime: ok\n" (the suite checks it).
 */
#include "runtime.h"

static int zeroed[64];
static volatile long initialised = 0x1122334455667788;

static int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

int main(void)
{
	char buf[64];
	int n;

	for (int i = 0; i < 64; i++)
		RT_CHECK(1, zeroed[i] == 0);
	RT_CHECK(2, initialised == 0x1122334455667788);

	rt_snprintf(buf, sizeof(buf), "%d|%i|%u|%x", -42, 7, 4000000000u, 0xbeefu);
	RT_CHECK(3, str_eq(buf, "-42|7|4000000000|beef"));
	rt_snprintf(buf, sizeof(buf), "%ld|%lx|%lu", (long)INT64_MIN, (unsigned long)-1L,
		    (unsigned long)UINT64_MAX);
	RT_CHECK(4, str_eq(buf, "-9223372036854775808|ffffffffffffffff|18446744073709551615"));
	rt_snprintf(buf, sizeof(buf), "[%5d][%-5d][%05d][%03x]", -12, 34, -56, 0xa);
	RT_CHECK(5, str_eq(buf, "[  -12][34   ][-0056][00a]"));
	rt_snprintf(buf, sizeof(buf), "%s|%-4s|%4s|%c|%%", "ab", "cd", "ef", 'z');
	RT_CHECK(6, str_eq(buf, "ab|cd  |  ef|z|%"));
	n = rt_snprintf(buf, 8, "%s", "truncated output");
	RT_CHECK(7, n == 16 && str_eq(buf, "truncat"));
	rt_snprintf(buf, sizeof(buf), "%p", (void *)0x80001234UL);
	RT_CHECK(8, str_eq(buf, "0x80001234"));

	rt_printf("c runtime: %s\n", "ok");
	return 0;
}
