/* Unit tests for the RV64GC decoder (cpu/decode.c): encodings checked against the
 * assembler's output for the same instructions (riscv64-linux-gnu-as listings). */
#include "cpu/decode.h"

#include "harness.h"

static struct insn d(uint32_t w)
{
	struct insn in;
	decode(w, &in);
	return in;
}

static int t_rv64i(void)
{
	struct insn in = d(0x00c58533); /* add a0, a1, a2 */
	CHECK_EQ(in.kind, OP_ADD);
	CHECK_EQ(in.rd, 10);
	CHECK_EQ(in.rs1, 11);
	CHECK_EQ(in.rs2, 12);
	CHECK_EQ(in.len, 4);
	in = d(0xfff50513); /* addi a0, a0, -1 */
	CHECK_EQ(in.kind, OP_ADDI);
	CHECK_EQ(in.imm, -1);
	in = d(0x800005b7); /* lui a1, 0x80000 */
	CHECK_EQ(in.kind, OP_LUI);
	CHECK_EQ(in.imm, (int64_t)0xffffffff80000000ull);
	in = d(0x03f59593); /* slli a1, a1, 63 */
	CHECK_EQ(in.kind, OP_SLLI);
	CHECK_EQ(in.imm, 63);
	in = d(0x4035d593); /* srai a1, a1, 3 */
	CHECK_EQ(in.kind, OP_SRAI);
	CHECK_EQ(in.imm, 3);
	in = d(0x0205959b); /* slliw a1, a1, 32: shamt[5] set is reserved */
	CHECK_EQ(in.kind, OP_ILLEGAL);
	in = d(0xfe0008e3); /* beqz zero, -16 */
	CHECK_EQ(in.kind, OP_BEQ);
	CHECK_EQ(in.imm, -16);
	in = d(0x8000006f); /* j -0x100000 (jal x0 with the most negative offset) */
	CHECK_EQ(in.kind, OP_JAL);
	CHECK_EQ(in.imm, -0x100000);
	in = d(0xff843503); /* ld a0, -8(s0) */
	CHECK_EQ(in.kind, OP_LD);
	CHECK_EQ(in.imm, -8);
	in = d(0xfea43c23); /* sd a0, -8(s0) */
	CHECK_EQ(in.kind, OP_SD);
	CHECK_EQ(in.imm, -8);
	CHECK_EQ(in.rs2, 10);
	return 0;
}

static int t_system(void)
{
	CHECK_EQ(d(0x00000073).kind, OP_ECALL);
	CHECK_EQ(d(0x00100073).kind, OP_EBREAK);
	CHECK_EQ(d(0x30200073).kind, OP_MRET);
	CHECK_EQ(d(0x10200073).kind, OP_SRET);
	CHECK_EQ(d(0x10500073).kind, OP_WFI);
	CHECK_EQ(d(0x12000073).kind, OP_SFENCE_VMA);
	CHECK_EQ(d(0x0000100f).kind, OP_FENCE_I);
	CHECK_EQ(d(0x0ff0000f).kind, OP_FENCE);
	struct insn in = d(0x34202573); /* csrr a0, mcause */
	CHECK_EQ(in.kind, OP_CSRRS);
	CHECK_EQ(in.imm, 0x342);
	CHECK_EQ(in.rs1, 0);
	in = d(0x3002d073); /* csrwi mstatus, 5 */
	CHECK_EQ(in.kind, OP_CSRRWI);
	CHECK_EQ(in.rs1, 5);
	CHECK_EQ(d(0x30200173).kind, OP_ILLEGAL); /* mret with rd != 0 */
	return 0;
}

