# Replication benchmark (issue 11): `make bench-replicate` builds the release Lodge and
# runs bench/replicate/run: the achieved interval between checkpoints (RPO), the guest's
# pause per checkpoint and the slowdown of a memory-writing workload at 100, 50 and 25 ms
# intervals, against the same workload unreplicated in the same invocation; then the
# same for a WebAssembly program (bench/replicate/wasm, also `make bench-replicate-wasm`,
# which needs no guest images).

.PHONY: bench-replicate bench-replicate-wasm

bench-replicate: guest-cache/out/Image guest-cache/out/fw_dynamic.bin guest-cache/out/initrd.img
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/replicate/run
	BENCH_LODGE=build/release/lodge bench/replicate/wasm

bench-replicate-wasm:
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/replicate/wasm
