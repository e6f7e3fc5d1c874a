"""As many virtio devices as the host has interrupt lines for, and one more (Firecracker's
test_max_devices.py, with the echo guest instead of Linux): every drive and interface is
accepted at PUT; InstanceStart starts them all while each has a line (17 with an I/O
APIC, 9 on a PVM host, whose guest runs without one) and fails with Firecracker's message
past that. The running VM's metrics line has a section of each device's own."""
import json
import re
import subprocess

import pytest

from api_client import wait_for_socket, ApiClient
from conftest import GUESTS, host_is_pvm, run_volt

GSI = "Could not allocate GSI: The requested resource is not available."
LINES = 9 if host_is_pvm() else 17


@pytest.fixture
def api(vm, tmp_path):
    """volt on an API socket, the echo guest as its kernel, a root drive (64 KiB)."""
    sock = tmp_path / "api.sock"
    p = vm("--api-sock", sock, "--id", "max-devices", stdin=subprocess.PIPE)
    wait_for_socket(sock, p.proc)
    a = ApiClient(sock)
    a.proc = p
    assert a.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo"),
                                  "boot_args": "console=ttyS0"}) == (204, None)
    add_drive(a, tmp_path, "rootfs", root=True)
    return a


def add_drive(api, tmp_path, drive_id, root=False):
    f = tmp_path / f"{drive_id}.img"
    f.write_bytes(b"\0" * 65536)
    assert api.put(f"/drives/{drive_id}", {"drive_id": drive_id, "path_on_host": str(f),
                                          "is_root_device": root,
                                          "is_read_only": False}) == (204, None)


def tap_name(tmp_path, i):
    """A TAP of this test's own (volt makes it at InstanceStart)."""
    return f"md{abs(hash(str(tmp_path))) % 100000}_{i}"[:15]


def add_iface(api, tmp_path, i):
    assert api.put(f"/network-interfaces/eth{i}", {
        "iface_id": f"eth{i}", "host_dev_name": tap_name(tmp_path, i),
        "guest_mac": f"06:00:00:00:01:{i:02x}"}) == (204, None)


def metrics_sections(api, tmp_path):
    path = tmp_path / "metrics.ndjson"
    assert api.put("/metrics", {"metrics_path": str(path)}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    assert api.get("/")[1]["state"] == "Running"
    assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
    lines = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    assert lines
    return lines[-1]


def refused_at_start(api):
    status, body = api.put("/actions", {"action_type": "InstanceStart"})
    assert status == 400, body
    msg = body["fault_message"]
    assert re.search(re.escape(GSI), msg), msg  # Firecracker's test's match=
    assert f"this host has {LINES} interrupt lines" in msg, msg
    assert api.proc.proc.poll() is None, "volt exited"
    return msg


def test_as_many_interfaces_as_lines_start(api, tmp_path):
    """Firecracker's shape: the root drive and interfaces, up to the host's lines; each
    interface has its net_<id> section (Firecracker's metrics validator wants them)."""
    for i in range(LINES - 1):
        add_iface(api, tmp_path, i)
    m = metrics_sections(api, tmp_path)
    assert "block_rootfs" in m
    for i in range(LINES - 1):
        assert f"net_eth{i}" in m, sorted(m)


def test_one_interface_too_many(api, tmp_path):
    for i in range(LINES):
        add_iface(api, tmp_path, i)
    msg = refused_at_start(api)
    assert f"{LINES + 1} virtio devices configured" in msg, msg


def test_as_many_drives_as_lines_start(api, tmp_path):
    """firecracker-containerd's shape: a drive per container, more than 8 of them."""
    for i in range(1, LINES):
        add_drive(api, tmp_path, f"ctr{i}")
    m = metrics_sections(api, tmp_path)
    for i in range(1, LINES):
        assert f"block_ctr{i}" in m, sorted(m)


def test_one_drive_too_many(api, tmp_path):
    for i in range(1, LINES + 1):
        add_drive(api, tmp_path, f"ctr{i}")
    refused_at_start(api)
    # refused for good, as a failed start is (the configuration stays as it was)
    status, body = api.put("/actions", {"action_type": "InstanceStart"})
    assert status == 400 and GSI in body["fault_message"], body


def test_distinct_ids_past_the_bound_refused(api, tmp_path):
    """A hostile client's many ids: refused with a 400 at volt's bound, volt unharmed."""
    f = tmp_path / "d.img"
    f.write_bytes(b"\0" * 4096)
    refused = 0
    for i in range(200):
        status, body = api.put(f"/drives/d{i}", {"drive_id": f"d{i}", "path_on_host": str(f),
                                                "is_root_device": False,
                                                "is_read_only": True})
        if status == 400:
            assert "would be more than 32 drives" in body["fault_message"], body
            refused += 1
        else:
            assert status == 204 and not refused, (i, body)
    assert refused == 200 - 31  # the root drive and 31 more
    assert len(api.get("/vm/config")[1]["drives"]) == 32
    assert api.proc.proc.poll() is None


def config_file(tmp_path, ndrives):
    """Firecracker's configuration file: the hello guest (prints, resets), ndrives."""
    drives = []
    for i in range(ndrives):
        f = tmp_path / f"c{i}.img"
        f.write_bytes(b"\0" * 4096)
        drives.append({"drive_id": f"c{i}", "path_on_host": str(f), "is_root_device": i == 0,
                       "is_read_only": True})
    cfg = tmp_path / f"vm-{ndrives}.json"
    cfg.write_text(json.dumps({"boot-source": {"kernel_image_path": str(GUESTS / "hello")},
                               "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
                               "drives": drives}))
    return cfg


def test_config_file_counts(vm, tmp_path):
    p = vm("--config-file", config_file(tmp_path, LINES), "--no-api")
    assert p.wait_exit(60) == 0, p.output()
    assert "Hello from the volt hello guest" in p.output()
    p = vm("--config-file", config_file(tmp_path, LINES + 1), "--no-api")
    assert p.wait_exit(60) != 0
    assert GSI in p.output(), p.output()
    p = vm("--config-file", config_file(tmp_path, 33), "--no-api")
    assert p.wait_exit(60) != 0
    assert "would be more than 32 drives" in p.output(), p.output()


def test_cli_counts(tmp_path, kvm):
    f = tmp_path / "d.img"
    f.write_bytes(b"\0" * 4096)

    def run(n):
        drives = [a for i in range(n) for a in ("--drive", f"path={f},ro,id=d{i}")]
        return run_volt("run", "--kernel", GUESTS / "hello", "--mem", "128", *drives,
                        timeout=60)

    r = run(LINES)
    assert r.returncode == 0, r.stderr
    r = run(LINES + 1)
    assert r.returncode != 0 and GSI in r.stderr, r.stderr
    r = run(33)
    assert r.returncode != 0 and "at most 32 drives" in r.stderr, r.stderr
