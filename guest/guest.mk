# The default guest (issue 3): Debian trixie riscv64 kernel, OpenSBI and busybox, fetched
# by scripts/fetch-guest.sh into guest-cache/ (ignored by git) and packed into an
# initramfs by scripts/mkinitramfs.sh. `make guest` is quick once the cache is filled;
# `scripts/fetch-guest.sh --refresh` fetches the newest packages again.

GUEST_OUT	:= guest-cache/out
GUEST_FETCHED	:= $(GUEST_OUT)/Image $(GUEST_OUT)/fw_dynamic.bin $(GUEST_OUT)/fw_jump.bin \
		   $(GUEST_OUT)/busybox $(GUEST_OUT)/modules/modules.load
GUEST_INITRD	:= $(GUEST_OUT)/initrd.img
GUEST_FILES	:= $(GUEST_OUT)/Image $(GUEST_OUT)/fw_dynamic.bin $(GUEST_OUT)/fw_jump.bin \
		   $(GUEST_INITRD)

.PHONY: guest
guest: $(GUEST_FILES)

# One run of the script makes all of them (grouped target, GNU make 4.3).
$(GUEST_FETCHED) &: scripts/fetch-guest.sh
	@scripts/fetch-guest.sh

$(GUEST_INITRD): $(GUEST_FETCHED) scripts/mkinitramfs.sh guest/init guest/udhcpc.sh
	@scripts/mkinitramfs.sh --init guest/init --out $@ --extra guest/udhcpc.sh:/etc/udhcpc.sh

# make run's scratch disk: created once, kept across runs (delete it to start afresh).
GUEST_SCRATCH	:= $(GUEST_OUT)/scratch.qcow2
$(GUEST_SCRATCH): | $(GUEST_OUT)/Image
	build/lodge disk create $@ 1G
