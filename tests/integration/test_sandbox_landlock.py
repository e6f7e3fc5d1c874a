"""Landlock end to end: a booted VMM is restricted to the files its configuration names.

A small LD_PRELOAD probe (test-only, built here) is loaded into volt (build/volt-dynamic,
the same objects linked dynamically, when build/volt is static). On SIGUSR2, sent
once volt logs that Landlock is on, the probe's signal handler runs inside the live VMM
process and tries what a compromised VMM would: open a file the configuration does not
name, connect to a TCP listener on the host, and reopen the configured drive. It writes
the errno of each to a file descriptor it opened before the sandbox. seccomp is off in
these runs (its lists would kill the probe's open() first); Landlock stands alone.

The same guest writes and reads its drive, so the configured file still works. One run
uses the kernel's ABI, one is capped to ABI 1 with VOLT_LANDLOCK_MAX_ABI=1 (no network
rules there). Both boot at the same time.
"""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import preload, preload_volt

PROBE_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char denied[4096], drive[4096];
static int out = -1, port;

static int open_errno(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static void probe(int sig)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int saved = errno, fd, tcp = 0;
	char line[128];

	(void)sig;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		tcp = errno;
	if (fd >= 0)
		close(fd);
	snprintf(line, sizeof(line), "open=%d tcp=%d drive=%d\n", open_errno(denied, O_RDONLY),
		 tcp, open_errno(drive, O_RDWR));
	if (write(out, line, strlen(line)) < 0)
		_exit(99);
	errno = saved;
}

__attribute__((constructor)) static void init(void)
{
	const char *o = getenv("PROBE_OUT");

	if (!o)
		return;
	snprintf(denied, sizeof(denied), "%s", getenv("PROBE_DENIED"));
	snprintf(drive, sizeof(drive), "%s", getenv("PROBE_DRIVE"));
	port = atoi(getenv("PROBE_PORT"));
	out = open(o, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	signal(SIGUSR2, probe);
}
"""

GUEST_CMD = ("head -c 8 /dev/vda; echo; "
             "echo WRITTEN-BY-GUEST | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null; "
             "head -c 16 /dev/vda; echo")


@pytest.fixture(scope="module")
def probe_lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    (d / "probe.c").write_text(PROBE_C)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", d / "probe.so", d / "probe.c"],
                   check=True)
    return d / "probe.so"


def start(vm, guest_kit, tmp_path, probe_lib, port, name, max_abi=None):
    d = tmp_path / name
    d.mkdir()
    drive = d / "data.img"
    drive.write_bytes(b"HOSTDATA" + bytes(1024 * 1024 - 8))
    denied = d / "not-in-config"
    denied.write_text("secret")
    env = dict(os.environ, LD_PRELOAD=preload(probe_lib), PROBE_OUT=str(d / "probe.out"),
               PROBE_DENIED=str(denied), PROBE_DRIVE=str(drive), PROBE_PORT=str(port))
    if max_abi is not None:
        env["VOLT_LANDLOCK_MAX_ABI"] = str(max_abi)
    p = vm("run", "--kernel", guest_kit["vmlinux"], "--initrd", guest_kit["initrd"],
           "--mem", "256", "--drive", f"path={drive}", "--seccomp", "off",
           "--landlock", "require", "--log-level", "info",
           "--cmdline", f'console=ttyS0 reboot=k panic=-1 quiet volt.cmd="{GUEST_CMD}"',
           env=env, binary=preload_volt())
    return p, d, drive


def probe(p, d, timeout=60):
    """Signals the running VMM and returns the probe's errno values."""
    p.wait_for("landlock: ABI", 120)
    out = d / "probe.out"
    os.kill(p.proc.pid, signal.SIGUSR2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().endswith("\n"):
            return dict(kv.split("=") for kv in out.read_text().split())
        time.sleep(0.05)
    raise AssertionError(f"the probe did not answer:\n{p.output()[-3000:]}")


def test_landlocked_vmm(vm, guest_kit, tmp_path, probe_lib):
    import errno

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        full, full_dir, full_drive = start(vm, guest_kit, tmp_path, probe_lib, port, "full")
        abi1, abi1_dir, abi1_drive = start(vm, guest_kit, tmp_path, probe_lib, port, "abi1",
                                           max_abi=1)

        got = probe(full, full_dir)
        assert int(got["open"]) == errno.EACCES, got
        assert int(got["drive"]) == 0, got
        abi = int(re.search(r"landlock: ABI (\d+)", full.output()).group(1))
        if abi >= 4:  # network rules came with ABI 4 (Linux 6.7)
            assert int(got["tcp"]) == errno.EACCES, got
            assert "TCP bind/connect denied" in full.output()
        else:
            assert int(got["tcp"]) != errno.EACCES, got

        got = probe(abi1, abi1_dir)
        assert int(got["open"]) == errno.EACCES, got
        assert int(got["tcp"]) == 0, got  # ABI 1 has no network rules
        assert int(got["drive"]) == 0, got
        out = abi1.output()
        assert "landlock: ABI 1 leaves" in out and "TCP" in out

        for p, drive in ((full, full_drive), (abi1, abi1_drive)):
            out = p.wait_for("VOLT-CMD-EXIT 0", 900)
            assert p.wait_exit(60) == 0, out[-3000:]
            assert "HOSTDATA" in out
            assert "WRITTEN-BY-GUEST" in out.split("VOLT-GUEST-READY", 1)[1]
            assert drive.read_bytes().startswith(b"WRITTEN-BY-GUEST\n")
    finally:
        listener.close()


def test_require_fails_without_landlock(volt_bin, guest_kit, kvm):
    env = dict(os.environ, VOLT_LANDLOCK_MAX_ABI="0")
    proc = subprocess.run([str(volt_bin), "run", "--kernel", str(guest_kit["vmlinux"]),
                           "--initrd", str(guest_kit["initrd"]), "--landlock", "require"],
                          capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "landlock: required, but this kernel has none" in proc.stderr
