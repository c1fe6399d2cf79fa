/*
 * The shared x86-64 encoder (src/jit/x86.h): each case assembles one instruction and
 * compares the bytes with GNU as's encoding of the same instruction (the comment; GNU as
 * 2.40, intel syntax). Covers the ModRM corner cases (rbp/r13 bases need a displacement,
 * rsp/r12 bases a SIB byte, disp8 against disp32, scaled indexes, REX.R/X/B and REX.W,
 * byte registers sil/dil needing a bare REX), the mandatory-prefix order of SSE (prefix,
 * then REX, then 0x0f), rel32 branches against the final address, and RIP-relative LEA.
 * The cases of the RISC-V translator's forms came with the encoder from cpu/jit/ (its
 * test_jit_x86.c). What the translators do with these instructions is tested end to end
 * (guest programs and differential tests for the RISC-V JIT; the spec suite with the JIT
 * forced and fuzzing for the WebAssembly JIT).
 */
#include "harness.h"

#include "jit/x86.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint8_t buf[64];
static struct x86_emit em;

static struct x86_emit *fresh(void)
{
	memset(buf, 0xcc, sizeof(buf));
	em = (struct x86_emit){.buf = buf, .p = buf, .end = buf + sizeof(buf), .base = 0x1000};
	return &em;
}

/* The emitted bytes equal `want` (n bytes). */
static int same(const uint8_t *want, size_t n)
{
	if (em.overflow || (size_t)(em.p - em.buf) != n || memcmp(buf, want, n) != 0) {
		size_t k = 0;
		k += (size_t)snprintf(unit_why + k, sizeof(unit_why) - k, "got");
		for (uint8_t *p = em.buf; p < em.p && k < sizeof(unit_why) - 4; p++)
			k += (size_t)snprintf(unit_why + k, sizeof(unit_why) - k, " %02x", *p);
		return 1;
	}
	return 0;
}

#define EXPECT(...)                                                                                \
	do {                                                                                       \
		static const uint8_t want_[] = {__VA_ARGS__};                                      \
		if (same(want_, sizeof(want_)))                                                    \
			return 1;                                                                  \
	} while (0)

static int test_mov_forms(void)
{
	x86_mov(fresh(), false, X86_RAX, x86_m(X86_RBP, 0x10)); /* mov eax, [rbp+0x10] */
	EXPECT(0x8b, 0x45, 0x10);
	x86_mov(fresh(), true, X86_R13, x86_m(X86_RBP, 0x100)); /* mov r13, [rbp+0x100] */
	EXPECT(0x4c, 0x8b, 0xad, 0x00, 0x01, 0x00, 0x00);
	x86_mov_store(fresh(), true, x86_m(X86_R13, 0), X86_RAX); /* mov [r13+0], rax */
	EXPECT(0x49, 0x89, 0x45, 0x00);
	x86_mov(fresh(), true, X86_RAX, x86_m(X86_R12, 0)); /* mov rax, [r12] */
	EXPECT(0x49, 0x8b, 0x04, 0x24);
	x86_mov(fresh(), true, X86_RDX, x86_mi(X86_RDX, X86_RCX, 3, 0)); /* mov rdx, [rdx+rcx*8] */
	EXPECT(0x48, 0x8b, 0x14, 0xca);
	/* mov ecx, [r12+rax*1+0x7fff0000] */
	x86_mov(fresh(), false, X86_RCX, x86_mi(X86_R12, X86_RAX, 0, 0x7fff0000));
	EXPECT(0x41, 0x8b, 0x8c, 0x04, 0x00, 0x00, 0xff, 0x7f);
	/* mov esi, esi zero-extends, so it is emitted (as: 89 f6, the other form) */
	x86_mov(fresh(), false, X86_RSI, x86_r(X86_RSI));
	EXPECT(0x8b, 0xf6);
	x86_mov(fresh(), true, X86_RBX, x86_r(X86_RBX)); /* a 64-bit move to itself: nothing */
	CHECK(em.p == em.buf);
	return 0;
}

