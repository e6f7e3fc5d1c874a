"""`volt jail`: a jailed VMM as an unprivileged user, chrooted, without capabilities,
in a cgroup. Needs root (CI runs these as root); skipped otherwise.

One guest-kit boot is checked from outside while it runs: /proc/<pid>/status (uids,
gids, capabilities, no_new_privs), /proc/<pid>/root (only the jail's files) and the
cgroup (the pid is in it, the limits read back). The hello guest covers --new-pid-ns;
the refusals need no guest. The API modes (`-- --api-sock ...`, `-- --config-file
... --no-api`) boot the hello guest too.
"""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, run_volt

UID = GID = 1234

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="volt jail needs root")


def cgroup_settings():
    """memory and pids limits under the names this host's hierarchy uses, and the
    directories their group will be (cgroup v2 where it offers the controller)."""
    mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, post = line.split(" - ")
        fstype, _src, opts = post.split()[:3]
        mnt = pre.split()[4]
        if fstype == "cgroup2":
            mounts.setdefault("v2", mnt)
        elif fstype == "cgroup":
            for c in opts.split(","):
                mounts.setdefault(c, mnt)
    v2 = mounts.get("v2")
    v2ctl = Path(v2, "cgroup.controllers").read_text().split() if v2 else []
    out = []
    for ctl, v2file, v1file, value, readback in (
            ("memory", "memory.max", "memory.limit_in_bytes", "512M", str(512 << 20)),
            ("pids", "pids.max", "pids.max", "100", "100")):
        if ctl in v2ctl:
            out.append((v2file, value, readback, v2))
        elif ctl in mounts:
            out.append((v1file, value, readback, mounts[ctl]))
        else:
            pytest.skip(f"no {ctl} cgroup controller on this host")
    return out


@pytest.fixture
def jail_base(tmp_path):
    base = tmp_path / "jailer"
    base.mkdir()
    made = []
    yield base, made
    for d in made:
        # The VM fixture (set up after this one) has killed the VMM by now; its
        # cgroup empties once the kernel has reaped it.
        for _ in range(100):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
    shutil.rmtree(base, ignore_errors=True)


def status_fields(pid):
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.split()
    return fields


def test_jailed_guest_kit_boot(jail_base, vm, guest_kit):
    base, made = jail_base
    jid = "jail-test-1"
    settings = cgroup_settings()
    cg_args = []
    for f, value, _rb, mnt in settings:
        cg_args += ["--cgroup", f"{f}={value}"]
        made.append(Path(mnt, "volt", jid))
    # A writable drive: hard-linked into the jail, so the guest's write reaches it.
    drive = base / "data.img"
    drive.write_bytes(bytes(1024 * 1024))
    p = vm("jail", "--id", jid, "--uid", UID, "--gid", GID, "--chroot-base", base,
           *cg_args, "--rlimit", "no-file=256", "--",
           "run", "--kernel", guest_kit["vmlinux"], "--initrd", guest_kit["initrd"],
           "--mem", "256", "--drive", f"path={drive}", "--log-level", "info",
           "--cmdline", "console=ttyS0 reboot=k panic=-1 quiet "
           'volt.cmd="echo JAILED | dd of=/dev/vda conv=sync,fsync 2>/dev/null"')
    pid = p.proc.pid  # the jailer execs the VMM: same process
    p.wait_for("landlock: ABI", 300)

    st = status_fields(pid)
    assert st["Uid"] == [str(UID)] * 4
    assert st["Gid"] == [str(GID)] * 4
    assert st["Groups"] == []
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[cap][0], 16) == 0, (cap, st[cap])
    assert st["NoNewPrivs"] == ["1"]
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert any(l.startswith("Max open files") and l.split()[3:5] == ["256", "256"]
               for l in limits.splitlines()), limits

    root = Path(f"/proc/{pid}/root")
    seen = set(os.listdir(root))
    expect = {"volt", "dev", "lib", "lib64", Path(guest_kit["vmlinux"]).name,
              Path(guest_kit["initrd"]).name, "data.img"}
    assert seen - {"usr"} == expect, seen
    assert sorted(os.listdir(root / "dev")) == ["kvm", "net"]
    assert not (root / "etc").exists()
    jail_root = base / "volt" / jid / "root"
    assert os.stat(jail_root / "dev" / "kvm").st_uid == UID
    assert os.stat(drive).st_ino == os.stat(jail_root / "data.img").st_ino

    for f, _value, readback, mnt in settings:
        group = Path(mnt, "volt", jid)
        assert str(pid) in (group / "cgroup.procs").read_text().split()
        assert (group / f).read_text().strip() == readback

    out = p.wait_for("VOLT-CMD-EXIT 0", 900)
    assert p.wait_exit(60) == 0, out[-3000:]
    assert drive.read_bytes().startswith(b"JAILED\n")


