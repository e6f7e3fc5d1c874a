"""`volt rootfs`: the busybox guest root filesystem in its three forms."""
import gzip
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import host_is_pvm, run_volt


def listing(cpio_bytes):
    p = subprocess.run(["cpio", "-itv", "--quiet"], input=cpio_bytes, capture_output=True,
                       check=True)
    return p.stdout.decode()


def check_tree(text, all_links=True):
    assert " init\n" in text
    assert " bin/busybox\n" in text
    assert "bin/sh -> /bin/busybox" in text
    assert "usr/bin/env -> /bin/busybox" in text
    # Where busybox --list-full puts it; "bin/reboot" alone also matched "usr/sbin/reboot".
    reboot = re.search(r"(?m) s?bin/reboot -> /bin/busybox$", text)
    assert bool(reboot) == all_links, text
    assert "sbin/init -> /init" in text
    console = [l for l in text.splitlines() if l.endswith(" dev/console")]
    assert console and console[0].startswith("crw-------") and "5,   1" in console[0]


def test_initramfs_uncompressed(volt_bin, cache_env):
    run_volt("rootfs", "build", "--compress", "none", env=cache_env, check=True)
    path = Path(run_volt("rootfs", "path", "--compress", "none", "--no-build",
                         env=cache_env, check=True).stdout.strip())
    assert path.name == "initramfs.cpio"
    # Where guest ring 0 is emulated, ~270 applet links cost seconds to unpack.
    check_tree(listing(path.read_bytes()), all_links=not host_is_pvm())
    init = subprocess.run(["cpio", "-i", "--to-stdout", "--quiet", "init"],
                          input=path.read_bytes(), capture_output=True, check=True).stdout
    assert b"VOLT-GUEST-READY" in init and b"volt.cmd=" in init and b"reboot -f" in init


def test_applet_links_chosen(volt_bin, cache_env):
    """--applet-links picks the links whatever the host; a different set is another image."""
    paths = {}
    for links in ("all", "minimal"):
        run_volt("rootfs", "build", "--compress", "none", "--applet-links", links,
                 env=cache_env, check=True)
        paths[links] = Path(run_volt("rootfs", "path", "--compress", "none", "--applet-links",
                                     links, "--no-build", env=cache_env,
                                     check=True).stdout.strip())
        check_tree(listing(paths[links].read_bytes()), all_links=links == "all")
    assert paths["all"] != paths["minimal"]


def test_initramfs_gzip_and_cache(volt_bin, cache_env):
    run_volt("rootfs", "build", "--compress", "gzip", env=cache_env, check=True)
    t0 = time.monotonic()
    p = run_volt("rootfs", "path", "--compress", "gzip", env=cache_env, check=True)
    assert time.monotonic() - t0 < 1.0
    path = Path(p.stdout.strip())
    assert path.name == "initramfs.cpio.gz"
    check_tree(listing(gzip.decompress(path.read_bytes())), all_links=not host_is_pvm())


def test_ext4_image(volt_bin, cache_env):
    run_volt("rootfs", "build", "--ext4", "32M", env=cache_env, check=True)
    path = Path(run_volt("rootfs", "path", "--ext4", "32M", env=cache_env,
                         check=True).stdout.strip())
    assert path.stat().st_size == 32 << 20
    fsck = subprocess.run(["e2fsck", "-fn", str(path)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    ls = subprocess.run(["debugfs", "-R", "ls -l /dev", str(path)], capture_output=True,
                        text=True).stdout
    assert "20600" in ls and "console" in ls
    st = subprocess.run(["debugfs", "-R", "stat /init", str(path)], capture_output=True,
                        text=True).stdout
    assert "Mode:  0755" in st


@pytest.mark.parametrize("args, message", [
    (["rootfs", "build", "--ext4", "1M"], "--ext4: '1M' is not a size from 8M to 64G"),
    (["rootfs", "build", "--ext4", "lots"], "--ext4: 'lots' is not a size"),
    (["rootfs", "build", "--compress", "zstd"], "--compress: 'zstd' is not gzip or none"),
    (["rootfs", "build", "--applet-links", "some"], "--applet-links: 'some' is not all or minimal"),
    (["rootfs", "build", "--busybox", "/bin/ls"], "is dynamically linked"),
    (["rootfs", "build", "--busybox", "/no/busybox"], "busybox '/no/busybox': No such file"),
    (["rootfs", "build", "--busybox", "/dev/null"],
     "busybox '/dev/null': is a character device"),
    (["rootfs", "build", "--busybox", "/etc/passwd"], "not an ELF executable"),
    (["rootfs", "build", "--no-build"], "--no-build goes with"),
    (["rootfs", "path", "--no-build"], "is not built"),
    (["rootfs", "mount"], "unknown rootfs command 'mount'"),
])
def test_errors_are_clear(volt_bin, cache_env, args, message):
    p = run_volt(*args, env=cache_env)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr
    rootfs = Path(cache_env["XDG_CACHE_HOME"]) / "volt" / "rootfs"
    assert not rootfs.exists() or not [d for d in rootfs.iterdir()]


@pytest.mark.parametrize("damage", ["missing", "cut", "empty", "directory", "fifo",
                                    "entry-is-a-file"])
def test_a_damaged_entry_is_named_and_rebuilt(volt_bin, cache_env, damage):
    """A cache entry whose image is gone, cut or not a file was reported as built (its
    rename hit the taken name) or used as it was: now it is named and built again, and
    --no-build says what is wrong."""
    run_volt("rootfs", "build", "--compress", "none", env=cache_env, check=True)
    path = Path(run_volt("rootfs", "path", "--compress", "none", "--no-build",
                         env=cache_env, check=True).stdout.strip())
    good = path.read_bytes()
    entry = path.parent
    if damage == "missing":
        path.unlink()
    elif damage == "cut":
        path.write_bytes(good[:100])
    elif damage == "empty":
        path.write_bytes(b"")
        (entry / "volt-rootfs.meta").write_text("key=x\n")  # as from before sizes
    elif damage == "directory":
        path.unlink()
        path.mkdir()
    elif damage == "fifo":
        path.unlink()
        os.mkfifo(path)
    else:
        shutil.rmtree(entry)
        entry.write_text("x")
    p = run_volt("rootfs", "path", "--compress", "none", "--no-build", env=cache_env,
                 timeout=20)
    assert p.returncode != 0 and "damaged" in p.stderr and "volt rootfs build" in p.stderr, \
        p.stderr
    p = run_volt("rootfs", "path", "--compress", "none", env=cache_env, timeout=60)
    assert p.returncode == 0 and "damaged" in p.stderr and "building it again" in p.stderr, \
        p.stderr
    assert path.read_bytes() == good
