#!/bin/sh
# Fetches the default guest from Debian trixie's riscv64 packages and lays out the pieces
# that Lodge boots and that scripts/mkinitramfs.sh packs:
#
#   guest-cache/out/Image            the kernel as Debian ships it (RISC-V Image, EFI stub)
#   guest-cache/out/fw_dynamic.bin   OpenSBI, generic platform, dynamic-info firmware
#   guest-cache/out/fw_jump.bin      OpenSBI, generic platform, jump firmware
#   guest-cache/out/busybox          static riscv64 busybox
#   guest-cache/out/modules/         the kernel modules the machine needs, decompressed,
#                                    with modules.load (insmod order) and modules.version
#   guest-cache/out/packages.txt     the packages and versions fetched
#   guest-cache/out/System.map, config   the kernel's symbols and configuration
#
# Packages come from apt-get with a private configuration (state, cache, sources, empty
# dpkg status, no host apt.conf.d): the host's own apt setup and state are not touched.
# Release files are checked as apt does, against /usr/share/keyrings/debian-archive-keyring.gpg.
# Downloaded .debs stay in guest-cache/debs/; a second run downloads nothing.
#
# The packages come from the Debian mirror the host's own apt uses (scripts/debian-mirror.sh
# finds it in /etc/apt/sources.list and sources.list.d/), or from DEBIAN_MIRROR.
#
# Usage: scripts/fetch-guest.sh [--refresh | --print-mirror]
#   --refresh        forget the cached .debs and fetch the newest ones again
#   --print-mirror   print the mirror a fetch would use, and do nothing else
# Environment: LODGE_GUEST_CACHE (default guest-cache); DEBIAN_MIRROR (a Debian archive
#   URL, e.g. http://HOST/debian; default: the host's, from its apt sources);
#   DEBIAN_SUITE (default trixie); LODGE_APT_ETC (where the host's apt sources are read,
#   default /etc/apt).
set -eu

die() {
	echo "fetch-guest: error: $*" >&2
	exit 1
}
say() { echo "fetch-guest: $*"; }

PATH=$PATH:/usr/sbin:/sbin # depmod
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LODGE_GUEST_CACHE:-$ROOT/guest-cache}
SUITE=${DEBIAN_SUITE:-trixie}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# Modules the machine needs; their dependencies come from modules.dep. Names as in
# modules.dep (basename without .ko*), '-' and '_' are equivalent.
WANT_MODULES="virtio_mmio virtio_blk virtio_net virtio_rng virtio_console ext4 \
	vmw_vsock_virtio_transport virtio_balloon rtc-goldfish virtio_input evdev"
refresh=0
print_mirror=0
for a in "$@"; do
	case $a in
	--refresh) refresh=1 ;;
	--print-mirror) print_mirror=1 ;;
	-h | --help)
		sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument '$a' (usage: scripts/fetch-guest.sh [--refresh | --print-mirror])" ;;
	esac
done

# The mirror: DEBIAN_MIRROR, else the host's own Debian mirror.
find_mirror() {
	if [ -n "${DEBIAN_MIRROR:-}" ]; then
		MIRROR=$DEBIAN_MIRROR
		return
	fi
	apt_etc=${LODGE_APT_ETC:-/etc/apt}
	MIRROR=$("$ROOT/scripts/debian-mirror.sh" "$apt_etc") ||
		die "no Debian mirror in the host's apt sources ($apt_etc/sources.list, $apt_etc/sources.list.d/*.list, *.sources): set DEBIAN_MIRROR to a Debian archive URL, e.g. DEBIAN_MIRROR=http://HOST/debian"
}
if [ "$print_mirror" -eq 1 ]; then
	find_mirror
	echo "$MIRROR"
	exit 0
fi

for t in apt-get apt-cache dpkg-deb xz depmod; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found: run scripts/install-deps.sh"
done
[ -r "$KEYRING" ] || die "$KEYRING missing: install debian-archive-keyring"

APT=$CACHE/apt
DEBS=$CACHE/debs
PKG=$CACHE/pkg
OUT=$CACHE/out

