"""volt against Firecracker 1.16's own functional API tests, row by row: every request of
tests/integration_tests/functional/test_api.py (and the API parts of test_mmds.py and
test_balloon.py) that needs no running Linux guest, in the order those tests send them,
with the status and the fault_message pattern Firecracker's test expects (a `match=` is a
regular expression searched in the message, as pytest.raises does).

A row whose `volt` is set is a deliberate difference, listed in docs/api.md ("What
differs from Firecracker"): the row keeps Firecracker's answer for the record and checks
volt's. No Linux boots: the kernel is the echo test guest, which InstanceStart runs where
a Firecracker test sends requests after boot; test_firecracker_restored_rows restores its
snapshot. AUDIT.md lists the rows volt does not answer as Firecracker yet."""
import json
import os
import re

import pytest

from conftest import GUESTS, host_is_pvm, start_api

NOT_BEFORE = re.escape("The requested operation is not supported before starting the microVM.")
NOT_AFTER = re.escape("The requested operation is not supported after starting the microVM")
SERDE = re.escape("An error occurred when deserializing the json body of a request: ")
ANY = ""  # Firecracker's test only wants a refusal (pytest.raises(RuntimeError))


class Row:
    """One request and Firecracker's answer: status and a fault_message pattern (None: no
    body is checked); check(body) for a 200's JSON; volt=(status, pattern, why) when volt
    deliberately answers otherwise; hdr: a header that must be there (lower-cased)."""

    def __init__(self, method, path, body, status, fault=None, check=None, volt=None,
                 hdr=None, nohdr=None):
        self.method, self.path, self.body = method, path, body
        self.status, self.fault, self.check = status, fault, check
        self.volt, self.hdr, self.nohdr = volt, hdr, nohdr

    def __repr__(self):
        return f"{self.method} {self.path} {json.dumps(self.body)[:120]}"


def put(path, body, status=204, fault=None, **kw):
    return Row("PUT", path, body, status, fault, **kw)


def patch(path, body, status=204, fault=None, **kw):
    return Row("PATCH", path, body, status, fault, **kw)


def get(path, status=200, fault=None, **kw):
    return Row("GET", path, None, status, fault, **kw)


def fills(template, env):
    """The body with "{tmp}"-style placeholders filled from env."""
    if isinstance(template, str):
        return template.format(**env)
    if isinstance(template, dict):
        return {k: fills(v, env) for k, v in template.items()}
    if isinstance(template, list):
        return [fills(v, env) for v in template]
    return template


def send(api, row, env):
    """(status, headers lower-cased, JSON body or None), the body as json.dumps writes it
    (Firecracker's test client sends requests' json=, the same text)."""
    data = b""
    if row.body is not None:
        body = fills(row.body, env)
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
    req = (f"{row.method} {row.path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
           ).encode() + data
    head, _, payload = api.raw(req).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = {l.partition(":")[0].strip().lower(): l.partition(":")[2].strip() for l in lines[1:]}
    # strict=False: micro_http's error body has a raw line break in its string.
    return int(lines[0].split()[1]), hdrs, (json.loads(payload, strict=False) if payload else None)


BASIC = [  # uvm_configured / basic_config: 2 vCPUs, 256 MiB, a kernel and a root drive
    put("/boot-source", {"kernel_image_path": "{echo}", "boot_args": "console=ttyS0"}),
    put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}),
    put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                           "is_root_device": True, "is_read_only": True}),
]

GSI = re.escape("Could not allocate GSI: The requested resource is not available.")


def ifaces(n):
    """n interfaces, as Firecracker's add_net_iface() adds them (eth0, eth1, ...)."""
    return [put(f"/network-interfaces/eth{i}", {"iface_id": f"eth{i}",
                                                "host_dev_name": f"{{tap}}_{i}",
                                                "guest_mac": f"06:00:00:00:01:{i:02x}"})
            for i in range(n)]


TX_RL = {"bandwidth": {"size": 1000000, "refill_time": 100, "one_time_burst": None},
         "ops": None}


def full_config_is(b):
    env = FULL_ENV
    want = {
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 256, "smt": False,
                           "track_dirty_pages": False, "huge_pages": "None"},
        "cpu-config": None,
        "boot-source": {"boot_args": "", "kernel_image_path": env["echo"],
                        "initrd_path": None},
        "drives": [{"drive_id": "rootfs", "partuuid": None, "is_root_device": True,
                    "cache_type": "Unsafe", "is_read_only": True,
                    "path_on_host": env["rootfs"], "rate_limiter": None,
                    "io_engine": "Sync", "socket": None}],
        "pmem": [],
        "balloon": {"amount_mib": 1, "deflate_on_oom": True, "stats_polling_interval_s": 0,
                    "free_page_reporting": False, "free_page_hinting": False},
        "vsock": {"guest_cid": 15, "uds_path": "vsock.sock"},
        "memory-hotplug": None,
        "network-interfaces": [{"iface_id": "1", "host_dev_name": "vtap1",
                                "guest_mac": "06:00:00:00:00:01", "mtu": None,
                                "rx_rate_limiter": None, "tx_rate_limiter": TX_RL}],
        "logger": None,
        "metrics": None,
        "mmds-config": {"version": "V2", "ipv4_address": "169.254.169.250",
                        "network_interfaces": ["1"], "imds_compat": True},
        "entropy": None,
    }
    got = json.loads(json.dumps(b))
    assert got == want, got
    return True


def drive_patch_rows(engine):
    """test_drive_patch after boot (_drive_patch, virtio-block rows), for io_engine
    engine: the files are in a directory the running VMM may open (SCENARIO_ARGS:
    --snapshot-dir, for Landlock)."""
    return BASIC + [
        put("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{scratch}",
                                "is_root_device": False, "is_read_only": False,
                                "io_engine": engine}),
        put("/actions", {"action_type": "InstanceStart"}),
        patch("/drives/scratch", {"drive_id": "scratch"}, 400,
              re.escape("Running method expected different backend.")),
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "foo.bar",
                                  "is_read_only": True}, 400, "unknown field `is_read_only`"),
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "foo.bar",
                                  "io_engine": "Sync"}, 400, "unknown field `io_engine`"),
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "foo.bar",
                                  "is_root_device": False}, 400,
              "unknown field `is_root_device`"),
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "foo.bar"}, 400,
              re.escape("Error manipulating the backing file: No such file or directory "
                        "(os error 2) foo.bar")),
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{other}"}),
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{other}",
                                  "rate_limiter": {"bandwidth": {"size": 1000000,
                                                                 "refill_time": 100},
                                                   "ops": {"size": 1, "refill_time": 100}}}),
        patch("/drives/scratch", {"drive_id": "scratch",
                                  "rate_limiter": {"bandwidth": {"size": 5000,
                                                                 "refill_time": 100},
                                                   "ops": {"size": 500, "refill_time": 100}}}),
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "foo.bar",
                                  "rate_limiter": {"bandwidth": {"size": 5000,
                                                                 "refill_time": 100},
                                                   "ops": {"size": 500, "refill_time": 100}}},
              400, "No such file or directory"),
        get("/vm/config", check=lambda b: b["drives"][1] == {
            "drive_id": "scratch", "partuuid": None, "is_root_device": False,
            "cache_type": "Unsafe", "is_read_only": False,
            "path_on_host": FULL_ENV["other"],
            "rate_limiter": {
                "bandwidth": {"size": 5000, "one_time_burst": None, "refill_time": 100},
                "ops": {"size": 500, "one_time_burst": None, "refill_time": 100}},
            "io_engine": engine, "socket": None}),
    ]


FULL_ENV = {}
KEPT = {}  # an answer kept by one row for a later row to compare with


def keep(key, body):
    KEPT[key] = body
    return True

