"""virtio-mem (Firecracker's /hotplug/memory) driven by a real Linux guest: the host
raises the requested size, the guest plugs blocks and its memory grows, its pages land in
the hotplugged memory and read back, the host lowers the size and the guest gives the
blocks back; the API's answers before and after boot (Firecracker's test_api_memory_hotplug);
a snapshot restored with plugged memory whose content survives; bad --memory-hotplug specs.
Seccomp in kill mode and Landlock on."""
import hashlib
import json
import os
import socket
import threading
import time

import pytest

from conftest import GUESTS, api_wait_for, audit_lines, run_volt
from test_virtio_blk import cpio_append
from test_virtio_pmem import api_start, type_and_see

BOOT_TIMEOUT = 300
NOT_BEFORE = "The requested operation is not supported before starting the microVM."
NOT_AFTER = "The requested operation is not supported after starting the microVM."
# Hotplugged memory in ZONE_MOVABLE: the guest can give it back, and user pages (movable
# allocations) are placed there first.
CMDLINE = ('console=ttyS0 reboot=k panic=-1 quiet memhp_default_state=online_movable '
           'volt.cmd="exec sh"')
# The Movable zone's free pages, and the kernel's total.
GUEST_SH = r"""
movfree() { awk '/zone +Movable/{m=1} m&&/pages free/{print $3; exit}' /proc/zoneinfo; }
memtotal() { awk '/MemTotal/{print $2}' /proc/meminfo; }
"""


def booted(vm, guest_kit, tmp_path, data, *args, total=512, metrics=None, dirty=False):
    """A guest with 128 MiB of RAM, total MiB hotpluggable, data as /data in its initramfs
    and the helper functions in /h.sh; at its shell prompt."""
    initrd = cpio_append(guest_kit["initrd"], {"data": data, "h.sh": GUEST_SH.encode()},
                         tmp_path)
    p, api = api_start(vm, tmp_path, *args)
    assert api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 128,
                                       "track_dirty_pages": dirty}) == (204, None)
    assert api.put("/boot-source", {"kernel_image_path": str(guest_kit["vmlinux"]),
                                    "initrd_path": str(initrd),
                                    "boot_args": CMDLINE}) == (204, None)
    if metrics:
        assert api.put("/metrics", {"metrics_path": str(metrics)}) == (204, None)
    assert api.put("/hotplug/memory", {"total_size_mib": total}) == (204, None)
    status, _ = api.get("/hotplug/memory")
    assert status == 400
    assert api.patch("/hotplug/memory", {"requested_size_mib": 128}) == \
        (400, {"fault_message": NOT_BEFORE})
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("VOLT-GUEST-READY", BOOT_TIMEOUT)
    type_and_see(p, ". /h.sh; echo HELPERS-$((1+1))\n", "HELPERS-2")
    return p, api


def wait_plugged(api, mib, timeout=180):
    return api_wait_for(api, "/hotplug/memory", "plugged_size_mib", mib, timeout)


def guest_number(p, expr, tag):
    """Runs $(expr) in the guest's shell; its number."""
    marker = f"{tag}="
    p.proc.stdin.write(f'echo "{marker}$({expr})" END\n'.encode())
    p.proc.stdin.flush()
    end = time.monotonic() + 120
    while time.monotonic() < end:
        for line in p.output().splitlines():
            if line.startswith(marker) and line.endswith(" END"):
                return int(line[len(marker):-4])
        time.sleep(0.2)
    raise AssertionError(f"no {tag} from the guest: {p.output()[-2000:]}")


def guest_until(p, expr, tag, want, timeout=60):
    """guest_number() again until it is want (the guest onlines its blocks after it plugged
    them, and offlines them before it unplugs); the last value."""
    end = time.monotonic() + timeout
    n = 0
    while True:
        n += 1
        v = guest_number(p, expr, f"{tag}{n}")
        if v == want or time.monotonic() > end:
            return v
        time.sleep(1)