# --- apt, privately ---------------------------------------------------------------------
apt_setup() {
	mkdir -p "$APT/etc/apt.conf.d" "$APT/etc/sources.list.d" "$APT/etc/preferences.d" \
		"$APT/etc/trusted.gpg.d" "$APT/state/lists/partial" "$APT/cache/archives/partial" \
		"$APT/log"
	: >"$APT/state/status"
	echo "deb [arch=riscv64 signed-by=$KEYRING] $MIRROR $SUITE main" >"$APT/etc/sources.list"
	{
		echo "Dir::Etc::main \"/dev/null\";"
		echo "Dir::Etc::parts \"$APT/etc/apt.conf.d\";"
		echo "Dir::Etc::sourcelist \"$APT/etc/sources.list\";"
		echo "Dir::Etc::sourceparts \"$APT/etc/sources.list.d\";"
		echo "Dir::Etc::preferences \"$APT/etc/preferences\";"
		echo "Dir::Etc::preferencesparts \"$APT/etc/preferences.d\";"
		echo "Dir::Etc::trusted \"$APT/etc/trusted.gpg\";"
		echo "Dir::Etc::trustedparts \"$APT/etc/trusted.gpg.d\";"
		echo "Dir::State \"$APT/state\";"
		echo "Dir::State::status \"$APT/state/status\";"
		echo "Dir::Cache \"$APT/cache\";"
		echo "Dir::Log \"$APT/log\";"
		echo "APT::Architecture \"riscv64\";"
		echo "APT::Architectures { \"riscv64\"; };"
		echo "Acquire::Languages \"none\";"
		echo "APT::Get::AllowUnauthenticated \"false\";"
		echo "Acquire::AllowInsecureRepositories \"false\";"
		# Root would drop to _apt, which cannot write into this tree: keep root.
		if [ "$(id -u)" -eq 0 ]; then echo "APT::Sandbox::User \"root\";"; fi
	} >"$APT/apt.conf"
}

# apt-get/apt-cache with only the private configuration (APT_CONFIG is read first and
# points Dir::Etc::parts away from the host's /etc/apt/apt.conf.d).
papt() {
	APT_CONFIG=$APT/apt.conf "$@"
}

# Field $2 of package $1 (the candidate version) from the private package lists.
pkg_field() {
	papt apt-cache show --no-all-versions "$1" 2>/dev/null |
		sed -n "s/^$2: //p" | head -n 1
}

fetch_debs() {
	find_mirror
	apt_setup
	say "updating the package lists of Debian $SUITE riscv64 from $MIRROR (private apt state in $APT)"
	papt apt-get -q update ||
		die "apt-get update from $MIRROR failed (network, mirror or signature problem; DEBIAN_MIRROR picks another mirror)"

	# linux-image-riscv64 is a metapackage: its Depends names the real kernel package.
	deps=$(pkg_field linux-image-riscv64 Depends)
	[ -n "$deps" ] || die "linux-image-riscv64 not found in $SUITE riscv64"
	kpkg=$(echo "$deps" | tr ',|' '\n\n' | sed 's/(.*//; s/ //g' |
		grep '^linux-image-.*-riscv64$' | head -n 1)
	[ -n "$kpkg" ] || die "cannot tell the kernel package from 'Depends: $deps'"
	say "linux-image-riscv64 -> $kpkg"

	tmp=$DEBS.new
	rm -rf "$tmp"
	mkdir -p "$tmp"
	say "downloading $kpkg opensbi busybox-static"
	(cd "$tmp" && papt apt-get download "$kpkg" opensbi busybox-static) ||
		die "apt-get download failed"
	for p in "$kpkg" opensbi busybox-static; do
		f=$(ls "$tmp/${p}_"*.deb 2>/dev/null | head -n 1)
		[ -n "$f" ] || die "$p: no .deb downloaded"
		echo "$p $(pkg_field "$p" Version) $(basename "$f")"
	done >"$tmp/manifest"
	rm -rf "$DEBS"
	mv "$tmp" "$DEBS"
	# The lists and apt's caches (about 130 MB) are only needed again for --refresh.
	rm -rf "$APT/state/lists" "$APT/cache"
}

