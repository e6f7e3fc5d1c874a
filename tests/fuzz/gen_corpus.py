#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz targets: tests/fuzz/corpus/<target>/<name>.

Each seed is a small valid input (a well-formed queue, request, packet or
frame) or a classic malformed one, in the input formats the fuzz_*.c targets
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


# Shared by the device targets: a queue as struct fuzz_queue (fuzz_mem.h).
def fq(size_log2, desc, avail, used):
    return struct.pack("<BQQQ", size_log2, desc, avail, used)


QUEUE_OFF = 0x80  # fuzz_queue.size_log2 bit: leave the queue off


class Ring:
    """A split ring in an Image: desc table at base, avail at +0x100 (+0x400
    for bigger rings), used right after; chains added in order."""

    def __init__(self, im, base, size=8):
        self.im, self.size, self.next_desc, self.heads = im, size, 0, []
        self.desc_at, self.avail_at = base, base + 16 * size
        self.used_at = (self.avail_at + 6 + 2 * size + 3) & ~3

    def chain(self, segs, indirect_at=None):
        """segs: (addr, len, writable) in order; with indirect_at, the chain
        is an indirect table there, behind one descriptor."""
        if indirect_at is not None:
            for i, (a, n, w) in enumerate(segs):
                self.im.desc(indirect_at, i, a, n, (NEXT if i + 1 < len(segs) else 0) |
                             (WRITE if w else 0), i + 1)
            head = self.next_desc
            self.im.desc(self.desc_at, head, indirect_at, 16 * len(segs), INDIRECT)
            self.next_desc += 1
        else:
            head = self.next_desc
            for i, (a, n, w) in enumerate(segs):
                d = self.next_desc
                self.im.desc(self.desc_at, d, a, n, (NEXT if i + 1 < len(segs) else 0) |
                             (WRITE if w else 0), d + 1)
                self.next_desc += 1
        self.heads.append(head)
        self.im.avail(self.avail_at, self.size, len(self.heads), self.heads)
        return head

    def log2(self):
        return self.size.bit_length() - 1

    def q(self):
        return fq(self.log2(), self.desc_at, self.avail_at, self.used_at)


# virtio-net: struct fuzz_hdr, the frames (u16 length, bytes), the image.
N_INDIRECT, N_EVENT_IDX, N_TWO, N_TAP_FULL, N_TX_FIRST, N_NO_RX, N_NO_TX = 1, 2, 4, 8, 16, 32, 64
NF_CSUM, NF_GUEST_CSUM, NF_GUEST_TSO4, NF_GUEST_TSO6, NF_GUEST_ECN = 1, 2, 1 << 7, 1 << 8, 1 << 9
NF_HOST_TSO4, NF_HOST_TSO6, NF_HOST_ECN, NF_MRG = 1 << 11, 1 << 12, 1 << 13, 1 << 15
NF_ALL = (NF_CSUM | NF_GUEST_CSUM | NF_GUEST_TSO4 | NF_GUEST_TSO6 | NF_GUEST_ECN |
          NF_HOST_TSO4 | NF_HOST_TSO6 | NF_HOST_ECN | NF_MRG)
GSO_TCPV4, NEEDS_CSUM = 1, 1


def vnet(flags=0, gso=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0, nbuf=0):
    return struct.pack("<BBHHHHH", flags, gso, hdr_len, gso_size, csum_start, csum_offset,
                       nbuf)


def eth(n):
    return bytes.fromhex("525400123456525400abcdef0800") + bytes((i * 7) & 0xff
                                                                    for i in range(n - 14))


def net(flags, features, rx, tx, frames, im):
    blob = b"".join(struct.pack("<H", len(f)) + f for f in frames)
    return (struct.pack("<BBBBIH", flags, rx.log2(), tx.log2(), 0, features, len(blob)) +
            struct.pack("<QQQQQQ", rx.desc_at, rx.avail_at, rx.used_at, tx.desc_at,
                        tx.avail_at, tx.used_at) + blob + bytes(im.b))