def test_new_pid_ns(kvm, volt_bin, jail_base):
    base, _made = jail_base
    proc = run_volt("jail", "--id", "pidns", "--uid", UID, "--gid", GID, "--chroot-base", base,
                    "--new-pid-ns", "--", "--kernel", GUESTS / "hello", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Hello from the volt hello guest" in proc.stdout
    assert (base / "volt" / "pidns" / "root" / "hello").exists()


@pytest.mark.parametrize("args, message", [
    (["--id", "bad/id"], "--id 'bad/id': may hold only letters, digits and '-'"),
    (["--id", "x" * 65], "must be 1 to 64 characters"),
    (["--id", "ok", "--chroot-base", "relative"], "must be an absolute path"),
    (["--id", "ok", "--chroot-base", "/nonexistent-volt-base"], "No such file or directory"),
    (["--id", "ok", "--uid", "nobody"], "--uid 'nobody': not a number"),
    (["--id", "ok", "--cgroup", "memory"], "expected FILE=VALUE"),
    (["--id", "ok", "--cgroup", "memory.no_such_file=1"], "no such file in the cgroup"),
    (["--id", "ok", "--rlimit", "stack=1"], "unknown resource"),
])
def test_refusals(volt_bin, jail_base, args, message):
    base, _made = jail_base
    full = ["--uid", UID, "--gid", GID, "--chroot-base", base] + args
    proc = run_volt("jail", *full, "--", "--kernel", GUESTS / "hello")
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert not (base / "volt" / "ok").exists()
    for mnt in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        assert not Path(mnt, "volt", "ok").exists()


def test_missing_file_and_existing_jail(volt_bin, jail_base):
    base, _made = jail_base
    common = ["jail", "--id", "dup", "--uid", UID, "--gid", GID, "--chroot-base", base, "--"]
    proc = run_volt(*common, "--kernel", base / "missing-vmlinux")
    assert proc.returncode != 0
    assert "missing-vmlinux: No such file or directory" in proc.stderr
    assert not (base / "volt" / "dup").exists()

    (base / "volt" / "dup").mkdir(parents=True)
    proc = run_volt(*common, "--kernel", GUESTS / "hello")
    assert proc.returncode != 0
    assert "exists already" in proc.stderr
    assert os.listdir(base / "volt" / "dup") == []  # left as it was


def test_api_sock_in_jail(jail_base, vm):
    """Firecracker's model: the socket path is the jail's, files PUT later must be
    in the jail already and are named by their path there."""
    base, _made = jail_base
    jid = "t-api"
    p = vm("jail", "--id", jid, "--uid", UID, "--gid", GID, "--chroot-base", base, "--",
           "--api-sock", "/run/api.sock", "--log-level", "info")
    root = base / "volt" / jid / "root"
    sock = root / "run" / "api.sock"
    wait_for_socket(sock, p.proc)
    st = os.stat(root / "run")
    assert (st.st_uid, st.st_gid) == (UID, GID)
    assert os.stat(sock).st_uid == UID
    assert "jail: the API socket is " + str(sock.resolve()) in p.output()

    shutil.copy(GUESTS / "hello", root / "hello")
    os.chmod(root / "hello", 0o644)
    api = ApiClient(sock)
    assert api.get("/")[1]["id"] == jid  # the jail's --id reached the VMM
    assert api.put("/boot-source", {"kernel_image_path": "/hello"}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    assert p.wait_exit(60) == 0, p.output()
    assert "Hello from the volt hello guest" in p.output()


def test_config_file_no_api(jail_base, volt_bin, kvm, tmp_path):
    base, _made = jail_base
    cfg = tmp_path / "vm.json"
    doc = {"boot-source": {"kernel_image_path": str(GUESTS / "hello"), "initrd_path": None},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}
    cfg.write_text(json.dumps(doc))
    proc = run_volt("jail", "--id", "t-cfg", "--uid", UID, "--gid", GID, "--chroot-base", base,
                    "--", "--config-file", cfg, "--no-api", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Hello from the volt hello guest" in proc.stdout
    root = base / "volt" / "t-cfg" / "root"
    st = os.stat(root / "config.json")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (UID, GID, 0o600)
    inside = json.loads((root / "config.json").read_text())
    assert inside["boot-source"]["kernel_image_path"] == "/hello"
    assert inside["machine-config"] == doc["machine-config"]
    assert (root / "hello").exists()
    assert not (root / "run").exists()  # --no-api: no socket directory

    # Read with the API's parser before anything is made.
    cfg.write_text(json.dumps({"boot-source": {"kernel_image_path": str(GUESTS / "hello")},
                               "machine-config": {"vcpu_count": 1, "mem_size_mib": 128,
                                                  "cpus": 2}}))
    proc = run_volt("jail", "--id", "t-cfg2", "--uid", UID, "--gid", GID, "--chroot-base",
                    base, "--", "--config-file", cfg, "--no-api", timeout=60)
    assert proc.returncode != 0
    assert "cpus" in proc.stderr, proc.stderr
    assert not (base / "volt" / "t-cfg2").exists()
