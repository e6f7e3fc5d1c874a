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
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, run_volt, volt_is_dynamic

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
    # Root's, group-writable for the jail's gid: the jailer must leave it so.
    drive = base / "data.img"
    drive.write_bytes(bytes(1024 * 1024))
    os.chown(drive, 0, GID)
    os.chmod(drive, 0o660)
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
    # The shared libraries (and their loader) only for a dynamically linked volt.
    libs = {"lib", "lib64"} if volt_is_dynamic() else set()
    expect = {"volt", "dev", Path(guest_kit["vmlinux"]).name,
              Path(guest_kit["initrd"]).name, "data.img"} | libs
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
    # Owner and mode as they were; one more link: the jail's, left for the caller.
    assert host_state(drive) == (0, GID, 0o660, 2)


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
    # A host without the memory controller (no cgroup file system at all) says so instead.
    (["--id", "ok", "--cgroup", "memory.no_such_file=1"],
     ("no such file in the cgroup", "this host has no 'memory' controller")),
    (["--id", "ok", "--rlimit", "stack=1"], "unknown resource"),
])
def test_refusals(volt_bin, jail_base, args, message):
    base, _made = jail_base
    full = ["--uid", UID, "--gid", GID, "--chroot-base", base] + args
    proc = run_volt("jail", *full, "--", "--kernel", GUESTS / "hello")
    assert proc.returncode != 0
    messages = message if isinstance(message, tuple) else (message,)
    assert any(m in proc.stderr for m in messages), proc.stderr
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


