"""seccomp end to end, filters in their default (kill) mode: one Linux boot drives every
device (two drives, one per I/O engine, with writes, flushes, discards and reads; rng;
vsock both ways; the balloon inflating with statistics; console input; net over a TAP when
root can make a network namespace; debug logging) and reboots: volt must exit 0, not die
of SIGSYS. Then the tiny guest with every device (the whole teardown under the filters),
the other ways a VM ends (SIGTERM, Ctrl-A x on a terminal), the tiny guest in each mode,
and `volt sandbox --print`. (Pause, resume and the API thread: test_api.py's lifecycle
test, which runs in the default mode too.)

A kill shows up as a SIGSYS death (return code -31) and, where dmesg is readable, as an
audit line (type=1326) naming the thread and the system call number: the failures
quote those lines."""
import hashlib
import os
import pty
import re
import signal
import subprocess
import zlib
from pathlib import Path

import pytest

from conftest import (GUESTS, VOLT, VoltProcess, audit_lines, initrd_with, make_netns,
                      run_volt)
from test_virtio_vsock import HOST_PORT, MIB, HostEcho, build_guest_program, echo_through_guest

HOST_IP, GUEST_IP = "172.16.7.1", "172.16.7.2"
# Firecracker's lists (vmm, vcpu, api), which volt's must stay under.
FIRECRACKER_COUNTS = {"vmm": 50, "vcpu": 31, "api": 27}
NEVER = {"execve", "execveat", "ptrace", "open", "openat", "openat2", "creat", "fork", "vfork",
         "clone", "clone3", "mount", "chroot", "setns", "unshare", "bind", "listen",
         "memfd_create", "prctl", "seccomp", "bpf", "init_module", "finit_module", "kexec_load"}

# Runs in the guest; builtins where it can (every fork costs about a second on PVM hosts).
GUEST_SCRIPT = r"""
check() { if [ "$2" = "$3" ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL got=[$2] want=[$3]"; fi; }
head -c 4096 /dev/hwrng > /tmp/r
set -- $(md5sum /tmp/r); want=$1
for d in vda vdb; do
  dd if=/tmp/r of=/dev/$d bs=4096 count=1 conv=fsync 2>/dev/null || echo "CHECK $d-write FAIL"
  blkdiscard -o 65536 -l 65536 /dev/$d || echo "CHECK $d-discard FAIL"
done
echo 3 > /proc/sys/vm/drop_caches
for d in vda vdb; do set -- $(head -c 4096 /dev/$d | md5sum); check $d-read "$1" "$want"; done
read -r line; check console "$line" hello-from-the-host
if [ -e /sys/class/net/eth0 ]; then
  ip addr add GUEST_IP/24 dev eth0 && ip link set eth0 up
  ping -c 2 -w 30 HOST_IP >/dev/null && check ping ok ok || check ping lost ok
fi
/vsock_test
# The host answers once volt saw the balloon full (every page given back with madvise).
read -r line; check balloon "$line" balloon-full
echo SANDBOX-DONE
"""



def assert_clean_exit(p, code=0):
    rc = p.wait_exit(120)
    assert rc != -signal.SIGSYS, ("volt was killed by its seccomp filter:\n" +
                                  "\n".join(audit_lines(p.proc.pid)) + "\n" +
                                  p.output()[-3000:])
    assert rc == code, p.output()[-3000:]
    assert not audit_lines(p.proc.pid), "\n".join(audit_lines(p.proc.pid))


def netns():
    return make_netns(f"volt-sc-{os.getpid()}", f"vs{os.getpid()}", HOST_IP)


class Volt(VoltProcess):
    """volt, inside a network namespace when given one, with a pipe as its console."""

    def __init__(self, args, log_path, ns=None):
        prefix = ["ip", "netns", "exec", ns] if ns else []
        self.args = [*prefix, str(VOLT), *map(str, args)]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.PIPE, start_new_session=True)


