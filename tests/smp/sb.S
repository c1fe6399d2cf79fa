/*
 * Store buffering (the "SB" litmus test), run with --cpus 2 (hart ids in a0): in each of
 * ITERS rounds, hart 0 stores 1 to x, runs `fence rw, rw` and loads y, while hart 1
 * stores 1 to y, runs the same fence and loads x. RVWMO forbids both loads seeing 0. The
 * x86 host lets a load pass an earlier store to another address, so that fence has to
 * be a host barrier (cpu/decode.c, fence_orders_store_load), translated or interpreted;
 * a no-op lets both see 0 (Linux's smp_mb() and virtio_mb() are this fence: a lost
 * wake-up between harts, a lost kick between a driver and a device). The rounds are
 * lined up by a counter both harts add to with an AMO and then spin on, so the two
 * stores and loads run at about the same time (sb.h). Hart 0 checks each round: status
 * 2 when both loads saw 0. Other harts park.
 */
#define ITERS 50000 /* rounds per phase (sb.h) */
#include "sb.h"

	SB_START
	SB_PHASE 2, "sw t0, 0(s2); fence rw, rw", "lw t1, 0(s3)"
	SB_END
