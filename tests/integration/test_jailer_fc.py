"""volt as a drop-in for Firecracker's jailer and Firecracker, the way
firecracker-containerd and the Go SDK drive them: volt linked as `jailer` and
`firecracker`, `jailer --id ... --exec-file <dir>/firecracker ... -- --api-sock
/run/firecracker.socket`, then the API socket inside the chroot
<base>/firecracker/<id>/root: logger, metrics, machine-config, boot-source (a
kernel put into the chroot), drives, a network interface with MMDS (mmds/config,
the metadata), InstanceStart. Needs root; skipped otherwise. Boots only the tiny
hello guest.
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
from conftest import GUESTS, VOLT

UID = GID = 1234
PARENT = "volt-jailer-fc-test"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the jailer needs root")


def pids_cgroup():
    """(version, directory of the pids controller's hierarchy): v2 when the unified
    hierarchy offers pids, else v1's."""
    v2 = v1 = None
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _dev, mnt, fstype, opts = line.split()[:4]
        if fstype == "cgroup2" and v2 is None:
            v2 = mnt
        elif fstype == "cgroup" and "pids" in opts.split(","):
            v1 = mnt
    if v2 and "pids" in Path(v2, "cgroup.controllers").read_text().split():
        return 2, v2
    if v1:
        return 1, v1
    pytest.skip("no pids cgroup controller on this host")


@pytest.fixture
def fc(fc_paths, kvm):
    """fc_paths, for a test that runs a VM."""
    return fc_paths


@pytest.fixture
def fc_paths(tmp_path, volt_bin):
    """volt linked as jailer and firecracker, a chroot base, and cleanup of the
    processes and cgroups made."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "jailer").symlink_to(VOLT)
    (bindir / "firecracker").symlink_to(VOLT)
    # Short: the socket's path seen from outside must fit a sockaddr_un.
    short = Path(tempfile.mkdtemp(prefix="vfc", dir="/tmp"))
    base = short / "srv"
    base.mkdir(mode=0o755)
    state = {"bin": bindir, "base": base, "procs": [], "pids": [], "cgroups": []}
    yield state
    for p in state["procs"]:
        if p.poll() is None:
            p.kill()
        p.wait()
    for pid in state["pids"]:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    for d in state["cgroups"]:
        for _ in range(100):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
    shutil.rmtree(short, ignore_errors=True)


def jailer(fc, jid, *flags, extra=(), **kw):
    args = [str(fc["bin"] / "jailer"), "--id", jid, "--exec-file", str(fc["bin"] / "firecracker"),
            "--uid", str(UID), "--gid", str(GID), "--chroot-base-dir", str(fc["base"]),
            *map(str, flags), "--"]
    # Once: Firecracker's parser refuses an option given twice (its framework's
    # extra_args is a dict).
    if "--api-sock" not in extra:
        args += ["--api-sock", "/run/firecracker.socket"]
    return args + list(map(str, extra))


def put_owned(src, dst, mode=0o600):
    shutil.copy(src, dst)
    os.chown(dst, UID, GID)
    os.chmod(dst, mode)


def status(pid):
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = v.split()
    return out


METADATA = {"latest": {"meta-data": {"instance-id": "i-1", "local-ipv4": "169.254.0.2"}}}


def configure_and_start(api, root, tap=None):
    """What the Go SDK does once the socket is up (files named by their jail paths);
    with a TAP, its interface and MMDS as firecracker-containerd sets them up."""
    (root / "fc.log").touch()
    os.chown(root / "fc.log", UID, GID)
    (root / "fc.metrics").touch()
    os.chown(root / "fc.metrics", UID, GID)
    put_owned(GUESTS / "hello", root / "vmlinux", 0o400)
    (root / "rootfs.img").write_bytes(bytes(64 * 1024))
    os.chown(root / "rootfs.img", UID, GID)
    for url, body in (
            ("/logger", {"log_path": "/fc.log", "level": "Debug", "show_level": True,
                         "show_log_origin": False}),
            ("/metrics", {"metrics_path": "/fc.metrics"}),
            ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "smt": False}),
            ("/boot-source", {"kernel_image_path": "/vmlinux",
                              "boot_args": "console=ttyS0 reboot=k panic=1"}),
            ("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "/rootfs.img",
                                "is_root_device": True, "is_read_only": False})):
        code, resp = api.put(url, body)
        assert code == 204, (url, code, resp)
    if tap:
        for url, body in (
                ("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": tap,
                                              "guest_mac": "06:00:ac:10:00:02"}),
                ("/mmds/config", {"version": "V2", "network_interfaces": ["eth0"],
                                  "ipv4_address": "169.254.169.254"}),
                ("/mmds", METADATA)):
            code, resp = api.put(url, body)
            assert code == 204, (url, code, resp)
        assert api.get("/mmds") == (200, METADATA)
        assert api.get("/vm/config")[1]["mmds-config"] == {
            "version": "V2", "network_interfaces": ["eth0"], "ipv4_address": "169.254.169.254",
            "imds_compat": False}
    code, resp = api.put("/actions", {"action_type": "InstanceStart"})
    assert code == 204, ("/actions", code, resp)


def test_go_sdk_flow(fc, tmp_path):
    version, hierarchy = pids_cgroup()
    jid = "test-1"
    base = fc["base"]
    cgroup = Path(hierarchy, PARENT, jid)
    fc["cgroups"] += [cgroup, cgroup.parent]
    log = open(tmp_path / "jailer.log", "wb")
    p = subprocess.Popen(jailer(fc, jid, "--cgroup-version", version, "--parent-cgroup", PARENT,
                                "--cgroup", "pids.max=100", "--resource-limit", "fsize=1048576"),
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    fc["procs"].append(p)
    root = base / "firecracker" / jid / "root"
    sock = root / "run" / "firecracker.socket"
    wait_for_socket(sock, p)

    # The chroot layout Firecracker's jailer makes.
    assert (root / "firecracker").is_file() and not (root / "firecracker").is_symlink()
    st = os.stat(root / "firecracker")
    assert (st.st_uid, st.st_gid) == (UID, GID)
    assert st.st_ino != os.stat(VOLT).st_ino  # a copy, as Firecracker's jailer makes
    for dev, rdev in (("dev/kvm", (10, 232)), ("dev/net/tun", (10, 200)),
                      ("dev/urandom", (1, 9))):
        st = os.stat(root / dev)
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == rdev
        assert (st.st_uid, st.st_gid) == (UID, GID)
    assert (root / "firecracker.pid").read_text() == str(p.pid)
    assert os.stat(root / "run").st_uid == UID

    # The VMM: the jailer exec'd it (same pid), as uid:gid, without capabilities,
    # in the cgroup, with Firecracker's timing arguments and the rlimits.
    cmdline = Path(f"/proc/{p.pid}/cmdline").read_bytes().split(b"\0")[:-1]
    assert cmdline[:3] == [b"/firecracker", b"--id", jid.encode()]
    assert b"--start-time-us" in cmdline and b"--parent-cpu-time-us" in cmdline
    assert cmdline[-2:] == [b"--api-sock", b"/run/firecracker.socket"]
    st = status(p.pid)
    assert st["Uid"] == [str(UID)] * 4 and st["Gid"] == [str(GID)] * 4
    assert int(st["CapEff"][0], 16) == 0 and int(st["CapBnd"][0], 16) == 0
    assert str(p.pid) in (cgroup / "cgroup.procs").read_text().split()
    assert (cgroup / "pids.max").read_text().strip() == "100"
    limits = Path(f"/proc/{p.pid}/limits").read_text().splitlines()
    assert any(l.startswith("Max open files") and l.split()[3:5] == ["2048", "2048"]
               for l in limits), limits
    assert any(l.startswith("Max file size") and l.split()[3:5] == ["1048576", "1048576"]
               for l in limits), limits

    api = ApiClient(sock)
    code, info = api.get("/")
    assert code == 200 and info["id"] == jid
    # A TAP the jailed (unprivileged) VMM may attach to, as the SDK's CNI setup leaves.
    tap = f"vfcm{os.getpid() % 100000}"
    subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap", "user", str(UID)],
                   check=True)
    try:
        configure_and_start(api, root, tap)
        assert p.wait(60) == 0, (tmp_path / "jailer.log").read_text()
    finally:
        subprocess.run(["ip", "link", "del", tap], check=False)
    out = (tmp_path / "jailer.log").read_text(errors="replace")
    assert "Hello from the volt hello guest" in out
    assert (root / "fc.log").stat().st_size > 0
    assert (root / "fc.metrics").stat().st_size > 0


def test_failed_run_leaves_a_reused_root_as_it_was(fc):
    """A run that fails in a root the orchestrator made (here: a symlink where dev goes)
    takes out what it put there, so the run after the cause is fixed works, as
    Firecracker's does (its jailer writes over its exec file's copy)."""
    jid = "reuse-fail"
    root = fc["base"] / "firecracker" / jid / "root"
    root.mkdir(parents=True)
    (root / "dev").symlink_to("/etc")
    proc = subprocess.run(jailer(fc, jid), capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert not (root / "firecracker").exists(), os.listdir(root)
    (root / "dev").unlink()
    p = subprocess.Popen(jailer(fc, jid), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fc["procs"].append(p)
    wait_for_socket(root / "run" / "firecracker.socket", p)
    assert ApiClient(root / "run" / "firecracker.socket").get("/")[0] == 200


def test_two_jailers_with_one_id_at_once(fc):
    """Started together with one id: one runs, the other is refused and removes
    nothing of the first one's jail."""
    jid = "twice"
    procs = [subprocess.Popen(jailer(fc, jid), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    fc["procs"].extend(procs)
    sock = fc["base"] / "firecracker" / jid / "root" / "run" / "firecracker.socket"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not sock.exists():
        time.sleep(0.02)
    time.sleep(0.3)
    running = [p for p in procs if p.poll() is None]
    assert len(running) == 1, [p.stderr.read() for p in procs if p.poll() is not None]
    assert ApiClient(sock).get("/")[0] == 200


def test_daemonize_new_pid_ns_reused_root(fc, tmp_path):
    """--daemonize and --new-pid-ns: the jailer exits 0 at once, the VMM's pid is in
    <root>/firecracker.pid; the root the orchestrator made beforehand, with its files,
    is kept."""
    jid = "test-2"
    root = fc["base"] / "firecracker" / jid / "root"
    root.mkdir(parents=True)
    put_owned(GUESTS / "hello", root / "vmlinux", 0o400)
    proc = subprocess.run(jailer(fc, jid, "--daemonize", "--new-pid-ns"), capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    # As with Firecracker's jailer, the caller is gone before the daemon has
    # written the pid file.
    deadline = time.monotonic() + 30
    while not (root / "firecracker.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    pid = int((root / "firecracker.pid").read_text())
    fc["pids"].append(pid)
    sock = root / "run" / "firecracker.socket"
    wait_for_socket(sock)
    assert (root / "vmlinux").exists()
    st = status(pid)
    assert st["Uid"] == [str(UID)] * 4
    assert st["NSpid"][-1] == "1"  # pid 1 of its own PID namespace
    assert st["PPid"] != [str(os.getpid())]
    api = ApiClient(sock)
    assert api.put("/boot-source", {"kernel_image_path": "/vmlinux"}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the daemonized VMM did not exit")


@pytest.mark.parametrize("args, message", [
    (["--exec-file", "X", "--uid", "1", "--gid", "1"],
     "Failed to parse arguments: Argument 'id' required, but not found."),
    (["--id", "a_b", "--exec-file", "X", "--uid", "1", "--gid", "1"],
     "Invalid instance ID: Invalid char (_) at position 1"),
    (["--id", "a", "--exec-file", "/nonexistent/firecracker", "--uid", "1", "--gid", "1"],
     "Failed to canonicalize path /nonexistent/firecracker: No such file or directory "
     "(os error 2)"),
    (["--id", "a", "--exec-file", "X", "--uid", "nobody", "--gid", "1"], "Invalid uid: nobody"),
    # (uid_t)-1 is "leave it" to setresuid(): the VMM stayed root.
    (["--id", "a", "--exec-file", "X", "--uid", "4294967295", "--gid", "1"],
     "Invalid uid: 4294967295"),
    (["--id", "a", "--exec-file", "X", "--uid", "1", "--gid", "4294967295"],
     "Invalid gid: 4294967295"),
    (["--id", "a", "--exec-file", "X", "--uid", "1", "--gid", "1", "--bogus"],
     "Failed to parse arguments: Found argument 'bogus' which wasn't expected, or isn't "
     "valid in this context."),
    (["--id", "a", "--exec-file", "X", "--uid", "1", "--gid", "1", "--resource-limit",
      "nproc=1"], "Invalid resource argument: nproc"),
])
def test_refusals(fc_paths, args, message):
    fc = fc_paths
    args = [str(fc["bin"] / "firecracker") if a == "X" else a for a in args]
    proc = subprocess.run([str(fc["bin"] / "jailer"), *args, "--chroot-base-dir",
                           str(fc["base"])], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert message in proc.stderr, proc.stderr
    assert os.listdir(fc["base"]) == []


def test_exec_file_the_uid_cannot_read_is_not_copied(fc_paths, tmp_path):
    """The jail's copy of --exec-file is the uid's: a file it cannot read on the host (a
    path through a symlink a user planted, to /etc/shadow say) is refused, not handed over."""
    secret = tmp_path / "secret"
    secret.write_text("root only\n")
    os.chmod(secret, 0o600)
    link = tmp_path / "firecracker"
    link.symlink_to(secret)
    proc = subprocess.run([str(fc_paths["bin"] / "jailer"), "--id", "s1", "--exec-file",
                           str(link), "--uid", "1234", "--gid", "1234", "--chroot-base-dir",
                           str(fc_paths["base"])], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert f"--exec-file {secret} is not readable by uid 1234/gid 1234" in proc.stderr, \
        proc.stderr
    jail = fc_paths["base"] / "firecracker" / "s1" / "root"
    assert not (jail / "firecracker").exists()


def test_argv0_dispatch(fc):
    proc = subprocess.run([str(fc["bin"] / "jailer"), "--version"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("Jailer v"), proc
    proc = subprocess.run([str(VOLT), "jailer", "--help"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0 and "--exec-file" in proc.stdout
    proc = subprocess.run([str(fc["bin"] / "firecracker"), "--version"], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("Firecracker v"), proc
    # Firecracker's --metadata: the file must be there.
    proc = subprocess.run([str(fc["bin"] / "firecracker"), "--metadata", "/nonexistent.json"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "--metadata '/nonexistent.json'" in proc.stderr


def test_v2_parent_cgroup_without_cgroups(fc, tmp_path):
    """--cgroup-version 2 and no --cgroup: the jailer joins the parent group when it
    exists (Firecracker's way of placing a VM in a group made beforehand)."""
    v2 = next((l.split()[1] for l in Path("/proc/self/mounts").read_text().splitlines()
               if l.split()[2] == "cgroup2"), None)
    if not v2:
        pytest.skip("no cgroup v2 hierarchy")
    parent = Path(v2, PARENT + "-parent")
    parent.mkdir(exist_ok=True)
    fc["cgroups"].append(parent)
    p = subprocess.Popen(jailer(fc, "test-3", "--cgroup-version", 2, "--parent-cgroup",
                                parent.name),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    fc["procs"].append(p)
    wait_for_socket(fc["base"] / "firecracker" / "test-3" / "root" / "run" /
                    "firecracker.socket", p)
    assert str(p.pid) in (parent / "cgroup.procs").read_text().split()
    assert f"0::/{parent.name}" in Path(f"/proc/{p.pid}/cgroup").read_text().splitlines()
    p.kill()
    p.wait()


def test_same_id_twice(fc, tmp_path):
    """A second jailer with the id of a jail that holds its exec file already is
    refused (Firecracker's fails on the device nodes); the first VM keeps running."""
    p = subprocess.Popen(jailer(fc, "test-4"), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    fc["procs"].append(p)
    root = fc["base"] / "firecracker" / "test-4" / "root"
    wait_for_socket(root / "run" / "firecracker.socket", p)
    proc = subprocess.run(jailer(fc, "test-4"), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "File exists" in proc.stderr, proc.stderr
    assert p.poll() is None
    st = os.stat(root)  # given back to the running VM
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (UID, GID, 0o700)
    assert ApiClient(root / "run" / "firecracker.socket").get("/")[1]["id"] == "test-4"


def test_drive_patch_and_snapshot_in_the_jail(fc, tmp_path):
    """Firecracker's test_drive_patch and snapshot tests, jailed: a running VM's
    drive takes a new file put in the jail (firecracker-containerd's stub drives),
    and a snapshot is written at paths relative to the jail, with no directory named
    at start: in its jail the VMM may use the jail's regular files, as Firecracker."""
    jid = "test-5"
    log = open(tmp_path / "jailer.log", "wb")
    p = subprocess.Popen(jailer(fc, jid), stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    fc["procs"].append(p)
    root = fc["base"] / "firecracker" / jid / "root"
    sock = root / "run" / "firecracker.socket"
    wait_for_socket(sock, p)
    api = ApiClient(sock)
    put_owned(GUESTS / "echo", root / "echo", 0o400)
    for name, size in (("scratch.img", 64 << 10), ("scratch_new.img", 128 << 10)):
        (root / name).write_bytes(bytes(size))
        os.chown(root / name, UID, GID)
    (root / "fc.metrics").touch()
    os.chown(root / "fc.metrics", UID, GID)
    for url, body in (
            ("/metrics", {"metrics_path": "/fc.metrics"}),
            ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 32}),
            ("/boot-source", {"kernel_image_path": "/echo"}),
            ("/drives/scratch", {"drive_id": "scratch", "path_on_host": "/scratch.img",
                                 "is_root_device": False, "is_read_only": False}),
            ("/actions", {"action_type": "InstanceStart"})):
        code, resp = api.put(url, body)
        assert code == 204, (url, code, resp)

    code, resp = api.patch("/drives/scratch", {"drive_id": "scratch",
                                               "path_on_host": "foo.bar"})
    assert code == 400 and ("Error manipulating the backing file: No such file or directory "
                            "(os error 2) foo.bar") in resp["fault_message"], resp
    assert api.patch("/drives/scratch", {"drive_id": "scratch",
                                         "path_on_host": "/scratch_new.img"}) == (204, None)
    rl = {"bandwidth": {"size": 1000000, "refill_time": 100},
          "ops": {"size": 1, "refill_time": 100}}
    assert api.patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": "/scratch_new.img",
                                         "rate_limiter": rl}) == (204, None)
    drive = api.get("/vm/config")[1]["drives"][0]
    assert drive["path_on_host"] == "/scratch_new.img"
    assert drive["rate_limiter"]["ops"]["size"] == 1
    assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
    line = json.loads((root / "fc.metrics").read_text().splitlines()[-1])
    assert line["block"]["update_count"] == 2 and line["block"]["update_fails"] == 1, line["block"]
    assert line["block_scratch"]["update_count"] == 2

    assert api.patch("/vm", {"state": "Paused"}) == (204, None)
    code, resp = api.put("/snapshot/create", {"snapshot_type": "Full",
                                              "snapshot_path": "vmstate", "mem_file_path": "mem"})
    assert code == 204, resp
    assert (root / "vmstate").stat().st_size > 0
    assert (root / "mem").stat().st_size == 32 << 20
    assert p.poll() is None



def test_drive_patch_to_a_block_device_in_the_jail(fc, tmp_path):
    """test_drive_virtio.py::test_rescan_dev: after boot a drive's path_on_host becomes a
    loop device, which Firecracker's framework puts in the jail as a block device node
    (mknod, 0600, uid:gid); the VMM opens it and reads its size (BLKGETSIZE64)."""
    if shutil.which("losetup") is None or not Path("/dev/loop-control").exists():
        pytest.skip("no loop devices here")
    backing = tmp_path / "fs2.img"
    backing.write_bytes(bytes(512 << 10))
    out = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True,
                         text=True)
    if out.returncode:
        pytest.skip(f"losetup: {out.stderr.strip()}")
    loop = out.stdout.strip()
    try:
        jid = "test-rescan-dev"
        p, root = started_jail(fc, jid)
        sock = root / "run" / "firecracker.socket"
        wait_for_socket(sock, p)
        api = ApiClient(sock)
        put_owned(GUESTS / "echo", root / "echo", 0o400)
        (root / "fs1.img").write_bytes(bytes(64 << 10))
        os.chown(root / "fs1.img", UID, GID)
        for url, body in (
                ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 32}),
                ("/boot-source", {"kernel_image_path": "/echo"}),
                ("/drives/scratch", {"drive_id": "scratch", "path_on_host": "/fs1.img",
                                     "is_root_device": False, "is_read_only": False}),
                ("/actions", {"action_type": "InstanceStart"})):
            code, resp = api.put(url, body)
            assert code == 204, (url, code, resp)
        node = root / Path(loop).name
        os.mknod(node, 0o600 | stat.S_IFBLK, os.stat(loop).st_rdev)
        os.chown(node, UID, GID)
        resp = api.patch("/drives/scratch", {"drive_id": "scratch",
                                             "path_on_host": f"/{node.name}"})
        assert resp == (204, None), resp
        assert api.get("/vm/config")[1]["drives"][0]["path_on_host"] == f"/{node.name}"
        assert p.poll() is None
    finally:
        for proc in fc["procs"]:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        subprocess.run(["losetup", "--detach", loop], check=False)

# --- AUDIT2.md: Firecracker's tests/integration_tests/security/test_jail.py, failing where
# volt's jailer differs.

def started_jail(fc, jid, *flags, extra=()):
    p = subprocess.Popen(jailer(fc, jid, *flags, extra=extra), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    fc["procs"].append(p)
    return p, fc["base"] / "firecracker" / jid / "root"


def test_fc_default_chroot_hierarchy(fc):
    """test_default_chroot_hierarchy / test_arbitrary_usocket_location: the chroot, dev,
    dev/net and run are uid:gid 0700; dev/net/tun and dev/kvm uid:gid 0600; the exec file
    and the API socket uid:gid 0755 (check_stats compares st_mode exactly)."""
    p, root = started_jail(fc, "modes-1", extra=("--api-sock", "api.socket"))
    wait_for_socket(root / "api.socket", p)
    want = {"": stat.S_IFDIR | 0o700, "dev": stat.S_IFDIR | 0o700,
            "dev/net": stat.S_IFDIR | 0o700, "run": stat.S_IFDIR | 0o700,
            "dev/net/tun": stat.S_IFCHR | 0o600, "dev/kvm": stat.S_IFCHR | 0o600,
            "firecracker": stat.S_IFREG | 0o755, "api.socket": stat.S_IFSOCK | 0o755}
    got = {}
    for name in want:
        st = os.lstat(root / name)
        got[name] = (st.st_uid, st.st_gid, oct(st.st_mode))
    assert got == {n: (UID, GID, oct(m)) for n, m in want.items()}, got


@pytest.mark.parametrize("kind, message", [
    ("symlink", "Failed to open {dst}"),
    ("hardlink", "Detected hard link at: {dst}"),
])
def test_fc_exec_destination_link_refused(fc, tmp_path, kind, message):
    """test_exec_destination_path_is_symlink / _is_hardlink: the jailer's words name the
    link at the exec file's place in the chroot."""
    root = fc["base"] / "firecracker" / "links-1" / "root"
    root.mkdir(parents=True)
    dummy = tmp_path / "dummy"
    dummy.touch()
    dst = root / "firecracker"
    if kind == "symlink":
        dst.symlink_to(dummy)
    else:
        os.link(dummy, dst)
    proc = subprocess.run(jailer(fc, "links-1"), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert message.format(dst=dst) in proc.stderr, proc.stderr


def test_fc_no_file_limit_message(fc):
    """test_negative_no_file_limit: with `--resource-limit no-file=3` the spawn fails with
    `No file descriptors available (os error 24)` (Rust's io::Error text under musl)."""
    # A sanitizer build's leak check at exit needs /proc and descriptors this jailer
    # has not got: off for this one run (the shipped build has none).
    env = dict(os.environ, LSAN_OPTIONS="detect_leaks=0", ASAN_OPTIONS="detect_leaks=0")
    proc = subprocess.run(jailer(fc, "nofile-1", "--resource-limit", "no-file=3"),
                          capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode != 0
    assert "No file descriptors available (os error 24)" in proc.stderr, proc.stderr
