# Lodge build. `make` builds build/lodge (release); `make test` builds the ASan+UBSan
# variant plus all test programs and runs every suite. Objects live in build/<mode>/.
# Modes: release (default), asan (ASan+UBSan), tsan, debug, coverage.

MODE	?= release
CC	?= gcc
BUILD	:= build/$(MODE)
WERROR	?= 1

WARN	:= -Wall -Wextra -Wshadow -Wundef -Wwrite-strings -Wstrict-prototypes \
	   -Wmissing-prototypes -Wmissing-declarations -Wold-style-definition \
	   -Wredundant-decls -Wformat=2 -Wnested-externs -Wpointer-arith -Wvla \
	   -Wimplicit-fallthrough -Wdouble-promotion
ifeq ($(WERROR),1)
WARN	+= -Werror
endif

BASE_CFLAGS := -std=gnu11 -Isrc $(WARN) -MMD -MP -g -pthread \
	       -fstack-protector-strong -fPIE -D_GNU_SOURCE
# -z pack-relative-relocs: the PIE's ~3,600 relative relocations as DT_RELR (88 KB of
# .rela.dyn become ~1 KB the dynamic loader reads and walks at every start; glibc >= 2.36).
BASE_LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,-z,pack-relative-relocs -pthread
# The libraries Debian also ships as PIC archives are linked statically: every guest is
# a new `lodge` process, and each shared library costs its start-up mapping and symbol
# relocation (about 2 ms of the ~10 ms CPU a Wasm guest takes to start, measured with
# perf stat on this machine); cJSON has no archive. libslirp (with glib and pcre2: another
# ~1.8 ms) is not linked at all: `--net user` dlopen()s it (src/net/slirp.c).
LIBS	:= -Wl,-Bstatic -lfdt -luring -lz -lzstd -lsqlite3 -lseccomp -Wl,-Bdynamic \
	   -lcjson -lm # -lm last: the static SQLite uses it

# LODGE_TEST_HOOKS: build-time hooks the tests use to provoke faults (e.g. a guest that
# makes a system call its seccomp filter forbids); never in release builds.
ifeq ($(MODE),release)
MODE_CFLAGS := -O2 -D_FORTIFY_SOURCE=2 -DNDEBUG
else ifeq ($(MODE),asan)
MODE_CFLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	       -DLODGE_TEST_HOOKS
# -no-pie: the tests start thousands of sanitized processes, and a PIE's dynamic loader
# relocates every pointer in ASan's ~6 MB of instrumented globals at each start, with the
# copy-on-write faults that makes: a fifth of a short `lodge wasm` run's CPU (measured 2.59
# against 2.10 s for 20 runs); the objects stay -fPIE.
MODE_LDFLAGS := -fsanitize=address,undefined -no-pie
else ifeq ($(MODE),tsan)
MODE_CFLAGS := -O1 -fsanitize=thread -fno-omit-frame-pointer
MODE_LDFLAGS := -fsanitize=thread
else ifeq ($(MODE),debug)
MODE_CFLAGS := -O0
else ifeq ($(MODE),coverage)
MODE_CFLAGS := -O0 --coverage
MODE_LDFLAGS := --coverage
else
$(error unknown MODE '$(MODE)': use release, asan, tsan, debug or coverage)
endif

CFLAGS	+= $(BASE_CFLAGS) $(MODE_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS	+= $(BASE_LDFLAGS) $(MODE_LDFLAGS)

# Every .c under src/ belongs to the lodge library except the CLI's main.
# EXCLUDE=dir...: leave source folders out (for bisecting a broken tree).
SRCS	:= $(filter-out $(addsuffix %,$(EXCLUDE)),$(shell find src -name '*.c' | sort))
LIB_SRCS := $(filter-out src/cli/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
HDRS	:= $(shell find src -name '*.h' | sort)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)

.PHONY: all lodge test check unit asan tsan format format-check lint hdrcheck clean \
	guests bench run guest help

all: build/lodge build/lodge-oci

build/lodge: $(BUILD)/lodge
	@mkdir -p build
	ln -sf $(MODE)/lodge build/lodge

# The OCI runtime under the name engines are given (argv[0] "lodge-oci" is `lodge oci`).
build/lodge-oci: $(BUILD)/lodge
	@mkdir -p build
	ln -sf $(MODE)/lodge build/lodge-oci
	ln -sf lodge $(BUILD)/lodge-oci

# --whole-archive: device types register themselves from constructors (devices/device.h),
# so their objects must be linked even though nothing calls them by name.
$(BUILD)/lodge: $(BUILD)/src/cli/main.o $(BUILD)/liblodge.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $(BUILD)/src/cli/main.o -Wl,--whole-archive $(BUILD)/liblodge.a \
		-Wl,--no-whole-archive $(LIBS)

$(BUILD)/liblodge.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) -c -o $@ $<

