/*
 * The JIT's x86-64 encoder: each case assembles one instruction with the translator's
 * own emitter functions and compares the bytes with GNU as's encoding of the same
 * instruction (the comment). Covers the ModRM corner cases: rbp/r13 bases (need a
 * displacement), rsp/r12 bases (need a SIB byte), disp8 vs disp32, index registers, REX
 * bits, 16-bit operand prefix, rel32 branches against the final address. The translator's
 * semantics are tested end to end by the guest programs and the differential tests, which
 * run translated code.
 */
#include "harness.h"

/* The encoder is static in the translator: compile it into this test. */
#include "../../src/cpu/jit/x86_64.c"

#if JIT_ARCH_SUPPORTED

static uint8_t buf[64];
static struct emit em;

static struct emit *fresh(void)
{
	memset(buf, 0xcc, sizeof(buf));
	em = (struct emit){.buf = buf, .p = buf, .end = buf + sizeof(buf), .base = 0x1000};
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

static int test_mov_memory_forms(void)
{
	mov_r_rm(fresh(), RAX, M(RBP, 0x10)); /* mov rax, [rbp+0x10] */
	EXPECT(0x48, 0x8b, 0x45, 0x10);
	mov_r_rm(fresh(), R13, M(RBP, 0x100)); /* mov r13, [rbp+0x100] */
	EXPECT(0x4c, 0x8b, 0xad, 0x00, 0x01, 0x00, 0x00);
	mov_rm_r(fresh(), M(R13, 0), RAX); /* mov [r13+0], rax */
	EXPECT(0x49, 0x89, 0x45, 0x00);
	mov_r_rm(fresh(), RAX, M(R12, 0)); /* mov rax, [r12] */
	EXPECT(0x49, 0x8b, 0x04, 0x24);
	/* mov rdx, [rdx+rcx*8] */
	mov_r_rm(fresh(), RDX, (struct rm){.mem = true, .reg = RDX, .index = RCX});
	EXPECT(0x48, 0x8b, 0x14, 0xca);
	mov_rm_r(fresh(), M(RBP, 0x100), R12); /* mov [rbp+0x100], r12 */
	EXPECT(0x4c, 0x89, 0xa5, 0x00, 0x01, 0x00, 0x00);
	mov_r_rm(fresh(), RBX, R(RBX)); /* a move to itself emits nothing */
	CHECK(em.p == em.buf);
	return 0;
}

static int test_immediates(void)
{
	alu_rm_imm(fresh(), true, ALU_ADD, R(R12), 5); /* add r12, 5 */
	EXPECT(0x49, 0x83, 0xc4, 0x05);
	alu_rm_imm(fresh(), false, ALU_AND, R(RCX), 0xff0); /* and ecx, 0xff0 */
	EXPECT(0x81, 0xe1, 0xf0, 0x0f, 0x00, 0x00);
	mov_r_imm(fresh(), RAX, 0x12345678); /* mov eax, 0x12345678 */
	EXPECT(0xb8, 0x78, 0x56, 0x34, 0x12);
	mov_r_imm(fresh(), RAX, (uint64_t)-2); /* mov rax, -2 */
	EXPECT(0x48, 0xc7, 0xc0, 0xfe, 0xff, 0xff, 0xff);
	mov_r_imm(fresh(), R10, 0x123456789ull); /* movabs r10, 0x123456789 */
	EXPECT(0x49, 0xba, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00);
	/* test dword [rbp+0x200], 0x6000 */
	insn(fresh(), false, false, 0xf7, 0, M(RBP, 0x200), false);
	e32(&em, 0x6000);
	EXPECT(0xf7, 0x85, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00);
	insn(fresh(), false, false, 0x80, ALU_CMP, M(RDX, 0), false); /* cmp byte [rdx], 0 */
	e8(&em, 0);
	EXPECT(0x80, 0x3a, 0x00);
	return 0;
}

static int test_loads_stores(void)
{
	insn(fresh(), false, true, 0x0fbe, RBX, M(RAX, 0), false); /* movsx rbx, byte [rax] */
	EXPECT(0x48, 0x0f, 0xbe, 0x18);
	insn(fresh(), false, false, 0x0fb7, R8, M(RAX, 0), false); /* movzx r8d, word [rax] */
	EXPECT(0x44, 0x0f, 0xb7, 0x00);
	insn(fresh(), true, false, 0x89, RCX, M(RAX, 0), false); /* mov [rax], cx */
	EXPECT(0x66, 0x89, 0x08);
	insn(fresh(), false, true, 0x63, RAX, M(RAX, 0), false); /* movsxd rax, dword [rax] */
	EXPECT(0x48, 0x63, 0x00);
	return 0;
}

static int test_alu_and_control(void)
{
	shift_cl(fresh(), true, SH_SHL, RAX); /* shl rax, cl */
	EXPECT(0x48, 0xd3, 0xe0);
	shift_imm(fresh(), false, SH_SAR, RAX, 3); /* sar eax, 3 */
	EXPECT(0xc1, 0xf8, 0x03);
	insn(fresh(), false, true, 0x0faf, RAX, R(R14), false); /* imul rax, r14 */
	EXPECT(0x49, 0x0f, 0xaf, 0xc6);
	insn(fresh(), false, false, 0x0f90 + CC_L, 0, R(RAX), false); /* setl al */
	EXPECT(0x0f, 0x9c, 0xc0);
	insn(fresh(), false, false, 0xff, 4, R(RDX), false); /* jmp rdx */
	EXPECT(0xff, 0xe2);
	push_r(fresh(), R13); /* push r13 */
	EXPECT(0x41, 0x55);
	pop_r(fresh(), RBX); /* pop rbx */
	EXPECT(0x5b);
	return 0;
}

static int test_rel32_uses_final_address(void)
{
	/* Assembled at buf, to run at 0x1000: a jump to 0x1000 from 0x1000 is rel -5. */
	jmp_to(fresh(), 0x1000);
	EXPECT(0xe9, 0xfb, 0xff, 0xff, 0xff);
	/* a forward branch patched to the current position */
	struct emit *e = fresh();
	uint8_t *at = jcc_fwd(e, CC_NE);
	e8(e, 0x90);
	patch(e, at, here(e));
	EXPECT(0x0f, 0x85, 0x01, 0x00, 0x00, 0x00, 0x90);
	/* a target out of rel32 range refuses the translation instead of mis-jumping */
	jmp_to(fresh(), 0x1000 + (1ull << 40));
	CHECK(em.overflow);
	return 0;
}

static int test_overflow_is_reported(void)
{
	struct emit *e = fresh();

	e->end = buf + 3;
	mov_r_imm(e, R10, 0x123456789ull);
	CHECK(e->overflow);
	CHECK(e->p <= e->end);
	return 0;
}

static const struct unit_test tests[] = {
	{"mov_memory_forms", test_mov_memory_forms},
	{"immediates", test_immediates},
	{"loads_stores", test_loads_stores},
	{"alu_and_control", test_alu_and_control},
	{"rel32_uses_final_address", test_rel32_uses_final_address},
	{"overflow_is_reported", test_overflow_is_reported},
};

UNIT_MAIN("jit_x86", tests)

#else

int main(void)
{
	printf("SKIP: jit_x86: no x86-64 translator on this host\n");
	return 0;
}

#endif