SCENARIOS = {
    # test_api_put_update_pre_boot
    "put_update_pre_boot": BASIC + [
        put("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{scratch}",
                                "is_root_device": False, "is_read_only": False}),
        put("/boot-source", {"kernel_image_path": "foo.bar"}, 400, re.escape(
            "The kernel file cannot be opened: No such file or directory (os error 2)")),
        put("/boot-source", {"kernel_image_path": "{echo}"}),
        put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "foo.bar",
                               "is_read_only": True, "is_root_device": True},
            400, "No such file or directory"),
        put("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{scratch}",
                                "is_read_only": False, "is_root_device": True},
            400, "A root block device already exists"),
        put("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{other}",
                                "is_read_only": True, "is_root_device": False}),
        put("/machine-config", {"vcpu_count": 4, "smt": True, "mem_size_mib": 256,
                                "track_dirty_pages": True}),
        get("/machine-config", check=lambda b: b["smt"] is True),
        put("/machine-config", {"vcpu_count": 4, "smt": False, "mem_size_mib": 256,
                                "track_dirty_pages": True}),
        get("/machine-config", check=lambda b: (b["vcpu_count"], b["smt"], b["mem_size_mib"],
                                                b["track_dirty_pages"]) == (4, False, 256, True)),
    ],
    # test_net_api_put_update_pre_boot (volt opens a TAP at InstanceStart, not at PUT)
    "net_put_update_pre_boot": [
        put("/network-interfaces/1", {"iface_id": "1", "guest_mac": "06:00:00:00:00:01",
                                      "host_dev_name": "vtap1"}),
        put("/network-interfaces/2", {"iface_id": "2", "guest_mac": "07:00:00:00:00:01",
                                      "host_dev_name": "vtap2"}),
        put("/network-interfaces/2", {"iface_id": "2", "host_dev_name": "vtap2",
                                      "guest_mac": "06:00:00:00:00:01"},
            400, re.escape("The MAC address is already in use: 06:00:00:00:00:01")),
        put("/network-interfaces/2", {"iface_id": "2", "host_dev_name": "vtap2",
                                      "guest_mac": "08:00:00:00:00:01"}),
        put("/network-interfaces/1", {"iface_id": "1", "host_dev_name": "vtap2",
                                      "guest_mac": "06:00:00:00:00:01"},
            400, "Could not create the network device"),
        # Firecracker dropped interface 1 before its TAP failed: its MAC is free.
        put("/network-interfaces/3", {"iface_id": "3", "host_dev_name": "vtap3",
                                      "guest_mac": "06:00:00:00:00:01"}),
    ],
    # test_api_mmds_config, test_custom_ipv4, test_deprecated_mmds_config
    "mmds_config": BASIC + [
        put("/mmds/config", {"network_interfaces": []}, 400, re.escape(
            "The list of network interface IDs that allow forwarding MMDS requests is empty.")),
        put("/mmds/config", {"network_interfaces": ["foo"]}, 400, re.escape(
            "The list of network interface IDs provided contains at least one ID that does "
            "not correspond to any existing network interface.")),
        put("/network-interfaces/1", {"iface_id": "1", "guest_mac": "06:00:00:00:00:01",
                                      "host_dev_name": "vtap1"}),
        put("/mmds/config", {"network_interfaces": ["1", "foo"]}, 400, re.escape(
            "The list of network interface IDs provided contains at least one ID that does "
            "not correspond to any existing network interface.")),
        put("/mmds/config", {"version": "foo", "network_interfaces": ["1"]}, 400,
            SERDE + re.escape("unknown variant `foo`, expected `V1` or `V2`")),
        put("/mmds/config", {"network_interfaces": ["1"]}, hdr="deprecation"),
        get("/vm/config", check=lambda b: b["mmds-config"]["version"] == "V1"),
        put("/mmds/config", {"ipv4_address": "169.254.169.250", "network_interfaces": ["1"]}),
        get("/vm/config",
            check=lambda b: b["mmds-config"]["ipv4_address"] == "169.254.169.250"),
        put("/mmds/config", {"version": "V1", "network_interfaces": ["1"]}, hdr="deprecation"),
        put("/mmds/config", {"version": "V2", "ipv4_address": "169.254.169.250",
                             "network_interfaces": ["1"]}, nohdr="deprecation"),
        get("/vm/config", check=lambda b: b["mmds-config"]["version"] == "V2"),
        put("/mmds/config", {"ipv4_address": "", "network_interfaces": ["1"]}, 400, ANY),
        put("/mmds/config", {"ipv4_address": "1.1.1.1", "network_interfaces": ["1"]},
            400, ANY),
    ],
    # test_api_machine_config (up to its InstanceStart)
    "machine_config": [
        put("/machine-config", {"vcpu_count": "-2"}, 400, ANY),
        put("/machine-config", {"smt": "random_string"}, 400, ANY),
        put("/machine-config", {"cpu_template": "random_string"}, 400, ANY),
        patch("/machine-config", {"track_dirty_pages": True}),
        put("/machine-config", {"mem_size_mib": 128}, 400,
            re.escape("missing field `vcpu_count` at line 1 column 21.")),
        put("/machine-config", {"vcpu_count": 2}, 400,
            re.escape("missing field `mem_size_mib` at line 1 column 17.")),
        put("/machine-config", {"mem_size_mib": 128, "vcpu_count": 1}),
        get("/machine-config", check=lambda b: b["smt"] is False),
        patch("/machine-config", {"smt": True}),
        patch("/machine-config", {"vcpu_count": 3}, 400, re.escape(
            "The number of vCPUs must be greater than 0, less than 32 and must be 1 or an "
            "even number if SMT is enabled.")),
        get("/machine-config", check=lambda b: (b["vcpu_count"], b["smt"]) == (1, True)),
        put("/machine-config", {"mem_size_mib": "-2"}, 400, ANY),
        put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 1 << 64}, 400, re.escape(
            "error occurred when deserializing the json body of a request: invalid type")),
        put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256,
                                "track_dirty_pages": False}),
        # Firecracker takes it and fails InstanceStart (mmap); volt's JSON holds i64.
        patch("/machine-config", {"mem_size_mib": (1 << 64) - 1},
              volt=(400, SERDE + "invalid type", "integers above 2^63-1")),
        patch("/machine-config", {"mem_size_mib": 1 << 20},
              volt=(400, re.escape("mem_size_mib: 1048576 is out of range (2 to 65536)"),
                    "memory range")),
        patch("/machine-config", {"mem_size_mib": 0}, 400, re.escape(
            "The memory size (MiB) is either 0, or not a multiple of the configured page "
            "size.")),
        patch("/machine-config", {"mem_size_mib": 256}),
        patch("/machine-config", {"cpu_template": "None"}, hdr="deprecation"),
        get("/vm/config", check=lambda b: (b["machine-config"]["vcpu_count"],
                                           b["machine-config"]["mem_size_mib"],
                                           b["machine-config"]["smt"]) == (2, 256, False)),
    ],
    # test_negative_machine_config_api (the header; the log line is checked below)
    "machine_config_deprecation": [
        put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256, "cpu_template": "None"},
            hdr="deprecation"),
        patch("/machine-config", {"cpu_template": "None"}, hdr="deprecation"),
    ],
    # test_api_cpu_config
    "cpu_config": [
        put("/cpu-config", {"foo": False}, 400, ANY),
        put("/cpu-config", {"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
                                                 "modifiers": [{"register": "ecx",
                                                                "bitmap": "0bxxxx"}]}]}),
    ],
    # test_api_patch_pre_boot
    "patch_pre_boot": BASIC + [
        put("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{scratch}",
                                "is_root_device": False, "is_read_only": False}),
        put("/network-interfaces/1", {"iface_id": "1", "host_dev_name": "vtap1",
                                      "guest_mac": "06:00:00:00:00:01"}),
        patch("/boot-source", {"kernel_image_path": "otherfile"}, 400,
              "Invalid request method"),
        patch("/machine-config", {"vcpu_count": 4}),
        get("/machine-config", check=lambda b: b["vcpu_count"] == 4),
        patch("/logger", {"level": "Error"}, 400, "Invalid request method"),
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "foo.bar"}, 400,
              NOT_BEFORE),
        patch("/network-interfaces/1", {"iface_id": "1"}, 400, NOT_BEFORE),
        patch("/pmem/nonexistent", {"id": "nonexistent",
                                    "rate_limiter": {"ops": {"size": 1, "refill_time": 100}}},
              400, NOT_BEFORE),
        # test_drive_patch: before boot
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "foo.bar"}, 400,
              NOT_BEFORE),
    ],
    "drive_patch": drive_patch_rows("Sync"),
    "drive_patch_async": drive_patch_rows("Async"),
    # test_rate_limiters_api_config (drives, interfaces, entropy; pmem: volt has none)
    "rate_limiters": [
        put("/drives/bw", {"drive_id": "bw", "path_on_host": "{scratch}",
                           "is_read_only": False, "is_root_device": False,
                           "rate_limiter": {"bandwidth": {"size": 1000000,
                                                          "refill_time": 100}}}),
        put("/drives/ops", {"drive_id": "ops", "path_on_host": "{other}",
                            "is_read_only": False, "is_root_device": False,
                            "rate_limiter": {"ops": {"size": 1, "refill_time": 100}}}),
        put("/drives/bwops", {"drive_id": "bwops", "path_on_host": "{rootfs}",
                              "is_read_only": False, "is_root_device": False,
                              "rate_limiter": {"bandwidth": {"size": 1000000,
                                                             "refill_time": 100},
                                               "ops": {"size": 1, "refill_time": 100}}}),
        put("/drives/nada", {"drive_id": "nada", "path_on_host": "{scratch}",
                             "is_read_only": False, "is_root_device": False,
                             "rate_limiter": {}}),
        put("/network-interfaces/1", {"iface_id": "1", "guest_mac": "06:00:00:00:00:01",
                                      "host_dev_name": "vtap1", "tx_rate_limiter": {
                                          "bandwidth": {"size": 1000000,
                                                        "refill_time": 100}}}),
        put("/network-interfaces/2", {"iface_id": "2", "guest_mac": "06:00:00:00:00:02",
                                      "host_dev_name": "vtap2", "rx_rate_limiter": {
                                          "bandwidth": {"size": 1000000,
                                                        "refill_time": 100}}}),
        put("/entropy", {"rate_limiter": {"bandwidth": {"size": 1000000, "refill_time": 100},
                                          "ops": {"size": 1, "refill_time": 100}}}),
    ],
    # test_api_version (before boot)
    "version": [
        get("/version", check=lambda b: isinstance(b["firecracker_version"], str)),
        get("/", check=lambda b: {"id", "state", "vmm_version", "app_name"} <= set(b)
            and b["state"] == "Not started"),
    ],
    # test_api_vsock
    "vsock": BASIC + [
        put("/vsock", {"guest_cid": 15, "uds_path": "{tmp}/vsock.sock"}, nohdr="deprecation"),
        put("/vsock", {"guest_cid": 166, "uds_path": "{tmp}/vsock.sock"}),
        put("/vsock", {"vsock_id": "vsock1", "guest_cid": 15, "uds_path": "{tmp}/vsock.sock"},
            hdr="deprecation"),
        put("/vsock", {"vsock_id": "vsock1", "guest_cid": 166,
                       "uds_path": "{tmp}/vsock.sock"}, hdr="deprecation"),
    ],
    # test_get_full_config, before boot (without its pmem and memory-hotplug). No
    # cpu_template was given: the key is left out, as Firecracker does.
    "full_config": [
        put("/boot-source", {"kernel_image_path": "{echo}", "boot_args": ""}),
        put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}),
        put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                               "is_root_device": True, "is_read_only": True,
                               "io_engine": "Sync"}),
        put("/balloon", {"amount_mib": 1, "deflate_on_oom": True}),
        put("/vsock", {"guest_cid": 15, "uds_path": "vsock.sock"}),
        put("/network-interfaces/1", {"iface_id": "1", "guest_mac": "06:00:00:00:00:01",
                                      "host_dev_name": "vtap1", "tx_rate_limiter": TX_RL}),
        put("/mmds/config", {"version": "V2", "ipv4_address": "169.254.169.250",
                             "network_interfaces": ["1"], "imds_compat": True}),
        get("/vm/config", check=lambda b: full_config_is(b)),
    ],
    # serde's "missing field" for the fields Firecracker's structs require (swagger's
    # `required`), with serde's position: the body's closing brace.
    "missing_fields": [
        put("/boot-source", {"boot_args": "x"}, 400, SERDE + re.escape(
            "missing field `kernel_image_path` at line 1 column 18.")),
        put("/drives/d", {"drive_id": "d", "path_on_host": "{scratch}"}, 400,
            SERDE + re.escape("missing field `is_root_device`")),
        put("/network-interfaces/n", {"iface_id": "n"}, 400,
            SERDE + re.escape("missing field `host_dev_name` at line 1 column 17.")),
        put("/vsock", {"guest_cid": 3}, 400,
            SERDE + re.escape("missing field `uds_path` at line 1 column 16.")),
        put("/balloon", {"deflate_on_oom": True}, 400,
            SERDE + re.escape("missing field `amount_mib`")),
        put("/actions", {}, 400, SERDE + re.escape("missing field `action_type`")),
    ],
    # test_api_entropy
    "entropy": BASIC + [put("/entropy", {}), put("/entropy", {})],
    # test_api_memory_hotplug, booted with the echo guest: its PATCH (204) needs the guest's
    # virtio-mem driver, which the echo guest lacks; without it Firecracker's
    # update_requested_size refuses (DeviceNotActive), as volt does.
    "memory_hotplug": BASIC + [
        put("/hotplug/memory", {"total_size_mib": 1024, "block_size_mib": 128,
                                "slot_size_mib": 1024}),
        put("/hotplug/memory", {"total_size_mib": 1024}),
        get("/hotplug/memory", 400, NOT_BEFORE),
        patch("/hotplug/memory", {"requested_size_mib": 512}, 400, NOT_BEFORE),
        # Firecracker reads the body before its VMM answers (serde's words).
        put("/hotplug/memory", {"block_size_mib": 2}, 400,
            SERDE + re.escape("missing field `total_size_mib` at line 1 column 21")),
        patch("/hotplug/memory", {}, 400,
            SERDE + re.escape("missing field `requested_size_mib` at line 1 column 2")),
        put("/hotplug/memory", {"total_size_mib": 1024, "block_size_mib": 3}, 400,
            re.escape("Memory hotplug config error: Block size must be a power of 2")),
        get("/vm/config", check=lambda b: b["memory-hotplug"] == {
            "total_size_mib": 1024, "block_size_mib": 2, "slot_size_mib": 128}),
        put("/actions", {"action_type": "InstanceStart"}),
        put("/hotplug/memory", {"total_size_mib": 1024}, 400, NOT_AFTER),
        get("/hotplug/memory", check=lambda b: b["total_size_mib"] == 1024),
        patch("/hotplug/memory", {"requested_size_mib": 512}, 400, re.escape(
            "Memory hotplug update error: Failed to create memory hotplug device: Device is "
            "not active")),
        get("/hotplug/memory", check=lambda b: b["requested_size_mib"] == 0),
    ],
    # PUT|PATCH /pmem/{id} before boot: the body, then the path's id, then the VMM.
    "pmem_bodies": BASIC + [
        put("/pmem/p", {"id": "p"}, 400,
            SERDE + re.escape("missing field `path_on_host` at line 1 column 11")),
        put("/pmem/p", {"id": "q", "path_on_host": "{rootfs}"}, 400, re.escape(
            "The id from the path does not match the id from the body!")),
        put("/pmem/p", {"id": "p", "path_on_host": "{rootfs}", "root_device": False}),
        patch("/pmem/p", {}, 400, SERDE + re.escape("missing field `id` at line 1 column 2")),
        patch("/pmem/p", {"id": "p"}, 400, NOT_BEFORE),
    ],
    # test_api_balloon (before boot)
    "balloon": BASIC + [
        patch("/balloon", {"amount_mib": 0}, 400, ANY),
        put("/balloon", {"amount_mib": 1, "deflate_on_oom": True}),
        put("/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                         "stats_polling_interval_s": 5}),
        get("/balloon", check=lambda b: (b["amount_mib"], b["deflate_on_oom"],
                                         b["stats_polling_interval_s"]) == (0, False, 5)),
        patch("/balloon", {"amount_mib": 2}, 400, ANY),
        put("/balloon", {"amount_mib": 1024, "deflate_on_oom": False,
                         "stats_polling_interval_s": 5}, 400, ANY),
        get("/balloon/statistics", 400, NOT_BEFORE),
        patch("/balloon/statistics", {"stats_polling_interval_s": 5}, 400, NOT_BEFORE),
    ],
    # test_pmem_api (basic_config without a root drive), booted with the echo guest
    # (not Linux: the device is plugged in, no driver takes it), and the PUTs after boot.
    "pmem": BASIC[:2] + [
        put("/pmem/pmem", {"id": "pmem"}, 400, SERDE + re.escape(
            "missing field `path_on_host`")),
        put("/drives/drive", {"drive_id": "drive", "path_on_host": "{scratch}",
                              "is_root_device": True}),
        put("/pmem/pmem", {"id": "pmem", "path_on_host": "{scratch}", "root_device": True},
            400, re.escape("Attempt to add pmem as a root device while the root device "
                           "defined as a block device")),
        put("/drives/drive", {"drive_id": "drive", "path_on_host": "{scratch}",
                              "is_root_device": False}),
        put("/pmem/pmem", {"id": "pmem", "path_on_host": "{scratch}", "root_device": True}),
        put("/pmem/pmem2", {"id": "pmem2", "path_on_host": "{scratch}", "root_device": True},
            400, re.escape("A root pmem device already exist")),
        put("/drives/drive", {"drive_id": "drive", "path_on_host": "{scratch}",
                              "is_root_device": True},
            400, re.escape("Attempt to add block as a root device while the root device "
                           "defined as a pmem device")),
        put("/pmem/pmem", {"id": "pmem", "path_on_host": "{scratch}", "root_device": False}),
        put("/pmem/rootfs", {"id": "rootfs", "path_on_host": "{rootfs}", "root_device": True,
                             "read_only": True}),
        get("/vm/config", check=lambda b: [(d["id"], d["root_device"], d["read_only"])
                                           for d in b["pmem"]] == [
            ("pmem", False, False), ("rootfs", True, True)]),
        put("/actions", {"action_type": "InstanceStart"}),
        put("/pmem/pmem", {"id": "pmem"}, 400, ANY),
        put("/pmem/pmem3", {"id": "pmem3", "path_on_host": "{scratch}"}, 400,
            re.escape("PCI is not enabled")),
    ],
    # test_pmem_rate_limiter_api, booted with the echo guest.
    "pmem_rate_limiter": BASIC[:2] + [
        put("/pmem/pmem0", {"id": "pmem0", "path_on_host": "{scratch}", "rate_limiter": {
            "bandwidth": {"size": 1000000, "refill_time": 100},
            "ops": {"size": 10, "refill_time": 1000}}}),
        get("/vm/config", check=lambda b: (
            b["pmem"][0]["rate_limiter"]["bandwidth"]["size"],
            b["pmem"][0]["rate_limiter"]["ops"]["size"]) == (1000000, 10)),
        put("/pmem/pmem0", {"id": "pmem0", "path_on_host": "{scratch}"}),
        get("/vm/config", check=lambda b: b["pmem"][0]["rate_limiter"] is None),
        patch("/pmem/pmem0", {"id": "pmem0", "rate_limiter": {
            "bandwidth": {"size": 5000, "refill_time": 100}}}, 400, NOT_BEFORE),
        put("/pmem/rootfs", {"id": "rootfs", "path_on_host": "{rootfs}", "root_device": True,
                             "read_only": True}),
        put("/actions", {"action_type": "InstanceStart"}),
        patch("/pmem/pmem0", {"id": "pmem0", "rate_limiter": {
            "bandwidth": {"size": 5000, "refill_time": 100},
            "ops": {"size": 500, "refill_time": 100}}}),
        patch("/pmem/pmem0", {"id": "pmem0", "rate_limiter": {
            "bandwidth": {"size": 2000000, "refill_time": 200}}}),
        patch("/pmem/pmem0", {"id": "pmem0", "rate_limiter": {
            "ops": {"size": 100, "refill_time": 500}}}),
        patch("/pmem/pmem0", {"id": "pmem0"}),
        get("/vm/config", check=lambda b: (
            b["pmem"][0]["rate_limiter"]["bandwidth"]["size"],
            b["pmem"][0]["rate_limiter"]["ops"]["size"]) == (2000000, 100)),
    ],
    # test_negative_snapshot_load_api (the last, valid, request makes Firecracker exit)
    "snapshot_load": [
        put("/snapshot/load", {"snapshot_path": "foo", "mem_backend": {
            "backend_type": "File", "backend_path": "bar"}, "mem_file_path": "bar"}, 400,
            re.escape("too many fields: either `mem_backend` or `mem_file_path` exclusively "
                      "is required.")),
        put("/snapshot/load", {"snapshot_path": "foo", "mem_backend": {
            "backend_path": "bar"}}, 400, re.escape("missing field `backend_type`")),
        put("/snapshot/load", {"snapshot_path": "foo", "mem_backend": {
            "backend_type": "File"}}, 400, re.escape("missing field `backend_path`")),
        put("/snapshot/load", {"snapshot_path": "foo", "mem_backend": {
            "backend_type": "foo", "backend_path": "bar"}}, 400,
            re.escape("unknown variant `foo`, expected `File` or `Uffd`")),
        put("/snapshot/load", {"mem_backend": {"backend_type": "File",
                                               "backend_path": "bar"}}, 400,
            re.escape("missing field `snapshot_path`")),
        put("/snapshot/load", {"snapshot_path": "foo"}, 400, re.escape(
            "missing field: either `mem_backend` or `mem_file_path` is required")),
        put("/snapshot/load", {"snapshot_path": "foo", "mem_file_path": "bar"}, 400, ANY,
            hdr="deprecation"),
    ],
    # test_map_private_seccomp_regression, test_mmds_dummy (before boot)
    "mmds_store": [
        get("/mmds", check=lambda b: b == {}),
        put("/mmds", {"latest": {"meta-data": {"ami-id": "b" * 100}}}),
        get("/mmds", check=lambda b: b["latest"]["meta-data"]["ami-id"] == "b" * 100),
    ],
    "mmds_dummy": [
        put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "vtap0"}),
        put("/mmds/config", {"version": "V2", "network_interfaces": ["eth0"]}),
        get("/mmds", check=lambda b: b == {}),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "dummy"}}}, 400,
              re.escape("The MMDS data store is not initialized.")),
        put("/mmds", {"latest": {"meta-data": {"ami-id": "dummy"}}}),
        get("/mmds", check=lambda b: b == {"latest": {"meta-data": {"ami-id": "dummy"}}}),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "another_dummy",
                                                 "secret_key": "eaasda48141411aeaeae"}}}),
        get("/mmds", check=lambda b: b == {"latest": {"meta-data": {
            "ami-id": "another_dummy", "secret_key": "eaasda48141411aeaeae"}}}),
    ],
    # test_mmds_limit_scenario, as Firecracker runs it (SCENARIO_ARGS: the API reads
    # 512000 bytes, the store holds 51200).
    "mmds_limit_fc": [
        put("/mmds", {"latest": {"meta-data": {"ami-id": "dummy"}}}),
        put("/mmds", {"latest": {"meta-data": {"ami-id": "smth", "secret_key": "a" * 51200}}},
            413, ANY),
        get("/mmds", check=lambda b: b == {"latest": {"meta-data": {"ami-id": "dummy"}}}),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "smth", "secret_key": "a" * 51137}}}),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "smth", "secret_key2": "b" * 10}}},
              413, ANY),
        get("/mmds", check=lambda b: "b" * 10 not in str(b)),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "smth", "secret_key": "a"}}}),
        get("/mmds", check=lambda b: len(str(b).replace(" ", "")) == 59),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "smth", "secret_key": "a" * 100}}}),
    ],
    # --http-api-max-payload-size alone: the API's limit, and the store's (main.rs:
    # mmds_size_limit defaults to the payload limit).
    "payload_limit_raised": [
        put("/mmds", {"k": "a" * 70000}),
        get("/mmds", check=lambda b: len(b["k"]) == 70000),
        put("/mmds", {"k": "a" * 100001}, 400, re.escape(
            "Request payload with size 100010 is larger than the limit of 100000 allowed "
            "by server.")),
        patch("/mmds", {"k2": "b" * 40000}, 413, ANY),
        get("/mmds", check=lambda b: list(b) == ["k"]),
        put("/drives/" + "d" * 900, {"drive_id": "d" * 900, "path_on_host": "{rootfs}",
                                     "is_root_device": False, "is_read_only": True,
                                     "pad": "x" * 60000}, 400, ANY),
    ],
    "payload_limit_default": [
        put("/mmds", {"k": "a" * 51190}),
        put("/mmds", {"k": "a" * 51192}, 400, re.escape(
            "Request payload with size 51201 is larger than the limit of 51200 allowed "
            "by server.")),
    ],
    # test_mmds_limit_scenario's store with the API's default payload limit:
    # bodies that fit the API, a store that does not.
    "mmds_limit": [
        put("/mmds", {"latest": {"meta-data": {"ami-id": "dummy"}}}),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "smth", "secret_key": "a" * 51137}}}),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "smth", "secret_key2": "b" * 10}}},
              413, ANY),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "smth", "secret_key": "a"}}}),
        get("/mmds", check=lambda b: len(str(b).replace(" ", "")) == 59),
        patch("/mmds", {"latest": {"meta-data": {"ami-id": "smth", "secret_key": "a" * 100}}}),
        get("/mmds", check=lambda b: len(str(b).replace(" ", "")) == 158),
    ],
    # --- After InstanceStart (the echo guest keeps running; no Linux boots) ---
    # test_drive_io_engine (io_engine="Async"; Firecracker's io_engine fixture is both)
    "drive_io_engine_async": [
        put("/boot-source", {"kernel_image_path": "{echo}", "boot_args": "console=ttyS0"}),
        put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}),
        put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                               "is_root_device": True, "is_read_only": True,
                               "io_engine": "Async"}),
        put("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{scratch}",
                                "is_root_device": False, "is_read_only": False,
                                "io_engine": "Async"}),
        put("/actions", {"action_type": "InstanceStart"}),
        get("/vm/config", check=lambda b: [d["io_engine"] for d in b["drives"]]
            == ["Async", "Async"]),
    ],
    # test_api_put_update_pre_boot on x86_64: the machine with cpu_template "C3"
    "put_update_pre_boot_cpu_template": BASIC + [
        put("/machine-config", {"vcpu_count": 4, "smt": True, "mem_size_mib": 256,
                                "track_dirty_pages": True, "cpu_template": "C3"},
            hdr="deprecation"),
        get("/machine-config", check=lambda b: (b["vcpu_count"], b["smt"],
                                                b.get("cpu_template"),
                                                b["track_dirty_pages"])
            == (4, True, "C3", True)),
    ],
    # test_api_put_update_post_boot
    "put_update_post_boot": BASIC + [
        put("/network-interfaces/1", {"iface_id": "1", "host_dev_name": "{tap}",
                                      "guest_mac": "06:00:00:00:00:01"}),
        put("/actions", {"action_type": "InstanceStart"}),
        put("/boot-source", {"kernel_image_path": "{echo}"}, 400, NOT_AFTER),
        patch("/machine-config", {"vcpu_count": 4}, 400, NOT_AFTER),
        put("/machine-config", {"vcpu_count": 4, "mem_size_mib": 128}, 400, NOT_AFTER),
        put("/mmds/config", {"version": "V2", "ipv4_address": "169.254.169.250",
                             "network_interfaces": ["1"]}, 400, NOT_AFTER),
    ],
    # test_negative_api_patch_post_boot
    "patch_post_boot": BASIC + [
        put("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{scratch}",
                                "is_root_device": False, "is_read_only": False}),
        put("/network-interfaces/1", {"iface_id": "1", "host_dev_name": "{tap}",
                                      "guest_mac": "06:00:00:00:00:01"}),
        put("/actions", {"action_type": "InstanceStart"}),
        patch("/boot-source", {"kernel_image_path": "otherfile"}, 400,
              "Invalid request method"),
        patch("/machine-config", {"vcpu_count": 4}, 400, NOT_AFTER),
        patch("/logger", {"level": "Error"}, 400, "Invalid request method"),
    ],
    # test_rate_limiters_api_config: interface 3, both directions, both buckets
    "rate_limiters_rx_tx": [
        put("/network-interfaces/3", {"iface_id": "3", "guest_mac": "06:00:00:00:00:03",
                                      "host_dev_name": "vtap3",
                                      "rx_rate_limiter": {
                                          "bandwidth": {"size": 1000000, "refill_time": 100},
                                          "ops": {"size": 1, "refill_time": 100}},
                                      "tx_rate_limiter": {
                                          "bandwidth": {"size": 1000000, "refill_time": 100},
                                          "ops": {"size": 1, "refill_time": 100}}}),
    ],
    # test_api_machine_config, from its basic_config() to its end
    "machine_config_start": BASIC + [
        put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256,
                                "track_dirty_pages": False}),
        patch("/machine-config", {"mem_size_mib": 0}, 400, re.escape(
            "The memory size (MiB) is either 0, or not a multiple of the configured page "
            "size.")),
        patch("/machine-config", {"mem_size_mib": 256}),
        patch("/machine-config", {"cpu_template": "None"}, hdr="deprecation"),
        put("/actions", {"action_type": "InstanceStart"}),
        get("/vm/config", check=lambda b: (b["machine-config"]["vcpu_count"],
                                           b["machine-config"]["mem_size_mib"],
                                           b["machine-config"]["smt"]) == (2, 256, False)),
    ],
    # test_api_version (before and after boot: the same answer)
    "version_post_boot": BASIC + [
        get("/version", check=lambda b: keep("version", b)),
        put("/actions", {"action_type": "InstanceStart"}),
        get("/version", check=lambda b: b == KEPT["version"]),
    ],
    # test_api_vsock after boot
    "vsock_post_boot": BASIC + [
        put("/vsock", {"guest_cid": 15, "uds_path": "{tmp}/vsock.sock"}),
        put("/vsock", {"guest_cid": 166, "uds_path": "{tmp}/vsock.sock"}),
        put("/actions", {"action_type": "InstanceStart"}),
        put("/vsock", {"guest_cid": 17, "uds_path": "{tmp}/vsock.sock"}, 400, ANY),
    ],
    # test_api_entropy after boot
    "entropy_post_boot": BASIC + [
        put("/entropy", {}),
        put("/entropy", {}),
        put("/actions", {"action_type": "InstanceStart"}),
        put("/entropy", {}, 400, ANY),
    ],
    # test_api_memory_hotplug after boot, without a virtio-mem device
    "memory_hotplug_post_boot": BASIC + [
        put("/actions", {"action_type": "InstanceStart"}),
        put("/hotplug/memory", {"total_size_mib": 1024}, 400, NOT_AFTER),
    ],
    # test_api_balloon after boot. Its PATCH /balloon {"amount_mib": 4} (204) needs the
    # guest's balloon driver, which the echo guest lacks: without it Firecracker's
    # Balloon::update_size refuses (DeviceNotActive), the row kept here.
    "balloon_post_boot": BASIC + [
        put("/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                         "stats_polling_interval_s": 5}),
        put("/actions", {"action_type": "InstanceStart"}),
        patch("/balloon", {"amount_mib": 4}, 400,
              re.escape("Balloon update error: Balloon: Device not activated yet.")),
        patch("/balloon", {"amount_mib": 300}, 400, ANY),
        patch("/balloon/statistics", {"stats_polling_interval_s": 5}),
        get("/balloon", check=lambda b: (b["amount_mib"], b["deflate_on_oom"],
                                         b["stats_polling_interval_s"]) == (0, False, 5)),
        patch("/balloon", {"amount_mib": 33554432}, 400, ANY),
    ],
    # test_get_full_config: the same configuration after boot as before
    "full_config_post_boot": [
        put("/boot-source", {"kernel_image_path": "{echo}", "boot_args": ""}),
        put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}),
        put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                               "is_root_device": True, "is_read_only": True,
                               "io_engine": "Sync"}),
        put("/balloon", {"amount_mib": 1, "deflate_on_oom": True}),
        put("/vsock", {"guest_cid": 15, "uds_path": "{tmp}/vsock.sock"}),
        put("/network-interfaces/1", {"iface_id": "1", "guest_mac": "06:00:00:00:00:01",
                                      "host_dev_name": "{tap}", "tx_rate_limiter": TX_RL}),
        put("/mmds/config", {"version": "V2", "ipv4_address": "169.254.169.250",
                             "network_interfaces": ["1"], "imds_compat": True}),
        get("/vm/config", check=lambda b: keep("config", b)),
        put("/actions", {"action_type": "InstanceStart"}),
        get("/vm/config", check=lambda b: b == KEPT["config"]),
    ],
    # test_negative_snapshot_create: a running microVM
    "snapshot_create_running": BASIC + [
        put("/actions", {"action_type": "InstanceStart"}),
        put("/snapshot/create", {"mem_file_path": "{tmp}/memfile",
                                 "snapshot_path": "{tmp}/statefile", "snapshot_type": "Full"},
            400, "save/restore unavailable while running"),
    ],
    # test_serial_io.py: serial output to a file with a rate limiter
    "serial_rate_limiter": BASIC + [
        put("/serial", {"serial_out_path": "{tmp}/serial.log",
                        "rate_limiter": {"size": 1024, "one_time_burst": 65536,
                                         "refill_time": 1000}}),
        put("/actions", {"action_type": "InstanceStart"}),
    ],
    # test_metrics.py: metrics configured through the API, emit_id and properties
    "metrics_api": BASIC + [
        put("/metrics", {"metrics_path": "{tmp}/metrics.ndjson", "emit_id": True,
                         "properties": {"customer_id": "1234", "bundle_id": "fn-abc"}}),
        put("/actions", {"action_type": "InstanceStart"}),
        put("/actions", {"action_type": "FlushMetrics"}),
    ],
    # test_balloon.py's requests after boot, as Firecracker answers them for a guest
    # without a balloon driver (the echo guest): statistics and the hinting status are
    # the device's, starting or stopping a hinting run and resizing need the driver.
    "balloon_hinting": BASIC + [
        put("/balloon", {"amount_mib": 0, "deflate_on_oom": True,
                         "stats_polling_interval_s": 1, "free_page_reporting": True,
                         "free_page_hinting": True}),
        put("/actions", {"action_type": "InstanceStart"}),
        get("/balloon/statistics", check=lambda b: "actual_mib" in b),
        patch("/balloon/hinting/start", {}, 400, re.escape("Device not activated yet.")),
        get("/balloon/hinting/status", check=lambda b: "host_cmd" in b),
        patch("/balloon/hinting/stop", {}, 400, re.escape("Device not activated yet.")),
        patch("/balloon", {"amount_mib": 64}, 400, re.escape("Device not activated yet.")),
        patch("/balloon/statistics", {"stats_polling_interval_s": 2}),
    ],
    # test_load_snapshot_failure (test_snapshot_basic.py): empty snapshot files.
    # Firecracker then exits; volt keeps serving (docs/snapshots.md).
    "snapshot_load_empty_files": [
        put("/snapshot/load", {"mem_file_path": "{empty_mem}", "snapshot_path": "{empty_state}"},
            400, "IO Error: File too short to contain CRC", hdr="deprecation"),
    ],
    # test_negative_snapshot_permissions' chain of errors, for a state file that cannot
    # be opened (there: Permission denied, as a jailed user; here: a missing file)
    "snapshot_load_missing_state": [
        put("/snapshot/load", {"mem_file_path": "{empty_mem}", "snapshot_path": "{tmp}/none"},
            400, re.escape("Load snapshot error: Failed to restore from snapshot: Failed to "
                           "get snapshot state from file: Failed to open snapshot file: No "
                           "such file or directory (os error 2)")),
    ],
    # test_pause_resume.py: pausing or resuming before InstanceStart
    "pause_resume_pre_boot": BASIC + [
        patch("/vm", {"state": "Paused"}, 400, "not supported before starting the microVM"),
        patch("/vm", {"state": "Resumed"}, 400, "not supported before starting the microVM"),
    ],
    # test_cmd_line_parameters.py: --metrics-path, then PUT /metrics
    "metrics_cli_then_api": [
        put("/metrics", {"metrics_path": "{tmp}/metrics2.ndjson"}, 400,
            re.escape("Reinitialization of metrics not allowed.")),
    ],
    # test_max_devices.py::test_attach_maximum_devices (x86_64 without PCI: 17 devices,
    # the root drive and 16 interfaces, start). Each needs an interrupt line: a PVM host
    # has 9 (its guest runs without an I/O APIC), so there InstanceStart fails as
    # Firecracker's does with one device too many; with real VT, 17 start.
    "max_devices": [
        put("/boot-source", {"kernel_image_path": "{echo}", "boot_args": "console=ttyS0"}),
        put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 512}),
        BASIC[2],
    ] + ifaces(16) + [
        put("/actions", {"action_type": "InstanceStart"},
            volt=(400, GSI + r" \(17 virtio devices configured; this host has 9 ",
                  "a PVM host's guest has the 8259's 9 lines for virtio devices")
            if host_is_pvm() else None),
    ],
    # test_max_devices.py::test_attach_too_many_devices: 18 devices are accepted at PUT,
    # InstanceStart fails (on any host)
    "max_devices_too_many": BASIC + ifaces(17) + [
        put("/actions", {"action_type": "InstanceStart"}, 400, GSI),
    ],
    # test_logging.py::test_api_requests_logs: the logger configured, then again
    "logger_twice": BASIC + [
        put("/logger", {"log_path": "{tmp}/log", "level": "Info", "show_level": True,
                        "show_log_origin": True}),
        patch("/machine-config", {"vcpu_count": 4}),
        put("/machine-config", {"vcpu_count": 4, "mem_size_mib": 128}),
        put("/logger", {"log_path": "{tmp}/new_log", "level": "Info", "show_level": True,
                        "show_log_origin": True}),
        put("/mmds", {"json": {"latest": {"meta-data": {"ami-id": "dummy"}}}}),
        patch("/mmds", {"json": {"latest": {"meta-data": {"ami-id": "dummy"}}}}),
        get("/mmds", check=lambda b: b == {"json": {"latest": {"meta-data": {
            "ami-id": "dummy"}}}}),
    ],
    # test_send_ctrl_alt_del, up to the guest's reboot (the echo guest has no i8042 driver)
    "ctrl_alt_del": BASIC + [
        put("/actions", {"action_type": "SendCtrlAltDel"}, 400, NOT_BEFORE),
        put("/actions", {"action_type": "InstanceStart"}),
        put("/actions", {"action_type": "SendCtrlAltDel"}),
    ],
    # Not asserted by Firecracker's tests (its source's message): GET /balloon without one
    "balloon_get_none": BASIC + [
        get("/balloon", 400, re.escape("Balloon config error: No balloon device found.")),
    ],
    # AUDIT2: test_max_vcpus.py is gone from Firecracker 1.16; its limit, from the source
    # (vmm_config/machine_config.rs, MAX_SUPPORTED_VCPUS = 32, InvalidVcpuCount)
    # AUDIT2: Firecracker's PUT /vsock takes any u32 guest_cid (vmm_config/vsock.rs checks
    # none; the socket is bound at PUT), 0-2 included
    # Firecracker takes any guest_cid; volt refuses the reserved ones (docs/api.md).
    "vsock_reserved_cid": [
        put("/vsock", {"guest_cid": 2, "uds_path": "{tmp}/vsock.sock"},
            volt=(400, "guest_cid: 2 is reserved", "a guest cannot use the host's CID")),
        put("/vsock", {"guest_cid": 0, "uds_path": "{tmp}/vsock.sock"},
            volt=(400, "guest_cid: 0 is reserved", "0-2 are not a guest's CIDs")),
    ],
    "max_vcpus": [
        put("/machine-config", {"vcpu_count": 32, "mem_size_mib": 256}),
        put("/machine-config", {"vcpu_count": 33, "mem_size_mib": 256}, 400, re.escape(
            "Machine config error: The number of vCPUs must be greater than 0, less than 32 "
            "and must be 1 or an even number if SMT is enabled.")),
        put("/machine-config", {"vcpu_count": 0, "mem_size_mib": 256}, 400, re.escape(
            "Machine config error: The number of vCPUs must be greater than 0, less than 32 "
            "and must be 1 or an even number if SMT is enabled.")),
    ],
    # --- AUDIT3a: test_drive_virtio.py, test_rng.py, test_net.py, test_huge_pages.py ---
    # test_drive_virtio.py::test_device_ordering: scratch1, then the root device, then
    # scratch2. Firecracker's BlockBuilder puts a new root drive first: the guest sees
    # rootfs, scratch1, scratch2 (vda, vdb, vdc), and GET /vm/config lists them so.
    "drive_ordering": [
        put("/drives/scratch1", {"drive_id": "scratch1", "path_on_host": "{scratch}",
                                 "is_root_device": False, "is_read_only": False}),
    ] + BASIC + [
        put("/drives/scratch2", {"drive_id": "scratch2", "path_on_host": "{other}",
                                 "is_root_device": False, "is_read_only": False}),
        get("/vm/config", check=lambda b: [d["drive_id"] for d in b["drives"]] == [
            "rootfs", "scratch1", "scratch2"]),
        put("/actions", {"action_type": "InstanceStart"}),
    ],
    # Firecracker's source (BlockBuilder::insert): a drive that becomes root trades
    # places with the first drive
    "drive_made_root_swaps": BASIC[:2] + [
        put(f"/drives/{i}", {"drive_id": i, "path_on_host": "{scratch}",
                             "is_root_device": False, "is_read_only": True})
        for i in ("a", "b", "c")
    ] + [
        put("/drives/c", {"drive_id": "c", "path_on_host": "{rootfs}",
                          "is_root_device": True, "is_read_only": True}),
        get("/vm/config", check=lambda b: [d["drive_id"] for d in b["drives"]] == [
            "c", "b", "a"]),
    ],
    # test_partuuid_update: the root device with a PARTUUID, then PUT again without one
    "drive_partuuid_update": BASIC[:2] + [
        put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                               "is_root_device": True, "is_read_only": False,
                               "partuuid": "0eaa91a0-01"}),
        get("/vm/config", check=lambda b: b["drives"][0]["partuuid"] == "0eaa91a0-01"),
        put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                               "is_root_device": True, "is_read_only": False}),
        get("/vm/config", check=lambda b: [(d["drive_id"], d["partuuid"], d["is_root_device"])
                                           for d in b["drives"]] == [("rootfs", None, True)]),
        put("/actions", {"action_type": "InstanceStart"}),
    ],
    # test_non_partuuid_boot (a read-only scratch) and test_flush (cache_type Writeback)
    "drive_read_only_writeback": BASIC[:2] + [
        put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                               "is_root_device": True, "is_read_only": False,
                               "cache_type": "Writeback", "io_engine": "Sync"}),
        put("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{scratch}",
                                "is_root_device": False, "is_read_only": True}),
        get("/vm/config", check=lambda b: [(d["cache_type"], d["is_read_only"])
                                           for d in b["drives"]] == [("Writeback", False),
                                                                     ("Unsafe", True)]),
        put("/actions", {"action_type": "InstanceStart"}),
    ],
    # test_rng.py: PUT /entropy without a limiter (rate_limiter None is left out), then
    # with a bandwidth bucket only (test_rng_bw_rate_limiter)
    "entropy_rng": BASIC + [
        put("/entropy", {}),
        get("/vm/config", check=lambda b: b["entropy"] == {"rate_limiter": None}),
        put("/entropy", {"rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 100}}}),
        get("/vm/config", check=lambda b: b["entropy"] == {"rate_limiter": {
            "bandwidth": {"size": 1000, "one_time_burst": None, "refill_time": 100},
            "ops": None}}),
        put("/actions", {"action_type": "InstanceStart"}),
        put("/entropy", {}, 400, NOT_AFTER),
    ],
    # Firecracker's source (Net::new, NetError::InvalidMtu): an mtu below 68; above
    # 65535 serde's u16 error
    "net_mtu_range": [
        put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "{tap}_0",
                                         "mtu": 67}, 400, re.escape(
            "Could not create the network device: MTU 67 is out of range [68, 65535]")),
        put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "{tap}_0",
                                         "mtu": 65536}, 400,
            # (the TAP's name, and so the column, differs from run to run)
            SERDE + re.escape("invalid value: integer `65536`, expected u16 at line 1 "
                              "column ") + r"\d+\.$"),
        put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "{tap}_0",
                                         "mtu": 68}),
    ],
    # test_net.py::test_tap_mtu_advertised_to_guest (three interfaces, MTUs 1450, 1500,
    # 8935) and test_device_reset (MMDS V2 on eth1, PUT /mmds {"key": "value"})
    "net_mtu_mmds": BASIC + [
        put(f"/network-interfaces/eth{i}", {"iface_id": f"eth{i}",
                                            "host_dev_name": f"{{tap}}_{i}",
                                            "guest_mac": f"06:00:00:00:01:{i:02x}",
                                            "mtu": mtu})
        for i, mtu in ((0, 1450), (1, 1500), (2, 8935))
    ] + [
        put("/mmds/config", {"network_interfaces": ["eth1"], "version": "V2"}),
        put("/mmds", {"key": "value"}),
        put("/actions", {"action_type": "InstanceStart"}),
        get("/vm/config", check=lambda b: [n["mtu"] for n in b["network-interfaces"]] == [
            1450, 1500, 8935]),
        get("/mmds", check=lambda b: b == {"key": "value"}),
    ],
    # Firecracker's docs/ballooning.md:293 sends {"stats_polling_interval_s": N} to
    # PATCH /balloon, and the other post-boot PATCHes of its docs before boot:
    # Firecracker's API thread parses the body (serde) before its VMM says "not before".
    "docs_post_boot_bodies_before_boot": BASIC + [
        patch("/balloon", {"stats_polling_interval_s": 1}, 400,
              "unknown field `stats_polling_interval_s`"),
        patch("/balloon", {"amount_mib": "bar"}, 400, 'string "bar", expected u32'),
        patch("/balloon", {"amount_mib": 1}, 400, NOT_BEFORE),
        patch("/balloon/statistics", {"stats_polling_interval_s": 1, "x": 1}, 400,
              "unknown field `x`"),
        patch("/balloon/statistics", {"stats_polling_interval_s": 1}, 400, NOT_BEFORE),
        patch("/balloon/hinting/start", {"acknowledge_on_stop": 1}, 400,
              "expected a boolean"),
        patch("/balloon/hinting/start", {"acknowledge_on_stop": True}, 400, NOT_BEFORE),
        patch("/balloon/hinting/stop", {}, 400, NOT_BEFORE),
        patch("/drives/scratch", {"drive_id": "scratch", "is_read_only": True}, 400,
              "unknown field `is_read_only`"),
        patch("/drives/scratch", {"drive_id": "other", "path_on_host": "{other}"}, 400,
              re.escape("The id from the path does not match the id from the body!")),
        patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "{other}"}, 400,
              NOT_BEFORE),
        patch("/network-interfaces/eth0", {"iface_id": "eth0", "guest_mac": "x"}, 400,
              "unknown field `guest_mac`"),
        patch("/network-interfaces/eth0", {"iface_id": "eth0"}, 400, NOT_BEFORE),
        patch("/vm", {"state": "Foo"}, 400, "Foo"),
        patch("/vm", {"state": "Paused"}, 400, NOT_BEFORE),
        put("/snapshot/create", {"snapshot_path": "s"}, 400, "missing field `mem_file_path`"),
        put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": "s",
                                 "mem_file_path": "m"}, 400, NOT_BEFORE),
    ],
    # docs/logger.md and docs/metrics.md configure both through the API; Firecracker's
    # GET /vm/config shows neither (From<&VmResources> for VmmConfig: logger and
    # metrics None), as its test_api.py's expected configurations say
    "docs_logger_metrics_not_in_vm_config": [
        put("/logger", {"log_path": "{other}", "level": "Warning", "show_level": False,
                        "show_log_origin": False}),
        put("/metrics", {"metrics_path": "{scratch}", "emit_id": True,
                         "properties": {"customer_id": "1234", "bundle_id": "fn-abc"}}),
        get("/vm/config", check=lambda b: (b["logger"], b["metrics"]) == (None, None)),
    ],
    # docs/api_requests/actions.md's InstanceStart with no boot source yet
    # (StartMicrovmError::MissingKernelConfig), and its actions that need a running VM
    "docs_actions_before_config": [
        put("/actions", {"action_type": "FlushMetrics"}, 400, NOT_BEFORE),
        put("/actions", {"action_type": "SendCtrlAltDel"}, 400, NOT_BEFORE),
        put("/actions", {"action_type": "InstanceStart"}, 400, re.escape(
            "Start microvm error: Cannot start microvm without kernel configuration.")),
    ],
    # rpc_interface.rs flush_metrics: METRICS.write() without metrics configured is
    # Ok(false) ("no error is thrown"), so FlushMetrics answers 204 and writes nothing
    "flush_metrics_unconfigured": BASIC + [
        put("/actions", {"action_type": "InstanceStart"}),
        put("/actions", {"action_type": "FlushMetrics"}),
    ],
    # docs/ballooning.md: statistics cannot be turned off after boot (BalloonError::
    # StatisticsStateChange through VmmActionError::BalloonUpdate)
    "docs_balloon_stats_state_change": BASIC + [
        put("/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                         "stats_polling_interval_s": 1}),
        put("/actions", {"action_type": "InstanceStart"}),
        patch("/balloon/statistics", {"stats_polling_interval_s": 0}, 400, re.escape(
            "Balloon update error: Balloon: Statistics cannot be enabled/disabled after "
            "activation.")),
    ],
}


