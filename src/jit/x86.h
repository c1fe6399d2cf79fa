/*
 * x86-64 instruction encoder shared by Lodge's translators (the WebAssembly JIT, and the
 * RISC-V JIT once it moves here): general-purpose, SSE and a few bit-manipulation
 * instructions, assembled into a buffer whose bytes will run at another address (code is
 * staged, then installed into a jit_codebuf). Encodings follow the Intel SDM, volume 2;
 * tests/unit/test_x86.c pins them against GNU as. Pure functions of their arguments: no
 * state beyond the struct x86_emit passed in. A full buffer sets `overflow` and further
 * bytes are dropped, so callers check once at the end.
 */
#ifndef LODGE_JIT_X86_H
#define LODGE_JIT_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* General-purpose registers; XMM registers use the same numbers 0..15. */
enum x86_reg {
	X86_RAX,
	X86_RCX,
	X86_RDX,
	X86_RBX,
	X86_RSP,
	X86_RBP,
	X86_RSI,
	X86_RDI,
	X86_R8,
	X86_R9,
	X86_R10,
	X86_R11,
	X86_R12,
	X86_R13,
	X86_R14,
	X86_R15,
};

/* Condition codes (the low nibble of jcc/setcc/cmovcc). */
enum x86_cc {
	X86_CC_O,
	X86_CC_NO,
	X86_CC_B,
	X86_CC_AE,
	X86_CC_E,
	X86_CC_NE,
	X86_CC_BE,
	X86_CC_A,
	X86_CC_S,
	X86_CC_NS,
	X86_CC_P,
	X86_CC_NP,
	X86_CC_L,
	X86_CC_GE,
	X86_CC_LE,
	X86_CC_G,
};

/* Group-1 ALU operations: the /digit of 0x81/0x83 and the row of the r, r/m forms. */
enum x86_alu { X86_ADD, X86_OR, X86_ADC, X86_SBB, X86_AND, X86_SUB, X86_XOR, X86_CMP };

/* Group-2 shifts and rotates: the /digit of 0xc1/0xd3. */
enum x86_shift { X86_ROL, X86_ROR, X86_SHL = 4, X86_SHR = 5, X86_SAR = 7 };

/* Code is assembled into buf[0..) and will run at `base`: relative branches and
 * RIP-relative operands are computed against base. */
struct x86_emit {
	uint8_t *buf, *p, *end;
	uintptr_t base;
	bool overflow;
};

/* A register operand, or memory [reg + index << scale + disp]; reg X86_RIP_BASE means
 * [rip + disp] (disp patched with x86_patch once the target is known). */
struct x86_rm {
	bool mem;
	int8_t reg;   /* the register, or the base register */
	int8_t index; /* -1: none (rsp cannot be an index) */
	uint8_t scale;
	int32_t disp;
};

#define X86_RIP_BASE (-2)

static inline struct x86_rm x86_r(int reg)
{
	return (struct x86_rm){.mem = false, .reg = (int8_t)reg, .index = -1};
}

static inline struct x86_rm x86_m(int base, int32_t disp)
{
	return (struct x86_rm){.mem = true, .reg = (int8_t)base, .index = -1, .disp = disp};
}

/* [base + index * (1 << scale) + disp] */
static inline struct x86_rm x86_mi(int base, int index, unsigned scale, int32_t disp)
{
	return (struct x86_rm){.mem = true,
			       .reg = (int8_t)base,
			       .index = (int8_t)index,
			       .scale = (uint8_t)scale,
			       .disp = disp};
}

static inline bool x86_fits8(int64_t v)
{
	return v >= -128 && v <= 127;
}

static inline bool x86_fits32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

/* The final address of the next byte. */
uintptr_t x86_here(const struct x86_emit *e);
void x86_e8(struct x86_emit *e, unsigned v);
void x86_e32(struct x86_emit *e, uint32_t v);
void x86_e64(struct x86_emit *e, uint64_t v);

