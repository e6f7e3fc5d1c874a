"""Firecracker's --seccomp-filter, as its test_custom_seccomp.py drives it: a file in
its seccompiler's format (fc_seccomp_file.py writes the same bytes as the bitcode
crate) whose programs apply as well as volt's own filters, in kill mode. A file
that is not one stops volt before it serves (Firecracker's "Seccomp error: ..."
line, exit code 1); a trapped system call ends volt as Firecracker's handler
does: its two lines, seccomp.num_faults in the last metrics line, exit code 148.
The API thread's filter needs no VM; the VM's threads' do (KVM)."""
import contextlib
import json
import socket
import time
from pathlib import Path

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, VoltProcess
from fc_seccomp_file import RET_KILL_PROCESS, encode, filter_file, program
from test_jail import GID, UID, jail_base  # noqa: F401 (a fixture)

SYS_ioctl, SYS_clone, SYS_execve, SYS_accept4 = 16, 56, 59, 288
DATA = Path(__file__).resolve().parents[1] / "unit" / "data" / "bitcode"


@pytest.fixture
def volt(tmp_path, volt_bin):
    started = []

    def start(*args):
        p = VoltProcess(args, tmp_path / f"volt-{len(started)}.out")
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def threads_seccomp(pid):
    """{thread name: (Seccomp mode, number of filters)} of every thread."""
    out = {}
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        f = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                 if ":\t" in line)
        out[f["Name"].strip()] = (f["Seccomp"].strip(), f.get("Seccomp_filters", "?").strip())
    return out


def test_the_encoder_writes_what_the_crate_wrote():
    """fc_seccomp_file.encode() against the bitcode crate's own files."""
    files = sorted(DATA.glob("*.bin"))
    assert len(files) >= 20
    for b in files:
        entries = []
        for line in b.with_suffix(".txt").read_text(encoding="utf-8").splitlines():
            key, vals = line.split("\t", 1)
            entries.append((key, [int(v, 0) for v in vals.split(",")] if vals else []))
        assert encode(entries) == b.read_bytes(), b.name


@pytest.mark.parametrize("content,message", [
    (b"Invalid BPF!", "Seccomp error: Filter deserialization failed"),
    (encode([("vmm", []), ("api", []), ("vcpu", []), ("foo", [])]),
     "Seccomp error: Invalid thread categories: foo"),
    (encode([("vmm", []), ("api", [])]), "Seccomp error: Missing thread category: vcpu"),
    (encode([("vmm", [0x20]), ("api", []), ("vcpu", [])]),
     "Seccomp error: the kernel refuses the vmm filter"),
    (b"\0" * 100001, "Input size 100001 exceeds limit of 100000 bytes"),
], ids=["invalid", "categories", "missing", "refused-by-kernel", "too-big"])
def test_a_file_that_is_not_a_filter_stops_volt(volt, tmp_path, content, message):
    """test_invalid_bpf: the line in the log, exit code 1, no socket served."""
    bpf = tmp_path / "bpf.out"
    bpf.write_bytes(content)
    log = tmp_path / "fc.log"
    sock = tmp_path / "api.sock"
    p = volt("--api-sock", sock, "--log-path", log, "--seccomp-filter", bpf)
    assert p.wait_exit(30) == 1, p.output()
    assert message in log.read_text(), log.read_text()
    assert not sock.exists()


def test_its_api_program_applies_beside_volts_own(volt, tmp_path):
    """An allow-all file: the API thread carries both filters and serves."""
    bpf = tmp_path / "bpf.out"
    bpf.write_bytes(filter_file())
    sock = tmp_path / "api.sock"
    p = volt("--api-sock", sock, "--seccomp-filter", bpf)
    wait_for_socket(sock, p.proc)
    assert ApiClient(sock).get("/")[0] == 200
    mode, filters = threads_seccomp(p.proc.pid)["fc_api"]
    assert mode == "2"
    assert filters in ("2", "?"), filters  # volt's own and the file's
    # Firecracker's working filter (clone and execve kill): volt serves on.
    bpf.write_bytes(filter_file(vmm=[SYS_clone, SYS_execve], api=[SYS_clone, SYS_execve],
                                vcpu=[SYS_clone, SYS_execve], action=RET_KILL_PROCESS))
    sock2 = tmp_path / "api2.sock"
    p2 = volt("--api-sock", sock2, "--seccomp-filter", bpf)
    wait_for_socket(sock2, p2.proc)
    assert ApiClient(sock2).get("/")[0] == 200


