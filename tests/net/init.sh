#!/bin/sh
# /init for the network tests (tests/net/net.mk builds it into build/net/net-initrd.img;
# tests/net/suite.sh boots it). The scenario comes from the kernel command line:
#   lodge.net=user   eth0 on user networking: DHCP, then the host is 10.0.2.2
#   lodge.net=tap    eth0 on a tap: static 192.168.77.2/24, the host is 192.168.77.1
#   lodge.http=PORT  the host's HTTP server (serves /file)
#   lodge.up=PORT    the host's upload sink (reads 1 MiB, answers its md5sum)
# Prints "LODGE-NET key=value" lines (each once, in this order), serves /index.html
# with httpd on port 8080 and waits for one connection on port 8081 (the host's "done"),
# then prints "LODGE-NET done" and powers off:
#   LODGE-NET mac0=MAC mac1=MAC     the NICs' addresses (mac1 "none" without a second)
#   LODGE-NET ip=ADDR               eth0's IPv4 address
#   LODGE-NET ping=ok|fail          (tap only) three pings to the host
#   LODGE-NET wget=MD5              md5sum of http://HOST:HTTP/file
#   LODGE-NET big=MD5               md5sum of 1 MiB of random data made here
#   LODGE-NET upload=MD5            what the upload sink answered for those bytes
#   LODGE-NET dns=ok|fail           (user only) nslookup of $lodge.dns through 10.0.2.3
#   LODGE-NET listening             httpd and the 8081 listener are up
#   LODGE-NET done=MSG              MSG: what arrived on port 8081

/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root

mdir=/lib/modules/$(uname -r)
while read -r m; do insmod "$mdir/$m" 2>/dev/null; done <"$mdir/modules.load"

mode= http= up= dnsname=
for a in $(cat /proc/cmdline); do
	case $a in
	lodge.net=*) mode=${a#lodge.net=} ;;
	lodge.http=*) http=${a#lodge.http=} ;;
	lodge.up=*) up=${a#lodge.up=} ;;
	lodge.dns=*) dnsname=${a#lodge.dns=} ;;
	esac
done
say() { echo "LODGE-NET $*"; }

mac1=none
[ -e /sys/class/net/eth1 ] && mac1=$(cat /sys/class/net/eth1/address)
say "mac0=$(cat /sys/class/net/eth0/address) mac1=$mac1"
# The virtio feature bits the driver accepted (bit 0 first), for the TSO check's report.
say "features=$(cat /sys/class/net/eth0/device/features 2>/dev/null)"
ip link set lo up
ip link set eth0 up

if [ "$mode" = user ]; then
	host=10.0.2.2
	cat >/tmp/dhcp.sh <<'SCRIPT'
#!/bin/sh
case $1 in
bound | renew)
	ifconfig "$interface" "$ip" netmask "$subnet"
	route add default gw "${router%% *}" dev "$interface"
	echo "nameserver ${dns%% *}" >/etc/resolv.conf
	;;
esac
SCRIPT
	chmod +x /tmp/dhcp.sh
	udhcpc -i eth0 -n -q -t 10 -T 3 -s /tmp/dhcp.sh >/dev/null 2>&1
else
	host=192.168.77.1
	ip addr add 192.168.77.2/24 dev eth0
fi
say "ip=$(ip -4 -o addr show eth0 | sed -n 's/.* inet \([0-9.]*\).*/\1/p')"

if [ "$mode" = tap ]; then
	if ping -c 3 -W 5 $host >/dev/null 2>&1; then say ping=ok; else say ping=fail; fi
fi

wget -q -T 60 -O /tmp/file "http://$host:$http/file" 2>/dev/null
say "wget=$(md5sum </tmp/file | cut -d' ' -f1)"
dd if=/dev/urandom of=/tmp/big bs=1024 count=1024 2>/dev/null
say "big=$(md5sum </tmp/big | cut -d' ' -f1)"
say "upload=$(nc -w 60 $host "$up" </tmp/big)"

if [ "$mode" = user ] && [ -n "$dnsname" ]; then
	if nslookup "$dnsname" 10.0.2.3 >/dev/null 2>&1; then say dns=ok; else say dns=fail; fi
fi

mkdir -p /www
echo "served by the guest over $mode networking" >/www/index.html
httpd -p 8080 -h /www
# nc exits when the host closes its side.
nc -l -p 8081 >/tmp/done &
sleep 1
say listening
wait
say "done=$(cat /tmp/done)"
sleep 1
poweroff -f
