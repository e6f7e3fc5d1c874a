#!/bin/sh
# Installs every Debian package volt needs to build, test and build guest kits.
# Idempotent: prints nothing and exits 0 when everything is already present.
# --bench adds what the benchmarks compare against (QEMU) and measure with.
set -eu

PKGS="build-essential meson ninja-build pkg-config
libseccomp-dev libjansson-dev liburing-dev libcriterion-dev
python3 python3-pytest
busybox-static e2fsprogs cpio
clang libclang-rt-dev
linux-source-6.1 xz-utils lz4 flex bison bc libelf-dev libssl-dev patch gzip"
[ "${1:-}" = --bench ] && PKGS="$PKGS qemu-system-x86 time bc"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run 'sudo $0' (or install them with apt-get) and try again" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has empty package lists; refresh them once before installing.
if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing
fi
