"""Ids of any length (issue #14): Firecracker's checked_id refuses an empty id and any
character but '_' and alphanumerics, and has no length limit. volt takes them through
PUT and PATCH paths and bodies, GET /vm/config, --config-file, a snapshot's record and
network_overrides. A path id is bounded by the request line alone (volt: 8192 bytes,
400 past it; Firecracker's micro_http refuses a line past 1024 bytes with 400), a body id
by the body limit (51200 bytes by default, as Firecracker). No Linux guest boots: the
snapshot round trip uses the echo test guest."""
import json
import time

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, start_api
from test_snapshot import NetnsVoltIn, load, take, type_and_see
from test_virtio_net import netlab  # noqa: F401 (the fixture)

LONG = "d" * 999 + "1"  # a request line of ~1020 bytes: Firecracker's fits too
LONG_NET = "n" * 999 + "2"
HUGE = "D" * 19999 + "3"
HUGE_NET = "N" * 19999 + "4"
INVALID_ID = "API Resource IDs can only contain alphanumeric characters and underscores."
NOT_BEFORE = "The requested operation is not supported before starting the microVM."
TOO_BIG = "is larger than the limit of 51200 allowed by server."


def raw_put(api, path, body):
    """(status, fault_message, the HTTP layer's error, or None) for a request written by
    hand."""
    data = json.dumps(body).encode()
    req = (f"PUT {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
           ).encode() + data
    head, _, payload = api.raw(req).partition(b"\r\n\r\n")
    status = int(head.split(b"\r\n")[0].split()[1])
    body = json.loads(payload, strict=False) if payload.strip() else {}
    return status, body.get("fault_message", body.get("error"))


def drive(path, drive_id, ro=True):
    return {"drive_id": drive_id, "path_on_host": str(path), "is_root_device": False,
            "is_read_only": ro}


def test_long_ids_through_put_patch_and_get(vm, tmp_path):
    disk, other = tmp_path / "disk.img", tmp_path / "other.img"
    for f in (disk, other):
        f.write_bytes(b"\0" * 65536)

    api = start_api(vm, tmp_path)
    p = api.proc
    assert api.put(f"/drives/{LONG}", drive(disk, LONG)) == (204, None)
    # Firecracker's PATCH before boot: the path's id passes, then the rule answers.
    status, body = api.patch(f"/drives/{LONG}", {"drive_id": LONG,
                                                 "path_on_host": str(other)})
    assert (status, body["fault_message"]) == (400, NOT_BEFORE)
    assert api.put(f"/network-interfaces/{LONG_NET}",
                   {"iface_id": LONG_NET, "host_dev_name": "vtap1"}) == (204, None)
    assert api.put("/mmds/config", {"version": "V2",
                                    "network_interfaces": [LONG_NET]}) == (204, None)
    # volt's request line takes 8192 bytes: a 5000-character path id (Firecracker: 400).
    mid = "m" * 5000
    assert api.put(f"/drives/{mid}", drive(disk, mid)) == (204, None)
    # A body id is bounded by the body limit alone (vsock_id is deprecated: no path).
    status, _ = raw_put(api, "/vsock", {"vsock_id": HUGE, "guest_cid": 3,
                                        "uds_path": str(tmp_path / "v.sock")})
    assert status == 204
    status, cfg = api.get("/vm/config")
    assert status == 200
    assert [d["drive_id"] for d in cfg["drives"]] == [LONG, mid]
    assert [n["iface_id"] for n in cfg["network-interfaces"]] == [LONG_NET]
    assert cfg["mmds-config"]["network_interfaces"] == [LONG_NET]
    # The same id again replaces, a new one adds: ids compare whole, not by a prefix.
    assert api.put(f"/drives/{LONG}", drive(disk, LONG, ro=False)) == (204, None)
    twin = LONG[:-1] + "2"
    assert api.put(f"/drives/{twin}", drive(disk, twin)) == (204, None)
    cfg = api.get("/vm/config")[1]
    assert [d["drive_id"] for d in cfg["drives"]] == [LONG, mid, twin]
    assert cfg["drives"][0]["is_read_only"] is False
    assert p.proc.poll() is None


