/*
 * Control and status registers (privileged spec ch. 2-4, Zicsr, Zicntr, Sstc, F's fcsr).
 * csr_op implements CSRRW/RS/RC semantics including the privilege, read-only and
 * counter-enable checks. Hart thread only.
 */
#ifndef LODGE_CPU_CSR_H
#define LODGE_CPU_CSR_H

#include <stdbool.h>
#include <stdint.h>

struct hart;

enum csr_opkind { CSR_RW, CSR_RS, CSR_RC };

/* Performs the CSR instruction: reads the old value into *old and, when `write` is set
 * (CSRRW always; CSRRS/RC when rs1/uimm != 0), writes the new one. Returns 0, or -1 when
 * the access is illegal (illegal-instruction exception; nothing changed). */
int csr_op(struct hart *h, unsigned csr, enum csr_opkind op, uint64_t src, bool write,
	   uint64_t *old);

#endif
