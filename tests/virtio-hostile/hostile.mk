# The hostile virtio driver (tests/virtio-hostile/hostile.c): a bare-metal C program built
# like tests/guests' C programs (common/crt0.S and runtime.c, linked at 0x80000000), run by
# tests/virtio-hostile/suite.sh. Included by the top Makefile after tests/guests/guests.mk;
# `make guests` builds it when the riscv64 cross compiler is there.
HOSTILE_ELF	:= build/virtio-hostile/hostile.elf

ifneq ($(shell command -v $(GUEST_CC) 2>/dev/null),)
guests: $(HOSTILE_ELF)
endif

$(HOSTILE_ELF): tests/virtio-hostile/hostile.c tests/virtio-hostile/hostile.mk $(GUEST_RT) \
		$(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_ARCH) $(GUEST_FLAGS) $(GUEST_CFLAGS) $(GUEST_LD) -o $@ $(GUEST_RT) $<
