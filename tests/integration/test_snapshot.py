"""Snapshots and restores (issue #13), the way Firecracker's clients take them.

The echo test guest (tests/guests/echo: it echoes every byte typed on its
console) makes each round trip cost milliseconds: boot it through the API,
type, pause, PUT /snapshot/create, kill the VMM; then PUT /snapshot/load in a
fresh VMM (or `volt run --restore`) and type again: the same guest answers.
Everything runs with volt's defaults: seccomp in kill mode, Landlock on (the
snapshot directory is allowed with --snapshot-dir). One Linux guest-kit boot
checks that a real kernel with its devices goes on after a restore.
"""
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, VOLT, VoltProcess, huge_pages_free, initrd_with
from test_virtio_net import GUEST_IP, HOST_IP, netlab  # noqa: F401 (the fixture)

EXTRA = os.environ.get("VOLT_API_TEST_ARGS", "").split()
BOOT_TIMEOUT = 600
UFFD_HANDLER = VOLT.parent / "tests" / "unit" / "uffd_handler"


@pytest.fixture
def api_vm(vm, tmp_path):
    """Starts `volt --api-sock` (stdin a pipe) and returns (VoltProcess, ApiClient)."""
    def start(*args):
        sock = tmp_path / f"api-{time.monotonic_ns()}.sock"
        p = vm("--api-sock", sock, *EXTRA, *args, stdin=subprocess.PIPE)
        wait_for_socket(sock, p.proc)
        return p, ApiClient(sock)
    return start


def fault(resp, status, *needles):
    got, body = resp
    assert got == status, resp
    msg = body["fault_message"]
    for n in needles:
        assert n in msg, (msg, n)
    return msg


def type_and_see(p, text, timeout=30):
    p.proc.stdin.write(text.encode())
    p.proc.stdin.flush()
    return p.wait_for(text, timeout)


def boot_echo(api_vm, snapdir, machine=None):
    p, api = api_vm("--snapshot-dir", snapdir)
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128,
                                       **(machine or {})}) == (204, None)
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("echo guest ready", 60)
    type_and_see(p, "before-snapshot")
    return p, api


def take(api, snapdir, name="snap", kind="Full"):
    d = Path(snapdir)
    state, mem = d / f"{name}.state", d / f"{name}.mem"
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    assert api.put("/snapshot/create", {"snapshot_type": kind, "snapshot_path": str(state),
                                        "mem_file_path": str(mem)}) == (204, None)
    return state, mem