def net_seeds():
    seeds = {}

    def rings(size=0x3000):
        im = Image(size)
        return im, Ring(im, 0x0), Ring(im, 0x200)

    # Transmit: a header then a frame; split headers; a GSO frame.
    im, rx, tx = rings()
    im.put(0x1000, vnet())
    im.put(0x1010, eth(60))
    tx.chain([(0x1000, 12, 0), (0x1010, 60, 0)])
    im.put(0x1100, vnet()[:5])
    im.put(0x1110, vnet()[5:])
    im.put(0x1120, eth(100))
    tx.chain([(0x1100, 5, 0), (0x1110, 7, 0), (0x1120, 40, 0), (0x1148, 60, 0)])
    im.put(0x1200, vnet(NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16) + eth(1514))
    tx.chain([(0x1200, 12 + 1514, 0)])
    seeds["tx-frames"] = net(0, NF_ALL, rx, tx, [], im)
    seeds["tx-frames-no-offloads"] = net(0, 0, rx, tx, [], im)
    seeds["tx-full-tap"] = net(N_TAP_FULL, NF_ALL, rx, tx, [], im)

    im, rx, tx = rings()
    for i in range(7):
        a = 0x1000 + 0x100 * i
        im.put(a, vnet() + eth(64))
        tx.chain([(a, 12 + 64, 0)], indirect_at=0x2000 + 0x40 * i if i % 2 else None)
    seeds["tx-many-indirect"] = net(N_INDIRECT | N_TAP_FULL, NF_ALL, rx, tx, [], im)
    # Malformed transmit chains: writable parts, a short header, a runt.
    im, rx, tx = rings()
    im.put(0x1000, vnet() + eth(60))
    tx.chain([(0x1000, 12 + 60, 0), (0x1100, 16, 1)])
    tx.chain([(0x1000, 8, 0)])
    tx.chain([(0x1000, 12 + 10, 0)])
    im.put(0x1200, vnet(2, 0x80, 0, 0, 0, 0) + eth(60))
    tx.chain([(0x1200, 12 + 60, 0)])
    seeds["tx-malformed"] = net(0, NF_ALL, rx, tx, [], im)

    # Receive: mergeable buffers, one frame spread over three, then another.
    im, rx, tx = rings()
    for i in range(6):
        rx.chain([(0x1000 + 0x100 * i, 0x100, 1)])
    frames = [vnet() + eth(600), vnet() + eth(60)]
    seeds["rx-mergeable"] = net(0, NF_MRG, rx, tx, frames, im)
    seeds["rx-mergeable-event-idx"] = net(N_EVENT_IDX | N_TX_FIRST, NF_ALL, rx, tx, frames, im)
    # Without mergeable buffers: a frame too large for the buffer is dropped.
    seeds["rx-small-buffers"] = net(0, 0, rx, tx, frames, im)
    # The queue runs dry mid-frame: the frame is held.
    im, rx, tx = rings()
    rx.chain([(0x1000, 64, 1)])
    seeds["rx-dry"] = net(0, NF_MRG, rx, tx, [vnet() + eth(500)], im)
    # num_buffers split over two descriptors; a buffer in two pieces.
    im, rx, tx = rings()
    rx.chain([(0x1000, 11, 1), (0x1010, 0x200, 1)])
    rx.chain([(0x1400, 0x40, 1), (0x1500, 0x400, 1)], indirect_at=0x2000)
    seeds["rx-split-header"] = net(N_INDIRECT, NF_MRG, rx, tx,
                                   [vnet() + eth(700), vnet() + eth(100)], im)
    # Offloads: a GSO frame with a partial checksum, accepted or not.
    im, rx, tx = rings()
    rx.chain([(0x1000, 0x1000, 1)])
    rx.chain([(0x2000, 0x800, 1)])
    gso = vnet(NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16) + eth(2000)
    seeds["rx-gso"] = net(0, NF_ALL, rx, tx, [gso, vnet(NEEDS_CSUM) + eth(80)], im)
    seeds["rx-gso-refused"] = net(0, NF_MRG, rx, tx, [gso, vnet(NEEDS_CSUM) + eth(80)], im)
    # Malformed receive buffers: device-readable, shorter than a header.
    im, rx, tx = rings()
    rx.chain([(0x1000, 0x100, 0), (0x1100, 0x100, 1)])
    rx.chain([(0x1200, 8, 1)])
    seeds["rx-malformed"] = net(0, NF_MRG, rx, tx, [vnet() + eth(60)], im)
    seeds["rx-runt-frames"] = net(0, NF_MRG, rx, tx, [b"\0" * 20, b"", vnet(0, 7) + eth(60)], im)
    # Both directions, the rings low, the buffers in the second RAM region.
    lo, hi = Image(0x2000), Image(0x2000)
    rx, tx = Ring(lo, 0x0), Ring(lo, 0x200)
    rx.chain([(HIGH + 0x100, 0x400, 1)])
    tx.chain([(HIGH + 0x800, 12 + 60, 0)])
    hi.put(0x800, vnet() + eth(60))
    both = Image(0)
    both.b = lo.b + hi.b
    seeds["two-regions"] = net(N_TWO, NF_MRG, rx, tx, [vnet() + eth(200)], both)
    return seeds


# virtio-vsock: struct fuzz_hdr (flags, nsteps, 24 steps, 3 queues), the image.
V_INDIRECT, V_EVENT_IDX, V_TWO = 1, 2, 4
KICK_TX, KICK_RX, PUMP, ACCEPT, HOST_SEND, HOST_CLOSE, CLIENT, HOST_READ = range(8)
OP_REQUEST, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE, OP_CREDIT_REQUEST = \
    range(1, 8)
LOCAL_PORT = 1 << 30


def vs_steps(*steps):
    return [s if isinstance(s, int) else s[0] | s[1] << 3 for s in steps]


def vpkt(op, src_port=5000, dst_port=1024, length=0, flags=0, buf_alloc=65536, fwd_cnt=0,
         src_cid=3, dst_cid=2, typ=1):
    return struct.pack("<QQIIIHHIII", src_cid, dst_cid, src_port, dst_port, length, typ, op,
                       flags, buf_alloc, fwd_cnt)


def vsock(flags, steps, rx, tx, im, hold=0, ev_off=True):
    steps = vs_steps(*steps)
    assert len(steps) <= 24
    ev = fq(QUEUE_OFF | 3, 0, 0, 0) if ev_off else fq(3, 0xc00, 0xc80, 0xca0)
    return (struct.pack("<BBB", flags, hold, len(steps)) + bytes(steps) + bytes(24 - len(steps)) +
            rx.q() + tx.q() + ev + bytes(im.b))


def vsock_seeds():
    seeds = {}

    def rings(nrx=6, rx_len=44 + 1024, size=8):
        im = Image(0x8000)
        rx, tx = Ring(im, 0x0, size), Ring(im, 0x400, size)
        for i in range(nrx):
            rx.chain([(0x1000 + 0x500 * i, rx_len, 1)])
        return im, rx, tx

    def send(im, tx, at, pkt, payload=b"", split=False, indirect_at=None):
        im.put(at, pkt)
        im.put(at + 0x40, payload)
        if split:
            segs = [(at, 20, 0), (at + 20, 24, 0)]
        else:
            segs = [(at, 44, 0)]
        if payload:
            segs.append((at + 0x40, len(payload), 0))
        tx.chain(segs, indirect_at=indirect_at)

    data = bytes(range(256)) * 2
    # The guest connects to a host service, sends, is answered, shuts down.
    im, rx, tx = rings()
    send(im, tx, 0x4000, vpkt(OP_REQUEST))
    send(im, tx, 0x4100, vpkt(OP_RW, length=300), data[:300])
    send(im, tx, 0x4400, vpkt(OP_CREDIT_REQUEST))
    steps = [KICK_TX, ACCEPT, HOST_READ, (HOST_SEND, 2), (PUMP, 2), KICK_RX, (PUMP, 1),
             (HOST_CLOSE, 1), (PUMP, 1), KICK_RX, HOST_READ]
    seeds["guest-connects"] = vsock(0, steps, rx, tx, im)
    seeds["guest-connects-event-idx"] = vsock(V_EVENT_IDX, steps, rx, tx, im)
    send(im, tx, 0x4500, vpkt(OP_SHUTDOWN, flags=3))
    send(im, tx, 0x4600, vpkt(OP_RST))
    seeds["guest-connects-and-closes"] = vsock(0, steps + [KICK_TX, PUMP], rx, tx, im)
    # Split headers, indirect tables, data straight after the header.
    im, rx, tx = rings()
    send(im, tx, 0x4000, vpkt(OP_REQUEST, dst_port=1025), split=True)
    send(im, tx, 0x4100, vpkt(OP_RW, dst_port=1025, length=256), data[:256], split=True,
         indirect_at=0x6000)
    send(im, tx, 0x4400, vpkt(OP_CREDIT_UPDATE, dst_port=1025, buf_alloc=1 << 20, fwd_cnt=0),
         indirect_at=0x6100)
    seeds["split-and-indirect"] = vsock(V_INDIRECT, [KICK_TX, ACCEPT, (HOST_SEND, 7),
                                                     HOST_READ, (PUMP, 3), KICK_RX,
                                                     (HOST_CLOSE, 0), (PUMP, 3), KICK_RX], rx,
                                        tx, im)
    # Little credit from the guest: the host has more to send than it may.
    im, rx, tx = rings(nrx=8, rx_len=44 + 512)
    send(im, tx, 0x5000, vpkt(OP_REQUEST, dst_port=1026, buf_alloc=700))
    send(im, tx, 0x5100, vpkt(OP_CREDIT_UPDATE, dst_port=1026, buf_alloc=700, fwd_cnt=512))
    seeds["little-credit"] = vsock(0, [KICK_TX, ACCEPT, (HOST_SEND, 4 << 2 | 0), (PUMP, 1),
                                       KICK_RX, (PUMP, 2), KICK_RX, KICK_TX, (PUMP, 2),
                                       KICK_RX], rx, tx, im)
    # A host client connects; the guest answers the REQUEST, then sends.
    im, rx, tx = rings()
    send(im, tx, 0x4000, vpkt(OP_RESPONSE, src_port=1024, dst_port=LOCAL_PORT))
    send(im, tx, 0x4100, vpkt(OP_RW, src_port=1024, dst_port=LOCAL_PORT, length=64),
         data[:64])
    # The guest's answers are held until the host client's REQUEST reached it.
    seeds["host-connects"] = vsock(0, [(CLIENT, 0), (PUMP, 2), KICK_RX, KICK_TX, (PUMP, 1),
                                       HOST_READ, (HOST_SEND, 0), (PUMP, 1), KICK_RX,
                                       (HOST_CLOSE, 0), (PUMP, 2), KICK_RX], rx, tx, im,
                                   hold=2)
    seeds["host-connects-oddly"] = vsock(0, [(CLIENT, 4 | 16), (CLIENT, 8), (CLIENT, 1),
                                             (PUMP, 3), KICK_RX, KICK_TX, (PUMP, 1),
                                             HOST_READ], rx, tx, im, hold=3)
    # Packets to answer with an RST, or to drop: wrong CIDs, bad lengths and ops.
    im, rx, tx = rings(size=16)
    bad = [vpkt(OP_REQUEST, src_cid=4), vpkt(OP_REQUEST, dst_cid=3), vpkt(OP_REQUEST, typ=2),
           vpkt(9), vpkt(OP_RW, length=70000), vpkt(OP_RW, length=100),
           vpkt(OP_SHUTDOWN, flags=4), vpkt(OP_CREDIT_REQUEST, src_port=7),
           vpkt(OP_RESPONSE, src_port=8), vpkt(OP_REQUEST, dst_port=9999)]
    for i, p in enumerate(bad):
        send(im, tx, 0x4000 + 0x80 * i, p)
    tx.chain([(0x4800, 10, 0)])
    seeds["bad-packets"] = vsock(0, [KICK_TX, KICK_RX, (PUMP, 2), KICK_RX], rx, tx, im)
    # Receive buffers with room for a header only; one too short (a driver bug).
    im, rx, tx = rings(nrx=4, rx_len=44)
    send(im, tx, 0x4000, vpkt(OP_REQUEST))
    seeds["rx-header-only"] = vsock(0, [KICK_TX, ACCEPT, (HOST_SEND, 1), (PUMP, 1), KICK_RX],
                                    rx, tx, im)
    rx.chain([(0x7000, 20, 1)])
    seeds["rx-too-short"] = vsock(0, [KICK_TX, KICK_RX, (PUMP, 1)] * 2, rx, tx, im)
    return seeds


# virtio-balloon: struct fuzz_hdr (flags, nsteps, 16 steps, value, 5 queues), image.
B_INDIRECT, B_EVENT_IDX, B_TWO, B_STATS, B_EARLY, B_NO_FEATURES, B_FREE = 1, 2, 4, 8, 16, 32, 64
INFLATE, DEFLATE, KICK, TIMER, CONFIG, TARGET, DRIVER_OK, BPUMP = range(8)
STATS = KICK  # (KICK, 0): statistics, (KICK, 1): hints, (KICK, 2): reports
HINT_START_ACK, HINT_START, HINT_STOP = (TIMER, 1), (TIMER, 2), (TIMER, 3)


def balloon(flags, steps, value, qs, im):
    steps = vs_steps(*steps)
    assert len(steps) <= 16
    qs = qs + [fq(QUEUE_OFF, 0, 0, 0)] * (5 - len(qs))
    return (struct.pack("<BB", flags, len(steps)) + bytes(steps) + bytes(16 - len(steps)) +
            struct.pack("<I", value) + b"".join(qs) + bytes(im.b))


def pfns(*p):
    return struct.pack("<%dI" % len(p), *p)


