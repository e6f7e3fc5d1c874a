#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz targets: tests/fuzz/corpus/<target>/<name>.

Each seed is a small valid input (a well-formed queue or request) or a classic
malformed one, in the input formats fuzz_virtq.c and fuzz_virtio_blk.c
document. Run it again after changing a format; the files are committed.
"""
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# virtq: struct fuzz_hdr (packed, little-endian) then the guest memory image.
F_INDIRECT, F_EVENT_IDX, F_RAW_SIZE, F_TWO_REGIONS, F_NO_START, F_PUSH_MANY = 1, 2, 4, 8, 16, 32
NEXT, WRITE, INDIRECT = 1, 2, 4
HIGH = 0x100000000


def vq_hdr(flags, size_log2, start=0, desc=0x0, avail=0x80, used=0xa0, raw=0, qmax=0,
           used_len=1):
    return struct.pack("<BBHHHIQQQ", flags, size_log2, raw, start, qmax, used_len,
                       desc, avail, used)


class Image:
    def __init__(self, size):
        self.b = bytearray(size)

    def put(self, off, data):
        self.b[off:off + len(data)] = data

    def desc(self, table, i, addr, length, flags=0, nxt=0):
        self.put(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def avail(self, avail, size, idx, heads, flags=0, used_event=0):
        self.put(avail, struct.pack("<HH", flags, idx))
        for k, h in enumerate(heads):
            self.put(avail + 4 + 2 * ((idx - len(heads) + k) % size), struct.pack("<H", h))
        self.put(avail + 4 + 2 * size, struct.pack("<H", used_event))

    def used(self, used, idx):
        self.put(used + 2, struct.pack("<H", idx))


def virtq_seeds():
    seeds = {}
    # Two chains: readable then writable, and a single writable descriptor.
    im = Image(0x200)
    im.desc(0, 0, 0x100, 16, NEXT, 1)
    im.desc(0, 1, 0x110, 0x80, NEXT | WRITE, 2)
    im.desc(0, 2, 0x190, 1, WRITE)
    im.desc(0, 5, 0x1a0, 0x20, WRITE)
    im.avail(0x80, 8, 2, [0, 5])
    seeds["chains"] = vq_hdr(0, 3) + bytes(im.b)

    # An indirect table (negotiated), chained out of order.
    im = Image(0x200)
    im.desc(0, 3, 0x100, 4 * 16, INDIRECT)
    im.desc(0x100, 0, 0x140, 16, NEXT, 2)
    im.desc(0x100, 2, 0x150, 0x40, NEXT, 1)
    im.desc(0x100, 1, 0x190, 0x40, NEXT | WRITE, 3)
    im.desc(0x100, 3, 0x1d0, 1, WRITE)
    im.avail(0x80, 8, 1, [3])
    seeds["indirect"] = vq_hdr(F_INDIRECT, 3) + bytes(im.b)
    # A table at an odd address: the spec sets no alignment for indirect tables.
    im2 = Image(0x200)
    im2.desc(0, 0, 0x103, 2 * 16, INDIRECT)
    im2.put(0x103, struct.pack("<QIHHQIHH", 0x150, 8, NEXT, 1, 0x160, 16, WRITE, 0))
    im2.avail(0x80, 8, 1, [0])
    seeds["indirect-misaligned"] = vq_hdr(F_INDIRECT, 3) + bytes(im2.b)
    # The same without the feature: malformed.
    seeds["indirect-not-negotiated"] = vq_hdr(0, 3) + bytes(im.b)

    # Event index, indices about to wrap: three chains from 65534.
    im = Image(0x200)
    for i in range(3):
        im.desc(0, i, 0x100 + 0x40 * i, 0x40, WRITE)
    im.avail(0x80, 4, (65534 + 3) & 0xffff, [0, 1, 2], used_event=65535)
    im.used(0xa0, 65534)
    seeds["event-idx-wrap"] = vq_hdr(F_EVENT_IDX, 2, start=65534) + bytes(im.b)
    # The same chains completed with one virtq_push_many().
    seeds["push-many-wrap"] = vq_hdr(F_EVENT_IDX | F_PUSH_MANY, 2, start=65534) + bytes(im.b)

    # Rings low, buffers and an indirect table above the "MMIO hole".
    im = Image(0x400)
    im.desc(0, 0, HIGH + 0x10, 0x20, NEXT, 1)
    im.desc(0, 1, HIGH + 0x100, 2 * 16, INDIRECT)
    im.put(0x200 + 0x100, struct.pack("<QIHHQIHH", 0x180, 8, NEXT, 1, HIGH + 0x140, 0x40,
                                      WRITE, 0))
    im.avail(0x80, 8, 1, [0])
    seeds["two-regions"] = vq_hdr(F_TWO_REGIONS | F_INDIRECT, 3) + bytes(im.b)

    # Malformed: a loop, a head out of range, an avail index far ahead.
    im = Image(0x100)
    im.desc(0, 0, 0xf0, 8, NEXT, 1)
    im.desc(0, 1, 0xf0, 8, NEXT, 0)
    im.avail(0x80, 8, 1, [0])
    seeds["loop"] = vq_hdr(0, 3) + bytes(im.b)
    im.avail(0x80, 8, 1, [8])
    seeds["bad-head"] = vq_hdr(0, 3) + bytes(im.b)
    im.avail(0x80, 8, 9, [0])
    seeds["idx-ahead"] = vq_hdr(0, 3) + bytes(im.b)
    # Found by fuzz_virtq: used->flags laid over avail->idx. Without event
    # index, disable/enable_notify rewrite the avail index (1, 0, 1, ...) so
    # that the serving loop is told of new chains for ever and finds none.
    im = Image(0x180)
    im.desc(0, 0, 0x140, 1)
    seeds["regress-used-flags-over-avail-idx"] = (vq_hdr(0, 3, avail=0x102, used=0x104) +
                                                  bytes(im.b))
    # Setup failures: size not a power of two, misaligned table.
    seeds["bad-size"] = vq_hdr(F_RAW_SIZE, 0, raw=6) + bytes(0x100)
    seeds["misaligned"] = vq_hdr(0, 3, desc=8) + bytes(0x100)
    return seeds


# virtio-blk: struct fuzz_hdr, then one u16 length per segment, then the bytes
# of the readable segments (header first).
BLK_RO, BLK_UNSAFE, BLK_ID = 1, 2, 4
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13


def blk(flags, cap, out_lens, in_lens, payload, tail=0):
    lens = out_lens + in_lens
    return (struct.pack("<BBHHH", flags, cap, len(lens), len(out_lens), tail) +
            b"".join(struct.pack("<H", n) for n in lens) + payload)


def req(t, sector):
    return struct.pack("<IIQ", t, 0, sector)


def dwz(sector, num, flags=0):
    return struct.pack("<QII", sector, num, flags)


def blk_seeds():
    data = bytes(range(256)) * 2
    return {
        "out": blk(0, 8, [16, 512], [1], req(T_OUT, 1) + data),
        "out-one-segment": blk(0, 8, [16 + 1024], [1], req(T_OUT, 6) + data * 2),
        "in": blk(0, 8, [16], [512, 1], req(T_IN, 7)),
        "in-many-segments": blk(0, 16, [16], [64] * 16 + [1], req(T_IN, 2)),
        "in-status-shared": blk(0, 8, [8, 8], [513], req(T_IN, 0)),
        "in-past-end": blk(0, 8, [16], [1024, 1], req(T_IN, 7)),
        "flush": blk(BLK_UNSAFE, 8, [16], [1], req(T_FLUSH, 0)),
        "get-id": blk(BLK_ID, 8, [16], [20, 1], req(T_GET_ID, 0)),
        "discard": blk(0, 64, [16, 32], [1], req(T_DISCARD, 0) + dwz(8, 8) + dwz(32, 16)),
        "write-zeroes-unmap": blk(0, 64, [16, 16], [1],
                                  req(T_WRITE_ZEROES, 0) + dwz(0, 8, 1)),
        "read-only-out": blk(BLK_RO, 8, [16, 512], [1], req(T_OUT, 0) + data, tail=100),
        "unknown-type": blk(0, 8, [16], [1], req(99, 0)),
        "short-header": blk(0, 8, [10], [1], req(T_IN, 0)[:10]),
    }


def main():
    for target, seeds in (("virtq", virtq_seeds()), ("virtio_blk", blk_seeds())):
        d = HERE / "corpus" / target
        d.mkdir(parents=True, exist_ok=True)
        for name, blob in seeds.items():
            (d / name).write_bytes(blob)
    return 0


if __name__ == "__main__":
    sys.exit(main())