# Flags a scenario's volt starts with (Firecracker's test passes them to its jailer).
SCENARIO_ARGS = {
    "mmds_limit_fc": ["--http-api-max-payload-size", "512000", "--mmds-size-limit", "51200"],
    "payload_limit_raised": ["--http-api-max-payload-size", "100000"],
    "drive_patch": ["--snapshot-dir", "{tmp}"],
    "drive_patch_async": ["--snapshot-dir", "{tmp}"],
    "snapshot_create_running": ["--snapshot-dir", "{tmp}"],
    "snapshot_load_empty_files": ["--snapshot-dir", "{tmp}"],
    "metrics_cli_then_api": ["--metrics-path", "{tmp}/metrics.ndjson"],
}


@pytest.fixture
def env(tmp_path):
    files = {}
    for name in ("rootfs", "scratch", "other"):
        f = tmp_path / f"{name}.ext4"
        f.write_bytes(b"\0" * 65536)
        files[name] = str(f)
    for name in ("empty_mem", "empty_state"):
        f = tmp_path / name
        f.write_bytes(b"")
        files[name] = str(f)
    FULL_ENV.clear()
    # a TAP name of this test's own (volt opens it at InstanceStart)
    tap = f"fc{os.getpid() % 100000}c{len(list(tmp_path.parent.iterdir()))}"[:15]
    FULL_ENV.update({"tmp": str(tmp_path), "echo": str(GUESTS / "echo"), "tap": tap,
                     **files})
    return dict(FULL_ENV)