static int test_narrow_stores_and_extends(void)
{
	x86_mov_store8(fresh(), x86_mi(X86_R12, X86_RAX, 0, 4), X86_RSI); /* mov [r12+rax+4], sil */
	EXPECT(0x41, 0x88, 0x74, 0x04, 0x04);
	x86_mov_store8(fresh(), x86_m(X86_RBX, 8), X86_R9); /* mov [rbx+8], r9b */
	EXPECT(0x44, 0x88, 0x4b, 0x08);
	x86_mov_store8(fresh(), x86_m(X86_RAX, 0), X86_RCX); /* mov [rax], cl */
	EXPECT(0x88, 0x08);
	x86_mov_store16(fresh(), x86_mi(X86_R12, X86_RAX, 0, 0), X86_RCX); /* mov [r12+rax], cx */
	EXPECT(0x66, 0x41, 0x89, 0x0c, 0x04);
	/* movzx eax, byte [r12+rax+3] */
	x86_movzx(fresh(), false, X86_RAX, x86_mi(X86_R12, X86_RAX, 0, 3), 8);
	EXPECT(0x41, 0x0f, 0xb6, 0x44, 0x04, 0x03);
	x86_movsx(fresh(), true, X86_RCX, x86_m(X86_RBX, 8), 16); /* movsx rcx, word [rbx+8] */
	EXPECT(0x48, 0x0f, 0xbf, 0x4b, 0x08);
	x86_movzx(fresh(), false, X86_RAX, x86_r(X86_RAX), 8); /* movzx eax, al */
	EXPECT(0x0f, 0xb6, 0xc0);
	x86_movsx(fresh(), false, X86_RAX, x86_r(X86_RSI), 8); /* movsx eax, sil */
	EXPECT(0x40, 0x0f, 0xbe, 0xc6);
	x86_movsxd(fresh(), X86_RAX, x86_m(X86_RBX, 16)); /* movsxd rax, dword [rbx+16] */
	EXPECT(0x48, 0x63, 0x43, 0x10);
	x86_movsxd(fresh(), X86_RCX, x86_r(X86_RSI)); /* movsxd rcx, esi */
	EXPECT(0x48, 0x63, 0xce);
	return 0;
}

static int test_immediates(void)
{
	x86_mov_imm(fresh(), X86_R10, 0x123456789ull); /* movabs r10, 0x123456789 */
	EXPECT(0x49, 0xba, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00);
	x86_mov_imm(fresh(), X86_RAX, 0x12345678); /* mov eax, 0x12345678 */
	EXPECT(0xb8, 0x78, 0x56, 0x34, 0x12);
	x86_mov_imm(fresh(), X86_RAX, (uint64_t)-2); /* mov rax, -2 */
	EXPECT(0x48, 0xc7, 0xc0, 0xfe, 0xff, 0xff, 0xff);
	x86_mov_rm_imm(fresh(), true, x86_m(X86_RBX, 0x18), -5); /* mov qword [rbx+0x18], -5 */
	EXPECT(0x48, 0xc7, 0x43, 0x18, 0xfb, 0xff, 0xff, 0xff);
	x86_alu_imm(fresh(), true, X86_SUB, x86_r(X86_RSP), 8); /* sub rsp, 8 */
	EXPECT(0x48, 0x83, 0xec, 0x08);
	x86_alu_imm(fresh(), false, X86_AND, x86_r(X86_RCX), 0x7fffffff); /* and ecx, 0x7fffffff */
	EXPECT(0x81, 0xe1, 0xff, 0xff, 0xff, 0x7f);
	/* xor ecx, 0x80000000 */
	x86_alu_imm(fresh(), false, X86_XOR, x86_r(X86_RCX), (int32_t)0x80000000u);
	EXPECT(0x81, 0xf1, 0x00, 0x00, 0x00, 0x80);
	x86_alu_imm(fresh(), false, X86_CMP, x86_m(X86_RBX, 0x20), 0); /* cmp dword [rbx+0x20], 0 */
	EXPECT(0x83, 0x7b, 0x20, 0x00);
	return 0;
}

