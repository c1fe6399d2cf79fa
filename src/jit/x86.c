/*
 * x86-64 instruction encoder (see x86.h). Every helper reduces to x86_insn, the one place
 * that knows REX, ModRM, SIB and displacement rules:
 *   - rbp and r13 as a base need a displacement (mod 00 with rm 101 means RIP-relative);
 *   - rsp and r12 as a base need a SIB byte (rm 100 means "SIB follows");
 *   - rsp cannot be an index;
 *   - REX.R/X/B extend reg, index and base; spl..dil as byte registers need a REX prefix.
 */
#include "jit/x86.h"

#include <string.h>

uintptr_t x86_here(const struct x86_emit *e)
{
	return e->base + (uintptr_t)(e->p - e->buf);
}

void x86_e8(struct x86_emit *e, unsigned v)
{
	if (e->p < e->end)
		*e->p++ = (uint8_t)v;
	else
		e->overflow = true;
}

void x86_e32(struct x86_emit *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		x86_e8(e, (v >> (8 * i)) & 0xff);
}

void x86_e64(struct x86_emit *e, uint64_t v)
{
	x86_e32(e, (uint32_t)v);
	x86_e32(e, (uint32_t)(v >> 32));
}

static void modrm_mem(struct x86_emit *e, int reg, struct x86_rm m)
{
	unsigned r = (unsigned)reg & 7, mod;

	if (m.reg == X86_RIP_BASE) {
		x86_e8(e, (r << 3) | 5);
		x86_e32(e, (uint32_t)m.disp);
		return;
	}
	mod = (m.disp == 0 && (m.reg & 7) != X86_RBP) ? 0 : x86_fits8(m.disp) ? 1 : 2;
	if (m.index >= 0 || (m.reg & 7) == X86_RSP) {
		unsigned idx = m.index >= 0 ? (unsigned)m.index & 7 : 4;
		unsigned scale = m.index >= 0 ? m.scale & 3u : 0;
		x86_e8(e, (mod << 6) | (r << 3) | 4);
		x86_e8(e, (scale << 6) | (idx << 3) | ((unsigned)m.reg & 7));
	} else {
		x86_e8(e, (mod << 6) | (r << 3) | ((unsigned)m.reg & 7));
	}
	if (mod == 1)
		x86_e8(e, (uint8_t)(int8_t)m.disp);
	else if (mod == 2)
		x86_e32(e, (uint32_t)m.disp);
}

void x86_insn(struct x86_emit *e, unsigned prefix, bool w, unsigned opc, int reg, struct x86_rm m,
	      bool force_rex)
{
	unsigned rex = 0x40 | (w ? 8u : 0u) | ((reg & 8) ? 4u : 0u);

	if (m.mem && m.index >= 0 && (m.index & 8))
		rex |= 2;
	if (m.reg >= 0 && (m.reg & 8))
		rex |= 1;
	if (prefix)
		x86_e8(e, prefix);
	if (rex != 0x40 || force_rex)
		x86_e8(e, rex);
	if (opc > 0xffff)
		x86_e8(e, opc >> 16);
	if (opc > 0xff)
		x86_e8(e, (opc >> 8) & 0xff);
	x86_e8(e, opc & 0xff);
	if (!m.mem)
		x86_e8(e, 0xc0 | (((unsigned)reg & 7) << 3) | ((unsigned)m.reg & 7));
	else
		modrm_mem(e, reg, m);
}

/* ----- moves ----- */

void x86_mov(struct x86_emit *e, bool w, int dst, struct x86_rm src)
{
	if (w && !src.mem && src.reg == dst)
		return;
	x86_insn(e, 0, w, 0x8b, dst, src, false);
}

void x86_mov_store(struct x86_emit *e, bool w, struct x86_rm dst, int src)
{
	if (w && !dst.mem && dst.reg == src)
		return;
	x86_insn(e, 0, w, 0x89, src, dst, false);
}

void x86_mov_store8(struct x86_emit *e, struct x86_rm dst, int src)
{
	x86_insn(e, 0, false, 0x88, src, dst, src >= X86_RSP && src <= X86_RDI);
}