@pytest.mark.parametrize("path, body, status, needle", [
    # Past volt's request line (Firecracker refuses past 1024 bytes, with 400).
    (f"/drives/{HUGE}", None, 400, "the request line is over 8192 bytes"),
    # A bad character at the end of a long id: Firecracker's message.
    (f"/drives/{'a' * 3000}-", "same", 400, INVALID_ID),
    # The body's id is checked whole against the path's.
    (f"/drives/{LONG}", {"drive_id": LONG[:-1] + "9"}, 400,
     "The id from the path does not match the id from the body!"),
    # An interface's message quotes both ids, cut (Firecracker's quotes them whole).
    (f"/network-interfaces/{LONG_NET}", {"iface_id": LONG_NET[:-1] + "9"}, 400,
     f"The id from the path [{'n' * 64}...] does not match the id from the body "
     f"[{'n' * 64}...]!"),
    # A body id past the body limit: Firecracker's 400 and message.
    ("/drives/x", {"drive_id": "x" * 60000}, 400, TOO_BIG),
])
def test_long_id_refusals(vm, tmp_path, path, body, status, needle):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 65536)
    api = start_api(vm, tmp_path)
    p = api.proc
    if body == "same":
        body = drive(disk, path.rsplit("/", 1)[1])
    elif path.startswith("/network-interfaces/"):
        body = {"host_dev_name": "vtap1", **body}
    elif body is not None:
        body = {**drive(disk, "x"), **body}
    else:
        body = drive(disk, HUGE)
    got, msg = raw_put(api, path, body)
    assert got == status, (got, msg)
    if needle:
        assert needle in msg, msg
    assert api.get("/vm/config")[1]["drives"] == []
    assert p.proc.poll() is None


def test_huge_ids_through_config_file_and_snapshot(netlab, tmp_path):  # noqa: F811
    """20000- and 1000-character ids from --config-file (no path carries them there),
    through GET /vm/config, PATCH after boot, a snapshot of the echo guest and a load's
    network_overrides."""
    tap2 = netlab.tap + "b"
    netlab.ip("ip", "tuntap", "add", "dev", tap2, "mode", "tap")
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 65536)
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({
        "boot-source": {"kernel_image_path": str(GUESTS / "echo")},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
        "drives": [drive(disk, HUGE), drive(disk, LONG)],
        "network-interfaces": [{"iface_id": HUGE_NET, "host_dev_name": netlab.tap},
                               {"iface_id": LONG_NET, "host_dev_name": tap2}],
    }))

    def volt(*args):
        sock = tmp_path / f"api-{time.monotonic_ns()}.sock"
        p = NetnsVoltIn(netlab.ns, ["--api-sock", sock, *args],
                        tmp_path / f"volt-{time.monotonic_ns()}.log")
        netlab.procs.append(p)
        wait_for_socket(sock, p.proc)
        return p, ApiClient(sock)

    def ids(api):
        c = api.get("/vm/config")[1]
        return ([d["drive_id"] for d in c["drives"]],
                [n["iface_id"] for n in c["network-interfaces"]])

    p, api = volt("--config-file", cfg, "--snapshot-dir", snapdir)
    p.wait_for("echo guest ready", 60)
    assert ids(api) == ([HUGE, LONG], [HUGE_NET, LONG_NET])
    bucket = {"bandwidth": {"size": 100000, "refill_time": 100}}
    assert api.patch(f"/drives/{LONG}", {"drive_id": LONG,
                                         "rate_limiter": bucket}) == (204, None)
    assert api.patch(f"/network-interfaces/{LONG_NET}",
                     {"iface_id": LONG_NET, "rx_rate_limiter": bucket}) == (204, None)
    status, body = api.patch(f"/drives/{LONG[:-1]}", {"drive_id": LONG[:-1],
                                                      "rate_limiter": bucket})
    assert status == 400 and "Device not found" in body["fault_message"], body
    c = api.get("/vm/config")[1]
    assert c["drives"][1]["rate_limiter"]["bandwidth"]["size"] == 100000
    assert c["network-interfaces"][1]["rx_rate_limiter"]["bandwidth"]["size"] == 100000
    type_and_see(p, "before-snapshot")
    state, mem = take(api, snapdir)
    p.kill()

    # An override naming no interface of the snapshot is refused, the id shown cut.
    q, qapi = volt()
    status, body = load(qapi, state, mem, network_overrides=[
        {"iface_id": HUGE_NET[:-1] + "5", "host_dev_name": netlab.tap}])
    assert status == 400, body
    assert "has no network interface 'NNNN" in body["fault_message"], body
    assert len(body["fault_message"]) < 1000, body
    q.kill()

    q, qapi = volt()
    assert load(qapi, state, mem, network_overrides=[
        {"iface_id": HUGE_NET, "host_dev_name": netlab.tap},
        {"iface_id": LONG_NET, "host_dev_name": tap2}]) == (204, None)
    assert ids(qapi) == ([HUGE, LONG], [HUGE_NET, LONG_NET])
    out = type_and_see(q, "after-restore")
    assert "echo guest ready" not in out
    assert q.proc.poll() is None


def test_cli_drive_id_of_any_length(volt_bin, kvm, tmp_path):
    """`volt run --drive id=` follows the same rule; a refused spec that long still
    shows the reason (the spec is cut in the message)."""
    from conftest import run_volt
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 65536)
    p = run_volt("run", "--kernel", GUESTS / "hello", "--drive", f"path={disk},id={HUGE}",
                 timeout=60)
    assert p.returncode == 0 and "Hello from the volt hello guest" in p.stdout, p.stderr
    p = run_volt("run", "--kernel", GUESTS / "hello", "--drive", f"path={disk},id={HUGE}-",
                 timeout=60)
    assert p.returncode != 0 and "may only hold letters, digits and '_'" in p.stderr
