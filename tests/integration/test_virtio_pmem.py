"""virtio-pmem (Firecracker's /pmem) driven by a real Linux guest: the file's pages as
/dev/pmemN, writes that reach the host's file and flushes, a read-only device whose
file the guest cannot change, a device reset (the driver unbound and bound again, as
Firecracker's test_device_reset), a root file system on pmem through the API, and a
snapshot restored with its pmem device. Seccomp in kill mode and Landlock on."""
import hashlib
import os
import subprocess
import time

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, run_volt
from test_virtio_blk import cpio_append

BOOT_TIMEOUT = 300
CMDLINE = 'console=ttyS0 reboot=k panic=-1 quiet'

BATTERY = r"""
check() { if [ "$2" = "$3" ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL got=[$2] want=[$3]"; fi; }
read -r s < /sys/block/pmem0/size; check size0 "$s" 8192
read -r s < /sys/block/pmem1/size; check size1-rounded-to-2MiB "$s" 8192
set -- $(head -c 4096 /dev/pmem0 | md5sum); check read0 "$1" "$WANT0"
set -- $(head -c 4096 /dev/pmem1 | md5sum); check read1 "$1" "$WANT1"
echo -n "written by the guest" | dd of=/dev/pmem0 bs=1 seek=1048576 conv=fsync,notrunc 2>/dev/null
check write0 $? 0
dd if=/dev/zero of=/dev/pmem1 bs=4096 count=1 conv=fsync 2>/dev/null
d=$(basename $(realpath /sys/block/pmem0/device/../../..))
echo $d > /sys/bus/virtio/drivers/virtio_pmem/unbind
if [ -e /dev/pmem0 ]; then check unbind present gone; else check unbind gone gone; fi
echo $d > /sys/bus/virtio/drivers/virtio_pmem/bind
i=0; while [ ! -e /dev/pmem0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
set -- $(head -c 20 /dev/pmem0 | md5sum); check reset-and-rebind "$1" "$WANT0B"
echo BATTERY-DONE
"""


def test_pmem_battery(vm, guest_kit, tmp_path):
    p0, p1 = tmp_path / "p0.img", tmp_path / "p1.img"
    d0, d1 = os.urandom(4 << 20), os.urandom(3 << 20)
    p0.write_bytes(d0)
    p1.write_bytes(d1)
    script = BATTERY.replace("$WANT0B", hashlib.md5(d0[:20]).hexdigest()).replace(
        "$WANT0", hashlib.md5(d0[:4096]).hexdigest()).replace(
        "$WANT1", hashlib.md5(d1[:4096]).hexdigest())
    initrd = cpio_append(guest_kit["initrd"], {"battery.sh": script.encode()}, tmp_path)
    p = vm("run", "--kernel", guest_kit["vmlinux"], "--initrd", initrd, "--mem", "256",
           "--pmem", f"path={p0}", "--pmem", f"path={p1},ro",
           "--cmdline", CMDLINE + ' volt.cmd="sh /battery.sh"')
    p.wait_for("BATTERY-DONE", BOOT_TIMEOUT)
    assert p.wait_exit(60) == 0, p.output()[-3000:]
    checks = [line for line in p.output().splitlines() if line.startswith("CHECK")]
    assert len(checks) == 7 and all(c.endswith(" ok") for c in checks), "\n".join(checks)
    # The guest's write is in the host's file (MAP_SHARED, flushed); nothing else moved,
    # and the read-only device's file is as it was.
    after = p0.read_bytes()
    assert after[1 << 20:(1 << 20) + 20] == b"written by the guest"
    assert after[:1 << 20] == d0[:1 << 20] and after[(1 << 20) + 20:] == d0[(1 << 20) + 20:]
    assert os.path.getsize(p0) == 4 << 20
    assert p1.read_bytes() == d1


def api_start(vm, tmp_path, *args):
    sock = tmp_path / f"api-{time.monotonic_ns()}.sock"
    p = vm("--api-sock", sock, *args, stdin=subprocess.PIPE)
    wait_for_socket(sock, p.proc)
    return p, ApiClient(sock)


def full_snapshot_restored(vm, tmp_path, p, api, snapdir):
    """Pauses the VM, takes a Full snapshot into snapdir, ends that VMM; a new one loads it
    resumed. (VoltProcess, ApiClient) of the new one."""
    state, mem = snapdir / "s.state", snapdir / "s.mem"
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    assert api.put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": str(state),
                                        "mem_file_path": str(mem)}) == (204, None)
    p.kill()
    q, qapi = api_start(vm, tmp_path)
    assert qapi.put("/snapshot/load", {
        "snapshot_path": str(state), "mem_backend": {"backend_type": "File",
                                                     "backend_path": str(mem)},
        "resume_vm": True}) == (204, None)
    return q, qapi


def type_and_see(p, text, marker, timeout=120):
    p.proc.stdin.write(text.encode())
    p.proc.stdin.flush()
    return p.wait_for(marker, timeout)


