#!/usr/bin/env bash
# Packs what a machine without volt's build dependencies needs to run `make bench` and the
# integration suite against this tree's build: the lent `device` machines (Ubuntu, no
# kernel source, busybox-static, cpio or iproute2; nothing can be installed there).
#
#   scripts/device-kit.sh            fills .devkit/ (git-ignored; about 40 MiB)
#   then, on that machine, from the repository root (the device tool's `carry: [".devkit"]`):
#   bash .devkit/run.sh [bench] [suite] [pytest arguments...]
#
# .devkit/ holds the static volt and the test programs (as build/ lays them out), the
# cached guest kit (kernel directory and initramfs) as a cache for XDG_CACHE_HOME, the
# host's busybox, and iproute2's ip with its libraries behind a wrapper. docs/benchmarks.md
# ("Running on a lent machine") says what the last such runs found.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
K=.devkit
ninja -C "$B" >/dev/null
kernel=$("$B/volt" kernel path --no-build)
initrd=$("$B/volt" rootfs path --no-build)
rm -rf "$K"
mkdir -p "$K"/b/tests/guests "$K"/b/tests/unit "$K"/b/bench "$K"/lib "$K"/bin "$K"/iplib \
	"$K"/cache/volt/kernels "$K"/cache/volt/rootfs
grep -qx '/.devkit/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.devkit/' >>.git/info/exclude; }
cp "$B"/volt "$B"/volt-dynamic "$K"/b/
find "$B"/tests/guests -maxdepth 1 -type f -perm -u+x -exec cp {} "$K"/b/tests/guests/ \;
cp "$B"/tests/unit/uffd_handler "$K"/b/tests/unit/
cp "$B"/bench/floor "$B"/bench/launch "$K"/b/bench/
cp -a "$(dirname "$kernel")" "$K"/cache/volt/kernels/
cp -a "$(dirname "$initrd")" "$K"/cache/volt/rootfs/
cp /bin/busybox "$K"/busybox
# volt-dynamic's libraries (the LD_PRELOAD tests), from this host.
for lib in $(ldd "$B"/volt-dynamic | awk '/=> \// && !/libc\.so|ld-linux/ {print $3}'); do
	cp -L "$lib" "$K"/lib/
done
# ip and its libraries, behind a wrapper that gives them to ip alone.
cp /usr/sbin/ip "$K"/iplib/ip.real
for lib in $(ldd /usr/sbin/ip | awk '/=> \// && !/libc\.so|ld-linux|libz\./ {print $3}'); do
	cp -L "$lib" "$K"/iplib/
done
cat >"$K"/bin/ip <<'EOF'
#!/bin/sh
d=$(dirname "$(readlink -f "$0")")/../iplib
LD_LIBRARY_PATH=$d exec "$d/ip.real" "$@"
EOF
cp /usr/bin/cpio "$K"/bin/ # test_rootfs reads volt's archives with GNU cpio
chmod +x "$K"/bin/ip
cat >"$K"/run.sh <<'EOF'
#!/bin/bash
# On the lent machine: host facts, then `bench` (bench/run.py, the kit carried) and/or
# `suite` (the integration suite, 12 workers); output under $OUT when it is set.
D=$PWD/.devkit
OUT=${OUT:-/tmp/devkit-out}; mkdir -p "$OUT"
uname -r; grep PRETTY /etc/os-release; nproc
ls -l /dev/kvm; ls /sys/module | grep -i kvm
echo "cpu flags: $(grep -m1 -o -w 'vmx\|svm\|hypervisor' /proc/cpuinfo | sort -u | tr '\n' ' ')"
[ -e /dev/kvm ] || { echo "no /dev/kvm"; exit 0; }
[ -x /bin/busybox ] || cp "$D"/busybox /bin/busybox
export PATH=$D/bin:$PATH XDG_CACHE_HOME=$D/cache VOLT=$D/b/volt LD_LIBRARY_PATH=$D/lib
export PYTHONUNBUFFERED=1 FLOOR=$D/b/bench/floor LAUNCH=$D/b/bench/launch
export GUEST=$D/b/tests/guests/hello KIT_KERNEL=$($VOLT kernel path --no-build)
export KIT_INITRD=$($VOLT rootfs path --no-build)
what=(); while [ $# -gt 0 ] && { [ "$1" = bench ] || [ "$1" = suite ]; }; do what+=("$1"); shift; done
[ ${#what[@]} -gt 0 ] || what=(bench suite)
for w in "${what[@]}"; do
	if [ "$w" = bench ]; then
		timeout "${BENCH_S:-300}" python3 bench/run.py --runs 15 2>&1 | tee "$OUT"/bench.txt
	else
		timeout -s INT "${SUITE_S:-390}" python3 -m pytest -n "${NW:-12}" -q -ra \
			-p no:cacheprovider --junitxml="$OUT"/junit.xml "${@:-tests/integration}" \
			>"$OUT"/suite.log 2>&1
		echo "pytest rc=$?"; grep -E '^(FAILED|ERROR)|passed|failed' "$OUT"/suite.log | tail -40
	fi
done
EOF
chmod +x "$K"/run.sh
du -sh --apparent-size "$K"