def start(vm, tmp_path, *args):
    return start_api(vm, tmp_path, "--id", "conformance", *args)


def answers_as_wanted(row, status, hdrs, body):
    want_status, want_fault = row.status, row.fault
    if row.volt:
        want_status, want_fault = row.volt[0], row.volt[1]
    ok = status == want_status
    if want_fault is not None:
        # The API's faults, or the HTTP layer's "error" (Firecracker's framework reads both).
        msg = body.get("fault_message", body.get("error")) if body else None
        ok = ok and msg is not None and re.search(want_fault, msg) is not None
    if ok and row.check:
        ok = row.check(body)
    if row.hdr:
        ok = ok and row.hdr in hdrs
    if row.nohdr:
        ok = ok and row.nohdr not in hdrs
    return ok


@pytest.mark.parametrize("name", SCENARIOS)
def test_firecracker_rows(name, vm, tmp_path, env):
    api = start(vm, tmp_path, *fills(SCENARIO_ARGS.get(name, []), env))
    wrong = []  # every row is sent, so that one report lists every difference
    for i, row in enumerate(SCENARIOS[name]):
        status, hdrs, body = send(api, row, env)
        if not answers_as_wanted(row, status, hdrs, body):
            wrong.append(f"step {i}: {row!r} -> {status} {body} {sorted(hdrs)}")
    assert not wrong, "\n".join(wrong)
    assert api.proc.proc.poll() is None, "volt exited"


