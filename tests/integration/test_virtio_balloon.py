"""virtio-balloon: one Linux boot shows inflation shrinking the guest (MemTotal) and volt
(VmRSS), deflation on driver unbind, a second inflation on bind, and the statistics queue;
plus every bad --balloon argument.

Why the memory volt gives back was resident first: filling guest memory from inside the
guest costs about 2-7 s per MiB on a PVM host (every first touch is a page fault run by
the emulated guest kernel), far too slow to fill a guest twice. Instead volt itself writes
a large initramfs into guest RAM (host RSS grows by its size, at native speed), the kernel
skips the big member in O(1) (it sits in a directory that does not exist, so the unpacker
cannot open it and eats its body) and frees the initramfs pages after unpacking. With
initramfs_async=0 that happens before the balloon driver probes, so the pages the balloon
takes are mostly those resident ones. Nothing else in volt gives memory back, so the drop
from the peak (VmHWM) to VmRSS once the balloon is full is what MADV_DONTNEED released.
"""
import re
import subprocess

import pytest

from conftest import api_wait_for, audit_lines, run_volt
from test_virtio_pmem import api_start, full_snapshot_restored, type_and_see

MEM_MIB = 128
BALLOON_MIB = 32
BLOB_MIB = 64  # resident in the host, free in the guest once unpacked
PAGES_PER_MIB = 256

# The guest side: one static process runs a list of steps (every guest fork+exec and
# syscall is slow on PVM hosts). Steps: mem:LABEL, settle:MS (MemTotal unchanged for MS),
# mark:NAME, sleep:MS, unbind, bind (the balloon driver through sysfs).
GUEST_C = r"""
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[8192], dev[256];

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long field(const char *key)
{
	char *p = strstr(buf, key);

	return p ? atol(p + strlen(key)) : -1;
}

static long meminfo(void)
{
	int fd = open("/proc/meminfo", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return field("MemTotal:");
}

static void msleep(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

static const char *sysfs(const char *file)
{
	char path[512];
	int fd, ok;

	snprintf(path, sizeof(path), "/sys/bus/virtio/drivers/virtio_balloon/%s", file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return "FAIL";
	ok = write(fd, dev, strlen(dev)) == (ssize_t)strlen(dev);
	close(fd);
	return ok ? "ok" : "FAIL";
}

int main(int argc, char **argv)
{
	int i;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (i = 1; i < argc; i++) {
		char *a = argv[i], *v = strchr(a, ':');
		long t0 = now_ms();

		if (v)
			*v++ = 0;
		if (!strcmp(a, "mem")) {
			long total = meminfo();

			printf("BT-MEM %s total=%ld free=%ld\n", v, total, field("MemFree:"));
		} else if (!strcmp(a, "settle")) {
			long last = meminfo(), since = now_ms();

			while (now_ms() - since < atol(v) && now_ms() - t0 < 600000) {
				long total;

				msleep(250);
				total = meminfo();
				if (total != last) {
					last = total;
					since = now_ms();
				}
			}
			printf("BT-SETTLED total=%ld after %ld ms\n", last, now_ms() - t0);
		} else if (!strcmp(a, "mark")) {
			printf("BT-MARK %s\n", v);
		} else if (!strcmp(a, "sleep")) {
			msleep(atol(v));
		} else if (!strcmp(a, "unbind")) {
			DIR *d = opendir("/sys/bus/virtio/drivers/virtio_balloon");
			struct dirent *e;

			while (d && (e = readdir(d)))
				if (!strncmp(e->d_name, "virtio", 6))
					snprintf(dev, sizeof(dev), "%s", e->d_name);
			if (d)
				closedir(d);
			printf("BT-UNBIND %s %s\n", dev, dev[0] ? sysfs("unbind") : "FAIL");
		} else if (!strcmp(a, "bind")) {
			printf("BT-BIND %s %s\n", dev, sysfs("bind"));
		} else {
			printf("BT-FAIL unknown step %s\n", a);
			return 1;
		}
	}
	printf("BT-DONE\n");
	return 0;
}
"""


def cpio_entry(name, mode, size):
    """A newc header and its padded name; the caller writes size bytes of data and pads."""
    name_b = name.encode() + b"\0"
    fields = [0, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name_b), 0]
    hdr = b"070701" + b"".join(b"%08X" % f for f in fields) + name_b
    return hdr + b"\0" * (-len(hdr) % 4)


