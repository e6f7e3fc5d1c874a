"""No file may hang volt (issue #10, section 2).

Every path volt opens (kernel, initrd, drive, config file) is opened without
blocking and checked for what it is: a FIFO, a character device (/dev/zero),
a directory or a socket is refused at once with a message naming the path
and saying what it is. Over the API the refusal is a 400 and the VMM keeps
answering requests and ending on SIGTERM. No Linux guest boots here: the tiny
hello guest or none at all. A hang is a failure: every wait has a timeout.
"""
import json
import os
import signal
import socket
import subprocess

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, VOLT

QUICK = 15  # seconds: volt refuses these at once; a hang runs into this


def run(*args):
    try:
        return subprocess.run([str(VOLT), *map(str, args)], capture_output=True, text=True,
                              timeout=QUICK, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"volt {' '.join(map(str, args))} hung (no answer in {QUICK} s)")


@pytest.fixture
def hostile(tmp_path):
    """name -> (path, words the message must carry)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link-to-fifo"
    link.symlink_to(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(sock_path))
    yield {
        "fifo": (fifo, "is a FIFO"),
        "symlink": (link, "is a FIFO"),
        "dev_zero": ("/dev/zero", "is a character device"),
        "directory": (tmp_path, "is a directory"),
        "socket": (sock_path, "is a socket"),
    }
    sock.close()


KINDS = ["fifo", "symlink", "dev_zero", "directory", "socket"]


def check_refused(r, path, words):
    assert r.returncode != 0, r.stderr
    assert f"'{path}'" in r.stderr and words in r.stderr, r.stderr
    assert "error:" in r.stderr, r.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_run_kernel(hostile, kind, kvm, volt_bin):
    path, words = hostile[kind]
    check_refused(run("run", "--kernel", path), path, words)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_run_initrd_and_drive(hostile, kind, kvm, volt_bin):
    path, words = hostile[kind]
    check_refused(run("run", "--kernel", GUESTS / "hello", "--initrd", path), path, words)
    check_refused(run("run", "--kernel", GUESTS / "hello", "--drive", f"path={path}"), path,
                  words)


@pytest.mark.parametrize("kind", KINDS)
def test_run_profile_out(hostile, kind, volt_bin):
    """--profile-out takes a regular file: a FIFO nobody reads blocked the open for ever."""
    path, words = hostile[kind]
    check_refused(run("run", "--kernel", GUESTS / "hello", "--profile", "--profile-out", path),
                  path, words)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_config_file(hostile, kind, tmp_path, kvm, volt_bin):
    path, words = hostile[kind]
    check_refused(run("--config-file", path, "--no-api"), path, words)
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({"boot-source": {"kernel_image_path": str(path)}}))
    check_refused(run("--config-file", cfg, "--no-api"), path, words)


def test_api_fifo_kernel_and_drive(hostile, vm, tmp_path, kvm, volt_bin):
    """InstanceStart with a FIFO kernel: a 400 naming it; the VMM still answers and
    ends on SIGTERM (it used to block its main thread in open())."""
    fifo, _ = hostile["fifo"]
    for n, (key, config) in enumerate([
            ("kernel", {"/boot-source": {"kernel_image_path": str(fifo)}}),
            ("drive", {"/boot-source": {"kernel_image_path": str(GUESTS / "hello")},
                       "/drives/rootfs": {"drive_id": "rootfs", "path_on_host": str(fifo),
                                          "is_root_device": True}})]):
        sock = tmp_path / f"api{n}.sock"
        p = vm("--api-sock", sock)
        wait_for_socket(sock, p.proc)
        api = ApiClient(sock, timeout=QUICK)
        for url, body in config.items():
            assert api.put(url, body) == (204, None)
        try:
            status, body = api.put("/actions", {"action_type": "InstanceStart"})
        except (TimeoutError, socket.timeout):
            pytest.fail(f"InstanceStart with a FIFO {key} hung")
        assert status == 400, body
        msg = body["fault_message"]
        assert f"'{fifo}'" in msg and "is a FIFO" in msg and key in msg, msg
        assert "--drive" not in msg, msg
        status, info = api.get("/")
        assert status == 200, info
        p.proc.send_signal(signal.SIGTERM)
        p.wait_exit(QUICK)


def test_api_logger_and_metrics(hostile, vm, tmp_path, volt_bin):
    """A FIFO nobody reads is a fine log or metrics file (never blocks), so is a
    character device (/dev/null, /dev/zero: Firecracker opens any path; a terminal is
    written without blocking); a directory is refused with what it is, not 'Invalid
    argument'."""
    fifo, _ = hostile["fifo"]
    sock = tmp_path / "api.sock"
    p = vm("--api-sock", sock)
    wait_for_socket(sock, p.proc)
    api = ApiClient(sock, timeout=QUICK)
    status, body = api.put("/logger", {"log_path": str(tmp_path)})
    assert status == 400, body
    msg = body["fault_message"]
    assert "log_path" in msg and f"'{tmp_path}'" in msg and "is a directory" in msg, msg
    status, body = api.put("/metrics", {"metrics_path": str(tmp_path)})
    assert status == 400 and "is a directory" in body["fault_message"], body
    for dev in ("/dev/null", "/dev/zero"):
        assert api.put("/logger", {"log_path": dev, "level": "Debug"}) == (204, None)
    # Metrics are set once (Firecracker's rule): the FIFO case is the logger's below.
    assert api.put("/metrics", {"metrics_path": "/dev/zero"}) == (204, None)
    assert api.put("/logger", {"log_path": str(fifo), "level": "Debug"}) == (204, None)
    assert api.get("/")[0] == 200
    p.proc.send_signal(signal.SIGTERM)
    p.wait_exit(QUICK)