static int test_arithmetic(void)
{
	x86_lea(fresh(), true, X86_RDX, x86_m(X86_RAX, 0x7fffffff)); /* lea rdx, [rax+0x7fffffff] */
	EXPECT(0x48, 0x8d, 0x90, 0xff, 0xff, 0xff, 0x7f);
	x86_lea(fresh(), false, X86_RAX, x86_mi(X86_RAX, X86_RCX, 2, 0)); /* lea eax, [rax+rcx*4] */
	EXPECT(0x8d, 0x04, 0x88);
	/* lea rcx, [rbx+rcx*8+0x40] */
	x86_lea(fresh(), true, X86_RCX, x86_mi(X86_RBX, X86_RCX, 3, 0x40));
	EXPECT(0x48, 0x8d, 0x4c, 0xcb, 0x40);
	x86_alu(fresh(), false, X86_ADD, X86_RAX, x86_m(X86_RBX, 8)); /* add eax, [rbx+8] */
	EXPECT(0x03, 0x43, 0x08);
	/* cmp rdx, r13 (as: 4c 39 ea, the r/m, r form) */
	x86_alu(fresh(), true, X86_CMP, X86_RDX, x86_r(X86_R13));
	EXPECT(0x49, 0x3b, 0xd5);
	x86_alu(fresh(), true, X86_CMP, X86_RAX, x86_m(X86_R14, 0x10)); /* cmp rax, [r14+0x10] */
	EXPECT(0x49, 0x3b, 0x46, 0x10);
	x86_alu_store(fresh(), false, X86_CMP, x86_m(X86_RBX, 8), X86_RSI); /* cmp [rbx+8], esi */
	EXPECT(0x39, 0x73, 0x08);
	x86_test(fresh(), false, x86_r(X86_RCX), X86_RCX); /* test ecx, ecx */
	EXPECT(0x85, 0xc9);
	x86_imul(fresh(), false, X86_RAX, x86_m(X86_RBX, 8)); /* imul eax, [rbx+8] */
	EXPECT(0x0f, 0xaf, 0x43, 0x08);
	x86_imul_imm(fresh(), true, X86_RSI, x86_r(X86_RSI), 100); /* imul rsi, rsi, 100 */
	EXPECT(0x48, 0x6b, 0xf6, 0x64);
	x86_imul_imm(fresh(), false, X86_RAX, x86_r(X86_RCX), -3); /* imul eax, ecx, -3 */
	EXPECT(0x6b, 0xc1, 0xfd);
	x86_grp3(fresh(), false, 7, x86_r(X86_RCX)); /* idiv ecx */
	EXPECT(0xf7, 0xf9);
	x86_grp3(fresh(), true, 6, x86_r(X86_RCX)); /* div rcx */
	EXPECT(0x48, 0xf7, 0xf1);
	x86_cdq(fresh(), false); /* cdq */
	EXPECT(0x99);
	x86_cdq(fresh(), true); /* cqo */
	EXPECT(0x48, 0x99);
	x86_shift_imm(fresh(), false, X86_SHL, x86_r(X86_RCX), 5); /* shl ecx, 5 */
	EXPECT(0xc1, 0xe1, 0x05);
	x86_shift_imm(fresh(), true, X86_ROL, x86_r(X86_RAX), 63); /* rol rax, 63 */
	EXPECT(0x48, 0xc1, 0xc0, 0x3f);
	x86_shift_cl(fresh(), false, X86_SAR, x86_r(X86_R9)); /* sar r9d, cl */
	EXPECT(0x41, 0xd3, 0xf9);
	return 0;
}

