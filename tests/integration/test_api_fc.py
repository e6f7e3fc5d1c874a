"""Firecracker 1.x's answers through the real HTTP layer (issue #14): its
parser's messages for a GET with a body, an empty PUT/PATCH and an unknown
path, the `Deprecation: true` header, the files a PUT opens, and PUT /serial
(the echo test guest's banner lands in serial_out_path). Only the echo guest
boots (milliseconds)."""
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, VOLT, VoltProcess, start_api

NOT_BEFORE = "The requested operation is not supported before starting the microVM."
NOT_AFTER = "The requested operation is not supported after starting the microVM."


@pytest.fixture
def api(vm, tmp_path):
    sock = tmp_path / f"api-{time.monotonic_ns()}.sock"
    p = vm("--api-sock", sock, "--id", "fc")
    wait_for_socket(sock, p.proc)
    client = ApiClient(sock)
    client.proc = p
    return client


def raw(api, method, url, body=b"", headers=b""):
    """One raw request: (status line, headers lower-cased, body as JSON or None)."""
    req = (f"{method} {url} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
           f"Content-Length: {len(body)}\r\n").encode() + headers + b"\r\n" + body
    out = api.raw(req)
    head, _, payload = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, (json.loads(payload) if payload else None)


def fault_is(resp, msg, status=400):
    assert resp == (status, {"fault_message": msg}), resp


def test_parser_messages(api):
    s, _, body = raw(api, "GET", "/machine-config", b"{}")
    assert (s, body) == (400, {"fault_message": "GET request cannot have a body."})
    s, _, body = raw(api, "PUT", "/machine-config")
    assert (s, body) == (400, {"fault_message": "Empty PUT request."})
    s, _, body = raw(api, "PATCH", "/machine-config")
    assert (s, body) == (400, {"fault_message": "Empty PATCH request."})
    fault_is(api.patch("/machine-config", {}), "Empty PATCH request.")
    fault_is(api.get("/nope"), "Invalid request method and/or path: GET nope.")
    fault_is(api.put("/drives/a-b", {}),
             "API Resource IDs can only contain alphanumeric characters and underscores.")
    assert api.get("/machine-config/")[0] == 200
    fault_is(api.patch("/drives/a", {"drive_id": "a"}), NOT_BEFORE)
    fault_is(api.put("/actions", {"action_type": "FlushMetrics"}), NOT_BEFORE)
    fault_is(api.request("DELETE", "/drives/a"), NOT_BEFORE)
    # Firecracker opens a pmem device's file at InstanceStart, not at the PUT.
    assert api.put("/pmem/p", {"id": "p", "path_on_host": "/x"}) == (204, None)
    fault_is(api.get("/hotplug/memory"), NOT_BEFORE)


def test_deprecation_header(api, tmp_path):
    body = json.dumps({"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "None"}).encode()
    s, hdrs, _ = raw(api, "PUT", "/machine-config", body)
    assert s == 204 and hdrs.get("deprecation") == "true", hdrs
    s, hdrs, _ = raw(api, "PATCH", "/machine-config", b'{"cpu_template": "None"}')
    assert s == 204 and hdrs.get("deprecation") == "true", hdrs
    s, hdrs, _ = raw(api, "PATCH", "/machine-config", b'{"vcpu_count": 1}')
    assert s == 204 and "deprecation" not in hdrs, hdrs
    body = json.dumps({"vsock_id": "v", "guest_cid": 3,
                       "uds_path": str(tmp_path / "v.sock")}).encode()
    s, hdrs, _ = raw(api, "PUT", "/vsock", body)
    assert s == 204 and hdrs.get("deprecation") == "true", hdrs


def test_files_opened_at_put(api, tmp_path):
    fault_is(api.put("/boot-source", {"kernel_image_path": str(tmp_path / "missing")}),
             "Boot source error: The kernel file cannot be opened: No such file or directory "
             "(os error 2)")
    fault_is(api.put("/drives/d", {"drive_id": "d", "path_on_host": "foo.bar",
                                   "is_root_device": False}),
             "Drive config error: Unable to create the virtio block device: Virtio backend "
             "error: Error manipulating the backing file: No such file or directory (os error "
             "2) foo.bar")
    fault_is(api.put("/vsock", {"guest_cid": 3, "uds_path": str(tmp_path / "no" / "v.sock")}),
             "Vsock config error: Cannot create backend for vsock device: Error binding to "
             "the host-side Unix socket: No such file or directory (os error 2)")
    assert api.put("/drives/d", {"drive_id": "d", "path_on_host": "/dev/null",
                                 "is_root_device": False, "is_read_only": True,
                                 "rate_limiter": {}}) == (204, None)


def test_tap_opened_at_put(api):
    """Firecracker opens an interface's TAP at PUT (its test_net.py's
    test_multi_queue_unsupported expects the refusal there): an interface that is no TAP
    is refused with its words, and the interface that had the id is gone, as Firecracker's
    NetBuilder drops it before it opens the new TAP."""
    assert api.put("/network-interfaces/eth0",
                   {"iface_id": "eth0", "host_dev_name": "vtapput0"}) == (204, None)
    fault_is(api.put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "lo"}),
             "Network config error: Could not create the network device: Open tap device "
             "failed: Error while creating ifreq structure: Invalid argument (os error 22). "
             "Invalid TUN/TAP Backend provided by lo. Check our documentation on setting up "
             "the network devices.")
    assert api.get("/vm/config")[1]["network-interfaces"] == []


