#!/usr/bin/env bash
# Start-up costs of volt's Firecracker-style front end, medians of N runs (default 20):
#  1. `volt --api-sock`: process start -> the API socket accepts a connection
#     (wall, seen by the parent that spawned it), and the CPU time volt had used
#     by then (its start-up trace's "API socket listening" step, VOLT_TRACE_STARTUP
#     counted from the spawn: the api_server metric of the same can be flushed
#     only after InstanceStart, as in Firecracker; Firecracker publishes a bound
#     of 8 CPU-ms for this).
#  2. `volt --config-file FILE --no-api` booting tests/guests/hello (an ELF that
#     prints a line and resets): process start -> the first console byte on
#     stdout (the guest's first serial write, so KVM_RUN has run), process
#     start -> exit, and the CPU time (user + system) of the whole process.
# Usage: bench/startup.sh [RUNS]   (VOLT_ARGS adds volt options, e.g. --seccomp=log)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
volt=${VOLT:-build/volt}
guest=${GUEST:-build/tests/guests/hello}
[ -x "$volt" ] && [ -f "$guest" ] || { echo "bench: build first (make build)" >&2; exit 1; }
exec /usr/bin/python3 - "$volt" "$guest" "$runs" <<'EOF'
import json, os, resource, socket, statistics, subprocess, sys, tempfile, time

volt, guest, runs = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])
tmp = tempfile.mkdtemp(prefix="volt-startup-")
extra = os.environ.get("VOLT_ARGS", "").split()


def api_request(path, method, url, body):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    data = json.dumps(body).encode()
    s.sendall(f"{method} {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    out = b""
    while chunk := s.recv(4096):
        out += chunk
    s.close()
    return out


def api_start(i):
    sock = f"{tmp}/api-{i}.sock"
    t0 = time.monotonic_ns()
    p = subprocess.Popen([volt, "--api-sock", sock, "--log-level", "warn", *extra],
                         env={**os.environ, "VOLT_TRACE_STARTUP": str(t0)},
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            break
        except OSError:
            if p.poll() is not None:
                sys.exit(f"bench: volt --api-sock exited ({p.returncode})")
        finally:
            s.close()
    wall = (time.monotonic_ns() - t0) / 1e6
    p.terminate()
    _, err = p.communicate()
    # The trace's row: wall, +wall, cpu, +cpu, step.
    for row in err.decode(errors="replace").splitlines():
        f = row.split(None, 4)
        if len(f) == 5 and f[4] == "API socket listening":
            return wall, float(f[0]), float(f[2])
    sys.exit("bench: no 'API socket listening' in volt's start-up trace")


def config_boot(cfg):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic_ns()
    p = subprocess.Popen([volt, "--config-file", cfg, "--no-api", "--log-level", "warn", *extra],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    first = p.stdout.read(1)
    t1 = time.monotonic_ns()
    rest = p.stdout.read()
    p.wait()
    t2 = time.monotonic_ns()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0 or b"Hello from the volt hello guest" not in first + rest:
        sys.exit(f"bench: the hello guest did not run (exit {p.returncode})")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3
    return (t1 - t0) / 1e6, (t2 - t0) / 1e6, cpu


cfg = f"{tmp}/hello.json"
with open(cfg, "w") as f:
    json.dump({"boot-source": {"kernel_image_path": guest},
               "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}, f)
api = [api_start(i) for i in range(runs)]
boot = [config_boot(cfg) for _ in range(runs)]
med = lambda rows, k: statistics.median(r[k] for r in rows)
print(f"volt start-up, {runs} runs (medians)")
print(f"  --api-sock: start -> socket accepting   {med(api, 0):7.2f} ms wall (parent's view)")
print(f"              volt's own trace            {med(api, 1):7.2f} ms wall, "
      f"{med(api, 2):5.2f} CPU-ms (Firecracker's bound: 8 CPU-ms)")
print(f"  --config-file --no-api, hello guest:")
print(f"              start -> first console byte {med(boot, 0):7.2f} ms")
print(f"              start -> exit               {med(boot, 1):7.2f} ms, "
      f"{med(boot, 2):5.2f} CPU-ms")
for name in os.listdir(tmp):
    os.unlink(os.path.join(tmp, name))
os.rmdir(tmp)
EOF