def stat(tag, val):
    return struct.pack("<HQ", tag, val)


def balloon_seeds():
    seeds = {}

    def rings(pages=12):
        im = Image(pages * 4096)
        return im, Ring(im, 0x0), Ring(im, 0x400), Ring(im, 0x800)

    # Inflate pages (neighbours, one out of RAM, the last PFN), deflate some.
    im, inf, dfl, st = rings()
    im.put(0x1000, pfns(4, 5, 6, 8, 0x100000, 0xffffffff, 11))
    inf.chain([(0x1000, 28, 0)])
    im.put(0x1100, pfns(4, 5))
    dfl.chain([(0x1100, 8, 0)])
    qs = [inf.q(), dfl.q(), fq(QUEUE_OFF, 0, 0, 0)]
    seeds["inflate-deflate"] = balloon(0, [INFLATE, DEFLATE, (CONFIG, 1 << 2 | 2)], 7, qs, im)
    seeds["inflate-deflate-event-idx"] = balloon(B_EVENT_IDX, [INFLATE, DEFLATE, INFLATE], 0,
                                                 qs, im)
    # A PFN array split mid-PFN over descriptors, in an indirect table; the rings' own page.
    im, inf, dfl, st = rings()
    im.put(0x1000, pfns(9, 10, 0, 3))
    inf.chain([(0x1000, 6, 0), (0x1006, 9, 0), (0x100f, 1, 0)], indirect_at=0x1200)
    inf.chain([(0x1000, 3, 0)])
    seeds["inflate-split"] = balloon(B_INDIRECT, [INFLATE, DEFLATE],
                                     0, [inf.q(), dfl.q(), fq(QUEUE_OFF, 0, 0, 0)], im)
    # Statistics: primed before DRIVER_OK, handed back by the timer, refilled.
    im, inf, dfl, st = rings()
    im.put(0x2000, stat(4, 111 << 20) + stat(5, 120 << 20) + stat(77, 1) + b"\xff")
    st.chain([(0x2000, 31, 0)])
    im.put(0x2100, stat(0, 5) + stat(9, 9))
    st.chain([(0x2100, 13, 0), (0x210d, 7, 0)])
    qs = [inf.q(), dfl.q(), st.q()]
    seeds["stats"] = balloon(B_STATS | B_EARLY, [STATS, DRIVER_OK, TIMER, STATS, TIMER, BPUMP],
                             0, qs, im)
    seeds["stats-late"] = balloon(B_STATS, [STATS, TIMER, (TARGET, 0), STATS], 12, qs, im)
    seeds["stats-not-negotiated"] = balloon(B_STATS | B_NO_FEATURES, [STATS, TIMER], 0, qs, im)
    # Config space writes of every width, new targets (one too large).
    im, inf, dfl, st = rings(2)
    qs = [inf.q(), dfl.q(), st.q()]
    seeds["config-and-target"] = balloon(0, [(CONFIG, 0), (CONFIG, 1 | 4 << 2),
                                             (CONFIG, 2 | 6 << 2), (TARGET, 0), (TARGET, 1),
                                             (CONFIG, 1 | 5 << 2)], 0x12345678, qs, im)
    # A PFN in the second RAM region.
    lo, inf, dfl, st = rings(4)
    lo.put(0x1000, pfns(HIGH >> 12, (HIGH >> 12) + 1, 1))
    inf.chain([(0x1000, 12, 0)])
    hi = Image(4 * 4096)
    im2 = Image(0)
    im2.b = lo.b + hi.b
    seeds["two-regions"] = balloon(B_TWO, [INFLATE], 0, [inf.q(), dfl.q(),
                                                         fq(QUEUE_OFF, 0, 0, 0)], im2)
    # Free page reporting: a chain of ranges (one misaligned), one outside RAM.
    im = Image(16 * 4096)
    inf, dfl, st, hint, rep = (Ring(im, a) for a in (0x0, 0x400, 0x800, 0xc00, 0x1000))
    rep.chain([(0x4000, 0x2000, 1), (0x7800, 0x1000, 1)])
    rep.chain([(0x10000, 0x1000, 1)])
    qs = [inf.q(), dfl.q(), st.q(), hint.q(), rep.q()]
    seeds["free-page-report"] = balloon(B_FREE, [(KICK, 2), BPUMP], 0, qs, im)
    # Free page hinting: a run started, the guest's id and a range, its STOP
    # (acknowledged), a stale range after the host's stop; config writes on the id.
    im = Image(16 * 4096)
    inf, dfl, st, hint, rep = (Ring(im, a) for a in (0x0, 0x400, 0x800, 0xc00, 0x1000))
    im.put(0x3000, struct.pack("<III", 2, 0, 3))
    hint.chain([(0x3000, 4, 0), (0x4000, 0x4000, 1)])
    hint.chain([(0x3004, 4, 0)])
    hint.chain([(0x3008, 4, 0), (0x8000, 0x1000, 1)])
    qs = [inf.q(), dfl.q(), st.q(), hint.q(), rep.q()]
    seeds["free-page-hint"] = balloon(B_FREE, [HINT_START_ACK, (KICK, 1), HINT_START, HINT_STOP,
                                               (KICK, 1), (CONFIG, 2 | 2 << 2)],
                                      0x08000000, qs, im)
    seeds["free-page-hint-early"] = balloon(B_FREE | B_EARLY, [HINT_START, (KICK, 1), DRIVER_OK,
                                                               HINT_START_ACK, (KICK, 1)],
                                            0, qs, im)
    # Malformed: a writable PFN buffer, a buffer outside RAM.
    im, inf, dfl, st = rings()
    inf.chain([(0x1000, 8, 1)])
    inf.chain([(0x100000, 8, 0)])
    seeds["malformed"] = balloon(0, [INFLATE, DEFLATE], 0, [inf.q(), dfl.q(),
                                                           fq(QUEUE_OFF, 0, 0, 0)], im)
    return seeds


