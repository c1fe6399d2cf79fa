# WASI programs (owned by the wasm engine). Included by the Makefile.
#   make wasi-programs   build each tests/wasi-programs/NAME.c twice, into
#                        build/wasi-programs/: NAME.wasm (clang --target=wasm32-wasi with
#                        Debian's wasi-libc) and NAME.native (gcc), for tests/wasi-programs/suite.sh.
# `make unit` builds them too when the toolchain is installed (packages clang, lld,
# wasi-libc, libclang-rt-14-dev-wasm32); without it the suite reports SKIP.

WASI_CC		?= clang
WASI_CFLAGS	:= --target=wasm32-wasi -O2 -Wall -Wextra -Werror
WASI_NATIVE_CFLAGS := -O2 -Wall -Wextra -Werror
WASI_PROG_NAMES	:= textstat dirwalk clockrand
WASI_PROG_OUT	:= build/wasi-programs
WASI_PROGS	:= $(WASI_PROG_NAMES:%=$(WASI_PROG_OUT)/%.wasm) \
		   $(WASI_PROG_NAMES:%=$(WASI_PROG_OUT)/%.native)
WASI_TOOLCHAIN	:= $(and $(wildcard /usr/lib/wasm32-wasi/libc.a),$(shell command -v $(WASI_CC)))

.PHONY: wasi-programs

wasi-programs: $(WASI_PROGS)

$(WASI_PROG_OUT)/%.wasm: tests/wasi-programs/%.c
	@mkdir -p $(dir $@)
	@echo "  WASI-CC $@"
	@$(WASI_CC) $(WASI_CFLAGS) -o $@ $<

$(WASI_PROG_OUT)/%.native: tests/wasi-programs/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@gcc $(WASI_NATIVE_CFLAGS) -o $@ $<

ifneq ($(WASI_TOOLCHAIN),)
unit: $(WASI_PROGS)
endif
