/*
 * RV64GC decoder: turns one instruction (32-bit, or 16-bit compressed) into a struct insn
 * naming an operation from cpu/ops.def and its operands. Pure function, no state, so the
 * interpreter's block builder, the unit tests and a future JIT share it.
 * Unprivileged spec chapters 2, 7-13, 16 (C), privileged spec chapter 3.3 encodings.
 */
#ifndef LODGE_CPU_DECODE_H
#define LODGE_CPU_DECODE_H

#include <stdint.h>

#define OPF_END 1u /* ends a decoded block */
#define OPF_MEM 2u /* accesses memory */
#define OPF_FP	4u /* needs mstatus.FS != Off */
#define OPF_FPU 8u /* executed by fpu_exec() */

enum op_kind {
#define X(name, flags) OP_##name,
#define XF(name)       OP_##name,
#include "cpu/ops.def"
#undef X
#undef XF
	OP__COUNT
};

struct insn {
	enum op_kind kind;
	uint8_t rd, rs1, rs2, rs3; /* register numbers (rd = 0 allowed) */
	uint8_t rm;		   /* FP rounding mode field */
	uint8_t len;		   /* 2 or 4 */
	int64_t imm;		   /* immediate, CSR number, or branch/jump offset */
	uint32_t raw;		   /* the instruction bits (for tval on illegal) */
};

/* Decodes the instruction whose low bits are in `bits` (upper half ignored when the low two
 * bits say it is compressed). Always succeeds: unknown or reserved encodings give OP_ILLEGAL.
 * Branch/JAL offsets are relative to the instruction's own address. */
void decode(uint32_t bits, struct insn *out);

/* Operation flags (OPF_*) and names, from ops.def. The flags are read for every
 * instruction a block decodes: inline. */
extern const unsigned decode_op_flag_table[OP__COUNT];

static inline unsigned decode_op_flags(enum op_kind kind)
{
	return kind < OP__COUNT ? decode_op_flag_table[kind] : 0;
}

const char *decode_op_name(enum op_kind kind);

/* Length in bytes of the instruction whose first 16 bits are `lo`. */
static inline unsigned decode_insn_len(uint16_t lo)
{
	return (lo & 3) == 3 ? 4 : 2;
}

#endif
