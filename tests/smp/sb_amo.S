/*
 * Store buffering (the "SB" litmus test, as in sb.S) with the atomics' annotations doing
 * the fence's work, run with --cpus 2 (hart ids in a0). Each phase runs ITERS rounds in
 * which hart 0 stores 1 to x and loads y while hart 1 stores 1 to y and loads x; RVWMO
 * forbids both loads seeing 0 in every phase, and hart 0 fails with the phase's status:
 *   3: the load is `lr.w.aqrl` (its rl orders the earlier store before it: PPO rule 6;
 *      C11's seq_cst compare-exchange is `lr.w.aqrl; bne; sc.w.rl` in the spec's
 *      mapping table, so a seq_cst store and a failing seq_cst CAS are this test)
 *   4: the store is `amoswap.w.aqrl` (its aq orders the later load after it)
 *   5: the load is `amoor.w.aqrl` with rs2 = zero (its rl, as in 3)
 *   6: the store is `sc.w.rl`, the load `lr.w.aq` (both RCsc: PPO rule 7)
 * The host's locked instructions (the AMOs, SC) are full barriers, but an LR is a plain
 * load there: phase 3 needs a host barrier before it (cpu/decode.c, dec_amo).
 * The rounds are lined up as in sb.S. Other harts park.
 */
#define ITERS 50000 /* rounds per phase (sb.h) */
#include "sb.h"

	SB_START
	SB_PHASE 3, "sw t0, 0(s2)", "lr.w.aqrl t1, (s3)"
	SB_PHASE 4, "amoswap.w.aqrl zero, t0, (s2)", "lw t1, 0(s3)"
	SB_PHASE 5, "sw t0, 0(s2)", "amoor.w.aqrl t1, zero, (s3)"
	SB_PHASE 6, "call store_sc", "lr.w.aq t1, (s3)"
	SB_END

/* 1 (t0) to 0(s2) by lr.w / sc.w.rl, retried until the SC succeeds. Clobbers t2. */
	.text
store_sc:
	lr.w t2, (s2)
	sc.w.rl t2, t0, (s2)
	bnez t2, store_sc
	ret