static int t_m_a(void)
{
	CHECK_EQ(d(0x02c5c533).kind, OP_DIV);
	CHECK_EQ(d(0x02c5f53b).kind, OP_REMUW);
	CHECK_EQ(d(0x02c5953b).kind, OP_ILLEGAL); /* funct3 1 in OP-32 with M: none */
	CHECK_EQ(d(0x1005b52f).kind, OP_LR_D);
	CHECK_EQ(d(0x18c5b52f).kind, OP_SC_D);
	CHECK_EQ(d(0x0cc5a52f).kind, OP_AMOSWAP_W);
	CHECK_EQ(d(0xe0c5b52f).kind, OP_AMOMAXU_D);
	CHECK_EQ(d(0x1015b52f).kind, OP_ILLEGAL); /* lr.d with rs2 != 0 */
	/* imm 1: an LR whose rl bit asks for a host barrier before its load */
	CHECK_EQ(d(0x1605a52f).imm, 1); /* lr.w.aqrl */
	CHECK_EQ(d(0x1205a52f).imm, 1); /* lr.w.rl */
	CHECK_EQ(d(0x1605b52f).imm, 1); /* lr.d.aqrl */
	CHECK_EQ(d(0x1405a52f).imm, 0); /* lr.w.aq */
	CHECK_EQ(d(0x1005b52f).imm, 0); /* lr.d */
	CHECK_EQ(d(0x1ac5a52f).imm, 0); /* sc.w.rl: a locked host instruction */
	CHECK_EQ(d(0x0ec5a52f).imm, 0); /* amoswap.w.aqrl: likewise */
	return 0;
}

static int t_fp(void)
{
	struct insn in = d(0x02b57553); /* fadd.d fa0, fa0, fa1 (dyn) */
	CHECK_EQ(in.kind, OP_FADD_D);
	CHECK_EQ(in.rm, 7);
	in = d(0x78c5f543); /* fmadd.s fa0, fa1, fa2, fa5, dyn */
	CHECK_EQ(in.kind, OP_FMADD_S);
	CHECK_EQ(in.rs3, 15);
	in = d(0xc2251553); /* fcvt.l.d a0, fa0, rtz */
	CHECK_EQ(in.kind, OP_FCVT_L_D);
	CHECK_EQ(in.rm, 1);
	CHECK_EQ(d(0xe2050553).kind, OP_FMV_X_D);
	CHECK_EQ(d(0xf2050553).kind, OP_FMV_D_X);
	CHECK_EQ(d(0x40157553).kind, OP_FCVT_S_D);
	CHECK_EQ(d(0x42050553).kind, OP_FCVT_D_S);
	CHECK_EQ(d(0xa2b52553).kind, OP_FEQ_D);
	CHECK_EQ(d(0x06b57553).kind, OP_ILLEGAL); /* fmt = H */
	CHECK_EQ(d(0x2108).kind, OP_FLD);	  /* c.fld fa0, 0(a0) */
	CHECK_EQ(d(0xa108).kind, OP_FSD);	  /* c.fsd fa0, 0(a0) */
	return 0;
}

