#!/bin/sh
# Seed corpus for tests/fuzz/fuzz_qcow2.c: small qcow2 images made by qemu-img and
# qemu-io (512-byte to 4 KiB clusters keep them a few KiB), one per feature the reader
# handles: empty, data, zero clusters, deflate and zstd compressed clusters, a backing
# file (base.raw, which the target provides), version 2, 1- and 64-bit refcounts, an
# internal snapshot. Usage: qcow2.sh OUTDIR
set -eu
out=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
q() { qemu-img "$@" >/dev/null; }
io() { f=$1; shift; qemu-io -f qcow2 "$@" "$f" >/dev/null; }

q create -f qcow2 -o cluster_size=512 "$out/empty.qcow2" 1M
q create -f qcow2 -o cluster_size=512 "$out/data.qcow2" 1M
io "$out/data.qcow2" -c 'write -P 0x11 0 1536' -c 'write -P 0x22 700000 3000'
q create -f qcow2 -o cluster_size=512 "$out/zero.qcow2" 1M
io "$out/zero.qcow2" -c 'write -P 0x33 0 4096' -c 'write -z 1024 2048'
q create -f raw "$tmp/r.raw" 64K
qemu-io -f raw -c 'write -P 0x44 0 8192' -c 'write -P 0x55 20000 5000' "$tmp/r.raw" >/dev/null
q convert -c -O qcow2 -o cluster_size=4096 "$tmp/r.raw" "$out/deflate.qcow2"
q convert -c -O qcow2 -o cluster_size=4096,compression_type=zstd "$tmp/r.raw" "$out/zstd.qcow2"
q create -f raw "$tmp/base.raw" 1M
(cd "$tmp" && qemu-img create -q -f qcow2 -o cluster_size=512 -b base.raw -F raw ov.qcow2 1M)
io "$tmp/ov.qcow2" -c 'write -P 0x66 100 1000'
cp "$tmp/ov.qcow2" "$out/backing.qcow2"
q create -f qcow2 -o cluster_size=512,compat=0.10 "$out/v2.qcow2" 1M
io "$out/v2.qcow2" -c 'write -P 0x77 512 512'
q create -f qcow2 -o cluster_size=512,refcount_bits=1 "$out/rc1.qcow2" 256K
io "$out/rc1.qcow2" -c 'write -P 0x88 0 2048'
q create -f qcow2 -o cluster_size=512,refcount_bits=64 "$out/rc64.qcow2" 256K
io "$out/rc64.qcow2" -c 'write -P 0x99 0 2048'
q create -f qcow2 -o cluster_size=512 "$out/snapshot.qcow2" 256K
io "$out/snapshot.qcow2" -c 'write -P 0xaa 0 1024'
q snapshot -c s1 "$out/snapshot.qcow2"
io "$out/snapshot.qcow2" -c 'write -P 0xbb 512 1024'
chmod -x "$out"/*.qcow2
ls -l "$out"
