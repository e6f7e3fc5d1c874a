"""virtio-vsock with Firecracker's host side: one Linux boot moves 1 MiB each way through
AF_UNIX sockets, checksummed; plus refused connections and every bad --vsock argument."""
import hashlib
import os
import re
import socket
import subprocess
import threading
import time
import zlib

import pytest

from conftest import GUESTS, initrd_with, run_volt

MIB = 1 << 20
ECHO_PORT = 5000  # the guest listens here
HOST_PORT = 6000  # the test listens on <uds>_6000
DEAD_HOST_PORT = 6001  # nobody listens on <uds>_6001
DEAD_GUEST_PORT = 5999  # nobody listens in the guest

# The guest side, one static process (busybox has no AF_VSOCK; every guest fork and
# system call is slow on PVM hosts). It prints what it saw; the test judges.
GUEST_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h> /* before vm_sockets.h: newer uapi headers use struct sockaddr */
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIB (1 << 20)

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int vsock_connect(unsigned int port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
				 .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;
		if (s >= 0)
			close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* Host -> guest: echo one connection until EOF. */
static void echo_server(int ls)
{
	static unsigned char buf[65536];
	struct pollfd p = { .fd = ls, .events = POLLIN };
	size_t total = 0;
	uint32_t crc = 0;
	double t0;
	int s;

	if (poll(&p, 1, 180000) != 1 || (s = accept(ls, NULL, NULL)) < 0) {
		printf("VSOCK-ECHO FAIL accept: %s\n", strerror(errno));
		return;
	}
	t0 = now();
	for (;;) {
		ssize_t n = read(s, buf, sizeof(buf)), w = 0;
		if (n < 0) {
			printf("VSOCK-ECHO FAIL read: %s\n", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		crc = crc32(crc, buf, (size_t)n);
		total += (size_t)n;
		while (w < n) {
			ssize_t m = write(s, buf + w, (size_t)(n - w));
			if (m <= 0) {
				printf("VSOCK-ECHO FAIL write: %s\n", strerror(errno));
				close(s);
				return;
			}
			w += m;
		}
	}
	printf("VSOCK-ECHO bytes=%zu crc=%08x secs=%.3f\n", total, crc, now() - t0);
	close(s);
}

/* Guest -> host: send 1 MiB while reading the host's echo, then compare. */
static void send_to_host(unsigned int port)
{
	unsigned char *out = malloc(MIB), *in = malloc(MIB);
	size_t sent = 0, got = 0, off = 0;
	double t0;
	int s;

	/* Not getrandom(): it blocks until the guest's CRNG is seeded, which can
	 * take minutes under an emulated ring 0. */
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)(now() * 1e9);
	for (off = 0; off < MIB; off += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(out + off, &x, 8);
	}
	t0 = now();
	s = vsock_connect(port);
	if (s < 0) {
		printf("VSOCK-G2H FAIL connect: %s\n", strerror(errno));
		return;
	}
	fcntl(s, F_SETFL, O_NONBLOCK);
	while (got < MIB) {
		struct pollfd p = { .fd = s, .events = POLLIN | (sent < MIB ? POLLOUT : 0) };
		ssize_t n;

		if (poll(&p, 1, 60000) != 1) {
			printf("VSOCK-G2H FAIL stalled at sent=%zu got=%zu\n", sent, got);
			return;
		}
		if (sent < MIB && (p.revents & POLLOUT)) {
			n = write(s, out + sent, MIB - sent > 65536 ? 65536 : MIB - sent);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN) {
				printf("VSOCK-G2H FAIL write: %s\n", strerror(errno));
				return;
			}
			if (sent == MIB)
				shutdown(s, SHUT_WR);
		}
		n = read(s, in + got, MIB - got);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			break;
		else if (errno != EAGAIN) {
			printf("VSOCK-G2H FAIL read: %s\n", strerror(errno));
			return;
		}
	}
	printf("VSOCK-G2H bytes=%zu crc=%08x echo=%s secs=%.3f\n", sent, crc32(0, out, MIB),
	       got == MIB && !memcmp(in, out, MIB) ? "ok" : "BAD", now() - t0);
	close(s);
}

int main(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = ECHO_PORT };
	int ls = socket(AF_VSOCK, SOCK_STREAM, 0), s;

	setvbuf(stdout, NULL, _IOLBF, 0);
	crc_init();
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4)) {
		printf("VSOCK-LISTEN FAIL: %s\n", strerror(errno));
		return 1;
	}
	printf("VSOCK-LISTENING\n");
	s = vsock_connect(DEAD_HOST_PORT);
	printf("VSOCK-REFUSED %s\n", s < 0 ? strerror(errno) : "FAIL: connected");
	echo_server(ls);
	send_to_host(HOST_PORT);
	printf("VSOCK-DONE\n");
	return 0;
}
"""


def build_guest_program(tmp_path):
    src = tmp_path / "vsock_test.c"
    src.write_text(GUEST_C)
    exe = tmp_path / "extra" / "vsock_test"
    exe.parent.mkdir()
    subprocess.run(["gcc", "-static", "-O2", f"-DECHO_PORT={ECHO_PORT}",
                    f"-DHOST_PORT={HOST_PORT}", f"-DDEAD_HOST_PORT={DEAD_HOST_PORT}",
                    "-o", str(exe), str(src)], check=True)
    return exe


def make_initrd(tmp_path, base_initrd):
    """The guest kit's initramfs plus a second cpio archive holding the test program."""
    build_guest_program(tmp_path)
    return initrd_with(base_initrd, tmp_path / "extra", ["vsock_test"], tmp_path / "vsock.cpio")