def make_initrd(tmp_path, base_initrd):
    """Guest kit + the test program + a sparse BLOB_MIB member the kernel skips."""
    src = tmp_path / "balloon_test.c"
    src.write_text(GUEST_C)
    exe = tmp_path / "balloon_test"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(exe), str(src)], check=True)
    prog = exe.read_bytes()
    initrd = tmp_path / "balloon.cpio"
    with open(initrd, "wb") as f:
        f.write(base_initrd.read_bytes())
        f.write(b"\0" * (-f.tell() % 4))
        f.write(cpio_entry("balloon_test", 0o100755, len(prog)) + prog)
        f.write(b"\0" * (-len(prog) % 4))
        # No such directory: the unpacker cannot create the file and skips its body.
        f.write(cpio_entry("volt-no-such-dir/blob", 0o100644, BLOB_MIB << 20))
        f.seek(BLOB_MIB << 20, 1)
        f.write(cpio_entry("TRAILER!!!", 0, 0))
        f.write(b"\0" * (-f.tell() % 512))
    return initrd


def proc_status(pid):
    vals = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                vals[k] = int(v.split()[0])
    return vals


def wait_mark(p, name, timeout):
    p.wait_for(f"BT-MARK {name}", timeout)
    return proc_status(p.proc.pid)


def meminfo_line(out, label):
    m = re.search(rf"BT-MEM {label} total=(\d+) free=(\d+)", out)
    assert m, f"no meminfo for {label}:\n{out[-3000:]}"
    return int(m.group(1)), int(m.group(2))