def test_deprecation_logged(vm, tmp_path):
    """test_negative_machine_config_api: Firecracker logs which field is deprecated."""
    api = start(vm, tmp_path)
    assert api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256,
                                       "cpu_template": "None"})[0] == 204
    assert api.patch("/machine-config", {"cpu_template": "None"})[0] == 204
    api.proc.wait_for("PUT /machine-config: cpu_template field is deprecated.", 10)
    api.proc.wait_for("PATCH /machine-config: cpu_template field is deprecated.", 10)


BOOT_ARGS = "reboot=k panic=1 nomodule swiotlb=noforce console=ttyS0 cryptomgr.notests pci=off"

# test_get_full_config_after_restoring_snapshot (without its pmem and memory-hotplug:
# the echo guest does not drive pmem; volt has no memory hotplug), then test_negative_postload_api on the restored VMM.
SNAPSHOT_BASE = [
    put("/boot-source", {"kernel_image_path": "{echo}", "boot_args": BOOT_ARGS}),
    put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}),
    put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "{rootfs}",
                           "is_root_device": True, "is_read_only": True}),
    put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "{tap}",
                                     "guest_mac": "06:00:ac:10:00:02"}),
    patch("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256, "smt": True,
                              "track_dirty_pages": False, "huge_pages": "None"}),
    put("/balloon", {"amount_mib": 1, "deflate_on_oom": True}),
    put("/vsock", {"guest_cid": 15, "uds_path": "{tmp}/vsock.sock"}),
    put("/mmds/config", {"version": "V1", "network_interfaces": ["eth0"]}),
    put("/actions", {"action_type": "InstanceStart"}),
    patch("/network-interfaces/eth0", {"iface_id": "eth0", "tx_rate_limiter": TX_RL}),
    patch("/vm", {"state": "Paused"}),
    put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": "{tmp}/vmstate",
                             "mem_file_path": "{tmp}/mem"}),
]


def restored_config_is(b):
    env = FULL_ENV
    want = {
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 256, "smt": True,
                           "track_dirty_pages": False, "huge_pages": "None"},
        "cpu-config": None,
        "boot-source": {"kernel_image_path": env["echo"], "initrd_path": None,
                        "boot_args": BOOT_ARGS},
        "drives": [{"drive_id": "rootfs", "partuuid": None, "is_root_device": True,
                    "cache_type": "Unsafe", "is_read_only": True,
                    "path_on_host": env["rootfs"], "rate_limiter": None,
                    "io_engine": "Sync", "socket": None}],
        "pmem": [],
        "balloon": {"amount_mib": 1, "deflate_on_oom": True, "stats_polling_interval_s": 0,
                    "free_page_reporting": False, "free_page_hinting": False},
        "vsock": {"guest_cid": 15, "uds_path": env["tmp"] + "/vsock.sock"},
        "memory-hotplug": None,
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": env["tap"],
                                "guest_mac": "06:00:ac:10:00:02", "mtu": None,
                                "rx_rate_limiter": None, "tx_rate_limiter": TX_RL}],
        "logger": None,
        "metrics": None,
        "mmds-config": {"version": "V1", "ipv4_address": "169.254.169.254",
                        "network_interfaces": ["eth0"], "imds_compat": False},
        "entropy": None,
    }
    got = json.loads(json.dumps(b))
    assert got == want, {k: got.get(k) for k in want if got.get(k) != want[k]}
    return True


