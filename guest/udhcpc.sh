#!/bin/sh
# udhcpc's event script in the default guest: configures the interface, the default route
# and /etc/resolv.conf from the DHCP answer (user networking: 10.0.2.15, gateway 10.0.2.2,
# DNS 10.0.2.3).
case $1 in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do
		ip route replace default via "$r" dev "$interface"
		break
	done
	: >/etc/resolv.conf
	for d in $dns; do
		echo "nameserver $d" >>/etc/resolv.conf
	done
	;;
esac
exit 0
