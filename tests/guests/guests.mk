# Guest test programs (included by the top Makefile). `make guests` builds every
# tests/guests/*.S and *.c into build/guests/NAME.elf: bare-metal RV64GC programs linked
# at 0x80000000 by common/link.ld. C programs link with the runtime in common/ (crt0.S,
# runtime.c). build/guests/cli/ gets the odd ELFs that tests/cli/suite.sh feeds to
# `lodge run --bare` (32-bit, segments outside RAM). Without riscv64-linux-gnu-gcc the
# target prints a note and builds nothing; tests/guests/suite.sh then reports SKIP.

GUEST_CC	?= riscv64-linux-gnu-gcc
GUEST_SRC	:= tests/guests
GUEST_OUT	:= build/guests
GUEST_ARCH	:= -march=rv64gc -mabi=lp64d -mcmodel=medany
GUEST_FLAGS	:= -nostdlib -nostartfiles -static -fno-pic -no-pie -I$(GUEST_SRC)/common \
		   -Wl,--build-id=none -Wl,--no-warn-rwx-segments
GUEST_LD	:= -T $(GUEST_SRC)/common/link.ld
GUEST_CFLAGS	:= -O2 -ffreestanding -fno-stack-protector -Wall -Wextra -Werror -Wno-comment
GUEST_DEPS	:= $(wildcard $(GUEST_SRC)/common/*.h) $(GUEST_SRC)/common/link.ld \
		   $(GUEST_SRC)/guests.mk
GUEST_RT	:= $(GUEST_SRC)/common/crt0.S $(GUEST_SRC)/common/runtime.c

GUEST_ELFS	:= $(patsubst $(GUEST_SRC)/%.S,$(GUEST_OUT)/%.elf,$(wildcard $(GUEST_SRC)/*.S)) \
		   $(patsubst $(GUEST_SRC)/%.c,$(GUEST_OUT)/%.elf,$(wildcard $(GUEST_SRC)/*.c))

# For tests/cli/suite.sh, all from loop.S (it assembles for RV32 too):
#   rv32.elf        a 32-bit RISC-V ELF
#   beyond_ram.elf  loads at 0x80200000: outside RAM when run with --mem 1M
#   unmapped.elf    loads at 0x40000000, where the machine has nothing
GUEST_CLI_ELFS	:= $(GUEST_OUT)/cli/rv32.elf $(GUEST_OUT)/cli/beyond_ram.elf \
		   $(GUEST_OUT)/cli/unmapped.elf

ifeq ($(shell command -v $(GUEST_CC) 2>/dev/null),)
guests:
	@echo "note: $(GUEST_CC) not found, guest programs not built" \
	      "(install gcc-riscv64-linux-gnu; see scripts/install-deps.sh)"
else
guests: $(GUEST_ELFS) $(GUEST_CLI_ELFS)
endif

$(GUEST_OUT)/%.elf: $(GUEST_SRC)/%.S $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_ARCH) $(GUEST_FLAGS) $(GUEST_LD) -o $@ $<

$(GUEST_OUT)/%.elf: $(GUEST_SRC)/%.c $(GUEST_RT) $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_ARCH) $(GUEST_FLAGS) $(GUEST_CFLAGS) $(GUEST_LD) -o $@ \
		$(GUEST_RT) $<

$(GUEST_OUT)/cli/rv32.elf: $(GUEST_SRC)/loop.S $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(GUEST_CC) -march=rv32i -mabi=ilp32 $(GUEST_FLAGS) $(GUEST_LD) -o $@ $<

$(GUEST_OUT)/cli/beyond_ram.elf: $(GUEST_SRC)/loop.S $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_ARCH) $(GUEST_FLAGS) $(GUEST_LD) \
		-Wl,--section-start=.text.init=0x80200000 -o $@ $<

$(GUEST_OUT)/cli/unmapped.elf: $(GUEST_SRC)/loop.S $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_ARCH) $(GUEST_FLAGS) $(GUEST_LD) \
		-Wl,--section-start=.text.init=0x40000000 -o $@ $<