static int test_flags_and_bits(void)
{
	x86_setcc(fresh(), X86_CC_NE, X86_RCX); /* setne cl */
	EXPECT(0x0f, 0x95, 0xc1);
	x86_setcc(fresh(), X86_CC_G, X86_RDI); /* setg dil */
	EXPECT(0x40, 0x0f, 0x9f, 0xc7);
	x86_cmov(fresh(), false, X86_CC_A, X86_RAX, x86_r(X86_RCX)); /* cmova eax, ecx */
	EXPECT(0x0f, 0x47, 0xc1);
	x86_cmov(fresh(), true, X86_CC_E, X86_RAX,
		 x86_m(X86_RBX, 0x10)); /* cmove rax, [rbx+0x10] */
	EXPECT(0x48, 0x0f, 0x44, 0x43, 0x10);
	x86_bitcount(fresh(), false, 0xbd, X86_RAX, x86_m(X86_RBX, 8)); /* lzcnt eax, [rbx+8] */
	EXPECT(0xf3, 0x0f, 0xbd, 0x43, 0x08);
	x86_bitcount(fresh(), true, 0xbc, X86_RSI, x86_r(X86_RDI)); /* tzcnt rsi, rdi */
	EXPECT(0xf3, 0x48, 0x0f, 0xbc, 0xf7);
	x86_bitcount(fresh(), false, 0xb8, X86_RCX, x86_r(X86_R8)); /* popcnt ecx, r8d */
	EXPECT(0xf3, 0x41, 0x0f, 0xb8, 0xc8);
	x86_rorx(fresh(), false, X86_RAX, x86_r(X86_RCX), 7); /* rorx eax, ecx, 7 */
	EXPECT(0xc4, 0xe3, 0x7b, 0xf0, 0xc1, 0x07);
	x86_rorx(fresh(), true, X86_R9, x86_r(X86_R10), 63); /* rorx r9, r10, 63 */
	EXPECT(0xc4, 0x43, 0xfb, 0xf0, 0xca, 0x3f);
	x86_rorx(fresh(), false, X86_RSI, x86_mi(X86_R12, X86_R11, 0, 0x24),
		 25); /* rorx esi, [r12+r11+0x24], 25 */
	EXPECT(0xc4, 0x83, 0x7b, 0xf0, 0x74, 0x1c, 0x24, 0x19);
	x86_rorx(fresh(), false, X86_R8, x86_m(X86_RBX, 0x28), 2); /* rorx r8d, [rbx+0x28], 2 */
	EXPECT(0xc4, 0x63, 0x7b, 0xf0, 0x43, 0x28, 0x02);
	x86_insn(fresh(), 0, true, 0x0fba, 6, x86_r(X86_RAX), false); /* btr rax, 63 */
	x86_e8(&em, 63);
	EXPECT(0x48, 0x0f, 0xba, 0xf0, 0x3f);
	return 0;
}

static int test_control(void)
{
	x86_push(fresh(), X86_R12); /* push r12 */
	EXPECT(0x41, 0x54);
	x86_pop(fresh(), X86_RBP); /* pop rbp */
	EXPECT(0x5d);
	x86_call_rm(fresh(), x86_m(X86_RAX, 0x48)); /* call [rax+0x48] */
	EXPECT(0xff, 0x50, 0x48);
	x86_jmp_rm(fresh(), x86_r(X86_RAX)); /* jmp rax */
	EXPECT(0xff, 0xe0);
	x86_ret(fresh());
	EXPECT(0xc3);
	/* rel32 branches count from the end of the instruction at its final address */
	x86_jcc_to(fresh(), X86_CC_A, 0x1000); /* at 0x1000: ja 0x1000 */
	EXPECT(0x0f, 0x87, 0xfa, 0xff, 0xff, 0xff);
	x86_call_to(fresh(), 0x2000); /* at 0x1000: call 0x2000 */
	EXPECT(0xe8, 0xfb, 0x0f, 0x00, 0x00);
	{
		uint8_t *at;
		fresh();
		at = x86_jmp_fwd(&em); /* jmp 0x1010, patched later */
		x86_patch(&em, at, 0x1010);
		EXPECT(0xe9, 0x0b, 0x00, 0x00, 0x00);
		fresh();
		at = x86_lea_rip(&em, X86_RDX); /* lea rdx, [rip+0x20]: the end is 0x1007 */
		x86_patch(&em, at, 0x1027);
		EXPECT(0x48, 0x8d, 0x15, 0x20, 0x00, 0x00, 0x00);
		/* a target out of rel32 reach refuses the code */
		fresh();
		x86_jmp_to(&em, 0x1000 + (1ull << 33));
		CHECK(em.overflow);
	}
	return 0;
}