void x86_mov_store16(struct x86_emit *e, struct x86_rm dst, int src)
{
	x86_insn(e, 0x66, false, 0x89, src, dst, false);
}

void x86_mov_imm(struct x86_emit *e, int dst, uint64_t v)
{
	if (v <= UINT32_MAX) { /* mov r32, imm32 zero-extends */
		if (dst & 8)
			x86_e8(e, 0x41);
		x86_e8(e, 0xb8 + ((unsigned)dst & 7));
		x86_e32(e, (uint32_t)v);
	} else if (x86_fits32((int64_t)v)) {
		x86_insn(e, 0, true, 0xc7, 0, x86_r(dst), false);
		x86_e32(e, (uint32_t)v);
	} else {
		x86_e8(e, 0x48 | ((dst & 8) ? 1u : 0u));
		x86_e8(e, 0xb8 + ((unsigned)dst & 7));
		x86_e64(e, v);
	}
}

void x86_mov_rm_imm(struct x86_emit *e, bool w, struct x86_rm dst, int32_t imm)
{
	x86_insn(e, 0, w, 0xc7, 0, dst, false);
	x86_e32(e, (uint32_t)imm);
}

void x86_movzx(struct x86_emit *e, bool w, int dst, struct x86_rm src, unsigned bits)
{
	bool byte_reg = bits == 8 && !src.mem && src.reg >= X86_RSP && src.reg <= X86_RDI;

	x86_insn(e, 0, w, bits == 8 ? 0x0fb6 : 0x0fb7, dst, src, byte_reg);
}

void x86_movsx(struct x86_emit *e, bool w, int dst, struct x86_rm src, unsigned bits)
{
	bool byte_reg = bits == 8 && !src.mem && src.reg >= X86_RSP && src.reg <= X86_RDI;

	x86_insn(e, 0, w, bits == 8 ? 0x0fbe : 0x0fbf, dst, src, byte_reg);
}

void x86_movsxd(struct x86_emit *e, int dst, struct x86_rm src)
{
	x86_insn(e, 0, true, 0x63, dst, src, false);
}

void x86_lea(struct x86_emit *e, bool w, int dst, struct x86_rm src)
{
	x86_insn(e, 0, w, 0x8d, dst, src, false);
}

void x86_push(struct x86_emit *e, int reg)
{
	if (reg & 8)
		x86_e8(e, 0x41);
	x86_e8(e, 0x50 + ((unsigned)reg & 7));
}

void x86_pop(struct x86_emit *e, int reg)
{
	if (reg & 8)
		x86_e8(e, 0x41);
	x86_e8(e, 0x58 + ((unsigned)reg & 7));
}

/* ----- arithmetic ----- */

void x86_alu(struct x86_emit *e, bool w, enum x86_alu op, int dst, struct x86_rm src)
{
	x86_insn(e, 0, w, (unsigned)op * 8 + 3, dst, src, false);
}

void x86_alu_store(struct x86_emit *e, bool w, enum x86_alu op, struct x86_rm dst, int src)
{
	x86_insn(e, 0, w, (unsigned)op * 8 + 1, src, dst, false);
}

void x86_alu_imm(struct x86_emit *e, bool w, enum x86_alu op, struct x86_rm dst, int32_t imm)
{
	if (x86_fits8(imm)) {
		x86_insn(e, 0, w, 0x83, (int)op, dst, false);
		x86_e8(e, (uint8_t)(int8_t)imm);
	} else {
		x86_insn(e, 0, w, 0x81, (int)op, dst, false);
		x86_e32(e, (uint32_t)imm);
	}
}

void x86_test(struct x86_emit *e, bool w, struct x86_rm a, int reg)
{
	x86_insn(e, 0, w, 0x85, reg, a, false);
}

void x86_test_imm(struct x86_emit *e, bool w, struct x86_rm a, int32_t imm)
{
	x86_insn(e, 0, w, 0xf7, 0, a, false);
	x86_e32(e, (uint32_t)imm);
}

void x86_imul(struct x86_emit *e, bool w, int dst, struct x86_rm src)
{
	x86_insn(e, 0, w, 0x0faf, dst, src, false);
}

