#!/bin/sh
# Installs everything Lodge needs to build, test and benchmark, from Debian's packages.
# Used by the README and by .ci/run. Needs root (or sudo). dpkg-dev (apt-get source) and
# tcl (SQLite's amalgamation) build the real programs of make bench-wasm.
set -e
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PKGS="build-essential make pkg-config python3 python3-yaml clang-format \
	gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu libc6-dev-riscv64-cross \
	qemu-system-misc qemu-user qemu-utils \
	liburing-dev zlib1g-dev libzstd-dev \
	libfdt-dev device-tree-compiler libslirp-dev \
	clang libclang-rt-14-dev wabt libcjson-dev libsqlite3-dev libseccomp-dev \
	lld wasi-libc libclang-rt-14-dev-wasm32 rustc libstd-rust-dev-wasm32 \
	apt cpio xz-utils zstd kmod debian-archive-keyring \
	debootstrap e2fsprogs xfsprogs openssh-client iperf3 iproute2 dpkg-dev tcl \
	podman buildah containerd crun runc qemu-user-static binfmt-support"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
else
	echo "install-deps: all packages present"
fi