static int test_sse(void)
{
	x86_movd_to_xmm(fresh(), false, 0, x86_r(X86_RSI)); /* movd xmm0, esi */
	EXPECT(0x66, 0x0f, 0x6e, 0xc6);
	x86_movd_to_xmm(fresh(), true, 1, x86_r(X86_R9)); /* movq xmm1, r9 */
	EXPECT(0x66, 0x49, 0x0f, 0x6e, 0xc9);
	x86_movd_from_xmm(fresh(), false, x86_r(X86_RAX), 0); /* movd eax, xmm0 */
	EXPECT(0x66, 0x0f, 0x7e, 0xc0);
	x86_movd_from_xmm(fresh(), true, x86_r(X86_RSI), 0); /* movq rsi, xmm0 */
	EXPECT(0x66, 0x48, 0x0f, 0x7e, 0xc6);
	x86_sse(fresh(), false, 0x10, false, 0, x86_m(X86_RBX, 8)); /* movss xmm0, [rbx+8] */
	EXPECT(0xf3, 0x0f, 0x10, 0x43, 0x08);
	/* addsd xmm0, [r12+rax+16] */
	x86_sse(fresh(), true, 0x58, false, 0, x86_mi(X86_R12, X86_RAX, 0, 16));
	EXPECT(0xf2, 0x41, 0x0f, 0x58, 0x44, 0x04, 0x10);
	x86_sse(fresh(), false, 0x51, false, 0, x86_r(1)); /* sqrtss xmm0, xmm1 */
	EXPECT(0xf3, 0x0f, 0x51, 0xc1);
	x86_sse(fresh(), true, 0x2a, true, 0, x86_r(X86_RAX)); /* cvtsi2sd xmm0, rax */
	EXPECT(0xf2, 0x48, 0x0f, 0x2a, 0xc0);
	x86_sse(fresh(), false, 0x2a, false, 0, x86_m(X86_RBX, 0)); /* cvtsi2ss xmm0, [rbx] */
	EXPECT(0xf3, 0x0f, 0x2a, 0x03);
	x86_sse(fresh(), true, 0x5a, false, 0, x86_r(1)); /* cvtsd2ss xmm0, xmm1 */
	EXPECT(0xf2, 0x0f, 0x5a, 0xc1);
	x86_sse_store(fresh(), false, x86_m(X86_RBX, 8), 0); /* movss [rbx+8], xmm0 */
	EXPECT(0xf3, 0x0f, 0x11, 0x43, 0x08);
	x86_sse_store(fresh(), true, x86_m(X86_RBX, 0), 0); /* movsd [rbx], xmm0 */
	EXPECT(0xf2, 0x0f, 0x11, 0x03);
	x86_ucomis(fresh(), false, 0, x86_r(1)); /* ucomiss xmm0, xmm1 */
	EXPECT(0x0f, 0x2e, 0xc1);
	x86_ucomis(fresh(), true, 0, x86_m(X86_RBX, 8)); /* ucomisd xmm0, [rbx+8] */
	EXPECT(0x66, 0x0f, 0x2e, 0x43, 0x08);
	x86_round(fresh(), true, 0, x86_m(X86_RBX, 8), 10); /* roundsd xmm0, [rbx+8], 10 */
	EXPECT(0x66, 0x0f, 0x3a, 0x0b, 0x43, 0x08, 0x0a);
	x86_sse_packed(fresh(), 0, 0x0f57, 0, x86_r(0)); /* xorps xmm0, xmm0 */
	EXPECT(0x0f, 0x57, 0xc0);
	x86_sse_packed(fresh(), 0, 0x0f28, 0, x86_r(1)); /* movaps xmm0, xmm1 */
	EXPECT(0x0f, 0x28, 0xc1);
	x86_movdqu_load(fresh(), 0, x86_m(X86_RBX, 0x10)); /* movdqu xmm0, [rbx+0x10] */
	EXPECT(0xf3, 0x0f, 0x6f, 0x43, 0x10);
	x86_movdqu_store(fresh(), x86_mi(X86_R12, X86_RAX, 0, 0), 0); /* movdqu [r12+rax], xmm0 */
	EXPECT(0xf3, 0x41, 0x0f, 0x7f, 0x04, 0x04);
	return 0;
}

static int test_overflow(void)
{
	uint8_t small[4];
	struct x86_emit e = {.buf = small, .p = small, .end = small + sizeof(small), .base = 0};

	x86_mov_imm(&e, X86_R10, 0x123456789ull); /* 10 bytes into 4 */
	CHECK(e.overflow);
	CHECK(e.p == e.end);
	return 0;
}

