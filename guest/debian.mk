# The Debian disk (issue 9): `make debian` builds guest-cache/debian/debian.qcow2, a Debian
# trixie riscv64 root file system (systemd, udev, openssh-server, iproute2, apt) made by
# scripts/mkdebian.sh: debootstrap's first stage on the host, the second stage inside a
# Lodge guest. It boots with the default guest's kernel (guest/guest.mk) and its own
# initramfs (guest/debian/init). The image is rebuilt when the build script, the second
# stage or the overlay files change; delete guest-cache/debian/debian.qcow2 to rebuild it
# otherwise. guest-cache/debian/id_ed25519 is the key for ssh root@.
#
# make run-debian [CPUS=2] [DEBIAN_MEM=1G] [DEBIAN_NET=...]: boots the image itself (changes
#   persist) to a login prompt on this terminal (root, no password on the console); with
#   the default DEBIAN_NET, `ssh -i guest-cache/debian/id_ed25519 -p 2222 root@127.0.0.1`.
#   `poweroff` in the guest ends Lodge with status 0.
# make test-debian: tests/debian/suite.sh (boot, ssh, persistence, apt-get update,
#   poweroff) on copy-on-write overlays of the image, with the release build.

DEBIAN_DIR	:= guest-cache/debian
DEBIAN_IMG	:= $(DEBIAN_DIR)/debian.qcow2
DEBIAN_INITRD	:= $(DEBIAN_DIR)/initrd.img
DEBIAN_MEM	?= 1G
DEBIAN_NET	?= user,hostfwd=tcp:127.0.0.1:2222-:22
DEBIAN_APPEND	?= console=ttyS0

.PHONY: debian run-debian test-debian

$(DEBIAN_INITRD): guest/debian/init scripts/mkinitramfs.sh $(GUEST_FETCHED)
	@mkdir -p $(dir $@)
	@scripts/mkinitramfs.sh --init guest/debian/init --out $@

$(DEBIAN_IMG): scripts/mkdebian.sh guest/debian/stage2.sh \
		$(shell find guest/debian/overlay -type f 2>/dev/null) \
		| $(DEBIAN_INITRD) $(GUEST_FILES)
	scripts/mkdebian.sh

debian:
	@$(MAKE) --no-print-directory MODE=release lodge
	@$(MAKE) --no-print-directory $(DEBIAN_INITRD) $(DEBIAN_IMG)

run-debian: debian
	build/release/lodge run --kernel $(GUEST_OUT)/Image --initrd $(DEBIAN_INITRD) \
		--firmware $(GUEST_OUT)/fw_dynamic.bin --cpus $(CPUS) --mem $(DEBIAN_MEM) \
		--disk $(DEBIAN_IMG) --net $(DEBIAN_NET) --append "$(DEBIAN_APPEND)"

test-debian: debian
	@LODGE_DEBIAN_TEST=1 tests/run.sh --suite debian build/release

# Benchmarks on the Debian disk against QEMU (bench/boot-debian, bench/disk,
# bench/net/iperf3; each --help says what it measures). bench-disk and bench-iperf3 first
# make guest-cache/debian/bench.qcow2 (a copy with fio and iperf3 installed by apt-get in
# the guest) when it is missing or older than the image.
.PHONY: bench-boot-debian bench-disk bench-iperf3
bench-boot-debian: debian
	BENCH_LODGE=build/release/lodge bench/boot-debian
bench-disk: debian
	BENCH_LODGE=build/release/lodge bench/disk
bench-iperf3: debian
	BENCH_LODGE=build/release/lodge bench/net/iperf3
