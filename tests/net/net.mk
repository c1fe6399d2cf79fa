# Initramfs for the network tests (issue 9): tests/net/init.sh as /init, with the default
# guest's busybox and modules (guest/guest.mk). `make test` builds it (net-initrd);
# tests/net/suite.sh boots it with user networking and with a tap in a network namespace.

NET_TEST_INITRD	:= build/net/net-initrd.img

.PHONY: net-initrd
net-initrd: $(NET_TEST_INITRD)

$(NET_TEST_INITRD): tests/net/init.sh scripts/mkinitramfs.sh guest-cache/out/busybox \
		    guest-cache/out/modules/modules.load
	@mkdir -p $(dir $@)
	@scripts/mkinitramfs.sh --init tests/net/init.sh --out $@