/* The general form: [prefix] [REX] opcode ModRM [SIB] [disp] for "reg, rm".
 * prefix: 0, 0x66, 0xf2 or 0xf3 (a mandatory or operand-size prefix, placed before REX).
 * opc: one byte, 0x0fXX, 0x0f38XX or 0x0f3aXX. w: REX.W. force_rex: byte registers
 * spl..dil need a REX prefix even without extension bits. */
void x86_insn(struct x86_emit *e, unsigned prefix, bool w, unsigned opc, int reg, struct x86_rm m,
	      bool force_rex);

/* ----- moves ----- */

/* mov r, r/m (w: 64-bit, else 32-bit, which zero-extends); a register move to itself
 * emits nothing when 64-bit. */
void x86_mov(struct x86_emit *e, bool w, int dst, struct x86_rm src);
/* mov r/m, r */
void x86_mov_store(struct x86_emit *e, bool w, struct x86_rm dst, int src);
/* mov byte/word [m], r8/r16 */
void x86_mov_store8(struct x86_emit *e, struct x86_rm dst, int src);
void x86_mov_store16(struct x86_emit *e, struct x86_rm dst, int src);
/* mov r, imm: the shortest form (mov r32, imm32 zero-extends; sign-extended imm32; movabs) */
void x86_mov_imm(struct x86_emit *e, int dst, uint64_t v);
/* mov r/m, imm32 (w: sign-extended to 64 bits) */
void x86_mov_rm_imm(struct x86_emit *e, bool w, struct x86_rm dst, int32_t imm);
/* movzx / movsx r, r/m8 or r/m16 (bits 8 or 16); movsxd r64, r/m32 */
void x86_movzx(struct x86_emit *e, bool w, int dst, struct x86_rm src, unsigned bits);
void x86_movsx(struct x86_emit *e, bool w, int dst, struct x86_rm src, unsigned bits);
void x86_movsxd(struct x86_emit *e, int dst, struct x86_rm src);
void x86_lea(struct x86_emit *e, bool w, int dst, struct x86_rm src);
void x86_push(struct x86_emit *e, int reg);
void x86_pop(struct x86_emit *e, int reg);

/* ----- arithmetic ----- */

/* op r, r/m and op r/m, r */
void x86_alu(struct x86_emit *e, bool w, enum x86_alu op, int dst, struct x86_rm src);
void x86_alu_store(struct x86_emit *e, bool w, enum x86_alu op, struct x86_rm dst, int src);
/* op r/m, imm32 (sign-extended; the imm8 form when it fits) */
void x86_alu_imm(struct x86_emit *e, bool w, enum x86_alu op, struct x86_rm dst, int32_t imm);
void x86_test(struct x86_emit *e, bool w, struct x86_rm a, int reg);
void x86_test_imm(struct x86_emit *e, bool w, struct x86_rm a, int32_t imm);
void x86_imul(struct x86_emit *e, bool w, int dst, struct x86_rm src);
void x86_imul_imm(struct x86_emit *e, bool w, int dst, struct x86_rm src, int32_t imm);
/* F7 group: 2 not, 3 neg, 6 div, 7 idiv (of rdx:rax by r/m) */
void x86_grp3(struct x86_emit *e, bool w, unsigned digit, struct x86_rm m);
/* cdq (w false) / cqo (w true) */
void x86_cdq(struct x86_emit *e, bool w);
void x86_shift_imm(struct x86_emit *e, bool w, enum x86_shift op, struct x86_rm m, unsigned n);
void x86_shift_cl(struct x86_emit *e, bool w, enum x86_shift op, struct x86_rm m);
void x86_setcc(struct x86_emit *e, enum x86_cc cc, int reg8);
void x86_cmov(struct x86_emit *e, bool w, enum x86_cc cc, int dst, struct x86_rm src);
/* F3-prefixed bit counts: lzcnt (0xbd), tzcnt (0xbc), popcnt (0xb8) */
void x86_bitcount(struct x86_emit *e, bool w, unsigned opc, int dst, struct x86_rm src);