def test_serial_out_path(api, tmp_path):
    out = tmp_path / "serial.out"
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    assert api.put("/serial", {"serial_out_path": str(out)}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and "echo guest ready" in out.read_text(errors="replace"):
            break
        time.sleep(0.05)
    assert "echo guest ready" in out.read_text(errors="replace"), api.proc.output()
    assert "echo guest ready" not in api.proc.output()
    fault_is(api.put("/serial", {"serial_out_path": str(out)}), NOT_AFTER)
    fault_is(api.patch("/drives/d", {"drive_id": "d"}),
             "Drive config error: Unable to patch the block device: Failed perform action on "
             "device: Device not found Please verify the request arguments.")
    fault_is(api.put("/network-interfaces/n", {"iface_id": "n", "host_dev_name": "t"}),
             "PCI is not enabled")
    fault_is(api.get("/hotplug/memory"),
             "Internal VMM error: Failed perform action on device: Device not found")
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)


def wait_in_file(path, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.05)
    return False


def snapshot_echo_guest(vm, tmp_path, before=None):
    """The echo guest booted through the API (before(api) runs first), paused and
    snapshotted to tmp_path/snaps/s.{state,mem}; returns (VoltProcess, ApiClient, snaps)."""
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    sock = tmp_path / "a.sock"
    p = vm("--api-sock", sock, "--snapshot-dir", snaps, stdin=subprocess.PIPE)
    wait_for_socket(sock, p.proc)
    a = ApiClient(sock)
    if before:
        before(a)
    assert a.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    assert a.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("echo guest ready", 60)
    assert a.patch("/vm", {"state": "Paused"}) == (204, None)
    assert a.put("/snapshot/create", {"snapshot_path": str(snaps / "s.state"),
                                      "mem_file_path": str(snaps / "s.mem")}) == (204, None)
    return p, a, snaps


def test_serial_out_path_of_a_restored_vm(vm, tmp_path):
    """PUT /serial before PUT /snapshot/load: the restored guest writes there."""
    p, _, snaps = snapshot_echo_guest(vm, tmp_path)
    p.kill()

    out = tmp_path / "restored.out"
    sock = tmp_path / "b.sock"
    q = vm("--api-sock", sock, stdin=subprocess.PIPE)
    wait_for_socket(sock, q.proc)
    b = ApiClient(sock)
    assert b.put("/serial", {"serial_out_path": str(out)}) == (204, None)
    assert b.put("/snapshot/load", {"snapshot_path": str(snaps / "s.state"),
                                    "mem_backend": {"backend_type": "File",
                                                    "backend_path": str(snaps / "s.mem")},
                                    "resume_vm": True}) == (204, None)
    q.proc.stdin.write(b"typed-after-restore\n")
    q.proc.stdin.flush()
    assert wait_in_file(out, "typed-after-restore"), q.output()


HINT_OFF = "Balloon update error: Balloon: Attempting to use hinting when not enabled"
NO_DRIVER = "Balloon update error: Balloon: Device not activated yet."
NO_BALLOON = "Balloon update error: Failed perform action on device: Device not found"


@pytest.mark.parametrize("balloon, start, status", [
    # The echo guest has no virtio driver: the device never gets DRIVER_OK.
    ({"amount_mib": 0, "deflate_on_oom": False, "free_page_hinting": True,
      "free_page_reporting": True},
     NO_DRIVER, (200, {"host_cmd": 0, "guest_cmd": None})),
    ({"amount_mib": 1, "deflate_on_oom": False, "free_page_reporting": True}, HINT_OFF,
     (400, {"fault_message": HINT_OFF})),
    (None, NO_BALLOON, (400, {"fault_message": NO_BALLOON})),
])
def test_balloon_hinting_answers(api, balloon, start, status):
    """/balloon/hinting/*: refused before boot; after it, Firecracker's answers for a
    balloon with hinting that no driver started, one without hinting, and none."""
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    if balloon:
        assert api.put("/balloon", balloon) == (204, None)
        full = {"deflate_on_oom": False, "stats_polling_interval_s": 0,
                "free_page_hinting": False, "free_page_reporting": False, **balloon}
        assert api.get("/balloon") == (200, full)
    fault_is(api.patch("/balloon/hinting/start", {}), NOT_BEFORE)
    fault_is(api.patch("/balloon/hinting/stop", {}), NOT_BEFORE)
    fault_is(api.get("/balloon/hinting/status"), NOT_BEFORE)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    # start's body is optional (no Content-Length body at all), stop's is not read
    assert raw(api, "PATCH", "/balloon/hinting/start")[2] == {"fault_message": start}
    fault_is(api.patch("/balloon/hinting/start", {"acknowledge_on_stop": False}), start)
    assert raw(api, "PATCH", "/balloon/hinting/stop", b"not json")[2] == {"fault_message": start}
    assert api.get("/balloon/hinting/status") == status
    fault_is(api.patch("/balloon/hinting/start", {"acknowledge_on_stop": "yes"}),
             'An error occurred when deserializing the json body of a request: invalid type: '
             'string "yes", expected a boolean at line 1 column 29.')
    fault_is(api.patch("/balloon/hinting/go", {}), "Unrecognized PATCH request path `/hinting/go`.")
    fault_is(api.get("/balloon/hinting"), "Unrecognized GET request path `/hinting/`.")


def test_request_metrics_and_latencies(vm, tmp_path):
    """Firecracker's get/put_api_requests counters (GET / too, which the API thread answers
    itself) and latencies_us (the whole request and the VMM's part) in the metrics line."""
    metrics = tmp_path / "metrics.json"

    def before(a):
        assert a.put("/metrics", {"metrics_path": str(metrics)}) == (204, None)
        for _ in range(3):
            assert a.get("/")[0] == 200
        assert a.get("/version")[0] == 200
        assert a.put("/machine-config", {"vcpu_count": 0, "mem_size_mib": 128})[0] == 400

    p, a, _ = snapshot_echo_guest(vm, tmp_path, before)
    assert a.patch("/vm", {"state": "Resumed"}) == (204, None)
    assert a.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
    lines = [json.loads(l) for l in metrics.read_text().splitlines()]

    def total(section, field):  # counters are deltas since the previous line
        return sum(l[section][field] for l in lines)

    assert total("get_api_requests", "instance_info_count") == 3
    assert total("get_api_requests", "vmm_version_count") == 1
    assert total("put_api_requests", "machine_cfg_count") == 1
    assert total("put_api_requests", "machine_cfg_fails") == 1
    assert total("put_api_requests", "boot_source_count") == 1
    assert total("put_api_requests", "boot_source_fails") == 0
    assert total("put_api_requests", "actions_count") >= 1  # InstanceStart
    lat = lines[-1]["latencies_us"]  # gauges: the last operation's
    for op in ("pause_vm", "resume_vm", "full_create_snapshot"):
        assert 0 < lat[f"vmm_{op}"] <= lat[op], lat
    assert lat["diff_create_snapshot"] == lat["load_snapshot"] == 0, lat
    p.kill()


