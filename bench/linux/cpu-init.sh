#!/bin/sh
# /init for the in-guest CPU benchmark (bench/boot --cpu; built into
# build/bench/linux/cpu-initrd.img with /bin/cpubench, the static riscv64 build of
# bench/linux/cpubench.c). Runs it once (it prints its "LODGE-BENCH cpu ..." line), then
# waits for the console to drain and powers off.

/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
echo "LODGE-BENCH start"
/bin/cpubench || echo "LODGE-BENCH cpu failed status=$?"
stty onlcr 2>/dev/null
poweroff -f