# snap: a mode byte, then a whole state file (bit 0 clear) or a body that the
# target puts a valid header on (bit 0 set); see fuzz_snap.c.
SNAP_VERSION = 1


def snap_rec(name, data):
    n = name.encode()
    return struct.pack("<HHI", len(n), 0, len(data)) + n + data


def snap_file(body, version=SNAP_VERSION, magic=b"VOLTSNAP", body_len=None):
    import hashlib
    if body_len is None:
        body_len = len(body)
    hdr = magic + struct.pack("<IIQ", version, 64, body_len) + hashlib.sha256(body).digest()
    return hdr + b"\0" * (64 - len(hdr)) + body


def snap_seeds():
    msr = lambda i, v: struct.pack("<IIQ", i, 0, v)
    cpuid = struct.pack("<IIIIIIIIII", 0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69, 0, 0, 0)
    body = b"".join([
        snap_rec("vm/cpu", b"GenuineIntel" + struct.pack("<III", 6, 0x55, 4)),
        snap_rec("vm/ncpus", struct.pack("<Q", 1)),
        snap_rec("vm/irqchip/pic0", bytes(520)),
        snap_rec("vm/pit", bytes(112)),
        snap_rec("vm/clock", bytes(48)),
        snap_rec("vcpu0/cpuid", cpuid * 2),
        snap_rec("vcpu0/tsc_khz", struct.pack("<Q", 2000000)),
        snap_rec("vcpu0/sregs2", bytes(336)),
        snap_rec("vcpu0/regs", bytes(144)),
        snap_rec("vcpu0/msrs", msr(0x10, 5) + msr(0x2ff, 0xc06) + msr(0x6e0, 0)),
        snap_rec("dev/serial", b"uart"),
    ])
    seeds = {
        "file": b"\0" + snap_file(body),
        "body": b"\1" + body,
        "empty-body": b"\1",
        "other-version": b"\0" + snap_file(body, version=2),
        "bad-magic": b"\0" + snap_file(body, magic=b"VOLTSNAQ"),
        "truncated": b"\0" + snap_file(body)[:-7],
        "long-length": b"\1" + struct.pack("<HHI", 4, 0, 0xffffffff) + b"vm/x",
        "duplicate": b"\1" + snap_rec("a", b"1") + snap_rec("a", b"2"),
        "bad-name": b"\1" + snap_rec("a b", b"1"),
        "msrs-odd": b"\1" + snap_rec("vcpu0/cpuid", cpuid) + snap_rec("vcpu0/msrs", bytes(17)),
    }
    return seeds


def http_seeds():
    """fuzz_http_parse: body limit / 8, piece size, then what a client sends."""
    h = b"Host: localhost\r\n"
    reqs = {
        "get": b"GET / HTTP/1.1\r\n" + h + b"\r\n",
        "get-1.0": b"GET /machine-config HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "put": b"PUT /machine-config HTTP/1.1\r\n" + h + b"Content-Type: application/json\r\n"
               b"Content-Length: 38\r\n\r\n{\"vcpu_count\": 1, \"mem_size_mib\": 128}",
        "chunked": b"PUT /drives/a%2d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n",
        "expect": b"PATCH /vm HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 20\r\n\r\n"
                  b"{\"state\": \"Paused\"}",
        "pipelined": b"GET /a?q HTTP/1.1\r\n\r\nPUT /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
                     b"GET /c HTTP/1.1\r\nConnection: close\r\n\r\n",
        "too-big": b"PUT /x HTTP/1.1\r\nContent-Length: 100000\r\n\r\nxx",
        "bad-length": b"PUT /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        "lf-only": b"\r\nGET / HTTP/1.1\nA: b\n\n",
        "garbage": b"\x00\x01 HTTP/2.0\r\n X: y\r\n\r\n",
    }
    seeds = {}
    for name, r in reqs.items():
        seeds[name] = b"\x20\x00" + r
        seeds[name + "-bytes"] = b"\x02\x01" + r
    return seeds


# mmds_stack: records of op byte, u16 length, Ethernet frame (fuzz_mmds_stack.c).
M_PARTIAL, M_ADDR, M_IPCS, M_TCPCS, M_ACK, M_TIMER, M_SHORT, M_ARP = (1 << i for i in range(8))
M_IP = M_ADDR | M_IPCS | M_TCPCS


def mmds_http_seeds():
    """fuzz_mmds_http: a mode byte (bit 0 V2, bit 1 imds_compat, bit 2 final), then the
    guest's stream; "@T" stands for a valid session token."""
    return {
        "v1-get": b"\0GET /latest/meta-data/ HTTP/1.1\r\nAccept: application/json\r\n\r\n",
        "v2-token-get": b"\1PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60"
                        b"\r\n\r\nGET /latest HTTP/1.0\r\nX-metadata-token: @T\r\n\r\n",
        "v2-no-token": b"\1GET / HTTP/1.1\r\n\r\n",
        "imds-compat": b"\3GET /latest/meta-data/n/3 HTTP/1.1\r\nX-aws-ec2-metadata-token: @T"
                       b"\r\nAccept: application/json\r\n\r\n",
        "forwarded": b"\0PUT /latest/api/token HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
        "body": b"\4PUT / HTTP/1.1\r\nContent-Length: 9\r\n\r\nsome body",
        "bad-headers": b"\0GET / HTTP/1.1\r\nAccept-Encoding: *;q=0\r\nNoColon\r\n\r\n",
        "bad-line": b"\4PATCH http:// HTTP/2.0\n\n",
    }


def m_rec(op, frame):
    return struct.pack("<BH", op, len(frame)) + frame


def m_tcp(seq, flags, data=b"", opts=b"", sport=40000, dport=80, ack=0, wnd=65535):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, (20 + len(opts)) // 4 << 4, flags,
                      wnd, 0, 0) + opts + data
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                     bytes([169, 254, 1, 2]), bytes([169, 254, 169, 254]))
    return bytes.fromhex("060123456701020000000001") + b"\x08\x00" + ip + tcp