class HostEcho(threading.Thread):
    """Listens on <uds>_<port>, echoes one connection and remembers what it got. It
    starts reading only after stall seconds, so that volt must hold back what the guest
    sends (its buffer fills, the guest runs out of credit) and resume."""

    def __init__(self, path, stall):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.sock.settimeout(300)
        self.stall = stall
        self.data = bytearray()
        self.secs = None
        self.error = None

    def run(self):
        try:
            conn, _ = self.sock.accept()
            t0 = time.monotonic()
            time.sleep(self.stall)
            with conn:
                conn.settimeout(60)
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    self.data += chunk
                    conn.sendall(chunk)
            self.secs = time.monotonic() - t0
        except Exception as e:  # reported by the test
            self.error = repr(e)


def connect_uds(path, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(path))
    return s


def read_line(s):
    line = b""
    while not line.endswith(b"\n"):
        ch = s.recv(1)
        if not ch:
            break
        line += ch
    return line


def echo_through_guest(uds, data):
    """CONNECT to the guest's echo server, send data while reading it back."""
    s = connect_uds(uds, timeout=120)
    # Bytes sent right behind the request line are stream data, not part of the request.
    head = 1000
    s.sendall(f"CONNECT {ECHO_PORT}\n".encode() + data[:head])
    ok = read_line(s)
    m = re.fullmatch(rb"OK (\d+)\n", ok)
    assert m, f"no OK line: {ok!r}"
    back = bytearray()
    t0 = time.monotonic()

    def send():
        s.sendall(data[head:])
        s.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    while len(back) < len(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        back += chunk
    secs = time.monotonic() - t0
    sender.join(30)
    # The guest closes after echoing everything: EOF follows.
    assert s.recv(1) == b""
    s.close()
    return int(m.group(1)), bytes(back), secs


def test_vsock_echo_both_ways(vm, guest_kit, tmp_path):
    initrd = make_initrd(tmp_path, guest_kit["initrd"])
    uds = tmp_path / "v.sock"
    # A stale socket from an earlier run is replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(uds))
    stale.close()
    host = HostEcho(f"{uds}_{HOST_PORT}", stall=1.5)
    host.start()
    p = vm("run", "--kernel", guest_kit["vmlinux"], "--initrd", initrd, "--mem", "256",
           "--vsock", f"cid=3,uds={uds}", "--cmdline",
           'console=ttyS0 reboot=k panic=-1 quiet volt.cmd="/vsock_test"')
    # Before the guest's driver is up nobody answers the REQUEST: the client is closed
    # after volt's connect timeout instead of hanging.
    deadline = time.monotonic() + 30
    while True:
        try:
            s = connect_uds(uds)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            assert time.monotonic() < deadline, "volt did not listen on its socket"
            time.sleep(0.05)
    s.sendall(f"CONNECT {ECHO_PORT}\n".encode())
    t0 = time.monotonic()
    early = s.recv(64)
    timeout_secs = time.monotonic() - t0
    s.close()
    assert early == b"" and timeout_secs < 10, (early, timeout_secs)
    p.wait_for("VSOCK-LISTENING", 240)

    # Nobody listens on that guest port: the guest answers RST, volt closes the client.
    s = connect_uds(uds)
    s.sendall(f"CONNECT {DEAD_GUEST_PORT}\n".encode())
    t0 = time.monotonic()
    assert s.recv(64) == b"", "a refused CONNECT must close the client socket"
    refused_secs = time.monotonic() - t0
    s.close()
    # A malformed request line is closed as well.
    s = connect_uds(uds)
    s.sendall(b"HELLO\n")
    assert s.recv(64) == b""
    s.close()

    # (a) host -> guest -> host.
    data = os.urandom(MIB)
    port, back, h2g_secs = echo_through_guest(uds, data)
    assert port >= 1 << 30, port
    assert len(back) == MIB and hashlib.sha256(back).digest() == hashlib.sha256(data).digest()

    # (b) guest -> host -> guest.
    out = p.wait_for("VSOCK-DONE", 180)
    host.join(30)
    assert host.error is None, host.error
    assert p.wait_exit(60) == 0, out[-3000:]
    out = p.output()
    assert "FAIL" not in out, out[-3000:]
    # Nobody listens on <uds>_6001: volt answered the guest's REQUEST with RST.
    assert "VSOCK-REFUSED Connection reset by peer" in out, out[-3000:]
    m = re.search(r"VSOCK-ECHO bytes=(\d+) crc=([0-9a-f]{8}) secs=([\d.]+)", out)
    assert m, out[-3000:]
    assert int(m.group(1)) == MIB and int(m.group(2), 16) == zlib.crc32(data)
    m = re.search(r"VSOCK-G2H bytes=(\d+) crc=([0-9a-f]{8}) echo=(\w+) secs=([\d.]+)", out)
    assert m, out[-3000:]
    assert int(m.group(1)) == MIB and m.group(3) == "ok"
    assert len(host.data) == MIB and zlib.crc32(host.data) == int(m.group(2), 16)
    g2h_secs = float(m.group(4))
    print(f"\nvsock 1 MiB echo host->guest->host: {h2g_secs:.2f}s "
          f"({2 * MIB / h2g_secs / 1e6:.2f} MB/s, both ways counted); guest->host->guest: "
          f"{g2h_secs:.2f}s with a {host.stall}s host stall; refused CONNECT closed "
          f"in {refused_secs * 1000:.0f} ms, unanswered one after {timeout_secs:.1f}s")
    # volt removes its socket when it exits.
    assert not uds.exists()


@pytest.mark.parametrize("spec,reason", [
    ("cid=2,uds=/tmp/v.sock", "reserved"),
    ("cid=1,uds=/tmp/v.sock", "reserved"),
    ("cid=4294967295,uds=/tmp/v.sock", "VMADDR_CID_ANY"),
    ("cid=abc,uds=/tmp/v.sock", "not a number"),
    ("uds=/tmp/v.sock", "no cid"),
    ("cid=3", "no uds"),
    ("cid=3,uds=", "needs a socket path"),
    ("cid=3,uds=/tmp/v.sock,x=1", "unknown"),
    ("cid=3,uds=/" + "a" * 100, "fit in a unix socket address"),
])
def test_bad_vsock_arguments_are_refused(volt_bin, spec, reason):
    p = run_volt("run", "--kernel", GUESTS / "hello", "--vsock", spec)
    assert p.returncode != 0
    assert f"--vsock '{spec}'" in p.stderr and reason in p.stderr, p.stderr


def test_vsock_path_that_is_not_a_socket_is_refused(vm, tmp_path):
    path = tmp_path / "file"
    path.write_text("keep me")
    p = vm("run", "--kernel", GUESTS / "hello", "--vsock", f"cid=3,uds={path}")
    assert p.wait_exit(30) != 0
    assert "exists and is not a socket" in p.output(), p.output()
    assert path.read_text() == "keep me"


def test_vsock_path_in_use_is_refused(vm, tmp_path):
    path = tmp_path / "live.sock"
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(path))
    live.listen(1)
    p = vm("run", "--kernel", GUESTS / "hello", "--vsock", f"cid=3,uds={path}")
    assert p.wait_exit(30) != 0
    assert "another process is listening" in p.output(), p.output()
    live.close()


def test_vsock_with_a_guest_without_a_driver(vm, tmp_path):
    """A guest that never drives the device: volt still exits 0 and removes its socket."""
    path = tmp_path / "v.sock"
    p = vm("run", "--kernel", GUESTS / "hello", "--vsock", f"cid=3,uds={path}")
    assert p.wait_exit(30) == 0, p.output()
    assert not path.exists()
