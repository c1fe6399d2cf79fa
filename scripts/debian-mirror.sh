#!/bin/sh
# Prints the Debian archive mirror that the host's own apt uses, for scripts/fetch-guest.sh
# (so the repository names no mirror host): the first enabled "deb" source whose URI path
# ends in /debian (so not debian-security, not a third-party archive), read in apt's order:
# sources.list, then sources.list.d/ in name order, *.list in the one-line format
# ("deb [options] URI suite components") and *.sources in the deb822 format (Types, URIs,
# Enabled). Comments, deb-src entries, deb822 "Enabled: no" and other file names (e.g.
# foo.list.disabled) are ignored. A mirror+file: URI stands for the first URI of its
# mirror list.
#
# Usage: scripts/debian-mirror.sh [APT_ETC_DIR]   (default /etc/apt; the tests pass
#        fixture directories). Prints the URI, without a trailing slash; exits 1 and
#        prints nothing when no source qualifies.
set -eu

etc=${1:-/etc/apt}

# URIs of the enabled deb entries of one-line file $1, in order.
one_line_uris() {
	awk '{ sub(/#.*/, "") }
	$1 == "deb" {
		i = 2
		if ($i ~ /^\[/) {
			while (i <= NF && $i !~ /\]$/)
				i++
			i++
		}
		if (i <= NF)
			print $i
	}' "$1"
}

# URIs of the enabled deb stanzas of deb822 file $1, in order. Field names are case
# insensitive; a line starting with white space continues the field before it.
deb822_uris() {
	awk 'function flush(  n, k, u) {
		if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) !~ /^[ \t]*no[ \t]*$/) {
			n = split(uris, u, /[ \t]+/)
			for (k = 1; k <= n; k++)
				if (u[k] != "")
					print u[k]
		}
		types = uris = enabled = field = ""
	}
	/^[ \t]*#/ { next }
	/^[ \t]*$/ { flush(); next }
	/^[ \t]/ {
		if (field == "types") types = types " " $0
		else if (field == "uris") uris = uris " " $0
		next
	}
	{
		field = tolower($0)
		sub(/:.*/, "", field)
		value = $0
		sub(/^[^:]*:[ \t]*/, "", value)
		if (field == "types") types = value
		else if (field == "uris") uris = value
		else if (field == "enabled") enabled = value
	}
	END { flush() }' "$1"
}

# Every candidate URI, in apt's order.
all_uris() {
	[ ! -f "$etc/sources.list" ] || one_line_uris "$etc/sources.list"
	for f in "$etc"/sources.list.d/*; do
		case $f in
		*.list) [ ! -f "$f" ] || one_line_uris "$f" ;;
		*.sources) [ ! -f "$f" ] || deb822_uris "$f" ;;
		esac
	done
}

# The first URI of the mirror list file $1 (mirror+file: sources).
mirror_list_first() {
	[ -r "$1" ] && awk '!/^[ \t]*(#|$)/ { print $1; exit }' "$1"
}

uris=$(all_uris)
set -f # URIs are words, not patterns
for uri in $uris; do
	case $uri in
	mirror+file:*)
		path=${uri#mirror+file:}
		path=/${path#"${path%%[!/]*}"} # file:///x and file:/x name the same file
		uri=$(mirror_list_first "$path") || continue
		;;
	esac
	while :; do
		case $uri in
		*/) uri=${uri%/} ;;
		*) break ;;
		esac
	done
	case $uri in
	http://*/debian | https://*/debian | file:/*/debian)
		echo "$uri"
		exit 0
		;;
	esac
done
exit 1
