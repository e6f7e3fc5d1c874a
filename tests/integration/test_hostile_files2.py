"""Hostile files, second campaign: crafted contents rather than file kinds.

test_hostile_files.py covers what a path names (FIFO, device, directory,
socket); this file covers what a regular file holds: kernel images with
headers that lie, initrds and drives of odd sizes, configuration and MMDS
files that are not what they claim, snapshot state files whose records are
hostile but correctly checksummed, memory files of the wrong size or kind,
and log/metrics paths nobody can write. Each must end in a clean error that
names the file (exit 1, "error:") or a clean run (exit 0): never a signal, a
sanitizer report, a hang or a huge allocation. No Linux guest boots: the
tiny hello/echo guests run in milliseconds. Run it against the ASan build
too (VOLT=build-debug/volt).
"""
import hashlib
import json
import os
import socket
import struct
import subprocess
import time

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, VOLT, VoltProcess, full_backlog_listener

QUICK = 20  # seconds; every case here answers in well under one
SANITIZER = ("AddressSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
             "LeakSanitizer", "Segmentation fault")


def run(*args, timeout=QUICK, env=None):
    try:
        return subprocess.run([str(VOLT), *map(str, args)], capture_output=True, text=True,
                              errors="replace", timeout=timeout, stdin=subprocess.DEVNULL,
                              env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"volt {' '.join(map(str, args))} hung (no answer in {timeout} s)")


def clean(r, what):
    """No crash, no sanitizer report, no seccomp kill: exit 0 or 1."""
    for s in SANITIZER:
        assert s not in r.stderr, (what, r.stderr[-3000:])
    assert r.returncode in (0, 1), (what, r.returncode, r.stderr[-3000:])


def refused(r, path, what, *words):
    clean(r, what)
    assert r.returncode == 1, (what, r.stdout[-500:], r.stderr[-2000:])
    assert "error:" in r.stderr, (what, r.stderr)
    assert str(path) in r.stderr, (what, r.stderr)
    for w in words:
        assert w in r.stderr, (what, w, r.stderr)


# ---------------------------------------------------------------- kernel images

EH = struct.Struct("<16sHHIQQQIHHHHHH")  # Elf64_Ehdr
PH = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr


def hello():
    return bytearray((GUESTS / "hello").read_bytes())


def ehdr(img):
    return list(EH.unpack_from(img, 0))


def set_eh(img, **kw):
    f = ehdr(img)
    names = ["ident", "type", "machine", "version", "entry", "phoff", "shoff", "flags",
             "ehsize", "phentsize", "phnum", "shentsize", "shnum", "shstrndx"]
    for k, v in kw.items():
        f[names.index(k)] = v
    EH.pack_into(img, 0, *f)
    return img


def set_ph(img, i, **kw):
    phoff = ehdr(img)[5]
    off = phoff + i * PH.size
    f = list(PH.unpack_from(img, off))
    names = ["type", "flags", "offset", "vaddr", "paddr", "filesz", "memsz", "align"]
    for k, v in kw.items():
        f[names.index(k)] = v
    PH.pack_into(img, off, *f)
    return img


def note_off(img):
    """File offset of the hello guest's PVH note (its PT_NOTE, phdr 1)."""
    phoff = ehdr(img)[5]
    return PH.unpack_from(img, phoff + PH.size)[2]


