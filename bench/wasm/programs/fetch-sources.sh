#!/bin/sh
# Fetches the Debian sources of the real programs bench/wasm builds (lua5.4, sqlite3) with
# apt-get source, through a private apt configuration (its own state, cache and deb-src
# list; the host's apt setup is not touched), from the mirror the host's apt uses
# (scripts/debian-mirror.sh) or DEBIAN_MIRROR, for the host's Debian release (bookworm
# unless DEBIAN_SUITE says otherwise). Unpacked with the Debian patches applied into
# DIR/lua5.4 and DIR/sqlite3; a second run with both present does nothing.
# Usage: bench/wasm/programs/fetch-sources.sh DIR
set -eu
die() {
	echo "fetch-sources: error: $*" >&2
	exit 1
}
[ $# -eq 1 ] || die "usage: fetch-sources.sh DIR"
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DIR=$1
SUITE=${DEBIAN_SUITE:-bookworm}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -d "$DIR/lua5.4/src" ] && [ -d "$DIR/sqlite3/src" ] && [ -f "$DIR/versions.txt" ] && exit 0
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd) # apt wants absolute paths
for t in apt-get dpkg-source; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found (apt-get install dpkg-dev)"
done
MIRROR=${DEBIAN_MIRROR:-$("$ROOT/scripts/debian-mirror.sh" /etc/apt)} ||
	die "no Debian mirror in the host's apt sources: set DEBIAN_MIRROR"
A=$DIR/apt
rm -rf "$A"
mkdir -p "$A/etc/apt.conf.d" "$A/etc/sources.list.d" "$A/etc/preferences.d" \
	"$A/etc/trusted.gpg.d" "$A/state/lists/partial" "$A/cache/archives/partial" "$A/log" \
	"$DIR/dl"
: >"$A/state/status"
echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE main" >"$A/etc/sources.list"
{
	echo "Dir::Etc::main \"/dev/null\";"
	echo "Dir::Etc::parts \"$A/etc/apt.conf.d\";"
	echo "Dir::Etc::sourcelist \"$A/etc/sources.list\";"
	echo "Dir::Etc::sourceparts \"$A/etc/sources.list.d\";"
	echo "Dir::Etc::preferences \"$A/etc/preferences\";"
	echo "Dir::Etc::preferencesparts \"$A/etc/preferences.d\";"
	echo "Dir::Etc::trusted \"$A/etc/trusted.gpg\";"
	echo "Dir::Etc::trustedparts \"$A/etc/trusted.gpg.d\";"
	echo "Dir::State \"$A/state\";"
	echo "Dir::State::status \"$A/state/status\";"
	echo "Dir::Cache \"$A/cache\";"
	echo "Dir::Log \"$A/log\";"
	echo "Acquire::Languages \"none\";"
	if [ "$(id -u)" -eq 0 ]; then echo "APT::Sandbox::User \"root\";"; fi
} >"$A/apt.conf"
echo "fetch-sources: lua5.4 and sqlite3 from Debian $SUITE ($MIRROR)"
APT_CONFIG=$A/apt.conf apt-get -q update >/dev/null || die "apt-get update from $MIRROR failed"
(cd "$DIR/dl" && APT_CONFIG=$A/apt.conf apt-get -q source lua5.4 sqlite3 >/dev/null) ||
	die "apt-get source failed"
for p in lua5.4 sqlite3; do
	d=$(ls -d "$DIR/dl/$p"-*/ | head -n 1)
	[ -n "$d" ] || die "$p: not unpacked"
	rm -rf "${DIR:?}/$p"
	mv "$d" "$DIR/$p"
done
ls "$DIR"/dl/*.dsc | sed 's,.*/,,' >"$DIR/versions.txt"
rm -rf "$A" "$DIR/dl"