def test_balloon_inflates_deflates_and_reports_statistics(vm, guest_kit, tmp_path):
    """One boot: the balloon is full before user space; the test reads volt's VmRSS/VmHWM;
    the guest unbinds the driver (deflate, MemTotal back) and binds it again (inflate)."""
    initrd = make_initrd(tmp_path, guest_kit["initrd"])
    steps = ("settle:2000 mem:inflated mark:INFLATED sleep:2500 "
             "unbind settle:1500 mem:deflated mark:DEFLATED sleep:2500 "
             "bind settle:2000 mem:reinflated")
    cmdline = ("console=ttyS0 reboot=k panic=-1 quiet initramfs_async=0 "
               f'volt.cmd="/balloon_test {steps}"')
    p = vm("run", "--log-level", "debug", "--kernel", guest_kit["vmlinux"], "--initrd", initrd,
           "--mem", str(MEM_MIB), "--balloon", f"{BALLOON_MIB},stats=1", "--cmdline", cmdline)
    inflated = wait_mark(p, "INFLATED", 400)
    deflated = wait_mark(p, "DEFLATED", 120)
    out = p.wait_for("VOLT-CMD-EXIT", 120)
    assert p.wait_exit(60) == 0, out[-3000:]
    out = p.output()
    assert "BT-FAIL" not in out, out[-3000:]
    assert "BT-UNBIND virtio" in out and "BT-BIND virtio" in out, out[-3000:]

    # The guest lost exactly the balloon (Linux 6.1 lowers managed pages without
    # deflate-on-oom), got it back on unbind and gave it up again on bind.
    total_in, free_in = meminfo_line(out, "inflated")
    total_out, free_out = meminfo_line(out, "deflated")
    total_re, _ = meminfo_line(out, "reinflated")
    assert total_out - total_in == BALLOON_MIB * 1024, (total_in, total_out)
    assert total_re == total_in, (total_in, total_re)
    assert free_out - free_in >= (BALLOON_MIB - 4) * 1024, (free_in, free_out)
    target = BALLOON_MIB * PAGES_PER_MIB
    holds = [int(n) for n in re.findall(r"the guest holds (\d+) pages", out)]
    assert holds.count(target) == 2 and holds[-1] == target and 0 in holds, holds[-5:]

    # volt gave the pages back: its RSS fell from the peak by about the balloon
    # (most balloon pages were resident initramfs pages), and deflation touched nothing.
    drop = inflated["VmHWM"] - inflated["VmRSS"]
    assert (BALLOON_MIB * 3 // 4) * 1024 <= drop <= (BALLOON_MIB + 8) * 1024, inflated
    assert deflated["VmRSS"] - inflated["VmRSS"] < 4 * 1024, (inflated, deflated)

    # Statistics every second, from both driver instances; Linux reports its total
    # memory in bytes, which is MemTotal.
    stats = re.findall(r"virtio-balloon: stats: (.*)", out)
    assert len(stats) >= 3, out[-3000:]
    totals = {int(m) // 1024 for m in re.findall(r"total-memory=(\d+)", "\n".join(stats))}
    assert total_in in totals and total_out in totals, (sorted(totals), total_in, total_out)
    print(f"\nMemTotal inflated {total_in} kB, deflated {total_out} kB, re-inflated {total_re}"
          f" kB; volt VmHWM {inflated['VmHWM']} kB, VmRSS {inflated['VmRSS']} kB (drop "
          f"{drop} kB for a {BALLOON_MIB} MiB balloon), after deflate {deflated['VmRSS']} kB;"
          f" {len(stats)} statistics reports")


def balloon_actual(api, mib):
    return api_wait_for(api, "/balloon/statistics", "actual_mib", mib)["actual_mib"]


def test_balloon_in_a_restored_vm(vm, guest_kit, tmp_path):
    """A restored VM's RAM is the memory file mapped private, where MADV_DONTNEED alone
    would bring the file's pages back: the pages the balloon takes are replaced by
    anonymous memory (by the device thread, under its seccomp filter in kill mode). The
    guest inflates, deflates and goes on using its memory."""
    snapdir = tmp_path / "snaps"
    snapdir.mkdir()
    p, api = api_start(vm, tmp_path, "--snapshot-dir", snapdir)
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": MEM_MIB}) == \
        (204, None)
    assert api.put("/boot-source", {
        "kernel_image_path": str(guest_kit["vmlinux"]), "initrd_path": str(guest_kit["initrd"]),
        "boot_args": 'console=ttyS0 reboot=k panic=-1 quiet volt.cmd="exec sh"'}) == (204, None)
    assert api.put("/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                                "stats_polling_interval_s": 1}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    p.wait_for("VOLT-GUEST-READY", 300)
    type_and_see(p, "echo UP-$((1+1))\n", "UP-2")
    q, qapi = full_snapshot_restored(vm, tmp_path, p, api, snapdir)
    assert qapi.patch("/balloon", {"amount_mib": BALLOON_MIB}) == (204, None)
    assert balloon_actual(qapi, BALLOON_MIB) == BALLOON_MIB
    type_and_see(q, "echo INFLATED-$((40+2))\n", "INFLATED-42")
    assert qapi.patch("/balloon", {"amount_mib": 0}) == (204, None)
    assert balloon_actual(qapi, 0) == 0
    type_and_see(q, "cat /proc/meminfo > /tmp/m; echo DEFLATED-$((40+2))\n", "DEFLATED-42")
    type_and_see(q, "reboot -f\n", "reboot: Restarting system")
    assert q.wait_exit(60) == 0, q.output()[-3000:]
    assert not audit_lines(q.proc.pid)


@pytest.mark.parametrize("arg, why", [
    ("abc", "'abc' is not a size in MiB"),
    ("", "no size"),
    ("64K", "not a whole number of MiB"),
    ("64,foo", "unknown option 'foo'"),
    ("64,deflate-on-oom=1", "unknown option"),
    ("64,free-page-hint", "unknown option 'free-page-hint' (want MiB[,deflate-on-oom][,stats="
                          "SECONDS][,free-page-hinting][,free-page-reporting])"),
    ("64,free-page-reporting=1", "unknown option"),
    ("64,stats=0x", "stats='0x' is not a number of seconds"),
    ("64,stats=-1", "is not a number of seconds"),
    ("64,stats=", "is not a number of seconds"),
    ("99999999", "is more than"),
    ("256", "must be smaller than the guest's 256 MiB"),
    ("1G", "must be smaller than the guest's 256 MiB"),
])
def test_bad_balloon_arguments_are_refused(guest_kit, arg, why):
    r = run_volt("run", "--kernel", guest_kit["vmlinux"], "--mem", "256", "--balloon", arg,
                 timeout=60)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "--balloon" in r.stderr and why in r.stderr, r.stderr


def test_only_one_balloon(guest_kit):
    r = run_volt("run", "--kernel", guest_kit["vmlinux"], "--balloon", "8", "--balloon", "8")
    assert r.returncode != 0 and "only one balloon" in r.stderr, r.stderr
