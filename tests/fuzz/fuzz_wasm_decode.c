/*
 * libFuzzer target: the WebAssembly front end (decode, validate, compile) on arbitrary
 * bytes. A module that loads is also walked through the import API and destroyed, so
 * leaks and use-after-free in the module's own data show up under ASan. Every outcome
 * other than a crash or a sanitizer report is fine: the input is untrusted.
 */
#include "wasm/wasm.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wasm_module *m;
	struct wasm_error err;
	char msg[320];

	if (wasm_module_load(data, size, &m, &err)) {
		/* the message must be printable for any error the input can cause */
		wasm_error_format(&err, msg, sizeof(msg));
		return 0;
	}
	for (uint32_t i = 0; i < wasm_module_import_count(m); i++) {
		const char *mod, *name;
		enum wasm_extern_kind kind;
		wasm_module_import(m, i, &mod, &name, &kind);
		(void)wasm_module_import_functype(m, i);
	}
	wasm_module_destroy(m);
	return 0;
}
