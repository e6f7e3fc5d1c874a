"""MMDS through the real API (PUT|PATCH|GET /mmds, PUT /mmds/config, GET /vm/config,
the configuration file's mmds-config, --metadata and --mmds-size-limit): every answer
against Firecracker 1.16's (its test_api.py, test_mmds.py and the messages of its
rpc_interface.rs and vmm_config/mmds.rs). Interfaces are configured but never opened
before InstanceStart; only the echo guest boots (milliseconds), without interfaces."""
import json
import os
import subprocess

import pytest

from conftest import GUESTS, start_api

NOT_AFTER = "The requested operation is not supported after starting the microVM."
NOT_INIT = "MMDS error: The MMDS data store is not initialized."
TOO_LARGE = "MMDS limit exceeded error: The MMDS patch request doesn't fit."
CFG = "MMMDS config error: "
EMPTY = CFG + "The list of network interface IDs that allow forwarding MMDS requests is empty."
NO_IFACE = (CFG + "The list of network interface IDs provided contains at least one ID that "
            "does not correspond to any existing network interface.")
NOT_LINK_LOCAL = CFG + "The MMDS IPv4 address is not link local."
SERDE = "An error occurred when deserializing the json body of a request: "


def start(vm, tmp_path, *args):
    return start_api(vm, tmp_path, "--id", "mmds", *args)


@pytest.fixture
def api(vm, tmp_path):
    return start(vm, tmp_path)


def raw(api, method, url, body=b""):
    req = (f"{method} {url} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    head, _, payload = api.raw(req).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {l.partition(":")[0].strip().lower(): l.partition(":")[2].strip() for l in lines[1:]}
    return int(lines[0].split()[1]), hdrs, payload


def fault(msg, status=400):
    return (status, {"fault_message": msg})


# TAP names of this process alone: pytest-xdist runs tests side by side, and a TAP one volt
# holds is busy for another.
TAP = f"vmds{os.getpid() % 100000}-"


def add_iface(api, iface="eth0", tap=TAP + "0"):
    assert api.put(f"/network-interfaces/{iface}",
                   {"iface_id": iface, "host_dev_name": tap}) == (204, None)


def boot_echo(api):
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)


DATA = {"latest": {"meta-data": {"ami-id": "ami-12345678", "reservation-id": "r-fea54097"}}}


def test_store_before_boot(api):
    """test_mmds_dummy: {} before any PUT, PATCH needs a PUT first, PUT replaces, PATCH
    merges; any JSON value is a store (Firecracker's serde_json::Value)."""
    assert api.get("/mmds") == (200, {})
    assert api.patch("/mmds", DATA) == fault(NOT_INIT)
    assert api.put("/mmds", DATA) == (204, None)
    assert api.get("/mmds") == (200, DATA)
    patch = {"latest": {"meta-data": {"ami-id": "another_dummy", "reservation-id": None,
                                      "secret_key": "eaasda48141411aeaeae"}}}
    assert api.patch("/mmds", patch) == (204, None)
    assert api.get("/mmds") == (200, {"latest": {"meta-data": {
        "ami-id": "another_dummy", "secret_key": "eaasda48141411aeaeae"}}})
    # GET /mmds/anything is GET /mmds; PATCH /mmds/x is PATCH /mmds.
    assert api.get("/mmds/whatever")[0] == 200
    assert api.put("/mmds", [1, "two"]) == (204, None)
    assert api.get("/mmds") == (200, [1, "two"])
    s, _, body = raw(api, "PUT", "/mmds", b'"text"')
    assert (s, body) == (204, b"")
    s, _, body = raw(api, "GET", "/mmds")
    assert (s, body) == (200, b'"text"')
    s, _, body = raw(api, "PUT", "/mmds", b'{"b": 1, "a": 1.0, "a": 2}')
    assert s == 204
    assert raw(api, "GET", "/mmds")[2] == b'{"a":2,"b":1}'
    s, _, body = raw(api, "PUT", "/mmds", b"{")
    assert s == 400 and json.loads(body)["fault_message"].startswith("mmds: invalid JSON")


