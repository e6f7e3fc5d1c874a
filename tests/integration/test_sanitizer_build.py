"""The ASan + UBSan build (meson -Dsanitizers=true, `make test-debug`) runs behind the same
seccomp filters as the shipped build, in kill mode, plus only what the sanitizer runtimes need
(docs/security.md, "Sanitizer builds"). Here a bug is planted on purpose just after a thread's
filter is on (VOLT_SANITIZER_SELFTEST=BUG:KIND, a hook that exists in that build alone): the
sanitizer's report must come out whole and symbolized, and volt must end with the sanitizer's
exit status, not die of SIGSYS half-way through the report. A leak made before the sandbox is
reported too (LeakSanitizer runs when volt confines itself, not at exit).

Skipped unless VOLT is a sanitizer build (`volt sandbox --print` says so)."""
import os
import re
import signal

import pytest

from conftest import GUESTS, run_volt


@pytest.fixture(scope="module")
def sanitizer_print(volt_bin):
    out = run_volt("sandbox", "--print", check=True).stdout
    if "This is a sanitizer build" not in out:
        pytest.skip("not a sanitizer build (meson -Dsanitizers=true; make test-debug)")
    return out


def selftest_env(bug, kind):
    env = dict(os.environ)
    env["VOLT_SANITIZER_SELFTEST"] = f"{bug}:{kind}"
    return env


def assert_report(rc, out, bug):
    assert rc != -signal.SIGSYS, "killed by its seccomp filter during the report:\n" + out[-4000:]
    assert rc == 1, f"exit status {rc}:\n{out[-4000:]}"
    if bug == "asan":
        assert "ERROR: AddressSanitizer: heap-buffer-overflow" in out, out[-4000:]
    elif bug == "segv":
        assert "ERROR: AddressSanitizer: SEGV on unknown address" in out, out[-4000:]
    else:
        assert "runtime error: signed integer overflow" in out, out[-4000:]
    if bug != "ubsan":  # UBSan prints the place it was compiled with, no stack
        # Symbolized behind the sandbox: the symbolizer read everything before.
        assert "in sandbox_sanitizer_selftest" in out and "sanitizer.c:" in out, out[-4000:]


def test_the_sanitizer_rules_are_printed_apart(sanitizer_print):
    extra = sanitizer_print.split("This is a sanitizer build", 1)[1]
    assert "  + exit_group" in extra, extra
    # Never what the lists must not hold, even in this build.
    for name in ("sigaltstack", "clone", "ptrace", "execve", "openat"):
        assert f"  + {name} " not in extra, extra


@pytest.mark.parametrize("bug", ["asan", "ubsan"])
@pytest.mark.parametrize("kind", ["vcpu", "vmm"])
def test_reports_come_out_whole_behind_the_filters(sanitizer_print, bug, kind):
    p = run_volt("run", "--kernel", GUESTS / "hello", "--seccomp=kill",
                 env=selftest_env(bug, kind), timeout=120)
    assert_report(p.returncode, p.stdout + p.stderr, bug)


@pytest.mark.parametrize("bug", ["asan", "ubsan"])
def test_reports_come_out_whole_behind_the_api_filter(vm, tmp_path, sanitizer_print, bug):
    sock = tmp_path / "api.sock"
    p = vm("--api-sock", sock, "--seccomp=kill", env=selftest_env(bug, "api"))
    assert_report(p.wait_exit(60), p.output(), bug)


def test_segv_report_behind_the_filters(sanitizer_print):
    """ASan's SIGSEGV handler reads /proc/self/maps (falling back on the copy it kept): that
    open() must be refused, not killed, for its report to come out."""
    vcpu = run_volt("sandbox", "--print", "--thread", "vcpu", check=True).stdout
    assert any(re.search(r"\bopen\b\W.*refused", l) for l in vcpu.splitlines()), vcpu
    p = run_volt("run", "--kernel", GUESTS / "hello", "--seccomp=kill",
                 env=selftest_env("segv", "vcpu"), timeout=120)
    out = p.stdout + p.stderr
    assert_report(p.returncode, out, "segv")


def test_leaks_are_checked_before_the_sandbox(sanitizer_print):
    p = run_volt("run", "--kernel", GUESTS / "hello", "--seccomp=kill",
                 env=selftest_env("leak", "vmm"), timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode not in (0, -signal.SIGSYS), out[-4000:]
    assert "ERROR: LeakSanitizer: detected memory leaks" in out, out[-4000:]
    assert "sandbox_sanitizer_prepare" in out, out[-4000:]


def test_no_leak_no_report(sanitizer_print, tmp_path):
    """The leak check before the sandbox finds nothing in a plain run with every device."""
    disk = tmp_path / "a.img"
    disk.write_bytes(bytes(1 << 20))
    p = run_volt("run", "--kernel", GUESTS / "hello", "--seccomp=kill",
                 "--drive", f"path={disk}", "--rng", "--vsock",
                 f"cid=3,uds={tmp_path / 'v.sock'}", "--balloon", "4,stats=1", timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    assert "Sanitizer" not in out, out[-4000:]