if [ "$refresh" -eq 1 ] || [ ! -f "$DEBS/manifest" ]; then
	fetch_debs
else
	say "using cached packages in $DEBS (scripts/fetch-guest.sh --refresh to fetch again)"
fi

# --- unpack -----------------------------------------------------------------------------
deb_of() { awk -v p="$1" '$1 ~ p { print $3; exit }' "$DEBS/manifest"; }
kdeb=$(deb_of '^linux-image-')
sdeb=$(deb_of '^opensbi$')
bdeb=$(deb_of '^busybox-static$')
[ -n "$kdeb" ] && [ -n "$sdeb" ] && [ -n "$bdeb" ] || die "$DEBS/manifest is incomplete: run with --refresh"

rm -rf "$PKG"
mkdir -p "$PKG"
for d in "$kdeb" "$sdeb" "$bdeb"; do
	[ -f "$DEBS/$d" ] || die "$DEBS/$d missing: run with --refresh"
	dpkg-deb -x "$DEBS/$d" "$PKG/${d%%_*}" || die "cannot unpack $d"
done

tmpout=$OUT.new
rm -rf "$tmpout"
mkdir -p "$tmpout/modules"
cp "$DEBS/manifest" "$tmpout/packages.txt"

# Kernel: /boot/vmlinux-<ver> is a RISC-V Image (with an EFI/PE header in front).
kdir=$PKG/${kdeb%%_*}
kimg=$(ls "$kdir"/boot/vmlinux-* "$kdir"/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$kimg" ] || die "no /boot/vmlinux-* in $kdeb"
kver=${kimg##*/vmlinu?-}
case $(od -An -c -j 48 -N 5 "$kimg" | tr -d ' ') in
RISCV) ;;
*) die "$kimg is not a RISC-V Image (no 'RISCV' magic at offset 0x30)" ;;
esac
cp "$kimg" "$tmpout/Image"
# For debugging: symbols (addresses to kernel functions) and the kernel's configuration.
cp "$kdir/boot/System.map-$kver" "$tmpout/System.map" 2>/dev/null || true
cp "$kdir/boot/config-$kver" "$tmpout/config" 2>/dev/null || true

# OpenSBI, generic platform.
for fw in fw_dynamic.bin fw_jump.bin; do
	f=$(find "$PKG/${sdeb%%_*}" -path '*generic*' -name "$fw" | head -n 1)
	[ -n "$f" ] || die "no generic $fw in $sdeb"
	cp "$f" "$tmpout/$fw"
done

# busybox.
f=$PKG/${bdeb%%_*}/bin/busybox
[ -f "$f" ] || f=$PKG/${bdeb%%_*}/usr/bin/busybox
[ -f "$f" ] || die "no busybox binary in $bdeb"
cp "$f" "$tmpout/busybox"
chmod 755 "$tmpout/busybox"

# --- modules ----------------------------------------------------------------------------
# Debian's package ships no modules.dep (its postinst runs depmod): make it with the host's
# depmod, which reads riscv64 modules as well.
mbase=$kdir/usr
[ -d "$mbase/lib/modules/$kver" ] || mbase=$kdir
mdir=$mbase/lib/modules/$kver
[ -d "$mdir" ] || die "no lib/modules/$kver in $kdeb"
depmod -b "$mbase" "$kver" || die "depmod failed for $kver"
[ -f "$mdir/modules.dep" ] || die "depmod made no modules.dep for $kver"

norm() { echo "$1" | tr '-' '_'; }
# Path (relative to $mdir) of module $1 from modules.dep, empty when not modular.
mod_path() {
	n=$(norm "$1")
	awk -F: -v n="$n" '{ p = $1; sub(/.*\//, "", p); sub(/\.ko.*/, "", p); gsub(/-/, "_", p);
		if (p == n) { print $1; exit } }' "$mdir/modules.dep"
}
is_builtin() {
	n=$(norm "$1")
	[ -f "$mdir/modules.builtin" ] &&
		sed 's/.*\///; s/\.ko$//; s/-/_/g' "$mdir/modules.builtin" | grep -qx "$n"
}