def m_arp():
    return (bytes.fromhex("ffffffffffff020000000001") + b"\x08\x06" +
            struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + bytes.fromhex("020000000001") +
            bytes([169, 254, 1, 2]) + bytes(6) + bytes([169, 254, 169, 254]))


def mmds_seeds():
    syn = m_rec(M_IP, m_tcp(1, 0x02, opts=b"\x02\x04\x05\xb4"))
    ack = m_rec(M_IP | M_ACK, m_tcp(2, 0x10))
    get = b"GET /latest HTTP/1.1\r\n\r\n"
    req = m_rec(M_IP | M_ACK, m_tcp(2, 0x18, get))
    big = m_rec(M_IP | M_ACK, m_tcp(2, 0x18, b"\xff" + get[1:]))
    return {
        "arp": m_rec(M_ADDR | M_ARP, m_arp()),
        "handshake": syn + ack,
        "get": syn + ack + req + m_rec(M_IP | M_ACK, m_tcp(2 + len(get), 0x10)),
        "get-fin": syn + ack + m_rec(M_IP | M_ACK, m_tcp(2, 0x19, b"c" + get[1:])),
        "big-answer-small-window": syn + m_rec(M_IP | M_ACK, m_tcp(2, 0x10, wnd=700)) + big +
        m_rec(M_IP | M_ACK | M_TIMER, m_tcp(2 + len(get), 0x10, wnd=700)),
        "retransmit": syn + ack + req + m_rec(M_TIMER, b"") + m_rec(M_TIMER | M_SHORT, b""),
        "split": syn + ack + m_rec(M_IP | M_ACK, m_tcp(2, 0x10, get[:7])) +
        m_rec(M_IP | M_ACK | M_PARTIAL, m_tcp(9, 0x18, get[7:])),
        "rst": syn + m_rec(M_IP, m_tcp(2, 0x04)),
        "unknown": m_rec(M_IP, m_tcp(77, 0x10, ack=5)),
    }

# guest_io: struct fuzz_hdr (flags, image length), the image, then 8-byte steps
# (op: low 3 bits what, bits 3-4 width 1/2/4/8; target; off; value).
GIO_PORTS = [0x3f0, 0x3f1, 0x3f7, 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
             0x400, 0x5f, 0x60, 0x61, 0x64, 0x65, 0x6f, 0x70, 0x71, 0x72, 0x80]
W1, W2, W4, W8 = 0, 8, 16, 24


def gio(image, *steps, flags=0):
    return struct.pack("<BH", flags, len(image)) + bytes(image) + b"".join(steps)


def gstep(op, target=0, off=0, value=0):
    return struct.pack("<BBHI", op, target, off, value)


def mmio_wr(dev, reg, value, width=W4):
    return gstep(0 | width, 0, dev * 0x1000 + reg, value)


def mmio_rd(dev, reg, width=W4):
    return gstep(1 | width, 0, dev * 0x1000 + reg)


def pio_wr(port, value, width=W1):
    return gstep(2 | width, GIO_PORTS.index(port), 0, value)


def pio_rd(port, width=W1):
    return gstep(3 | width, GIO_PORTS.index(port))


def gio_queue(dev, size_log2=2, desc=0, all_features=True):
    return gstep(4, dev, size_log2 | (0x200 if all_features else 0), desc)


def gio_kick(dev, q=0, through_register=False):
    return gstep(5, dev, q | (0x8000 if through_register else 0))


def gio_blk_image(req_type, sector=0):
    im = Image(0x2000)
    im.desc(0, 0, 0x800, 16, NEXT, 1)
    im.desc(0, 1, 0x1000, 512, NEXT | (WRITE if req_type == 0 else 0), 2)
    im.desc(0, 2, 0x900, 1, WRITE, 0)
    im.avail(0x40, 4, 1, [0])
    im.put(0x800, struct.pack("<IIQ", req_type, 0, sector))
    return im.b


def guest_io_seeds():
    rng = Image(0x1000)
    rng.desc(0, 0, 0x800, 64, WRITE)
    rng.avail(0x40, 4, 1, [0])
    regs = b"".join(mmio_rd(0, r) for r in range(0, 0x100, 4))
    cfg = b"".join(mmio_rd(1, 0x100 + o, w) for o, w in ((0, W8), (8, W4), (20, W2), (3, W1),
                                                         (0x3c, W8), (0x100 - 4, W8)))
    return {
        "rng": gio(rng.b, gio_queue(0), gio_kick(0), gio_kick(0, through_register=True)),
        "blk-read": gio(gio_blk_image(0), gio_queue(1), gio_kick(1)),
        "blk-write-ro": gio(gio_blk_image(1), gio_queue(2), gio_kick(2)),
        "blk-reset-mid": gio(gio_blk_image(0), gio_queue(1), mmio_wr(1, 0x70, 0), gio_kick(1)),
        "registers": gio(b"", regs, cfg, mmio_wr(2, 0x100, 0xffffffff), mmio_rd(0, 0xffc, W8)),
        "uart": gio(b"", pio_wr(0x3fb, 0x80), pio_wr(0x3f8, 1), pio_wr(0x3f9, 0),
                    pio_wr(0x3fb, 3), pio_wr(0x3f9, 0x0f), pio_wr(0x3f8, 0x41),
                    gstep(6, 0, 4, 0x64636261), pio_rd(0x3f8), pio_rd(0x3fa), pio_rd(0x3fd),
                    pio_wr(0x3fc, 0x10), pio_wr(0x3f8, 0x42), pio_rd(0x3f8), pio_rd(0x3fe),
                    pio_wr(0x3ff, 0x5a), pio_rd(0x3ff, W8), pio_wr(0x3f7, 0x01020304, W4)),
        "i8042": gio(b"", pio_wr(0x64, 0x20), pio_rd(0x60), pio_wr(0x64, 0x60), pio_wr(0x60, 0x47),
                     pio_wr(0x64, 0xd1), pio_wr(0x60, 0x03), gstep(6, 1, 0x1c, 0),
                     gstep(6, 1, 0x1c, 1), gstep(6, 2), pio_rd(0x64), pio_rd(0x60),
                     pio_wr(0x60, 0xff), pio_rd(0x60), pio_wr(0x64, 0xfe), pio_rd(0x61, W4)),
        "cmos": gio(b"", pio_wr(0x70, 0x0a), pio_rd(0x71), pio_wr(0x70, 0x8e), pio_rd(0x71),
                    pio_wr(0x70, 0x7f), pio_wr(0x71, 0x55), pio_rd(0x71), pio_rd(0x70, W2),
                    pio_wr(0x6f, 0xffffffff, W4)),
        "kit": gio(b"", pio_wr(0x3f1, 0x52), pio_rd(0x3f1), pio_rd(0x3f1), pio_rd(0x3f0, W2),
                   pio_wr(0x3f1, 0x52, W2)),
    }