/* The forms the RISC-V translator (cpu/jit/x86_64.c) uses. */
static int test_riscv_forms(void)
{
	x86_mov(fresh(), true, X86_RAX, x86_m(X86_RBP, 0x10)); /* mov rax, [rbp+0x10] */
	EXPECT(0x48, 0x8b, 0x45, 0x10);
	x86_mov_store(fresh(), true, x86_m(X86_RBP, 0x100), X86_R12); /* mov [rbp+0x100], r12 */
	EXPECT(0x4c, 0x89, 0xa5, 0x00, 0x01, 0x00, 0x00);
	x86_alu_imm(fresh(), true, X86_ADD, x86_r(X86_R12), 5); /* add r12, 5 */
	EXPECT(0x49, 0x83, 0xc4, 0x05);
	x86_alu_imm(fresh(), false, X86_AND, x86_r(X86_RCX), 0xff0); /* and ecx, 0xff0 */
	EXPECT(0x81, 0xe1, 0xf0, 0x0f, 0x00, 0x00);
	/* test dword [rbp+0x200], 0x6000 */
	x86_insn(fresh(), 0, false, 0xf7, 0, x86_m(X86_RBP, 0x200), false);
	x86_e32(&em, 0x6000);
	EXPECT(0xf7, 0x85, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00);
	x86_insn(fresh(), 0, false, 0x80, X86_CMP, x86_m(X86_RDX, 0),
		 false); /* cmp byte [rdx], 0 */
	x86_e8(&em, 0);
	EXPECT(0x80, 0x3a, 0x00);
	x86_insn(fresh(), 0, true, 0x0fbe, X86_RBX, x86_m(X86_RAX, 0),
		 false); /* movsx rbx, byte [rax] */
	EXPECT(0x48, 0x0f, 0xbe, 0x18);
	x86_insn(fresh(), 0, false, 0x0fb7, X86_R8, x86_m(X86_RAX, 0),
		 false); /* movzx r8d, word [rax] */
	EXPECT(0x44, 0x0f, 0xb7, 0x00);
	x86_insn(fresh(), 0x66, false, 0x89, X86_RCX, x86_m(X86_RAX, 0), false); /* mov [rax], cx */
	EXPECT(0x66, 0x89, 0x08);
	x86_insn(fresh(), 0, true, 0x63, X86_RAX, x86_m(X86_RAX, 0), false); /* movsxd rax, [rax] */
	EXPECT(0x48, 0x63, 0x00);
	x86_shift_cl(fresh(), true, X86_SHL, x86_r(X86_RAX)); /* shl rax, cl */
	EXPECT(0x48, 0xd3, 0xe0);
	x86_shift_imm(fresh(), false, X86_SAR, x86_r(X86_RAX), 3); /* sar eax, 3 */
	EXPECT(0xc1, 0xf8, 0x03);
	x86_insn(fresh(), 0, true, 0x0faf, X86_RAX, x86_r(X86_R14), false); /* imul rax, r14 */
	EXPECT(0x49, 0x0f, 0xaf, 0xc6);
	x86_setcc(fresh(), X86_CC_L, X86_RAX); /* setl al */
	EXPECT(0x0f, 0x9c, 0xc0);
	x86_jmp_rm(fresh(), x86_r(X86_RDX)); /* jmp rdx */
	EXPECT(0xff, 0xe2);
	x86_push(fresh(), X86_R13); /* push r13 */
	EXPECT(0x41, 0x55);
	x86_pop(fresh(), X86_RBX); /* pop rbx */
	EXPECT(0x5b);
	x86_jmp_to(fresh(), 0x1000); /* at 0x1000: jmp 0x1000 is rel -5 */
	EXPECT(0xe9, 0xfb, 0xff, 0xff, 0xff);
	{
		/* a forward branch patched to the current position */
		struct x86_emit *e = fresh();
		uint8_t *at = x86_jcc_fwd(e, X86_CC_NE);
		x86_e8(e, 0x90);
		x86_patch(e, at, x86_here(e));
		EXPECT(0x0f, 0x85, 0x01, 0x00, 0x00, 0x00, 0x90);
		/* the rel8 form: jae +2 over two nops */
		e = fresh();
		at = x86_jcc8_fwd(e, X86_CC_AE);
		x86_e8(e, 0x90);
		x86_e8(e, 0x90);
		x86_patch8(e, at, x86_here(e));
		EXPECT(0x73, 0x02, 0x90, 0x90);
		CHECK(!e->overflow);
		/* 127 bytes ahead is the farthest rel8 reach; 128 refuses the code */
		for (unsigned gap = 127; gap <= 128; gap++) {
			static uint8_t big[256];
			struct x86_emit far = {
				.buf = big, .p = big, .end = big + sizeof(big), .base = 0x1000};
			at = x86_jcc8_fwd(&far, X86_CC_NE);
			for (unsigned i = 0; i < gap; i++)
				x86_e8(&far, 0x90);
			x86_patch8(&far, at, x86_here(&far));
			CHECK(far.overflow == (gap == 128));
			CHECK(gap == 128 || big[1] == 127);
		}
	}
	return 0;
}

