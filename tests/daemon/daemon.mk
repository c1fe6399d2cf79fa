# The daemon suite's WebAssembly guest (tests/daemon/service.c), built with the WASI
# toolchain of tests/wasi-programs/programs.mk. Included by the Makefile; `make unit`
# builds it when the toolchain is installed, else tests/daemon/suite.sh reports SKIP.

DAEMON_SERVICE	:= $(BUILD)/daemon/service.wasm

$(DAEMON_SERVICE): tests/daemon/service.c
	@mkdir -p $(dir $@)
	@echo "  WASI-CC $@"
	@$(WASI_CC) $(WASI_CFLAGS) -o $@ $<

ifneq ($(WASI_TOOLCHAIN),)
unit: $(DAEMON_SERVICE)
endif
