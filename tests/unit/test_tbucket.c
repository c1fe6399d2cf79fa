/*
 * Unit tests for core/tbucket.c against Firecracker's rate-limiter semantics: a full
 * bucket at start, refilling at size per refill time (no drift however it is polled),
 * failures that take nothing, the one-time burst, over-consumption paid back as debt, and
 * a rate limiter's two buckets charged together or not at all.
 */
#include "core/tbucket.h"

#include "harness.h"

#define MS 1000000ull

static int test_basic_refill(void)
{
	struct tbucket b;

	tbucket_init(&b, 1000, 0, 1000, 0); /* 1000 tokens per second */
	CHECK_EQ(tbucket_reduce(&b, 600, 0), TBUCKET_OK);
	CHECK_EQ(tbucket_reduce(&b, 500, 0), TBUCKET_FAIL);
	CHECK_EQ(b.budget, 400); /* a failure takes nothing */
	CHECK_EQ(tbucket_wait_ns(&b, 500, 0), 100 * MS);
	CHECK_EQ(tbucket_reduce(&b, 500, 99 * MS), TBUCKET_FAIL);
	CHECK_EQ(tbucket_reduce(&b, 500, 100 * MS), TBUCKET_OK);
	CHECK_EQ(b.budget, 0);
	/* never more than size */
	CHECK_EQ(tbucket_reduce(&b, 1, 10000 * MS), TBUCKET_OK);
	CHECK_EQ(b.budget, 999);
	return 0;
}

static int test_no_drift(void)
{
	struct tbucket b;
	uint64_t t = 0, taken = 0;

	tbucket_init(&b, 3, 0, 1000, 0); /* 3 tokens per second: 333.33 ms each */
	CHECK_EQ(tbucket_reduce(&b, 3, 0), TBUCKET_OK);
	/* polled every 8 ms for 10 s: exactly 30 tokens more (a bucket that rounded each
	 * poll's fraction away would earn none) */
	for (t = 8 * MS; t <= 10000 * MS; t += 8 * MS)
		while (tbucket_reduce(&b, 1, t) == TBUCKET_OK)
			taken++;
	CHECK_EQ(taken, 30);
	return 0;
}

static int test_one_time_burst(void)
{
	struct tbucket b;

	tbucket_init(&b, 100, 500, 1000, 0);
	CHECK_EQ(tbucket_reduce(&b, 550, 0), TBUCKET_OK); /* 500 burst + 50 budget */
	CHECK_EQ(b.one_time_burst, 0);
	CHECK_EQ(b.budget, 50);
	CHECK_EQ(tbucket_reduce(&b, 60, 0), TBUCKET_FAIL);
	/* the burst never comes back */
	CHECK_EQ(tbucket_reduce(&b, 100, 60000 * MS), TBUCKET_OK);
	CHECK_EQ(tbucket_reduce(&b, 1, 60000 * MS), TBUCKET_FAIL);
	return 0;
}

static int test_overconsumption(void)
{
	struct tbucket b;

	tbucket_init(&b, 100, 0, 1000, 0);
	CHECK_EQ(tbucket_reduce(&b, 250, 0), TBUCKET_OVERCONSUMED);
	CHECK_EQ(b.debt, 150);
	/* blocked until the debt is paid and the asked tokens are there */
	CHECK_EQ(tbucket_reduce(&b, 1, 1000 * MS), TBUCKET_FAIL);
	CHECK_EQ(tbucket_wait_ns(&b, 1, 1000 * MS), 510 * MS);
	CHECK_EQ(tbucket_reduce(&b, 1, 1509 * MS), TBUCKET_FAIL);
	CHECK_EQ(tbucket_reduce(&b, 1, 1510 * MS), TBUCKET_OK);
	/* an unlimited bucket allows everything */
	tbucket_init(&b, 0, 0, 0, 0);
	CHECK_EQ(tbucket_reduce(&b, ~0ull, 0), TBUCKET_OK);
	CHECK_EQ(tbucket_wait_ns(&b, ~0ull, 0), 0);
	return 0;
}

static int test_ratelimiter(void)
{
	struct ratelimiter r;
	uint64_t retry = 0;

	/* 1 MB/s and 10 ops/s */
	ratelimiter_init(&r, 1000000, 0, 1000, 10, 0, 1000, 0);
	CHECK(ratelimiter_consume(&r, 600000, 0, &retry));
	CHECK(!ratelimiter_consume(&r, 600000, 0, &retry));
	CHECK_EQ(retry, 200 * MS);
	CHECK_EQ(r.ops.budget, 9); /* the failed op was given back */
	for (int i = 0; i < 9; i++)
		CHECK(ratelimiter_consume(&r, 1, 0, &retry));
	CHECK(!ratelimiter_consume(&r, 1, 0, &retry));
	CHECK_EQ(retry, 100 * MS); /* out of operations: one comes every 100 ms */
	CHECK(ratelimiter_consume(&r, 1, 100 * MS, &retry));
	return 0;
}

static const struct unit_test tests[] = {
	{"basic_refill", test_basic_refill},	 {"no_drift", test_no_drift},
	{"one_time_burst", test_one_time_burst}, {"overconsumption", test_overconsumption},
	{"ratelimiter", test_ratelimiter},
};

UNIT_MAIN("tbucket", tests)