def test_config_file_cpu_template_file_goes_in(jail_base, volt_bin, tmp_path):
    """A configuration's "cpu-config" naming a template file (Firecracker's
    CustomCpuTemplateOrPath): the file goes into the jail and the path is rewritten, as a
    kernel's. It was left at its host path, which the jailed VMM could not read. Without
    KVM the VMM stops at /dev/kvm, after it read the configuration and the template."""
    base, _made = jail_base
    tmpl = tmp_path / "tmpl.json"
    tmpl.write_text(json.dumps({"kvm_capabilities": []}))
    os.chmod(tmpl, 0o644)
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({"boot-source": {"kernel_image_path": str(GUESTS / "hello")},
                               "cpu-config": str(tmpl),
                               "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}))
    proc = run_volt("jail", "--id", "t-tmpl", "--uid", UID, "--gid", GID, "--chroot-base",
                    base, "--", "--config-file", cfg, "--no-api", timeout=120)
    assert "cpu-config" not in proc.stderr, proc.stderr
    root = base / "volt" / "t-tmpl" / "root"
    inside = json.loads((root / "config.json").read_text())
    assert inside["cpu-config"].startswith("/") and inside["cpu-config"] != str(tmpl), inside
    assert json.loads((root / inside["cpu-config"].lstrip("/")).read_text()) == \
        {"kvm_capabilities": []}
    if os.path.exists("/dev/kvm"):
        assert proc.returncode == 0, proc.stderr
    else:
        assert "/dev/kvm" in proc.stderr, proc.stderr


def test_missing_output_file_says_to_create_it(volt_bin, jail_base, tmp_path):
    """An output named on volt run's command line (--profile-out) goes into the jail as a
    link to the host file: a missing one is refused before anything is made, saying so."""
    base, _made = jail_base
    out = tmp_path / "profile.txt"
    proc = run_volt(*jail_args(base, "po"), "--kernel", GUESTS / "hello", "--profile-out", out,
                    timeout=30)
    assert proc.returncode != 0
    assert (f"{out}: No such file or directory: an output file goes into the jail as a link "
            f"to it, so create it (writable by uid {UID}/gid {GID}) before jailing"
            ) in proc.stderr, proc.stderr
    assert not out.exists()
    assert_no_jail(base, "po")


def test_unreadable_config_file_refused(volt_bin, jail_base, tmp_path):
    """A configuration uid:gid cannot read on the host is not handed to it as the jail's
    config.json (a secret in its boot_args went in, readable by the jailed uid), as any
    other input."""
    base, _made = jail_base
    cfg = tmp_path / "secret.json"
    cfg.write_text(json.dumps({"boot-source": {"kernel_image_path": str(GUESTS / "hello"),
                                               "boot_args": "api_token=TOPSECRET"}}))
    os.chmod(cfg, 0o600)
    proc = run_volt("jail", "--id", "t-sec", "--uid", UID, "--gid", GID, "--chroot-base",
                    base, "--", "--config-file", cfg, "--no-api", timeout=30)
    assert proc.returncode != 0
    assert (f"--config-file '{cfg}' is not readable by uid {UID}/gid {GID}") in proc.stderr, \
        proc.stderr
    assert not (base / "volt" / "t-sec").exists()


# The jailer's file rules (docs/security.md): host files are never chowned or
# chmodded, inputs are resolved once (a symlink's target goes into the jail,
# not the symlink), FIFOs are refused without waiting, symlinked bases are
# refused, and uid/gid 0 need --allow-root. The refusals fail before any exec.

def host_state(path):
    """Owner, group, mode and link count of the file path names (followed)."""
    st = os.stat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_nlink


def make_file(path, mode, uid=0, gid=0, size=4096):
    path.write_bytes(b"\x5a" * size)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return path


def jail_args(base, jid, *extra):
    return ["jail", "--id", jid, "--uid", UID, "--gid", GID, "--chroot-base", base, *extra,
            "--"]


def assert_no_jail(base, jid):
    assert not (base / "volt" / jid).exists()


@pytest.mark.parametrize("via_symlink", [True, False])
def test_unwritable_drive_refused_and_untouched(volt_bin, jail_base, tmp_path, via_symlink):
    base, _made = jail_base
    secret = make_file(tmp_path / "secret.img", 0o600)
    before = host_state(secret)
    drive = secret
    if via_symlink:
        drive = tmp_path / "drive-link"
        drive.symlink_to(secret)
    proc = run_volt(*jail_args(base, "wd"), "--kernel", GUESTS / "hello",
                    "--drive", f"path={drive}", timeout=30)
    assert host_state(secret) == before
    assert os.lstat(drive).st_nlink == 1
    assert proc.returncode != 0
    assert (f"drive '{drive}' is not writable by uid {UID}/gid {GID}: "
            f"chown it to {UID}:{GID}") in proc.stderr, proc.stderr
    assert_no_jail(base, "wd")


def test_symlinked_inputs_put_as_files(kvm, volt_bin, jail_base, tmp_path):
    """Kernel, initrd and drives given as symlinks: their targets go into the jail (a
    hard link), the host files unchanged."""
    base, _made = jail_base
    kernel = tmp_path / "hello"
    shutil.copy(GUESTS / "hello", kernel)
    os.chmod(kernel, 0o644)
    initrd = make_file(tmp_path / "initrd.img", 0o644)
    ro = make_file(tmp_path / "ro.img", 0o640, 0, GID)  # group-readable for the jail
    rw = make_file(tmp_path / "rw.img", 0o660, 0, GID)  # group-writable for the jail
    links = {}
    for name, target in (("k", kernel), ("i", initrd), ("r", ro), ("w", rw)):
        links[name] = tmp_path / name
        links[name].symlink_to(target)
    before = {p: host_state(p) for p in (kernel, initrd, ro, rw)}
    proc = run_volt(*jail_args(base, "sym"), "--kernel", links["k"], "--initrd", links["i"],
                    "--drive", f"path={links['r']},ro", "--drive", f"path={links['w']}",
                    timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Hello from the volt hello guest" in proc.stdout
    root = base / "volt" / "sym" / "root"
    for name, target in (("k", kernel), ("i", initrd), ("r", ro), ("w", rw)):
        st = os.lstat(root / name)
        assert stat.S_ISREG(st.st_mode), name
        assert st.st_ino == os.stat(target).st_ino, name  # a hard link of the target
        uid, gid, mode, nlink = before[target]
        assert host_state(target) == (uid, gid, mode, nlink + 1), name


@pytest.mark.parametrize("via_symlink", [True, False])
def test_unreadable_input_refused(volt_bin, jail_base, tmp_path, via_symlink):
    """A file uid:gid cannot read on the host (a kernel named through a symlink a user
    planted to /etc/shadow) is refused before any jail is made: the jail never gives that
    uid a copy of it (as in Firecracker, whose VMM opens the files as the jailed uid)."""
    base, _made = jail_base
    secret = make_file(tmp_path / "shadow", 0o640, 0, 0)
    before = host_state(secret)
    kernel = secret
    if via_symlink:
        kernel = tmp_path / "vmlinux"
        kernel.symlink_to(secret)
    proc = run_volt(*jail_args(base, "ur"), "--kernel", kernel, timeout=30)
    assert proc.returncode != 0
    assert (f"file '{kernel}' is not readable by uid {UID}/gid {GID}: chown or chmod it "
            f"for {UID}:{GID} before jailing") in proc.stderr, proc.stderr
    assert host_state(secret) == before
    assert_no_jail(base, "ur")


def test_cross_device_files(volt_bin, kvm, jail_base):
    """On another file system: a read-only file is copied, a writable one refused."""
    base, _made = jail_base
    other = Path(tempfile.mkdtemp(prefix="jail-xdev-", dir="/dev/shm"))
    try:
        if os.stat(other).st_dev == os.stat(base).st_dev:
            pytest.skip("/dev/shm is on the base's file system")
        ro = make_file(other / "ro.img", 0o644)
        rw = make_file(other / "rw.img", 0o600, UID, GID)
        before = {p: host_state(p) for p in (ro, rw)}
        proc = run_volt(*jail_args(base, "xdev"), "--kernel", GUESTS / "hello",
                        "--drive", f"path={ro},ro", "--drive", f"path={rw}", timeout=30)
        assert proc.returncode != 0
        assert f"{rw}: cannot hard-link it into the jail" in proc.stderr, proc.stderr
        assert "must be on the jail's file system" in proc.stderr
        assert_no_jail(base, "xdev")
        proc = run_volt(*jail_args(base, "xdev2"), "--kernel", GUESTS / "hello",
                        "--drive", f"path={ro},ro", timeout=60)
        assert proc.returncode == 0, proc.stderr
        st = os.lstat(base / "volt" / "xdev2" / "root" / "ro.img")
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (UID, 0o400)
        assert {p: host_state(p) for p in (ro, rw)} == before
    finally:
        shutil.rmtree(other, ignore_errors=True)


@pytest.mark.parametrize("what", ["kernel", "initrd", "drive", "ro-drive", "config-file"])
def test_fifo_refused_without_blocking(volt_bin, jail_base, tmp_path, what):
    base, _made = jail_base
    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    os.chown(fifo, UID, GID)  # writable by the jail: still not a drive
    os.chmod(fifo, 0o666)
    args = {"kernel": ["--kernel", fifo],
            "initrd": ["--kernel", GUESTS / "hello", "--initrd", fifo],
            "drive": ["--kernel", GUESTS / "hello", "--drive", f"path={fifo}"],
            "ro-drive": ["--kernel", GUESTS / "hello", "--drive", f"path={fifo},ro"],
            "config-file": ["--config-file", fifo, "--no-api"]}[what]
    proc = run_volt(*jail_args(base, "fifo"), *args, timeout=20)
    assert proc.returncode != 0
    assert str(fifo) in proc.stderr, proc.stderr
    assert "FIFO" in proc.stderr, proc.stderr
    assert_no_jail(base, "fifo")


@pytest.fixture
def loop_disk(tmp_path):
    img = tmp_path / "disk.img"
    img.write_bytes(bytes(1 << 20))
    r = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"no loop device here: {r.stderr.strip()}")
    yield r.stdout.strip()
    subprocess.run(["losetup", "-d", r.stdout.strip()])


def test_set_id_program_is_copied_not_linked(volt_bin, jail_base, tmp_path):
    """A set-user-ID file named as an input (a kernel path through a symlink a user planted,
    to a setuid-root program) is copied into the jail, without the bit: a hard link would be
    the jail's uid's to move out and keep past the program's upgrade."""
    base, _made = jail_base
    prog = make_file(tmp_path / "suid-prog", 0o4755)
    run_volt(*jail_args(base, "suid"), "--kernel", prog, timeout=30)
    st = os.lstat(base / "volt" / "suid" / "root" / "suid-prog")
    assert st.st_ino != os.stat(prog).st_ino and os.stat(prog).st_nlink == 1
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (UID, 0o400)


@pytest.mark.parametrize("ro", [True, False])
def test_block_device_node_is_roots_for_the_gid(volt_bin, jail_base, loop_disk, ro):
    """A drive on a disk gets a node of its own in the jail, root's and the jail's gid's
    (0040, 0060 writable): owned by the jail's uid, a read-only one could be chmod'ed
    writable by it."""
    base, _made = jail_base
    was = os.stat(loop_disk)
    try:
        os.chown(loop_disk, 0, GID)
        os.chmod(loop_disk, 0o640 if ro else 0o660)
        jid = f"blkn{int(ro)}"
        run_volt(*jail_args(base, jid), "--kernel", GUESTS / "hello",
                 "--drive", f"path={loop_disk}" + (",ro" if ro else ""), timeout=30)
        st = os.lstat(base / "volt" / jid / "root" / os.path.basename(loop_disk))
        assert stat.S_ISBLK(st.st_mode) and st.st_rdev == was.st_rdev
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == \
            (0, GID, 0o040 if ro else 0o060)
    finally:
        os.chown(loop_disk, was.st_uid, was.st_gid)
        os.chmod(loop_disk, stat.S_IMODE(was.st_mode))


@pytest.mark.parametrize("what", ["kernel", "initrd", "log"])
def test_block_device_only_as_a_drive(volt_bin, jail_base, tmp_path, loop_disk, what):
    """A disk is a drive's file only: as a kernel, initrd or log it is refused before the
    jail is made (the VMM inside refused it after, leaving the jail with a node of the disk
    owned by the jail's uid)."""
    base, _made = jail_base
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({"boot-source": {"kernel_image_path": str(GUESTS / "hello")},
                               "logger": {"log_path": loop_disk}}))
    args = {"kernel": ["--kernel", loop_disk],
            "initrd": ["--kernel", GUESTS / "hello", "--initrd", loop_disk],
            "log": ["--config-file", cfg, "--no-api"]}[what]
    proc = run_volt(*jail_args(base, "blk"), *args, timeout=20)
    assert proc.returncode != 0
    assert f"{loop_disk}: is a block device" in proc.stderr, proc.stderr
    assert_no_jail(base, "blk")


@pytest.mark.parametrize("ids, message", [
    (["--uid", 0, "--gid", GID], "--uid 0: the VMM would run as root's user; pass --allow-root"),
    (["--uid", UID, "--gid", 0], "--gid 0: the VMM would run as root's group; pass --allow-root"),
])
def test_root_ids_need_allow_root(volt_bin, jail_base, ids, message):
    base, _made = jail_base
    proc = run_volt("jail", "--id", "r0", *ids, "--chroot-base", base, "--",
                    "--kernel", GUESTS / "hello", timeout=30)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert not (base / "volt").exists()


def test_allow_root(kvm, volt_bin, jail_base):
    base, _made = jail_base
    proc = run_volt("jail", "--id", "r0", "--uid", 0, "--gid", 0, "--allow-root",
                    "--chroot-base", base, "--", "--kernel", GUESTS / "hello", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Hello from the volt hello guest" in proc.stdout


@pytest.mark.parametrize("case", ["base-link", "link-in-path", "volt-link", "base-not-root",
                                  "base-world-writable"])
def test_unsafe_base_refused(volt_bin, jail_base, tmp_path, case):
    base, _made = jail_base
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    given = base
    if case == "base-link":
        given = tmp_path / "base-link"
        given.symlink_to(base)
        message = f"{given} is a symlink"
    elif case == "link-in-path":
        (tmp_path / "dir-link").symlink_to(tmp_path)
        given = tmp_path / "dir-link" / base.name
        message = f"{tmp_path / 'dir-link'} is a symlink"
    elif case == "volt-link":
        (base / "volt").symlink_to(elsewhere)
        message = f"{base}/volt is a symlink or not a directory"
    elif case == "base-not-root":
        os.chown(base, UID, GID)
        message = "must be owned by root and not writable by group or others"
    else:
        os.chmod(base, 0o777)
        message = "must be owned by root and not writable by group or others"
    proc = run_volt("jail", "--id", "sl", "--uid", UID, "--gid", GID, "--chroot-base", given,
                    "--", "--kernel", GUESTS / "hello", timeout=30)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert os.listdir(elsewhere) == []
    assert not (base / "volt" / "sl").exists()