void x86_imul_imm(struct x86_emit *e, bool w, int dst, struct x86_rm src, int32_t imm)
{
	if (x86_fits8(imm)) {
		x86_insn(e, 0, w, 0x6b, dst, src, false);
		x86_e8(e, (uint8_t)(int8_t)imm);
	} else {
		x86_insn(e, 0, w, 0x69, dst, src, false);
		x86_e32(e, (uint32_t)imm);
	}
}

void x86_grp3(struct x86_emit *e, bool w, unsigned digit, struct x86_rm m)
{
	x86_insn(e, 0, w, 0xf7, (int)digit, m, false);
}

void x86_cdq(struct x86_emit *e, bool w)
{
	if (w)
		x86_e8(e, 0x48);
	x86_e8(e, 0x99);
}

void x86_shift_imm(struct x86_emit *e, bool w, enum x86_shift op, struct x86_rm m, unsigned n)
{
	x86_insn(e, 0, w, 0xc1, (int)op, m, false);
	x86_e8(e, n);
}

void x86_shift_cl(struct x86_emit *e, bool w, enum x86_shift op, struct x86_rm m)
{
	x86_insn(e, 0, w, 0xd3, (int)op, m, false);
}

void x86_setcc(struct x86_emit *e, enum x86_cc cc, int reg8)
{
	x86_insn(e, 0, false, 0x0f90 + (unsigned)cc, 0, x86_r(reg8),
		 reg8 >= X86_RSP && reg8 <= X86_RDI);
}

void x86_cmov(struct x86_emit *e, bool w, enum x86_cc cc, int dst, struct x86_rm src)
{
	x86_insn(e, 0, w, 0x0f40 + (unsigned)cc, dst, src, false);
}

void x86_bitcount(struct x86_emit *e, bool w, unsigned opc, int dst, struct x86_rm src)
{
	x86_insn(e, 0xf3, w, 0x0f00 | opc, dst, src, false);
}

void x86_rmw(struct x86_emit *e, unsigned bytes, unsigned opc8, int reg, struct x86_rm m, bool lock)
{
	if (bytes == 2) /* GNU as's order: operand size, then lock */
		x86_e8(e, 0x66);
	if (lock)
		x86_e8(e, 0xf0);
	x86_insn(e, 0, bytes == 8, bytes == 1 ? opc8 : opc8 + 1, reg, m,
		 bytes == 1 && reg >= X86_RSP && reg <= X86_RDI);
}

void x86_mfence(struct x86_emit *e)
{
	x86_e8(e, 0x0f);
	x86_e8(e, 0xae);
	x86_e8(e, 0xf0);
}

/* rorx r, r/m, imm8 (BMI2): VEX.LZ.F2.0F3A.W0/W1 F0 /r ib, flags untouched */
void x86_rorx(struct x86_emit *e, bool w, int dst, struct x86_rm src, unsigned n)
{
	unsigned rxb = ((dst & 8) ? 0u : 0x80u) |
		       (src.mem && src.index >= 0 && (src.index & 8) ? 0u : 0x40u) |
		       (src.reg >= 0 && (src.reg & 8) ? 0u : 0x20u);

	x86_e8(e, 0xc4);
	x86_e8(e, rxb | 0x03);			     /* map 0F3A */
	x86_e8(e, (w ? 0x80u : 0u) | 0x78u | 0x03u); /* W, vvvv unused (1111), L0, pp F2 */
	x86_e8(e, 0xf0);
	if (!src.mem)
		x86_e8(e, 0xc0 | (((unsigned)dst & 7) << 3) | ((unsigned)src.reg & 7));
	else
		modrm_mem(e, dst, src);
	x86_e8(e, n & (w ? 63u : 31u));
}

/* ----- control ----- */

uint8_t *x86_jcc_fwd(struct x86_emit *e, enum x86_cc cc)
{
	x86_e8(e, 0x0f);
	x86_e8(e, 0x80 + (unsigned)cc);
	x86_e32(e, 0);
	return e->p - 4;
}

uint8_t *x86_jmp_fwd(struct x86_emit *e)
{
	x86_e8(e, 0xe9);
	x86_e32(e, 0);
	return e->p - 4;
}

