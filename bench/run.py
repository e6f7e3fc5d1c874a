#!/usr/bin/env python3
"""volt's speed and footprint in one table (issue #15); docs/benchmarks.md says how to read it.

Quick part (--quick; about a minute): the hello guest (tests/guests/hello: prints a line on
COM1, resets) run by the bare-KVM floor (bench/floor.c), by volt and by QEMU's microvm, N
rounds alternating the three (each round in another order), medians of: process spawn ->
first guest byte on stdout, spawn -> exit, CPU time (user + system, from wait4) and peak RSS;
ratios to the floor measured in the same run. Then spawn -> API socket accepting
(bench/api_start.sh when it exists, else measured here), and volt's start-up trace
(VOLT_TRACE_STARTUP) per step, medians over N runs.
Linux part (default; a Linux boot takes about a minute on PVM hosts): the guest kit booted
cold with 1 and 2 vCPUs under --profile (spawn -> /init's boot-timer write, -> ready marker,
top-10 functions), and the VMM's own memory with Linux booted: the volt process's RSS minus
the guest memory mapping's RSS, read from /proc/PID/smaps while the guest idles in its shell.
Nothing is turned off: seccomp (kill mode) and Landlock stay on as by default.

Usage: bench/run.sh [--quick | --linux-only] [--runs N]   (VOLT=path/to/volt, FLOOR=..., GUEST=...)
KIT_KERNEL=FILE and KIT_INITRD=FILE boot those instead of the cached guest kit (a machine
without the kit's build dependencies: copy a kit's kernel directory and initramfs there)."""
import argparse
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOLT = os.path.abspath(os.environ.get("VOLT", os.path.join(ROOT, "build/volt")))
FLOOR = os.path.abspath(os.environ.get("FLOOR", os.path.join(ROOT, "build/bench/floor")))
LAUNCH = os.path.abspath(os.environ.get("LAUNCH", os.path.join(ROOT, "build/bench/launch")))
GUEST = os.path.abspath(os.environ.get("GUEST", os.path.join(ROOT, "build/tests/guests/hello")))
HELLO = b"Hello from the volt hello guest"
MEM_MIB = 128
# Targets of issue #15.
T_FIRST_RATIO, T_CPU_EXTRA_MS, T_RSS_MIB = 1.05, 2.0, 2.0
T_API_MS, T_API_CPU_MS, T_OVERHEAD_MIB = 2.0, 1.0, 2.0


def die(msg):
    sys.exit(f"bench: {msg}")