FC_METRICS_FIELDS = [l for l in (Path(__file__).parent / "data" / "fc_metrics_fields.txt")
                     .read_text().splitlines() if l and not l.startswith("#")]


def leaves(obj, prefix=""):
    """The metrics line's numbers as {"section.field" or "section.agg.field": value}."""
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def assert_firecracker_metrics(line, props=None, instance_id=None):
    """What Firecracker's tests/host_tools/fcmetrics.py (validate_fc_metrics) checks, its
    jsonschema's "additionalProperties": false included: every field, nothing else."""
    line = dict(line)
    assert abs(time.time() * 1000 - line.pop("utc_timestamp_ms")) < 1000
    assert line.pop("id", None) == instance_id
    assert line.pop("properties", None) == props
    # Per-device sections (Firecracker >= 1.6): its schema gives "block_*" the block
    # fields and "net_*" the net fields; each is checked as such, then left out.
    for name in [k for k in line if k.startswith(("block_", "net_"))]:
        kind = name.split("_", 1)[0]
        want = sorted(f[len(kind) + 1:] for f in FC_METRICS_FIELDS if f.startswith(kind + "."))
        dev = leaves(line.pop(name))
        assert sorted(dev) == want, name
        assert all(isinstance(v, int) and v >= 0 for v in dev.values()), (name, dev)
    got = leaves(line)
    assert sorted(set(FC_METRICS_FIELDS) - set(got)) == [], "missing"
    assert sorted(set(got) - set(FC_METRICS_FIELDS)) == [], "not Firecracker's"
    bad = {k: v for k, v in got.items() if not isinstance(v, int) or v < 0}
    assert not bad, bad
    return got


def test_metrics_line_is_exactly_firecrackers(api, tmp_path):
    """A real volt's line, with devices configured and the echo guest running, has exactly
    Firecracker's fields (its own strict validator's list), the optional "id" and
    "properties" of PUT /metrics, exit latency aggregates that add up, and SIGHUP in
    signals.sighup of the last line."""
    metrics = tmp_path / "metrics.json"
    props = {"customer_id": "1234", "bundle": "fn-abc"}
    disk = tmp_path / "d.img"
    disk.write_bytes(b"\0" * 65536)
    assert api.put("/metrics", {"metrics_path": str(metrics), "emit_id": True,
                                "properties": props}) == (204, None)
    for url, body in (("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}),
                      ("/drives/d", {"drive_id": "d", "path_on_host": str(disk),
                                     "is_root_device": False, "is_read_only": True}),
                      ("/vsock", {"guest_cid": 3, "uds_path": str(tmp_path / "v.sock")}),
                      ("/entropy", {}),
                      ("/balloon", {"amount_mib": 0, "deflate_on_oom": False}),
                      ("/actions", {"action_type": "InstanceStart"})):
        assert api.put(url, body) == (204, None), url
    api.proc.wait_for("echo guest ready", 60)
    assert api.get("/vm/config")[1]["metrics"] is None  # Firecracker shows none
    assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
    lines = [json.loads(text) for text in metrics.read_text().splitlines()]
    line = lines[-1]
    # The one drive's own section counts what the kind's does.
    assert line["block_d"] == line["block"], (line["block_d"], line["block"])
    assert not [k for k in line if k.startswith("block_") and k != "block_d"]
    got = assert_firecracker_metrics(line, props, "fc")
    # Counters are deltas since the line before, and InstanceStart writes a line of its own
    # that the guest's output may already be in: the lines add up to the guest's output.
    for section, counter in (("vcpu", "exit_io_out"), ("uart", "write_count")):
        assert sum(each[section][counter] for each in lines) > 0, (section, counter, lines)
    # As in Firecracker, min_us and max_us are kept across lines and sum_us is a delta: on
    # a slow host every exit may be in InstanceStart's line, and none in the last.
    agg = {k: got[f"vcpu.exit_io_out_agg.{k}"] for k in ("min_us", "max_us")}
    agg["sum_us"] = sum(each["vcpu"]["exit_io_out_agg"]["sum_us"] for each in lines)
    assert agg["min_us"] <= agg["max_us"] <= agg["sum_us"], agg
    assert got["signals.sighup"] == 0
    api.proc.proc.send_signal(signal.SIGHUP)
    api.proc.wait_exit(30)
    last = json.loads(metrics.read_text().splitlines()[-1])
    assert assert_firecracker_metrics(last, props, "fc")["signals.sighup"] == 1
    assert "Guest-boot-time" not in api.proc.output()  # only with --boot-timer


def test_metrics_sections_per_device(api, tmp_path):
    """Firecracker's per-device sections: "block_<drive_id>" for each drive and
    "net_<iface_id>" for each interface, the kind's fields counting that device alone,
    their sum the kind's section."""
    metrics = tmp_path / "metrics.json"
    tap = f"vpm{os.getpid() % 100000}"
    assert api.put("/metrics", {"metrics_path": str(metrics)}) == (204, None)
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    for i in ("a", "b"):
        disk = tmp_path / f"{i}.img"
        disk.write_bytes(b"\0" * 65536)
        assert api.put(f"/drives/{i}", {"drive_id": i, "path_on_host": str(disk),
                                        "is_root_device": False}) == (204, None)
    status, _ = api.put("/network-interfaces/eth_0", {"iface_id": "eth_0",
                                                      "host_dev_name": tap})
    if status != 204:
        pytest.skip("no TAP device can be made here")
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    api.proc.wait_for("echo guest ready", 60)
    assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
    line = json.loads(metrics.read_text().splitlines()[-1])
    assert sorted(k for k in line if k.startswith(("block_", "net_"))) == \
        ["block_a", "block_b", "net_eth_0"]
    assert line["net_eth_0"] == line["net"]
    assert {k: line["block_a"][k] + line["block_b"][k] for k in line["block"]
            if not isinstance(line["block"][k], dict)} == \
        {k: v for k, v in line["block"].items() if not isinstance(v, dict)}
    assert_firecracker_metrics(line)


def test_serial_rate_limiter(api, tmp_path):
    """Firecracker's PUT /serial rate_limiter (a token bucket of output bytes): what the
    bucket cannot pay for is dropped, never waited for, and counted in
    uart.rate_limiter_dropped_bytes."""
    out, metrics = tmp_path / "serial.out", tmp_path / "metrics.json"
    assert api.put("/metrics", {"metrics_path": str(metrics)}) == (204, None)
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    # 6 bytes now, then one an hour: "echo g" of the banner, the rest dropped.
    bucket = {"size": 1, "one_time_burst": 5, "refill_time": 3600 * 1000}
    assert api.put("/serial", {"serial_out_path": str(out), "rate_limiter": bucket}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    dropped, deadline = 0, time.monotonic() + 60
    while dropped < len("uest ready\n") and time.monotonic() < deadline:
        assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
        dropped = sum(json.loads(l)["uart"]["rate_limiter_dropped_bytes"]
                      for l in metrics.read_text().splitlines())
        time.sleep(0.05)
    assert dropped == len("uest ready\n"), (dropped, api.proc.output())
    assert out.read_bytes() == b"echo g"
    assert api.get("/")[1]["state"] == "Running"


def test_cpu_template_of_the_other_vendor_fails_instance_start(api):
    """test_cpu_features_x86_64: Firecracker takes a static template of the other
    vendor at PUT and refuses InstanceStart; volt the same, with the reason."""
    amd = "AuthenticAMD" in Path("/proc/cpuinfo").read_text()
    other = "C3" if amd else "T2A"
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128,
                                       "cpu_template": other}) == (204, None)
    assert api.get("/machine-config")[1]["cpu_template"] == other
    status, body = api.put("/actions", {"action_type": "InstanceStart"})
    assert status == 400, body
    assert "CPU vendor mismatched between actual CPU and CPU template." in body["fault_message"]
    assert api.get("/")[1]["state"] == "Not started"



