# Network benchmark (issue 9): `make bench-net` builds the release Lodge, the guest, the
# benchmark initramfs (bench/net/net-init.sh + busybox + modules + /bin/netbench, the
# static riscv64 build of bench/net/netbench.c) and runs bench/net/run: guest-to-host TCP
# throughput over user networking and over a tap, Lodge against qemu-system-riscv64.
# BENCH_NET_RUNS, BENCH_NET_SECS, ...: see bench/net/run --help.

BENCH_NET_DIR	:= build/bench/net
BENCH_NET_RVCC	?= riscv64-linux-gnu-gcc

.PHONY: bench-net

$(BENCH_NET_DIR)/netbench-rv64: bench/net/netbench.c
	@mkdir -p $(dir $@)
	$(BENCH_NET_RVCC) -O2 -Wall -Wextra -static -o $@ $<

$(BENCH_NET_DIR)/net-initrd.img: bench/net/net-init.sh $(BENCH_NET_DIR)/netbench-rv64 \
		scripts/mkinitramfs.sh guest-cache/out/busybox guest-cache/out/modules/modules.load
	@mkdir -p $(dir $@)
	@scripts/mkinitramfs.sh --init bench/net/net-init.sh --out $@ \
		--extra $(BENCH_NET_DIR)/netbench-rv64:/bin/netbench

bench-net: $(BENCH_NET_DIR)/net-initrd.img guest-cache/out/Image guest-cache/out/fw_dynamic.bin
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge BENCH_NET_DIR=$(BENCH_NET_DIR) bench/net/run