static int t_compressed(void)
{
	struct insn in = d(0x4501); /* c.li a0, 0 */
	CHECK_EQ(in.kind, OP_ADDI);
	CHECK_EQ(in.rd, 10);
	CHECK_EQ(in.rs1, 0);
	CHECK_EQ(in.len, 2);
	in = d(0x1141); /* c.addi sp, -16 */
	CHECK_EQ(in.kind, OP_ADDI);
	CHECK_EQ(in.imm, -16);
	in = d(0x7139); /* c.addi16sp sp, -64 */
	CHECK_EQ(in.kind, OP_ADDI);
	CHECK_EQ(in.rd, 2);
	CHECK_EQ(in.imm, -64);
	in = d(0x0028); /* c.addi4spn a0, sp, 8 */
	CHECK_EQ(in.kind, OP_ADDI);
	CHECK_EQ(in.rd, 10);
	CHECK_EQ(in.rs1, 2);
	CHECK_EQ(in.imm, 8);
	CHECK_EQ(d(0x0000).kind, OP_ILLEGAL);
	in = d(0x6522); /* c.ldsp a0, 8(sp) */
	CHECK_EQ(in.kind, OP_LD);
	CHECK_EQ(in.imm, 8);
	in = d(0xe42a); /* c.sdsp a0, 8(sp) */
	CHECK_EQ(in.kind, OP_SD);
	CHECK_EQ(in.rs2, 10);
	CHECK_EQ(in.imm, 8);
	in = d(0x8082); /* c.ret = jalr x0, 0(ra) */
	CHECK_EQ(in.kind, OP_JALR);
	CHECK_EQ(in.rd, 0);
	CHECK_EQ(in.rs1, 1);
	in = d(0x9002); /* c.ebreak */
	CHECK_EQ(in.kind, OP_EBREAK);
	in = d(0x852e); /* c.mv a0, a1 */
	CHECK_EQ(in.kind, OP_ADD);
	CHECK_EQ(in.rs1, 0);
	CHECK_EQ(in.rs2, 11);
	in = d(0xbfe5); /* c.j -8 */
	CHECK_EQ(in.kind, OP_JAL);
	CHECK_EQ(in.imm, -8);
	in = d(0xc111); /* c.beqz a0, 4 */
	CHECK_EQ(in.kind, OP_BEQ);
	CHECK_EQ(in.rs1, 10);
	CHECK_EQ(in.imm, 4);
	in = d(0x9d29); /* c.addw a0, a0, a0 */
	CHECK_EQ(in.kind, OP_ADDW);
	in = d(0x8d89); /* c.sub a1, a1, a0 */
	CHECK_EQ(in.kind, OP_SUB);
	CHECK_EQ(in.rd, 11);
	CHECK_EQ(d(0x2001).kind, OP_ILLEGAL); /* c.addiw with rd = 0 is reserved */
	CHECK_EQ(d(0x6001).kind, OP_ILLEGAL); /* c.lui with imm 0 */
	return 0;
}

/* fence: imm 1 where the host needs a barrier (an earlier store or output before a later
 * load or input, which x86 may reorder), 0 where its own order suffices. */
static int t_fence(void)
{
	static const struct {
		uint32_t w;
		int64_t barrier;
	} cases[] = {
		{0x0330000f, 1}, /* fence rw,rw (smp_mb) */
		{0x0ff0000f, 1}, /* fence iorw,iorw (mb) */
		{0x0120000f, 1}, /* fence w,r */
		{0x0480000f, 1}, /* fence o,i */
		{0x0230000f, 0}, /* fence r,rw (acquire) */
		{0x0310000f, 0}, /* fence rw,w (release) */
		{0x0110000f, 0}, /* fence w,w */
		{0x0840000f, 0}, /* fence i,o */
		{0x8330000f, 0}, /* fence.tso */
		{0x8ff0000f, 1}, /* fm 1000, iorw,iorw: reserved, a normal fence */
		{0x8120000f, 1}, /* fm 1000, w,r: likewise */
		{0x1330000f, 1}, /* fm 0001: reserved, a normal fence rw,rw */
		{0x0100000f, 0}, /* pause */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct insn in = d(cases[i].w);
		CHECK_EQ(in.kind, OP_FENCE);
		CHECK_EQ(in.imm, cases[i].barrier);
	}
	return 0;
}

static int t_names(void)
{
	CHECK(!strcmp(decode_op_name(OP_AMOMAXU_D), "AMOMAXU_D"));
	CHECK(decode_op_flags(OP_JAL) & OPF_END);
	CHECK(decode_op_flags(OP_FADD_S) & OPF_FPU);
	CHECK_EQ(decode_insn_len(0x0013), 4);
	CHECK_EQ(decode_insn_len(0x4501), 2);
	return 0;
}

static const struct unit_test tests[] = {
	{"rv64i", t_rv64i},	      {"system", t_system}, {"m_a", t_m_a},	{"fp", t_fp},
	{"compressed", t_compressed}, {"names", t_names},   {"fence", t_fence},
};

UNIT_MAIN("decode", tests)
