#!/bin/sh
# Tests of scripts/ (issue 8): how scripts/fetch-guest.sh finds the Debian mirror.
#   mirror.NAME        scripts/debian-mirror.sh on tests/scripts/apt/NAME/ (a fake
#                      /etc/apt) prints NAME/expect ("none": prints nothing, exits 1):
#                      one-line and deb822 sources, options, comments, deb-src, disabled
#                      entries and files, security and third-party archives, apt's order
#   mirror.mirror_file a mirror+file: source stands for its list's first URI
#   fetch_print        fetch-guest.sh --print-mirror uses the host's sources, and
#                      DEBIAN_MIRROR overrides them
#   fetch_no_mirror    without a mirror, fetch-guest.sh fails with a message naming
#                      DEBIAN_MIRROR, before touching anything
#   fetch_keeps_scratch a fetch from cached packages makes out/ afresh but keeps make
#                      run's scratch disk
#   oci_guest_order    make oci-guest builds the OCI init after a fetch, not before it
#   no_mirror_host     no file of the repository names a Debian mirror host
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
fixtures=$top/tests/scripts/apt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS: scripts.$1"; }
fail() { echo "FAIL: scripts.$1: $2"; }

# mirror NAME DIR WANT: debian-mirror.sh on DIR must print WANT ("none": fail silently)
mirror() {
	got=$(sh "$top/scripts/debian-mirror.sh" "$2" 2>"$tmp/err")
	st=$?
	if [ "$3" = none ]; then
		if [ "$st" -ne 0 ] && [ -z "$got" ] && [ ! -s "$tmp/err" ]; then
			pass "mirror.$1"
		else
			fail "mirror.$1" "status $st, printed '$got', want nothing and a non-zero status"
		fi
	elif [ "$st" -eq 0 ] && [ "$got" = "$3" ]; then
		pass "mirror.$1"
	else
		fail "mirror.$1" "status $st, printed '$got', want '$3' $(head -c 200 "$tmp/err")"
	fi
}

for d in "$fixtures"/*/; do
	d=${d%/}
	mirror "$(basename "$d")" "$d" "$(cat "$d/expect")"
done

# mirror+file: the list lives at an absolute path, so this fixture is made here.
mkdir -p "$tmp/mf/sources.list.d"
printf '# mirrors\n\nhttp://listed.example/debian/\tpriority:1\nhttp://second.example/debian\n' \
	>"$tmp/mirrors.list"
printf 'Types: deb\nURIs: mirror+file://%s\nSuites: bookworm\nComponents: main\n' \
	"$tmp/mirrors.list" >"$tmp/mf/sources.list.d/debian.sources"
mirror mirror_file "$tmp/mf" http://listed.example/debian

fetch=$top/scripts/fetch-guest.sh
a=$(LODGE_APT_ETC=$fixtures/deb822 sh "$fetch" --print-mirror 2>&1)
b=$(LODGE_APT_ETC=$fixtures/none DEBIAN_MIRROR=http://override.example/debian \
	sh "$fetch" --print-mirror 2>&1)
if [ "$a" = https://mirror.example/debian ] && [ "$b" = http://override.example/debian ]; then
	pass fetch_print
else
	fail fetch_print "host's sources gave '$a', DEBIAN_MIRROR gave '$b'"
fi

# A forced refresh into an empty cache: the mirror is looked for before anything else.
LODGE_APT_ETC=$fixtures/none LODGE_GUEST_CACHE=$tmp/cache DEBIAN_MIRROR= \
	sh "$fetch" --refresh >"$tmp/out" 2>&1
st=$?
if [ "$st" -ne 0 ] && grep -q 'no Debian mirror in the host.s apt sources.*set DEBIAN_MIRROR' "$tmp/out" &&
	[ ! -e "$tmp/cache/debs" ]; then
	pass fetch_no_mirror
else
	fail fetch_no_mirror "status $st: $(head -c 300 "$tmp/out")"
fi

# A fetch from the cached packages (no network) makes out/ afresh, and keeps make run's
# scratch disk there, the user's data ("it persists across runs").
debs=$top/guest-cache/debs
if [ -f "$debs/manifest" ]; then
	mkdir -p "$tmp/keep/out"
	ln -s "$debs" "$tmp/keep/debs"
	echo "user data" >"$tmp/keep/out/scratch.qcow2"
	echo "stale" >"$tmp/keep/out/initrd.img"
	LODGE_GUEST_CACHE=$tmp/keep sh "$fetch" >"$tmp/out" 2>&1
	st=$?
	if [ "$st" -eq 0 ] && [ "$(cat "$tmp/keep/out/scratch.qcow2" 2>/dev/null)" = "user data" ] &&
		[ -f "$tmp/keep/out/Image" ] && [ ! -e "$tmp/keep/out/initrd.img" ]; then
		pass fetch_keeps_scratch
	else
		fail fetch_keeps_scratch "status $st; out/: $(ls "$tmp/keep/out" | tr '\n' ' '); $(tail -n 2 "$tmp/out")"
	fi
else
	echo "SKIP: scripts.fetch_keeps_scratch: no cached guest packages in $debs (make guest)"
fi

# make oci-guest on a fresh clone (or after a changed fetch-guest.sh) builds the OCI init
# after the fetch has made out/ afresh, never before (the fetch deleted it, and
# mkinitrd.sh then failed). make -n with an empty out/: the commands in make's order.
make -C "$top" -n oci-guest GUEST_OUT="$tmp/empty-out" >"$tmp/make-n" 2>&1
fetch_at=$(grep -n -m 1 'fetch-guest.sh$' "$tmp/make-n" | cut -d: -f1)
init_at=$(grep -n -m 1 -e '-o [^ ]*/oci-init ' "$tmp/make-n" | cut -d: -f1)
if [ -n "$fetch_at" ] && [ -n "$init_at" ] && [ "$fetch_at" -lt "$init_at" ]; then
	pass oci_guest_order
else
	fail oci_guest_order "make -n runs the fetch at line '$fetch_at', builds oci-init at line '$init_at': want both, the fetch first"
fi

# Mirror host names: any host under Debian's domain (the pattern is built from pieces, so
# that this file does not match itself). The keyring's file name is not a host.
dom="debian"
pat="[A-Za-z0-9-]+\\.$dom\\.org"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	hits=$(git -C "$top" grep -I -n -E "$pat" -- . 2>/dev/null | head -n 5)
else
	hits=$(grep -rIn -E "$pat" "$top" --exclude-dir=build --exclude-dir=guest-cache \
		--exclude-dir=.git 2>/dev/null | head -n 5)
fi
if [ -z "$hits" ]; then
	pass no_mirror_host
else
	fail no_mirror_host "the repository names mirror hosts: $hits"
fi
exit 0