SNAPSHOT_RESTORED = [
    put("/snapshot/load", {"snapshot_path": "{tmp}/vmstate",
                           "mem_backend": {"backend_type": "File",
                                           "backend_path": "{tmp}/mem"}}),
    get("/vm/config", check=restored_config_is),
    put("/actions", {"action_type": "InstanceStart"}, 400, NOT_AFTER),
    put("/boot-source", {"kernel_image_path": "{echo}", "boot_args": BOOT_ARGS}, 400,
        NOT_AFTER),
]

# test_rng.py::uvm_with_rng_restored: an entropy device with a rate limiter, snapshot,
# restore; with huge_pages "Transparent" (test_huge_pages.py), which the restored
# configuration keeps (Firecracker's VmInfo.huge_pages)
RNG_RL = {"bandwidth": {"size": 1000, "one_time_burst": None, "refill_time": 100},
          "ops": None}
SNAPSHOT_BASE_RNG = [
    put("/boot-source", {"kernel_image_path": "{echo}", "boot_args": BOOT_ARGS}),
    put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256,
                            "huge_pages": "Transparent"}),
    put("/entropy", {"rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 100}}}),
    put("/actions", {"action_type": "InstanceStart"}),
    patch("/vm", {"state": "Paused"}),
    put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": "{tmp}/vmstate_rng",
                             "mem_file_path": "{tmp}/mem_rng"}),
]
SNAPSHOT_RESTORED_RNG = [
    put("/snapshot/load", {"snapshot_path": "{tmp}/vmstate_rng", "resume_vm": True,
                           "mem_backend": {"backend_type": "File",
                                           "backend_path": "{tmp}/mem_rng"}}),
    get("/vm/config", check=lambda b: (b["entropy"], b["machine-config"]["huge_pages"]) == (
        {"rate_limiter": RNG_RL}, "Transparent")),
    get("/", check=lambda b: b["state"] == "Running"),
]

