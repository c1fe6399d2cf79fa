#!/bin/sh
# /init for the boot benchmark (bench/boot; built into build/bench/linux/boot-initrd.img).
# Like tests/linux/test-init.sh it prints "LODGE-TEST init uptime=S.SS" first (the
# benchmark's "boot" mark), then loads the guest's modules (modules.load), prints
#   LODGE-BENCH modules=N failed=NAMES uptime=S.SS
# waits for the console to drain and powers off at once (no other facts, no sleep), so
# the time to poweroff is boot + module loading + shutdown.

/bin/busybox mount -t proc proc /proc
read -r up _ </proc/uptime
echo "LODGE-TEST init uptime=$up"
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

mdir=/lib/modules/$(uname -r)
n=0
failed=
if [ -f "$mdir/modules.load" ]; then
	while read -r m; do
		if insmod "$mdir/$m"; then
			n=$((n + 1))
		else
			failed="$failed${failed:+,}${m%.ko}"
		fi
	done <"$mdir/modules.load"
fi
read -r up _ </proc/uptime
echo "LODGE-BENCH modules=$n failed=${failed:-none} uptime=$up"
# stty changes the console's modes with tcsetattr(TCSADRAIN): it returns once the UART
# has sent everything above, so poweroff cannot cut the line off.
stty onlcr 2>/dev/null
poweroff -f
