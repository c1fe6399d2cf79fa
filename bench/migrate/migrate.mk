# Live-migration benchmark (issue 11): `make bench-migrate` builds the release Lodge and
# runs bench/migrate/run: total time and downtime of migrating the default guest over
# 127.0.0.1, idle and while it writes memory, side by side with QEMU (TCG, -incoming tcp:),
# then a guest with a disk being written: its blocks copied, then on shared storage.

.PHONY: bench-migrate bench-migrate-wasm

bench-migrate: guest-cache/out/Image guest-cache/out/fw_dynamic.bin guest-cache/out/initrd.img
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/migrate/run

# A WebAssembly app's live migration (bench/migrate/wasm: 64 MiB of memory; stop and copy, pre-copy, post-copy),
# against the same move by hand (snapshot, then --restore) in the same invocation.
bench-migrate-wasm:
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/migrate/wasm