def elf_cases():
    h = hello
    size = len(h())
    big = 1 << 62
    c = {
        "phdrs-past-end": set_eh(h(), phoff=size - 10),
        "phoff-wraps": set_eh(h(), phoff=(1 << 64) - 8),
        "phnum-0": set_eh(h(), phnum=0),
        "phnum-65535": set_eh(h(), phnum=65535),
        "phentsize-0": set_eh(h(), phentsize=0),
        "phentsize-32": set_eh(h(), phentsize=32),
        "class-32": bytearray(h()[:4] + b"\x01" + h()[5:]),
        "big-endian": bytearray(h()[:5] + b"\x02" + h()[6:]),
        "e_type-dyn": set_eh(h(), type=3),
        "machine-i386": set_eh(h(), machine=3),
        "filesz-gt-memsz": set_ph(h(), 0, filesz=0x200, memsz=0x100),
        "offset-past-end": set_ph(h(), 0, offset=size + 1),
        "offset-wraps": set_ph(h(), 0, offset=(1 << 64) - 0x10),
        "filesz-huge": set_ph(h(), 0, filesz=big, memsz=big),
        "memsz-huge": set_ph(h(), 0, memsz=big),
        "memsz-max": set_ph(h(), 0, memsz=(1 << 64) - 1),
        "paddr-0": set_ph(h(), 0, paddr=0, vaddr=0),
        "paddr-zeropage": set_ph(h(), 0, paddr=0x7000, vaddr=0x7000),
        "paddr-below-1M-overlapping": set_ph(h(), 0, paddr=0xff000, memsz=0x2000),
        "paddr-beyond-ram": set_ph(h(), 0, paddr=1 << 40, vaddr=1 << 40),
        "paddr-in-mmio-hole": set_ph(h(), 0, paddr=0xd0000000, vaddr=0xd0000000),
        "paddr-wraps": set_ph(h(), 0, paddr=(1 << 64) - 0x10, memsz=0x100),
        "no-load": set_ph(h(), 0, type=4),
        "entry-outside": set_eh(h(), entry=0x200000),
        "entry-high-outside": set_eh(h(), entry=0xffffffff81000000),
        "entry-0": set_eh(h(), entry=0),
    }
    # Two loads on top of each other: the note turned into a PT_LOAD.
    c["overlapping-loads"] = set_ph(h(), 1, type=1, paddr=0x100000, memsz=0x100)
    # PVH note lies: sizes beyond its segment, an entry outside the image.
    n = note_off(h())
    for name, off, val in (("namesz-huge", 0, 0xffffffff), ("descsz-huge", 4, 0xffffffff),
                           ("descsz-3", 4, 3), ("entry-outside", 16, 0x5000000),
                           ("entry-0", 16, 0)):
        img = h()
        struct.pack_into("<I", img, n + off, val)
        c[f"pvh-note-{name}"] = img
    c["pvh-note-segment-past-end"] = set_ph(h(), 1, offset=size - 4, filesz=0x100)
    c["pvh-note-filesz-wraps"] = set_ph(h(), 1, filesz=(1 << 64) - 1)
    for n_ in (1, 4, 16, 63, 64, 65, 64 + 56, 0x1000, 0x1010):
        c[f"truncated-{n_}"] = h()[:n_]
    return c


