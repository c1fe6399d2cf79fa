#!/bin/sh
# Builds an initramfs (cpio newc, gzip) for the default guest from what
# scripts/fetch-guest.sh laid out in guest-cache/out/: the static busybox at /bin/busybox
# (/bin/sh links to it; /init installs the other applets at boot), the kernel modules in
# /lib/modules/<version>/ (decompressed .ko files, modules.load = insmod order,
# modules.dep for busybox modprobe), /dev/console, and an /init script.
#
# Usage: scripts/mkinitramfs.sh [--init FILE] [--out FILE] [--extra SRC:DEST ...]
#   --init FILE       the /init script (default guest/init)
#   --out FILE        the image to write (default guest-cache/out/initrd.img)
#   --extra SRC:DEST  also put file or directory SRC at DEST (an absolute path in the
#                     image); may be given several times
#   --no-modules      leave the kernel modules out
# Environment: LODGE_GUEST_CACHE (default guest-cache).
set -eu

die() {
	echo "mkinitramfs: error: $*" >&2
	exit 1
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LODGE_GUEST_CACHE:-$ROOT/guest-cache}
GOUT=$CACHE/out
init=$ROOT/guest/init
out=$GOUT/initrd.img
extras=
kver=
modules=1

while [ $# -gt 0 ]; do
	case $1 in
	--init)
		[ $# -ge 2 ] || die "--init needs a file"
		init=$2
		shift 2
		;;
	--out)
		[ $# -ge 2 ] || die "--out needs a file"
		out=$2
		shift 2
		;;
	--extra)
		[ $# -ge 2 ] || die "--extra needs SRC:DEST"
		case $2 in
		*:/*) ;;
		*) die "--extra '$2': want SRC:DEST with DEST an absolute path in the image" ;;
		esac
		[ -e "${2%%:/*}" ] || die "--extra '$2': ${2%%:/*} does not exist"
		# Newline-separated: SRC may hold spaces.
		extras="$extras
$2"
		shift 2
		;;
	--no-modules)
		modules=0
		shift
		;;
	-h | --help)
		sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument '$1' (see scripts/mkinitramfs.sh --help)" ;;
	esac
done

command -v cpio >/dev/null 2>&1 || die "cpio not found: run scripts/install-deps.sh"
command -v gzip >/dev/null 2>&1 || die "gzip not found: run scripts/install-deps.sh"
[ -f "$init" ] || die "init script '$init' not found"
[ -f "$GOUT/busybox" ] || die "$GOUT/busybox missing: run 'make guest' (or scripts/fetch-guest.sh)"
if [ "$modules" -eq 1 ]; then
	[ -f "$GOUT/modules/modules.version" ] && [ -f "$GOUT/modules/modules.load" ] ||
		die "$GOUT/modules/ incomplete: run 'make guest' (or scripts/fetch-guest.sh)"
fi

outdir=$(dirname "$out")
mkdir -p "$outdir"
stage=$(mktemp -d "${TMPDIR:-/tmp}/lodge-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
r=$stage/root
mkdir -p "$r"

# Layout.
for d in bin sbin usr/bin usr/sbin etc dev proc sys tmp run root mnt lib; do
	mkdir -p "$r/$d"
done
cp "$GOUT/busybox" "$r/bin/busybox"
chmod 755 "$r/bin/busybox"
ln -s busybox "$r/bin/sh"
cp "$init" "$r/init"
chmod 755 "$r/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
echo "root:x:0:" >"$r/etc/group"

if [ "$modules" -eq 1 ]; then
	kver=$(cat "$GOUT/modules/modules.version")
	mkdir -p "$r/lib/modules/$kver"
	cp "$GOUT/modules/"*.ko "$GOUT/modules/modules.load" "$r/lib/modules/$kver/"
	[ ! -f "$GOUT/modules/modules.dep" ] || cp "$GOUT/modules/modules.dep" "$r/lib/modules/$kver/"
fi

echo "$extras" | while IFS= read -r e; do
	[ -n "$e" ] || continue
	src=${e%%:/*}
	dest=/${e#*:/}
	mkdir -p "$r$(dirname "$dest")"
	cp -R "$src" "$r$dest" || die "cannot copy $src to $dest"
done

# cpio as root:root with fixed times and inode numbers, so equal inputs give equal images.
find "$r" -exec touch -h -d @0 {} + 2>/dev/null || true
raw=$stage/initrd.cpio
(cd "$r" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) >"$raw" ||
	die "cpio failed"

# /dev/console: the kernel opens it for init's stdin/stdout before /init runs, and
# devtmpfs is not mounted yet. mknod would need root, so append a second newc archive
# (the kernel unpacks concatenated ones) holding just that node, written by hand.
newc() { # name mode(octal) rdevmajor rdevminor nlink
	n=$(printf '%s' "$1" | wc -c)
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 "$((0$2))" 0 0 "$5" 0 0 0 0 "$3" "$4" "$((n + 1))" 0
	printf '%s\0' "$1"
	# header (110) + name + NUL padded to a multiple of 4
	pad=$(((4 - (110 + n + 1) % 4) % 4))
	while [ "$pad" -gt 0 ]; do
		printf '\0'
		pad=$((pad - 1))
	done
}
{
	cat "$raw"
	newc dev 040755 0 0 2
	newc dev/console 020600 5 1 1
	newc TRAILER!!! 0 0 0 1
} | gzip -9 -n >"$out.tmp" || die "gzip failed"
mv "$out.tmp" "$out"
echo "mkinitramfs: $out ($(wc -c <"$out") bytes; init $(basename "$init")${kver:+, modules for $kver})"
