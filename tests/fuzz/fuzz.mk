# Fuzzing (owned by the wasm engine). Included by the Makefile.
#   make fuzz                 build the libFuzzer targets with clang and run each for
#                             FUZZ_SECONDS (60); new inputs go to build/fuzz/corpus/<target>,
#                             crashes to build/fuzz/artifacts/ (copy each one into
#                             tests/fuzz/regressions/ once fixed)
#   make fuzz-build           only build them
#   make fuzz-seeds           regenerate the seed corpora from tests/fuzz/seeds/ (*.wat with
#                             wat2wasm, wasm3/*.wat, which Debian's wat2wasm cannot read, with
#                             Lodge's own text front end (bench/wasm/gc/wat2bin.c), kernels.c
#                             with clang for wasm32) and fusion.wat
#   make fuzz-wsnap           restoring WebAssembly snapshots from hostile bytes (fuzz_wsnap.c:
#                             seeds in tests/fuzz/corpus/fuzz_wsnap, real snapshot files made
#                             by tests/fuzz/seeds/wsnap.py; the target makes the checksums
#                             good); fuzz_virtq's hostile restores cover the devices' loads
# `make unit` also builds the libFuzzer-free replay drivers that tests/fuzz/suite.sh runs
# over tests/fuzz/regressions/, with the MODE's compiler and sanitizers.

FUZZ_CC		?= clang
FUZZ_SECONDS	?= 60
FUZZ_TARGETS	:= fuzz_wasm_decode fuzz_wasm_run
FUZZ_OUT	:= build/fuzz
# The interpreter's switch dispatch (WASM_SWITCH_DISPATCH) instead of computed goto: the
# same handlers, but clang instruments it in a minute rather than ten, and the fallback
# gets exercised. The replay drivers (below) keep the computed-goto build honest.
# WASM_JIT_CHECK_ZEXT: translated code checks, at each guarded access through an address
# register the JIT believes zero-extended, that its upper half is zero (ud2 if not): a
# wrong belief is found even where the stale upper half would stay inside the guard region.
FUZZ_FLAGS	:= -std=gnu11 -Isrc -D_GNU_SOURCE -DWASM_SWITCH_DISPATCH -DWASM_JIT_CHECK_ZEXT -g -O1 \
		   -fno-omit-frame-pointer -fno-sanitize-recover=all
