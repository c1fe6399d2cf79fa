/* Trap return instructions and the merged interrupt-pending view (see trap.c). */
#ifndef LODGE_CPU_TRAP_H
#define LODGE_CPU_TRAP_H

#include <stdint.h>

struct hart;

/* mret/sret: return 0 (pc, priv, mstatus updated) or -1 (illegal in this mode). */
int hart_mret(struct hart *h);
int hart_sret(struct hart *h);

/* mip as software reads it: device-driven bits | software-written bits. */
uint64_t hart_mip(const struct hart *h);

#endif