void x86_patch(struct x86_emit *e, uint8_t *at, uintptr_t target)
{
	int64_t rel;
	int32_t rel32;

	if (e->overflow || at < e->buf || at + 4 > e->end)
		return;
	rel = (int64_t)(target - (e->base + (uintptr_t)(at - e->buf) + 4));
	if (!x86_fits32(rel)) {
		e->overflow = true;
		return;
	}
	rel32 = (int32_t)rel;
	memcpy(at, &rel32, 4);
}

uint8_t *x86_jcc8_fwd(struct x86_emit *e, enum x86_cc cc)
{
	x86_e8(e, 0x70 + (unsigned)cc);
	x86_e8(e, 0);
	return e->p - 1;
}

void x86_patch8(struct x86_emit *e, uint8_t *at, uintptr_t target)
{
	int64_t rel;

	if (e->overflow || at < e->buf || at + 1 > e->end)
		return;
	rel = (int64_t)(target - (e->base + (uintptr_t)(at - e->buf) + 1));
	if (!x86_fits8(rel)) {
		e->overflow = true;
		return;
	}
	*at = (uint8_t)(int8_t)rel;
}

void x86_jcc_to(struct x86_emit *e, enum x86_cc cc, uintptr_t target)
{
	x86_patch(e, x86_jcc_fwd(e, cc), target);
}

void x86_jmp_to(struct x86_emit *e, uintptr_t target)
{
	x86_patch(e, x86_jmp_fwd(e), target);
}

void x86_call_to(struct x86_emit *e, uintptr_t target)
{
	x86_e8(e, 0xe8);
	x86_e32(e, 0);
	x86_patch(e, e->p - 4, target);
}

void x86_call_rm(struct x86_emit *e, struct x86_rm m)
{
	x86_insn(e, 0, false, 0xff, 2, m, false);
}

void x86_jmp_rm(struct x86_emit *e, struct x86_rm m)
{
	x86_insn(e, 0, false, 0xff, 4, m, false);
}

void x86_ret(struct x86_emit *e)
{
	x86_e8(e, 0xc3);
}

uint8_t *x86_lea_rip(struct x86_emit *e, int dst)
{
	x86_insn(e, 0, true, 0x8d, dst, x86_m(X86_RIP_BASE, 0), false);
	return e->p - 4;
}

/* ----- SSE ----- */

void x86_movd_to_xmm(struct x86_emit *e, bool w, int xmm, struct x86_rm src)
{
	x86_insn(e, 0x66, w, 0x0f6e, xmm, src, false);
}

void x86_movd_from_xmm(struct x86_emit *e, bool w, struct x86_rm dst, int xmm)
{
	x86_insn(e, 0x66, w, 0x0f7e, xmm, dst, false);
}

void x86_sse(struct x86_emit *e, bool dbl, unsigned opc, bool w, int reg, struct x86_rm src)
{
	x86_insn(e, dbl ? 0xf2 : 0xf3, w, 0x0f00 | opc, reg, src, false);
}

void x86_sse_store(struct x86_emit *e, bool dbl, struct x86_rm dst, int xmm)
{
	x86_insn(e, dbl ? 0xf2 : 0xf3, false, 0x0f11, xmm, dst, false);
}

void x86_ucomis(struct x86_emit *e, bool dbl, int xmm, struct x86_rm src)
{
	x86_insn(e, dbl ? 0x66 : 0, false, 0x0f2e, xmm, src, false);
}

void x86_round(struct x86_emit *e, bool dbl, int xmm, struct x86_rm src, unsigned mode)
{
	x86_insn(e, 0x66, false, dbl ? 0x0f3a0b : 0x0f3a0a, xmm, src, false);
	x86_e8(e, mode);
}

void x86_sse_packed(struct x86_emit *e, unsigned prefix, unsigned opc, int xmm, struct x86_rm src)
{
	x86_insn(e, prefix, false, opc, xmm, src, false);
}

void x86_movdqu_load(struct x86_emit *e, int xmm, struct x86_rm src)
{
	x86_insn(e, 0xf3, false, 0x0f6f, xmm, src, false);
}

void x86_movdqu_store(struct x86_emit *e, struct x86_rm dst, int xmm)
{
	x86_insn(e, 0xf3, false, 0x0f7f, xmm, dst, false);
}
