# WebAssembly benchmark (bench/wasm/run; owned by the wasm engine). Included by the Makefile.
#   make bench-wasm      build the kernels natively (gcc -O3, and clang -O3 as
#                        NAME.clang-native) and for wasm32-wasi (clang -O3), and the real programs (Lua 5.4 and SQLite 3 from
#                        Debian's source packages, with the drivers in
#                        bench/wasm/programs/, gcc -O2 and clang -O2), build the release
#                        Lodge, and compare native code, `lodge wasm` (JIT tier, and
#                        interpreted only) and Node.js's WASI. BENCH_RUNS=N repeats (3).
#   make bench-wasm-build   only build them
#   make bench-wasm-start   start-up only (bench/wasm/start.py): hello.wasm's exec to exit,
#                        default and lazy, against the native hello and `lodge --version`;
#                        the CPU of each start-up phase, and loading lua.wasm and
#                        sqlite.wasm when built. START_RUNS=N runs each (100);
#                        wall and CPU time, against Node.js too when installed;
#                        START_REF=LODGE2 runs another build's hello alongside (A/B).
#   make bench-wasm-io IO_REF=OTHER_LODGE   16-byte WASI reads and writes of a regular
#                        file, pipes and /dev/null (bench/wasm/wasi-io.py): the CPU time
#                        of this build against OTHER_LODGE's (e.g. main's), alternating,
#                        IO_RUNS=N runs each (7), and the system calls per call.
# The program sources are fetched once into build/bench-wasm/src with apt-get source
# (bench/wasm/programs/fetch-sources.sh: a private apt state, the host's Debian mirror).

BW_OUT		:= build/bench-wasm
BW_KERNELS	:= fib matmul sha256 msort mixed hello
BW_CFLAGS	:= -O3 -Wall -Wextra -Werror
BW_BINS		:= $(BW_KERNELS:%=$(BW_OUT)/%.wasm) $(BW_KERNELS:%=$(BW_OUT)/%.native) \
		   $(BW_KERNELS:%=$(BW_OUT)/%.clang-native)
BW_PROGS	:= $(BW_OUT)/lua.wasm $(BW_OUT)/lua.native $(BW_OUT)/sqlite.wasm \
		   $(BW_OUT)/sqlite.native
BW_SRC		:= $(BW_OUT)/src
BW_P		:= bench/wasm/programs
BW_WASI		:= --target=wasm32-wasi -O2 -w -D_WASI_EMULATED_SIGNAL \
		   -D_WASI_EMULATED_PROCESS_CLOCKS
BW_WASI_LIBS	:= -lwasi-emulated-signal -lwasi-emulated-process-clocks
# Lua as Debian configures it (5.3 compatibility); on WASI no tmpnam, no setjmp
BW_LUA_FLAGS	:= -DLUA_COMPAT_5_3 -I$(BW_OUT)/lua-inc -I$(BW_SRC)/lua5.4/src
BW_LUA_WASI	:= '-Dlua_tmpnam(b,e)={e=1;}' -DLUA_TMPNAMBUFSIZE=32 -I$(BW_P)/wasi
# SQLite on its own memory-only VFS (sqlbench.c), the same on both sides
BW_SQL_FLAGS	:= -DSQLITE_OS_OTHER=1 -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION \
		   -DSQLITE_TEMP_STORE=3 -DSQLITE_DEFAULT_MEMSTATUS=0 \
		   -DSQLITE_OMIT_SHARED_CACHE -I$(BW_OUT)/sqlite-build

.PHONY: bench-wasm bench-wasm-build bench-wasm-sources bench-wasm-start bench-wasm-io

bench-wasm-build: $(BW_BINS) $(BW_PROGS)

$(BW_OUT)/%.wasm: bench/wasm/kernels/%.c bench/wasm/kernels/bench.h
	@mkdir -p $(dir $@)
	@echo "  WASI-CC $@"
	@clang --target=wasm32-wasi $(BW_CFLAGS) -o $@ $<

$(BW_OUT)/%.native: bench/wasm/kernels/%.c bench/wasm/kernels/bench.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@gcc $(BW_CFLAGS) -o $@ $<

# the kernel natively by the compiler that makes its .wasm, to tell the JIT's own cost
# from what gcc does differently (bench/wasm/run's native-clang)
$(BW_OUT)/%.clang-native: bench/wasm/kernels/%.c bench/wasm/kernels/bench.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@clang $(BW_CFLAGS) -o $@ $<

bench-wasm-sources: $(BW_SRC)/versions.txt

$(BW_SRC)/versions.txt:
	$(BW_P)/fetch-sources.sh $(BW_SRC)

# Debian's luaconf.h includes a header its packaging generates
$(BW_OUT)/lua-inc/lua5.4-deb-multiarch.h:
	@mkdir -p $(dir $@)
	@echo '#define DEB_HOST_MULTIARCH "bench"' >$@

BW_LUA_SRCS	= $(filter-out %/lua.c %/luac.c,$(wildcard $(BW_SRC)/lua5.4/src/*.c))

$(BW_OUT)/lua.native: $(BW_SRC)/versions.txt $(BW_OUT)/lua-inc/lua5.4-deb-multiarch.h \
		      $(BW_P)/luabench.c
	@echo "  CC      $@"
	@gcc -O2 -w $(BW_LUA_FLAGS) -o $@ $(BW_LUA_SRCS) $(BW_P)/luabench.c -lm

$(BW_OUT)/lua.wasm: $(BW_SRC)/versions.txt $(BW_OUT)/lua-inc/lua5.4-deb-multiarch.h \
		    $(BW_P)/luabench.c $(BW_P)/wasi/setjmp.h $(BW_P)/wasi/stubs.c
	@echo "  WASI-CC $@"
	@clang $(BW_WASI) $(BW_LUA_WASI) $(BW_LUA_FLAGS) -o $@ $(BW_LUA_SRCS) $(BW_P)/luabench.c \
		$(BW_P)/wasi/stubs.c $(BW_WASI_LIBS)

# the amalgamation, as SQLite's own build makes it (needs tclsh)
$(BW_OUT)/sqlite-build/sqlite3.c: $(BW_SRC)/versions.txt
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@cd $(dir $@) && $(CURDIR)/$(BW_SRC)/sqlite3/configure --disable-tcl --disable-readline \
		>configure.log 2>&1 && $(MAKE) sqlite3.c >make.log 2>&1

$(BW_OUT)/sqlite.native: $(BW_OUT)/sqlite-build/sqlite3.c $(BW_P)/sqlbench.c
	@echo "  CC      $@"
	@gcc -O2 -w $(BW_SQL_FLAGS) -o $@ $< $(BW_P)/sqlbench.c -lm

$(BW_OUT)/sqlite.wasm: $(BW_OUT)/sqlite-build/sqlite3.c $(BW_P)/sqlbench.c
	@echo "  WASI-CC $@"
	@clang $(BW_WASI) $(BW_SQL_FLAGS) -o $@ $< $(BW_P)/sqlbench.c

bench-wasm: bench-wasm-build
	$(MAKE) MODE=release lodge
	BENCH_LODGE=build/release/lodge BENCH_DIR=$(BW_OUT) bench/wasm/run

START_RUNS	?= 100

bench-wasm-start: $(BW_OUT)/hello.wasm $(BW_OUT)/hello.native
	$(MAKE) MODE=release lodge
	bench/wasm/start.py build/release/lodge $(BW_OUT) --runs $(START_RUNS) \
		$(if $(START_REF),--ref $(START_REF))

IO_RUNS		?= 7

bench-wasm-io:
	@test -n "$(IO_REF)" || { echo "bench-wasm-io: IO_REF=OTHER_LODGE, the build to compare with"; exit 2; }
	$(MAKE) MODE=release lodge
	bench/wasm/wasi-io.py build/release/lodge $(IO_REF) --runs $(IO_RUNS) --strace
