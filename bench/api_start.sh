#!/usr/bin/env bash
# What `volt --api-sock` costs to come up, an older volt against a newer one,
# in the same invocation (runs alternate, so both see the same host load):
# process start -> the API socket accepts a connection and answers GET /
# (wall, seen by the parent that spawned it), the CPU time volt had used by
# then (every thread's sum_exec_runtime, /proc/PID/task/*/schedstat: ns, not
# the 10 ms ticks of /proc/PID/stat) and its resident memory then (VmRSS).
# Medians of RUNS pairs (default 30).
#
# Prints one line of key=value pairs (times in ms, ratios new/old: below 1 is
# faster), for `make bench` and scripts:
#   api_start runs=30 old_wall_ms=... new_wall_ms=... wall_ratio=... old_cpu_ms=...
#             new_cpu_ms=... cpu_ratio=... old_rss_kb=... new_rss_kb=... rss_ratio=...
# (on one line).
#
# Usage: bench/api_start.sh [RUNS]
#   NEW=path   the newer volt (default build/volt)
#   OLD=path   the older volt (default build-old/volt; when absent, the commit
#              before the one that dropped libmicrohttpd (OLD_REF overrides) is
#              checked out in build-old/src and built in build-old/build)
#   VOLT_ARGS  options for both (e.g. --seccomp=off)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
new=${NEW:-build/volt}
old=${OLD:-}
if [ -z "$old" ]; then
	old=build-old/volt
	[ -x "$old" ] || old=build-old/build/volt
fi
if [ ! -x "$old" ]; then
	ref=${OLD_REF:-}
	if [ -z "$ref" ]; then
		swap=$(git log -1 --format=%H -S"dependency('libmicrohttpd')" -- src/meson.build)
		[ -n "$swap" ] || { echo "api_start: cannot find the libmicrohttpd commit; set OLD or OLD_REF" >&2; exit 1; }
		ref="$swap^"
	fi
	echo "api_start: building the old volt ($ref) in build-old/ (once)" >&2
	mkdir -p build-old
	log=build-old/build.log
	# The old volt needs libmicrohttpd (libmicrohttpd-dev), which volt itself
	# no longer installs: say so instead of ending without a word.
	if ! { { [ -d build-old/src ] || git worktree add --detach build-old/src "$ref"; } &&
		{ [ -f build-old/build/build.ninja ] ||
			meson setup build-old/build build-old/src -Dunit_tests=disabled; } &&
		ninja -C build-old/build volt; } >"$log" 2>&1; then
		echo "api_start: cannot build the old volt ($ref; it needs libmicrohttpd-dev):" \
			"$(grep -m1 -iE 'error|not found' "$log" || tail -n1 "$log") (whole log: $log)" >&2
		exit 1
	fi
fi
[ -x "$new" ] || { echo "api_start: build first (make build): no $new" >&2; exit 1; }
exec /usr/bin/python3 - "$old" "$new" "$runs" <<'EOF'
import glob, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

old, new, runs = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])
extra = os.environ.get("VOLT_ARGS", "").split()
tmp = tempfile.mkdtemp(prefix="volt-api-start-")
GET = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def cpu_ns(pid):
    total = 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            total += int(open(f).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def one(volt, i):
    sock = f"{tmp}/api-{i}.sock"
    t0 = time.monotonic_ns()
    p = subprocess.Popen([volt, "--api-sock", sock, "--log-level", "warn", *extra],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            break
        except OSError:
            s.close()
            time.sleep(50e-6)  # asleep between tries: a busy loop holds the child's CPU
            if p.poll() is not None:
                sys.exit(f"api_start: {volt} exited ({p.returncode}) before its socket")
    s.sendall(GET)
    out = b""
    while chunk := s.recv(4096):
        out += chunk
    s.close()
    wall = (time.monotonic_ns() - t0) / 1e6
    cpu = cpu_ns(p.pid) / 1e6
    rss = rss_kb(p.pid)
    if not out.startswith(b"HTTP/1.1 200"):
        sys.exit(f"api_start: {volt}: GET / answered {out[:80]!r}")
    p.send_signal(signal.SIGKILL)  # its exit is not measured
    p.wait()
    os.unlink(sock)
    return wall, cpu, rss


rows = {"old": [], "new": []}
for i in range(runs):
    order = (("old", old), ("new", new)) if i % 2 == 0 else (("new", new), ("old", old))
    for name, volt in order:
        rows[name].append(one(volt, f"{name}-{i}"))
shutil.rmtree(tmp, ignore_errors=True)
med = {k: [statistics.median(r[j] for r in v) for j in range(3)] for k, v in rows.items()}
print(f"api_start runs={runs} old_wall_ms={med['old'][0]:.2f} new_wall_ms={med['new'][0]:.2f} "
      f"wall_ratio={med['new'][0] / med['old'][0]:.2f} old_cpu_ms={med['old'][1]:.2f} "
      f"new_cpu_ms={med['new'][1]:.2f} cpu_ratio={med['new'][1] / med['old'][1]:.2f} "
      f"old_rss_kb={med['old'][2]:.0f} new_rss_kb={med['new'][2]:.0f} "
      f"rss_ratio={med['new'][2] / med['old'][2]:.2f}")
EOF
