#!/bin/sh
# Builds the Debian disk (issue 9): a Debian trixie riscv64 root file system with systemd,
# udev, openssh-server, iproute2 and apt, ext4 in a qcow2 image, in guest-cache/debian/:
#
#   debian.qcow2        the image (ext4 on the whole disk, no partition table)
#   initrd.img          its initramfs (guest/debian/init; made by make debian, see
#                       guest/debian.mk), booted with the default guest's kernel
#   id_ed25519[.pub]    the user's SSH key pair (root's authorized key in the image);
#                       generated once and kept across rebuilds
#   stage2.log          the second stage's console output; its last lines say how long
#                       each step took
#
# How: debootstrap's first stage runs on the host (downloads the packages from Debian's
# mirror, the one the host's apt uses: scripts/fetch-guest.sh --print-mirror, checked
# against debian-archive-keyring, and unpacks the essential ones into a directory); the
# files for the finished system (guest/debian/overlay, SSH host keys, the user's key, the
# kernel's modules) go in; mkfs.ext4 -d makes an ext4 image of the directory without
# mounting it; then Lodge boots the default guest's kernel with the initramfs and the image
# as /dev/vda, and guest/debian/stage2.sh runs debootstrap's second stage inside the guest
# (dpkg installs and configures every package). Lodge builds its own OS image. Finally
# qemu-img turns the raw image into qcow2.
#
# Usage: scripts/mkdebian.sh [--keep]    (--keep: keep the work directory for debugging)
# Environment: LODGE_GUEST_CACHE (guest-cache); LODGE (build/release/lodge);
#   DEBIAN_MIRROR, DEBIAN_SUITE (trixie), as for scripts/fetch-guest.sh;
#   LODGE_DEBIAN_SIZE (disk size, 4G); LODGE_DEBIAN_CPUS (2) and LODGE_DEBIAN_MEM (1G)
#   for the second stage's guest; LODGE_DEBIAN_TIMEOUT (seconds, 3000);
#   LODGE_DEBIAN_EXTRA (more packages to install, space-separated).
set -eu

die() {
	echo "mkdebian: error: $*" >&2
	exit 1
}
say() { echo "mkdebian: $*"; }

PATH=$PATH:/usr/sbin:/sbin # debootstrap, mkfs.ext4, depmod
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LODGE_GUEST_CACHE:-$ROOT/guest-cache}
GOUT=$CACHE/out
OUT=$CACHE/debian
SUITE=${DEBIAN_SUITE:-trixie}
LODGE=${LODGE:-$ROOT/build/release/lodge}
SIZE=${LODGE_DEBIAN_SIZE:-4G}
CPUS=${LODGE_DEBIAN_CPUS:-2}
MEM=${LODGE_DEBIAN_MEM:-1G}
TIMEOUT=${LODGE_DEBIAN_TIMEOUT:-3000}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# What the issue asks for, plus what they need to be useful: dbus (systemctl, logind),
# systemd-resolved (DNS from DHCP), kmod (modprobe for udev), netbase.
PACKAGES="systemd systemd-sysv systemd-resolved udev dbus openssh-server iproute2 apt \
	debian-archive-keyring kmod netbase ${LODGE_DEBIAN_EXTRA:-}"

keep=0
for a in "$@"; do
	case $a in
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument '$a' (usage: scripts/mkdebian.sh [--keep])" ;;
	esac
done

[ "$(id -u)" -eq 0 ] || die "debootstrap and the image's file ownership need root"
for t in debootstrap mkfs.ext4 ssh-keygen qemu-img dpkg-deb depmod; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found: run scripts/install-deps.sh"
done
[ -r "$KEYRING" ] || die "$KEYRING missing: install debian-archive-keyring"
[ -x "$LODGE" ] || die "$LODGE missing: run make"
for f in Image fw_dynamic.bin modules/modules.version; do
	[ -f "$GOUT/$f" ] || die "$GOUT/$f missing: run make guest"
done
[ -f "$OUT/initrd.img" ] || die "$OUT/initrd.img missing: run make debian (it makes the initramfs first)"
kver=$(cat "$GOUT/modules/modules.version")
kdeb=$(awk '$1 ~ /^linux-image-/ { print $3; exit }' "$CACHE/debs/manifest" 2>/dev/null) || true
[ -n "$kdeb" ] && [ -f "$CACHE/debs/$kdeb" ] ||
	die "the kernel package is not in $CACHE/debs: run make guest"
MIRROR=$("$ROOT/scripts/fetch-guest.sh" --print-mirror) || die "no Debian mirror (see scripts/fetch-guest.sh)"

now() { date +%s; }
t_start=$(now)
WORK=$OUT/work
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT/debs"
[ "$keep" -eq 1 ] || trap 'rm -rf "$WORK"' EXIT INT TERM
R=$WORK/root