def echo_snapshot(api_vm, tmp_path):
    """A snapshot of the echo guest in tmp_path/snaps, its VMM ended: (dir, state, mem)."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    p, api = boot_echo(api_vm, snapdir)
    state, mem = take(api, snapdir)
    p.kill()
    return snapdir, state, mem


def load(api, state, mem, backend="File", **extra):
    body = {"snapshot_path": str(state),
            "mem_backend": {"backend_type": backend, "backend_path": str(mem)},
            "resume_vm": True, **extra}
    return api.put("/snapshot/load", body)


def test_echo_guest_snapshot_and_restore(api_vm, tmp_path):
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    p, api = boot_echo(api_vm, snapdir)
    fault(api.put("/snapshot/create", {"snapshot_path": str(snapdir / "x"),
                                       "mem_file_path": str(snapdir / "y")}), 400)
    state, mem = take(api, snapdir)
    # The memory file has guest RAM's size, written sparse; the VM stays paused.
    assert mem.stat().st_size == 128 << 20
    assert mem.stat().st_blocks * 512 < 16 << 20, mem.stat()
    assert api.get("/")[1]["state"] == "Paused"
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    type_and_see(p, "after-snapshot")
    p.kill()
    digest = hashlib.sha256(mem.read_bytes()).hexdigest()

    # Two VMMs restore the same snapshot at once; each guest answers its own input.
    restored = []
    for i in range(2):
        q, qapi = api_vm()
        assert load(qapi, state, mem) == (204, None)
        assert qapi.get("/")[1]["state"] == "Running"
        restored.append(q)
    for i, q in enumerate(restored):
        out = type_and_see(q, f"restored-{i}")
        assert "echo guest ready" not in out, "the guest booted again instead"
    # The memory file is never written by a restored VM.
    for q in restored:
        q.kill()
    assert hashlib.sha256(mem.read_bytes()).hexdigest() == digest


def test_restore_paused_then_resume(api_vm, tmp_path):
    """Two vCPUs with smt (the second waits for a SIPI the echo guest never sends): the
    restored VM's configuration says what the snapshot's had."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    p, api = boot_echo(api_vm, snapdir, {"vcpu_count": 2, "smt": True})
    state, mem = take(api, snapdir)
    p.kill()
    q, qapi = api_vm()
    assert load(qapi, state, mem, resume_vm=False) == (204, None)
    assert qapi.get("/")[1]["state"] == "Paused"
    machine = qapi.get("/vm/config")[1]["machine-config"]
    assert (machine["vcpu_count"], machine["smt"]) == (2, True), machine
    q.proc.stdin.write(b"typed-while-paused")
    q.proc.stdin.flush()
    time.sleep(0.5)
    assert "typed-while-paused" not in q.output()
    assert qapi.patch("/vm", {"state": "Resumed"}) == (204, None)
    q.wait_for("typed-while-paused", 30)


def test_run_restore_cli(api_vm, vm, tmp_path):
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    p, api = boot_echo(api_vm, snapdir)
    take(api, snapdir, name="state")
    (snapdir / "state.mem").rename(snapdir / "mem")
    (snapdir / "state.state").rename(snapdir / "state")
    p.kill()
    q = vm("run", "--restore", snapdir, stdin=subprocess.PIPE)
    type_and_see(q, "cli-restored")
    bad = vm("run", "--restore", snapdir, "--mem", "256")
    assert bad.wait_exit(30) != 0
    assert "--restore" in bad.output()


def test_diff_snapshot(api_vm, tmp_path):
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    # Without dirty tracking a Diff holds the pages resident in guest memory, as
    # Firecracker's (mincore; its tests' DIFF_MINCORE): after a boot, all the guest
    # touched, so that it restores alone (volt refused it with a 400).
    p, api = boot_echo(api_vm, snapdir)
    state, mem = take(api, snapdir, "mincore", "Diff")
    assert 0 < mem.stat().st_blocks * 512 < 16 << 20, mem.stat()
    p.kill()
    q, qapi = api_vm()
    assert load(qapi, state, mem) == (204, None)
    type_and_see(q, "from-a-mincore-diff")
    q.kill()
    p, api = boot_echo(api_vm, snapdir, {"track_dirty_pages": True})
    full_state, full_mem = take(api, snapdir, "full")
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    type_and_see(p, "between-snapshots")
    diff_state, diff_mem = take(api, snapdir, "diff", "Diff")
    assert diff_mem.stat().st_size == full_mem.stat().st_size
    assert diff_mem.stat().st_blocks < full_mem.stat().st_blocks, \
        (diff_mem.stat().st_blocks, full_mem.stat().st_blocks)
    p.kill()
    # Firecracker's way: the diff's pages over the base make a full memory file.
    merged = snapdir / "merged.mem"
    shutil.copyfile(full_mem, merged)
    with open(diff_mem, "rb") as d, open(merged, "r+b") as m:
        off = 0
        size = diff_mem.stat().st_size
        while off < size:
            try:
                data_at = os.lseek(d.fileno(), off, os.SEEK_DATA)
            except OSError:
                break
            hole_at = os.lseek(d.fileno(), data_at, os.SEEK_HOLE)
            d.seek(data_at)
            m.seek(data_at)
            m.write(d.read(hole_at - data_at))
            off = hole_at
    q, qapi = api_vm()
    assert load(qapi, diff_state, merged) == (204, None)
    type_and_see(q, "from-merged-diff")


