#!/usr/bin/env bash
# volt vs QEMU's microvm on the same tiny guest (tests/guests/hello: prints a
# line, then resets; its PVH note lets QEMU's -kernel boot the same file).
# Measures process start -> exit and peak RSS over N paired runs (default 10),
# alternating the two so both see the same machine state, and prints medians
# and the ratios volt/QEMU. Usage: bench/hello.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
volt=${VOLT:-build/volt}
guest=${GUEST:-build/tests/guests/hello}
qemu=$(command -v qemu-system-x86_64 || true)
[ -x "$volt" ] && [ -f "$guest" ] || { echo "bench: build first (make build)" >&2; exit 1; }
[ -n "$qemu" ] || { echo "bench: qemu-system-x86_64 missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

qemu_cmd=("$qemu" -M microvm -enable-kvm -cpu host,-arch-capabilities -m 128 -nodefaults
	-no-user-config -nographic -serial stdio -kernel "$guest" -no-reboot)
volt_cmd=("$volt" run --kernel "$guest" --mem 128 --log-level warn)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One run: "<wall us> <peak RSS KiB>", after checking the guest really printed.
measure() {
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f '%M' -o "$tmp/rss" "$@" >"$tmp/out" 2>/dev/null </dev/null
	t1=$(date +%s%N)
	grep -q "Hello from the volt hello guest" "$tmp/out" || { echo "bench: no hello from: $*" >&2; exit 1; }
	echo "$(((t1 - t0) / 1000)) $(cat "$tmp/rss")"
}

for ((i = 0; i < runs; i++)); do
	measure "${volt_cmd[@]}" >>"$tmp/volt"
	measure "${qemu_cmd[@]}" >>"$tmp/qemu"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
vt=$(cut -d' ' -f1 "$tmp/volt" | median); vr=$(cut -d' ' -f2 "$tmp/volt" | median)
qt=$(cut -d' ' -f1 "$tmp/qemu" | median); qr=$(cut -d' ' -f2 "$tmp/qemu" | median)
printf 'hello guest, %d paired runs (medians)\n' "$runs"
printf '  %-6s start->exit %8.1f ms   peak RSS %8.1f MiB\n' volt "$(echo "$vt/1000" | bc -l)" "$(echo "$vr/1024" | bc -l)"
printf '  %-6s start->exit %8.1f ms   peak RSS %8.1f MiB\n' qemu "$(echo "$qt/1000" | bc -l)" "$(echo "$qr/1024" | bc -l)"
printf '  ratio volt/qemu: time %.3f, RSS %.3f\n' "$(echo "$vt/$qt" | bc -l)" "$(echo "$vr/$qr" | bc -l)"
