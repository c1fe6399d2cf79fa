# Multi-hart bare-metal tests (tests/smp/smp.S, wtlb.S, sb.S, sb_amo.S), run by tests/smp/suite.sh under
# the ASan+UBSan and ThreadSanitizer builds.
SMP_ELF := build/guests-smp/smp.elf
SMP_WTLB_ELF := build/guests-smp/wtlb.elf
SMP_SB_ELF := build/guests-smp/sb.elf
SMP_SB_AMO_ELF := build/guests-smp/sb_amo.elf

guests: $(SMP_ELF) $(SMP_WTLB_ELF) $(SMP_SB_ELF) $(SMP_SB_AMO_ELF)

$(SMP_ELF): tests/smp/smp.S tests/guests/common/guest.h tests/guests/common/link.ld
	@mkdir -p $(dir $@)
	@if command -v riscv64-linux-gnu-gcc >/dev/null; then \
		echo "  RVCC    $@"; \
		riscv64-linux-gnu-gcc -nostdlib -nostartfiles -static -march=rv64gc -mabi=lp64d \
			-mcmodel=medany -Wl,--build-id=none -Itests/guests/common \
			-T tests/guests/common/link.ld -o $@ $<; \
	fi

$(SMP_WTLB_ELF): tests/smp/wtlb.S tests/guests/common/guest.h tests/guests/common/link.ld
	@mkdir -p $(dir $@)
	@if command -v riscv64-linux-gnu-gcc >/dev/null; then \
		echo "  RVCC    $@"; \
		riscv64-linux-gnu-gcc -nostdlib -nostartfiles -static -march=rv64gc -mabi=lp64d \
			-mcmodel=medany -Wl,--build-id=none -Itests/guests/common \
			-T tests/guests/common/link.ld -o $@ $<; \
	fi

$(SMP_SB_ELF): tests/smp/sb.S tests/guests/common/guest.h tests/guests/common/link.ld
	@mkdir -p $(dir $@)
	@if command -v riscv64-linux-gnu-gcc >/dev/null; then \
		echo "  RVCC    $@"; \
		riscv64-linux-gnu-gcc -nostdlib -nostartfiles -static -march=rv64gc -mabi=lp64d \
			-mcmodel=medany -Wl,--build-id=none -Itests/guests/common \
			-T tests/guests/common/link.ld -o $@ $<; \
	fi

$(SMP_SB_AMO_ELF): tests/smp/sb_amo.S tests/guests/common/guest.h tests/guests/common/link.ld
	@mkdir -p $(dir $@)
	@if command -v riscv64-linux-gnu-gcc >/dev/null; then \
		echo "  RVCC    $@"; \
		riscv64-linux-gnu-gcc -nostdlib -nostartfiles -static -march=rv64gc -mabi=lp64d \
			-mcmodel=medany -Wl,--build-id=none -Itests/guests/common \
			-T tests/guests/common/link.ld -o $@ $<; \
	fi
