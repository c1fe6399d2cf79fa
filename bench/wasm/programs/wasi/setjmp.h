/*
 * setjmp.h for building Lua for wasm32-wasi (bench/wasm): wasi-libc has none, WebAssembly
 * 2.0 has no way to unwind the stack. Lua's error handling (ldo.c) then runs the
 * protected call straight and an error aborts the program; the benchmark script raises
 * none.
 */
#ifndef LODGE_BENCH_WASI_SETJMP_H
#define LODGE_BENCH_WASI_SETJMP_H

#include <stdlib.h>

typedef int jmp_buf[1];
#define setjmp(b) ((void)(b), 0)
#define longjmp(b, v) ((void)(b), (void)(v), abort())

#endif