def bz(setup_sects=1, version=0x020f, loadflags=1, xloadflags=1, init_size=0x1000,
       pref=0x1000000, relocatable=1, payload=4096, jump=0x6a, syssize=None):
    """A bzImage: the boot sector with its setup header, setup_sects of setup, payload."""
    img = bytearray((setup_sects + 1) * 512 + payload)
    img[0x1f1] = setup_sects
    struct.pack_into("<H", img, 0x1fe, 0xaa55)
    img[0x200], img[0x201] = 0xeb, jump
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, version)
    img[0x211] = loadflags
    struct.pack_into("<I", img, 0x1f4, syssize if syssize is not None else payload // 16)
    img[0x234] = relocatable
    struct.pack_into("<H", img, 0x236, xloadflags)
    struct.pack_into("<Q", img, 0x258, pref)
    struct.pack_into("<I", img, 0x260, init_size)
    return img


def bz_cases():
    c = {
        "version-2.00": bz(version=0x0200),
        "version-0": bz(version=0),
        "no-loaded-high": bz(loadflags=0),
        "no-xlf-kernel-64": bz(xloadflags=0),
        "setup-sects-255": bz(setup_sects=255, payload=0)[:4096],
        "setup-sects-eats-all": bz(setup_sects=4, payload=0),
        "init-size-4G": bz(init_size=0xffffffff),
        "init-size-4G-fixed": bz(init_size=0xffffffff, relocatable=0),
        "pref-beyond-ram-fixed": bz(pref=1 << 40, relocatable=0),
        "pref-wraps": bz(pref=(1 << 64) - 0x1000, init_size=0x2000),
        "pref-below-1M": bz(pref=0x1000),
        "syssize-huge": bz(syssize=0xffffffff),
        "jump-short": bz(jump=0x10),
        "boot-flag-only": bz()[:0x200],
        "hdrs-only": bz()[:0x206],
        "header-cut": bz()[:0x230],
        "header-end": bz()[:0x268],
    }
    return c


@pytest.mark.parametrize("name", sorted(elf_cases()))
def test_crafted_elf(name, tmp_path, kvm, volt_bin):
    k = tmp_path / f"vmlinux-{name}"
    k.write_bytes(elf_cases()[name])
    for proto in ("linux", "pvh"):
        r = run("run", "--kernel", k, "--mem", "64", "--boot-protocol", proto)
        clean(r, (name, proto))
        if r.returncode:
            assert "error:" in r.stderr and str(k) in r.stderr, (name, proto, r.stderr)
    # These must be refused whatever the protocol.
    if not name.startswith("pvh-note"):
        r = run("run", "--kernel", k, "--mem", "64")
        refused(r, k, name)


@pytest.mark.parametrize("name", sorted(bz_cases()))
def test_crafted_bzimage(name, tmp_path, kvm, volt_bin):
    k = tmp_path / f"bzImage-{name}"
    k.write_bytes(bz_cases()[name])
    if name in ("pref-wraps", "pref-below-1M", "syssize-huge", "header-end"):
        # Loadable images of zeros: the guest runs them (add [rax], al) until
        # it faults or is killed; volt must only not crash on them.
        try:
            r = subprocess.run([str(VOLT), "run", "--kernel", str(k), "--mem", "64"],
                               capture_output=True, text=True, errors="replace", timeout=1.5,
                               stdin=subprocess.DEVNULL)
            clean(r, name)
        except subprocess.TimeoutExpired:
            pass
        return
    refused(run("run", "--kernel", k, "--mem", "64"), k, name)


def test_kernel_odd_sources(tmp_path, kvm, volt_bin):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    noperm = tmp_path / "dir" / "k"
    for path, words in ((loop, "Too many levels of symbolic links"), (empty, ""),
                        ("/dev/urandom", "is a character device"),
                        ("/proc/self/status", ""), (noperm, "No such file")):
        refused(run("run", "--kernel", path), path, path, words)


def test_kernel_growing_while_read(tmp_path, volt_bin):
    """A file that another process keeps appending to: volt reads what it stat()ed."""
    k = tmp_path / "growing"
    k.write_bytes(bytes(hello()))
    stop = time.monotonic() + 1.5
    w = subprocess.Popen(["sh", "-c", f"while :; do head -c 65536 /dev/zero >> {k}; done"])
    try:
        while time.monotonic() < stop:
            clean(run("run", "--kernel", k, "--mem", "64"), "growing")
    finally:
        w.kill()
        w.wait()


# ---------------------------------------------------------------- initrds and drives

def test_initrd_hostile(tmp_path, kvm, volt_bin):
    empty = tmp_path / "empty.cpio"
    empty.write_bytes(b"")
    r = run("run", "--kernel", GUESTS / "hello", "--initrd", empty, "--mem", "64")
    clean(r, "empty initrd")
    if r.returncode:
        assert str(empty) in r.stderr, r.stderr
    sparse = tmp_path / "sparse.cpio"
    with open(sparse, "wb") as f:
        f.truncate(1 << 40)
    refused(run("run", "--kernel", GUESTS / "hello", "--initrd", sparse, "--mem", "64"),
            sparse, "1 TiB initrd")
    refused(run("run", "--kernel", GUESTS / "hello", "--initrd", tmp_path, "--mem", "64"),
            tmp_path, "dir initrd", "is a directory")


def config(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(json.dumps(body))
    return p


def drive_cfg(path, ro=False):
    return {"boot-source": {"kernel_image_path": str(GUESTS / "hello")},
            "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
            "drives": [{"drive_id": "d", "path_on_host": str(path), "is_root_device": False,
                        "is_read_only": ro}]}


def test_drive_files(tmp_path, kvm, volt_bin):
    zero = tmp_path / "zero.img"
    zero.write_bytes(b"")
    odd = tmp_path / "odd.img"
    odd.write_bytes(bytes(513))
    sparse = tmp_path / "sparse.img"
    with open(sparse, "wb") as f:
        f.truncate(1 << 40)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, ok in ((zero, None), (odd, None), (sparse, None), ("/dev/null", None),
                     (tmp_path, False), (fifo, False), (tmp_path / "missing.img", False)):
        for ro in (False, True):
            cfg = config(tmp_path, "vm.json", drive_cfg(path, ro))
            r = run("--config-file", cfg, "--no-api")
            clean(r, (path, ro))
            if r.returncode:
                assert str(path) in r.stderr, (path, ro, r.stderr)
            if ok is False:
                assert r.returncode == 1, (path, r.stderr)


def test_read_only_file_as_writable_drive(tmp_path, kvm, volt_bin):
    """A file volt may not write (chattr +i works for root too), is_read_only false."""
    img = tmp_path / "ro.img"
    img.write_bytes(bytes(4096))
    if subprocess.run(["chattr", "+i", str(img)], capture_output=True).returncode:
        pytest.skip("chattr +i does not work here")
    try:
        cfg = config(tmp_path, "vm.json", drive_cfg(img, False))
        refused(run("--config-file", cfg, "--no-api"), img, "immutable drive")
        cfg = config(tmp_path, "vm.json", drive_cfg(img, True))
        clean(run("--config-file", cfg, "--no-api"), "immutable ro drive")
    finally:
        subprocess.run(["chattr", "-i", str(img)])


def test_read_only_disk_as_writable_drive(tmp_path, kvm, volt_bin):
    """A block device set read-only (losetup -r) opens for writing all the same: given as a
    writable drive it is refused up front (the guest's every write failed), as a read-only
    one it runs."""
    img = tmp_path / "disk.img"
    img.write_bytes(bytes(1 << 20))
    r = subprocess.run(["losetup", "-r", "-f", "--show", str(img)], capture_output=True,
                       text=True)
    if r.returncode:
        pytest.skip(f"no loop device here: {r.stderr.strip()}")
    dev = r.stdout.strip()
    try:
        cfg = config(tmp_path, "vm.json", drive_cfg(dev, False))
        refused(run("--config-file", cfg, "--no-api"), dev, "read-only disk",
                "is a read-only block device")
        cfg = config(tmp_path, "vm.json", drive_cfg(dev, True))
        clean(run("--config-file", cfg, "--no-api"), "read-only disk as a ro drive")
    finally:
        subprocess.run(["losetup", "-d", dev])


# ---------------------------------------------------------------- config, MMDS, CPU config

def good_config():
    return {"boot-source": {"kernel_image_path": str(GUESTS / "hello"), "boot_args": "x"},
            "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "smt": False},
            "drives": [], "network-interfaces": [],
            "logger": {"level": "Info"},
            "vsock": None, "balloon": None, "entropy": {}}


WRONG = [None, True, 0, -1, 1 << 64, 1.5, "", "x" * 5000, [], {}, [[[]]], "\u0000"]


def paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from paths(v, prefix + (k,))


def replaced(obj, path, value):
    obj = json.loads(json.dumps(obj))
    o = obj
    for k in path[:-1]:
        o = o[k]
    o[path[-1]] = value
    return obj


def test_config_file_wrong_types_everywhere(tmp_path, volt_bin):
    cfg = tmp_path / "vm.json"
    base = good_config()
    for p in list(paths(base)):
        for v in WRONG:
            cfg.write_text(json.dumps(replaced(base, p, v)))
            r = run("--config-file", cfg, "--no-api")
            clean(r, (p, v))
            if r.returncode:
                assert str(cfg) in r.stderr or "error" in r.stderr.lower(), (p, v, r.stderr)


def test_config_file_malformed(tmp_path, volt_bin):
    cases = {
        "deep": b"[" * 200000 + b"]" * 200000,
        "deep-obj": b'{"a":' * 100000 + b"1" + b"}" * 100000,
        "utf8": b'{"boot-source": {"kernel_image_path": "\xff\xfe"}}',
        "nul": b'{"boot-source"\x00: {}}',
        "huge": b'{"x": "' + b"a" * (3 << 20) + b'"}',
        "empty": b"",
        "number": b"42",
        "dupkeys": json.dumps(good_config()).encode()[:-1] + b', "boot-source": 3}',
        "long-number": b'{"machine-config": {"vcpu_count": 1' + b"0" * 5000 + b"}}",
    }
    for name, data in cases.items():
        cfg = tmp_path / f"{name}.json"
        cfg.write_bytes(data)
        refused(run("--config-file", cfg, "--no-api"), cfg, name)


def test_config_file_unknown_sections_ignored(tmp_path, volt_bin):
    """Firecracker's VmmConfig takes keys it does not know (a file written for another
    release, its skipped "serial"): volt says so and goes on. Without KVM it stops at
    /dev/kvm, past the configuration."""
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({**good_config(), "serial": {"serial_out_path": "/x"},
                               "future-thing\u0001": 1}))
    r = run("--config-file", cfg, "--no-api")
    clean(r, "unknown sections")
    assert "unknown section 'serial' ignored" in r.stderr, r.stderr
    assert "unknown section 'future-thing\\x01' ignored" in r.stderr, r.stderr
    if os.path.exists("/dev/kvm"):
        assert r.returncode == 0, r.stderr
    else:
        assert "/dev/kvm" in r.stderr, r.stderr


def test_metadata_file(tmp_path, volt_bin):
    cases = {"deep": b"[" * 200000 + b"]" * 200000, "utf8": b'{"a": "\xff"}',
             "not-json": b"{", "empty": b"", "huge": b'{"a": "' + b"a" * (3 << 20) + b'"}'}
    for name, data in cases.items():
        md = tmp_path / f"{name}.json"
        md.write_bytes(data)
        cfg = config(tmp_path, "vm.json", good_config())
        r = run("--config-file", cfg, "--no-api", "--metadata", md)
        clean(r, name)
        if name != "deep":  # a valid document; the store may take it
            refused(r, md, name)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refused(run("--config-file", cfg, "--no-api", "--metadata", fifo), fifo, "fifo")


def test_cpu_config_file(tmp_path, volt_bin):
    cases = {
        "deep": b"[" * 200000 + b"]" * 200000,
        "wrong": b'{"cpuid_modifiers": 3}',
        "bad-bitmap": b'{"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,'
                      b' "modifiers": [{"register": "eax", "bitmap": "0b2z"}]}]}',
        "long-bitmap": b'{"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,'
                       b' "modifiers": [{"register": "eax", "bitmap": "0b' + b"1" * 5000
                       + b'"}]}]}',
        "many": json.dumps({"msr_modifiers": [{"addr": hex(i), "bitmap": "0b" + "x" * 64}
                                              for i in range(20000)]}).encode(),
        "utf8": b'{"kvm_capabilities": ["\xff"]}',
    }
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for name, data in list(cases.items()) + [("fifo", None), ("dir", None)]:
        if data is None:
            f = fifo if name == "fifo" else tmp_path
        else:
            f = tmp_path / f"cpu-{name}.json"
            f.write_bytes(data)
        cfg = good_config()
        cfg["cpu-config"] = str(f)
        c = config(tmp_path, "vm.json", cfg)
        r = run("--config-file", c, "--no-api")
        clean(r, name)
        words = {"fifo": ("is a FIFO",), "dir": ("is a directory",)}.get(name, ())
        if name != "many":
            refused(r, f, name, *words)
        # `volt cpuid --cpu-config FILE` reads the same files.
        r = run("cpuid", "--cpu-config", f)
        clean(r, ("cpuid", name))
        if name != "many":
            refused(r, f, ("cpuid", name), *words)


# ---------------------------------------------------------------- log and metrics paths

def test_log_and_metrics_paths(tmp_path, kvm, volt_bin):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    img = tmp_path / "immutable.log"
    img.write_bytes(b"")
    immutable = not subprocess.run(["chattr", "+i", str(img)], capture_output=True).returncode
    try:
        for opt in ("--log-path", "--metrics-path"):
            for path, ok in ((fifo, True), (tmp_path, False), ("/dev/full", None),
                             (tmp_path / "no" / "such", False),
                             *(((img, False),) if immutable else ())):
                cfg = config(tmp_path, "vm.json", good_config())
                r = run("--config-file", cfg, "--no-api", opt, path)
                clean(r, (opt, path))
                if ok is False:
                    refused(r, path, (opt, path))
                elif ok:
                    assert r.returncode == 0, (opt, path, r.stderr)
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(img)])


