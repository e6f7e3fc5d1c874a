"""Fixtures for volt's integration tests.

`volt` runs the binary under test (VOLT env var, default build/volt).
`vm` starts volt, captures everything it prints (the guest's serial console
included) to a file, waits for markers with timeouts, and always kills it.
Tests that need /dev/kvm fail with a clear message when it is missing or not
accessible, unless VOLT_ALLOW_NO_KVM=1 is set or the host has no KVM at all (no
/dev/kvm and no KVM device registered: a machine that is itself a guest without
nested virtualization); then they are skipped, with that reason.
"""
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from api_client import ApiClient, wait_for_socket

REPO = Path(__file__).resolve().parents[2]
VOLT = Path(os.environ.get("VOLT", REPO / "build" / "volt")).resolve()
GUESTS = VOLT.parent / "tests" / "guests"


def run_volt(*args, env=None, timeout=120, check=False):
    """Runs volt to completion; returns the CompletedProcess (text)."""
    proc = subprocess.run([str(VOLT), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"volt {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def volt_bin():
    if not VOLT.exists():
        pytest.fail(f"{VOLT} does not exist: run 'make build' (or set VOLT)")
    return VOLT


@pytest.fixture
def cache_env(tmp_path):
    """An environment whose volt cache is a fresh temporary directory."""
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


@pytest.fixture(scope="session")
def kvm():
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm"
    if not os.path.exists("/dev/kvm") and not os.path.exists("/sys/class/misc/kvm"):
        pytest.skip("this host has no KVM at all (no /dev/kvm, no KVM device registered): "
                    "the tests that run a VM cannot run here")
    msg = ("/dev/kvm is missing or not accessible: these tests need KVM "
           "(set VOLT_ALLOW_NO_KVM=1 to skip them instead)")
    if os.environ.get("VOLT_ALLOW_NO_KVM") == "1":
        pytest.skip(msg)
    pytest.fail(msg)


class VoltProcess:
    """A running volt whose combined output goes to a log file."""

    def __init__(self, args, log_path, env=None, stdin=subprocess.DEVNULL, binary=None):
        self.args = [str(binary or VOLT), *map(str, args)]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=stdin, env=env, start_new_session=True)

    def output(self):
        return self.log_path.read_text(errors="replace")

    def wait_for(self, marker, timeout):
        """Waits until marker appears in the output; fails with the output if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.output()
            if marker in out:
                return out
            if self.proc.poll() is not None:
                out = self.output()
                if marker in out:
                    return out
                raise AssertionError(f"volt exited ({self.proc.returncode}) before "
                                     f"{marker!r}:\n{out[-4000:]}")
            time.sleep(0.05)
        raise AssertionError(f"no {marker!r} within {timeout}s:\n{self.output()[-4000:]}")

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"volt still running after {timeout}s:\n"
                                 f"{self.output()[-4000:]}") from None

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self._log.close()


@pytest.fixture
def vm(tmp_path, kvm, volt_bin):
    """Factory: vm(*args) starts volt; every VM is killed at teardown."""
    started = []

    def start(*args, env=None, stdin=subprocess.DEVNULL, binary=None):
        p = VoltProcess(args, tmp_path / f"volt-{len(started)}.log", env=env, stdin=stdin,
                        binary=binary)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def start_api(vm, tmp_path, *args):
    """volt (started with the vm fixture) on an API socket of its own in tmp_path, args after
    it; returns its ApiClient once the socket accepts, with the VoltProcess as .proc."""
    sock = tmp_path / f"api-{time.monotonic_ns()}.sock"
    p = vm("--api-sock", sock, *args)
    wait_for_socket(sock, p.proc)
    api = ApiClient(sock)
    api.proc = p
    return api


@pytest.fixture(scope="session")
def guest_kit(volt_bin):
    """Paths of the cached guest-kit kernel and initramfs (`make guest-kit` builds them)."""
    k = run_volt("kernel", "path", "--no-build")
    r = run_volt("rootfs", "path", "--no-build")
    if k.returncode or r.returncode:
        pytest.fail("the guest kit is not built: run 'make guest-kit'\n" + k.stderr + r.stderr)
    vmlinux = Path(k.stdout.strip())
    return {"vmlinux": vmlinux, "bzImage": vmlinux.parent / "bzImage",
            "initrd": Path(r.stdout.strip())}


def newc_archive(directory, names):
    """A cpio archive (newc, as `cpio -o -H newc` writes it) of the regular files names
    in directory, with their modes: the kernel unpacks it after the guest kit's
    initramfs when the two are concatenated. Written here, so that a host without
    cpio runs the tests that add files to a guest."""
    out = bytearray()

    def entry(ino, name, mode, mtime, data):
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, mtime, len(data), 0, 0, 0, 0, len(raw), 0)
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + raw)
        out.extend(bytes(-len(out) % 4) + data)
        out.extend(bytes(-len(out) % 4))

    for ino, name in enumerate(names, 1):
        st = os.stat(Path(directory) / name)
        entry(ino, name, st.st_mode, int(st.st_mtime), (Path(directory) / name).read_bytes())
    entry(0, "TRAILER!!!", 0, 0, b"")
    out.extend(bytes(-len(out) % 512))
    return bytes(out)


def initrd_with(base, directory, names, out):
    """Writes to out the initramfs base followed by newc_archive(directory, names). The
    kernel takes an archive after a compressed one (the kit's cpio.gz on VT hosts) only at
    an offset that is a multiple of 4: zeros pad base up to it."""
    data = Path(base).read_bytes()
    Path(out).write_bytes(data + bytes(-len(data) % 4) + newc_archive(directory, names))
    return out


def audit_lines(pid):
    """The kernel's seccomp audit lines (type=1326) of volt process pid; empty when dmesg
    is not readable. Only a volt binary's: pids wrap (32768 here), and the unit tests'
    deliberate kills (exe=.../test_seccomp) must not be taken for a later volt's."""
    out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if "type=1326" in l and f" pid={pid} " in l
            and re.search(r' exe="[^"]*/volt[^"/]*" ', l)]


def volt_is_dynamic():
    """Whether VOLT loads shared libraries (a sanitizer build, -Dstatic=false)."""
    return "=>" in subprocess.run(["ldd", str(VOLT)], capture_output=True, text=True).stdout


def preload_volt():
    """The volt a test-only LD_PRELOAD library can enter: VOLT itself when it is linked
    dynamically, else the same objects linked dynamically beside it (build/volt-dynamic;
    meson.build): a static binary ignores LD_PRELOAD."""
    if volt_is_dynamic():
        return VOLT
    twin = VOLT.parent / "volt-dynamic"
    if not twin.exists():
        pytest.fail(f"{VOLT} is static and {twin} is missing: run 'make build'")
    return twin


def preload(lib):
    """LD_PRELOAD for a test-only library, to be used with preload_volt(); after ASan's
    runtime when volt is a sanitizer build (make test-debug): ASan refuses to start
    unless its runtime comes first."""
    libs = subprocess.run(["ldd", str(preload_volt())], capture_output=True,
                          text=True).stdout
    asan = [l.split("=>")[1].split()[0] for l in libs.splitlines()
            if "libasan" in l and "=>" in l]
    return ":".join(asan + [str(lib)])


class Netns:
    """A network namespace holding a TAP at host_ip/24 (root only); remove() deletes both."""

    def __init__(self, name, tap, host_ip):
        self.ns, self.tap = name, tap
        subprocess.run(["ip", "netns", "add", self.ns], check=True, capture_output=True)
        try:
            for cmd in (["ip", "link", "set", "lo", "up"],
                        ["ip", "tuntap", "add", "dev", self.tap, "mode", "tap"],
                        ["ip", "addr", "add", f"{host_ip}/24", "dev", self.tap],
                        ["ip", "link", "set", self.tap, "up"]):
                subprocess.run(["ip", "netns", "exec", self.ns, *cmd], check=True,
                               capture_output=True)
        except subprocess.CalledProcessError:
            self.remove()
            raise

    def remove(self):
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


def make_netns(name, tap, host_ip):
    """A Netns, or None when not root or `ip` cannot make one."""
    if os.geteuid() != 0:
        return None
    try:
        return Netns(name, tap, host_ip)
    except (subprocess.CalledProcessError, FileNotFoundError):
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        return None


def host_is_pvm():
    return os.path.exists("/sys/module/kvm_pvm")


def huge_pages_free():
    """2 MiB pages the host's pool can still give (free, not reserved)."""
    d = Path("/sys/kernel/mm/hugepages/hugepages-2048kB")
    try:
        return (int((d / "free_hugepages").read_text())
                - int((d / "resv_hugepages").read_text()))
    except OSError:
        return 0


@contextlib.contextmanager
def full_backlog_listener(path):
    """A Unix socket listening at path that never accepts, its backlog (0) full: a
    connect() to it blocks, a non-blocking one fails at once (EAGAIN)."""
    listener = socket.socket(socket.AF_UNIX)
    filler = socket.socket(socket.AF_UNIX)
    try:
        listener.bind(str(path))
        listener.listen(0)
        filler.connect(str(path))
        yield
    finally:
        filler.close()
        listener.close()


def api_wait_for(api, url, key, want, timeout=180):
    """GETs url once a second until its body's key is want (or timeout passes); the last
    body."""
    end = time.monotonic() + timeout
    while True:
        status, body = api.get(url)
        assert status == 200, body
        if body[key] == want or time.monotonic() > end:
            return body
        time.sleep(1)
