/*
 * RV64GC instruction decoder (see decode.h). Reserved encodings decode to OP_ILLEGAL;
 * HINT encodings (e.g. c.nop with a nonzero immediate, writes to x0) decode to their
 * ordinary operation, which has no architectural effect, as the spec allows.
 */
#include "cpu/decode.h"

#include "core/util.h"

const unsigned decode_op_flag_table[OP__COUNT] = {
#define X(name, flags) [OP_##name] = (flags),
#define XF(name)       [OP_##name] = OPF_FP | OPF_FPU,
#include "cpu/ops.def"
#undef X
#undef XF
};

static const char *const op_names[OP__COUNT] = {
#define X(name, flags) [OP_##name] = #name,
#define XF(name)       [OP_##name] = #name,
#include "cpu/ops.def"
#undef X
#undef XF
};

const char *decode_op_name(enum op_kind kind)
{
	return kind < OP__COUNT ? op_names[kind] : "?";
}

static inline uint32_t bits(uint32_t v, unsigned hi, unsigned lo)
{
	return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static inline int64_t imm_i(uint32_t w)
{
	return (int64_t)(int32_t)w >> 20;
}

static inline int64_t imm_s(uint32_t w)
{
	return (int64_t)sext64((bits(w, 31, 25) << 5) | bits(w, 11, 7), 12);
}

static inline int64_t imm_b(uint32_t w)
{
	uint32_t v = (bits(w, 31, 31) << 12) | (bits(w, 7, 7) << 11) | (bits(w, 30, 25) << 5) |
		     (bits(w, 11, 8) << 1);
	return (int64_t)sext64(v, 13);
}

static inline int64_t imm_j(uint32_t w)
{
	uint32_t v = (bits(w, 31, 31) << 20) | (bits(w, 19, 12) << 12) | (bits(w, 20, 20) << 11) |
		     (bits(w, 30, 21) << 1);
	return (int64_t)sext64(v, 21);
}

static void set(struct insn *o, enum op_kind k, unsigned rd, unsigned rs1, unsigned rs2,
		int64_t imm)
{
	o->kind = k;
	o->rd = (uint8_t)rd;
	o->rs1 = (uint8_t)rs1;
	o->rs2 = (uint8_t)rs2;
	o->imm = imm;
}

/* Whether FENCE w orders earlier stores (or device output) before later loads (or
 * device input): pred has W or O and succ has R or I, and it is not FENCE.TSO (fm 1000
 * with pred and succ exactly RW, which leaves that pair unordered; fm 1000 with other
 * sets, like every other nonzero fm, is reserved and acts as fm 0000). The host's x86
 * ordering (TSO) keeps every other pair in order by itself, but lets a load pass an
 * earlier store to another address: Linux's smp_mb() and virtio_mb() ("fence rw,rw")
 * need a host barrier there, or a hart misses another hart's store (a lost wake-up) or
 * a device misses the driver's avail index while the driver misses the device's
 * avail_event (a lost kick). */
static int64_t fence_orders_store_load(uint32_t w)
{
	unsigned fm = bits(w, 31, 28), pred = bits(w, 27, 24), succ = bits(w, 23, 20);

	if (fm == 8 && pred == 3 && succ == 3)
		return 0;		   /* fence.tso */
	return (pred & 5) && (succ & 0xa); /* pred O|W, succ I|R */
}

static void dec_load(uint32_t w, struct insn *o)
{
	static const enum op_kind k[8] = {OP_LB,  OP_LH,  OP_LW,  OP_LD,
					  OP_LBU, OP_LHU, OP_LWU, OP_ILLEGAL};
	set(o, k[bits(w, 14, 12)], bits(w, 11, 7), bits(w, 19, 15), 0, imm_i(w));
}

static void dec_store(uint32_t w, struct insn *o)
{
	static const enum op_kind k[8] = {OP_SB,      OP_SH,	  OP_SW,      OP_SD,
					  OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL};
	set(o, k[bits(w, 14, 12)], 0, bits(w, 19, 15), bits(w, 24, 20), imm_s(w));
}

static void dec_op_imm(uint32_t w, struct insn *o)
{
	unsigned f3 = bits(w, 14, 12), f6 = bits(w, 31, 26);
	enum op_kind k = OP_ILLEGAL;
	int64_t imm = imm_i(w);

	switch (f3) {
	case 0:
		k = OP_ADDI;
		break;
	case 2:
		k = OP_SLTI;
		break;
	case 3:
		k = OP_SLTIU;
		break;
	case 4:
		k = OP_XORI;
		break;
	case 6:
		k = OP_ORI;
		break;
	case 7:
		k = OP_ANDI;
		break;
	case 1:
		k = f6 == 0 ? OP_SLLI : OP_ILLEGAL;
		imm &= 63;
		break;
	case 5:
		k = f6 == 0 ? OP_SRLI : f6 == 0x10 ? OP_SRAI : OP_ILLEGAL;
		imm &= 63;
		break;
	}
	set(o, k, bits(w, 11, 7), bits(w, 19, 15), 0, imm);
}

static void dec_op_imm32(uint32_t w, struct insn *o)
{
	unsigned f3 = bits(w, 14, 12), f7 = bits(w, 31, 25);
	enum op_kind k = OP_ILLEGAL;
	int64_t imm = imm_i(w);

	if (f3 == 0) {
		k = OP_ADDIW;
	} else if (f3 == 1) {
		k = f7 == 0 ? OP_SLLIW : OP_ILLEGAL;
		imm &= 31;
	} else if (f3 == 5) {
		k = f7 == 0 ? OP_SRLIW : f7 == 0x20 ? OP_SRAIW : OP_ILLEGAL;
		imm &= 31;
	}
	set(o, k, bits(w, 11, 7), bits(w, 19, 15), 0, imm);
}

static void dec_op(uint32_t w, struct insn *o)
{
	static const enum op_kind base[8] = {OP_ADD, OP_SLL, OP_SLT, OP_SLTU,
					     OP_XOR, OP_SRL, OP_OR,  OP_AND};
	static const enum op_kind mul[8] = {OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU,
					    OP_DIV, OP_DIVU, OP_REM,	OP_REMU};
	unsigned f3 = bits(w, 14, 12), f7 = bits(w, 31, 25);
	enum op_kind k = OP_ILLEGAL;

	if (f7 == 0)
		k = base[f3];
	else if (f7 == 1)
		k = mul[f3];
	else if (f7 == 0x20 && f3 == 0)
		k = OP_SUB;
	else if (f7 == 0x20 && f3 == 5)
		k = OP_SRA;
	set(o, k, bits(w, 11, 7), bits(w, 19, 15), bits(w, 24, 20), 0);
}

static void dec_op32(uint32_t w, struct insn *o)
{
	unsigned f3 = bits(w, 14, 12), f7 = bits(w, 31, 25);
	enum op_kind k = OP_ILLEGAL;

	if (f7 == 0) {
		k = f3 == 0 ? OP_ADDW : f3 == 1 ? OP_SLLW : f3 == 5 ? OP_SRLW : OP_ILLEGAL;
	} else if (f7 == 0x20) {
		k = f3 == 0 ? OP_SUBW : f3 == 5 ? OP_SRAW : OP_ILLEGAL;
	} else if (f7 == 1) {
		switch (f3) {
		case 0:
			k = OP_MULW;
			break;
		case 4:
			k = OP_DIVW;
			break;
		case 5:
			k = OP_DIVUW;
			break;
		case 6:
			k = OP_REMW;
			break;
		case 7:
			k = OP_REMUW;
			break;
		}
	}
	set(o, k, bits(w, 11, 7), bits(w, 19, 15), bits(w, 24, 20), 0);
}

static void dec_branch(uint32_t w, struct insn *o)
{
	static const enum op_kind k[8] = {OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL,
					  OP_BLT, OP_BGE, OP_BLTU,    OP_BGEU};
	set(o, k[bits(w, 14, 12)], 0, bits(w, 19, 15), bits(w, 24, 20), imm_b(w));
}

static void dec_amo(uint32_t w, struct insn *o)
{
	static const enum op_kind kw[32] = {
		[0x00] = OP_AMOADD_W,  [0x01] = OP_AMOSWAP_W, [0x02] = OP_LR_W,
		[0x03] = OP_SC_W,      [0x04] = OP_AMOXOR_W,  [0x0c] = OP_AMOAND_W,
		[0x08] = OP_AMOOR_W,   [0x10] = OP_AMOMIN_W,  [0x14] = OP_AMOMAX_W,
		[0x18] = OP_AMOMINU_W, [0x1c] = OP_AMOMAXU_W,
	};
	static const enum op_kind kd[32] = {
		[0x00] = OP_AMOADD_D,  [0x01] = OP_AMOSWAP_D, [0x02] = OP_LR_D,
		[0x03] = OP_SC_D,      [0x04] = OP_AMOXOR_D,  [0x0c] = OP_AMOAND_D,
		[0x08] = OP_AMOOR_D,   [0x10] = OP_AMOMIN_D,  [0x14] = OP_AMOMAX_D,
		[0x18] = OP_AMOMINU_D, [0x1c] = OP_AMOMAXU_D,
	};
	unsigned f3 = bits(w, 14, 12), f5 = bits(w, 31, 27);
	enum op_kind k = OP_ILLEGAL;

	if (f3 == 2)
		k = kw[f5];
	else if (f3 == 3)
		k = kd[f5];
	/* Unlisted funct5 values are zero in the tables, which is OP_ILLEGAL. */
	if ((k == OP_LR_W || k == OP_LR_D) && bits(w, 24, 20) != 0)
		k = OP_ILLEGAL;
	/* imm 1: an LR with the rl bit (lr.aqrl: C11's seq_cst compare-exchange) orders
	 * earlier stores before its load, which the host's plain load (cpu/atomics.c) does
	 * not: a host barrier before it, as for fence_orders_store_load. The AMOs and SC
	 * are locked host instructions, full barriers by themselves. */
	set(o, k, bits(w, 11, 7), bits(w, 19, 15), bits(w, 24, 20),
	    (k == OP_LR_W || k == OP_LR_D) && bits(w, 25, 25));
}

static void dec_system(uint32_t w, struct insn *o)
{
	static const enum op_kind csr[8] = {OP_ILLEGAL, OP_CSRRW,  OP_CSRRS,  OP_CSRRC,
					    OP_ILLEGAL, OP_CSRRWI, OP_CSRRSI, OP_CSRRCI};
	unsigned f3 = bits(w, 14, 12), rd = bits(w, 11, 7), rs1 = bits(w, 19, 15);
	unsigned f12 = bits(w, 31, 20);

	if (f3 != 0) {
		set(o, csr[f3], rd, rs1, 0, f12);
		return;
	}
	set(o, OP_ILLEGAL, 0, rs1, bits(w, 24, 20), 0);
	if (bits(w, 31, 25) == 0x09 && rd == 0) {
		o->kind = OP_SFENCE_VMA;
		return;
	}
	if (rd != 0 || rs1 != 0)
		return;
	switch (f12) {
	case 0x000:
		o->kind = OP_ECALL;
		break;
	case 0x001:
		o->kind = OP_EBREAK;
		break;
	case 0x102:
		o->kind = OP_SRET;
		break;
	case 0x302:
		o->kind = OP_MRET;
		break;
	case 0x105:
		o->kind = OP_WFI;
		break;
	}
}

/* FP loads/stores: width 2 = S, 3 = D. */
static void dec_fp_mem(uint32_t w, struct insn *o, int store)
{
	unsigned width = bits(w, 14, 12);

	if (store)
		set(o,
		    width == 2	 ? OP_FSW
		    : width == 3 ? OP_FSD
				 : OP_ILLEGAL,
		    0, bits(w, 19, 15), bits(w, 24, 20), imm_s(w));
	else
		set(o,
		    width == 2	 ? OP_FLW
		    : width == 3 ? OP_FLD
				 : OP_ILLEGAL,
		    bits(w, 11, 7), bits(w, 19, 15), 0, imm_i(w));
}

static void dec_fma(uint32_t w, struct insn *o, unsigned which)
{
	static const enum op_kind ks[4] = {OP_FMADD_S, OP_FMSUB_S, OP_FNMSUB_S, OP_FNMADD_S};
	static const enum op_kind kd[4] = {OP_FMADD_D, OP_FMSUB_D, OP_FNMSUB_D, OP_FNMADD_D};
	unsigned fmt = bits(w, 26, 25);

	set(o,
	    fmt == 0   ? ks[which]
	    : fmt == 1 ? kd[which]
		       : OP_ILLEGAL,
	    bits(w, 11, 7), bits(w, 19, 15), bits(w, 24, 20), 0);
	o->rs3 = (uint8_t)bits(w, 31, 27);
}

/* OP-FP: returns the operation for funct7/rs2/rm, or OP_ILLEGAL. */
static enum op_kind fp_kind(unsigned f7, unsigned rs2, unsigned rm)
{
	int d = f7 & 1;

	switch (f7 >> 2) {
	case 0x00:
		return d ? OP_FADD_D : OP_FADD_S;
	case 0x01:
		return d ? OP_FSUB_D : OP_FSUB_S;
	case 0x02:
		return d ? OP_FMUL_D : OP_FMUL_S;
	case 0x03:
		return d ? OP_FDIV_D : OP_FDIV_S;
	case 0x0b:
		return rs2 ? OP_ILLEGAL : d ? OP_FSQRT_D : OP_FSQRT_S;
	case 0x04:
		if (rm > 2)
			return OP_ILLEGAL;
		return d ? (enum op_kind)(OP_FSGNJ_D + rm) : (enum op_kind)(OP_FSGNJ_S + rm);
	case 0x05:
		if (rm > 1)
			return OP_ILLEGAL;
		return d ? (rm ? OP_FMAX_D : OP_FMIN_D) : (rm ? OP_FMAX_S : OP_FMIN_S);
	case 0x08:
		if (!d && rs2 == 1)
			return OP_FCVT_S_D;
		if (d && rs2 == 0)
			return OP_FCVT_D_S;
		return OP_ILLEGAL;
	case 0x14:
		if (rm > 2)
			return OP_ILLEGAL;
		if (d)
			return rm == 2 ? OP_FEQ_D : rm == 1 ? OP_FLT_D : OP_FLE_D;
		return rm == 2 ? OP_FEQ_S : rm == 1 ? OP_FLT_S : OP_FLE_S;
	case 0x18:
		if (rs2 > 3)
			return OP_ILLEGAL;
		return d ? (enum op_kind)(OP_FCVT_W_D + rs2) : (enum op_kind)(OP_FCVT_W_S + rs2);
	case 0x1a:
		if (rs2 > 3)
			return OP_ILLEGAL;
		return d ? (enum op_kind)(OP_FCVT_D_W + rs2) : (enum op_kind)(OP_FCVT_S_W + rs2);
	case 0x1c:
		if (rs2 != 0)
			return OP_ILLEGAL;
		if (rm == 0)
			return d ? OP_FMV_X_D : OP_FMV_X_W;
		if (rm == 1)
			return d ? OP_FCLASS_D : OP_FCLASS_S;
		return OP_ILLEGAL;
	case 0x1e:
		if (rs2 != 0 || rm != 0)
			return OP_ILLEGAL;
		return d ? OP_FMV_D_X : OP_FMV_W_X;
	}
	return OP_ILLEGAL;
}

static void dec_op_fp(uint32_t w, struct insn *o)
{
	unsigned f7 = bits(w, 31, 25);

	if ((f7 & 2) != 0) { /* fmt 2 (H) and 3 (Q) are not implemented */
		set(o, OP_ILLEGAL, 0, 0, 0, 0);
		return;
	}
	set(o, fp_kind(f7, bits(w, 24, 20), bits(w, 14, 12)), bits(w, 11, 7), bits(w, 19, 15),
	    bits(w, 24, 20), 0);
}

static void decode32(uint32_t w, struct insn *o)
{
	o->rm = (uint8_t)bits(w, 14, 12);
	switch (bits(w, 6, 0)) {
	case 0x37:
		set(o, OP_LUI, bits(w, 11, 7), 0, 0, (int64_t)(int32_t)(w & 0xfffff000u));
		break;
	case 0x17:
		set(o, OP_AUIPC, bits(w, 11, 7), 0, 0, (int64_t)(int32_t)(w & 0xfffff000u));
		break;
	case 0x6f:
		set(o, OP_JAL, bits(w, 11, 7), 0, 0, imm_j(w));
		break;
	case 0x67:
		set(o, bits(w, 14, 12) == 0 ? OP_JALR : OP_ILLEGAL, bits(w, 11, 7), bits(w, 19, 15),
		    0, imm_i(w));
		break;
	case 0x63:
		dec_branch(w, o);
		break;
	case 0x03:
		dec_load(w, o);
		break;
	case 0x23:
		dec_store(w, o);
		break;
	case 0x13:
		dec_op_imm(w, o);
		break;
	case 0x1b:
		dec_op_imm32(w, o);
		break;
	case 0x33:
		dec_op(w, o);
		break;
	case 0x3b:
		dec_op32(w, o);
		break;
	case 0x0f:
		if (bits(w, 14, 12) == 0)
			set(o, OP_FENCE, 0, 0, 0, fence_orders_store_load(w));
		else if (bits(w, 14, 12) == 1)
			set(o, OP_FENCE_I, 0, 0, 0, 0);
		else
			set(o, OP_ILLEGAL, 0, 0, 0, 0);
		break;
	case 0x73:
		dec_system(w, o);
		break;
	case 0x2f:
		dec_amo(w, o);
		break;
	case 0x07:
		dec_fp_mem(w, o, 0);
		break;
	case 0x27:
		dec_fp_mem(w, o, 1);
		break;
	case 0x43:
		dec_fma(w, o, 0);
		break;
	case 0x47:
		dec_fma(w, o, 1);
		break;
	case 0x4b:
		dec_fma(w, o, 2);
		break;
	case 0x4f:
		dec_fma(w, o, 3);
		break;
	case 0x53:
		dec_op_fp(w, o);
		break;
	default:
		set(o, OP_ILLEGAL, 0, 0, 0, 0);
		break;
	}
}

/* ---- Compressed (C extension, RV64) ---- */

#define CR(x) (8 + (x)) /* 3-bit register field -> x8..x15 */

static void dec_c0(uint32_t c, struct insn *o)
{
	unsigned rdp = CR(bits(c, 4, 2)), rs1p = CR(bits(c, 9, 7));
	uint32_t uimm_w = (bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6);
	uint32_t uimm_d = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6);

	switch (bits(c, 15, 13)) {
	case 0: { /* c.addi4spn */
		uint32_t nz = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) |
			      (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 3);
		set(o, nz ? OP_ADDI : OP_ILLEGAL, rdp, 2, 0, nz);
		break;
	}
	case 1:
		set(o, OP_FLD, rdp, rs1p, 0, uimm_d);
		break;
	case 2:
		set(o, OP_LW, rdp, rs1p, 0, uimm_w);
		break;
	case 3:
		set(o, OP_LD, rdp, rs1p, 0, uimm_d);
		break;
	case 5:
		set(o, OP_FSD, 0, rs1p, rdp, uimm_d);
		break;
	case 6:
		set(o, OP_SW, 0, rs1p, rdp, uimm_w);
		break;
	case 7:
		set(o, OP_SD, 0, rs1p, rdp, uimm_d);
		break;
	default:
		set(o, OP_ILLEGAL, 0, 0, 0, 0);
		break;
	}
}