/* The read-modify-write forms of `bytes` (1, 2, 4 or 8) width on memory m with register
 * reg: opc8 is the byte form, 0x0fc0 (xadd), 0x0fb0 (cmpxchg, rax the expected value)
 * or 0x86 (xchg, locked by itself); lock: a lock prefix first. */
void x86_rmw(struct x86_emit *e, unsigned bytes, unsigned opc8, int reg, struct x86_rm m,
	     bool lock);
/* mfence */
void x86_mfence(struct x86_emit *e);

/* rorx r, r/m, n (BMI2: rotate right by n without touching the flags) */
void x86_rorx(struct x86_emit *e, bool w, int dst, struct x86_rm src, unsigned n);
/* ----- control ----- */

/* jcc/jmp/call rel32 to a target not known yet: return the rel32 field for x86_patch. */
uint8_t *x86_jcc_fwd(struct x86_emit *e, enum x86_cc cc);
uint8_t *x86_jmp_fwd(struct x86_emit *e);
/* Points the rel32 field at `at` (in buf) to the final address `target`. Targets out of
 * rel32 reach set overflow (the translation is refused). */
void x86_patch(struct x86_emit *e, uint8_t *at, uintptr_t target);
/* jcc rel8 to a target not known yet, a little way ahead: returns the rel8 field for
 * x86_patch8, which sets overflow when the target is out of rel8 reach. */
uint8_t *x86_jcc8_fwd(struct x86_emit *e, enum x86_cc cc);
void x86_patch8(struct x86_emit *e, uint8_t *at, uintptr_t target);
void x86_jcc_to(struct x86_emit *e, enum x86_cc cc, uintptr_t target);
void x86_jmp_to(struct x86_emit *e, uintptr_t target);
void x86_call_to(struct x86_emit *e, uintptr_t target);
/* call r/m, jmp r/m */
void x86_call_rm(struct x86_emit *e, struct x86_rm m);
void x86_jmp_rm(struct x86_emit *e, struct x86_rm m);
void x86_ret(struct x86_emit *e);
/* lea r64, [rip + disp32]: returns the disp32 field for x86_patch */
uint8_t *x86_lea_rip(struct x86_emit *e, int dst);

/* ----- SSE (xmm registers as numbers 0..15) ----- */

/* movd/movq xmm, r/m32|64 and r/m32|64, xmm */
void x86_movd_to_xmm(struct x86_emit *e, bool w, int xmm, struct x86_rm src);
void x86_movd_from_xmm(struct x86_emit *e, bool w, struct x86_rm dst, int xmm);
/* scalar single (prefix 0xf3) or double (0xf2) op xmm, xmm/m: opc is the second opcode
 * byte: 0x10 load, 0x51 sqrt, 0x58 add, 0x59 mul, 0x5a cvt, 0x5c sub, 0x5d min, 0x5e div,
 * 0x5f max, 0x2a cvtsi2s* (w: from r/m64), 0x2c cvtts*2si (w: to r64) */
void x86_sse(struct x86_emit *e, bool dbl, unsigned opc, bool w, int reg, struct x86_rm src);
/* movss/movsd m, xmm */
void x86_sse_store(struct x86_emit *e, bool dbl, struct x86_rm dst, int xmm);
/* ucomiss / ucomisd xmm, xmm/m */
void x86_ucomis(struct x86_emit *e, bool dbl, int xmm, struct x86_rm src);
/* roundss / roundsd xmm, xmm/m, imm (mode 0 nearest, 1 floor, 2 ceil, 3 trunc; | 8: no
 * precision exception) */
void x86_round(struct x86_emit *e, bool dbl, int xmm, struct x86_rm src, unsigned mode);
/* packed 128-bit ops: 0x66-prefixed or unprefixed 0x0fXX / 0x0f38XX (pxor 0x0fef, ...) */
void x86_sse_packed(struct x86_emit *e, unsigned prefix, unsigned opc, int xmm, struct x86_rm src);
/* movdqu xmm, m128 and m128, xmm */
void x86_movdqu_load(struct x86_emit *e, int xmm, struct x86_rm src);
void x86_movdqu_store(struct x86_emit *e, struct x86_rm dst, int xmm);

#endif