def pmem_seeds():
    """fuzz_virtio_pmem: segments, readable ones, then each length and the readable bytes."""
    return {
        "flush": bytes([2, 1, 4, 4]) + b"\0\0\0\0",
        "split": bytes([3, 2, 2, 2, 4]) + b"\0\0" + b"\0\0",
        "unknown-type": bytes([2, 1, 4, 4]) + b"\1\0\0\0",
        "short-status": bytes([2, 1, 4, 2]) + b"\0\0\0\0",
    }


def mem_seeds():
    """fuzz_virtio_mem: steps of a shape byte, an address, a block count and a type (or,
    shape 0xe0 and up, a requested size in MiB)."""
    def step(shape, addr, nb=0, typ=0):
        return struct.pack("<BQHH", shape, addr, nb, typ)
    size = step(0xe0, 256)
    return {
        "plug-state-unplug": size + step(0, 0, 4, 0) + step(0, 0, 8, 3) + step(0, 0, 4, 1),
        "too-much": size + step(0, 0, 200, 0),
        "unplug-all": size + step(0, 2 << 20, 64, 0) + step(0, 0, 0, 2) + step(0xe0, 0),
        "short-chains": size + step(2, 0, 1, 0) + step(0x10, 0, 1, 0) + step(6, 0, 1, 0),
        "any-address": size + step(0x80, 0xffffffffffe00000, 0xffff, 0),
    }


def boot_loader_seeds():
    """fuzz_boot_loader: a mode byte (protocol, RAM, initrd MiB), then a kernel image: a
    minimal vmlinux (a PT_LOAD at 16 MiB, the PVH note, a .symtab), a minimal bzImage,
    and a System.map's text."""
    def note(name, typ, desc):
        n = name.encode() + b"\0"
        pad = lambda b: b + b"\0" * (-len(b) % 4)
        return struct.pack("<III", len(n), len(desc), typ) + pad(n) + pad(desc)

    def vmlinux(entry=0x1000000, pvh=0x1000000, code=b"\xf4" * 64, bss=0x1000):
        pvh_note = note("Xen", 18, struct.pack("<I", pvh))
        strtab = b"\0startup_64\0do_initcalls\0__initcall_foo6\0"
        symtab = b"\0" * 24 + b"".join(
            struct.pack("<IBBHQQ", off, 0x12, 0, 1, 0xffffffff81000000 + 16 * i, 16)
            for i, off in enumerate((1, 12, 25)))
        shstr = b"\0.text\0.symtab\0.strtab\0.shstrtab\0"
        ehsize, phnum, shnum = 64, 2, 5
        off_code = ehsize + 56 * phnum
        off_note = off_code + len(code)
        off_sym = off_note + len(pvh_note)
        off_str = off_sym + len(symtab)
        off_shs = off_str + len(strtab)
        off_sh = off_shs + len(shstr)
        eh = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
            "<HHIQQQIHHHHHH", 2, 62, 1, entry, ehsize, off_sh, 0, ehsize, 56, phnum, 64,
            shnum, 4)
        ph = struct.pack("<IIQQQQQQ", 1, 5, off_code, 0xffffffff81000000, 0x1000000,
                         len(code), len(code) + bss, 0x200000)
        ph += struct.pack("<IIQQQQQQ", 4, 4, off_note, 0, 0, len(pvh_note), len(pvh_note), 4)
        sh = b"\0" * 64
        sh += struct.pack("<IIQQQQIIQQ", 1, 1, 6, 0xffffffff81000000, off_code, len(code), 0, 0,
                          16, 0)
        sh += struct.pack("<IIQQQQIIQQ", 7, 2, 0, 0, off_sym, len(symtab), 3, 1, 8, 24)
        sh += struct.pack("<IIQQQQIIQQ", 15, 3, 0, 0, off_str, len(strtab), 0, 0, 1, 0)
        sh += struct.pack("<IIQQQQIIQQ", 23, 3, 0, 0, off_shs, len(shstr), 0, 0, 1, 0)
        return eh + ph + code + pvh_note + symtab + strtab + shstr + sh

    def bzimage(setup_sects=1, version=0x020f, xload=1, payload=b"\xf4" * 512):
        b = bytearray(512 * (max(setup_sects, 4) + 1))
        b[0x1f1] = setup_sects
        b[0x1fe:0x200] = b"\x55\xaa"
        b[0x202:0x206] = b"HdrS"
        b[0x206:0x208] = struct.pack("<H", version)
        b[0x211] = 1  # LOADED_HIGH
        b[0x22c:0x230] = struct.pack("<I", 0x7fffffff)  # initrd_addr_max
        b[0x230:0x234] = struct.pack("<I", 0x200000)  # kernel_alignment
        b[0x234] = 1  # relocatable
        b[0x236:0x238] = struct.pack("<H", xload)
        b[0x258:0x260] = struct.pack("<Q", 0x1000000)  # pref_address
        b[0x260:0x264] = struct.pack("<I", 0x100000)  # init_size
        return bytes(b) + payload

    system_map = (b"ffffffff81000000 T startup_64\nffffffff81000100 t do_initcalls\n"
                  b"ffffffff82000000 d __initcall_foo6\n")
    return {
        "vmlinux-auto": b"\x00" + vmlinux(),
        "vmlinux-pvh": b"\x02" + vmlinux(),
        "vmlinux-big-ram-initrd": bytes([4 | (3 << 3)]) + vmlinux(),
        "vmlinux-entry-out": b"\x01" + vmlinux(entry=0x7fffffff),
        "vmlinux-bss-huge": b"\x00" + vmlinux(bss=0x7fffffffffff),
        "bzimage": b"\x01" + bzimage(),
        "bzimage-initrd": bytes([1 | 4 | (2 << 3)]) + bzimage(),
        "bzimage-old": b"\x00" + bzimage(version=0x0200, xload=0),
        "bzimage-sects-0": b"\x00" + bzimage(setup_sects=0),
        "system-map": b"\x00" + system_map,
    }


