/*
 * A hart's architectural state as a host-independent record (core/sbuf.h): the integer
 * and FP registers, pc, privilege, every CSR Lodge implements (PMP, Sdtrig triggers,
 * stimecmp, fcsr), and whether the hart sits in wfi. For snapshots and migration.
 *
 * Not in the record: the LR/SC reservation (dropped: SC after a restore fails, which the
 * guest retries), caches and TLBs (rebuilt), and the interrupt lines devices drive (MEIP,
 * SEIP, MSIP, MTIP and the CLINT's mtimecmp are device state: the PLIC and CLINT drive
 * them again when they load).
 */
#ifndef LODGE_CPU_STATE_H
#define LODGE_CPU_STATE_H

struct hart;
struct sbuf;
struct sreader;

#define HART_STATE_VERSION 1

/* Appends the hart's state to `out`. The hart must not be running (machine paused, or not
 * started): its thread folded the host FPU's flags into fflags when it parked. Returns 0
 * or out->err (-ENOMEM). */
int hart_save(const struct hart *h, struct sbuf *out) __attribute__((warn_unused_result));

/* Replaces the hart's state with a record from hart_save, which may come from an
 * untrusted file: every value must be one the hart could hold (legal privilege, satp
 * mode, mstatus fields, trigger configuration, fcsr; same hart id and misa), else
 * -EINVAL and the hart is left in an unspecified but safe state (reset it or discard the
 * machine). The hart must not be running. Decoded code and TLBs are dropped. */
int hart_load(struct hart *h, struct sreader *in) __attribute__((warn_unused_result));

#endif