def test_diff_onto_its_base_merges(api_vm, tmp_path):
    """Firecracker's test_diff_snapshot_overlay: a Diff written where a memory file of
    RAM's size already is merges onto it (Firecracker's snapshot_memory_to_file); the
    state and the merged file restore the guest (volt replaced the file with the Diff
    alone, whose holes read as zeros: a guest without its kernel)."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    p, api = boot_echo(api_vm, snapdir, {"track_dirty_pages": True})
    state, mem = take(api, snapdir, "snap", "Diff")
    backup, blocks = snapdir / "mem.old", mem.stat().st_blocks
    shutil.copyfile(mem, backup)
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    type_and_see(p, "between-the-diffs")
    state, merged = take(api, snapdir, "snap", "Diff")
    assert merged == mem
    # Every page of the first Diff is still there, unless the second one wrote it.
    assert merged.stat().st_blocks >= blocks, (merged.stat().st_blocks, blocks)
    p.kill()
    q, qapi = api_vm()
    assert load(qapi, state, merged) == (204, None)
    out = type_and_see(q, "from-the-merged-diff")
    assert "echo guest ready" not in out


def test_a_failed_state_file_leaves_the_memory_file(api_vm, tmp_path):
    """A snapshot whose state file cannot be written leaves the memory file that was at
    its path (a Diff's base above all): the memory file goes in place only after its
    state (volt renamed it first, then removed it: the base was lost)."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    p, api = boot_echo(api_vm, snapdir, {"track_dirty_pages": True})
    state, mem = take(api, snapdir, "snap", "Full")
    before = (mem.stat().st_ino, mem.read_bytes())
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    type_and_see(p, "after-the-full")
    for kind in ("Diff", "Full"):
        assert api.patch("/vm", {"state": "Paused"}) == (204, None)
        fault(api.put("/snapshot/create", {"snapshot_type": kind,
                                           "snapshot_path": str(snapdir / "no" / "state"),
                                           "mem_file_path": str(mem)}), 400, "no/state")
        assert (mem.stat().st_ino, mem.read_bytes()) == before, kind
        assert sorted(f.name for f in snapdir.iterdir()) == ["snap.mem", "snap.state"]
        assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    p.kill()
    q, qapi = api_vm()
    assert load(qapi, state, mem) == (204, None)
    type_and_see(q, "from-the-kept-base")


@pytest.fixture
def small_fs(tmp_path):
    """A 64 MiB tmpfs of the test's own (root only), so that a disk can be filled."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-o", "size=64M", "-t", "tmpfs", "none", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_diff_snapshot_after_a_full_disk(api_vm, small_fs):
    """Firecracker's test_snapshot_not_losing_dirty_pages: a Diff that fails for want of
    space answers 400 naming it and leaves no file; once there is space, the next Diff
    still holds the pages the failed one had collected (volt was killed by its seccomp
    filter cleaning up, then lost them)."""
    p, api = boot_echo(api_vm, small_fs, {"track_dirty_pages": True})
    fill = small_fs / "fill"
    st = os.statvfs(small_fs)
    subprocess.run(["fallocate", "-l", str(st.f_bavail * st.f_frsize - 8192), str(fill)],
                   check=True)
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    fault(api.put("/snapshot/create", {"snapshot_type": "Diff",
                                       "snapshot_path": str(small_fs / "d.state"),
                                       "mem_file_path": str(small_fs / "d.mem")}),
          400, "No space left on device")
    assert sorted(f.name for f in small_fs.iterdir()) == ["fill"]
    fill.unlink()
    state, mem = take(api, small_fs, "d", "Diff")
    # The first Diff of a booted VM holds every page touched since boot (the kernel
    # volt loaded included): it restores alone (below).
    assert mem.stat().st_blocks > 0, "the failed Diff's pages were lost"
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    type_and_see(p, "after-the-full-disk")
    p.kill()
    q, qapi = api_vm()
    assert load(qapi, state, mem) == (204, None)
    type_and_see(q, "restored-from-the-diff")


def test_hostile_snapshot_files(api_vm, tmp_path):
    snapdir, state, mem = echo_snapshot(api_vm, tmp_path)
    data = state.read_bytes()
    cases = {
        "truncated": data[:len(data) // 2],
        "flipped": data[:200] + bytes([data[200] ^ 1]) + data[201:],
        "empty": b"",
        "not-volt": b"\x7fELF" + b"\0" * 100,
    }
    for name, content in cases.items():
        bad = snapdir / f"{name}.state"
        bad.write_bytes(content)
        q, qapi = api_vm()
        fault(load(qapi, bad, mem), 400, str(bad))
        q.kill()
    short = snapdir / "short.mem"
    short.write_bytes(b"\0" * 4096)
    q, qapi = api_vm()
    fault(load(qapi, state, short), 400, str(short))
    q.kill()
    q, qapi = api_vm()
    fault(load(qapi, state, snapdir / "missing.mem"), 400, "missing.mem")
    q.kill()
    q, qapi = api_vm()
    fault(load(qapi, state, mem, network_overrides=[{"iface_id": "eth9",
                                                      "host_dev_name": "tap9"}]), 400, "eth9")


def test_snapshot_outside_allowed_directory(api_vm, tmp_path):
    """Landlock: without --snapshot-dir there, the create fails and says why."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    other = tmp_path / "elsewhere"
    other.mkdir()
    p, api = boot_echo(api_vm, snapdir)
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    status, body = api.put("/snapshot/create", {"snapshot_path": str(other / "s"),
                                                "mem_file_path": str(other / "m")})
    if status == 204:
        pytest.skip("Landlock is not enforced on this kernel")
    assert status == 400 and "snapshot" in body["fault_message"], (status, body)
    assert not list(other.iterdir()), "a failed snapshot left files"
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    type_and_see(p, "still-alive")


def test_snapshot_create_refuses_targets_it_cannot_replace(api_vm, tmp_path):
    """The state file and the memory file are renamed into place one after the other: a
    target the second rename would fail on (a directory, a socket) or two paths naming one
    file (the memory file would overwrite the state) are refused before anything is
    written, naming the path; a good snapshot follows."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    (snapdir / "adir").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(snapdir / "sock"))
    p, api = boot_echo(api_vm, snapdir)
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    state, mem, d = str(snapdir / "s.state"), str(snapdir / "s.mem"), str(snapdir)
    for st, mf, words in ((state, d + "/adir", "is a directory"),
                          (d + "/adir", mem, "is a directory"),
                          (state, d + "/sock", "is a socket"),
                          (state, state, "name the same file"),
                          (state, d + "/./s.state", "name the same file"),
                          (state, d + "/adir/../s.state", "name the same file"),
                          (state, d + "/", "is a directory")):
        before = sorted(os.listdir(snapdir))
        status, body = api.put("/snapshot/create", {"snapshot_path": st, "mem_file_path": mf})
        assert status == 400 and words in body["fault_message"], (st, mf, status, body)
        assert sorted(os.listdir(snapdir)) == before, (st, mf)
    assert api.put("/snapshot/create", {"snapshot_path": state,
                                        "mem_file_path": mem}) == (204, None)
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    type_and_see(p, "still-alive")
    sock.close()


def test_snapshot_of_a_vm_whose_memory_file_was_cut(api_vm, tmp_path):
    """A restored VM's memory is its memory file, mapped: cut on the host, its pages past
    the end raise SIGBUS when read. A snapshot then is refused (400, saying so) instead of
    volt dying half-way through writing the new memory file."""
    snapdir, state, mem = echo_snapshot(api_vm, tmp_path)
    q, qapi = api_vm("--snapshot-dir", snapdir)
    assert load(qapi, state, mem) == (204, None)
    type_and_see(q, "restored")
    assert qapi.patch("/vm", {"state": "Paused"}) == (204, None)
    os.truncate(mem, 4096)
    status, body = qapi.put("/snapshot/create", {"snapshot_path": str(snapdir / "t.state"),
                                                 "mem_file_path": str(snapdir / "t.mem")})
    assert status == 400 and "was cut to 4096 bytes" in body["fault_message"], (status, body)
    assert sorted(os.listdir(snapdir)) == ["snap.mem", "snap.state"]
    assert qapi.get("/")[0] == 200


@pytest.mark.skipif(not UFFD_HANDLER.exists(), reason="tests/uffd_handler not built")
def test_uffd_backend(api_vm, tmp_path):
    _, state, mem = echo_snapshot(api_vm, tmp_path)
    sock = tmp_path / "uffd.sock"
    handler = subprocess.Popen([str(UFFD_HANDLER), str(sock), str(mem)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "ready" in handler.stdout.readline()
        q, qapi = api_vm()
        assert load(qapi, state, sock, "Uffd") == (204, None)
        type_and_see(q, "served-by-uffd")
    finally:
        handler.kill()
        handler.wait()


def kernel_page_kib(pid, name):
    """KernelPageSize (KiB) of pid's mapping called name ("/anon_hugepage (deleted)" on
    some kernels), from /proc/PID/smaps."""
    lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    for i, line in enumerate(lines):
        if f" {name}" in line:
            for m in lines[i + 1:]:
                if m.startswith("KernelPageSize:"):
                    return int(m.split()[1])
    return None


@pytest.mark.skipif(not UFFD_HANDLER.exists(), reason="tests/uffd_handler not built")
def test_huge_pages_2m_boot_snapshot_and_uffd_restore(api_vm, tmp_path):
    """huge_pages "2M" (Firecracker's hugetlbfs): the guest's 128 MiB are 64 pages of the
    host's pool, reserved at InstanceStart; its snapshot restores through a page-fault
    handler in 2 MiB pages (the handshake says so), not from the memory file (Firecracker's
    words). Needs a pool of 128 free pages (vm.nr_hugepages; the nested harness has one)."""
    if huge_pages_free() < 128:
        pytest.skip(f"{huge_pages_free()} free 2 MiB pages here: set vm.nr_hugepages to 128 "
                    "or more")
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    before = huge_pages_free()
    p, api = boot_echo(api_vm, snapdir, {"huge_pages": "2M", "track_dirty_pages": True})
    assert before - huge_pages_free() == 64, (before, huge_pages_free())
    assert api.get("/machine-config")[1]["huge_pages"] == "2M"
    # Firecracker's test_huge_pages.py looks for the mapping the same way.
    assert kernel_page_kib(p.proc.pid, "/anon_hugepage") == 2048
    state, mem = take(api, snapdir)
    # A Diff on top of it (dirty tracking logs 4 KiB pages of the huge ones).
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    type_and_see(p, "before-diff")
    diff_state, diff_mem = take(api, snapdir, "diff", "Diff")
    assert diff_mem.stat().st_blocks * 512 < 8 << 20, diff_mem.stat()
    p.kill()
    p.wait_exit(10)
    assert huge_pages_free() == before
    q, qapi = api_vm()
    fault(load(qapi, state, mem), 400, "Failed to load guest memory: Error creating guest "
          "memory from file: Cannot restore hugetlbfs backed snapshot by mapping the memory "
          "file. Please use uffd.")
    # Firecracker's override: the same snapshot as "None" from the file.
    q, qapi = api_vm()
    assert load(qapi, state, mem, huge_pages="None") == (204, None)
    type_and_see(q, "restored-in-small-pages")
    assert qapi.get("/machine-config")[1]["huge_pages"] == "None"
    q.kill()
    sock = tmp_path / "uffd.sock"
    (tmp_path / "small").mkdir()
    _, small_state, small_mem = echo_snapshot(api_vm, tmp_path / "small")
    # The snapshot's 2 MiB pages, then a 4 KiB VM's snapshot restored into them.
    for snap_state, snap_mem, huge in ((state, mem, "Snapshot"),
                                       (small_state, small_mem, "2M")):
        handler = subprocess.Popen([str(UFFD_HANDLER), str(sock), str(snap_mem)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert "ready" in handler.stdout.readline()
            q, qapi = api_vm()
            assert load(qapi, snap_state, sock, "Uffd", huge_pages=huge) == (204, None)
            type_and_see(q, "served-in-huge-pages")
            assert qapi.get("/vm/config")[1]["machine-config"]["huge_pages"] == "2M"
            assert kernel_page_kib(q.proc.pid, "/anon_hugepage") == 2048
            q.kill()
            q.wait_exit(10)
        finally:
            handler.kill()
            handler.wait()
            sock.unlink(missing_ok=True)
    # A pool too small is named at InstanceStart, not a SIGBUS later (surplus pages would
    # grow the pool instead).
    if Path("/proc/sys/vm/nr_overcommit_hugepages").read_text().strip() != "0":
        return
    r, rapi = api_vm()
    assert rapi.put("/machine-config", {"vcpu_count": 1, "huge_pages": "2M",
                                        "mem_size_mib": 2 * (huge_pages_free() + 1)}) \
        == (204, None)
    assert rapi.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    fault(rapi.put("/actions", {"action_type": "InstanceStart"}), 400,
          "huge_pages 2M: the host has fewer than")
    assert rapi.get("/")[0] == 200


def test_uffd_handler_that_never_serves(api_vm, tmp_path):
    """A page-fault handler that takes the userfaultfd and never serves a fault leaves the
    vCPU stuck in the host kernel on its first guest access: a pause is answered 400 after
    Firecracker's 30 s instead of never, the API goes on answering; SIGTERM during a second
    pause ends that wait at once and volt (after its 5 s wait for the vCPU) instead of
    nothing but SIGKILL doing so."""
    _, state, _ = echo_snapshot(api_vm, tmp_path)
    sock_path = tmp_path / "silent.sock"
    silent = socket.socket(socket.AF_UNIX)
    silent.bind(str(sock_path))
    silent.listen(1)
    kept = []
    threading.Thread(target=lambda: kept.append(silent.accept()), daemon=True).start()
    q, qapi = api_vm()
    assert load(qapi, state, sock_path, "Uffd") == (204, None)
    t0 = time.monotonic()
    status, body = qapi.patch("/vm", {"state": "Paused"})
    took = time.monotonic() - t0
    assert status == 400 and "pause" in body["fault_message"], (status, body)
    assert 25 < took < 45, took
    assert qapi.get("/")[0] == 200
    answer = {}
    pause = threading.Thread(
        target=lambda: answer.update(r=qapi.patch("/vm", {"state": "Paused"})), daemon=True)
    pause.start()
    time.sleep(1)
    t0 = time.monotonic()
    q.proc.send_signal(signal.SIGTERM)
    assert q.wait_exit(30) == 128 + signal.SIGTERM, q.output()[-2000:]
    assert time.monotonic() - t0 < 12
    pause.join(10)
    assert answer["r"][0] == 400, answer
    out = q.output()
    assert "did not pause within 30 s" in out and "did not end within 5 s" in out, out[-2000:]
    silent.close()


class NetnsVoltIn(VoltProcess):
    """volt in a network namespace, its stdin a pipe (the guest's console)."""

    def __init__(self, ns, args, log_path):
        self.args = ["ip", "netns", "exec", ns, str(VOLT), *map(str, args)]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.PIPE, start_new_session=True)


GUEST_SETUP = f"""
/vsock_echo &
ip addr add {GUEST_IP}/24 dev eth0
ip link set eth0 up
echo NET-UP
exec sh
"""


def test_linux_guest_snapshot_restore(netlab, guest_kit, tmp_path):
    """A Linux guest (the guest kit with a drive, a NIC on a TAP, a vsock and an entropy
    device) goes on in a new VMM: its counter continues, its shell answers, it pings the
    host through another TAP (network_overrides), what it writes to the drive after the
    restore is in the host's file after exit, and its vsock listener is reached through
    the socket vsock_override names. Connections do not survive a restore (the guest gets
    TRANSPORT_RESET, as in Firecracker), but the guest's listener does: the host connects
    again and is echoed."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"VOLT-DISK-CONTENT" + b"\0" * (1 << 20))
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "setup.sh").write_text(GUEST_SETUP)
    (tmp_path / "echo.c").write_text(VSOCK_ECHO_C)
    cc = subprocess.run(["gcc", "-static", "-O2", "-o", str(extra / "vsock_echo"),
                         str(tmp_path / "echo.c")], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    initrd = initrd_with(guest_kit["initrd"], extra, ["setup.sh", "vsock_echo"],
                         tmp_path / "initrd.cpio")

    def start(*args):
        sock = tmp_path / f"api-{time.monotonic_ns()}.sock"
        p = NetnsVoltIn(netlab.ns, ["--api-sock", sock, *EXTRA, *args],
                        tmp_path / f"volt-{time.monotonic_ns()}.log")
        netlab.procs.append(p)
        wait_for_socket(sock, p.proc)
        return p, ApiClient(sock)

    p, api = start("--snapshot-dir", snapdir)
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}) == (204, None)
    args = ('console=ttyS0 reboot=k panic=1 quiet clocksource=kvm-clock '
            'volt.cmd="sh /setup.sh"')
    assert api.put("/boot-source", {"kernel_image_path": str(guest_kit["vmlinux"]),
                                    "initrd_path": str(initrd),
                                    "boot_args": args}) == (204, None)
    assert api.put("/drives/data", {"drive_id": "data", "path_on_host": str(disk),
                                    "is_root_device": False,
                                    "is_read_only": False}) == (204, None)
    assert api.put("/network-interfaces/eth0", {"iface_id": "eth0",
                                                "host_dev_name": netlab.tap}) == (204, None)
    assert api.put("/entropy", {}) == (204, None)
    uds = tmp_path / "v.sock"
    assert api.put("/vsock", {"guest_cid": 3, "uds_path": str(uds)}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("NET-UP", BOOT_TIMEOUT)
    p.wait_for("VSOCK-ECHO-LISTENING", 60)
    s, back = vsock_echo(uds, b"before the snapshot")
    assert back == b"before the snapshot"
    time.sleep(1)
    type_and_see(p, "(i=0; while true; do i=$((i+1)); echo TICK-$i; sleep 1; done) &\n", 120)
    p.wait_for("TICK-2", 120)
    state, mem = take(api, snapdir)
    before = max(int(n) for n in re.findall(r"TICK-(\d+)", p.output()))
    p.kill()
    s.close()

    # Another TAP, the same network: the interface follows network_overrides.
    tap2 = netlab.tap + "b"
    netlab.ip("ip", "link", "del", netlab.tap)
    netlab.ip("ip", "tuntap", "add", "dev", tap2, "mode", "tap")
    netlab.ip("ip", "addr", "add", f"{HOST_IP}/24", "dev", tap2)
    netlab.ip("ip", "link", "set", tap2, "up")
    q, qapi = start()
    uds2 = tmp_path / "v2.sock"
    t0 = time.monotonic()
    assert load(qapi, state, mem, network_overrides=[
        {"iface_id": "eth0", "host_dev_name": tap2}],
        vsock_override={"uds_path": str(uds2)}) == (204, None)
    # GET /vm/config shows the snapshotted VM's configuration (the API's record), with
    # the overrides, as Firecracker's test_get_full_config_after_restoring_snapshot.
    cfg = qapi.get("/vm/config")[1]
    assert cfg["boot-source"] == {"kernel_image_path": str(guest_kit["vmlinux"]),
                                  "initrd_path": str(initrd), "boot_args": args}, cfg
    assert [(d["drive_id"], d["is_root_device"], d["path_on_host"])
            for d in cfg["drives"]] == [("data", False, str(disk))], cfg
    assert cfg["network-interfaces"][0]["host_dev_name"] == tap2, cfg
    assert cfg["vsock"] == {"guest_cid": 3, "uds_path": str(uds2)}, cfg
    q.proc.stdin.write(b"echo POST-$((6*7))\n")
    q.proc.stdin.flush()
    q.wait_for("POST-42", 120)
    print(f"\nrestore to a shell answer: {time.monotonic() - t0:.2f} s")
    deadline = time.monotonic() + 60
    while not re.search(rf"TICK-{before + 1}\b", q.output()):
        assert time.monotonic() < deadline, "the counter did not go on:\n" + q.output()[-2000:]
        time.sleep(0.2)
    ticks = [int(n) for n in re.findall(r"TICK-(\d+)", q.output())]
    assert min(ticks) > before - 2, (before, ticks[:5])  # it went on, it did not start over
    # The guest closes the connection it had (TRANSPORT_RESET) and accepts again.
    q.wait_for("VSOCK-ECHO-CLOSED", 120)
    s2, back = vsock_echo(uds2, b"after the restore")
    assert back == b"after the restore"
    s2.close()
    q.proc.stdin.write(f"ping -c 1 -w 20 {HOST_IP} >/dev/null && echo PING-OK; "
                       "echo AFTER-RESTORE | dd of=/dev/vda bs=512 seek=1 conv=notrunc,fsync "
                       "2>/dev/null; head -c 8 /dev/hwrng | wc -c; echo WROTE; "
                       "reboot -f\n".encode())
    q.proc.stdin.flush()
    q.wait_for("WROTE", 120)
    assert "PING-OK" in q.output(), q.output()[-2000:]
    assert q.wait_exit(120) == 0, q.output()[-2000:]
    data = disk.read_bytes()
    assert data.startswith(b"VOLT-DISK-CONTENT")
    assert data[512:512 + 13] == b"AFTER-RESTORE", data[512:560]


VSOCK_ECHO_C = r"""
#include <sys/socket.h> /* before vm_sockets.h: newer uapi headers use struct sockaddr */
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <unistd.h>

/* Echoes every connection to vsock port 5000, one after the other, for ever. */
int main(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = 5000 };
	int ls = socket(AF_VSOCK, SOCK_STREAM, 0);
	char buf[4096];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4))
		return 1;
	printf("VSOCK-ECHO-LISTENING\n");
	for (;;) {
		int s = accept(ls, NULL, NULL);
		ssize_t n;

		if (s < 0)
			continue;
		while ((n = read(s, buf, sizeof(buf))) > 0)
			if (write(s, buf, (size_t)n) != n)
				break;
		printf("VSOCK-ECHO-CLOSED %zd\n", n);
		close(s);
	}
}
"""


def vsock_echo(uds, data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(str(uds))
    s.sendall(b"CONNECT 5000\n")
    line = b""
    while not line.endswith(b"\n"):
        ch = s.recv(1)
        assert ch, "volt closed the connection: " + repr(line)
        line += ch
    assert line.startswith(b"OK "), line
    s.sendall(data)
    back = b""
    while len(back) < len(data):
        chunk = s.recv(4096)
        assert chunk, back
        back += chunk
    return s, back
