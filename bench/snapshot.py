#!/usr/bin/env python3
"""The guest kit from its snapshot vs a cold boot (issue #13), in one invocation.

Runs `volt run` of the guest kit with a command line of its own (so its cache entry is this
benchmark's, removed at the end): one cold boot (--fresh) as the baseline, one run that
keeps the snapshot, then RUNS restored runs of a one-shot command (`true`) and RUNS of the
interactive shell (a typed `echo` answered). Prints medians and the ratio to the cold boot.
Usage: bench/snapshot.sh [RUNS]   (VOLT=path/to/volt)"""
import os
import re
import statistics
import subprocess
import sys
import time
import uuid

VOLT = os.environ.get("VOLT", "build/volt")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
BASE = f"console=ttyS0 reboot=k panic=-1 quiet volt.bench={uuid.uuid4().hex[:8]}"


MARKS = ("restored from snapshot", "VOLT-GUEST-READY")


def run(args, stdin_text=None, marks=MARKS, answer=None, timeout=600):
    """Starts volt (under /usr/bin/time for its peak RSS); returns {mark: seconds since
    exec, "exit": ..., "rss_kib": ...} and the output."""
    t0 = time.monotonic()
    rss = f"/tmp/volt-bench-rss-{os.getpid()}"
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss, VOLT, "run", *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    os.set_blocking(p.stdout.fileno(), False)
    seen, out, sent = {}, b"", False
    while p.poll() is None and time.monotonic() - t0 < timeout:
        chunk = p.stdout.read() or b""
        if chunk and "first_byte" not in seen:
            seen["first_byte"] = time.monotonic() - t0
        out += chunk
        for m in marks:
            if m not in seen and m.encode() in out:
                seen[m] = time.monotonic() - t0
        if stdin_text and ("restored from snapshot" in seen or b" kept " in out) and not sent:
            p.stdin.write(stdin_text.encode())
            p.stdin.flush()
            sent = True
        if answer and answer not in seen and answer.encode() in out:
            seen[answer] = time.monotonic() - t0
            p.kill()  # a shell: its answer is the measure
            break
        time.sleep(0.001)
    if p.poll() is None:
        p.kill()
    p.wait(timeout=60)
    seen["exit"] = time.monotonic() - t0
    try:
        seen["rss_kib"] = int(open(rss).read().split()[-1])
        os.unlink(rss)
    except (OSError, ValueError, IndexError):
        pass
    return seen, out.decode(errors="replace")


def main():
    cold, _ = run(["--fresh", "--cmdline", BASE + ' volt.cmd="true"'])
    first, out = run(["--cmdline", BASE + ' volt.cmd="true"'])
    m = re.search(r"snapshot ([0-9a-f]{16}) kept \(taken in (\d+) ms, memory (\d+) MiB on disk",
                  out)
    if not m:
        sys.exit("bench: no snapshot was kept:\n" + out[-2000:])
    key, create_ms, disk_mib = m.group(1), int(m.group(2)), int(m.group(3))
    keys = [key]
    try:
        cmd = [run(["--cmdline", BASE + ' volt.cmd="true"'])[0] for _ in range(RUNS)]
        # The shell's own snapshot (taken where the login shell is about to prompt).
        _, out = run(["--cmdline", BASE], stdin_text="reboot -f\n")
        m = re.search(r"snapshot ([0-9a-f]{16}) kept", out)
        if m:
            keys.append(m.group(1))
        shell = [run(["--cmdline", BASE], stdin_text="echo B$((6*7))\n", answer="B42",
                     timeout=20)[0] for _ in range(RUNS)]
    finally:
        for k in keys:
            subprocess.run([VOLT, "snapshot", "rm", k], capture_output=True)

    def med(rows, k):
        vals = [r[k] for r in rows if k in r]
        return statistics.median(vals) if vals else float("nan")

    print(f"guest kit, 1 vCPU, 128 MiB; medians of {RUNS} restored runs (seconds)")
    print("(the first console byte counts volt's own info lines; restored peak RSS counts "
          "the guest pages it touched, mapped from the memory file)")
    print(f"{'':36} {'cold boot':>10} {'restored':>10} {'ratio':>8}")
    rows = [("exec -> VM restored, vCPU starting", "restored from snapshot", cmd),
            ("exec -> first console byte", "first_byte", cmd),
            ("exec -> VOLT-GUEST-READY", "VOLT-GUEST-READY", cmd),
            ("`volt run` one-shot `true`, to exit", "exit", cmd),
            ("shell: exec -> typed echo answered", "B42", shell)]
    for name, k, rs in rows:
        c = cold.get(k) if k != "B42" else cold["VOLT-GUEST-READY"]
        r = med(rs, k)
        if c is None:  # a cold boot has no restore
            print(f"{name:36} {'-':>10} {r:10.3f} {'-':>8}")
        else:
            print(f"{name:36} {c:10.3f} {r:10.3f} {r / c:8.4f}")
    print(f"{'peak RSS of the VMM (MiB)':36} {cold.get('rss_kib', 0) / 1024:10.1f} "
          f"{med(cmd, 'rss_kib') / 1024:10.1f}")
    print(f"snapshot: taken in {create_ms} ms; memory file 128 MiB apparent, {disk_mib} MiB "
          f"on disk; first run (boot + snapshot), to exit: {first['exit']:.3f} s "
          f"(cold: {cold['exit']:.3f} s)")


if __name__ == "__main__":
    main()
