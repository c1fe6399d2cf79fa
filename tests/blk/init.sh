#!/bin/sh
# /init for the virtio-blk tests (tests/blk/suite.sh): loads the modules, runs the test
# named by lodge.test=NAME on the kernel command line (a function below), prints
# "BLK-TEST done", and powers off. The host side checks the disks afterwards.
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mdir=/lib/modules/$(uname -r)
while read -r m; do insmod "$mdir/$m" 2>/dev/null; done <"$mdir/modules.load"
say() { echo "BLK-TEST $*"; }
test=$(sed -n 's/.*lodge\.test=\([a-z0-9_]*\).*/\1/p' /proc/cmdline)

# ext4 on vda: write files, remount, read back; the host reads them with debugfs.
t_ext4() {
	mkdir -p /mnt
	mount -t ext4 /dev/vda /mnt || { say "mount failed"; return; }
	dd if=/dev/urandom of=/mnt/data bs=64k count=64 2>/dev/null
	echo "written by the guest" >/mnt/note
	sha=$(sha256sum /mnt/data | cut -d' ' -f1)
	umount /mnt
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 /dev/vda /mnt
	[ "$(sha256sum /mnt/data | cut -d' ' -f1)" = "$sha" ] && say "readback=ok" || say "readback=bad"
	say "sha=$sha"
	umount /mnt
}

# Several disks: sizes and serials, and a pattern written to each raw device.
t_multi() {
	for d in vda vdb vdc; do
		say "$d size=$(cat /sys/block/$d/size) serial=$(cat /sys/block/$d/serial 2>/dev/null)"
	done
	printf 'disk-b' | dd of=/dev/vdb bs=512 seek=8 conv=fsync 2>/dev/null
	printf 'disk-c' | dd of=/dev/vdc bs=512 seek=16 conv=fsync 2>/dev/null
	say "ro=$(cat /sys/block/vda/ro)"
}

# Read-only disk: writes fail, reads work.
t_readonly() {
	say "ro=$(cat /sys/block/vda/ro)"
	head -c 6 /dev/vda | od -An -c | tr -d ' \n'; echo
	if printf 'x' | dd of=/dev/vda bs=512 count=1 oflag=direct 2>/dev/null; then
		say "write=accepted"
	else
		say "write=refused"
	fi
}

# Flush: write a pattern with O_DIRECT + fsync, say so, then wait to be killed.
t_flush() {
	dd if=/dev/urandom of=/tmp/pat bs=64k count=16 2>/dev/null
	say "sha=$(sha256sum /tmp/pat | cut -d' ' -f1)"
	dd if=/tmp/pat of=/dev/vda bs=64k seek=4 conv=fsync oflag=direct 2>/dev/null
	say "flushed"
	sleep 600
}

# Discard and write-zeroes of ranges that held data.
t_zero() {
	dd if=/dev/urandom of=/dev/vda bs=1M count=4 conv=fsync 2>/dev/null
	blkdiscard -o 0 -l 1048576 /dev/vda && say "discard=ok" || say "discard=failed"
	blkzero /dev/vda 2097152 1048576 && say "zeroes=ok" || say "zeroes=failed"
	sync
}

# Large sequential I/O in both directions through the page cache and O_DIRECT.
t_stream() {
	dd if=/dev/urandom of=/tmp/pat bs=1M count=16 2>/dev/null
	dd if=/tmp/pat of=/dev/vda bs=1M oflag=direct conv=fsync 2>/dev/null
	echo 3 >/proc/sys/vm/drop_caches
	dd if=/dev/vda of=/tmp/back bs=1M count=16 iflag=direct 2>/dev/null
	cmp /tmp/pat /tmp/back && say "stream=ok" || say "stream=bad"
	say "sha=$(sha256sum /tmp/pat | cut -d' ' -f1)"
}

case $test in
ext4 | multi | readonly | flush | zero | stream) "t_$test" ;;
*) say "unknown test '$test'" ;;
esac
say done
poweroff -f
