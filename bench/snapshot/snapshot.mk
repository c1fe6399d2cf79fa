# Snapshot benchmark (issue 11): `make bench-snapshot` builds the release Lodge and runs
# bench/snapshot/run: snapshot time (paused) and size, and restore time, of the default
# guest with 256 MiB of which 200 MiB are touched, zstd and raw (lazy) RAM.

.PHONY: bench-snapshot

bench-snapshot: guest-cache/out/Image guest-cache/out/fw_dynamic.bin guest-cache/out/initrd.img
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/snapshot/run

# A WebAssembly app's snapshot and restore (bench/snapshot/wasm: 64 MiB of memory, half
# noise), interpreted and with the JIT, against a cold start of the same app.
.PHONY: bench-snapshot-wasm

bench-snapshot-wasm:
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/snapshot/wasm

# A snapshot's pause with "disks": "copy" on a disk holding 1 GiB of data, the copy made
# paused against made while the guest runs ("resume": true) (bench/snapshot/disk).
.PHONY: bench-snapshot-disk

bench-snapshot-disk: guest-cache/out/Image guest-cache/out/fw_dynamic.bin guest-cache/out/initrd.img
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/snapshot/disk
