#!/bin/sh
# /init for the vsock and balloon tests (tests/vsock/suite.sh). The kernel command line's
# lodge.test=NAME picks the scenario; results are "LODGE-TEST key=value" lines, then
# "LODGE-TEST done", then poweroff. The host side (tests/vsock/host.py serve) answers on
# host ports 5000 and 5001 (echo) and 7000 (Lodge's resident memory in kB).
#   vsock    guest -> host: a message to port 5000 and 2 MiB to port 5001, both echoed;
#            host -> guest: an echo listener on port 6000 for host.py connect
#   inflate  waits for the balloon (--balloon=size=...) to take its pages, then reports
#            MemTotal and Lodge's RSS
#   report   fills 256 MiB of tmpfs, reports Lodge's RSS, deletes the file, then waits
#            for free page reporting to give the memory back (RSS falls)
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=90% tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
kver=$(uname -r)
while read -r m; do insmod "/lib/modules/$kver/$m"; done <"/lib/modules/$kver/modules.load"

t=
for a in $(cat /proc/cmdline); do
	case $a in lodge.test=*) t=${a#lodge.test=} ;; esac
done

memtotal() { sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
host_rss() { vsock-helper connect 2 7000 rss | sed -n 's/^REPLY //p'; }

case $t in
vsock)
	vsock-helper listen 6000 >/tmp/listen.out 2>&1 &
	lpid=$!
	echo "LODGE-TEST $(vsock-helper connect 2 5000 'hello from guest')"
	echo "LODGE-TEST $(vsock-helper big 2 5001 2097152)"
	i=0
	while kill -0 $lpid 2>/dev/null && [ $i -lt 240 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	wait $lpid
	echo "LODGE-TEST listener=$? $(cat /tmp/listen.out)"
	;;
inflate)
	i=0
	while [ "$(memtotal)" -gt 160000 ] && [ $i -lt 240 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	echo "LODGE-TEST memtotal_kb=$(memtotal)"
	echo "LODGE-TEST rss_kb=$(host_rss)"
	;;
report)
	dd if=/dev/zero of=/tmp/fill bs=1M count=256 2>/dev/null
	peak=$(host_rss)
	echo "LODGE-TEST rss_peak_kb=$peak"
	rm /tmp/fill
	i=0
	now=$peak
	while [ "$now" -gt $((peak - 150000)) ] && [ $i -lt 120 ]; do
		sleep 1
		now=$(host_rss)
		i=$((i + 1))
	done
	echo "LODGE-TEST rss_after_kb=$now"
	;;
esac
echo "LODGE-TEST done"
sleep 1
poweroff -f
