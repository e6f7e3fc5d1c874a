"""`volt kernel`: the real guest-kit kernel, and every error path of the CLI."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, run_volt

# What issue #2 requires of the default guest kernel's configuration.
REQUIRED = """64BIT SMP PRINTK SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP
BINFMT_ELF BINFMT_SCRIPT DEVTMPFS DEVTMPFS_MOUNT PROC_FS SYSFS TMPFS TTY UNIX98_PTYS FUTEX
EPOLL KVM_GUEST PARAVIRT PVH VIRTIO_MMIO VIRTIO_MMIO_CMDLINE_DEVICES VIRTIO_BLK VIRTIO_NET
VIRTIO_CONSOLE HW_RANDOM_VIRTIO VIRTIO_BALLOON VSOCKETS VIRTIO_VSOCKETS EXT4_FS NET INET UNIX
RANDOM_TRUST_CPU UNWINDER_GUESS""".split()
# The tick: the pvm variant's own config (kernel/patches/pvm/variant.config) halves it.
HZ_OF_VARIANT = {"generic": "HZ_100", "pvm": "HZ_50"}
FORBIDDEN = """MODULES PCI ACPI SLUB_DEBUG LEGACY_PTYS PTP_1588_CLOCK PPS
PTP_1588_CLOCK_KVM""".split()


def test_default_kernel_is_cached_and_complete(volt_bin):
    """The guest kit's kernel (built by `make test` before pytest runs)."""
    p = run_volt("kernel", "path", "--no-build")
    assert p.returncode == 0, (
        "the default guest kernel is not cached: run 'make guest-kit' first\n" + p.stderr)
    vmlinux = Path(p.stdout.strip())
    assert vmlinux.read_bytes()[:4] == b"\x7fELF"
    elf = subprocess.run(["readelf", "-h", str(vmlinux)], capture_output=True, text=True)
    assert "ELF64" in elf.stdout and "X86-64" in elf.stdout
    config = (vmlinux.parent / "config").read_text()
    meta = (vmlinux.parent / "volt-kernel.meta").read_text()
    variant = next(l.split("=", 1)[1] for l in meta.splitlines() if l.startswith("variant="))
    for opt in REQUIRED + [HZ_OF_VARIANT[variant]]:
        assert f"CONFIG_{opt}=y\n" in config, f"CONFIG_{opt} is not =y"
    for opt in FORBIDDEN:
        assert f"CONFIG_{opt}=y\n" not in config, f"CONFIG_{opt} must be off"
    assert 'CONFIG_SERIAL_8250_NR_UARTS=1\n' in config
    assert (vmlinux.parent / "bzImage").exists()


def test_cached_build_returns_at_once(volt_bin):
    assert run_volt("kernel", "path", "--no-build").returncode == 0, (
        "the default guest kernel is not cached: run 'make guest-kit' first")
    t0 = time.monotonic()
    p = run_volt("kernel", "build")
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert "is cached" in p.stderr
    assert elapsed < 1.0, f"a cached build took {elapsed:.2f}s"


def test_list_shows_the_variant(volt_bin):
    p = run_volt("kernel", "list", check=True)
    assert "VARIANT" in p.stdout
    variant = "pvm" if os.path.exists("/sys/module/kvm_pvm") else "generic"
    assert any(line.split()[1:3] == ["microvm", variant] for line in p.stdout.splitlines()[1:])


@pytest.mark.parametrize("args, message", [
    (["kernel", "build", "--config", "nosuch"], "unknown kernel config 'nosuch' (known: "),
    (["kernel", "build", "--config", "/no/such.config"],
     "kernel config '/no/such.config': No such"),
    (["kernel", "build", "--config", "/dev/null"],
     "kernel config '/dev/null': is a character device"),
    (["kernel", "build", "--source", "/tmp"], "kernel source '/tmp' is a directory"),
    (["kernel", "build", "--variant", "nosuch"], "unknown kernel variant 'nosuch'"),
    (["kernel", "build", "--source", "/no/such.tar.xz"], "kernel source /no/such.tar.xz not found"),
    (["kernel", "build", "--jobs", "0"], "--jobs: '0' is not a number"),
    (["kernel", "path", "--no-build"], "is not cached"),
    (["kernel", "rm", "nosuch"], "no cached kernel matches 'nosuch'"),
    (["kernel", "frobnicate"], "unknown kernel command 'frobnicate'"),
    (["kernel", "list", "extra"], "wrong arguments"),
    (["kernel"], "usage: volt kernel"),
    (["nosuch"], "unknown command 'nosuch'"),
])
def test_errors_are_clear(volt_bin, cache_env, args, message):
    p = run_volt(*args, env=cache_env)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr


def make_fake_source(tmp_path):
    src = tmp_path / "linux-fake.tar.gz"
    subprocess.run(["tar", "-czf", str(src), "-C", str(REPO / "tests" / "unit"), "fake-kernel"],
                   check=True)
    return src


def test_build_list_path_rm_on_a_fake_tree(volt_bin, cache_env, tmp_path):
    """The whole CLI cycle in seconds, on a stand-in source tree."""
    src = make_fake_source(tmp_path)
    cfg = tmp_path / "small.config"
    cfg.write_text("CONFIG_SMP=y\n")
    p = run_volt("kernel", "build", "--config", cfg, "--source", src, "--variant", "generic",
                 env=cache_env, check=True)
    p = run_volt("kernel", "path", "--config", cfg, "--source", src, "--variant", "generic",
                 "--no-build", env=cache_env, check=True)
    vmlinux = Path(p.stdout.strip())
    assert vmlinux.is_file() and vmlinux.name == "vmlinux"
    key = vmlinux.parent.name
    p = run_volt("kernel", "list", env=cache_env, check=True)
    assert key in p.stdout and "small" in p.stdout
    p = run_volt("kernel", "path", key[:6], env=cache_env, check=True)
    assert p.stdout.strip() == str(vmlinux)
    p = run_volt("kernel", "rm", "small", env=cache_env, check=True)
    assert key in p.stdout
    assert not vmlinux.parent.exists()


def test_failed_build_leaves_no_entry(volt_bin, cache_env, tmp_path):
    src = make_fake_source(tmp_path)
    cfg = tmp_path / "fails.config"
    cfg.write_text("CONFIG_FAKE_FAIL=y\n")
    p = run_volt("kernel", "build", "--config", cfg, "--source", src, "--variant", "generic",
                 env=cache_env)
    assert p.returncode != 0
    assert "kernel build failed while building" in p.stderr
    assert "fake: error: compile failed" in p.stderr
    kdir = Path(cache_env["XDG_CACHE_HOME"]) / "volt" / "kernels"
    assert [d.name for d in kdir.iterdir() if d.is_dir()] == []
    assert (kdir / "last-failed-build.log").exists()
    assert "no kernels cached" in run_volt("kernel", "list", env=cache_env).stdout


def test_interrupted_build_leaves_no_entry(volt_bin, cache_env, tmp_path):
    """SIGTERM during the build stops make and removes the work directory."""
    tree = tmp_path / "slow-kernel"
    subprocess.run(["cp", "-r", str(REPO / "tests" / "unit" / "fake-kernel"), str(tree)],
                   check=True)
    mk = tree / "Makefile"
    mk.write_text(mk.read_text().replace("@cp /bin/true", "@sleep 30; cp /bin/true"))
    src = tmp_path / "slow.tar.gz"
    subprocess.run(["tar", "-czf", str(src), "-C", str(tmp_path), "slow-kernel"], check=True)
    cfg = tmp_path / "slow.config"
    cfg.write_text("CONFIG_SMP=y\n")
    proc = subprocess.Popen([str(volt_bin), "kernel", "build", "--config", str(cfg), "--source",
                             str(src), "--variant", "generic"], env=cache_env,
                            stderr=subprocess.PIPE, text=True)
    kdir = Path(cache_env["XDG_CACHE_HOME"]) / "volt" / "kernels"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not list(kdir.glob(".build-*/obj/.config")):
        time.sleep(0.05)
    time.sleep(0.5)
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    assert proc.returncode != 0
    assert "interrupted" in err
    assert [d.name for d in kdir.iterdir() if d.is_dir()] == []