@pytest.mark.parametrize("method, url, body, want", [
    ("PUT", "/mmds/other", {}, fault("Unrecognized PUT request path `other`.")),
    ("DELETE", "/mmds", None, fault("Invalid request method and/or path: DELETE mmds.")),
    ("PATCH", "/mmds/config", {"network_interfaces": []}, fault(NOT_INIT)),
    ("GET", "/mmds/config", None, (200, {})),
    ("PUT", "/mmds/config", {"network_interfaces": []}, fault(EMPTY)),
    ("PUT", "/mmds/config", {"network_interfaces": ["foo"]}, fault(NO_IFACE)),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0", "foo"]}, fault(NO_IFACE)),
    ("PUT", "/mmds/config", {"version": "foo", "network_interfaces": ["eth0"]},
     fault(SERDE + "unknown variant `foo`, expected `V1` or `V2` at line 1 column 17.")),
    ("PUT", "/mmds/config", {"version": 2, "network_interfaces": ["eth0"]},
     fault(SERDE + "expected value at line 1 column 13.")),
    ("PUT", "/mmds/config", {"version": "V2"},
     fault(SERDE + "missing field `network_interfaces` at line 1 column 17.")),
    ("PUT", "/mmds/config", {"network_interfaces": "eth0"},
     fault(SERDE + "invalid type: string \"eth0\", expected a sequence at line 1 column 29.")),
    ("PUT", "/mmds/config", {"network_interfaces": [1]},
     fault(SERDE + "invalid type: integer `1`, expected a string at line 1 column 25.")),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "ipv4_address": "169.254.1"},
     fault(SERDE + "invalid IPv4 address syntax at line 1 column 60.")),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "ipv4_address": "169.254.01.1"},
     fault(SERDE + "invalid IPv4 address syntax at line 1 column 63.")),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "ipv4_address": 1},
     fault(SERDE + "invalid type: integer `1`, expected IPv4 address at line 1 column 50.")),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "ipv4_address": "10.0.0.1"},
     fault(NOT_LINK_LOCAL)),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "ipv4_address": "169.254.0.1"},
     fault(NOT_LINK_LOCAL)),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "ipv4_address": "169.254.255.1"},
     fault(NOT_LINK_LOCAL)),
    ("PUT", "/mmds/config", {"network_interfaces": [], "ipv4_address": "1.1.1.1"},
     fault(NOT_LINK_LOCAL)),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "imds_compat": "yes"},
     fault(SERDE + "invalid type: string \"yes\", expected a boolean at line 1 column 53.")),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "x": 1},
     fault(SERDE + "unknown field `x`, expected one of `version`, `network_interfaces`, "
           "`ipv4_address`, `imds_compat` at line 1 column 36.")),
    # serde_derive's sequence form: the fields' values in order (the version has a default)
    ("PUT", "/mmds/config", [],
     fault(SERDE + "invalid length 1, expected struct MmdsConfig with 4 elements at line 1 "
           "column 2.")),
    ("PUT", "/mmds/config", ["V2", ["eth0"], None, True], (204, None)),
    ("PUT", "/mmds/config", 5,
     fault(SERDE + "invalid type: integer `5`, expected struct MmdsConfig at line 1 column 1.")),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "ipv4_address": None}, (204, None)),
    ("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "version": {"V2": None}}, (204, None)),
])
def test_answers_before_boot(api, method, url, body, want):
    add_iface(api)
    if method == "GET":
        assert api.get(url) == want
    elif body is None:
        assert api.request(method, url) == want
    else:
        assert api.request(method, url, body) == want


def test_config_and_vm_config(api):
    """test_api_mmds_config and test_get_full_config: the version, the address, the
    interfaces in GET /vm/config; a re-PUT of an interface leaves MMDS (Firecracker
    builds a new device); Deprecation: true for V1."""
    assert api.get("/vm/config")[1]["mmds-config"] is None
    add_iface(api, "1", TAP + "1")
    add_iface(api, "2", TAP + "2")
    s, hdrs, _ = raw(api, "PUT", "/mmds/config", b'{"network_interfaces": ["1"]}')
    assert s == 204 and hdrs.get("deprecation") == "true"
    assert api.get("/vm/config")[1]["mmds-config"] == {
        "version": "V1", "network_interfaces": ["1"], "ipv4_address": "169.254.169.254",
        "imds_compat": False}
    s, hdrs, _ = raw(api, "PUT", "/mmds/config",
                     b'{"version": "V1", "network_interfaces": ["1"]}')
    assert s == 204 and hdrs.get("deprecation") == "true"
    # A refused V1 body still says so (Firecracker sets it at parse time).
    s, hdrs, _ = raw(api, "PUT", "/mmds/config", b'{"network_interfaces": ["x"]}')
    assert s == 400 and hdrs.get("deprecation") == "true"
    s, hdrs, _ = raw(api, "PUT", "/mmds/config",
                     b'{"version": "V2", "ipv4_address": "169.254.169.250", '
                     b'"network_interfaces": ["2", "1"], "imds_compat": true}')
    assert s == 204 and "deprecation" not in hdrs
    cfg = {"version": "V2", "network_interfaces": ["1", "2"],
           "ipv4_address": "169.254.169.250", "imds_compat": True}
    full = api.get("/vm/config")[1]
    assert full["mmds-config"] == cfg
    assert list(full).index("mmds-config") == list(full).index("metrics") + 1
    add_iface(api, "1", TAP + "1")
    assert api.get("/vm/config")[1]["mmds-config"]["network_interfaces"] == ["2"]
    assert api.put("/mmds/config", {"network_interfaces": ["1"]}) == (204, None)
    assert api.get("/vm/config")[1]["mmds-config"]["network_interfaces"] == ["1"]
    # The exported configuration boots as a configuration file would take it.
    assert api.put("/mmds", DATA) == (204, None)