# Modules that parse untrusted input build with -Wconversion (STYLE.md).
$(BUILD)/src/wasm/%.o: CFLAGS += -Wconversion
$(BUILD)/src/devices/virtio/%.o: CFLAGS += -Wconversion
$(BUILD)/src/host/%.o: CFLAGS += -Wconversion
$(BUILD)/src/disk/%.o: CFLAGS += -Wconversion
$(BUILD)/src/net/%.o: CFLAGS += -Wconversion
$(BUILD)/src/api/%.o: CFLAGS += -Wconversion

$(BUILD)/unit/%: tests/unit/%.c tests/unit/harness.h $(BUILD)/liblodge.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/liblodge.a $(LDFLAGS) $(LIBS)

unit: $(UNIT_BINS)
lodge: $(BUILD)/lodge

# Sanitizer builds, each in its own tree.
asan:
	$(MAKE) MODE=asan lodge unit
tsan:
	$(MAKE) MODE=tsan lodge unit

# Unit tests only (fast).
check: unit
	@tests/run.sh --unit $(BUILD)

# Everything: the ASan+UBSan build runs every suite. The default guest needs Debian's
# package mirror; without it the Linux suite reports SKIPs. LODGE_TEST_STRICT=1 (.ci/run
# sets it) makes every skip not listed in tests/skip-allow.txt a failure.
# Its three builds use every core unless the caller chose with -j (CI and the README run a
# plain `make test`; a fresh clone's builds take about 6 minutes of one core's time).
BUILD_J	= $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))
test: guests
	@$(MAKE) --no-print-directory format-check
	$(MAKE) $(BUILD_J) MODE=asan lodge unit
	$(MAKE) $(BUILD_J) MODE=release lodge
	$(MAKE) $(BUILD_J) MODE=tsan lodge
	@$(MAKE) guest linux-initrds net-initrd oci-guest || echo "make test: no default guest: Linux boot tests will be skipped"
	@tests/run.sh --all build/asan

# Header self-containment: every header compiles on its own.
hdrcheck:
	@for h in $(HDRS); do \
		echo "#include \"$${h#src/}\"" | $(CC) -std=gnu11 -Isrc $(WARN) -fsyntax-only -x c - \
			|| { echo "hdrcheck: $$h is not self-contained"; exit 1; }; \
	done; echo "hdrcheck: $(words $(HDRS)) headers ok"

format:
	clang-format -i $(SRCS) $(HDRS) $(wildcard tests/unit/*.[ch] bench/*.c)

format-check:
	@clang-format --dry-run --Werror $(SRCS) $(HDRS) && echo "format-check: ok"

lint:
	cppcheck --quiet --enable=warning,portability --inline-suppr -Isrc --error-exitcode=1 \
		--suppress=assignBoolToPointer:src/cpu/ops.def src

clean:
	rm -rf build

help:
	@echo "make            build build/lodge"
	@echo "make test       build everything with ASan+UBSan and run every test suite"
	@echo "make check      unit tests only"
	@echo "make guests     build the RISC-V test programs (needs gcc-riscv64-linux-gnu)"
	@echo "make bench      run the benchmarks under bench/"
	@echo "make asan|tsan  sanitizer builds in build/asan, build/tsan"
	@echo "make format | format-check | lint | hdrcheck"

# Area fragments: each test or bench area owns its own make fragment.
-include tests/guests/guests.mk
-include tests/virtio-hostile/hostile.mk
-include tests/diff/diff.mk
-include tests/smp/smp.mk
-include tests/wasm-spec/spec.mk
-include bench/bench.mk
-include bench/linux/linux.mk
-include bench/net/net.mk
-include bench/snapshot/snapshot.mk
-include bench/migrate/migrate.mk
-include bench/replicate/replicate.mk
-include guest/guest.mk
-include guest/debian.mk
-include guest/oci/oci.mk
-include tests/linux/linux.mk
-include tests/net/net.mk
-include tests/fuzz/fuzz.mk
-include tests/disk/disk.mk
-include tests/wasi-programs/programs.mk
-include tests/daemon/daemon.mk
-include bench/wasm/wasm.mk
-include bench/oci/oci.mk
-include bench/host/host.mk

# The main job: build, fetch the default guest, boot it to a shell on this terminal.
# make run CPUS=2 MEM=512M APPEND="console=ttyS0 quiet"
CPUS	?= 1
MEM	?= 256M
# The guest gets a scratch disk (/mnt) and user networking (eth0 by DHCP; NET= overrides,
# e.g. NET="user,hostfwd=tcp:127.0.0.1:8080-:80").
NET	?= user
# Lodge builds on every core (BUILD_J), then the guest is fetched (one step at a time).
run:
	@$(MAKE) --no-print-directory $(BUILD_J) all
	@$(MAKE) --no-print-directory guest $(GUEST_SCRATCH)
	build/lodge run --kernel $(GUEST_OUT)/Image --initrd $(GUEST_OUT)/initrd.img \
		--firmware $(GUEST_OUT)/fw_dynamic.bin --cpus $(CPUS) --mem $(MEM) \
		--disk $(GUEST_SCRATCH) --net $(NET) $(if $(APPEND),--append "$(APPEND)")

-include $(shell find build/$(MODE) -name '*.d' 2>/dev/null)