# Microvm.restore_from_snapshot's request with the optional fields it may send
# (test_snapshot_rename_vsock, the renamed TAPs, huge pages).
SNAPSHOT_RESTORED_OVERRIDES = [
    put("/snapshot/load", {"mem_backend": {"backend_type": "File",
                                           "backend_path": "{tmp}/mem"},
                           "snapshot_path": "{tmp}/vmstate", "enable_diff_snapshots": False,
                           "resume_vm": True,
                           "network_overrides": [{"iface_id": "eth0",
                                                  "host_dev_name": "{tap}"}],
                           "vsock_override": {"uds_path": "{tmp}/v.sock2"},
                           "huge_pages": "None"}),
    get("/", check=lambda b: b["state"] == "Running"),
    get("/vm/config", check=lambda b: b["vsock"]["uds_path"] == FULL_ENV["tmp"] + "/v.sock2"),
]

# docs/snapshotting/snapshot-support.md: PUT /snapshot/load's huge_pages takes
# "Snapshot" (the default), "None", "Transparent" or "2M" (hugetlbfs: not with a File
# backend); the restored machine uses it (persist.rs: params.huge_pages.resolve())
def huge_pages_is(want):
    return lambda b: b["machine-config"]["huge_pages"] == want


def snapshot_load_huge(huge, want, suffix=""):
    return [
        put("/snapshot/load", {"snapshot_path": "{tmp}/vmstate" + suffix, "huge_pages": huge,
                               "mem_backend": {"backend_type": "File",
                                               "backend_path": "{tmp}/mem" + suffix}}),
        get("/vm/config", check=huge_pages_is(want)),
    ]


# test_uffd.py: a Uffd backend whose socket is missing, or is not listening
UFFD_PREFIX = ("Load snapshot error: Failed to restore from snapshot: Failed to load guest "
               "memory: Error creating guest memory from uffd: Failed to connect to UDS Unix "
               "stream: ")
SNAPSHOT_UFFD_MISSING = [
    put("/snapshot/load", {"mem_backend": {"backend_type": "Uffd",
                                           "backend_path": "{tmp}/inexistent"},
                           "snapshot_path": "{tmp}/vmstate"}, 400,
        re.escape(UFFD_PREFIX + "No such file or directory (os error 2)")),
]
SNAPSHOT_UFFD_REFUSED = [
    put("/snapshot/load", {"mem_backend": {"backend_type": "Uffd",
                                           "backend_path": "{other}"},
                           "snapshot_path": "{tmp}/vmstate"}, 400,
        re.escape(UFFD_PREFIX + "Connection refused (os error 111)")),
]

# test_vsock.py::test_vsock_override_fails_without_device
SNAPSHOT_BASE_NO_VSOCK = BASIC + [
    put("/actions", {"action_type": "InstanceStart"}),
    patch("/vm", {"state": "Paused"}),
    put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": "{tmp}/vmstate2",
                             "mem_file_path": "{tmp}/mem2"}),
]
SNAPSHOT_VSOCK_OVERRIDE_NO_DEVICE = [
    put("/snapshot/load", {"mem_backend": {"backend_type": "File",
                                           "backend_path": "{tmp}/mem2"},
                           "snapshot_path": "{tmp}/vmstate2", "resume_vm": True,
                           "vsock_override": {"uds_path": "{tmp}/v.sock2"}}, 400,
        "Unknown Vsock Device"),
]

# test_negative_snapshot_permissions: a memory file that cannot be opened (there:
# Permission denied, as a jailed user; here: a missing file)
SNAPSHOT_MEM_MISSING = [
    put("/snapshot/load", {"mem_backend": {"backend_type": "File",
                                           "backend_path": "{tmp}/inexistent"},
                           "snapshot_path": "{tmp}/vmstate"}, 400,
        re.escape("Load snapshot error: Failed to restore from snapshot: Failed to load guest "
                  "memory: Error creating guest memory from file: Failed to load guest memory: "
                  "No such file or directory (os error 2)")),
]

# test_clocksource_snapshot_restore[clock_realtime=True] (kvm-clock, host Linux >= 5.16)
SNAPSHOT_RESTORED_CLOCK_REALTIME = [
    put("/snapshot/load", {"mem_backend": {"backend_type": "File",
                                           "backend_path": "{tmp}/mem"},
                           "snapshot_path": "{tmp}/vmstate", "enable_diff_snapshots": False,
                           "resume_vm": True, "clock_realtime": True}),
]


def test_firecracker_restored_rows(vm, tmp_path, env):
    """Each stage on a VMM of its own: a snapshot made, then loaded in several ways."""
    wrong = []
    for name, rows in (("base", SNAPSHOT_BASE), ("restored", SNAPSHOT_RESTORED),
                       ("restored_thp", snapshot_load_huge("Transparent", "Transparent")),
                       ("overrides", SNAPSHOT_RESTORED_OVERRIDES),
                       ("clock_realtime", SNAPSHOT_RESTORED_CLOCK_REALTIME),
                       ("mem_missing", SNAPSHOT_MEM_MISSING),
                       ("uffd_missing", SNAPSHOT_UFFD_MISSING),
                       ("uffd_refused", SNAPSHOT_UFFD_REFUSED),
                       ("base_no_vsock", SNAPSHOT_BASE_NO_VSOCK),
                       ("vsock_override_no_device", SNAPSHOT_VSOCK_OVERRIDE_NO_DEVICE),
                       ("base_rng", SNAPSHOT_BASE_RNG), ("restored_rng", SNAPSHOT_RESTORED_RNG),
                       ("restored_rng_none", snapshot_load_huge("None", "None", "_rng")),
                       ("restored_rng_snapshot", snapshot_load_huge("Snapshot", "Transparent",
                                                                   "_rng"))):
        api = start(vm, tmp_path, "--snapshot-dir", str(tmp_path))
        for i, row in enumerate(rows):
            status, hdrs, body = send(api, row, env)
            try:
                ok = answers_as_wanted(row, status, hdrs, body)
            except AssertionError as e:  # restored_config_is names what differs
                ok, body = False, e
            if not ok:
                wrong.append(f"{name} step {i}: {row!r} -> {status} {body}")
        api.proc.kill()
    assert not wrong, "\n".join(wrong)
