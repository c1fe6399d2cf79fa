# WebAssembly spec conformance (owned by the wasm engine). Included by the Makefile.
#   make spec            build the runner for $(MODE) and run the suite (one line per .wast)
#   make wasm-objs       build only src/wasm + src/core objects (independent of the rest)
# The runner links the engine objects directly, so it builds even when other modules do not.

WASM_SRCS	:= $(sort $(wildcard src/wasm/*.c src/wasm/wasi/*.c src/wasm/jit/*.c src/jit/*.c src/wasm/text/*.c))
WASM_OBJS	:= $(WASM_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/src/core/alloc.o $(BUILD)/src/core/log.o \
		   $(BUILD)/src/core/sbuf.o
SPEC_RUNNER	:= $(BUILD)/wasm-spec/spec_runner

.PHONY: spec wasm-objs

wasm-objs: $(WASM_OBJS)

$(SPEC_RUNNER): tests/wasm-spec/spec_runner.c $(WASM_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(WASM_OBJS) $(LDFLAGS) -lm

# `make unit` (and so `make test`) also builds the runner that tests/wasm-spec/suite.sh uses.
unit: $(SPEC_RUNNER)

spec: $(SPEC_RUNNER)
	@LODGE_BUILD=$(CURDIR)/$(BUILD) LODGE_TOP=$(CURDIR) sh tests/wasm-spec/suite.sh