def hotplug_totals(metrics):
    """The memory_hotplug counters since the start: the sum of every line's (each holds
    what changed since the line before, and the periodic lines take their share)."""
    total = {}
    for line in metrics.read_text().splitlines():
        for k, v in json.loads(line)["memory_hotplug"].items():
            if isinstance(v, int):
                total[k] = total.get(k, 0) + v
    return total


def test_memory_hotplug_battery(vm, guest_kit, tmp_path):
    data = os.urandom(8 << 20)
    metrics = tmp_path / "metrics"
    p, api = booted(vm, guest_kit, tmp_path, data, metrics=metrics)
    assert api.put("/hotplug/memory", {"total_size_mib": 1024}) == \
        (400, {"fault_message": NOT_AFTER})
    assert api.get("/hotplug/memory") == (200, {
        "block_size_mib": 2, "total_size_mib": 512, "slot_size_mib": 128,
        "plugged_size_mib": 0, "requested_size_mib": 0})
    base = guest_number(p, "memtotal", "BASE")

    assert api.patch("/hotplug/memory", {"requested_size_mib": 256}) == (204, None)
    body = wait_plugged(api, 256)
    assert body["plugged_size_mib"] == 256 and body["requested_size_mib"] == 256, body
    assert guest_until(p, "memtotal", "GROWN", base + 256 * 1024) == base + 256 * 1024
    # The guest's new pages come from the hotplugged (Movable) memory, and read back.
    before = guest_number(p, "movfree", "MOVFREE1")
    type_and_see(p, "cp /data /data2; md5sum /data2\n", hashlib.md5(data).hexdigest())
    assert guest_number(p, "movfree", "MOVFREE2") <= before - 1500
    # Sizes the device cannot take: Firecracker's words.
    status, body = api.patch("/hotplug/memory", {"requested_size_mib": 1024})
    assert body == {"fault_message": "Memory hotplug update error: Failed to create memory "
                    "hotplug device: Size 1073741824 is invalid: it must be a multiple of "
                    "block size and less than the total size"}, body
    status, body = api.patch("/hotplug/memory", {"requested_size_mib": 3})
    assert status == 400 and "multiple of block size" in body["fault_message"], body
    assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
    m = hotplug_totals(metrics)
    assert m["plug_count"] >= 1 and m["plug_bytes"] == 256 << 20, m
    assert m["plug_fails"] == 0 and m["unplug_count"] == 0, m

    # The host asks for less: the guest moves its pages out and gives the blocks back.
    type_and_see(p, "rm /data2; echo RM-$((40+2))\n", "RM-42")
    assert api.patch("/hotplug/memory", {"requested_size_mib": 0}) == (204, None)
    body = wait_plugged(api, 0)
    assert body["plugged_size_mib"] == 0, body
    assert guest_until(p, "memtotal", "SHRUNK", base) == base
    assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
    m = hotplug_totals(metrics)
    assert m["unplug_bytes"] == 256 << 20 or m["unplug_all_count"] >= 1, m
    assert m["unplug_fails"] == 0, m
    type_and_see(p, "reboot -f\n", "reboot: Restarting system")
    assert p.wait_exit(60) == 0, p.output()[-3000:]
    assert not audit_lines(p.proc.pid)


