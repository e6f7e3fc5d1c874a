"""The guest kit starts from its snapshot (issue #13): the first `volt run` of a kit, shape
and command line boots and keeps a snapshot taken at the kit's ready point; the next runs
restore it and take their command (volt.cmd, or the console's shell) after the restore.
The command comes through volt's kit port, not the kernel command line, which is what lets a
snapshot taken at the kit's ready point run any command.

Two cold boots (~40 s each here: the kit port's ready point and the shell's), then restores in
well under a second. A marker on the command
line gives this test its own cache entry, removed at the end with `volt snapshot rm`."""
import os
import re
import subprocess
import time
import uuid

import pytest

from conftest import run_volt


# KVM on AMD reports TR as a busy TSS (type 11, as hardware holds it after LTR) and a
# restore sets it so; QEMU's TCG checks a user-mode port access only against type 9, so in
# scripts/nested-kvm.sh's host the kit's volt-ready takes a #GP at its first IN after the
# restore. Hardware accepts either type.
@pytest.mark.skipif(os.environ.get("VOLT_NESTED_TCG") == "1",
                    reason="TCG's nested SVM refuses user port I/O with a busy TSS")
def test_guest_kit_restores_its_snapshot(vm, guest_kit):
    marker = uuid.uuid4().hex[:12]
    base = f"console=ttyS0 reboot=k panic=-1 quiet volt.test={marker}"
    key, keys = None, []
    try:
        # The first boot: volt.cmd leaves the kernel command line, the command still runs,
        # the boot timer still fires (volt-ready fires it).
        t0 = time.monotonic()
        p = vm("run", "--boot-timer", "--cmdline",
               base + ' volt.cmd="echo CMDLINE $(cat /proc/cmdline); echo ONE-$((6*7))"')
        p.wait_for("VOLT-GUEST-READY", 400)
        ready = time.monotonic() - t0
        out = p.wait_for("VOLT-CMD-EXIT", 120)
        assert p.wait_exit(60) == 0, out[-3000:]
        out = p.output()
        assert "ONE-42" in out and "restored from snapshot" not in out
        assert "VOLT-CMD-EXIT 0" in out
        line = re.search(r"^CMDLINE (.*)$", out, re.M)
        assert line, out[-3000:]
        assert f"volt.test={marker}" in line.group(1) and "quiet" in line.group(1)
        assert "volt.cmd" not in line.group(1), line.group(1)
        assert re.search(r"Guest-boot-time =\s+\d+ us", out), "the boot timer did not fire"
        print(f"\nthe guest kit reached VOLT-GUEST-READY in {ready:.1f}s")
        m = re.search(r"snapshot ([0-9a-f]{16}) kept", out)
        assert m, out[-3000:]
        key = m.group(1)
        keys.append(key)

        # Another command: restored, not booted; the command is the new one.
        t0 = time.monotonic()
        p = vm("run", "--boot-timer", "--cmdline",
               base + ' volt.cmd="echo TWO-$((7*7)); cat /proc/cmdline"')
        out = p.wait_for("VOLT-CMD-EXIT", 120)
        took = time.monotonic() - t0
        assert p.wait_exit(60) == 0, out[-3000:]
        out = p.output()
        assert f"restored from snapshot {key}" in out, out[-3000:]
        assert "TWO-49" in out and "ONE-42" not in out
        assert "VOLT-GUEST-READY" in out
        assert "volt.cmd" not in out.split("TWO-49", 1)[1], "volt.cmd is on the command line"
        print(f"\nrestored run with a command: {took:.2f} s")

        # No command: the login shell. Its snapshot is taken where the shell is about to
        # prompt (its own cache entry), so a restored shell answers at once.
        p = vm("run", "--cmdline", base, stdin=subprocess.PIPE)
        out = p.wait_for(" kept ", 400)
        shell_key = re.search(r"snapshot ([0-9a-f]{16}) kept", out).group(1)
        keys.append(shell_key)
        p.proc.stdin.write(b"echo THREE-$((8*8)); reboot -f\n")
        p.proc.stdin.flush()
        p.wait_for("THREE-64", 120)
        assert p.wait_exit(60) == 0, p.output()[-3000:]

        t0 = time.monotonic()
        p = vm("run", "--cmdline", base, stdin=subprocess.PIPE)
        p.wait_for(f"restored from snapshot {shell_key}", 60)
        p.proc.stdin.write(b"echo FOUR-$((9*9))\n")
        p.proc.stdin.flush()
        p.wait_for("FOUR-81", 60)
        print(f"restored shell answered in {time.monotonic() - t0:.2f} s")
        # What a user types to end the machine (the kit's profile: no ACPI, and an init
        # that runs no shutdown) ends the VM as a reset does.
        p.proc.stdin.write(b"poweroff\n")
        p.proc.stdin.flush()
        assert p.wait_exit(60) == 0, p.output()[-3000:]
        assert "VOLT-GUEST-READY" not in p.output(), "the shell's snapshot ran /init again"

        listed = run_volt("snapshot", "list", check=True).stdout
        assert key in listed, listed
    finally:
        for k in keys:
            run_volt("snapshot", "rm", k)
    listed = run_volt("snapshot", "list").stdout
    assert not any(k in listed for k in keys), listed