def test_pmem_root_through_the_api(vm, guest_kit, tmp_path):
    """Firecracker's root_device: root=/dev/pmem0 rw on the command line, the kit's ext4
    image as the root file system."""
    img = run_volt("rootfs", "build", "--ext4", "64M")
    assert img.returncode == 0, img.stderr
    path = run_volt("rootfs", "path", "--ext4", "64M", "--no-build").stdout.strip()
    disk = tmp_path / "root.ext4"
    disk.write_bytes(open(path, "rb").read())
    p, api = api_start(vm, tmp_path)
    assert api.put("/boot-source", {
        "kernel_image_path": str(guest_kit["vmlinux"]),
        "boot_args": CMDLINE + ' volt.cmd="grep -c pmem0 /proc/mounts; echo root > /root-ok"'
    }) == (204, None)
    assert api.put("/pmem/rootfs", {"id": "rootfs", "path_on_host": str(disk),
                                    "root_device": True, "read_only": False}) == (204, None)
    cfg = api.get("/vm/config")[1]
    assert cfg["pmem"] == [{"id": "rootfs", "path_on_host": str(disk), "root_device": True,
                            "read_only": False, "rate_limiter": None}], cfg
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("VOLT-CMD-EXIT 0", BOOT_TIMEOUT)
    p.wait_exit(60)
    cat = subprocess.run(["debugfs", "-R", "cat /root-ok", str(disk)], capture_output=True,
                         text=True).stdout
    assert cat == "root\n"


def test_pmem_snapshot_restore(vm, guest_kit, tmp_path):
    """A guest with a pmem device goes on in a new VMM: the device is at the same place,
    its pages are the file's, what the guest writes after the restore reaches the file.
    After boot a PATCH changes its rate limiter; a PUT or a DELETE is a hotplug (PCI)."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    data = tmp_path / "data.img"
    data.write_bytes(b"VOLT-PMEM-CONTENT" + b"\0" * ((2 << 20) - 17))
    p, api = api_start(vm, tmp_path, "--snapshot-dir", snapdir)
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}) == (204, None)
    assert api.put("/boot-source", {"kernel_image_path": str(guest_kit["vmlinux"]),
                                    "initrd_path": str(guest_kit["initrd"]),
                                    "boot_args": CMDLINE + ' volt.cmd="exec sh"'}) == (204, None)
    assert api.put("/pmem/data", {"id": "data", "path_on_host": str(data)}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("VOLT-GUEST-READY", BOOT_TIMEOUT)
    type_and_see(p, "head -c 17 /dev/pmem0; echo ' BEFORE'\n", "VOLT-PMEM-CONTENT BEFORE")
    assert api.patch("/pmem/data", {"id": "data", "rate_limiter": {
        "ops": {"size": 100, "refill_time": 100}}}) == (204, None)
    status, body = api.put("/pmem/other", {"id": "other", "path_on_host": str(data)})
    assert status == 400 and "PCI" in body["fault_message"], body
    status, body = api.request("DELETE", "/pmem/data")
    assert status == 400, body
    q, qapi = full_snapshot_restored(vm, tmp_path, p, api, snapdir)
    cfg = qapi.get("/vm/config")[1]
    assert [(d["id"], d["path_on_host"]) for d in cfg["pmem"]] == [("data", str(data))], cfg
    type_and_see(q, "echo -n after-restore | dd of=/dev/pmem0 bs=1 seek=4096 conv=fsync,"
                 "notrunc 2>/dev/null; head -c 17 /dev/pmem0; echo \" AFTER-$((6*7))\"\n",
                 "VOLT-PMEM-CONTENT AFTER-42")
    q.kill()
    assert data.read_bytes()[4096:4096 + 13] == b"after-restore"


def test_pmem_restore_refuses_another_size(vm, tmp_path):
    """Not a Linux boot: the hello guest with a pmem device, snapshotted paused at once;
    the file grown by 2 MiB before the load no longer fits the guest's region."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    data = tmp_path / "data.img"
    data.write_bytes(b"\0" * (2 << 20))
    p, api = api_start(vm, tmp_path, "--snapshot-dir", snapdir)
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    assert api.put("/pmem/data", {"id": "data", "path_on_host": str(data)}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("echo guest ready", 60)
    state, mem = snapdir / "s.state", snapdir / "s.mem"
    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    assert api.put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": str(state),
                                        "mem_file_path": str(mem)}) == (204, None)
    p.kill()
    with open(data, "ab") as f:
        f.write(b"\0" * (2 << 20))
    q, qapi = api_start(vm, tmp_path)
    status, body = qapi.put("/snapshot/load", {
        "snapshot_path": str(state), "mem_backend": {"backend_type": "File",
                                                     "backend_path": str(mem)}})
    assert status == 400, body
    assert "Restored pmem size 2097152 does not match backing file mapping size 4194304" in \
        q.output(), q.output()[-2000:]


@pytest.mark.parametrize("spec, message", [
    ("", "no path=FILE"),
    ("ro", "no path=FILE"),
    ("path=/no/such/file", "virtio-pmem '/no/such/file': No such file or directory"),
    ("path=/tmp", "virtio-pmem '/tmp': is a directory"),
    ("path=/dev/null", "virtio-pmem '/dev/null': is a character device"),
    ("path=EMPTY", "Error backing file size is 0"),
    ("path=/dev/null,bogus", "unknown or malformed option 'bogus'"),
    ("path=/dev/null,ro=maybe", "ro=maybe: expected on/off"),
])
def test_bad_pmem_specs(volt_bin, kvm, tmp_path, spec, message):
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    p = run_volt("run", "--kernel", GUESTS / "hello", "--pmem",
                 spec.replace("EMPTY", str(empty)), timeout=30)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr
