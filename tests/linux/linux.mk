# Initramfs images for the Linux boot tests (issue 3): tests/linux/test-init.sh as /init,
# with the default guest's busybox and modules (guest/guest.mk). Each variant differs only
# in /etc/lodge-end, which tells the test init how to end the machine (see the script;
# the kernel command line lodge.end=NAME overrides it).
#   build/linux/test-initrd.img         facts, then poweroff -f
#   build/linux/test-initrd-reboot.img  facts, then reboot -f
#   build/linux/test-initrd-panic.img   facts, then a kernel panic (sysrq crash)

LINUX_TEST_ENDS		:= reboot panic
LINUX_TEST_INITRDS	:= build/linux/test-initrd.img \
			   $(LINUX_TEST_ENDS:%=build/linux/test-initrd-%.img)
LINUX_TEST_DEPS		:= tests/linux/test-init.sh scripts/mkinitramfs.sh \
			   guest-cache/out/busybox guest-cache/out/modules/modules.load

.PHONY: linux-initrds
linux-initrds: $(LINUX_TEST_INITRDS)

build/linux/test-initrd.img: $(LINUX_TEST_DEPS)
	@mkdir -p $(dir $@)
	@echo poweroff > $@.end
	@scripts/mkinitramfs.sh --init tests/linux/test-init.sh --out $@ --extra $@.end:/etc/lodge-end
	@rm -f $@.end

build/linux/test-initrd-%.img: $(LINUX_TEST_DEPS)
	@mkdir -p $(dir $@)
	@echo $* > $@.end
	@scripts/mkinitramfs.sh --init tests/linux/test-init.sh --out $@ --extra $@.end:/etc/lodge-end
	@rm -f $@.end
