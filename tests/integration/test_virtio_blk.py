"""virtio-blk and virtio-rng driven by a real Linux guest, in one boot, plus a disk root."""
import hashlib
import os
import subprocess

import pytest

from conftest import initrd_with, run_volt

BATTERY = r"""
check() { if [ "$2" = "$3" ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL got=[$2] want=[$3]"; fi; }
mount -t ext4 /dev/vda /mnt || echo "CHECK mount FAIL"
set -- $(md5sum /mnt/data.bin); check checksum "$1" "$WANT_MD5"
echo "written by the guest" > /mnt/fromguest.txt
rm /mnt/big.bin
sync
fstrim /mnt && check fstrim yes yes || check fstrim no yes
umount /mnt
read -r serial < /sys/block/vda/serial; check serial "$serial" voltdisk0
read -r ro < /sys/block/vdb/ro; check ro-flag "$ro" 1
if dd if=/dev/zero of=/dev/vdb bs=512 count=1 conv=fsync 2>/dev/null; then check ro-write refused accepted; else check ro-write refused refused; fi
set -- $(head -c 4096 /dev/vdb | md5sum); check ro-read "$1" "$WANT_RO_MD5"
set -- $(head -c 64 /dev/hwrng | wc -c); check hwrng "$1" 64
echo BATTERY-DONE
"""


def cpio_append(base, files, tmp_path):
    root = tmp_path / "extra"
    root.mkdir()
    for name, data in files.items():
        (root / name).write_bytes(data)
    return initrd_with(base, root, list(files), tmp_path / "initrd.cpio")


def test_block_and_rng_battery(vm, guest_kit, tmp_path):
    data = os.urandom(64 << 10)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "data.bin").write_bytes(data)
    (tree / "big.bin").write_bytes(os.urandom(8 << 20))
    disk = tmp_path / "disk.ext4"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(tree), str(disk), "32M"], check=True)
    blocks_before = os.stat(disk).st_blocks
    ro = tmp_path / "ro.img"
    ro_data = os.urandom(1 << 20)
    ro.write_bytes(ro_data)
    script = BATTERY.replace("$WANT_MD5", hashlib.md5(data).hexdigest()).replace(
        "$WANT_RO_MD5", hashlib.md5(ro_data[:4096]).hexdigest())
    initrd = cpio_append(guest_kit["initrd"], {"battery.sh": script.encode()}, tmp_path)
    p = vm("run", "--kernel", guest_kit["vmlinux"], "--initrd", initrd, "--mem", "256",
           "--drive", f"path={disk},id=voltdisk0,engine=io_uring", "--drive", f"path={ro},ro",
           "--rng", "--log-level", "debug",
           "--cmdline", 'console=ttyS0 reboot=k panic=-1 quiet volt.cmd="sh /battery.sh"')
    p.wait_for("BATTERY-DONE", 240)
    assert p.wait_exit(60) == 0, p.output()[-3000:]
    out = p.output()
    assert "io_uring is unavailable" not in out
    checks = [l for l in out.splitlines() if l.startswith("CHECK")]
    assert checks and all(l.endswith(" ok") for l in checks), "\n".join(checks)
    assert len(checks) == 7, "\n".join(checks)
    # After the VM exited, the host sees what the guest wrote and synced...
    cat = subprocess.run(["debugfs", "-R", "cat /fromguest.txt", str(disk)],
                         capture_output=True, text=True).stdout
    assert cat == "written by the guest\n"
    fsck = subprocess.run(["e2fsck", "-fn", str(disk)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout
    # ...the discarded blocks are holes again, and the read-only drive is untouched.
    freed = (blocks_before - os.stat(disk).st_blocks) * 512
    assert freed >= 7 << 20, f"fstrim freed only {freed} bytes on the host"
    assert ro.read_bytes() == ro_data


def test_ext4_root_on_virtio_blk(vm, guest_kit, volt_bin, tmp_path):
    """The guest kit as an ext4 image booted with root=/dev/vda."""
    img = run_volt("rootfs", "build", "--ext4", "64M")
    assert img.returncode == 0, img.stderr
    path = run_volt("rootfs", "path", "--ext4", "64M", "--no-build").stdout.strip()
    disk = tmp_path / "root.ext4"
    disk.write_bytes(open(path, "rb").read())
    p = vm("run", "--kernel", guest_kit["vmlinux"], "--drive", f"path={disk}", "--cmdline",
           'console=ttyS0 reboot=k panic=-1 quiet root=/dev/vda rw '
           'volt.cmd="grep -c vda /proc/mounts; echo root > /root-ok"')
    p.wait_for("VOLT-CMD-EXIT 0", 240)
    assert p.wait_exit(60) == 0
    cat = subprocess.run(["debugfs", "-R", "cat /root-ok", str(disk)], capture_output=True,
                         text=True).stdout
    assert cat == "root\n"


@pytest.mark.parametrize("spec, message", [
    ("", "no path=FILE"),
    ("ro", "no path=FILE"),
    ("path=/no/such/disk", "drive '/no/such/disk': No such file or directory"),
    ("path=/tmp", "drive '/tmp': is a directory"),
    ("path=/dev/null,cache=fast", "unknown or malformed option 'cache=fast'"),
    ("path=/dev/null,engine=aio", "unknown or malformed option 'engine=aio'"),
    ("path=/dev/null,id=" + "x" * 3000 + "-", "...' may only hold letters, digits and '_'"),
    ("path=/dev/null,id=../x", "id: '../x' may only hold letters, digits and '_'"),
    ("path=/dev/null,id=", "id: must not be empty"),
    ("path=/dev/null,bogus", "unknown or malformed option 'bogus'"),
])
def test_bad_drive_specs(volt_bin, kvm, tmp_path, spec, message):
    from conftest import GUESTS
    p = run_volt("run", "--kernel", GUESTS / "hello", "--drive", spec, timeout=30)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr
