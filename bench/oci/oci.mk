# Container start-up benchmark (issue 13; bench/oci/run). Included by the Makefile.
#   make bench-oci    time from `podman run` to the first output line: a Wasm and a riscv64
#                     image under Lodge, beside crun (its Wasm handler if it has one, else a
#                     native container) and the riscv64 image under qemu-user (binfmt).
#                     BENCH_RUNS=N repeats (5). Needs root and scripts/install-deps.sh.

.PHONY: bench-oci

bench-oci: oci-guest
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge bench/oci/run
