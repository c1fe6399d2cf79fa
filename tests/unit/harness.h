/*
 * Tiny unit-test harness: a test is a function returning 0 on success; CHECK() records the
 * first failing expression. Each binary runs its table and prints PASS/FAIL lines that
 * tests/run.sh counts, and exits 1 when any test failed. Lines are flushed one by one,
 * so a crash in a later test keeps the earlier results. Header-only, no dependencies.
 */
#ifndef LODGE_TESTS_HARNESS_H
#define LODGE_TESTS_HARNESS_H

#include <stdio.h>
#include <string.h>

struct unit_test {
	const char *name;
	int (*fn)(void);
};

static char unit_why[512];

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(unit_why, sizeof(unit_why), "%s:%d: %s", __FILE__, __LINE__,      \
				 #cond);                                                           \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b);   \
		if (va_ != vb_) {                                                                  \
			snprintf(unit_why, sizeof(unit_why), "%s:%d: %s == %s (0x%llx != 0x%llx)", \
				 __FILE__, __LINE__, #a, #b, va_, vb_);                            \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)

static inline int unit_run(const char *suite, const struct unit_test *t, size_t n)
{
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		unit_why[0] = 0;
		if (t[i].fn() == 0) {
			printf("PASS: %s.%s\n", suite, t[i].name);
		} else {
			printf("FAIL: %s.%s: %s\n", suite, t[i].name, unit_why);
			failed++;
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}

#define UNIT_MAIN(suite, table)                                                                    \
	int main(void)                                                                             \
	{                                                                                          \
		return unit_run(suite, table, sizeof(table) / sizeof(table[0]));                   \
	}

#endif
