# Linux benchmarks (issue 3): `make bench-boot` builds the release Lodge, the guest, the
# benchmark initramfs images and the CPU benchmark, then runs bench/boot --cpu (boot time
# and RSS against qemu-system-riscv64, then the in-guest CPU benchmark).
#   build/bench/linux/boot-initrd.img   bench/linux/boot-init.sh + busybox + modules
#   build/bench/linux/cpu-initrd.img    bench/linux/cpu-init.sh + busybox + /bin/cpubench
#   build/bench/linux/cpubench-rv64     bench/linux/cpubench.c, static riscv64
#   build/bench/linux/cpubench-native   the same, native (x86-64), for the slowdown figures
# BENCH_BOOT_RUNS, BENCH_CPU_RUNS, BENCH_HARTS, ... : see bench/boot --help.

BENCH_LINUX_DIR		:= build/bench/linux
BENCH_LINUX_RVCC	?= riscv64-linux-gnu-gcc
BENCH_LINUX_CFLAGS	:= -O2 -ffp-contract=off -Wall -Wextra
BENCH_LINUX_GUEST_DEPS	:= scripts/mkinitramfs.sh guest-cache/out/busybox \
			   guest-cache/out/modules/modules.load
BENCH_LINUX_FILES	:= $(BENCH_LINUX_DIR)/boot-initrd.img $(BENCH_LINUX_DIR)/cpu-initrd.img \
			   $(BENCH_LINUX_DIR)/cpubench-native

.PHONY: bench-boot bench-boot-files

bench-boot-files: $(BENCH_LINUX_FILES) guest-cache/out/Image guest-cache/out/fw_dynamic.bin

$(BENCH_LINUX_DIR)/cpubench-rv64: bench/linux/cpubench.c
	@mkdir -p $(dir $@)
	$(BENCH_LINUX_RVCC) $(BENCH_LINUX_CFLAGS) -static -o $@ $<

$(BENCH_LINUX_DIR)/cpubench-native: bench/linux/cpubench.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_LINUX_CFLAGS) -o $@ $<

$(BENCH_LINUX_DIR)/boot-initrd.img: bench/linux/boot-init.sh $(BENCH_LINUX_GUEST_DEPS)
	@mkdir -p $(dir $@)
	@scripts/mkinitramfs.sh --init bench/linux/boot-init.sh --out $@

$(BENCH_LINUX_DIR)/cpu-initrd.img: bench/linux/cpu-init.sh $(BENCH_LINUX_DIR)/cpubench-rv64 \
		$(BENCH_LINUX_GUEST_DEPS)
	@mkdir -p $(dir $@)
	@scripts/mkinitramfs.sh --no-modules --init bench/linux/cpu-init.sh --out $@ \
		--extra $(BENCH_LINUX_DIR)/cpubench-rv64:/bin/cpubench

bench-boot: bench-boot-files
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge BENCH_LINUX_DIR=$(BENCH_LINUX_DIR) bench/boot --cpu