# Module name of alias $1 (modules.alias), or $1 itself.
alias_of() {
	a=$(awk -v a="$1" '$1 == "alias" && $2 == a { print $3; exit }' "$mdir/modules.alias")
	echo "${a:-$1}"
}

order=
builtin=
missing=
# Appends module path $1 after what it needs, depth first, each once: its "pre:" soft
# dependencies (modules.softdep: ext4 and jbd2 want crc32c from the crypto API) and its
# dependencies (modules.dep).
add_path() {
	case " $order " in *" $1 "*) return 0 ;; esac
	n=${1##*/}
	n=$(norm "${n%%.ko*}")
	soft=$(awk -v n="$n" '$1 == "softdep" && $2 == n {
		pre = 0; for (i = 3; i <= NF; i++) { if ($i == "pre:") pre = 1; else if ($i == "post:") pre = 0; else if (pre) print $i } }' \
		"$mdir/modules.softdep" 2>/dev/null)
	for s in $soft; do
		sp=$(mod_path "$(alias_of "$s")")
		if [ -n "$sp" ]; then add_path "$sp"; fi
	done
	deps=$(awk -F: -v p="$1" '$1 == p { print $2; exit }' "$mdir/modules.dep")
	for d in $deps; do add_path "$d"; done
	case " $order " in *" $1 "*) return 0 ;; esac
	order="$order $1"
}
for m in $WANT_MODULES; do
	p=$(mod_path "$m")
	if [ -n "$p" ]; then
		add_path "$p"
	elif is_builtin "$m"; then
		builtin="$builtin $m"
	else
		missing="$missing $m"
	fi
done
[ -z "$missing" ] || die "modules neither modular nor built in for $kver:$missing"

: >"$tmpout/modules/modules.load"
: >"$tmpout/modules/modules.dep"
names=
for p in $order; do
	base=${p##*/}
	case $base in
	*.ko.xz) xz -dc "$mdir/$p" >"$tmpout/modules/${base%.xz}" ;;
	*.ko.zst) zstd -qdc "$mdir/$p" >"$tmpout/modules/${base%.zst}" ;;
	*.ko.gz) gzip -dc "$mdir/$p" >"$tmpout/modules/${base%.gz}" ;;
	*.ko) cp "$mdir/$p" "$tmpout/modules/$base" ;;
	*) die "unexpected module file $p" ;;
	esac || die "cannot decompress $p"
	base=${base%.xz}
	base=${base%.zst}
	base=${base%.gz}
	echo "$base" >>"$tmpout/modules/modules.load"
	# modules.dep for busybox modprobe, with the flat names used in the initramfs.
	deps=$(awk -F: -v p="$p" '$1 == p { print $2; exit }' "$mdir/modules.dep" |
		sed 's/[^ ]*\///g; s/\.ko\.[a-z]*/.ko/g')
	echo "$base:$deps" >>"$tmpout/modules/modules.dep"
	names="$names ${base%.ko}"
done
echo "$kver" >"$tmpout/modules/modules.version"

rm -rf "$PKG" # unpacked packages: all that is needed is in $OUT now
rm -rf "$OUT.old"
# make run's scratch disk is the user's data, not ours: it stays (what make builds from
# the packages, the initramfs images, is built again)
[ ! -f "$OUT/scratch.qcow2" ] || mv "$OUT/scratch.qcow2" "$tmpout/scratch.qcow2"
[ ! -d "$OUT" ] || mv "$OUT" "$OUT.old"
mv "$tmpout" "$OUT"
rm -rf "$OUT.old"

say "packages:"
sed 's/^/  /' "$OUT/packages.txt"
say "kernel $kver; modules ($(echo "$names" | wc -w), in load order):$names"
[ -z "$builtin" ] || say "built into the kernel:$builtin"
say "done: $OUT/{Image,fw_dynamic.bin,fw_jump.bin,busybox,modules/}; the initramfs: scripts/mkinitramfs.sh (make guest does both)"