/* the atomics of the WebAssembly threads proposal */
static int test_atomics(void)
{
	struct x86_rm m = x86_mi(X86_R12, X86_RAX, 0, 0);

	/* lock xadd dword ptr [r12+rax+0x10], ecx */
	x86_rmw(fresh(), 4, 0x0fc0, X86_RCX, x86_mi(X86_R12, X86_RAX, 0, 0x10), true);
	EXPECT(0xf0, 0x41, 0x0f, 0xc1, 0x4c, 0x04, 0x10);
	x86_rmw(fresh(), 8, 0x0fc0, X86_RDX, m, true); /* lock xadd qword ptr [r12+rax], rdx */
	EXPECT(0xf0, 0x49, 0x0f, 0xc1, 0x14, 0x04);
	x86_rmw(fresh(), 1, 0x0fc0, X86_RSI, m, true); /* lock xadd byte ptr [r12+rax], sil */
	EXPECT(0xf0, 0x41, 0x0f, 0xc0, 0x34, 0x04);
	/* lock xadd word ptr [r12+rax+4], cx */
	x86_rmw(fresh(), 2, 0x0fc0, X86_RCX, x86_mi(X86_R12, X86_RAX, 0, 4), true);
	EXPECT(0x66, 0xf0, 0x41, 0x0f, 0xc1, 0x4c, 0x04, 0x04);
	x86_rmw(fresh(), 8, 0x0fb0, X86_RCX, m, true); /* lock cmpxchg qword ptr [r12+rax], rcx */
	EXPECT(0xf0, 0x49, 0x0f, 0xb1, 0x0c, 0x04);
	x86_rmw(fresh(), 1, 0x0fb0, X86_RDI, m, true); /* lock cmpxchg byte ptr [r12+rax], dil */
	EXPECT(0xf0, 0x41, 0x0f, 0xb0, 0x3c, 0x04);
	x86_rmw(fresh(), 2, 0x0fb0, X86_R9, m, true); /* lock cmpxchg word ptr [r12+rax], r9w */
	EXPECT(0x66, 0xf0, 0x45, 0x0f, 0xb1, 0x0c, 0x04);
	x86_rmw(fresh(), 4, 0x86, X86_R8, m, false); /* xchg dword ptr [r12+rax], r8d */
	EXPECT(0x45, 0x87, 0x04, 0x04);
	x86_rmw(fresh(), 1, 0x86, X86_RCX, m, false); /* xchg byte ptr [r12+rax], cl */
	EXPECT(0x41, 0x86, 0x0c, 0x04);
	/* a byte register needing a bare REX: xchg byte ptr [rbx], sil */
	x86_rmw(fresh(), 1, 0x86, X86_RSI, x86_m(X86_RBX, 0), false);
	EXPECT(0x40, 0x86, 0x33);
	x86_mfence(fresh()); /* mfence */
	EXPECT(0x0f, 0xae, 0xf0);
	return 0;
}

static const struct unit_test tests[] = {
	{"riscv_forms", test_riscv_forms},
	{"mov_forms", test_mov_forms},
	{"narrow_stores_and_extends", test_narrow_stores_and_extends},
	{"immediates", test_immediates},
	{"arithmetic", test_arithmetic},
	{"flags_and_bits", test_flags_and_bits},
	{"control", test_control},
	{"sse", test_sse},
	{"overflow", test_overflow},
	{"atomics", test_atomics},
};

UNIT_MAIN("x86", tests)
