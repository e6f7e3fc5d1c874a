#!/usr/bin/env python3
"""Builds a newc cpio archive with the host's fio for a guest initramfs.

Debian's fio is dynamically linked against ~80 MiB of libraries, most of them
for I/O engines a guest benchmark never uses (Ceph RBD/RADOS, GlusterFS, NBD,
RDMA, PMEM). Unpacking that many bytes in a guest whose kernel is emulated
(PVM hosts) or translated (QEMU TCG) costs minutes, so those libraries are
replaced by stubs with the same sonames, symbol versions and the symbols fio
imports from them (each traps if ever called). What is left is fio, libc,
libm, libz, libaio, libnuma and the loader: a few MiB.

Usage: fio_kit.py OUT.cpio [FIO]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

STUBBED = ("libgfapi.so", "librados.so", "librbd.so", "libnbd.so", "libibverbs.so",
           "librdmacm.so", "libpmemblk.so", "libpmem.so")


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def ldd(path):
    """soname -> path of every library the loader would map, and the loader."""
    libs, loader = {}, None
    for line in run("ldd", path).splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            libs[m.group(1)] = m.group(2)
        elif re.match(r"\s*/\S+ \(", line):
            loader = line.split()[0]
    return libs, loader


def needed(path):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", run("readelf", "-dW", path))


def dynsyms(path, undefined):
    """(name, version or None, type) of the defined or undefined dynamic symbols."""
    out = []
    for line in run("readelf", "--dyn-syms", "-W", path).splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].endswith(":"):
            continue
        typ, ndx, name = f[3], f[6], f[7]
        if (ndx == "UND") != undefined or not name or typ not in ("FUNC", "OBJECT", "NOTYPE"):
            continue
        ver = None
        if "@" in name:
            name, ver = re.split(r"@@?", name, maxsplit=1)
            ver = re.sub(r"\s*\(\d+\)$", "", ver)
        out.append((name, ver, typ))
    return out


def stub(soname, real, wanted, outdir, tmp):
    """A library named soname defining the wanted (name, version) of real."""
    defined = {(n, v): t for n, v, t in dynsyms(real, False)}
    by_name = {}
    for (n, v), t in defined.items():
        by_name.setdefault(n, []).append((v, t))
    src, versions = [], {}
    for name, ver in sorted(wanted):
        cands = by_name.get(name)
        if not cands:
            continue
        typ = next((t for v, t in cands if v == ver), cands[0][1])
        if typ == "OBJECT":
            src.append(f"char {name}[256];")
        else:
            src.append(f"void {name}(void) {{ __builtin_trap(); }}")
        if ver:
            versions.setdefault(ver, []).append(name)
    c = os.path.join(tmp, soname + ".c")
    with open(c, "w") as f:
        f.write("\n".join(src) + "\n")
    cmd = ["gcc", "-shared", "-fPIC", "-O0", "-o", os.path.join(outdir, soname), c,
           "-Wl,-soname," + soname, "-nostdlib"]
    if versions:
        vs = os.path.join(tmp, soname + ".map")
        with open(vs, "w") as f:
            for ver, names in versions.items():
                f.write(f"{ver} {{ global: {'; '.join(names)}; }};\n")
        cmd.append("-Wl,--version-script=" + vs)
    run(*cmd)


def main():
    out = sys.argv[1]
    fio = sys.argv[2] if len(sys.argv) > 2 else shutil.which("fio")
    libs, loader = ldd(fio)
    wanted = {(n, v) for n, v, _ in dynsyms(fio, True)}
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        keep = {}  # guest path -> host file
        for soname in needed(fio):
            real = libs[soname]
            if soname.startswith(STUBBED):
                os.makedirs(os.path.join(tmp, "stubs"), exist_ok=True)
                stub(soname, real, wanted, os.path.join(tmp, "stubs"), tmp)
                keep[real] = os.path.join(tmp, "stubs", soname)
        # The real dependencies of what is kept (not of the stubbed libraries).
        todo = [p for p in needed(fio) if not p.startswith(STUBBED)]
        seen = set()
        while todo:
            soname = todo.pop()
            if soname in seen or soname not in libs:
                continue
            seen.add(soname)
            keep[libs[soname]] = libs[soname]
            todo += needed(libs[soname])
        keep[loader] = loader
        keep["/usr/bin/fio"] = fio
        for dst, src in keep.items():
            path = root + dst
            os.makedirs(os.path.dirname(path), exist_ok=True)
            shutil.copy(os.path.realpath(src), path)
        names = []
        for d, dirs, files in os.walk(root):
            for n in dirs + files:
                names.append(os.path.relpath(os.path.join(d, n), root))
        data = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                              input=("\n".join(sorted(names)) + "\n").encode(),
                              capture_output=True, check=True).stdout
    with open(out, "wb") as f:
        f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
