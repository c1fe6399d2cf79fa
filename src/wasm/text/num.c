/*
 * Numeric literals of the text format (Wasm core 2.0, 6.3.1 integers, 6.3.2 floats):
 * decimal and hexadecimal, with '_' between digits, signs, inf, nan and nan:0xPAYLOAD.
 * The lexer has already checked the form of each token; this converts it. Floats are
 * rounded to nearest, ties to even, directly to the target width (glibc's strtof/strtod
 * are exact for decimal and hexadecimal input), and a finite literal that rounds to
 * infinity is out of range.
 */
#include "wasm/text/syntax.h"

#include "core/alloc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int text_nat(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0, base = 10;

	if (n > 2 && s[0] == '0' && s[1] == 'x') {
		base = 16;
		s += 2;
		n -= 2;
	}
	for (size_t i = 0; i < n; i++) {
		int d = digit_value(s[i]);
		if (s[i] == '_')
			continue;
		if (d < 0 || (uint64_t)d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -ERANGE;
		v = v * base + (uint64_t)d;
	}
	*out = v;
	return 0;
}

int text_int(const char *s, size_t n, unsigned bits, uint64_t *out)
{
	uint64_t v, umax = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
	uint64_t half = 1ull << (bits - 1);
	int rc;

	if (n && (s[0] == '-' || s[0] == '+')) {
		rc = text_nat(s + 1, n - 1, &v);
		if (rc)
			return rc;
		/* sN (6.3.1): +n for n < 2^(N-1), -n for n <= 2^(N-1) */
		if (s[0] == '+' ? v >= half : v > half)
			return -ERANGE;
		*out = (s[0] == '-' ? 0 - v : v) & umax;
		return 0;
	}
	rc = text_nat(s, n, &v);
	if (rc)
		return rc;
	if (v > umax)
		return -ERANGE;
	*out = v;
	return 0;
}

/* nan:0xN (payload N, 1 <= N < 2^mant) or nan (the canonical payload 2^(mant-1)). */
static int nan_bits(const char *p, size_t n, bool neg, unsigned bits, uint64_t *out)
{
	unsigned mant = bits == 32 ? 23 : 52;
	uint64_t exp = bits == 32 ? 0x7f800000ull : 0x7ff0000000000000ull;
	uint64_t payload = 1ull << (mant - 1);

	if (n > 4) {
		int rc = text_nat(p + 4, n - 4, &payload);
		if (rc)
			return rc;
		if (payload == 0 || payload >= 1ull << mant)
			return -ERANGE;
	}
	*out = (neg ? 1ull << (bits - 1) : 0) | exp | payload;
	return 0;
}

int text_float(const char *s, size_t n, unsigned bits, uint64_t *out)
{
	char small[512], *buf = small, *end;
	const char *p = s;
	bool neg = false;
	size_t k = 0;
	int rc = 0;

	if (n && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		p++;
	}
	if ((size_t)(s + n - p) >= 3 && !memcmp(p, "nan", 3))
		return nan_bits(p, (size_t)(s + n - p), neg, bits, out);
	if (n >= sizeof(small)) {
		buf = core_alloc(n + 1);
		if (!buf)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			buf[k++] = s[i];
	buf[k] = 0;
	errno = 0;
	if (bits == 32) {
		float f = strtof(buf, &end);
		uint32_t u;
		if (isinf(f) && !strstr(buf, "inf"))
			rc = -ERANGE;
		memcpy(&u, &f, 4);
		*out = u;
	} else {
		double d = strtod(buf, &end);
		if (isinf(d) && !strstr(buf, "inf"))
			rc = -ERANGE;
		memcpy(out, &d, 8);
	}
	if (!rc && *end)
		rc = -EINVAL;
	if (buf != small)
		core_free(buf);
	return rc;
}
