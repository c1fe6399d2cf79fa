# Multi-hart bare-metal tests (tests/smp/*.S: smp, wtlb, sb, sb_amo), run by
# tests/smp/suite.sh under the ASan+UBSan and ThreadSanitizer builds.
SMP_ELFS := $(patsubst tests/smp/%.S,build/guests-smp/%.elf,$(wildcard tests/smp/*.S))

guests: $(SMP_ELFS)

$(SMP_ELFS): build/guests-smp/%.elf: tests/smp/%.S tests/smp/sb.h tests/guests/common/guest.h \
		tests/guests/common/link.ld
	@mkdir -p $(dir $@)
	@if command -v riscv64-linux-gnu-gcc >/dev/null; then \
		echo "  RVCC    $@"; \
		riscv64-linux-gnu-gcc -nostdlib -nostartfiles -static -march=rv64gc -mabi=lp64d \
			-mcmodel=medany -Wl,--build-id=none -Itests/guests/common \
			-T tests/guests/common/link.ld -o $@ $<; \
	fi
