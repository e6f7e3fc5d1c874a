"""The Firecracker-compatible API (`volt --api-sock`) and `--config-file`.

Driven with plain http.client over AF_UNIX (api_client.py), as Firecracker's
own tools would. One guest-kit boot carries the whole lifecycle (configure,
InstanceStart, pause/resume, balloon, metrics, SendCtrlAltDel -> exit 0); a
second boots Firecracker's documented vm_config.json unchanged but for its
paths. The error classes need no guest and run against a VMM waiting for
configuration (and one whose InstanceStart failed).

VOLT_API_TEST_ARGS adds volt options to every start (e.g. "--seccomp=log"
while debugging an allow-list).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, run_volt

DATA = Path(__file__).resolve().parent / "data"
EXTRA = os.environ.get("VOLT_API_TEST_ARGS", "").split()
BOOT_TIMEOUT = 600


@pytest.fixture
def api_vm(vm, tmp_path):
    """Starts `volt --api-sock` and returns (VoltProcess, ApiClient)."""
    def start(*args, stdin=subprocess.DEVNULL):
        sock = tmp_path / f"api-{time.monotonic_ns()}.sock"
        p = vm("--api-sock", sock, "--id", "test-vm", *EXTRA, *args, stdin=stdin)
        wait_for_socket(sock, p.proc)
        return p, ApiClient(sock)
    return start


def fault(resp):
    """(status, message): the API's fault_message, or the HTTP layer's error (micro_http's
    answer to a request it cannot take, a body over the limit among them)."""
    status, body = resp
    msg = body.get("fault_message", body.get("error")) if body else None
    assert isinstance(msg, str), resp
    return status, msg


def check_fault(resp, status, *needles):
    got, msg = fault(resp)
    assert got == status, (resp, status)
    for n in needles:
        assert n in msg, (msg, n)


# --- errors: every class, with a VMM that keeps running ---------------------------

def test_error_classes(api_vm, tmp_path):
    p, api = api_vm()
    kernel = GUESTS / "hello"

    # unknown path or wrong method on a known path -> 400, Firecracker's message
    check_fault(api.get("/no-such-thing"), 400,
                "Invalid request method and/or path: GET no-such-thing.")
    check_fault(api.request("DELETE", "/machine-config"), 400, "DELETE machine-config")
    check_fault(api.get("/boot-source"), 400, "GET boot-source")
    check_fault(api.put("/vm", {"state": "Paused"}), 400, "PUT vm")
    # bad JSON
    check_fault(api.put("/boot-source", b'{"kernel_image_path": '), 400, "invalid JSON")
    # serde's words: a body of the wrong type ([1, 2] would be serde_derive's sequence form
    # of a MachineConfig, which Firecracker takes)
    check_fault(api.put("/machine-config", b'"x"'), 400,
                'invalid type: string "x", expected struct MachineConfig at line 1 column 3.')
    # unknown fields, named
    check_fault(api.put("/boot-source", {"kernel_image_path": str(kernel), "kernel": "x"}),
                400, "unknown field `kernel`")
    check_fault(api.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "/x",
                                           "is_root_device": False, "readonly": True}),
                400, "unknown field `readonly`")
    # wrong types
    check_fault(api.put("/machine-config", {"vcpu_count": "2", "mem_size_mib": 128}), 400,
                'invalid type: string "2", expected u8 at line 1 column 18.')
    check_fault(api.put("/balloon", {"amount_mib": 1, "deflate_on_oom": "yes"}), 400,
                'invalid type: string "yes", expected a boolean at line 1 column 41.')
    # missing required fields
    check_fault(api.put("/boot-source", {"boot_args": "quiet"}), 400, "kernel_image_path")
    check_fault(api.put("/vsock", {"guest_cid": 3}), 400, "uds_path")
    # out of range / unsupported values
    check_fault(api.put("/machine-config", {"vcpu_count": 33, "mem_size_mib": 128}), 400,
                "The number of vCPUs must be greater than 0, less than 32")
    check_fault(api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 1}), 400,
                "mem_size_mib")
    check_fault(api.put("/machine-config", {"vcpu_count": 3, "smt": True, "mem_size_mib": 128}),
                400, "1 or an even number if SMT is enabled")
    assert api.patch("/machine-config", {"track_dirty_pages": True}) == (204, None)
    assert api.patch("/machine-config", {"track_dirty_pages": False}) == (204, None)
    check_fault(api.put("/vsock", {"guest_cid": 1, "uds_path": "/tmp/x"}), 400, "guest_cid")
    check_fault(api.put("/network-interfaces/eth0", {"iface_id": "eth0",
                                                     "host_dev_name": "tap0",
                                                     "guest_mac": "not-a-mac"}),
                400, "The provided MAC address is invalid. at line 1 column 71.")
    check_fault(api.put("/drives/d", {"drive_id": "d", "path_on_host": "/x",
                                      "is_root_device": False,
                                      "rate_limiter": {"ops": {"size": 1}}}),
                400, "missing field `refill_time` at line 1 column 100.")
    check_fault(api.put("/actions", {"action_type": "Explode"}), 400,
                "unknown variant `Explode`, expected one of `FlushMetrics`, `InstanceStart`, "
                "`SendCtrlAltDel` at line 1 column 25.")
    # ids in the path: alphanumeric and '_' only; body id must match
    check_fault(api.put("/drives/bad-id", {}), 400,
                "API Resource IDs can only contain alphanumeric characters and underscores.")
    check_fault(api.put("/drives/a", {"drive_id": "b", "path_on_host": "/x",
                                      "is_root_device": False}), 400,
                "The id from the path does not match the id from the body!")
    # post-boot-only calls before boot
    for resp in (api.patch("/vm", {"state": "Paused"}),
                 api.put("/actions", {"action_type": "SendCtrlAltDel"}),
                 api.patch("/balloon", {"amount_mib": 1}),
                 api.get("/balloon/statistics")):
        check_fault(resp, 400, "not supported before starting the microVM")
    # oversized bodies: Firecracker's 51200-byte limit
    body = b'{"kernel_image_path": "' + b"a" * 60000 + b'"}'
    check_fault(api.put("/boot-source", body), 400, "larger than the limit of 51200")
    head = (b"PUT /boot-source HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/json"
            b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (30000, b" " * 30000)
    out = api.raw(head + chunk * 2 + b"0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    assert b"larger than the limit" in out, out[-300:]
    # everything above left the configuration alone
    status, cfg = api.get("/vm/config")
    assert status == 200 and cfg["drives"] == [], cfg
    assert cfg["boot-source"] == {"kernel_image_path": "", "initrd_path": None,
                                  "boot_args": None}, cfg
    assert cfg["machine-config"]["vcpu_count"] == 1
    # and the VMM still serves
    status, info = api.get("/")
    assert status == 200 and info["state"] == "Not started" and info["id"] == "test-vm"
    status, ver = api.get("/version")
    assert status == 200 and ver["firecracker_version"]
    assert p.proc.poll() is None
    # SIGTERM before boot ends it
    p.proc.send_signal(signal.SIGTERM)
    assert p.wait_exit(30) == 128 + signal.SIGTERM


def test_failed_instance_start(api_vm, tmp_path):
    p, api = api_vm()
    check_fault(api.put("/actions", {"action_type": "InstanceStart"}), 400,
                "Cannot start microvm without kernel configuration.")
    # A missing kernel is refused at PUT (Firecracker opens it then); a file
    # that is no kernel fails InstanceStart.
    check_fault(api.put("/boot-source", {"kernel_image_path": str(tmp_path / "missing")}),
                400, "The kernel file cannot be opened: No such file or directory")
    (tmp_path / "empty").write_bytes(b"")
    assert api.put("/boot-source", {"kernel_image_path": str(tmp_path / "empty")}) == \
        (204, None)
    check_fault(api.put("/actions", {"action_type": "InstanceStart"}), 400,
                "cannot start the microVM")
    status, info = api.get("/")
    assert status == 200 and info["state"] == "Not started"
    assert p.proc.poll() is None
    # The VM could not be created, so nothing of it stayed: as in Firecracker, the
    # configuration can be fixed and the start sent again, in the same process.
    assert api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}) == (204, None)
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "hello")}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    assert p.wait_exit(60) == 0, p.output()
    assert "Hello from the volt hello guest" in p.output()


def test_socket_path_rules(vm, tmp_path, volt_bin):
    busy = tmp_path / "file"
    busy.write_text("not a socket")
    r = run_volt("--api-sock", busy, *EXTRA, timeout=30)
    assert r.returncode != 0 and "not a socket" in r.stderr, r.stderr
    assert busy.read_text() == "not a socket"
    r = run_volt("--api-sock", tmp_path / "s.sock", "--id", "bad_id!", timeout=30)
    assert r.returncode != 0 and "--id" in r.stderr, r.stderr


# --- boots ----------------------------------------------------------------------------

def test_hello_via_api(api_vm):
    """The tiny hello guest (prints, resets): the fastest whole path through the API."""
    p, api = api_vm()
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "hello")}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    assert p.wait_exit(60) == 0, p.output()
    assert "Hello from the volt hello guest" in p.output()


def test_instance_info_follows_the_state(api_vm):
    """GET / is answered by the API thread from what the main thread last published
    (http_server.h): it must follow every state change, also under concurrent clients
    while other requests go to the main thread."""
    p, api = api_vm(stdin=subprocess.PIPE)  # the echo guest runs until stopped
    status, info = api.get("/")
    assert status == 200 and info == {"id": "test-vm", "state": "Not started",
                                      "vmm_version": info["vmm_version"], "app_name": "volt"}
    # with a body it is still the router's 400, not the published answer
    check_fault(api.request("GET", "/", {"x": 1}), 400, "GET request cannot have a body")
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    assert api.get("/")[1]["state"] == "Running"
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    assert api.get("/")[1]["state"] == "Paused"
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    assert api.get("/")[1]["state"] == "Running"

    answers, stop = [], threading.Event()

    def poll_root():
        while not stop.is_set():
            answers.append(api.get("/"))

    pollers = [threading.Thread(target=poll_root) for _ in range(4)]
    for t in pollers:
        t.start()
    for _ in range(10):
        assert api.patch("/vm", {"state": "Paused"}) == (204, None)
        assert api.get("/vm/config")[0] == 200
        assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    stop.set()
    for t in pollers:
        t.join()
    assert answers and all(a[0] == 200 and a[1]["state"] in ("Running", "Paused")
                           for a in answers), answers[:5]
    assert api.get("/")[1]["state"] == "Running"
    assert p.proc.poll() is None, p.output()[-2000:]
    p.proc.send_signal(signal.SIGTERM)
    assert p.wait_exit(30) == 128 + signal.SIGTERM


def test_config_file_with_api_sock(vm, tmp_path):
    """--config-file with --api-sock: configured from the file, booted, API served."""
    cfg = tmp_path / "hello.json"
    cfg.write_text(json.dumps({"boot-source": {"kernel_image_path": str(GUESTS / "hello")},
                               "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}))
    sock = tmp_path / "api.sock"
    p = vm("--config-file", cfg, "--api-sock", sock, *EXTRA)
    assert p.wait_exit(60) == 0, p.output()
    assert "Hello from the volt hello guest" in p.output()
    assert sock.exists()


def test_config_file_errors(vm, tmp_path, volt_bin):
    cfg = json.loads((DATA / "fc_vm_config.json").read_text())
    cfg["machine-config"]["cpus"] = 2
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(cfg))
    r = run_volt("--config-file", path, "--no-api", *EXTRA, timeout=60)
    assert r.returncode != 0 and "unknown field `cpus`" in r.stderr, r.stderr
    path.write_text("{")
    r = run_volt("--config-file", path, "--no-api", *EXTRA, timeout=60)
    assert r.returncode != 0 and "invalid JSON" in r.stderr, r.stderr


def ticks(out):
    return len(re.findall(r"^TICK[0-9]+", out, re.M))


def balloon_metric(metrics, key):
    """The sum of a balloon counter over every metrics line (each holds a delta)."""
    if not metrics.exists():
        return 0
    return sum(json.loads(line).get("balloon", {}).get(key, 0)
               for line in metrics.read_text().splitlines() if line.strip())


def wait_balloon_metric(api, metrics, key, timeout):
    """Flushes the metrics until the balloon counter key is non-zero; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
        total = balloon_metric(metrics, key)
        if total or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert total > 0, f"balloon.{key} stayed 0"
    return total