def spawn(argv, env=None, stdin="/dev/null"):
    """Starts argv with stdout on a pipe, stderr on another; returns (pid, out_fd, err_fd, t0)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    actions = [(os.POSIX_SPAWN_OPEN, 0, stdin, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
    t0 = time.monotonic_ns()
    env = dict(os.environ if env is None else env)
    if env.get("VOLT_TRACE_STARTUP") == "spawn":
        env["VOLT_TRACE_STARTUP"] = str(t0)
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    os.close(out_w)
    os.close(err_w)
    return pid, out_r, err_r, t0


def run_once(argv, env=None):
    """One run to its end: dict of first (ms to the first stdout byte), exit (ms), cpu (ms),
    rss (KiB), status, out, err."""
    pid, out_fd, err_fd, t0 = spawn(argv, env)
    first, out, err, open_fds = None, b"", b"", {out_fd, err_fd}
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [])
        now = time.monotonic_ns()
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                os.close(fd)
            elif fd == out_fd:
                if first is None:
                    first = now
                out += chunk
            else:
                err += chunk
    _, status, ru = os.wait4(pid, 0)
    t2 = time.monotonic_ns()
    return {"first": (first - t0) / 1e6 if first else float("nan"), "exit": (t2 - t0) / 1e6,
            "cpu": (ru.ru_utime + ru.ru_stime) * 1e3, "rss": ru.ru_maxrss,
            "status": os.waitstatus_to_exitcode(status), "out": out, "err": err}


def peak_rss(argv):
    """Peak RSS (KiB) of argv run through bench/launch.c (see there why not from here)."""
    with tempfile.NamedTemporaryFile(prefix="volt-bench-rss-") as f:
        r = run_once([LAUNCH, f.name, *argv])
        if HELLO not in r["out"]:
            die(f"{argv[0]}: no hello from the guest (exit {r['status']})")
        return int(open(f.name).read())


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")


def fmt(v, width=9, prec=2):
    return f"{v:{width}.{prec}f}" if v == v else f"{'n/a':>{width}}"


def verdict(ok):
    return "met" if ok else "NOT met"


# --- quick part ------------------------------------------------------------------------------

def hello_commands():
    cmds = {"floor": [FLOOR, GUEST],
            "volt": [VOLT, "run", "--kernel", GUEST, "--mem", str(MEM_MIB), "--log-level", "warn"]}
    qemu = shutil.which("qemu-system-x86_64")
    if qemu:
        cmds["qemu"] = [qemu, "-M", "microvm", "-enable-kvm", "-cpu", "host,-arch-capabilities",
                        "-m", str(MEM_MIB), "-nodefaults", "-no-user-config", "-nographic",
                        "-serial", "stdio", "-kernel", GUEST, "-no-reboot"]
    return cmds


def hello_table(runs):
    cmds = hello_commands()
    names = list(cmds)
    rows = {n: [] for n in names}
    for i in range(runs):
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            r = run_once(cmds[name])
            if HELLO not in r["out"]:
                die(f"{name}: no hello from the guest (exit {r['status']}):\n"
                    + (r["out"] + r["err"]).decode(errors="replace")[-2000:])
            r["rss"] = peak_rss(cmds[name])
            rows[name].append(r)
    m = {n: {k: med(rows[n], k) for k in ("first", "exit", "cpu", "rss")} for n in names}
    f = m["floor"]
    print(f"hello guest (tests/guests/hello, {MEM_MIB} MiB, 1 vCPU), {runs} rounds, medians; "
          "spawn = the parent's posix_spawn")
    print(f"{'':7}{'spawn->1st byte':>16}{'x floor':>9}{'CPU ms':>9}{'-floor':>8}"
          f"{'peak RSS MiB':>14}{'spawn->exit':>13}{'x floor':>9}")
    for n in ("floor", "volt", "qemu"):
        if n not in m:
            print(f"{n:7}{'n/a (qemu-system-x86_64 not installed)':>40}")
            continue
        v = m[n]
        print(f"{n:7}{fmt(v['first'], 13)} ms{fmt(v['first'] / f['first'], 9)}"
              f"{fmt(v['cpu'], 9, 1)}{fmt(v['cpu'] - f['cpu'], 8, 1)}"
              f"{fmt(v['rss'] / 1024, 14)}{fmt(v['exit'], 10, 1)} ms{fmt(v['exit'] / f['exit'], 9)}")
    v = m["volt"]
    print(f"  targets: 1st byte <= {T_FIRST_RATIO} x floor: {v['first'] / f['first']:.2f} "
          f"({verdict(v['first'] / f['first'] <= T_FIRST_RATIO)}); "
          f"CPU <= floor + {T_CPU_EXTRA_MS:g} ms: +{v['cpu'] - f['cpu']:.1f} "
          f"({verdict(v['cpu'] - f['cpu'] <= T_CPU_EXTRA_MS)}); "
          f"peak RSS <= {T_RSS_MIB:g} MiB: {v['rss'] / 1024:.2f} "
          f"({verdict(v['rss'] / 1024 <= T_RSS_MIB)})")
    print("  (CPU: the whole process's, user + system, from wait4; peak RSS: wait4's ru_maxrss "
          "through bench/launch.c, in separate runs; exit includes KVM's VM teardown)")


def api_once(tmp, i):
    """volt --api-sock: spawn -> a connect() succeeds (wall, the parent's view), and volt's
    own view from its start-up trace: wall from the spawn and the process's CPU time at its
    "API socket listening" step."""
    sock = f"{tmp}/api-{i}.sock"
    pid, out_fd, err_fd, t0 = spawn([VOLT, "--api-sock", sock, "--log-level", "warn"],
                                    {**os.environ, "VOLT_TRACE_STARTUP": "spawn"})
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            wall = (time.monotonic_ns() - t0) / 1e6
            break
        except OSError:
            # A try every 50 us, asleep in between: a busy loop here held the CPU
            # the child was to exec on, for up to a scheduler tick (3 ms of the
            # 3.4 that the start took in runs after the hello rounds).
            time.sleep(50e-6)
            if os.waitpid(pid, os.WNOHANG)[0]:
                err = os.read(err_fd, 4096).decode(errors="replace").strip()
                os.close(out_fd)
                os.close(err_fd)
                return {"failed": err or "no message"}
        finally:
            s.close()
    os.kill(pid, 15)
    os.waitpid(pid, 0)
    err = b""
    while chunk := os.read(err_fd, 65536):
        err += chunk
    os.close(out_fd)
    os.close(err_fd)
    own = cpu = float("nan")
    for line in err.decode(errors="replace").splitlines():
        m = TRACE_LINE.match(line)
        if m and m.group(5) == "API socket listening":
            own, cpu = float(m.group(1)), float(m.group(3))
    return {"wall": wall, "own": own, "cpu": cpu}


def api_table(runs):
    """volt --api-sock against the targets, then bench/api_start.sh's comparison with the
    libmicrohttpd build where that older volt can be built (it needs libmicrohttpd-dev)."""
    with tempfile.TemporaryDirectory(prefix="volt-bench-api-") as tmp:
        rows = [api_once(tmp, i) for i in range(runs)]
    failed = [r["failed"] for r in rows if "failed" in r]
    if failed:
        print(f"start -> API socket: n/a, volt --api-sock exited before its socket accepted "
              f"({len(failed)} of {runs} runs): {failed[0][-300:]}")
    else:
        w, o, c = med(rows, "wall"), med(rows, "own"), med(rows, "cpu")
        print(f"start -> API socket accepting (volt --api-sock), {runs} runs, medians: "
              f"{w:.2f} ms wall to a connect() (target <= {T_API_MS:g}: "
              f"{verdict(w <= T_API_MS)}); volt's trace: listening at {fmt(o, 0)} ms, "
              f"{fmt(c, 0)} CPU-ms (target <= {T_API_CPU_MS:g}: {verdict(c <= T_API_CPU_MS)})")
    script = os.path.join(ROOT, "bench/api_start.sh")
    if os.path.exists(script):
        print("  against the libmicrohttpd build (bench/api_start.sh; its CPU includes the "
              "answer to GET /):")
        out = subprocess.run([script, str(runs)], capture_output=True, text=True,
                             env={**os.environ, "VOLT": VOLT})
        lines = [line for line in (out.stdout + out.stderr).splitlines()
                 if out.returncode or not line.startswith("api_start: building")]
        for line in lines or [f"api_start.sh ended with {out.returncode} and no output"]:
            print("    " + line)


TRACE_LINE = re.compile(r"^\s*(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(.+)$")


def trace_table(runs):
    """volt's own start-up trace (VOLT_TRACE_STARTUP), per step, medians over runs."""
    steps, order = {}, []
    env = {**os.environ, "VOLT_TRACE_STARTUP": "spawn"}
    cmd = hello_commands()["volt"]
    for _ in range(runs):
        r = run_once(cmd, env)
        for line in r["err"].decode(errors="replace").splitlines():
            m = TRACE_LINE.match(line)
            if not m:
                continue
            name = m.group(5)
            if name not in steps:
                steps[name] = []
                order.append(name)
            steps[name].append([float(m.group(i)) for i in range(1, 5)])
    if not steps:
        print("volt start-up trace: none (a volt without VOLT_TRACE_STARTUP)")
        return
    print(f"volt start-up steps, hello guest (VOLT_TRACE_STARTUP), medians of {runs} runs; "
          "wall from the spawn, CPU of the whole process")
    print("(each column its own median: +wall/+cpu are the step's own cost, from the step "
          "before it in each run; CPU counts every thread)")
    print(f"{'wall ms':>9}{'+wall':>8}{'cpu ms':>8}{'+cpu':>7}  step")
    rows = [[statistics.median(v[i] for v in steps[n]) for i in range(4)] + [n] for n in order]
    for cols in sorted(rows, key=lambda c: c[0]):
        print(f"{cols[0]:9.2f}{cols[1]:8.2f}{cols[2]:8.2f}{cols[3]:7.2f}  {cols[4]}")


# --- Linux part ------------------------------------------------------------------------------

KIT_CMDLINE = "console=ttyS0 reboot=k panic=-1 quiet"
KIT_FILES = [arg for var, opt in (("KIT_KERNEL", "--kernel"), ("KIT_INITRD", "--initrd"))
             if os.environ.get(var) for arg in (opt, os.path.abspath(os.environ[var]))]
BOOT_TIME = re.compile(r"Guest-boot-time =\s+(\d+) us\s+\d+ ms,\s+(\d+) CPU us")


def kit_boot_profiled(ncpus, timeout=900):
    """A cold boot of the guest kit under --profile, running `true`: times and the top 10."""
    cmd = [VOLT, "run", *KIT_FILES, "--profile", "--boot-timer", "--cpus", str(ncpus),
           "--cmdline", KIT_CMDLINE + ' volt.cmd="true"']
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    os.set_blocking(p.stdout.fileno(), False)
    os.set_blocking(p.stderr.fileno(), False)
    out, err, ready = b"", b"", None
    while p.poll() is None and time.monotonic() - t0 < timeout:
        select.select([p.stdout, p.stderr], [], [], 0.5)
        out += p.stdout.read() or b""
        err += p.stderr.read() or b""
        if ready is None and b"VOLT-GUEST-READY" in out:
            ready = time.monotonic() - t0
    if p.poll() is None:
        p.kill()
        die(f"guest kit ({ncpus} vCPUs): no end after {timeout} s")
    total = time.monotonic() - t0
    out += p.stdout.read() or b""
    err += p.stderr.read() or b""
    text = err.decode(errors="replace")
    m = BOOT_TIME.search(text)
    top, inside = [], False
    for line in text.splitlines():
        if line.startswith("top functions:"):
            inside = True
        elif inside and re.match(r"^\s+\d+\s+[\d.]+\s+[\d.]+\s+\S", line):
            top.append(line)
        elif inside and top:
            break
    console = out.decode(errors="replace").replace("\r", "")
    ok = "VOLT-CMD-EXIT 0" in console
    return {"ok": ok, "status": p.returncode,
            "console": "\n".join(console.strip().splitlines()[-6:]),
            "log": "\n".join(l for l in text.splitlines() if "volt: " in l and "profile" not in l),
            "init": int(m.group(1)) / 1e6 if m else float("nan"),
            "ready": float("nan") if ready is None else ready, "exit": total,
            "top": top[:10], "samples": next((l for l in text.splitlines()
                                               if l.startswith("volt profile:")), "")}


def smaps_split(pid, guest_bytes, exe):
    """RSS in KiB from /proc/PID/smaps: total, and by kind: guest (the anonymous mapping of
    exactly the guest's size), volt (its executable), libs (shared libraries), anon (heap,
    stacks, everything else without a file), other."""
    rss = dict.fromkeys(("total", "guest", "volt", "libs", "anon", "other"), 0)
    kind = "other"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split(None, 5)
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                path = parts[5].strip() if len(parts) > 5 else ""
                if not path and hi - lo == guest_bytes:
                    kind = "guest"
                elif path == exe:
                    kind = "volt"
                elif ".so" in os.path.basename(path):
                    kind = "libs"
                elif not path or path in ("[heap]", "[stack]"):
                    kind = "anon"
                else:
                    kind = "other"
            elif line.startswith("Rss:"):
                kib = int(line.split()[1])
                rss["total"] += kib
                rss[kind] += kib
    return rss


def vmm_overhead(timeout=900):
    """The guest kit booted (no snapshot, no profiler) to its shell; once it idles there, the
    volt process's RSS minus the guest memory mapping's."""
    mem = 128
    cmd = [VOLT, "run", *KIT_FILES, "--fresh", "--mem", str(mem), "--cmdline", KIT_CMDLINE]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    os.set_blocking(p.stdout.fileno(), False)
    out = b""
    while p.poll() is None and time.monotonic() - t0 < timeout and b"volt-shell" not in out:
        select.select([p.stdout], [], [], 0.5)
        out += p.stdout.read() or b""
    if p.poll() is not None or b"volt-shell" not in out:
        p.kill()
        die("guest kit: no shell prompt:\n" + out.decode(errors="replace")[-2000:])
    time.sleep(2)  # idle at the prompt
    rss = smaps_split(p.pid, mem << 20, os.path.realpath(VOLT))
    p.stdin.write(b"reboot -f\n")
    p.stdin.flush()
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    rss["boot"] = time.monotonic() - t0
    return rss


def linux_part():
    for n in (1, 2):
        r = kit_boot_profiled(n)
        if not r["ok"]:
            print(f"guest kit cold boot, {n} vCPUs: the command did not finish (volt exit "
                  f"{r['status']}); the console's last lines and volt's messages:")
            for line in (r["console"] + "\n" + r["log"]).strip().splitlines():
                print("    | " + line)
        print(f"guest kit cold boot, {n} vCPU{'s' if n > 1 else ''} (--profile at 1000 Hz): "
              f"exec -> /init {r['init']:.1f} s (boot timer), spawn -> ready marker "
              f"{r['ready']:.1f} s, -> exit {r['exit']:.1f} s")
        print("  " + r["samples"])
        print(f"  {'samples':>9} {'%':>6}  top 10 functions")
        for line in r["top"]:
            n, pct, _, fn = line.split(None, 3)
            print(f"  {n:>9} {pct:>6}  {fn}")
    o = vmm_overhead()
    own = (o["total"] - o["guest"]) / 1024
    print(f"VMM overhead, guest kit (Linux) idle at its shell, 1 vCPU, 128 MiB: RSS "
          f"{o['total'] / 1024:.2f} MiB - guest memory {o['guest'] / 1024:.2f} MiB = "
          f"{own:.2f} MiB (target <= {T_OVERHEAD_MIB:g}: {verdict(own <= T_OVERHEAD_MIB)})")
    print(f"  of it: shared libraries {o['libs'] / 1024:.2f}, volt's executable "
          f"{o['volt'] / 1024:.2f}, heap + stacks + other anonymous {o['anon'] / 1024:.2f}, "
          f"other files {o['other'] / 1024:.2f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the hello guest part only")
    ap.add_argument("--linux-only", action="store_true", help="the Linux part only")
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    for path in (VOLT, FLOOR, LAUNCH, GUEST):
        if not os.path.exists(path):
            die(f"{path} missing: build first (make build)")
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    pvm = " (PVM: guest ring 0 emulated)" if os.path.exists("/sys/module/kvm_pvm") else ""
    print(f"volt bench: {os.cpu_count()} CPUs, load {load}{pvm}; seccomp kill mode and "
          "Landlock on (volt's defaults)")
    if not a.linux_only:
        hello_table(a.runs)
        print()
        api_table(a.runs)
        print()
        trace_table(a.runs)
    if not a.quick:
        print()
        linux_part()


if __name__ == "__main__":
    main()
