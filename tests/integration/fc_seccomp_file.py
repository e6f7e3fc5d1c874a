"""Firecracker's --seccomp-filter files, written here for the tests.

Firecracker's seccompiler writes a HashMap<String, Vec<u64>> (one classic BPF
program per thread category, each instruction a struct sock_filter in a
little-endian u64) with the Rust crate bitcode 0.6 (bitcode::serialize).
encode() writes the same bytes as that crate for a map given in order: its
columns (the map's length, key lengths, key bytes, list lengths, every u64)
packed as the crate packs them. test_seccomp_file.py checks it against files
the crate wrote (tests/unit/data/bitcode/).
"""

import struct

# pack.rs: states a byte may take, in the crate's order.
_BYTE_STATES = [256, 16, 6, 4, 3, 2]
_PER_BYTE = {16: 2, 6: 3, 4: 4, 3: 5, 2: 8}


def _byte_packing(mx):
    if mx <= 1:
        return 5
    if mx == 2:
        return 4
    if mx == 3:
        return 3
    if mx <= 5:
        return 2
    if mx <= 15:
        return 1
    return 0


def _arith(vals, factor):
    per = _PER_BYTE[factor]
    out = bytearray()
    for i in range(0, len(vals), per):
        acc = 0
        for j, v in enumerate(vals[i:i + per]):
            acc += v * factor ** j
        out.append(acc)
    return bytes(out)


def pack_bytes(vals):
    vals = list(vals)
    if len(vals) <= 2:
        return bytes(vals)
    sample = vals[:32]
    if _byte_packing(max(sample) - min(sample)) == 0:
        return b"\x00" + bytes(vals)
    lo, hi = min(vals), max(vals)
    basic = _byte_packing(hi)
    off = _byte_packing(hi - lo)
    if off > basic and len(vals) > 5:
        head = bytes([off * 2 - 1, lo])
        vals = [v - lo for v in vals]
        p = off
    else:
        head = bytes([basic * 2])
        p = basic
    if p == 0:
        return head + bytes(vals)
    return head + _arith(vals, _BYTE_STATES[p])


def _int_packing(mx):
    # pack_ints.rs: 1 = 64 bits, 2 = 32, 3 = 16, 4 = 8.
    if mx <= 0xFF:
        return 4
    if mx <= 0xFFFF:
        return 3
    if mx <= 0xFFFFFFFF:
        return 2
    return 1


def pack_u64s(vals):
    vals = list(vals)
    if not vals:
        return b""
    sample = vals[:16]
    if _int_packing(max(sample) - min(sample)) == 1:
        return b"\x00" + b"".join(struct.pack("<Q", v) for v in vals)
    lo, hi = min(vals), max(vals)
    basic = _int_packing(hi)
    off = _int_packing(hi - lo)
    if off > basic and len(vals) > 5:
        head = bytes([(off - 1) * 2 - 1]) + struct.pack("<Q", lo)
        vals = [v - lo for v in vals]
        p = off
    else:
        head = bytes([(basic - 1) * 2])
        p = basic
    if p == 4:
        return head + pack_bytes(vals)
    fmt = {1: "<Q", 2: "<I", 3: "<H"}[p]
    return head + b"".join(struct.pack(fmt, v) for v in vals)


def pack_lengths(lens):
    small = [n if n < 255 else 255 for n in lens]
    return pack_bytes(small) + pack_u64s([n for n in lens if n >= 255])


def encode(entries):
    """entries: [(key, [u64, ...]), ...] in the order to write them."""
    entries = list(entries)
    out = pack_lengths([len(entries)])
    if not entries:
        return out
    keys = [k.encode() if isinstance(k, str) else bytes(k) for k, _ in entries]
    out += pack_lengths([len(k) for k in keys]) + b"".join(keys)
    out += pack_lengths([len(v) for _, v in entries])
    return out + pack_u64s([x for _, v in entries for x in v])


# Classic BPF for seccomp (linux/filter.h, linux/seccomp.h).
RET_KILL_PROCESS = 0x80000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
AUDIT_ARCH_X86_64 = 0xC000003E


def insn(code, jt, jf, k):
    return code | jt << 16 | jf << 24 | k << 32


def program(deny, action):
    """Allows every system call but those in deny, which get action; a
    system call of another architecture is killed."""
    p = [
        insn(0x20, 0, 0, 4),  # ld [arch]
        insn(0x15, 1, 0, AUDIT_ARCH_X86_64),  # jeq x86_64, +1
        insn(0x06, 0, 0, RET_KILL_PROCESS),
        insn(0x20, 0, 0, 0),  # ld [nr]
    ]
    for nr in deny:
        p += [insn(0x15, 0, 1, nr), insn(0x06, 0, 0, action)]
    return p + [insn(0x06, 0, 0, RET_ALLOW)]


def filter_file(vmm=(), api=(), vcpu=(), action=RET_TRAP, extra=()):
    """A file with a program for each category denying those calls."""
    entries = [("vmm", program(vmm, action)), ("api", program(api, action)),
               ("vcpu", program(vcpu, action))]
    return encode(entries + list(extra))