def test_after_boot_without_mmds(api):
    """After boot Firecracker has a store only when an interface serves it; its
    config is pre-boot only (the body is read first)."""
    assert api.put("/mmds", DATA) == (204, None)
    boot_echo(api)
    assert api.get("/mmds") == fault(NOT_INIT)
    assert api.put("/mmds", DATA) == fault(NOT_INIT)
    assert api.patch("/mmds", DATA) == fault(NOT_INIT)
    s, _, body = raw(api, "PUT", "/mmds", b"{nope")
    assert s == 400 and b"invalid JSON" in body
    assert api.put("/mmds/config", {"version": "V2", "network_interfaces": ["1"]}) \
        == fault(NOT_AFTER)
    assert api.put("/mmds/config", {"version": "V3", "network_interfaces": ["1"]}) \
        == fault(SERDE + "unknown variant `V3`, expected `V1` or `V2` at line 1 column 16.")


def test_size_limit(vm, tmp_path):
    """test_mmds_limit_scenario: 413 with Firecracker's message, the store unchanged."""
    api = start(vm, tmp_path, "--mmds-size-limit", "100")
    small = {"latest": {"meta-data": {"ami-id": "dummy"}}}
    assert api.put("/mmds", small) == (204, None)
    assert api.put("/mmds", {"a": "x" * 100}) == fault(TOO_LARGE, 413)
    assert api.get("/mmds") == (200, small)
    assert api.patch("/mmds", {"latest": {"b": "x" * 60}}) == fault(TOO_LARGE, 413)
    assert api.get("/mmds") == (200, small)
    # 100 bytes exactly: {"a":"<92 x>"}
    assert api.put("/mmds", {"a": "x" * 92}) == (204, None)
    assert api.put("/mmds", {"a": "x" * 93}) == fault(TOO_LARGE, 413)


def test_metadata_and_config_file(vm, tmp_path):
    """--metadata fills the store before the configuration file's mmds-config."""
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(DATA))
    api = start(vm, tmp_path, "--metadata", meta)
    assert api.get("/mmds") == (200, DATA)
    assert api.patch("/mmds", {"latest": None}) == (204, None)
    assert api.get("/mmds") == (200, {})

    meta.write_text("{not json")
    p = vm("--api-sock", tmp_path / "x.sock", "--metadata", meta)
    assert p.proc.wait(30) != 0
    assert "--metadata" in p.output() and "invalid JSON" in p.output()
    meta.write_text(json.dumps({"a": "x" * 200}))
    p = vm("--api-sock", tmp_path / "y.sock", "--metadata", meta, "--mmds-size-limit", "50")
    assert p.proc.wait(30) != 0
    assert "doesn't fit" in p.output()
    p = vm("--api-sock", tmp_path / "z.sock", "--mmds-size-limit", "lots")
    assert p.proc.wait(30) != 0
    assert "--mmds-size-limit 'lots'" in p.output()

    cfg = {"boot-source": {"kernel_image_path": str(GUESTS / "echo")},
           "network-interfaces": [{"iface_id": "eth0", "host_dev_name": TAP + "0"}],
           "mmds-config": {"version": "V2", "network_interfaces": ["nope"]}}
    f = tmp_path / "cfg.json"
    f.write_text(json.dumps(cfg))
    p = vm("--config-file", f, "--no-api")
    assert p.proc.wait(30) != 0
    assert "mmds-config: " + NO_IFACE in p.output(), p.output()


@pytest.mark.skipif(os.geteuid() != 0, reason="a TAP device needs root")
def test_snapshot_keeps_the_config_not_the_data(vm, tmp_path):
    """test_mmds_snapshot: the restored VM reports the same mmds-config; its store is
    empty ({}; PATCH needs a PUT first) until PUT /mmds."""
    tap = f"vmm{os.getpid() % 100000}"
    subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], check=True)
    try:
        api = start(vm, tmp_path, "--snapshot-dir", tmp_path)
        add_iface(api, "eth0", tap)
        cfg = {"version": "V2", "network_interfaces": ["eth0"],
               "ipv4_address": "169.254.169.250", "imds_compat": True}
        assert api.put("/mmds/config", cfg) == (204, None)
        assert api.put("/mmds", DATA) == (204, None)
        boot_echo(api)
        assert api.get("/mmds") == (200, DATA)
        assert api.get("/vm/config")[1]["mmds-config"] == cfg
        assert api.request("PATCH", "/vm", {"state": "Paused"}) == (204, None)
        snap = {"snapshot_path": str(tmp_path / "state"), "mem_file_path": str(tmp_path / "mem")}
        assert api.put("/snapshot/create", snap) == (204, None)
        api.proc.kill()

        api = start(vm, tmp_path)
        assert api.put("/snapshot/load", {
            "snapshot_path": str(tmp_path / "state"),
            "mem_backend": {"backend_type": "File", "backend_path": str(tmp_path / "mem")}}) \
            == (204, None)
        assert api.get("/vm/config")[1]["mmds-config"] == cfg
        assert api.get("/mmds") == (200, {})
        assert api.patch("/mmds", DATA) == fault(NOT_INIT)
        assert api.put("/mmds", DATA) == (204, None)
        assert api.get("/mmds") == (200, DATA)
    finally:
        subprocess.run(["ip", "link", "del", tap], check=False)