def test_lifecycle(api_vm, guest_kit, tmp_path):
    """configure -> InstanceStart -> ready -> pause/resume -> SendCtrlAltDel -> exit 0."""
    # Landlock lets a running VMM open drive files under --snapshot-dir only
    # (outside a jail): where the drive's new file goes.
    drives = tmp_path / "drives"
    drives.mkdir()
    p, api = api_vm("--snapshot-dir", drives)
    disk = tmp_path / "data.img"
    disk.write_bytes(b"\0" * (1 << 20))
    metrics = tmp_path / "metrics.json"
    log = tmp_path / "volt.log"
    # The guest prints a tick every second or so, until volt presses Ctrl-Alt-Del,
    # and what its disk holds when the disk's size changes (PATCH /drives).
    # (The marker's digits are not on the command line, which the kernel prints.)
    script = ("[ -b /dev/vda ] && echo HAVE-VDA; [ -c /dev/hwrng ] && echo HAVE-RNG; "
              "s0=$(cat /sys/block/vda/size); i=0; while true; do i=$((i+1)); echo TICK$i; "
              "s=$(cat /sys/block/vda/size); if [ $s != $s0 ]; then s0=$s; "
              "echo 3 > /proc/sys/vm/drop_caches; echo NEWDISK $s $(head -c 16 /dev/vda); fi; "
              "sleep 1; done")
    boot = {"kernel_image_path": str(guest_kit["vmlinux"]),
            "initrd_path": str(guest_kit["initrd"]),
            "boot_args": "console=ttyS0 reboot=k panic=-1 quiet i8042.noaux i8042.nomux "
                         f'i8042.dumbkbd volt.cmd="{script}"'}
    machine = {"vcpu_count": 1, "mem_size_mib": 256, "smt": False,
               "track_dirty_pages": False, "cpu_template": "None", "huge_pages": "None"}
    drive = {"drive_id": "data", "path_on_host": str(disk), "is_root_device": False,
             "partuuid": None, "is_read_only": False, "cache_type": "Writeback",
             "io_engine": "Sync", "rate_limiter": None}
    vsock = {"guest_cid": 3, "uds_path": str(tmp_path / "vsock.sock")}
    # Free page reporting needs more than 32 free blocks of 4 MiB (the guest kit's
    # pageblock_order) above a zone's low watermark: 256 MiB of RAM has them.
    balloon = {"amount_mib": 0, "deflate_on_oom": False, "stats_polling_interval_s": 1,
               "free_page_hinting": True, "free_page_reporting": True}
    logger = {"log_path": str(log), "level": "Info", "show_level": True,
              "show_log_origin": False}
    for url, body in (("/boot-source", boot), ("/machine-config", machine),
                      ("/drives/data", drive), ("/vsock", vsock), ("/balloon", balloon),
                      ("/entropy", {}), ("/metrics", {"metrics_path": str(metrics)}),
                      ("/logger", logger)):
        assert api.put(url, body) == (204, None), (url, api.put(url, body))
    status, cfg = api.get("/vm/config")
    assert status == 200
    assert cfg["boot-source"] == boot
    # Firecracker leaves cpu_template out when it is "None" (given or not).
    shown = {k: v for k, v in machine.items() if k != "cpu_template"}
    assert cfg["machine-config"] == shown
    assert cfg["drives"] == [{**drive, "socket": None}]  # Firecracker shows vhost-user's
    assert cfg["vsock"] == vsock and cfg["balloon"] == balloon
    assert cfg["entropy"] == {"rate_limiter": None} and cfg["network-interfaces"] == []
    # Firecracker's VmResources hold neither: its GET /vm/config shows both null
    assert cfg["metrics"] is None and cfg["logger"] is None
    assert api.get("/machine-config") == (200, shown)
    assert api.get("/balloon") == (200, balloon)

    t_start = time.monotonic()
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("VOLT-GUEST-READY", BOOT_TIMEOUT)
    print(f"\nguest ready after {time.monotonic() - t_start:.1f} s")
    out = p.wait_for("TICK2", 300)  # the guest is ticking
    assert "HAVE-VDA" in out and "HAVE-RNG" in out, out[-2000:]
    status, info = api.get("/")
    assert status == 200 and info["state"] == "Running" and info["app_name"] == "volt"
    # pre-boot-only calls after boot
    check_fault(api.put("/boot-source", boot), 400,
                "not supported after starting the microVM")
    check_fault(api.put("/actions", {"action_type": "InstanceStart"}), 400, "after starting")
    # A drive takes a new file (Firecracker's update_disk_image): the guest is told
    # its new size and reads the new content; a file that cannot be opened (absent,
    # or outside what Landlock lets the running VMM open) changes nothing.
    check_fault(api.patch("/drives/data", {"drive_id": "data", "path_on_host": "/other"}),
                400, "Error manipulating the backing file: No such file or directory (os "
                "error 2) /other")
    outside = tmp_path / "outside.img"
    outside.write_bytes(b"\0" * 4096)
    if "landlock: ABI" in log.read_text():  # a kernel with Landlock
        check_fault(api.patch("/drives/data", {"drive_id": "data",
                                               "path_on_host": str(outside)}),
                    400, "Permission denied (os error 13)", "--snapshot-dir")
    new_disk = drives / "new.img"
    new_disk.write_bytes(b"VOLT-NEW-DISK-01" + bytes((2 << 20) - 16))
    assert api.patch("/drives/data", {"drive_id": "data",
                                      "path_on_host": str(new_disk)}) == (204, None)
    p.wait_for("NEWDISK 4096 VOLT-NEW-DISK-01", 120)
    assert api.get("/vm/config")[1]["drives"][0]["path_on_host"] == str(new_disk)
    # neither a new file nor a rate limiter: Firecracker's refusal to a virtio-block
    check_fault(api.patch("/drives/data", {"drive_id": "data"}), 400,
                "Running method expected different backend.")
    assert api.patch("/drives/data", {"drive_id": "data", "rate_limiter": {}}) == (204, None)
    # balloon
    status, stats = api.get("/balloon/statistics")
    assert status == 200 and "target_pages" in stats and "actual_mib" in stats, stats
    assert api.patch("/balloon", {"amount_mib": 16}) == (204, None)
    assert api.get("/balloon")[1]["amount_mib"] == 16
    check_fault(api.patch("/balloon", {"amount_mib": 4096}), 400, "amount_mib")
    assert api.patch("/balloon/statistics", {"stats_polling_interval_s": 1}) == (204, None)
    assert api.patch("/balloon/statistics", {"stats_polling_interval_s": 2}) == (204, None)
    assert api.get("/balloon")[1]["stats_polling_interval_s"] == 2
    check_fault(api.patch("/balloon/statistics", {"stats_polling_interval_s": 0}), 400,
                "Balloon update error: Balloon: Statistics cannot be enabled/disabled after "
                "activation.")
    # Free page reporting: Linux reports its free blocks on its own (2 s after the
    # driver probes, then as blocks are freed); volt gives them back to the host.
    t0 = time.monotonic()
    reported = wait_balloon_metric(api, metrics, "free_page_report_freed", 300)
    t_report = time.monotonic() - t0
    assert balloon_metric(metrics, "free_page_report_count") > 0
    # Free page hinting: a run; the guest sends its id, its free blocks, then STOP,
    # which volt acknowledges (DONE) since acknowledge_on_stop defaults to true.
    assert api.get("/balloon/hinting/status") == (200, {"host_cmd": 0, "guest_cmd": None})
    t0 = time.monotonic()
    assert api.patch("/balloon/hinting/start", {}) == (204, None)
    deadline = time.monotonic() + 300
    while api.get("/balloon/hinting/status")[1] != {"host_cmd": 1, "guest_cmd": 0}:
        assert time.monotonic() < deadline, api.get("/balloon/hinting/status")
        assert p.proc.poll() is None, p.output()[-2000:]
        time.sleep(0.5)
    t_hint = time.monotonic() - t0
    hinted = wait_balloon_metric(api, metrics, "free_page_hint_freed", 60)
    assert balloon_metric(metrics, "free_page_hint_fails") == 0
    assert balloon_metric(metrics, "free_page_report_fails") == 0
    assert api.patch("/balloon/hinting/stop", {}) == (204, None)
    assert api.get("/balloon/hinting/status") == (200, {"host_cmd": 1, "guest_cmd": 0})
    print(f"\nballoon: {reported >> 20} MiB reported (waited {t_report:.1f} s), {hinted >> 20} MiB"
          f" hinted and given back (run acknowledged after {t_hint:.1f} s)")

    # pause: the ticks stop; resume: they come back
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    assert api.get("/")[1]["state"] == "Paused"
    time.sleep(1)
    paused_at = ticks(p.output())
    time.sleep(3)
    assert ticks(p.output()) == paused_at, "the guest ran while paused"
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)  # no-op
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    assert api.get("/")[1]["state"] == "Running"
    deadline = time.monotonic() + 300
    while ticks(p.output()) <= paused_at:
        assert time.monotonic() < deadline, "no tick after resume:\n" + p.output()[-2000:]
        assert p.proc.poll() is None, p.output()[-2000:]
        time.sleep(0.2)

    # metrics and logger
    assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
    lines = metrics.read_text().splitlines()
    assert lines and "api_server" in json.loads(lines[-1]), lines[-1:]
    assert log.exists() and log.stat().st_size > 0

    # Ctrl-Alt-Del: the guest kernel reboots, volt exits 0
    assert api.put("/actions", {"action_type": "SendCtrlAltDel"}) == (204, None)
    assert p.wait_exit(BOOT_TIMEOUT) == 0, p.output()[-3000:]


