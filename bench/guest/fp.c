/*
 * Floating-point CPU benchmark: double matrix multiply, an n-body
 * integration step (sqrt and divide), single-precision series with
 * sqrt/div/min/max, and int<->float conversions. The checksum mixes the
 * raw bits of the results, so Lodge and QEMU must agree bit for bit
 * (including fused multiply-add, which GCC emits at -O2).
 */
#include "bench.h"

#ifndef ROUNDS
#define ROUNDS 192
#endif

#define MAT_N 48
#define BODIES 5
#define NBODY_STEPS 2000
#define SERIES_N 20000

struct body {
	double x, y, z, vx, vy, vz, mass;
};

static double mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];
static struct body bodies[BODIES];

static uint64_t bits_d(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static uint64_t bits_f(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* GCC 12 calls libm for fminf/fmaxf; these are the single instructions. */
static inline float min_f(float a, float b)
{
	float r;

	__asm__("fmin.s %0, %1, %2" : "=f"(r) : "f"(a), "f"(b));
	return r;
}

static inline float max_f(float a, float b)
{
	float r;

	__asm__("fmax.s %0, %1, %2" : "=f"(r) : "f"(a), "f"(b));
	return r;
}

static double uniform(uint64_t *rng)
{
	return (double)(bench_rand(rng) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t matmul_round(uint64_t *rng)
{
	uint64_t h = 0;

	for (int i = 0; i < MAT_N; i++) {
		for (int j = 0; j < MAT_N; j++) {
			mat_a[i][j] = uniform(rng) * 2.0 - 1.0;
			mat_b[i][j] = uniform(rng) * 2.0 - 1.0;
		}
	}
	for (int i = 0; i < MAT_N; i++) {
		for (int j = 0; j < MAT_N; j++) {
			double s = 0.0;

			for (int k = 0; k < MAT_N; k++) {
				s += mat_a[i][k] * mat_b[k][j];
			}
			mat_c[i][j] = s;
		}
	}
	for (int i = 0; i < MAT_N; i++) {
		h = bench_mix(h, bits_d(mat_c[i][(i * 5) % MAT_N]));
	}
	return h;
}

static void nbody_init(uint64_t *rng)
{
	for (int i = 0; i < BODIES; i++) {
		struct body *b = &bodies[i];

		b->x = uniform(rng) * 10.0 - 5.0;
		b->y = uniform(rng) * 10.0 - 5.0;
		b->z = uniform(rng) * 10.0 - 5.0;
		b->vx = uniform(rng) - 0.5;
		b->vy = uniform(rng) - 0.5;
		b->vz = uniform(rng) - 0.5;
		b->mass = 0.5 + uniform(rng) * 2.0;
	}
}

static void nbody_step(double dt)
{
	for (int i = 0; i < BODIES; i++) {
		struct body *a = &bodies[i];

		for (int j = i + 1; j < BODIES; j++) {
			struct body *b = &bodies[j];
			double dx = a->x - b->x, dy = a->y - b->y, dz = a->z - b->z;
			double d2 = dx * dx + dy * dy + dz * dz + 0.01;
			double mag = dt / (d2 * __builtin_sqrt(d2));

			a->vx -= dx * b->mass * mag;
			a->vy -= dy * b->mass * mag;
			a->vz -= dz * b->mass * mag;
			b->vx += dx * a->mass * mag;
			b->vy += dy * a->mass * mag;
			b->vz += dz * a->mass * mag;
		}
	}
	for (int i = 0; i < BODIES; i++) {
		bodies[i].x += dt * bodies[i].vx;
		bodies[i].y += dt * bodies[i].vy;
		bodies[i].z += dt * bodies[i].vz;
	}
}

static double nbody_energy(void)
{
	double e = 0.0;

	for (int i = 0; i < BODIES; i++) {
		struct body *a = &bodies[i];

		e += 0.5 * a->mass * (a->vx * a->vx + a->vy * a->vy + a->vz * a->vz);
		for (int j = i + 1; j < BODIES; j++) {
			struct body *b = &bodies[j];
			double dx = a->x - b->x, dy = a->y - b->y, dz = a->z - b->z;

			e -= a->mass * b->mass / __builtin_sqrt(dx * dx + dy * dy + dz * dz + 0.01);
		}
	}
	return e;
}

/* Single-precision series: sqrt, divide, min/max, conversions. */
static uint64_t series_round(uint32_t round)
{
	float sum = 0.0f, alt = 0.0f, lo = 1e30f, hi = -1e30f;
	int64_t isum = 0;

	for (uint32_t i = 1; i <= SERIES_N; i++) {
		float x = (float)(i + round);
		float r = __builtin_sqrtf(x) / (x + 1.5f);

		sum += r;
		alt += (i & 1) ? 1.0f / x : -1.0f / x;
		lo = min_f(lo, r);
		hi = max_f(hi, r * (float)(i % 17));
		isum += (int64_t)(r * 1000000.0f);
	}
	return bits_f(sum) ^ (bits_f(alt) << 32) ^ bits_f(lo) ^ ((uint64_t)bits_f(hi) << 16) ^
	       (uint64_t)isum;
}

int main(void)
{
	uint64_t rng = 0xC0FFEE1234ULL, sum = 0;

	for (uint32_t round = 0; round < ROUNDS; round++) {
		sum = bench_mix(sum, matmul_round(&rng));
		nbody_init(&rng);
		for (int s = 0; s < NBODY_STEPS; s++) {
			nbody_step(0.001);
		}
		sum = bench_mix(sum, bits_d(nbody_energy()));
		sum = bench_mix(sum, series_round(round));
	}
	bench_checksum("fp", sum);
	return 0;
}
