#!/bin/sh
# Builds the base initramfs of Lodge's OCI container VMs (guest/oci/oci.mk runs it):
# /init (guest/oci/oci-init, static riscv64) and the modules vsock needs, in insmod order in
# /lib/modules/oci.load. The modules are stripped of debug information, and with it of
# their signatures: the kernel then loads them without hashing megabytes (it only taints
# itself), which is most of what loading them costs. `lodge oci` appends each container's
# archive (rootfs, volumes, /oci/container) to a copy of this image.
# Usage: guest/oci/mkinitrd.sh INIT MODULES_DIR OUT
set -eu
init=$1 mods=$2 out=$3
STRIP=${STRIP:-riscv64-linux-gnu-strip}
stage=$(mktemp -d "${TMPDIR:-/tmp}/lodge-oci-initrd.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
mkdir -p "$stage/lib/modules" "$stage/proc" "$stage/sys" "$stage/dev" "$stage/oci"
cp "$init" "$stage/init"
chmod 755 "$stage/init"
: >"$stage/lib/modules/oci.load"
for m in virtio_mmio vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport; do
	[ -f "$mods/$m.ko" ] || { echo "mkinitrd: $mods/$m.ko missing (run make guest)" >&2; exit 1; }
	"$STRIP" --strip-debug -o "$stage/lib/modules/$m.ko" "$mods/$m.ko"
	echo "$m.ko" >>"$stage/lib/modules/oci.load"
done
find "$stage" -exec touch -h -d @0 {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$out.tmp"
mv "$out.tmp" "$out"
echo "mkinitrd: $out ($(wc -c <"$out") bytes)"
