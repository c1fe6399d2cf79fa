#!/bin/sh
# /init for the network benchmark (bench/net/run; built into build/bench/net/net-initrd.img
# with /bin/netbench). Kernel command line: lodge.net=user|tap, lodge.port=PORT (the
# host's sink), lodge.secs=SECONDS. Sets eth0 up statically (user: 10.0.2.15, host
# 10.0.2.2, as both Lodge and QEMU lay user networking out; tap: 192.168.77.2, host
# 192.168.77.1), runs netbench, powers off.

/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mdir=/lib/modules/$(uname -r)
while read -r m; do insmod "$mdir/$m" 2>/dev/null; done <"$mdir/modules.load"
mode=user port= secs=10
for a in $(cat /proc/cmdline); do
	case $a in
	lodge.net=*) mode=${a#lodge.net=} ;;
	lodge.port=*) port=${a#lodge.port=} ;;
	lodge.secs=*) secs=${a#lodge.secs=} ;;
	esac
done
if [ "$mode" = tap ]; then
	addr=192.168.77.2 host=192.168.77.1
else
	addr=10.0.2.15 host=10.0.2.2
fi
ip link set lo up
ip link set eth0 up
ip addr add $addr/24 dev eth0
echo "LODGE-BENCH start"
/bin/netbench $host "$port" "$secs" || echo "LODGE-BENCH net failed status=$?"
stty onlcr 2>/dev/null
poweroff -f
