#!/bin/sh
# /init for the Linux boot tests (tests/linux/linux.mk builds it into build/linux/*.img).
# Prints machine facts as "LODGE-TEST key=value" lines, then "LODGE-TEST done", then ends
# the machine in one of these ways (the "end"):
#   poweroff  poweroff -f (the default)
#   reboot    reboot -f
#   panic     crash through sysrq ("Kernel panic - not syncing: sysrq triggered crash")
#   exit      init exits ("Kernel panic - not syncing: Attempted to kill init!")
#   shell     start a shell on the console instead
# The end comes from the kernel command line (lodge.end=NAME), else from /etc/lodge-end in
# the image (the make rules put it there for each variant), else poweroff.
# Lines (each once, in this order):
#   LODGE-TEST init uptime=S.SS       first thing /init does (S.SS from /proc/uptime)
#   LODGE-TEST kernel=VERSION
#   LODGE-TEST modules=N              modules loaded by insmod
#   LODGE-TEST modules_failed=NAMES   "none" when all loaded
#   LODGE-TEST nproc=N                online CPUs
#   LODGE-TEST memtotal_kb=N          MemTotal of /proc/meminfo
#   LODGE-TEST date=SECONDS           wall clock (epoch seconds; from the RTC at boot)
#   LODGE-TEST tmpfs=ok|fail          write-then-read of a tmpfs file
#   LODGE-TEST uptime=S.SS
#   LODGE-TEST end=NAME
#   LODGE-TEST done

/bin/busybox mount -t proc proc /proc
read -r up _ </proc/uptime
echo "LODGE-TEST init uptime=$up"
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root

kver=$(uname -r)
echo "LODGE-TEST kernel=$kver"
mdir=/lib/modules/$kver
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
echo "LODGE-TEST modules=$n"
echo "LODGE-TEST modules_failed=${failed:-none}"

echo "LODGE-TEST nproc=$(nproc)"
echo "LODGE-TEST memtotal_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
echo "LODGE-TEST date=$(date +%s)"

t=fail
v="lodge $$ $(date +%s)"
if echo "$v" >/tmp/lodge-test && [ "$(cat /tmp/lodge-test)" = "$v" ]; then
	t=ok
fi
echo "LODGE-TEST tmpfs=$t"

read -r up _ </proc/uptime
echo "LODGE-TEST uptime=$up"

end=poweroff
[ ! -f /etc/lodge-end ] || read -r end </etc/lodge-end
for a in $(cat /proc/cmdline); do
	case $a in lodge.end=*) end=${a#lodge.end=} ;; esac
done
echo "LODGE-TEST end=$end"
echo "LODGE-TEST done"
# Let the console drain: the kernel's own last words (panic, "reboot: ...") bypass the
# tty buffer and would otherwise come out before, or instead of, the lines above.
sleep 1

case $end in
reboot) reboot -f ;;
panic)
	echo 1 >/proc/sys/kernel/sysrq
	echo c >/proc/sysrq-trigger
	;;
exit) exit 1 ;;
shell)
	setsid cttyhack sh -l
	poweroff -f
	;;
*) poweroff -f ;;
esac
# Not reached; if it is, init exits and the kernel panics.
sleep 5
echo "LODGE-TEST end $end did not end the machine"
exit 1