def ram_advised_huge(pid, mib):
    """Whether the mapping of the guest's mib MiB of RAM has VM_HUGEPAGE ("hg")."""
    size, flags = None, {}
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if line.startswith("Size:"):
            size = int(line.split()[1])
        elif line.startswith("VmFlags:"):
            flags[size] = flags.get(size, False) or " hg" in line
    assert mib * 1024 in flags, f"no {mib} MiB mapping in /proc/{pid}/smaps"
    return flags[mib * 1024]


@pytest.mark.parametrize("huge", ["None", "Transparent"])
def test_huge_pages_transparent(api, huge):
    """test_huge_pages.py: huge_pages "Transparent" (Firecracker madvises the guest's RAM
    MADV_HUGEPAGE) and "None" (no advice); GET /machine-config says which. Its odd sizes
    are refused with Firecracker's words, and a PATCH keeps it."""
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    fault_is(api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 129,
                                         "huge_pages": "Transparent"}),
             "Machine config error: The memory size (MiB) is either 0, or not a multiple of "
             "the configured page size.")
    assert api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 128,
                                       "track_dirty_pages": True,
                                       "huge_pages": huge}) == (204, None)
    assert api.patch("/machine-config", {"vcpu_count": 1}) == (204, None)
    # Firecracker's MachineConfig::update keeps what a PATCH leaves out
    assert api.get("/machine-config") == (200, {
        "vcpu_count": 1, "mem_size_mib": 128, "smt": False, "track_dirty_pages": True,
        "huge_pages": huge})
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    assert ram_advised_huge(api.proc.proc.pid, 128) == (huge == "Transparent")
    assert api.get("/vm/config")[1]["machine-config"]["huge_pages"] == huge

# --- AUDIT2.md: Firecracker's command-line, signal and log tests (test_cmd_line_start.py,
# test_cmd_line_parameters.py, test_signals.py, test_shut_down.py) against volt run as
# `firecracker`. Each test states what Firecracker's test (or its framework) expects; they
# fail until volt does the same. Only the echo and hello guests boot (milliseconds).

def fc_bin(tmp_path):
    """volt linked under the name firecracker (its Firecracker front end)."""
    link = tmp_path / "firecracker"
    if not link.exists():
        link.symlink_to(VOLT)
    return link


def fc_config(tmp_path, guest, machine=None):
    """A Firecracker configuration file (tests/framework/vm_config.json's shape)."""
    rootfs = tmp_path / "rootfs.ext4"
    rootfs.write_bytes(b"\0" * 65536)
    cfg = {"boot-source": {"kernel_image_path": str(GUESTS / guest),
                           "boot_args": "console=ttyS0 reboot=k panic=1"},
           "drives": [{"drive_id": "rootfs", "path_on_host": str(rootfs),
                       "is_root_device": True, "is_read_only": True}],
           "machine-config": machine or {"vcpu_count": 2, "mem_size_mib": 128, "smt": False,
                                         "track_dirty_pages": False}}
    path = tmp_path / "vm_config.json"
    path.write_text(json.dumps(cfg))
    return path


