# WebAssembly benchmark (bench/wasm/run; owned by the wasm engine). Included by the Makefile.
#   make bench-wasm      build the kernels natively (gcc -O3) and for wasm32-wasi
#                        (clang -O3), build the release Lodge, and compare native code,
#                        `lodge wasm` and Node.js's WASI. BENCH_RUNS=N repeats (3).

BW_OUT		:= build/bench-wasm
BW_KERNELS	:= fib matmul sha256 msort mixed hello
BW_CFLAGS	:= -O3 -Wall -Wextra -Werror
BW_BINS		:= $(BW_KERNELS:%=$(BW_OUT)/%.wasm) $(BW_KERNELS:%=$(BW_OUT)/%.native)

.PHONY: bench-wasm bench-wasm-build

bench-wasm-build: $(BW_BINS)

$(BW_OUT)/%.wasm: bench/wasm/kernels/%.c bench/wasm/kernels/bench.h
	@mkdir -p $(dir $@)
	@echo "  WASI-CC $@"
	@clang --target=wasm32-wasi $(BW_CFLAGS) -o $@ $<

$(BW_OUT)/%.native: bench/wasm/kernels/%.c bench/wasm/kernels/bench.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@gcc $(BW_CFLAGS) -o $@ $<

bench-wasm: bench-wasm-build
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge BENCH_DIR=$(BW_OUT) bench/wasm/run
