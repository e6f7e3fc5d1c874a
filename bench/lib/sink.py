#!/usr/bin/env python3
"""Host end of bench/virtio.sh's stream figures: accepts one connection, reads
until EOF and writes {"bytes": N, "seconds": T} (accept to EOF) to OUT.

Usage: sink.py tcp ADDR PORT OUT | sink.py unix PATH OUT
Exits after the first connection, or after --timeout seconds (default 900).
"""
import json
import os
import socket
import sys
import time


def main():
    args = sys.argv[1:]
    timeout = 900
    if args[:1] == ["--timeout"]:
        timeout, args = int(args[1]), args[2:]
    if args[0] == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args[1], int(args[2])))
        out = args[3]
    else:
        if os.path.exists(args[1]):
            os.unlink(args[1])
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(args[1])
        out = args[2]
    s.listen(1)
    s.settimeout(timeout)
    conn, _ = s.accept()
    t0 = time.monotonic()
    n = 0
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        n += len(b)
    t = time.monotonic() - t0
    with open(out, "w") as f:
        json.dump({"bytes": n, "seconds": t}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