def test_linux_with_every_device_runs_clean_under_the_filters(kvm, volt_bin, guest_kit,
                                                               tmp_path):
    mem_mib, balloon_mib = 128, 16
    build_guest_program(tmp_path)  # tmp_path/extra/vsock_test
    extra = tmp_path / "extra"
    script = GUEST_SCRIPT.replace("GUEST_IP", GUEST_IP).replace("HOST_IP", HOST_IP)
    (extra / "sandbox.sh").write_text(script)
    initrd = initrd_with(guest_kit["initrd"], extra, ["vsock_test", "sandbox.sh"],
                         tmp_path / "initrd.cpio")
    disks = [tmp_path / "uring.img", tmp_path / "sync.img"]
    for d in disks:
        d.write_bytes(bytes(1 << 20))
    uds = tmp_path / "v.sock"
    net = netns()
    p = None
    try:
        args = ["run", "--kernel", guest_kit["vmlinux"], "--initrd", initrd,
                "--mem", str(mem_mib), "--seccomp=kill",
                "--drive", f"path={disks[0]},engine=io_uring",
                "--drive", f"path={disks[1]},engine=sync", "--rng",
                "--vsock", f"cid=3,uds={uds}", "--balloon", f"{balloon_mib},stats=1",
                "--log-level", "debug"]
        if net:
            args += ["--net", f"tap={net.tap}"]
        args += ["--cmdline",
                 'console=ttyS0 reboot=k panic=-1 quiet volt.cmd="sh /sandbox.sh"']
        p = Volt(args, tmp_path / "volt.log", net.ns if net else None)
        # Boots take minutes on loaded PVM hosts.
        p.wait_for("VOLT-GUEST-READY", 900)
        # Console input, once the guest's console is open (earlier bytes are dropped).
        p.proc.stdin.write(b"hello-from-the-host\n")
        p.proc.stdin.flush()
        p.wait_for("VSOCK-LISTENING", 600)
        # Listening from now: its accept times out 300 s after it starts.
        host = HostEcho(f"{uds}_{HOST_PORT}", stall=0)
        host.start()
        data = os.urandom(256 << 10)
        _, back, _ = echo_through_guest(uds, data)
        assert back == data
        p.wait_for(f"the guest holds {balloon_mib * 256} pages", 600)
        p.proc.stdin.write(b"balloon-full\n")
        p.proc.stdin.flush()
        p.wait_for("SANDBOX-DONE", 600)
        host.join(30)
        assert host.error is None, host.error
        p.proc.stdin.close()
        assert_clean_exit(p)
    finally:
        if p:
            p.kill()
        if net:
            net.remove()
    out = p.output()
    checks = [l for l in out.splitlines() if l.startswith("CHECK")]
    assert checks and all(l.endswith(" ok") for l in checks), "\n".join(checks)
    assert len(checks) == (5 if net else 4), "\n".join(checks)
    m = re.search(r"VSOCK-G2H bytes=(\d+) crc=([0-9a-f]{8}) echo=(\w+)", out)
    assert m and int(m.group(1)) == MIB and m.group(3) == "ok", out[-3000:]
    assert zlib.crc32(host.data) == int(m.group(2), 16)
    assert hashlib.md5(disks[0].read_bytes()[:4096]).digest() == \
        hashlib.md5(disks[1].read_bytes()[:4096]).digest()
    assert "seccomp is off" not in out
    print(f"\nevery device ran under the filters ({'with' if net else 'without'} net)")


def test_sigterm_and_teardown_under_the_filters(vm, guest_kit):
    p = vm("run", "--kernel", guest_kit["vmlinux"], "--mem", "128",
           "--cmdline", "console=ttyS0 reboot=k panic=-1")
    p.wait_for("Linux version", 120)
    os.killpg(p.proc.pid, signal.SIGTERM)
    assert_clean_exit(p, 128 + signal.SIGTERM)
    assert "stopped by signal" in p.output()


