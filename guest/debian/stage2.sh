#!/bin/sh
# The image build's second half, run by the initramfs (guest/debian/init, lodge.stage2)
# in a chroot on the new disk inside a Lodge guest: debootstrap's second stage (installs
# the packages the first stage on the host unpacked), then the configuration that needs
# the installed system. scripts/mkdebian.sh put this file at /lodge/stage2.sh and the
# files to lay over the finished system under /lodge/overlay/. Ends with status 0 only
# when everything worked; the last line says how long each step took.
set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive

# Whole seconds of uptime (awk, an alternative, exists only once mawk is configured).
uptime_s() {
	read -r up _ </proc/uptime
	echo "${up%.*}"
}
t0=$(uptime_s)
times=
step() {
	now=$(uptime_s)
	times="$times $1=$((now - t0))s"
	t0=$now
}

echo "LODGE-STAGE2 second stage: $(nproc) harts, $(grep MemTotal /proc/meminfo)"
# Each line of debootstrap's progress with the guest's uptime in front, to see where the
# time goes.
{
	st=0
	/debootstrap/debootstrap --second-stage || st=$?
	echo $st >/tmp/lodge-debootstrap.status
} 2>&1 | while IFS= read -r line; do
	{ read -r up _ </proc/uptime; } 2>/dev/null || up=- # debootstrap unmounts /proc at its end
	echo "[$up] $line"
done
if [ "$(cat /tmp/lodge-debootstrap.status)" != 0 ]; then
	echo "LODGE-STAGE2 debootstrap --second-stage failed; the end of its log:"
	tail -n 40 /debootstrap/debootstrap.log 2>/dev/null || tail -n 40 /var/log/bootstrap.log
	exit 1
fi
# debootstrap unmounts the kernel file systems the initramfs mounted for it.
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
step debootstrap

# Files from the host (network, fstab, hostname, root's authorized key), then services.
cp -a /lodge/overlay/. /
chown -R root:root /root/.ssh
chmod 700 /root/.ssh
chmod 600 /root/.ssh/authorized_keys
systemctl enable systemd-networkd.service systemd-resolved.service ssh.service
# The console logs in as root without a password (a local machine's console); ssh
# takes only the key (sshd's default for root: prohibit-password).
passwd -d root >/dev/null
step configure

# Build-only settings (scripts/mkdebian.sh): services not started by maintainer
# scripts, dpkg without fsync.
rm -f /usr/sbin/policy-rc.d /etc/dpkg/dpkg.cfg.d/lodge-build
apt-get clean
rm -rf /lodge /var/lib/apt/lists/* /var/log/*.log /tmp/lodge-debootstrap.status
step clean
echo "LODGE-STAGE2 done:$times"