# ---------------------------------------------------------------- snapshots

def records(state):
    """[(name, data)] of a volt state file."""
    assert state[:8] == b"VOLTSNAP"
    body_len = struct.unpack_from("<Q", state, 16)[0]
    off, out = 64, []
    while off < 64 + body_len:
        nlen, _, dlen = struct.unpack_from("<HHI", state, off)
        name = state[off + 8:off + 8 + nlen].decode()
        out.append((name, state[off + 8 + nlen:off + 8 + nlen + dlen]))
        off += 8 + nlen + dlen
    return out


def signed(recs, header=None):
    """A state file of recs with a correct checksum: only the records' contents lie."""
    body = b"".join(struct.pack("<HHI", len(n.encode()), 0, len(d)) + n.encode() + d
                    for n, d in recs)
    h = bytearray(header or 64)
    h[:8] = b"VOLTSNAP"
    struct.pack_into("<IIQ", h, 8, 1, 64, len(body))
    h[24:56] = hashlib.sha256(body).digest()
    return bytes(h) + body


def api_only(tmp_path):
    """volt --api-sock in seccomp kill mode, no VM (runs without KVM)."""
    sock = tmp_path / "api.sock"
    p = VoltProcess(["--api-sock", sock, "--seccomp=kill"], tmp_path / "volt.log")
    wait_for_socket(sock, p.proc)
    return p, ApiClient(sock, timeout=30)