def test_a_trapped_call_ends_volt_as_firecracker(volt, tmp_path):
    """test_failing_filter on the API thread: accept4 trapped when a client connects."""
    bpf = tmp_path / "bpf.out"
    bpf.write_bytes(filter_file(api=[SYS_accept4]))
    sock, log, metrics = tmp_path / "api.sock", tmp_path / "fc.log", tmp_path / "metrics"
    metrics.touch()
    p = volt("--api-sock", sock, "--seccomp-filter", bpf, "--log-path", log,
             "--metrics-path", metrics)
    _wait_path(sock, p)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        assert p.wait_exit(30) == 148, p.output()
    text = log.read_text()
    assert "Shutting down VM after intercepting signal 31, code 1." in text, text
    assert f"Shutting down VM after intercepting a bad syscall ({SYS_accept4})." in text, text
    lines = metrics.read_text().splitlines()
    assert lines and json.loads(lines[-1])["seccomp"]["num_faults"] == 1, lines[-1:]


def _wait_path(path, p, timeout=30):
    """The socket's file, without connecting (a connection is what traps)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert p.proc.poll() is None and time.monotonic() < deadline, p.output()
        time.sleep(0.02)


# --- the VM's threads (KVM) ------------------------------------------------------------

def _configure_echo(volt, tmp_path, bpf, *extra):
    sock, log, metrics = tmp_path / "api.sock", tmp_path / "fc.log", tmp_path / "metrics"
    metrics.touch()
    p = volt("--api-sock", sock, "--seccomp-filter", bpf, "--log-path", log,
             "--metrics-path", metrics, *extra)
    wait_for_socket(sock, p.proc)
    api = ApiClient(sock)
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}) == (204, None)
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    return p, api, log, metrics


def test_allow_all_on_every_thread_of_a_running_vm(kvm, volt, tmp_path):
    """test_allow_all: the VM starts, every thread is in seccomp mode 2."""
    bpf = tmp_path / "bpf.out"
    bpf.write_bytes(filter_file())
    p, api, _, _ = _configure_echo(volt, tmp_path, bpf)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("echo guest ready", 60)
    time.sleep(0.5)  # the main thread's filter goes on once every VM thread runs
    assert p.proc.poll() is None, p.output()
    modes = threads_seccomp(p.proc.pid)
    assert modes and all(m == "2" for m, _ in modes.values()), modes


def test_a_vcpu_trap_ends_volt_as_firecracker(kvm, volt, tmp_path):
    """test_failing_filter: the vCPU thread's ioctl trapped."""
    bpf = tmp_path / "bpf.out"
    bpf.write_bytes(encode([("vmm", []), ("api", []),
                            ("vcpu", program([SYS_ioctl], 0x00030000))]))
    p, api, log, metrics = _configure_echo(volt, tmp_path, bpf)
    # The vCPU may trap, and volt end, before the API thread answers (as in Firecracker): a
    # fast host closes the connection unanswered.
    with contextlib.suppress(ConnectionError):
        api.put("/actions", {"action_type": "InstanceStart"})
    assert p.wait_exit(30) == 148, p.output()
    text = log.read_text()
    assert f"Shutting down VM after intercepting a bad syscall ({SYS_ioctl})." in text, text
    lines = metrics.read_text().splitlines()
    assert json.loads(lines[-1])["seccomp"]["num_faults"] == 1, lines[-1:]


def test_a_jail_brings_the_file_in(jail_base, volt, tmp_path):
    """volt jail: the host file named after `--` is put in the jail, and its API
    program applies there."""
    base, _made = jail_base
    bpf = tmp_path / "bpf.out"
    bpf.write_bytes(filter_file(api=[SYS_accept4]))
    p = volt("jail", "--id", "t-sf", "--uid", UID, "--gid", GID, "--chroot-base", base, "--",
             "--api-sock", "/run/api.sock", "--seccomp-filter", bpf)
    sock = base / "volt" / "t-sf" / "root" / "run" / "api.sock"
    _wait_path(sock, p)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        assert p.wait_exit(30) == 148, p.output()
    assert "Shutting down VM after intercepting a bad syscall (288)." in p.output()