static void dec_c1_alu(uint32_t c, struct insn *o)
{
	unsigned r = CR(bits(c, 9, 7)), rs2 = CR(bits(c, 4, 2));
	int64_t imm6 = (int64_t)sext64((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);
	unsigned shamt = (bits(c, 12, 12) << 5) | bits(c, 6, 2);

	switch (bits(c, 11, 10)) {
	case 0:
		set(o, OP_SRLI, r, r, 0, shamt);
		break;
	case 1:
		set(o, OP_SRAI, r, r, 0, shamt);
		break;
	case 2:
		set(o, OP_ANDI, r, r, 0, imm6);
		break;
	case 3: {
		static const enum op_kind k[8] = {OP_SUB,  OP_XOR,  OP_OR,	OP_AND,
						  OP_SUBW, OP_ADDW, OP_ILLEGAL, OP_ILLEGAL};
		set(o, k[(bits(c, 12, 12) << 2) | bits(c, 6, 5)], r, r, rs2, 0);
		break;
	}
	}
}

static void dec_c1(uint32_t c, struct insn *o)
{
	unsigned rd = bits(c, 11, 7);
	int64_t imm6 = (int64_t)sext64((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);

	switch (bits(c, 15, 13)) {
	case 0:
		set(o, OP_ADDI, rd, rd, 0, imm6);
		break; /* c.nop / c.addi */
	case 1:
		set(o, rd ? OP_ADDIW : OP_ILLEGAL, rd, rd, 0, imm6);
		break;
	case 2:
		set(o, OP_ADDI, rd, 0, 0, imm6);
		break; /* c.li */
	case 3:
		if (rd == 2) { /* c.addi16sp */
			uint32_t v = (bits(c, 12, 12) << 9) | (bits(c, 6, 6) << 4) |
				     (bits(c, 5, 5) << 6) | (bits(c, 4, 3) << 7) |
				     (bits(c, 2, 2) << 5);
			set(o, v ? OP_ADDI : OP_ILLEGAL, 2, 2, 0, (int64_t)sext64(v, 10));
		} else {
			set(o, imm6 ? OP_LUI : OP_ILLEGAL, rd, 0, 0, imm6 * 4096);
		}
		break;
	case 4:
		dec_c1_alu(c, o);
		break;
	case 5: { /* c.j */
		uint32_t v = (bits(c, 12, 12) << 11) | (bits(c, 11, 11) << 4) |
			     (bits(c, 10, 9) << 8) | (bits(c, 8, 8) << 10) | (bits(c, 7, 7) << 6) |
			     (bits(c, 6, 6) << 7) | (bits(c, 5, 3) << 1) | (bits(c, 2, 2) << 5);
		set(o, OP_JAL, 0, 0, 0, (int64_t)sext64(v, 12));
		break;
	}
	case 6:
	case 7: { /* c.beqz / c.bnez */
		uint32_t v = (bits(c, 12, 12) << 8) | (bits(c, 11, 10) << 3) |
			     (bits(c, 6, 5) << 6) | (bits(c, 4, 3) << 1) | (bits(c, 2, 2) << 5);
		set(o, bits(c, 13, 13) ? OP_BNE : OP_BEQ, 0, CR(bits(c, 9, 7)), 0,
		    (int64_t)sext64(v, 9));
		break;
	}
	}
}

static void dec_c2(uint32_t c, struct insn *o)
{
	unsigned rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
	uint32_t lw = (bits(c, 12, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6);
	uint32_t ld = (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6);
	uint32_t sw = (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6);
	uint32_t sd = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6);

	switch (bits(c, 15, 13)) {
	case 0:
		set(o, OP_SLLI, rd, rd, 0, (bits(c, 12, 12) << 5) | bits(c, 6, 2));
		break;
	case 1:
		set(o, OP_FLD, rd, 2, 0, ld);
		break;
	case 2:
		set(o, rd ? OP_LW : OP_ILLEGAL, rd, 2, 0, lw);
		break;
	case 3:
		set(o, rd ? OP_LD : OP_ILLEGAL, rd, 2, 0, ld);
		break;
	case 4:
		if (bits(c, 12, 12) == 0) {
			if (rs2 == 0) /* c.jr */
				set(o, rd ? OP_JALR : OP_ILLEGAL, 0, rd, 0, 0);
			else /* c.mv */
				set(o, OP_ADD, rd, 0, rs2, 0);
		} else {
			if (rs2 != 0) /* c.add */
				set(o, OP_ADD, rd, rd, rs2, 0);
			else if (rd == 0)
				set(o, OP_EBREAK, 0, 0, 0, 0);
			else /* c.jalr */
				set(o, OP_JALR, 1, rd, 0, 0);
		}
		break;
	case 5:
		set(o, OP_FSD, 0, 2, rs2, sd);
		break;
	case 6:
		set(o, OP_SW, 0, 2, rs2, sw);
		break;
	case 7:
		set(o, OP_SD, 0, 2, rs2, sd);
		break;
	}
}

void decode(uint32_t w, struct insn *o)
{
	o->rs3 = 0;
	o->rm = 7;
	o->raw = w;
	if ((w & 3) == 3) {
		o->len = 4;
		decode32(w, o);
		return;
	}
	o->len = 2;
	o->raw = w & 0xffff;
	switch (w & 3) {
	case 0:
		dec_c0(w & 0xffff, o);
		break;
	case 1:
		dec_c1(w & 0xffff, o);
		break;
	case 2:
		dec_c2(w & 0xffff, o);
		break;
	}
	/* The all-zero halfword is defined to be illegal (it is also c.addi4spn with imm 0). */
}