def fc_log(tmp_path):
    """The log file Firecracker's framework passes (--log-path fc.log --level Debug)."""
    log = tmp_path / "fc.log"
    log.touch()
    return log, ["--log-path", log, "--level", "Debug"]


def wait_in_log(log, text, proc=None, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log:\n{log.read_text()[-3000:]}")


def test_fc_startup_log_lines(volt_bin, tmp_path):
    """microvm.py spawn() waits for `API server started.` in the log file (its default
    log_file=fc.log, level Debug), and for `Running Firecracker` with --no-api: every
    Firecracker test that spawns a microVM does. Firecracker's main thread says where it
    listens before the API thread says it started."""
    log, args = fc_log(tmp_path)
    sock = tmp_path / "fc.sock"
    p = VoltProcess(["--api-sock", sock, "--id", "fc", *args], tmp_path / "volt.log",
                    binary=fc_bin(tmp_path))
    try:
        wait_for_socket(sock, p.proc)
        wait_in_log(log, "API server started.")
        # The framework looks for `Running Firecracker` (Firecracker's line: `Running
        # Firecracker v<version>`); volt's version is the release it follows with volt's
        # own as semver build metadata (docs/api.md, "Versions").
        lines = log.read_text().splitlines()
        assert re.search(r"\] Running Firecracker v\d+\.\d+\.\d+\+volt\.\d", lines[0]), lines
        listening = [i for i, l in enumerate(lines)
                     if l.endswith(f'] Listening on API socket ("{sock}").')]
        started = [i for i, l in enumerate(lines) if l.endswith("] API server started.")]
        assert len(listening) == len(started) == 1 and listening < started, lines
    finally:
        p.kill()


def exit_code_in_log(text):
    """microvm.py get_exit_code(): its regex, searched anywhere in the log. volt's line
    names itself first: `volt as Firecracker exiting successfully. exit_code=0`."""
    match = re.search(r"Firecracker exiting (with error|successfully). exit_code=(\d+)", text)
    assert match and "volt as Firecracker exiting" in text, text
    return int(match.group(2))


def test_fc_config_file_errors_logged(vm, tmp_path):
    """test_config_bad_machine_config: a configuration file without vcpu_count logs
    `Configuration for VMM from one single json failed`; the framework's get_exit_code()
    reads `Firecracker exiting with error. exit_code=1`."""
    cfg = fc_config(tmp_path, "echo", {"mem_size_mib": 128, "smt": False})
    log, args = fc_log(tmp_path)
    p = vm("--config-file", cfg, "--no-api", *args, binary=fc_bin(tmp_path))
    assert p.wait_exit(30) == 1
    text = log.read_text()
    assert "Configuration for VMM from one single json failed" in text, text
    assert exit_code_in_log(text) == 1, text


def semver_key(v):
    """(major, minor, patch) of a semantic version; its build metadata is no part of its
    precedence (semver 2.0.0, item 10)."""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?", v)
    assert m, f"not a semantic version: {v!r}"
    return tuple(int(x) for x in m.groups())


def test_fc_version_as_tools_read_it(vm, tmp_path):
    """`firecracker --version`, GET /version and GET / give one semantic version, read the
    way tools built for Firecracker read it: its test framework (`^Firecracker v(.+)` on
    the first line, equal to GET /version), Kata Containers (the first line's second
    word without its `v`, compared with a minimum release: 1.x here). volt printed
    `volt 0.1.0`, which both refuse."""
    for binary in (fc_bin(tmp_path), VOLT):
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out
        first = out.stdout.partition("\n")[0]
        framework = re.match(r"^Firecracker v(.+)", first).group(1)
        kata = first.split(" ")[1].strip().removeprefix("v")
        assert framework == kata and semver_key(kata) >= (1, 0, 0), first
        assert "+volt." in kata, "volt names itself in the build metadata"
    api = start_api(vm, tmp_path)
    assert api.get("/version") == (200, {"firecracker_version": framework})
    status, info = api.get("/")
    assert status == 200 and info["vmm_version"] == framework
    jailer = tmp_path / "jailer"
    jailer.symlink_to(VOLT)
    out = subprocess.run([str(jailer), "--version"], capture_output=True, text=True, timeout=30)
    assert out.stdout.partition("\n")[0] == f"Jailer v{framework}", out


def test_fc_config_file_start_and_exit_logged(vm, tmp_path):
    """test_config_machine_config_params / test_config_start_no_api_exit: a guest that
    resets ends Firecracker with exit code 0, its log saying `Successfully started microvm
    that was configured from one single json` and `Firecracker exiting successfully.
    exit_code=0`."""
    cfg = fc_config(tmp_path, "hello")
    log, args = fc_log(tmp_path)
    p = vm("--config-file", cfg, "--no-api", *args, binary=fc_bin(tmp_path))
    assert p.wait_exit(30) == 0
    text = log.read_text()
    assert "Successfully started microvm that was configured from one single json" in text
    assert exit_code_in_log(text) == 0, text
    # test_shut_down.py / test_error_code.py: Vmm::stop's line once the guest ends it
    assert "] Vmm is stopping.\n" in text, text


METADATA_CASES = {  # test_cmd_line_start.py: --metadata file, its flags, the log's words
    "good": ({"latest": {"meta-data": {"ami-id": "abc"}}}, [],
             ["Successfully added metadata to mmds from file"]),
    "missing": (None, [], ["Unable to open or read from the mmds content file",
                           "No such file or directory"]),
    "invalid": ('{"latest": {"meta-data": "x"', [],
                ["MMDS error: metadata provided not valid json",
                 "EOF while parsing an object"]),
    "limit": ({"latest": {"meta-data": {"ami-id": "a" * 64}}}, ["--mmds-size-limit", "30"],
              ["Populating MMDS from file failed: The MMDS patch request doesn't fit."]),
}


@pytest.mark.parametrize("case", METADATA_CASES)
def test_fc_metadata_log_messages(vm, tmp_path, case):
    content, flags, messages = METADATA_CASES[case]
    md = tmp_path / "metadata.json"
    if content is not None:
        md.write_text(content if isinstance(content, str) else json.dumps(content))
    log, args = fc_log(tmp_path)
    sock = tmp_path / "fc.sock"
    p = vm("--api-sock", sock, "--id", "fc", "--metadata", md, *flags, *args,
           binary=fc_bin(tmp_path))
    if case == "good":
        wait_for_socket(sock, p.proc)
    else:
        p.wait_exit(30)
    for m in messages:
        wait_in_log(log, m)


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["--bogus", "--help"],
                                  ["--api-sock", "x", "-h", "--level"]])