def test_ctrl_a_x_on_a_terminal_under_the_filters(vm, guest_kit, tmp_path):
    master, slave = pty.openpty()
    try:
        p = vm("run", "--kernel", guest_kit["vmlinux"], "--mem", "128",
               "--cmdline", "console=ttyS0 reboot=k panic=-1", stdin=slave)
        p.wait_for("Linux version", 120)
        os.write(master, b"\x01x")
        # The terminal's settings come back at exit (TCSETS under the filter).
        assert_clean_exit(p, 0)
        assert "Ctrl-A x" in p.output()
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("mode", ["--seccomp=kill", "--seccomp=log", "--no-seccomp"])
def test_tiny_guest_in_each_mode(kvm, volt_bin, mode):
    p = run_volt("run", "--kernel", GUESTS / "hello", mode, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Hello" in p.stdout
    assert ("seccomp is off" in p.stderr) == (mode == "--no-seccomp"), p.stderr
    assert ("log mode" in p.stderr) == (mode == "--seccomp=log"), p.stderr


def test_teardown_of_every_device_under_the_filters(kvm, volt_bin, tmp_path):
    """The tiny guest resets at once: every device is set up, the threads start behind
    their filters, and the whole teardown runs under them."""
    disks = [tmp_path / "a.img", tmp_path / "b.img"]
    for d in disks:
        d.write_bytes(bytes(1 << 20))
    uds = tmp_path / "v.sock"
    net = netns()
    try:
        args = ["run", "--kernel", GUESTS / "hello", "--seccomp=kill",
                "--drive", f"path={disks[0]},engine=io_uring",
                "--drive", f"path={disks[1]},engine=sync", "--rng",
                "--vsock", f"cid=3,uds={uds}", "--balloon", "4,stats=1"]
        if net:
            args += ["--net", f"tap={net.tap}"]
        p = Volt(args, tmp_path / "volt.log", net.ns if net else None)
        p.proc.stdin.close()
        assert_clean_exit(p)
        p.kill()
    finally:
        if net:
            net.remove()
    assert "Hello" in p.output()
    assert not uds.exists(), "volt left its vsock socket behind"


def parse_print(text):
    """{kind: (count, [syscall names])} from `volt sandbox --print`."""
    lists, kind = {}, None
    for line in text.splitlines():
        m = re.match(r"(\w+) \(.*\): (\d+) system calls", line)
        if m:
            kind = m.group(1)
            lists[kind] = (int(m.group(2)), [])
            continue
        m = re.match(r"  (\w+)\s", line)
        if kind and m:
            lists[kind][1].append(m.group(1))
    return lists


def test_sandbox_print_lists_every_thread_kind(volt_bin):
    p = run_volt("sandbox", "--print", check=True)
    lists = parse_print(p.stdout)
    assert set(lists) == {"vmm", "vcpu", "api"}, p.stdout
    for kind, (count, names) in lists.items():
        assert count == len(set(names)), (kind, count, names)
        assert count < FIRECRACKER_COUNTS[kind], f"{kind}: {count} system calls"
        # The main thread creates snapshot files: openat there only creates a new
        # name (O_CREAT|O_EXCL) or opens a directory to fsync it (docs/snapshots.md).
        never = NEVER - {"openat"} if kind == "vmm" else NEVER
        assert not never & set(names), (kind, never & set(names))
    assert "request == KVM_RUN" in p.stdout
    assert "prot without PROT_EXEC" in p.stdout
    # File opens are refused (EACCES), not allowed and not a kill: libraries try them lazily.
    assert p.stdout.count("  - openat: refused, fails with EACCES") == 3, p.stdout
    assert "arg2 with O_CREAT | O_EXCL" in p.stdout and "arg2 with O_DIRECTORY" in p.stdout
    print("\n" + ", ".join(f"{k}: {c} (Firecracker {FIRECRACKER_COUNTS[k]})"
                           for k, (c, _) in lists.items()))
    one = run_volt("sandbox", "--print", "--thread", "vcpu", check=True)
    assert set(parse_print(one.stdout)) == {"vcpu"}
    bad = run_volt("sandbox", "--print", "--thread", "gpu")
    assert bad.returncode != 0 and "gpu" in bad.stderr
