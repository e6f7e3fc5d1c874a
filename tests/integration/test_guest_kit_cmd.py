"""The guest kit takes its command through volt's kit port (issue #13): the kernel command
line no longer carries it, so a snapshot taken at the kit's ready point can run any command."""
import re
import time


def test_guest_kit_command_comes_through_the_kit_port(vm, guest_kit):
    """One boot of the guest kit (no --kernel): volt.cmd leaves the kernel command line,
    the command still runs, the boot timer still fires (volt-ready fires it)."""
    cmdline = ('console=ttyS0 reboot=k panic=-1 quiet volt.marker=7 '
               'volt.cmd="echo CMDLINE $(cat /proc/cmdline); echo KIT-$((6*7))"')
    t0 = time.monotonic()
    p = vm("run", "--fresh", "--boot-timer", "--cmdline", cmdline)
    out = p.wait_for("VOLT-GUEST-READY", 240)
    ready = time.monotonic() - t0
    out = p.wait_for("VOLT-CMD-EXIT", 120)
    assert p.wait_exit(60) == 0, out[-3000:]
    out = p.output()
    assert "KIT-42" in out
    assert "VOLT-CMD-EXIT 0" in out
    line = re.search(r"^CMDLINE (.*)$", out, re.M)
    assert line, out[-3000:]
    assert "volt.marker=7" in line.group(1) and "quiet" in line.group(1)
    assert "volt.cmd" not in line.group(1), line.group(1)
    assert re.search(r"guest boot time: \d+ us", out), "the boot timer did not fire"
    print(f"\nthe guest kit reached VOLT-GUEST-READY in {ready:.1f}s")