def test_fc_help_wins(tmp_path, args):
    """arg_parser.rs: --help or -h anywhere (before `--`) skips every other argument:
    `Firecracker v<version>`, an empty line, the help; exit 0."""
    proc = subprocess.run([str(fc_bin(tmp_path)), *args], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc
    assert proc.stdout.startswith("Firecracker v1.16.0") and "\n\n" in proc.stdout[:40], \
        proc.stdout
    assert "--api-sock" in proc.stdout


def test_fc_version_wins_and_extra_args_are_ignored(tmp_path):
    """--version anywhere skips the other arguments; what follows `--` is arg_parser's
    extra arguments, which Firecracker's main ignores."""
    proc = subprocess.run([str(fc_bin(tmp_path)), "--bogus", "--version"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("Firecracker v1.16.0"), proc
    sock = tmp_path / "fc.sock"
    p = VoltProcess(["--api-sock", sock, "--", "extra", "--bogus"], tmp_path / "volt.log",
                    binary=fc_bin(tmp_path))
    try:
        wait_for_socket(sock, p.proc)
        assert ApiClient(sock).get("/")[0] == 200
    finally:
        p.kill()


def test_fc_api_socket_in_use(tmp_path):
    """test_api_server.py::test_api_socket_in_use: a socket bound at the API socket's path
    (not listening: as one left from a previous run) makes Firecracker fail with its fixed
    line naming the path. As firecracker, volt refuses it too (as volt, it replaces a
    stale one: docs/api.md); the socket stays."""
    sock = tmp_path / "firecracker.socket"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    try:
        proc = subprocess.run([str(fc_bin(tmp_path)), "--api-sock", str(sock)],
                              capture_output=True, text=True, timeout=30)
    finally:
        s.close()
    assert proc.returncode == 1, proc
    assert (f"Failed to open the API socket at: {sock}. Check that it is not already used."
            in proc.stderr), proc.stderr
    assert sock.is_socket()


@pytest.mark.parametrize("limit", [250, None])
def test_fc_payload_limit_answer_bytes(tmp_path, volt_bin, limit):
    """test_config_start_with_limit and test_config_with_default_limit compare Firecracker's
    whole answer byte for byte: micro_http's framing (`HTTP/1.1 400 `, no reason phrase;
    `Server: Firecracker API`; `Connection: keep-alive`) and its error body, a raw line
    break inside its JSON string. volt's answer is the same, and the connection goes on
    (the rest of the refused body is skipped). No VM: it runs without KVM."""
    sock = tmp_path / "fc.sock"
    args = ["--api-sock", sock, "--id", "fc"]
    if limit:
        args += ["--http-api-max-payload-size", str(limit)]
    p = VoltProcess(args, tmp_path / "volt.log", binary=fc_bin(tmp_path))
    try:
        wait_for_socket(sock, p.proc)
        size = limit + 10 if limit else 51201
        out = subprocess.run(["curl", "-s", "--unix-socket", str(sock), "-i", "-X", "PUT",
                              "http://localhost/mmds/config", "-H", f"Content-Length: {size}",
                              "-H", "Accept: application/json", "-d", "some body"],
                             capture_output=True, timeout=30).stdout.decode()  # \r\n kept
        msg = (f"Request payload with size {size} is larger than the limit of "
               f"{limit or 51200} allowed by server.")
        body = '{ "error": "' + msg + '\nAll previous unanswered requests will be dropped." }'
        want = ("HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}")
        assert out == want, out
        assert len(body) == (145 if limit else 149)  # Firecracker's test's numbers
        assert p.proc.poll() is None
    finally:
        p.kill()


def fc_started(vm, tmp_path, metrics=True):
    """volt as firecracker (log and metrics files as the framework gives them) with the echo
    guest started through the API."""
    log, args = fc_log(tmp_path)
    met = tmp_path / "metrics.ndjson"
    met.touch()
    sock = tmp_path / "fc.sock"
    p = vm("--api-sock", sock, "--id", "fc", *args,
           *(["--metrics-path", met] if metrics else []), binary=fc_bin(tmp_path))
    wait_for_socket(sock, p.proc)
    api = ApiClient(sock)
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")})[0] == 204
    assert api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 128})[0] == 204
    assert api.put("/actions", {"action_type": "InstanceStart"})[0] == 204
    return p, api, log, met


def test_fc_metrics_line_at_instance_start(vm, tmp_path):
    """test_generic_signal_handler / test_reboot: one metrics line right after InstanceStart
    (Firecracker's PeriodicMetrics::start writes one at once)."""
    p, api, log, met = fc_started(vm, tmp_path)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not met.read_text():
        time.sleep(0.05)
    assert len(met.read_text().splitlines()) == 1


FATAL = {  # test_signals.py: signal -> (metric, Firecracker's exit code)
    signal.SIGBUS: ("sigbus", 149), signal.SIGSEGV: ("sigsegv", 150),
    signal.SIGXFSZ: ("sigxfsz", 151), signal.SIGXCPU: ("sigxcpu", 154),
    signal.SIGHUP: ("sighup", 156), signal.SIGILL: ("sigill", 157),
    # Firecracker's log_sigsys_err(): BadSyscall (148) only for a seccomp trap
    # (si_code SYS_SECCOMP); a SIGSYS sent with kill (si_code SI_USER) ends it with
    # UnexpectedError (2), after the same line and seccomp.num_faults = 1.
    signal.SIGSYS: (None, 2),
}


@pytest.mark.parametrize("signum", FATAL, ids=lambda s: signal.Signals(s).name)
def test_fc_fatal_signals(vm, tmp_path, signum):
    """test_generic_signal_handler: Firecracker catches the signal, logs `Shutting down VM
    after intercepting signal N`, writes signals.<name> = 1 and exits with its code."""
    p, api, log, met = fc_started(vm, tmp_path)
    os.kill(p.proc.pid, signum)
    rc = p.wait_exit(30)
    metric, code = FATAL[signum]
    assert rc == code, rc
    wait_in_log(log, f"Shutting down VM after intercepting signal {int(signum)}, code 0.")
    last = json.loads(met.read_text().splitlines()[-1])
    if metric:
        assert last["signals"][metric] == 1
    else:
        assert last["seccomp"]["num_faults"] == 1


def test_fc_sigpipe_logged_and_counted(vm, tmp_path):
    """test_generic_signal_handler[SIGPIPE]: Firecracker goes on, logs `Received signal 13`
    and counts signals.sigpipe."""
    p, api, log, met = fc_started(vm, tmp_path)
    os.kill(p.proc.pid, signal.SIGPIPE)
    assert api.put("/actions", {"action_type": "FlushMetrics"})[0] == 204
    wait_in_log(log, "Received signal 13")
    assert json.loads(met.read_text().splitlines()[-1])["signals"]["sigpipe"] == 1


def test_fc_signal_35_does_not_end_the_vm(vm, tmp_path):
    """test_handled_signals: signal 35 (musl's SIGRTMIN, Firecracker's vCPU kick, handled
    process-wide) leaves the microVM running."""
    p, api, log, met = fc_started(vm, tmp_path, metrics=False)
    os.kill(p.proc.pid, 35)
    time.sleep(0.5)
    assert p.proc.poll() is None, p.output()
    assert api.get("/")[0] == 200


def test_fc_thread_names(vm, tmp_path):
    """microvm.py pin_vcpu/pin_api (and orchestrators that pin threads) find Firecracker's
    threads by name: `fc_api`, `fc_vcpu N`; the main thread starts with `firecracker`."""
    p, api, log, met = fc_started(vm, tmp_path, metrics=False)
    names = {Path(f"/proc/{p.proc.pid}/task/{t}/comm").read_text().strip()
             for t in os.listdir(f"/proc/{p.proc.pid}/task")}
    assert {"fc_api", "fc_vcpu 0", "fc_vcpu 1"} <= names, names


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "Arguments parsing error: Found argument 'bogus' which wasn't expected, "
                  "or isn't valid in this context."),
    (["--config-file"], "Arguments parsing error: The argument 'config-file' requires a "
                        "value, but none was supplied."),
    # Whole names only (getopt would take an unambiguous prefix)
    (["--api-so", "a.sock"], "Arguments parsing error: Found argument 'api-so' which wasn't "
                             "expected, or isn't valid in this context."),
    (["--api-sock", "a.sock", "--no-ap"], "Arguments parsing error: Found argument 'no-ap' "
                                          "which wasn't expected, or isn't valid in this "
                                          "context."),
    # nor name=value (arg_parser.rs: one argument of that whole name)
    (["--api-sock=a.sock"], "Arguments parsing error: Found argument 'api-sock=a.sock' which "
                            "wasn't expected, or isn't valid in this context."),
    (["--no-seccomp=1"], "Arguments parsing error: Found argument 'no-seccomp=1' which "
                         "wasn't expected, or isn't valid in this context."),
    # its DuplicateArgument and the forbids of --seccomp-filter and --no-seccomp
    (["--api-sock", "a.sock", "--api-sock", "b.sock"],
     "Arguments parsing error: The argument 'api-sock' was provided more than once."),
    (["--no-seccomp", "--seccomp-filter", "f.bpf"],
     "Arguments parsing error: Argument 'seccomp-filter' cannot be used together with "
     "argument 'no-seccomp'."),
])
def test_fc_argument_errors_exit_153(tmp_path, args, message):
    """Firecracker's parse errors: FcExitCode::ArgParsing (153), `Arguments parsing error:
    ...` on stderr (`Error: ...`) and in the log."""
    proc = subprocess.run([str(fc_bin(tmp_path)), *args], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 153, proc
    assert message in proc.stderr, proc.stderr


def test_fc_init_args_stay_last(vm, tmp_path):
    """test_kernel_cmdline.py::test_init_params: what follows `--` in boot_args is init's,
    and stays last: the VMM's own parameters (root=, virtio_mmio.device=) go before it
    (linux-loader's Cmdline keeps init_args apart). Read from volt's debug log line."""
    cfg = fc_config(tmp_path, "hello")
    obj = json.loads(cfg.read_text())
    obj["boot-source"]["boot_args"] = ("console=ttyS0 reboot=k panic=1 swiotlb=noforce "
                                      "init=/bin/cat -- /etc/os-release")
    cfg.write_text(json.dumps(obj))
    log, args = fc_log(tmp_path)
    p = vm("--config-file", cfg, "--no-api", *args, binary=fc_bin(tmp_path))
    p.wait_exit(30)
    line = next(l for l in log.read_text().splitlines() if "kernel command line:" in l)
    before, sep, after = line.partition(" -- ")
    assert sep and after == "/etc/os-release", line
    assert "root=/dev/vda" in before and "virtio_mmio.device=" in before, line


def tiny_bzimage(path):
    """A bzImage (boot protocol 2.12, XLF_KERNEL_64) whose 64-bit entry (load address +
    0x200) resets through the i8042 (`mov $0xfe,%al; out %al,$0x64`), as reboot=k does."""
    img = bytearray(2 * 512)  # boot sector + 1 setup sector
    img[0x1f1] = 1  # setup_sects
    img[0x1fe:0x200] = b"\x55\xaa"
    img[0x200:0x202] = bytes([0xeb, 0x6a])  # jump: the header ends at 0x202 + 0x6a
    img[0x202:0x206] = b"HdrS"
    img[0x206:0x208] = (0x020c).to_bytes(2, "little")
    img[0x211] = 0x01  # loadflags: LOADED_HIGH
    img[0x234] = 1  # relocatable_kernel: loaded at 1 MiB
    img[0x236:0x238] = (0x0001).to_bytes(2, "little")  # xloadflags: XLF_KERNEL_64
    payload = bytearray(0x1000)
    payload[0x200:0x206] = b"\xb0\xfe\xe6\x64\xf4\xf4"
    path.write_bytes(bytes(img) + bytes(payload))
    return path


@pytest.mark.parametrize("kernel,words", [
    ("hello", "Kernel loaded using Linux 64-bit boot protocol"),
    ("bzImage", "Kernel loaded using Linux 64-bit boot protocol (bzImage)"),
])
def test_fc_kernel_loaded_line(vm, tmp_path, kernel, words):
    """test_bzimage_boot.py: Firecracker's debug line says how the kernel was loaded, and
    its test looks for `(bzImage)` in the log (level Debug)."""
    cfg = fc_config(tmp_path, "hello")
    obj = json.loads(cfg.read_text())
    if kernel == "bzImage":
        obj["boot-source"]["kernel_image_path"] = str(tiny_bzimage(tmp_path / "bzImage"))
    cfg.write_text(json.dumps(obj))
    log, args = fc_log(tmp_path)
    p = vm("--config-file", cfg, "--no-api", *args, binary=fc_bin(tmp_path))
    assert p.wait_exit(30) == 0, log.read_text()
    lines = [l for l in log.read_text().splitlines() if "Kernel loaded using" in l]
    assert len(lines) == 1 and lines[0].endswith("] " + words), lines


@pytest.mark.parametrize("then", ["missing", "directory"])
def test_fc_restored_drive_file_error_chain(vm, tmp_path, then):
    """test_snapshot_basic.py::test_negative_snapshot_permissions: a snapshot whose drive
    file cannot be opened again fails the load with Firecracker's chain of errors, its
    `Virtio backend error: Error manipulating the backing file: <io error>` and the path
    (there: Permission denied, as a jailed user; here: a file gone, or a directory)."""
    disk = tmp_path / "scratch.img"
    disk.write_bytes(b"\0" * 65536)
    api = start_api(vm, tmp_path, "--snapshot-dir", tmp_path)
    for url, body in (("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}),
                      ("/drives/scratch", {"drive_id": "scratch", "path_on_host": str(disk),
                                           "is_root_device": False, "is_read_only": False}),
                      ("/actions", {"action_type": "InstanceStart"})):
        assert api.put(url, body) == (204, None), url
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    assert api.put("/snapshot/create", {"snapshot_path": str(tmp_path / "state"),
                                        "mem_file_path": str(tmp_path / "mem")}) == (204, None)
    api.proc.kill()
    disk.unlink()
    errno_words = "No such file or directory (os error 2)"
    if then == "directory":
        disk.mkdir()
        errno_words = "Is a directory (os error 21)"
    restored = start_api(vm, tmp_path, "--snapshot-dir", tmp_path)
    fault_is(restored.put("/snapshot/load", {
        "snapshot_path": str(tmp_path / "state"), "resume_vm": True,
        "mem_backend": {"backend_type": "File", "backend_path": str(tmp_path / "mem")}}),
        "Load snapshot error: Failed to restore from snapshot: Failed to build microVM from "
        "snapshot: Failed to restore devices: Error restoring MMIO devices: Block: Virtio "
        f"backend error: Error manipulating the backing file: {errno_words} {disk}")


def test_fc_jailer_start_times_in_metrics(vm, tmp_path):
    """test_process_startup_time.py: Firecracker's jailer passes --start-time-us (its own
    start, CLOCK_MONOTONIC), --start-time-cpu-us (the CPU clock at exec) and
    --parent-cpu-time-us; api_server.process_startup_time_us and _cpu_us in the line
    written at InstanceStart count from them (ProcessTimeReporter)."""
    metrics = tmp_path / "metrics.json"
    start_us = int(time.monotonic() * 1e6) - 5_000_000  # a jailer that took 5 s
    sock = tmp_path / "fc.sock"
    p = vm("--api-sock", sock, "--metrics-path", metrics, "--start-time-us", str(start_us),
           "--start-time-cpu-us", "0", "--parent-cpu-time-us", "1000000000",
           binary=fc_bin(tmp_path))
    wait_for_socket(sock, p.proc)
    api = ApiClient(sock)
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    line = json.loads(metrics.read_text().splitlines()[0])["api_server"]
    assert 5_000_000 <= line["process_startup_time_us"] < 35_000_000, line
    assert 1_000_000_000 < line["process_startup_time_cpu_us"] < 1_030_000_000, line


def test_fc_jailer_start_time_must_be_a_number(tmp_path):
    """Firecracker's main.rs panics on a --start-time-us that is not a u64; volt refuses
    it as a command-line error."""
    proc = subprocess.run([str(fc_bin(tmp_path)), "--start-time-us", "soon"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 153, proc
    assert "--start-time-us 'soon'" in proc.stderr, proc.stderr