# --- first stage, on the host ------------------------------------------------------------
say "debootstrap first stage: Debian $SUITE riscv64 from $MIRROR"
include=$(echo $PACKAGES | tr ' ' ',')
debootstrap --foreign --arch=riscv64 --variant=minbase --include="$include" \
	--keyring="$KEYRING" --cache-dir="$OUT/debs" "$SUITE" "$R" "$MIRROR" \
	>"$WORK/debootstrap.log" 2>&1 ||
	{
		tail -n 20 "$WORK/debootstrap.log" >&2
		die "debootstrap's first stage failed (log above; network or mirror problem? DEBIAN_MIRROR picks another mirror)"
	}
t_first=$(now)
say "first stage done in $((t_first - t_start)) s ($(du -sm "$R" | cut -f1) MB)"

# debootstrap --foreign leaves /proc a symbolic link to /proc (for fakechroot): the
# second stage mounts proc there.
for d in proc sys dev; do
	if [ -L "$R/$d" ]; then rm -f "$R/$d"; fi
	mkdir -p "$R/$d"
done

# The kernel's modules, matching the kernel the disk boots with (the default guest's), for
# udev and modprobe.
dpkg-deb --fsys-tarfile "$CACHE/debs/$kdeb" | tar -x -C "$R" "./usr/lib/modules/$kver" ||
	die "cannot unpack the modules of $kdeb"
depmod -b "$R/usr" "$kver" || die "depmod failed for $kver"

# Files for the finished system, laid over it after the second stage by stage2.sh.
O=$R/lodge/overlay
mkdir -p "$O"
cp -R "$ROOT/guest/debian/overlay/." "$O/"
cp "$ROOT/guest/debian/stage2.sh" "$R/lodge/stage2.sh"
chmod 755 "$R/lodge/stage2.sh"
# The user's key pair: made once, kept in the cache.
if [ ! -f "$OUT/id_ed25519" ]; then
	ssh-keygen -q -t ed25519 -N '' -C "lodge-debian" -f "$OUT/id_ed25519" ||
		die "ssh-keygen failed"
fi
mkdir -p "$O/root/.ssh"
cp "$OUT/id_ed25519.pub" "$O/root/.ssh/authorized_keys"

# Before the second stage: sshd's host keys (made here, fast, so that openssh-server's
# postinst does not make them under emulation), dpkg without fsync, no services started
# by maintainer scripts in the chroot. stage2.sh removes the build-only two.
mkdir -p "$R/etc/ssh" "$R/etc/dpkg/dpkg.cfg.d" "$R/usr/sbin"
for t in rsa ecdsa ed25519; do
	ssh-keygen -q -t "$t" -N '' -C "root@lodge-debian" -f "$R/etc/ssh/ssh_host_${t}_key" ||
		die "ssh-keygen -t $t failed"
done
echo "force-unsafe-io" >"$R/etc/dpkg/dpkg.cfg.d/lodge-build"
cp "$ROOT/guest/debian/overlay/etc/dpkg/dpkg.cfg.d/lodge-nodoc" "$R/etc/dpkg/dpkg.cfg.d/"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"

# --- the image ---------------------------------------------------------------------------
raw=$WORK/debian.raw
mkfs.ext4 -q -F -L lodge-root -d "$R" "$raw" "$SIZE" >"$WORK/mkfs.log" 2>&1 ||
	{
		cat "$WORK/mkfs.log" >&2
		die "mkfs.ext4 -d failed"
	}
rm -rf "$R"
t_mkfs=$(now)
say "ext4 image made in $((t_mkfs - t_first)) s"

# --- second stage, in a Lodge guest ------------------------------------------------------
say "second stage in Lodge ($CPUS harts, $MEM RAM; console in $OUT/stage2.log)"
set +e
"$LODGE" run --kernel "$GOUT/Image" --firmware "$GOUT/fw_dynamic.bin" \
	--initrd "$OUT/initrd.img" --cpus "$CPUS" --mem "$MEM" --timeout "$TIMEOUT" \
	--disk "$raw,format=raw" --append "console=ttyS0 quiet lodge.stage2" \
	</dev/null >"$WORK/stage2.log" 2>&1
status=$?
set -e
cp "$WORK/stage2.log" "$OUT/stage2.log"
t_second=$(now)
if [ $status -ne 0 ] || ! grep -q '^LODGE-STAGE2 status=0' "$WORK/stage2.log"; then
	tail -n 30 "$WORK/stage2.log" >&2
	die "the second stage failed (lodge exit status $status; console in $OUT/stage2.log)"
fi
say "second stage done in $((t_second - t_mkfs)) s: $(tr -d '\r' <"$WORK/stage2.log" | sed -n 's/^LODGE-STAGE2 done: *//p')"

qemu-img convert -f raw -O qcow2 "$raw" "$WORK/debian.qcow2" || die "qemu-img convert failed"
mv "$WORK/debian.qcow2" "$OUT/debian.qcow2"
t_end=$(now)
say "done in $((t_end - t_start)) s (first stage $((t_first - t_start)) s, mkfs $((t_mkfs - t_first)) s, second stage $((t_second - t_mkfs)) s, qcow2 $((t_end - t_second)) s): $OUT/debian.qcow2, key $OUT/id_ed25519"
