/*
 * Module-provided names made safe for a terminal. A name from the name section, an export
 * or an import is whatever bytes the module's author chose: newlines that forge a second
 * report line, escape sequences that rewrite the screen, bidirectional overrides that
 * reorder what is shown, megabytes of text. Every message that shows such a name runs it
 * through wasm_name_escape() first (trap reports, link errors).
 */
#include "wasm/wasm.h"

#include <stdio.h>
#include <string.h>

/* Code points shown escaped although UTF-8 encodes them validly: C1 controls (0x9b is a
 * CSI on some terminals), zero-width and bidirectional formatting, line separators. */
static bool hidden_cp(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) and its code point, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t min, v;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, min = 0x80, v = s[0] & 0x1fu;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, v = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, min = 0x10000, v = s[0] & 0x07u;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[k] & 0x3fu);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* Writes the text for the character at s[0..n) to piece; returns the bytes of s used. */
static size_t escape_one(const unsigned char *s, size_t n, char piece[16], size_t *plen)
{
	uint32_t cp;
	size_t len;

	if (s[0] == '\\' || s[0] == '"') {
		piece[0] = '\\', piece[1] = (char)s[0], *plen = 2;
		return 1;
	}
	if (s[0] >= 0x20 && s[0] < 0x7f) {
		piece[0] = (char)s[0], *plen = 1;
		return 1;
	}
	len = s[0] >= 0x80 ? utf8_seq(s, n, &cp) : 0;
	if (len && !hidden_cp(cp)) {
		memcpy(piece, s, len);
		*plen = len;
		return len;
	}
	if (len) {
		*plen = (size_t)snprintf(piece, 16, "\\u{%x}", cp);
		return len;
	}
	*plen = (size_t)snprintf(piece, 16, "\\x%02x", s[0]);
	return 1;
}

const char *wasm_name_escape(const char *name, size_t len, char *buf, size_t size)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t o = 0, keep = 0, i = 0;

	if (size < 4) {
		if (size)
			buf[0] = 0;
		return buf;
	}
	while (i < len) {
		char piece[16];
		size_t plen, used = escape_one(s + i, len - i, piece, &plen);

		if (o + plen > size - 1) {
			memcpy(buf + keep, "...", 3);
			o = keep + 3;
			break;
		}
		memcpy(buf + o, piece, plen);
		o += plen;
		i += used;
		if (o + 3 <= size - 1)
			keep = o;
	}
	buf[o] = 0;
	return buf;
}

/* ----- legacy exception handling ----- */

static const struct {
	uint8_t opcode;
	const char *name;
} legacy_eh[] = {
	{0x06, "try"}, {0x07, "catch"}, {0x09, "rethrow"}, {0x18, "delegate"}, {0x19, "catch_all"}};

const char *wasm_legacy_eh_name(uint32_t opcode)
{
	for (size_t i = 0; i < sizeof(legacy_eh) / sizeof(legacy_eh[0]); i++)
		if (legacy_eh[i].opcode == opcode)
			return legacy_eh[i].name;
	return NULL;
}

int wasm_legacy_eh_opcode(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(legacy_eh) / sizeof(legacy_eh[0]); i++)
		if (strlen(legacy_eh[i].name) == len && !memcmp(legacy_eh[i].name, name, len))
			return legacy_eh[i].opcode;
	return -1;
}