def test_firecracker_example_config(vm, guest_kit, tmp_path, volt_bin):
    """Firecracker's documented vm_config.json, paths replaced, with --no-api."""
    img = run_volt("rootfs", "path", "--ext4", "64M", timeout=900)
    assert img.returncode == 0, img.stderr
    root = tmp_path / "root.ext4"
    shutil.copyfile(img.stdout.strip(), root)
    text = (DATA / "fc_vm_config.json").read_text()
    text = text.replace('"vmlinux.bin"', json.dumps(str(guest_kit["vmlinux"])))
    text = text.replace('"bionic.rootfs.ext4"', json.dumps(str(root)))
    cfg = tmp_path / "vm_config.json"
    cfg.write_text(text)
    p = vm("--config-file", cfg, "--no-api", *EXTRA, stdin=subprocess.PIPE)
    # The guest kit's /init runs a shell on the console without volt.cmd.
    # 1 GiB and no "quiet": slower than the other boots.
    p.wait_for("VOLT-GUEST-READY", BOOT_TIMEOUT * 2)
    time.sleep(2)
    p.proc.stdin.write(b"echo FC-CONFIG-$((6*7)); exit\n")
    p.proc.stdin.flush()
    p.wait_for("FC-CONFIG-42", 300)
    assert p.wait_exit(300) == 0, p.output()[-3000:]