def test_memory_hotplug_snapshot_restore(vm, guest_kit, tmp_path):
    """Plugged memory and what the guest keeps in it go on in a new VMM: the memory file
    holds RAM and the hotpluggable region, the device its plugged blocks; a Diff merged onto
    the Full holds what the guest wrote in plugged memory since (KVM's dirty log of the
    region's slots); the restored guest still reads both, and can give the blocks back."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    data = os.urandom(8 << 20)
    p, api = booted(vm, guest_kit, tmp_path, data, "--snapshot-dir", snapdir, total=256,
                    dirty=True)
    assert api.patch("/hotplug/memory", {"requested_size_mib": 128}) == (204, None)
    assert wait_plugged(api, 128)["plugged_size_mib"] == 128
    type_and_see(p, "cp /data /data2; echo CP-$((40+2))\n", "CP-42")
    state, mem = snapdir / "s.state", snapdir / "s.mem"
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    assert api.put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": str(state),
                                        "mem_file_path": str(mem)}) == (204, None)
    assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
    before = guest_number(p, "movfree", "MOVFREE1")
    type_and_see(p, "cp /data /data3; echo CP3-$((40+2))\n", "CP3-42")
    assert guest_number(p, "movfree", "MOVFREE2") <= before - 1500
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    assert api.put("/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": str(state),
                                        "mem_file_path": str(mem)}) == (204, None)
    p.kill()
    assert os.path.getsize(mem) == (128 + 256) << 20

    q, qapi = api_start(vm, tmp_path, "--snapshot-dir", snapdir)
    assert qapi.put("/snapshot/load", {
        "snapshot_path": str(state), "mem_backend": {"backend_type": "File",
                                                     "backend_path": str(mem)},
        "resume_vm": True}) == (204, None)
    assert qapi.get("/hotplug/memory")[1]["plugged_size_mib"] == 128
    assert qapi.get("/vm/config")[1]["memory-hotplug"] == {
        "total_size_mib": 256, "block_size_mib": 2, "slot_size_mib": 128}
    type_and_see(q, "md5sum /data2\n", hashlib.md5(data).hexdigest())
    type_and_see(q, "md5sum /data3\n", hashlib.md5(data).hexdigest())
    type_and_see(q, "rm /data2 /data3; echo RM-$((40+2))\n", "RM-42")
    assert qapi.patch("/hotplug/memory", {"requested_size_mib": 0}) == (204, None)
    assert wait_plugged(qapi, 0)["plugged_size_mib"] == 0
    # The blocks given back read as zeros, not as the memory file's pages again (they held
    # /data2 and /data3 there): a Full snapshot of the restored VM holds nothing of them.
    state2, mem2 = snapdir / "t.state", snapdir / "t.mem"
    assert qapi.patch("/vm", {"state": "Paused"}) == (204, None)
    assert qapi.put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": str(state2),
                                         "mem_file_path": str(mem2)}) == (204, None)
    assert qapi.patch("/vm", {"state": "Resumed"}) == (204, None)
    with open(mem, "rb") as old, open(mem2, "rb") as new:
        old.seek(128 << 20)
        new.seek(128 << 20)
        before = after = 0
        for _ in range(256):
            before += any(old.read(1 << 20))
            after += any(new.read(1 << 20))
    assert before >= 8 and after == 0, (before, after)
    type_and_see(q, "reboot -f\n", "reboot: Restarting system")
    assert q.wait_exit(60) == 0, q.output()[-3000:]
    assert not audit_lines(q.proc.pid)


def test_memory_hotplug_hostile_clients(vm, guest_kit, tmp_path):
    """While the guest plugs and unplugs, clients change the requested size from four
    threads at once (valid sizes and refused ones, GETs between), others leave PATCHes
    half-sent, chunked or too big: each answered or dropped, the device consistent after,
    the guest still running, no seccomp audit line (kill mode)."""
    p, api = booted(vm, guest_kit, tmp_path, os.urandom(1 << 20))
    sock = str(api.path)
    stalled = []
    for head in (b"PATCH /hotplug/memory HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"requ",
                 b"PATCH /hotplug/memory HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"req"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(head)
        stalled.append(s)
    big = b'{"requested_size_mib": 2' + b" " * 60000 + b"}"
    status, _ = api.patch("/hotplug/memory", big)
    assert status >= 400
    errors = []

    def client(seed):
        sizes = [128, 0, 256, 3, 4096, 510, 64]
        try:
            for i in range(12):
                mib = sizes[(seed + i) % len(sizes)]
                status, body = api.patch("/hotplug/memory", {"requested_size_mib": mib})
                ok = mib <= 512 and mib % 2 == 0
                if (status == 204) != ok or (status != 204 and "Memory hotplug update error"
                                              not in body["fault_message"]):
                    errors.append((mib, status, body))
                status, body = api.get("/hotplug/memory")
                if status != 200 or body["plugged_size_mib"] > 512:
                    errors.append(("GET", status, body))
        except Exception as e:  # noqa: BLE001 - collected, asserted below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[:5]
    for s in stalled:
        s.close()
    assert api.patch("/hotplug/memory", {"requested_size_mib": 0}) == (204, None)
    body = wait_plugged(api, 0)
    assert body["plugged_size_mib"] == 0 and body["requested_size_mib"] == 0, body
    type_and_see(p, "echo ALIVE-$((40+2))\n", "ALIVE-42")
    type_and_see(p, "reboot -f\n", "reboot: Restarting system")
    assert p.wait_exit(60) == 0, p.output()[-3000:]
    assert not audit_lines(p.proc.pid)


def test_memory_hotplug_without_linux(vm, tmp_path):
    """Not a Linux boot: the hello guest in a VM with 1 GiB hotpluggable (the region mapped,
    KVM's slots left empty) runs and exits as without it; the config file's section."""
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({
        "boot-source": {"kernel_image_path": str(GUESTS / "hello")},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
        "memory-hotplug": {"total_size_mib": 1024, "block_size_mib": 4},
    }))
    p = vm("--config-file", cfg, "--no-api")
    p.wait_for("Hello from the volt hello guest", 60)
    assert p.wait_exit(30) == 0, p.output()[-2000:]
    r = run_volt("run", "--kernel", GUESTS / "hello", "--memory-hotplug", "1G,slot=256M",
                 timeout=60)
    assert r.returncode == 0 and "Hello from the volt hello guest" in r.stdout, r.stderr


def test_memory_hotplug_requested_from_the_cli(vm, guest_kit):
    """`volt run` has no API: requested= is what the guest plugs as its driver starts."""
    wait = ('i=0; read k n u < /proc/meminfo; while [ $n -lt 380000 ] && [ $i -lt 60 ]; do '
            'sleep 1; i=$((i+1)); read k n u < /proc/meminfo; done; echo MEMTOTAL=$n')
    p = vm("run", "--kernel", guest_kit["vmlinux"], "--initrd", guest_kit["initrd"], "--mem",
           "128", "--memory-hotplug", "512M,requested=256M",
           "--cmdline", CMDLINE.replace('volt.cmd="exec sh"', f'volt.cmd="{wait}"'))
    p.wait_for("VOLT-CMD-EXIT", BOOT_TIMEOUT)
    assert p.wait_exit(60) == 0, p.output()[-3000:]
    total = int(p.output().split("MEMTOTAL=")[1].split()[0])
    assert total >= 380000, p.output()[-3000:]


@pytest.mark.parametrize("spec, message", [
    ("", "no total size"),
    ("100", "Total size must not be lower than slot size (128 MiB)"),
    ("200M", "Total size must be a multiple of slot size (128 MiB)"),
    ("1G,block=3M", "Block size must be a power of 2"),
    ("1G,block=1M", "Block size must not be lower than 2 MiB"),
    ("1G,slot=64M", "Slot size must not be lower than 128 MiB"),
    ("1G,bogus", "unknown or malformed option 'bogus'"),
    ("1G,requested=3M", "requested= must be whole blocks (2 MiB) up to the total size"),
    ("1G,requested=2G", "requested= must be whole blocks"),
    ("2000G", "Total size must not be more than 8192 slots"),
    ("1021G,slot=1G", "do not fit below the guest's physical address limit"),
])
def test_bad_memory_hotplug_specs(volt_bin, spec, message):
    p = run_volt("run", "--kernel", GUESTS / "hello", "--memory-hotplug", spec, timeout=30)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr
