"""CPUID and boot MSRs: `volt cpuid` (the table KVM holds for a vCPU, read back
with KVM_GET_CPUID2) and its error paths, then what the cpuid and msr test
guests see from inside the VM.

On a PVM host (/sys/module/kvm_pvm) the guest's ring 0 sees the configured
CPUID bits OR'ed with the host's, and KVM_GET_CPUID2 reports the same: a bit
the rules strip may still show there when the host CPU has it. Only CX16,
x2APIC, TSC-deadline and the hypervisor bit can really be cleared. The tests
allow exactly that, using the host's /proc/cpuinfo flags.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import GUESTS, VOLT, run_volt

LINE = re.compile(r"0x([0-9a-f]{8}) 0x([0-9a-f]{2,8}) eax=0x([0-9a-f]{8}) ebx=0x([0-9a-f]{8}) "
                  r"ecx=0x([0-9a-f]{8}) edx=0x([0-9a-f]{8})")
GUEST_LINE = re.compile(r"CPUID ([0-9a-f]{8}) ([0-9a-f]{2}) eax=([0-9a-f]{8}) ebx=([0-9a-f]{8}) "
                        r"ecx=([0-9a-f]{8}) edx=([0-9a-f]{8})")
MSR_LINE = re.compile(r"MSR ([0-9a-f]{8}) value=([0-9a-f]{16})")

EAX, EBX, ECX, EDX = range(4)

# Leaf 0x1 ECX bits the base rules strip, with their /proc/cpuinfo names.
LEAF1_STRIPPED = {5: "vmx", 6: "smx", 2: "dtes64", 3: "monitor", 4: "ds_cpl"}
# Leaf 0x7 EBX bits the base rules strip.
LEAF7_STRIPPED = {4: "hle", 11: "rtm", 14: "mpx", 12: "cqm", 15: "rdt_a"}
CX16, X2APIC, TSC_DEADLINE, HYPERVISOR = 13, 21, 24, 31
HTT = 28
SYSCALL, NX, LM = 11, 20, 29
INVTSC = 8


def host_is_pvm():
    """As core/host.c decides it (VOLT_HOST overrides)."""
    force = os.environ.get("VOLT_HOST")
    if force in ("pvm", "vt"):
        return force == "pvm"
    return os.path.exists("/sys/module/kvm_pvm")


PVM = host_is_pvm()


def host_flags():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def bit(value, n):
    return (value >> n) & 1


def parse_table(text):
    """`volt cpuid` output -> {(function, index): (eax, ebx, ecx, edx)}."""
    table = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = LINE.fullmatch(line)
        assert m, f"malformed line: {line!r}"
        key = (int(m[1], 16), int(m[2], 16))
        assert key not in table, f"duplicate entry {line!r}"
        table[key] = tuple(int(m[i], 16) for i in range(3, 7))
    return table


def cpuid_table(*args):
    p = run_volt("cpuid", *args)
    assert p.returncode == 0, f"volt cpuid {' '.join(args)} failed:\n{p.stderr}"
    assert p.stderr == "", p.stderr
    return parse_table(p.stdout)


def assert_stripped(value, stripped, what):
    """Stripped bits are clear, except on PVM where the host's own bits show."""
    allowed = host_flags() if PVM else set()
    for n, flag in stripped.items():
        if flag in allowed:
            continue
        assert not bit(value, n), f"{what} bit {n} ({flag}) is set: 0x{value:08x}"


# --- volt cpuid ---------------------------------------------------------------------------

def test_supported_table_is_kvms_raw_table(kvm, volt_bin):
    p = run_volt("cpuid", "--supported", "--raw")
    assert p.returncode == 0, p.stderr
    assert not p.stdout.startswith("#")
    table = parse_table(p.stdout)
    assert (0, 0) in table and (1, 0) in table and (0x80000001, 0) in table
    vendor = b"".join(table[(0, 0)][r].to_bytes(4, "little") for r in (EBX, EDX, ECX))
    assert vendor in (b"GenuineIntel", b"AuthenticAMD", b"HygonGenuine"), vendor
    # Not normalized: the hypervisor bit is KVM's business there, the topology the host's.
    # The APIC ids are those of whichever host CPU ran the query: leave them out.
    def without_apic_ids(t):
        t = dict(t)
        for key, regs in t.items():
            regs = list(regs)
            if key == (1, 0):
                regs[EBX] &= 0x00FFFFFF
            if key[0] in (0xB, 0x1F, 0x8000001E):
                regs[EDX if key[0] != 0x8000001E else EAX] = 0
            t[key] = tuple(regs)
        return t
    again = parse_table(run_volt("cpuid", "--supported").stdout)
    assert without_apic_ids(again) == without_apic_ids(table)


@pytest.mark.parametrize("cpus, index", [(1, 0), (2, 1), (4, 3), (32, 31)])
def test_normalized_table_through_kvm_get_cpuid2(kvm, volt_bin, cpus, index):
    t = cpuid_table("--cpus", str(cpus), "--cpu-index", str(index))
    supported = cpuid_table("--supported")

    assert t[(0, 0)] == supported[(0, 0)], "the vendor leaf passes through"

    eax, ebx, ecx, edx = t[(1, 0)]
    assert_stripped(ecx, LEAF1_STRIPPED, "0x1 ECX")
    assert bit(ecx, HYPERVISOR)
    assert ebx >> 24 == index, f"initial APIC id {ebx >> 24}, want {index}"
    assert (ebx >> 16) & 0xff == cpus, "logical processor count"
    assert (ebx >> 8) & 0xff == (supported[(1, 0)][EBX] >> 8) & 0xff, "CLFLUSH size kept"
    if cpus > 1:
        assert bit(edx, HTT)
    if PVM:
        assert not bit(ecx, CX16), "CX16 must be hidden on a PVM host"

    assert_stripped(t[(7, 0)][EBX], LEAF7_STRIPPED, "0x7 EBX")
    # Thermal/power and perfmon cleared, power management down to the invariant TSC
    # (PVM ORs host bits into leaves 0x1 and 0x7 only, as measured).
    assert t.get((6, 0), (0, 0, 0, 0)) == (0, 0, 0, 0)
    assert t.get((0xa, 0), (0, 0, 0, 0)) == (0, 0, 0, 0)
    assert t[(0x80000007, 0)][:3] == (0, 0, 0)
    assert t[(0x80000007, 0)][EDX] & ~(1 << INVTSC) == 0

    if (0xb, 0) in t:
        assert t[(0xb, 0)][EDX] == index, "x2APIC id"
        assert t[(0xb, 1)][EBX] & 0xffff == cpus, "core level: all vCPUs"
        assert (t[(0xb, 1)][ECX] >> 8) & 0xff == 2, "core level type"

    sig = t[(0x40000000, 0)]
    assert b"".join(r.to_bytes(4, "little") for r in sig[1:]) == b"KVMKVMKVM\0\0\0"
    assert sig[EAX] >= 0x40000001 and (0x40000001, 0) in t

    edx = t[(0x80000001, 0)][EDX]
    assert bit(edx, SYSCALL) and bit(edx, NX) and bit(edx, LM)

    if (0x8000001e, 0) in t and b"AMD" in b"".join(
            t[(0, 0)][r].to_bytes(4, "little") for r in (EBX, EDX, ECX)):
        assert t[(0x8000001e, 0)][EAX] == index, "extended APIC id"
        assert t[(0x80000008, 0)][ECX] & 0xff == cpus - 1, "NC"


def test_default_is_cpu_0_of_1_with_a_comment_line(kvm, volt_bin):
    p = run_volt("cpuid")
    assert p.returncode == 0, p.stderr
    first = p.stdout.splitlines()[0]
    assert first.startswith("# KVM_GET_CPUID2: vCPU 0 of 1, template none, ")
    assert first.endswith("PVM host" if PVM else "VT host")
    t = parse_table(p.stdout)
    assert t[(1, 0)][EBX] >> 16 == 1, "APIC id 0, one logical processor"
    raw = run_volt("cpuid", "--raw")
    assert raw.returncode == 0 and not raw.stdout.startswith("#")
    assert parse_table(raw.stdout) == t


@pytest.mark.parametrize("name", ["none", "T2", "t2", "T2A", "C3", "minimal"])
def test_templates_are_accepted(kvm, volt_bin, name):
    p = run_volt("cpuid", "--template", name)
    assert p.returncode == 0, p.stderr
    canonical = {"t2": "T2"}.get(name, name)
    assert f", template {canonical}, " in p.stdout.splitlines()[0]
    t = parse_table(p.stdout)
    assert bit(t[(1, 0)][ECX], HYPERVISOR)
    if not PVM and name == "minimal":
        # AVX and XSAVE are gone (PVM would OR the host's back in).
        assert not bit(t[(1, 0)][ECX], 28) and not bit(t[(1, 0)][ECX], 26)
        assert t[(7, 0)][EBX] == 0


@pytest.mark.parametrize("args, message", [
    (["--template", "nosuch"], "unknown CPU template 'nosuch' (known: none, C3, T2, T2S, T2CL, T2A, minimal)"),
    (["--cpus", "0"], "--cpus: '0' is not a number from 1 to 32"),
    (["--cpus", "33"], "--cpus: '33' is not a number from 1 to 32"),
    (["--cpus", "two"], "--cpus: 'two' is not a number from 1 to 32"),
    (["--cpus", "-1"], "--cpus: '-1' is not a number from 1 to 32"),
    (["--cpus", "2x"], "--cpus: '2x' is not a number from 1 to 32"),
    (["--cpu-index", "1"], "--cpu-index 1 is out of range: the VM has 1 vCPU (0 to 0)"),
    (["--cpus", "2", "--cpu-index", "2"], "--cpu-index 2 is out of range: the VM has 2 vCPUs"),
    (["--cpu-index", "x"], "--cpu-index: 'x' is not a number"),
    (["--cpu-index", "99"], "--cpu-index: '99' is not a number from 0 to 31"),
    (["extra"], "unexpected argument 'extra'"),
])
def test_errors_name_the_problem(volt_bin, args, message):
    p = run_volt("cpuid", *args)
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stdout == ""
    assert p.stderr.startswith("volt: error: "), p.stderr
    assert message in p.stderr, p.stderr


def test_unknown_option_shows_usage(volt_bin):
    p = run_volt("cpuid", "--bogus")
    assert p.returncode == 1
    assert "usage: volt cpuid" in p.stderr


def test_help(volt_bin):
    p = run_volt("cpuid", "--help")
    assert p.returncode == 0
    assert "usage: volt cpuid" in p.stdout and "--template" in p.stdout


def _in_namespace(shell):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to hide /dev/kvm in a mount namespace")
    return subprocess.run(["unshare", "--mount", "sh", "-c", shell], capture_output=True,
                          text=True, timeout=60)


def test_missing_dev_kvm_is_a_clear_error(volt_bin):
    p = _in_namespace(f"mount -t tmpfs none /dev && exec '{VOLT}' cpuid")
    if "mount:" in p.stderr:
        pytest.skip(f"cannot mount in a namespace here: {p.stderr.strip()}")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "volt: error: cannot open /dev/kvm: No such file or directory (this host has no KVM" in p.stderr, p.stderr


def test_inaccessible_dev_kvm_is_a_clear_error(volt_bin):
    p = _in_namespace("mount -t tmpfs none /dev && mknod -m 000 /dev/kvm c 10 232 && "
                      f"exec setpriv --reuid=65534 --regid=65534 --clear-groups '{VOLT}' cpuid")
    if "mount:" in p.stderr or "setpriv:" in p.stderr or "mknod:" in p.stderr:
        pytest.skip(f"cannot set this up here: {p.stderr.strip()}")
    if "Permission denied" in p.stderr and "volt:" not in p.stderr:
        pytest.skip(f"{VOLT} is not executable by an unprivileged user")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "volt: error: cannot open /dev/kvm: Permission denied (join the 'kvm' group)" in p.stderr, p.stderr


# --- the guests ---------------------------------------------------------------------------

def boot(vm, guest, marker):
    v = vm("run", "--kernel", GUESTS / guest)
    out = v.wait_for(marker, timeout=60)
    assert v.wait_exit(timeout=30) == 0, f"the {guest} guest did not reset cleanly:\n{out}"
    return v.output()


def test_cpuid_guest_sees_the_configured_table(kvm, volt_bin, vm):
    out = boot(vm, "cpuid", "CPUID-DONE")
    seen = {}
    for m in GUEST_LINE.finditer(out):
        seen[(int(m[1], 16), int(m[2], 16))] = tuple(int(m[i], 16) for i in range(3, 7))
    assert set(seen) == {(0, 0), (1, 0), (7, 0), (0x40000000, 0), (0x80000001, 0),
                         (0x80000007, 0)}, out
    configured = cpuid_table("--raw")

    assert seen[(0, 0)] == configured[(0, 0)], "vendor"
    eax, ebx, ecx, edx = seen[(1, 0)]
    assert bit(ecx, HYPERVISOR), "hypervisor bit"
    assert ebx >> 24 == 0, "APIC id of vCPU 0"
    sig = seen[(0x40000000, 0)]
    assert b"".join(r.to_bytes(4, "little") for r in sig[1:]) == b"KVMKVMKVM\0\0\0"
    assert bit(seen[(0x80000001, 0)][EDX], LM) and bit(seen[(0x80000001, 0)][EDX], NX)
    # The bits even PVM lets a VMM clear are exactly what was configured.
    for n in (CX16, X2APIC, TSC_DEADLINE, HYPERVISOR):
        assert bit(ecx, n) == bit(configured[(1, 0)][ECX], n), f"0x1 ECX bit {n}"
    if PVM:
        assert not bit(ecx, CX16), "CX16 must be hidden from the guest on a PVM host"
    else:
        assert_stripped(ecx, LEAF1_STRIPPED, "guest 0x1 ECX")
        assert_stripped(seen[(7, 0)][EBX], LEAF7_STRIPPED, "guest 0x7 EBX")
        assert seen[(0x80000007, 0)] == (0, 0, 0, seen[(0x80000007, 0)][EDX] & (1 << INVTSC))


def test_msr_guest_reads_the_boot_msrs(kvm, volt_bin, vm):
    out = boot(vm, "msr", "MSR-DONE")
    msrs = {int(m[1], 16): int(m[2], 16) for m in MSR_LINE.finditer(out)}
    for index in (0x174, 0x175, 0x176, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084,
                  0xc0000102):
        assert msrs.get(index) == 0, f"MSR 0x{index:x} = {msrs.get(index)}:\n{out}"
    assert msrs.get(0x1a0) == 1, "IA32_MISC_ENABLE: fast strings"
    assert msrs.get(0x2ff) == (1 << 11) | 6, "MTRRdefType: enabled, write-back"
    assert 0x10 in msrs
    if PVM:
        # Measured: a PVM host ignores KVM_SET_MSRS for the TSC (KVM_GET_MSRS reads the
        # host's TSC right after setting 0), so the guest sees the host's counter.
        assert msrs[0x10] > 0
    else:
        assert 0 < msrs[0x10] < 10**12, "the TSC starts from 0 at boot"


# --- Firecracker's custom CPU template (cpu-config) ---------------------------------------

def _config(tmp_path, guest, cpu_config, template=None):
    machine = {"vcpu_count": 1, "mem_size_mib": 128}
    if template:
        machine["cpu_template"] = template
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"boot-source": {"kernel_image_path": str(GUESTS / guest)},
                                "machine-config": machine, "cpu-config": cpu_config}))
    return path


def test_cpu_config_cpuid_modifiers_reach_the_guest(kvm, volt_bin, tmp_path):
    # x2APIC (21) and TSC-deadline (24): bits even a PVM host lets a VMM clear.
    cfg = {"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0, "modifiers": [
        {"register": "ecx", "bitmap": "0bxxxxxxx0xx0xxxxxxxxxxxxxxxxxxxxx"}]}]}
    p = run_volt("--config-file", _config(tmp_path, "cpuid", cfg), timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "CPUID-DONE" in p.stdout
    m = next(m for m in GUEST_LINE.finditer(p.stdout) if m[1] == "00000001")
    ecx = int(m[5], 16)
    assert not bit(ecx, X2APIC) and not bit(ecx, TSC_DEADLINE), hex(ecx)
    assert bit(ecx, HYPERVISOR)


def test_cpu_config_msr_modifiers_reach_the_guest(kvm, volt_bin, tmp_path):
    cfg = {"msr_modifiers": [{"addr": "0xc0000082", "bitmap": "0b1111"}]}
    p = run_volt("--config-file", _config(tmp_path, "msr", cfg), timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "MSR c0000082 value=000000000000000f" in p.stdout, p.stdout


@pytest.mark.parametrize("cfg, message", [
    ({"msr_modifiers": [{"addr": "0x9999", "bitmap": "0b1"}]},
     "Template changes an MSR entry not supported by KVM: Register Address: 9999"),
    ({"cpuid_modifiers": [{"leaf": "0x12345", "subleaf": "0x0", "flags": 0, "modifiers": []}]},
     "Template changes a CPUID entry not supported by KVM: Leaf: 12345, Subleaf: 0"),
    ({"kvm_capabilities": ["100000"]}, "Missing KVM capabilities: 0x186a0"),
])
def test_cpu_config_refusals_name_the_problem(kvm, volt_bin, tmp_path, cfg, message):
    p = run_volt("--config-file", _config(tmp_path, "msr", cfg), timeout=60)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr


def test_static_template_of_the_other_vendor_is_refused(kvm, volt_bin, tmp_path):
    amd = "AuthenticAMD" in Path("/proc/cpuinfo").read_text()
    other = "T2" if amd else "T2A"
    p = run_volt("--config-file", _config(tmp_path, "cpuid", None, other), timeout=60)
    assert p.returncode != 0
    assert "CPU vendor mismatched between actual CPU and CPU template." in p.stderr, p.stderr
    p = run_volt("run", "--cpu-template", other, "--kernel", GUESTS / "cpuid", timeout=60)
    assert p.returncode != 0
    assert "--cpu-template: CPU vendor mismatched between actual CPU and CPU template." \
        in p.stderr, p.stderr


def test_static_template_reaches_the_guest(kvm, volt_bin, tmp_path):
    amd = "AuthenticAMD" in Path("/proc/cpuinfo").read_text()
    p = run_volt("--config-file", _config(tmp_path, "cpuid", None, "T2A" if amd else "T2"),
                 timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    m = next(m for m in GUEST_LINE.finditer(p.stdout) if m[1] == "00000001")
    # Firecracker's T2 and T2A both describe a Haswell: family 6, model 0x3f, stepping 2.
    assert int(m[3], 16) & 0x0fff3fff == 0x000306f2, m[0]


def test_put_cpu_config_through_the_api(vm, volt_bin, tmp_path):
    from api_client import ApiClient, wait_for_socket

    sock = tmp_path / "api.sock"
    p = vm("--api-sock", sock, "--id", "cpu")
    wait_for_socket(sock, p.proc)
    api = ApiClient(sock)
    status, body = api.put("/cpu-config", {"cpuid_modifiers": [{"leaf": 1}]})
    assert status == 400
    assert body["fault_message"] == (
        "An error occurred when deserializing the json body of a request: invalid type: "
        "integer `1`, expected a string at line 1 column 31.")
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "cpuid")})[0] == 204
    cfg = {"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0, "modifiers": [
        {"register": "ecx", "bitmap": "0bxxxxxxx0xx0xxxxxxxxxxxxxxxxxxxxx"}]}]}
    assert api.put("/cpu-config", cfg) == (204, None)
    status, conf = api.get("/vm/config")
    assert status == 200 and conf["cpu-config"] is None
    assert api.put("/actions", {"action_type": "InstanceStart"})[0] == 204
    out = p.wait_for("CPUID-DONE", timeout=60)
    m = next(m for m in GUEST_LINE.finditer(out) if m[1] == "00000001")
    ecx = int(m[5], 16)
    assert not bit(ecx, X2APIC) and not bit(ecx, TSC_DEADLINE), hex(ecx)


def test_volt_cpuid_shows_a_cpu_config(kvm, volt_bin, tmp_path):
    tmpl = tmp_path / "t.json"
    tmpl.write_text(json.dumps({"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0",
        "flags": 0, "modifiers": [{"register": "ecx",
                                   "bitmap": "0bxxxxxxx0xx0xxxxxxxxxxxxxxxxxxxxx"}]}]}))
    p = run_volt("cpuid", "--cpu-config", tmpl)
    assert p.returncode == 0, p.stderr
    assert ", template none + cpu-config, " in p.stdout.splitlines()[0]
    ecx = parse_table(p.stdout)[(1, 0)][ECX]
    assert not bit(ecx, X2APIC) and not bit(ecx, TSC_DEADLINE)
    tmpl.write_text('{"msr": []}')
    p = run_volt("cpuid", "--cpu-config", tmpl)
    assert p.returncode == 1
    assert "unknown field `msr`, expected one of" in p.stderr, p.stderr