def test_a_state_file_of_many_tiny_records_is_refused_at_once(tmp_path, volt_bin):
    """A correctly checksummed state file of 160000 empty records (1.7 MB): refused for its
    count, at once. The duplicate-name check compared each record with every one before
    it: 45 s of the main thread for this file, about 11 hours for the largest one."""
    state = tmp_path / "many.state"
    state.write_bytes(signed([(f"r{i}", b"") for i in range(160000)]))
    mem = tmp_path / "mem"
    mem.write_bytes(b"\0" * 4096)
    p, api = api_only(tmp_path)
    try:
        t0 = time.monotonic()
        status, body = api.put("/snapshot/load", {"snapshot_path": str(state),
                                                  "mem_backend": {"backend_path": str(mem),
                                                                  "backend_type": "File"}})
        assert status == 400 and "more than 4096 records" in body["fault_message"], body
        assert time.monotonic() - t0 < 20
        assert api.get("/machine-config")[0] == 200 and p.proc.poll() is None
    finally:
        p.kill()


def test_a_page_fault_handler_that_never_accepts_does_not_hang_a_load(tmp_path, volt_bin):
    """PUT /snapshot/load with a Uffd backend whose socket's listener never accepts (its
    backlog full): the load is refused within the client's patience (a blocking connect()
    waited forever, the API and SIGTERM with it), and volt goes on serving. Whatever the
    load fails on first on this host (the state file is a minimal one), it must answer."""
    with open("/proc/cpuinfo") as f:
        info = dict((k.strip(), val.strip()) for k, sep, val in
                    (line.partition(":") for line in f.read().split("\n\n")[0].splitlines())
                    if sep)
    cpu = info.get("vendor_id", "").encode() + struct.pack(
        "<III", *(int(info.get(k) or 0) for k in ("cpu family", "model", "stepping")))
    cfg = {"mem_size": 32 << 20, "vcpus": 1, "pvm_host": os.path.exists("/sys/module/kvm_pvm"),
           "devices": []}
    state = tmp_path / "min.state"
    state.write_bytes(signed([("vm/config", json.dumps(cfg).encode()),
                              ("vm/cpu", cpu),
                              ("vm/ncpus", struct.pack("<Q", 1))]))
    handler = tmp_path / "uffd.sock"
    with full_backlog_listener(handler):
        p, api = api_only(tmp_path)
        try:
            status, body = api.put("/snapshot/load", {
                "snapshot_path": str(state),
                "mem_backend": {"backend_path": str(handler), "backend_type": "Uffd"}})
            assert status == 400, body
            assert api.get("/machine-config")[0] == 200 and p.proc.poll() is None
        finally:
            p.kill()


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """One snapshot of the echo guest (2 vCPUs, 32 MiB): (state bytes, mem path)."""
    d = tmp_path_factory.mktemp("snap")
    sock = d / "api.sock"
    log = open(d / "volt.log", "wb")
    p = subprocess.Popen([str(VOLT), "--api-sock", str(sock), "--snapshot-dir", str(d)],
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE)
    try:
        wait_for_socket(sock, p)
        api = ApiClient(sock, timeout=QUICK)
        for url, body in (("/machine-config", {"vcpu_count": 2, "mem_size_mib": 32}),
                          ("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}),
                          ("/actions", {"action_type": "InstanceStart"})):
            assert api.put(url, body) == (204, None), url
        deadline = time.monotonic() + 30
        while b"echo guest ready" not in (d / "volt.log").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert api.patch("/vm", {"state": "Paused"}) == (204, None)
        assert api.put("/snapshot/create", {"snapshot_path": str(d / "state"),
                                            "mem_file_path": str(d / "mem")}) == (204, None)
    finally:
        p.kill()
        p.wait()
        log.close()
    return (d / "state").read_bytes(), d / "mem"


def restore(tmp_path, name, state, mem):
    d = tmp_path / name
    d.mkdir()
    if state is not None:
        (d / "state").write_bytes(state)
    if isinstance(mem, (str, os.PathLike)):
        os.symlink(mem, d / "mem")
    r = run("run", "--restore", d, timeout=QUICK)
    return d, r


def try_restore(d):
    """A restore that works leaves the echo guest waiting for input: None after a
    second. A refusal answers in milliseconds."""
    try:
        return subprocess.run([str(VOLT), "run", "--restore", str(d)], capture_output=True,
                              text=True, errors="replace", timeout=0.7,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None


def check_restore(r, d, what, must_fail=True):
    assert r is not None, (what, "restored a snapshot it should have refused")
    clean(r, what)
    if must_fail:
        assert r.returncode == 1, (what, r.stderr[-2000:])
    if r.returncode:
        assert str(d) in r.stderr and "error:" in r.stderr, (what, r.stderr)


def test_snapshot_records_lie(snapshot, tmp_path, kvm, volt_bin):
    """Every record, checksummed again after it was truncated, emptied, grown or
    filled with 0xff: the restore refuses it or, for values a guest may hold, runs.
    The echo guest waits for input, so a restore that works runs until killed:
    such runs get a short timeout and count as clean."""
    state, mem = snapshot
    recs = records(state)
    n = 0
    for i, (name, data) in enumerate(recs):
        # A short record is refused by its length before anything runs; a record
        # of the right length full of 0xff reaches KVM (and may run).
        # vcpu1's records are vcpu0's kind: only their length is tried.
        variants = {"half": data[:len(data) // 2]}
        if not name.startswith("vcpu1/"):
            variants["ff"] = b"\xff" * len(data)
        for vname, v in variants.items():
            bad = recs[:i] + [(name, v)] + recs[i + 1:]
            n += 1
            d = tmp_path / f"r{n}"
            d.mkdir()
            (d / "state").write_bytes(signed(bad))
            os.symlink(mem, d / "mem")
            r = try_restore(d)
            if r:
                clean(r, (name, vname))
                if r.returncode:  # refused, or restored and the guest then failed
                    assert "error:" in r.stderr, (name, vname, r.stderr)
    # Records dropped one at a time (api/config is optional), and a record added.
    for i, (name, _) in enumerate(recs):
        d = tmp_path / f"drop{i}"
        d.mkdir()
        (d / "state").write_bytes(signed(recs[:i] + recs[i + 1:]))
        os.symlink(mem, d / "mem")
        r = try_restore(d)
        if name == "vm/config":
            check_restore(r, d, ("drop", name))
        elif r:  # some records are optional (the irqchip's, api/config)
            clean(r, ("drop", name))
    d, r = restore(tmp_path, "extra", signed(recs + [("vcpu7/regs", recs[0][1])]), mem)
    check_restore(r, d, "extra record")
    # The VM configuration's numbers lie: vCPUs, memory size (vs the memory file).
    cfg = json.loads(dict(recs)["vm/config"])
    for n, (key, val) in enumerate((("vcpus", 0), ("vcpus", 1), ("vcpus", 3), ("vcpus", 1000),
                                    ("vcpus", -1), ("mem_size", 0), ("mem_size", 1 << 20),
                                    ("mem_size", (32 << 20) + 4096),
                                    ("mem_size", 64 << 20), ("mem_size", 1 << 62),
                                    ("mem_size", -1), ("devices", [{"kind": "x"}] * 100),
                                    ("virtio", "x"))):
        bad = [(k, json.dumps({**cfg, key: val}).encode() if k == "vm/config" else v)
               for k, v in recs]
        d, r = restore(tmp_path, f"cfg{n}", signed(bad), mem)
        check_restore(r, d, ("vm/config", key, val))


def test_snapshot_state_truncated_and_flipped(snapshot, tmp_path, kvm, volt_bin):
    state, mem = snapshot
    cuts = {0, 1, 8, 63, 64, 65, len(state) - 1}
    off = 64
    for name, data in records(state):
        cuts.update((off, off + 4, off + 8))
        off += 8 + len(name) + len(data)
    for n, cut in enumerate(sorted(cuts)):
        d, r = restore(tmp_path, f"cut{n}", state[:cut], mem)
        check_restore(r, d, ("cut", cut))
    # Header fields that lie: version, header size, body length.
    for n, (off, val) in enumerate(((8, 2), (12, 0), (12, 1 << 31), (16, 1 << 62),
                                    (16, 0), (16, len(state)))):
        h = bytearray(state)
        struct.pack_into("<I" if off < 16 else "<Q", h, off, val)
        d, r = restore(tmp_path, f"hdr{n}", bytes(h), mem)
        check_restore(r, d, ("header", off, val))
    # A record length pointing past the end, with a correct checksum.
    body = bytearray(state[64:])
    struct.pack_into("<I", body, 4, 0xfffffff0)
    h = bytearray(state[:64])
    h[24:56] = hashlib.sha256(body).digest()
    d, r = restore(tmp_path, "reclen", bytes(h) + bytes(body), mem)
    check_restore(r, d, "record length")


def test_snapshot_memory_files(snapshot, tmp_path, kvm, volt_bin):
    state, mem = snapshot
    short = tmp_path / "short.mem"
    with open(short, "wb") as f:
        f.truncate(mem.stat().st_size - 4096)
    longer = tmp_path / "long.mem"
    with open(longer, "wb") as f:
        f.truncate(mem.stat().st_size + 4096)
    fifo = tmp_path / "fifo.mem"
    os.mkfifo(fifo)
    sockp = tmp_path / "sock.mem"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sockp))
    try:
        for n, m in enumerate((short, longer, fifo, tmp_path, "/dev/zero", "/dev/null", sockp,
                               tmp_path / "missing.mem")):
            d, r = restore(tmp_path, f"mem{n}", state, m)
            check_restore(r, d, m)
    finally:
        s.close()
    # The state of another snapshot's pair: a memory file of the wrong size.
    d, r = restore(tmp_path, "nomem", state, None)
    check_restore(r, d, "no mem")


def test_log_and_metrics_fifo_full(tmp_path, kvm, volt_bin):
    """A FIFO whose reader never reads and whose buffer is already full: every
    write would block; volt drops the lines and the guest runs to its end."""
    import fcntl
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    w = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        fcntl.fcntl(r, 1031, 4096)  # F_SETPIPE_SZ: one page
        try:
            while True:
                os.write(w, b"x" * 4096)
        except BlockingIOError:
            pass
        cfg = config(tmp_path, "vm.json", good_config())
        for opt in ("--log-path", "--metrics-path"):
            r_ = run("--config-file", cfg, "--no-api", opt, fifo, "--level", "Debug")
            clean(r_, opt)
            assert r_.returncode == 0 and "Hello" in r_.stdout, (opt, r_.stderr)
    finally:
        os.close(r)
        os.close(w)


def test_snapshot_state_file_kinds(snapshot, tmp_path, kvm, volt_bin):
    """The state file a FIFO (no hang), a directory or a device: refused, saying what it is."""
    _, mem = snapshot
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for n, (path, words) in enumerate(((fifo, "is a FIFO"), (tmp_path, "is a directory"),
                                       ("/dev/zero", "is a character device"))):
        d = tmp_path / f"state{n}"
        d.mkdir()
        os.symlink(path, d / "state")
        os.symlink(mem, d / "mem")
        r = run("run", "--restore", d)
        refused(r, d, path, "Failed to open snapshot file", words)


# ---------------------------------------------------------------- the caches' own files

@pytest.mark.parametrize("number", ["9223372036854775807", "-9223372036854775808",
                                    "99999999999999999999", "-1", "1e300", "\"x\""])
def test_cache_listings_with_hostile_dates(number, tmp_path):
    """`volt kernel list` and `volt snapshot list` read dates from the cache's files: one
    the C library cannot convert is listed as "?" (a huge one crashed strftime)."""
    cache = tmp_path / "cache"
    snap = cache / "volt" / "snapshots" / "0123456789abcdef"
    snap.mkdir(parents=True)
    (snap / "state").write_bytes(b"")
    (snap / "mem").write_bytes(b"")
    (snap / "info.json").write_text(f'{{"created": {number}, "mem_size": 1, "vcpus": 1}}')
    kern = cache / "volt" / "kernels" / "0123456789abcdef"
    kern.mkdir(parents=True)
    (kern / "vmlinux").write_bytes(b"\x7fELF")
    built = number.strip('"')
    (kern / "volt-kernel.meta").write_text(
        f"key=0123456789abcdef\nconfig=x\nvariant=generic\nbuilt={built}\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    for cmd in (("snapshot", "list"), ("kernel", "list")):
        r = run(*cmd, env=env)
        clean(r, cmd)


def test_kernel_list_escapes_control_bytes(tmp_path):
    """A cache file's values reach the terminal without their control bytes (an escape
    sequence would retitle or clear it)."""
    kern = tmp_path / "cache" / "volt" / "kernels" / "0123456789abcdef"
    kern.mkdir(parents=True)
    (kern / "vmlinux").write_bytes(b"\x7fELF")
    (kern / "volt-kernel.meta").write_bytes(
        b"key=0123456789abcdef\nconfig=\x1b]0;TITLE\x07\x1b[2Jx\nvariant=pvm\nbuilt=1\n")
    r = run("kernel", "list", env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    clean(r, "kernel list")
    assert "0123456789abcdef" in r.stdout and "\x1b" not in r.stdout and "\x07" not in r.stdout
