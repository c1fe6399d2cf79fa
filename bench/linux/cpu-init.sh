#!/bin/sh
# /init for the in-guest CPU benchmark (bench/boot --cpu; built into
# build/bench/linux/cpu-initrd.img with /bin/cpubench, the static riscv64 build of
# bench/linux/cpubench.c). Runs it once (it prints its "LODGE-BENCH cpu ..." line), or
# CPUBENCH_PAR copies at once (bench/boot --smp puts CPUBENCH_PAR=N on the kernel command
# line, which passes it to init in the environment), then waits for the console to drain
# and powers off.

/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t devtmpfs devtmpfs /dev # background jobs read /dev/null
echo "LODGE-BENCH start"
n=${CPUBENCH_PAR:-1}
i=0
while [ "$i" -lt "$n" ]; do
	/bin/cpubench || echo "LODGE-BENCH cpu failed status=$?" &
	i=$((i + 1))
done
wait
stty onlcr 2>/dev/null
poweroff -f
