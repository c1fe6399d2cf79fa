/*
 * WASI test program (clocks and random): the values themselves differ from run to run,
 * so it prints properties as "name: yes|no" lines, identical natively and under WASI
 * when the runtime behaves: monotonic time never goes back and advances across a sleep
 * at least as long as the sleep; the resolution is sane; wall-clock time agrees with
 * time(); random bytes (getentropy) are not all zero, differ between calls and spread
 * over the whole byte range. The line
 * "realtime: SECONDS" is checked by the suite against the host clock, not compared.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *yes(int ok)
{
	return ok ? "yes" : "no";
}

static void check_clocks(void)
{
	struct timespec res, nap = {0, 20 * 1000 * 1000};
	int64_t prev = ns(CLOCK_MONOTONIC), t0, t1;
	int monotonic = prev >= 0;
	time_t now = time(NULL);
	int64_t real = ns(CLOCK_REALTIME);

	for (int i = 0; i < 10000; i++) {
		int64_t t = ns(CLOCK_MONOTONIC);
		monotonic &= t >= prev;
		prev = t;
	}
	printf("monotonic never decreases: %s\n", yes(monotonic));
	printf("monotonic resolution at most 1 ms: %s\n",
	       yes(!clock_getres(CLOCK_MONOTONIC, &res) && res.tv_sec == 0 &&
		   res.tv_nsec > 0 && res.tv_nsec <= 1000000));
	t0 = ns(CLOCK_MONOTONIC);
	nanosleep(&nap, NULL);
	t1 = ns(CLOCK_MONOTONIC);
	printf("20 ms sleep advances monotonic by 20 ms to 2 s: %s\n",
	       yes(t1 - t0 >= 20000000 && t1 - t0 < 2000000000));
	printf("realtime agrees with time(): %s\n",
	       yes(real / 1000000000 - now >= -1 && real / 1000000000 - now <= 1));
	printf("realtime after 2020: %s\n", yes(now > 1577836800));
	printf("realtime: %lld\n", (long long)now);
}

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void check_random(void)
{
	uint8_t a[64], b[64], big[256];
	int ok_a = getentropy(a, sizeof(a)) == 0, ok_b = getentropy(b, sizeof(b)) == 0;
	int ok_big = getentropy(big, sizeof(big)) == 0;
	unsigned hist[4] = {0};

	printf("getentropy succeeds: %s\n", yes(ok_a && ok_b && ok_big));
	printf("random bytes not all zero: %s\n", yes(!all_zero(a, sizeof(a))));
	printf("two calls differ: %s\n", yes(memcmp(a, b, sizeof(a)) != 0));
	/* 256 bytes: each quarter of the byte range should be hit (fails with p < 1e-30) */
	for (size_t i = 0; i < sizeof(big); i++)
		hist[big[i] >> 6]++;
	printf("bytes spread over the range: %s\n",
	       yes(hist[0] > 20 && hist[1] > 20 && hist[2] > 20 && hist[3] > 20));
}

int main(void)
{
	check_clocks();
	check_random();
	return 0;
}
