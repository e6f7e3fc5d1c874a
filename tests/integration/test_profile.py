"""`volt run --profile`: the tiny guests give known RIPs (docs/profiling.md)."""
import re
import signal
import subprocess
import time

from conftest import GUESTS


def top_functions(out):
    """{function: samples} from the report's top-functions table."""
    table = out.split("top functions:", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\s*(\d+)\s+[\d.]+\s+[\d.]+\s+(\S+)$", table, re.M)
    return {name: int(n) for n, name in rows}


def test_spin_guest_time_is_in_its_loop(vm):
    p = vm("run", "--kernel", GUESTS / "spin", "--profile", "--profile-hz", "2000")
    assert p.wait_exit(60) == 0, p.output()
    out = p.output()
    assert "spin guest: done" in out
    assert "symbols: " + str(GUESTS / "spin") + " (ELF .symtab)" in out, out
    total = int(re.search(r"volt profile: (\d+) samples at 2000 Hz on 1 vCPU", out).group(1))
    top = top_functions(out)
    assert total >= 10, out
    assert top.get("spin_loop", 0) >= 0.8 * total, out


def test_echo_guest_idles_in_its_poll_loop(vm):
    """Stopped by a signal: the report still comes. vCPU 1 is never started by
    the guest: its samples (real mode) are counted apart; vCPU 0's are in idle
    (the pause loop) or poll."""
    p = vm("run", "--kernel", GUESTS / "echo", "--cpus", "2", "--profile")
    p.wait_for("echo guest ready", 30)
    time.sleep(1)
    p.proc.send_signal(signal.SIGTERM)
    p.wait_exit(30)
    out = p.output()
    total = int(re.search(r"volt profile: (\d+) samples at 1000 Hz on 2 vCPUs", out).group(1))
    top = top_functions(out)
    assert "more of vCPUs not started yet (real mode)" in out, out
    assert total >= 100, out
    assert top.get("idle", 0) + top.get("poll", 0) >= 0.8 * total, out


def test_profile_with_restore_is_refused(vm, tmp_path):
    p = vm("run", "--restore", tmp_path, "--profile")
    assert p.wait_exit(30) != 0
    assert "not with --restore" in p.output()


def test_profile_hz_is_checked(vm):
    p = vm("run", "--kernel", GUESTS / "hello", "--profile-hz", "0")
    assert p.wait_exit(30) != 0
    assert "--profile-hz: '0' is not a number from 1 to 10000" in p.output()


def test_stripped_kernel_uses_the_system_map_beside_it(vm, tmp_path):
    """No .symtab: the System.map in the kernel's directory, here with
    thousands of symbols (sorting them must not need a system call the
    sandbox refuses once the VM has ended)."""
    guest = tmp_path / "spin"
    subprocess.run(["objcopy", "--strip-all", GUESTS / "spin", guest], check=True)
    nm = subprocess.run(["nm", GUESTS / "spin"], check=True, capture_output=True, text=True)
    lines = [l for l in nm.stdout.splitlines() if l.split()[1] in "Tt"]
    lines += [f"{0xffffffff81000000 + 64 * i:016x} t filler_{i}" for i in range(5000)]
    (tmp_path / "System.map").write_text("\n".join(lines) + "\n")
    p = vm("run", "--kernel", guest, "--profile", "--seccomp", "kill")
    assert p.wait_exit(60) == 0, p.output()
    out = p.output()
    assert "symbols: " + str(tmp_path / "System.map") in out, out
    total = int(re.search(r"volt profile: (\d+) samples", out).group(1))
    assert top_functions(out).get("spin_loop", 0) >= 0.8 * total, out


def test_profile_out_writes_every_sample(vm, tmp_path):
    out_file = tmp_path / "samples.txt"
    p = vm("run", "--kernel", GUESTS / "spin", "--profile-out", out_file, "--seccomp", "kill")
    assert p.wait_exit(60) == 0, p.output()
    total = int(re.search(r"volt profile: (\d+) samples", p.output()).group(1))
    lines = out_file.read_text().splitlines()
    assert len(lines) == total > 0
    assert sum(" spin_loop+0x" in l for l in lines) >= 0.8 * total, lines[:20]
    assert all(re.fullmatch(r"0 0x[0-9a-f]+ \S+", l) for l in lines), lines[:20]