# The engine is compiled once with coverage (fuzzer-no-link), the targets link it.
FUZZ_ENGINE	:= $(sort $(wildcard src/wasm/*.c src/wasm/wasi/*.c src/wasm/jit/*.c src/jit/*.c src/wasm/text/*.c)) src/core/alloc.c src/core/log.c src/core/sbuf.c
FUZZ_ENGINE_OBJS := $(FUZZ_ENGINE:%.c=$(FUZZ_OUT)/obj/%.o)
FUZZ_BINS	:= $(FUZZ_TARGETS:%=$(FUZZ_OUT)/%)
FUZZ_REPLAY_OBJS := $(sort $(wildcard src/wasm/*.c src/wasm/wasi/*.c src/wasm/jit/*.c src/jit/*.c src/wasm/text/*.c))
FUZZ_REPLAY_OBJS := $(FUZZ_REPLAY_OBJS:%.c=$(BUILD)/%.o) $(BUILD)/src/core/alloc.o \
		    $(BUILD)/src/core/log.o $(BUILD)/src/core/sbuf.o
FUZZ_REPLAYS	:= $(FUZZ_TARGETS:fuzz_%=$(BUILD)/fuzz/replay_%) $(BUILD)/fuzz/replay_wat

.PHONY: fuzz fuzz-build fuzz-seeds
.SECONDARY: $(FUZZ_ENGINE_OBJS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZ-CC $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c -o $@ $<

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_ENGINE_OBJS)
	@echo "  FUZZ-LD $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_ENGINE_OBJS) -lm

-include $(wildcard $(FUZZ_OUT)/obj/src/*/*.d $(FUZZ_OUT)/obj/src/*/*/*.d)

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_REPLAY_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(FUZZ_REPLAY_OBJS) $(LDFLAGS) -lm

unit: $(FUZZ_REPLAYS)

# The qcow2 reader (src/disk) is a separate engine: its own objects, libraries, options
# and seeds (tests/fuzz/corpus/fuzz_qcow2, made by tests/fuzz/seeds/qcow2.sh with
# qemu-img; `make fuzz-seeds-qcow2` remakes them).
FUZZ_DISK_SRCS	:= $(sort $(wildcard src/disk/*.c)) src/core/alloc.c src/core/log.c
FUZZ_DISK_OBJS	:= $(FUZZ_DISK_SRCS:%.c=$(FUZZ_OUT)/obj/%.o)
FUZZ_DISK_LIBS	:= -luring -lz -lzstd
.SECONDARY: $(FUZZ_DISK_OBJS)

$(FUZZ_OUT)/fuzz_qcow2: tests/fuzz/fuzz_qcow2.c $(FUZZ_DISK_OBJS)
	@echo "  FUZZ-LD $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_DISK_OBJS) $(FUZZ_DISK_LIBS)

$(BUILD)/fuzz/replay_qcow2: tests/fuzz/fuzz_qcow2.c tests/fuzz/replay.c $(BUILD)/liblodge.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(BUILD)/liblodge.a $(LDFLAGS) $(LIBS)

unit: $(BUILD)/fuzz/replay_qcow2
fuzz-build: $(FUZZ_OUT)/fuzz_qcow2

# The text front end (src/wasm/text): .wat modules and .wast scripts as text, with its
# own dictionary of keywords and seeds (tests/fuzz/corpus/fuzz_wat: the .wat files of
# tests/ and constructs from the spec scripts). `make fuzz-wat` runs it alone.
.PHONY: fuzz-wat
fuzz: fuzz-wat
fuzz-build: $(FUZZ_OUT)/fuzz_wat
fuzz-wat: $(FUZZ_OUT)/fuzz_wat
	@mkdir -p $(FUZZ_OUT)/artifacts $(FUZZ_OUT)/corpus/fuzz_wat
	@echo "fuzz: fuzz_wat for $(FUZZ_SECONDS) s"
	@$(FUZZ_OUT)/fuzz_wat -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
		-max_len=8192 -dict=tests/fuzz/wat.dict -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_OUT)/artifacts/fuzz_wat- \
		$(FUZZ_OUT)/corpus/fuzz_wat tests/fuzz/corpus/fuzz_wat

.PHONY: fuzz-qcow2 fuzz-seeds-qcow2
fuzz: fuzz-qcow2
fuzz-qcow2: $(FUZZ_OUT)/fuzz_qcow2
	@mkdir -p $(FUZZ_OUT)/artifacts $(FUZZ_OUT)/corpus/fuzz_qcow2
	@echo "fuzz: fuzz_qcow2 for $(FUZZ_SECONDS) s"
	@$(FUZZ_OUT)/fuzz_qcow2 -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -dict=tests/fuzz/qcow2.dict -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_OUT)/artifacts/fuzz_qcow2- \
		$(FUZZ_OUT)/corpus/fuzz_qcow2 tests/fuzz/corpus/fuzz_qcow2

fuzz-seeds-qcow2:
	tests/fuzz/seeds/qcow2.sh tests/fuzz/corpus/fuzz_qcow2

fuzz: $(FUZZ_BINS)
	@mkdir -p $(FUZZ_OUT)/artifacts
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_OUT)/corpus/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(FUZZ_OUT)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-max_len=8192 -dict=tests/fuzz/wasm.dict -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_OUT)/artifacts/$$t- \
			$(FUZZ_OUT)/corpus/$$t tests/fuzz/corpus/$$t; \
	done

$(FUZZ_OUT)/wat2bin: bench/wasm/gc/wat2bin.c $(BUILD)/liblodge.a
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -Isrc $< $(BUILD)/liblodge.a -lm -pthread -o $@

fuzz-seeds: $(FUZZ_OUT)/wat2bin
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p tests/fuzz/corpus/$$t; \
		for w in tests/fuzz/seeds/*.wat tests/wasm/fusion.wat; do \
			wat2wasm --enable-threads $$w -o tests/fuzz/corpus/$$t/$$(basename $$w .wat).wasm || exit 1; \
		done; \
		for w in tests/fuzz/seeds/wasm3/*.wat; do \
			$(FUZZ_OUT)/wat2bin $$w tests/fuzz/corpus/$$t/$$(basename $$w .wat).wasm || exit 1; \
		done; \
		clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -Wl,--export-all \
			-o tests/fuzz/corpus/$$t/kernels.wasm tests/fuzz/seeds/kernels.c || exit 1; \
		chmod -x tests/fuzz/corpus/$$t/kernels.wasm; \
	done

# The API's HTTP request parser (with the router, query strings and JSON bodies) and the
# client's response parser: fuzz_http_request, its own sources and dictionary.
#   make fuzz-http FUZZ_SECONDS=1800    run it (nice it when sharing the machine)
FUZZ_HTTP_SRCS	:= src/api/http.c src/api/router.c src/api/json.c
FUZZ_HTTP_OBJS	:= $(FUZZ_HTTP_SRCS:%.c=$(FUZZ_OUT)/obj/%.o)
FUZZ_HTTP_REPLAY_OBJS := $(FUZZ_HTTP_SRCS:%.c=$(BUILD)/%.o)

.PHONY: fuzz-http
.SECONDARY: $(FUZZ_HTTP_OBJS)

$(FUZZ_OUT)/fuzz_http_request: tests/fuzz/fuzz_http_request.c $(FUZZ_HTTP_OBJS)
	@echo "  FUZZ-LD $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_HTTP_OBJS) -lcjson

$(BUILD)/fuzz/replay_http_request: tests/fuzz/fuzz_http_request.c tests/fuzz/replay.c \
		$(FUZZ_HTTP_REPLAY_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(FUZZ_HTTP_REPLAY_OBJS) $(LDFLAGS) -lcjson

unit: $(BUILD)/fuzz/replay_http_request
fuzz-build: $(FUZZ_OUT)/fuzz_http_request

fuzz-http: $(FUZZ_OUT)/fuzz_http_request
	@mkdir -p $(FUZZ_OUT)/artifacts $(FUZZ_OUT)/corpus/fuzz_http_request
	$(FUZZ_OUT)/fuzz_http_request -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		-rss_limit_mb=2048 -max_len=16384 -dict=tests/fuzz/http.dict -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_OUT)/artifacts/fuzz_http_request- \
		$(FUZZ_OUT)/corpus/fuzz_http_request tests/fuzz/corpus/fuzz_http_request

fuzz: fuzz-http

# The virtio devices and their virtqueue walker (fuzz_virtq.c): every virtio device type
# with its transport on a fake board. Its own objects and libraries, as its device code
# needs them; crashing inputs are kept in tests/fuzz/regressions/virtq/ and replayed by
# tests/fuzz/suite.sh through replay_virtq (built by `make unit` from the MODE's objects,
# named one by one so that every device type's constructor is linked and registers).
FUZZ_VIRTQ_SRCS	:= $(sort $(wildcard src/core/*.c src/devices/virtio/*.c src/disk/*.c \
		     src/net/*.c)) src/devices/device.c src/devices/chardev.c
FUZZ_VIRTQ_OBJS	:= $(FUZZ_VIRTQ_SRCS:%.c=$(FUZZ_OUT)/obj/%.o)
FUZZ_VIRTQ_SECONDS ?= $(FUZZ_SECONDS)
# -timeout=30: a snapshot step starts and joins an I/O thread (blk's quiesce needs one),
# so long inputs take a second or two, more on a loaded machine.
.SECONDARY: $(FUZZ_VIRTQ_OBJS)

$(FUZZ_OUT)/fuzz_virtq: tests/fuzz/fuzz_virtq.c $(FUZZ_VIRTQ_OBJS)
	@echo "  FUZZ-LD $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_VIRTQ_OBJS) $(LIBS) -pthread

$(BUILD)/fuzz/replay_virtq: tests/fuzz/fuzz_virtq.c tests/fuzz/replay.c \
			    $(FUZZ_VIRTQ_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(FUZZ_VIRTQ_SRCS:%.c=$(BUILD)/%.o) \
		$(LDFLAGS) $(LIBS)

unit: $(BUILD)/fuzz/replay_virtq
fuzz-build: $(FUZZ_OUT)/fuzz_virtq

.PHONY: fuzz-virtq
fuzz: fuzz-virtq
fuzz-virtq: $(FUZZ_OUT)/fuzz_virtq
	@mkdir -p $(FUZZ_OUT)/artifacts $(FUZZ_OUT)/corpus/fuzz_virtq
	@echo "fuzz: fuzz_virtq for $(FUZZ_VIRTQ_SECONDS) s"
	@$(FUZZ_OUT)/fuzz_virtq -max_total_time=$(FUZZ_VIRTQ_SECONDS) -timeout=30 \
		-rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_OUT)/artifacts/fuzz_virtq- \
		$(FUZZ_OUT)/corpus/fuzz_virtq tests/fuzz/corpus/fuzz_virtq

# Restoring a WebAssembly snapshot from hostile bytes (fuzz_wsnap.c): the engine's objects
# with the snapshot loaders (src/wasm/snap/snapshot.c, wasi.c) and the file container
# (src/snapshot/file.c, ram.c); the target repairs every checksum of its input, so the
# mutations reach the section payloads. Seeds: tests/fuzz/corpus/fuzz_wsnap, real snapshot
# files (`python3 tests/fuzz/seeds/wsnap.py build/release/lodge tests/fuzz/corpus/fuzz_wsnap`
# remakes them); crashing inputs go to tests/fuzz/regressions/wsnap/, replayed by
# tests/fuzz/suite.sh through replay_wsnap.
#   make fuzz-wsnap FUZZ_SECONDS=1800    run it (nice it when sharing the machine)
FUZZ_WSNAP_SRCS	:= src/wasm/snap/snapshot.c src/wasm/snap/wasi.c src/snapshot/file.c \
		   src/snapshot/ram.c src/core/pathallow.c
FUZZ_WSNAP_OBJS	:= $(FUZZ_WSNAP_SRCS:%.c=$(FUZZ_OUT)/obj/%.o)
.SECONDARY: $(FUZZ_WSNAP_OBJS)

$(FUZZ_OUT)/fuzz_wsnap: tests/fuzz/fuzz_wsnap.c $(FUZZ_ENGINE_OBJS) $(FUZZ_WSNAP_OBJS)
	@echo "  FUZZ-LD $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_ENGINE_OBJS) $(FUZZ_WSNAP_OBJS) -lzstd -lz -lm -pthread

$(BUILD)/fuzz/replay_wsnap: tests/fuzz/fuzz_wsnap.c tests/fuzz/replay.c $(FUZZ_REPLAY_OBJS) \
			    $(FUZZ_WSNAP_SRCS:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(FUZZ_REPLAY_OBJS) \
		$(FUZZ_WSNAP_SRCS:%.c=$(BUILD)/%.o) $(LDFLAGS) -lzstd -lz -lm -pthread

unit: $(BUILD)/fuzz/replay_wsnap
fuzz-build: $(FUZZ_OUT)/fuzz_wsnap

.PHONY: fuzz-wsnap
fuzz: fuzz-wsnap
fuzz-wsnap: $(FUZZ_OUT)/fuzz_wsnap
	@mkdir -p $(FUZZ_OUT)/artifacts $(FUZZ_OUT)/corpus/fuzz_wsnap
	@echo "fuzz: fuzz_wsnap for $(FUZZ_SECONDS) s"
	@$(FUZZ_OUT)/fuzz_wsnap -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_OUT)/artifacts/fuzz_wsnap- \
		$(FUZZ_OUT)/corpus/fuzz_wsnap tests/fuzz/corpus/fuzz_wsnap