def test_log_to_a_terminal_nobody_reads(vm, tmp_path, volt_bin):
    """A terminal as the log (--log-path /dev/pts/N, or /dev/stdout on one) is written
    without blocking: once nobody drains it, lines are lost and every request is still
    answered (a blocking write would stall the thread that logs)."""
    master, slave = os.openpty()
    try:
        sock = tmp_path / "api.sock"
        p = vm("--api-sock", sock, "--log-path", os.ttyname(slave), "--level", "Debug")
        wait_for_socket(sock, p.proc)
        api = ApiClient(sock, timeout=QUICK)
        # Each request logs lines at Debug; a pty holds a few KiB.
        for _ in range(300):
            assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}) == \
                (204, None)
        assert api.get("/")[0] == 200
        p.proc.send_signal(signal.SIGTERM)
        p.wait_exit(QUICK)
    finally:
        os.close(master)
        os.close(slave)


def test_api_patch_drive_to_hostile_files(hostile, vm, tmp_path, kvm, volt_bin):
    """PATCH /drives/{id} path_on_host after boot (the running drive opens the file):
    each hostile file is a 400 naming it, at once, and the drive keeps its file.
    Landlock off, so that volt's own checks answer (seccomp stays in kill mode)."""
    drive = tmp_path / "drive.img"
    drive.write_bytes(bytes(65536))
    sock = tmp_path / "api.sock"
    p = vm("--api-sock", sock, "--landlock", "off", "--seccomp", "kill")
    wait_for_socket(sock, p.proc)
    api = ApiClient(sock, timeout=QUICK)
    for url, body in (("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}),
                      ("/drives/d", {"drive_id": "d", "path_on_host": str(drive),
                                     "is_root_device": False, "is_read_only": False}),
                      ("/actions", {"action_type": "InstanceStart"})):
        assert api.put(url, body) == (204, None), url
    for kind in KINDS:
        path, words = hostile[kind]
        try:
            status, body = api.patch("/drives/d", {"drive_id": "d", "path_on_host": str(path)})
        except (TimeoutError, socket.timeout):
            pytest.fail(f"PATCH /drives with a {kind} hung")
        assert status == 400, (kind, body)
        msg = body["fault_message"]
        assert f" {path} " in msg and words in msg, msg
        assert "Error manipulating the backing file" in msg, msg
    assert api.get("/vm/config")[1]["drives"][0]["path_on_host"] == str(drive)
    assert api.patch("/drives/d", {"drive_id": "d", "path_on_host": str(drive)}) == (204, None)
    assert p.proc.poll() is None, p.output()
    p.proc.send_signal(signal.SIGTERM)
    p.wait_exit(QUICK)