def bitcode_seeds():
    """Files the bitcode crate wrote (tests/unit/data/bitcode), the small ones."""
    data = HERE.parent / "unit" / "data" / "bitcode"
    return {b.stem: b.read_bytes() for b in sorted(data.glob("*.bin"))
            if b.stat().st_size <= 1024}


def mmds_json_seeds():
    """fuzz_mmds_json: a PUT /mmds body or a --metadata file, integers past i64 among them."""
    return {
        "object": b'{"latest":{"meta-data":{"ami-id":"ami-1","n":[1,2.5,null,{"x":"y"}]},'
                  b'"user-data":"a\\u0000b"},"t":true}',
        "big-integers": b'{"max":18446744073709551615,"below":-9223372036854775809,'
                        b'"over":18446744073709551616,"a":[9223372036854775808,{"x":1e23}],'
                        b'"s":"\\u0001"}',
        "numbers-and-strings": b'[1.0,12.12,-24,0.1,1e300,1.5e-7,100000000000000000000.0,'
                               b'-0.0,"\\u00e9\\ud83d\\ude00"]',
        "cut": b'[[[[{"a":[18446744073709551615',
        "one-integer": b"18446744073709551615",
    }


def json_pos_seeds():
    """fuzz_json_pos: request bodies over several lines, escaped keys, deep and wide."""
    return {
        "snapshot-load": b'{\n  "snapshot_path": "foo",\n  "mem_backend": {\n'
                         b'    "backend_path": "bar"\n  }\n}\n',
        "cpu-config": b'{"kvm_capabilities": ["1", "!2"], "cpuid_modifiers": [{"leaf": "0x1", '
                      b'"subleaf": "0x0", "flags": 0, "modifiers": [{"register": "eax", '
                      b'"bitmap": "0bx1"}]}]}',
        "escapes-deep": b'{"a\\"b\\u0041" : [true, false, null, 1.5e3, -2, {}, []] ,\r\n'
                        b'"c":{"d":[[[[[[[[[[1]]]]]]]]]]}}',
        "array": b'[{"x": 1}, {"y": [2, 3]}]',
        # The target's mutated copy turns the '(' in its middle into a line break.
        "line-break-in-a-string": b'{"a": "' + b"(" * 40 + b'", "b": {"c": 1}}',
    }


def serde_body_seeds():
    """fuzz_serde_body: a type index byte (api/fc_bodies.h's order in the target), then a body."""
    return {
        "machine-config": b"\x01" + b'{"vcpu_count": 2, "mem_size_mib": 256, "smt": false, '
                          b'"cpu_template": "T2", "huge_pages": {"2M": null}}',
        "machine-config-seq": b"\x01" + b'[2, 256, true, null, false, "None"]',
        "drive": b"\x03" + b'{"drive_id": "d", "is_root_device": false, "cache_type": "Writeback", '
                 b'"rate_limiter": {"bandwidth": {"size": 1, "one_time_burst": null, '
                 b'"refill_time": 2, "x": [1]}, "ops": null}, "io_engine": "Async"}',
        "net": b"\x05" + b'{"iface_id": "e", "host_dev_name": "t", "guest_mac": "aa:bb:cc:dd:ee:ff", '
               b'"mtu": 1500}',
        "logger": b"\x12" + b'{"log_path": "/l", "level": "warning", "show_level": true}',
        "metrics": b"\x13" + b'{"metrics_path": "/m", "emit_id": true, "properties": {"a": "b"}}',
        "snapshot-load": b"\x17" + b'{"snapshot_path": "/s", "mem_backend": {"backend_path": "/m", '
                         b'"backend_type": "Uffd"}, "network_overrides": [{"iface_id": "e", '
                         b'"host_dev_name": "t", "x": 1}, ["f", "u"]], "huge_pages": "2M"}',
        "float": b"\x08" + b'{"amount_mib": 1.5e300, "deflate_on_oom": false}',
        "mmds-config": b"\x18" + b'{"version": {"V2": null}, "network_interfaces": ["eth0"], '
                       b'"ipv4_address": "169.254.169.254", "imds_compat": true}',
    }


def main():
    for target, seeds in (("virtq", virtq_seeds()), ("virtio_blk", blk_seeds()),
                          ("virtio_pmem", pmem_seeds()), ("virtio_mem", mem_seeds()),
                          ("virtio_net", net_seeds()), ("virtio_vsock", vsock_seeds()),
                          ("virtio_balloon", balloon_seeds()), ("snap", snap_seeds()),
                          ("http_parse", http_seeds()), ("mmds_http", mmds_http_seeds()),
                          ("mmds_stack", mmds_seeds()),
                          ("guest_io", guest_io_seeds()),
                          ("boot_loader", boot_loader_seeds()),
                          ("bitcode", bitcode_seeds()),
                          ("mmds_json", mmds_json_seeds()),
                          ("json_pos", json_pos_seeds()),
                          ("serde_body", serde_body_seeds())):
        d = HERE / "corpus" / target
        d.mkdir(parents=True, exist_ok=True)
        for name, blob in seeds.items():
            (d / name).write_bytes(blob)
    return 0


if __name__ == "__main__":
    sys.exit(main())
