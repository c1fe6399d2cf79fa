/*
 * libFuzzer target: the text front end (src/wasm/text) on arbitrary text. Each input is
 * read as a .wat module and as a .wast script. A module that encodes must be well-formed
 * binary as far as the encoder is concerned: if the decoder calls it malformed, the
 * encoder wrote a wrong binary, and the target aborts (the validator may still reject it:
 * text that is well-formed can be ill-typed; the engine's limit on locals is malformed
 * binary too). Every error must carry a message, and a
 * position inside the input. Every other outcome is fine: the input is untrusted.
 */
#include "wasm/text/script.h"
#include "wasm/text/text.h"
#include "wasm/wasm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t lines(const uint8_t *data, size_t size)
{
	uint32_t n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n' || (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n'));
	return n;
}

static void check_error(const struct wasm_text_error *err, uint32_t nlines)
{
	if (!err->detail[0] || err->line > nlines) {
		fprintf(stderr, "fuzz_wat: bad error: line %u of %u: '%s'\n", err->line, nlines,
			err->detail);
		abort();
	}
}

/* A binary the encoder made: the decoder may reject it as invalid, never as malformed. */
static void check_binary(const struct wasm_text_binary *b)
{
	struct wasm_module *m;
	struct wasm_error err;
	uint32_t line, col;
	char msg[320];

	if (wasm_module_load(b->bytes, b->len, &m, &err) == 0) {
		wasm_module_destroy(m);
		return;
	}
	wasm_error_format(&err, msg, sizeof(msg));
	(void)wasm_text_locate(b, err.offset, &line, &col);
	/* more locals than the engine takes (50000) is a limit, not a wrong encoding */
	if (err.kind == WASM_ERR_MALFORMED && strcmp(err.detail, "too many locals") != 0) {
		fprintf(stderr, "fuzz_wat: the encoder wrote a malformed binary: %s\n", msg);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wasm_text_binary b;
	struct wasm_text_error err;
	struct wasm_script *s;
	uint32_t n = lines(data, size);

	if (wasm_text_to_binary((const char *)data, size, &b, &err) == 0) {
		check_binary(&b);
		wasm_text_binary_fini(&b);
	} else {
		check_error(&err, n);
	}
	if (wasm_script_parse((const char *)data, size, &s, &err) == 0) {
		for (size_t i = 0; i < wasm_script_count(s); i++) {
			const struct wasm_script_cmd *c = wasm_script_get(s, i);
			if (c->module.form == WASM_SCRIPT_TEXT && !c->module.text_failed &&
			    c->module.bin.bytes)
				check_binary(&c->module.bin);
		}
		wasm_script_destroy(s);
	} else {
		check_error(&err, n);
	}
	return 0;
}
