"""The vmm and vCPU threads' allocating paths under load, seccomp in kill mode (issue #10).

One Linux boot (through --config-file with --api-sock, so the balloon can be moved) runs
a static guest program that serves many vsock connections at once and opens many to the
host, and bursts UDP both ways over virtio-net (root only: a network namespace holds the
TAP), while the API inflates and deflates the balloon. volt must not die of SIGSYS (a
library opening a file lazily on a filtered thread, heap growth and trimming under load),
and the guest must finish.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from api_client import ApiClient, wait_for_socket
from conftest import VOLT, audit_lines, initrd_with, make_netns

HOST_IP, GUEST_IP = "172.16.9.1", "172.16.9.2"
ECHO_PORT, HOST_PORT = 5000, 6000
NCONN = 48  # vsock connections each way, all open at once
CONN_BYTES = 16 << 10
UDP_TX, UDP_RX = 7000, 7001
BURST = 3000

GUEST_C = r"""
#include <errno.h>
#include <sys/socket.h> /* before vm_sockets.h: newer uapi headers use struct sockaddr */
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int vsock_connect(unsigned int port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
				 .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* Echoes NCONN host-initiated connections at once, each until EOF. */
static void serve_many(int ls)
{
	static char buf[65536];
	struct pollfd p[NCONN + 1];
	int open_ = 0, done = 0, accepted = 0, i;
	size_t total = 0;
	p[0].fd = ls;
	p[0].events = POLLIN;
	for (i = 1; i <= NCONN; i++)
		p[i].fd = -1, p[i].events = POLLIN;
	while (done < NCONN) {
		if (poll(p, NCONN + 1, 120000) <= 0) {
			printf("STRESS-H2G FAIL stalled accepted=%d done=%d\n", accepted, done);
			return;
		}
		if (p[0].revents & POLLIN) {
			int s = accept(ls, NULL, NULL);
			for (i = 1; s >= 0 && i <= NCONN && p[i].fd >= 0; i++)
				;
			if (s >= 0 && i <= NCONN) {
				p[i].fd = s;
				accepted++;
				open_++;
			} else if (s >= 0) {
				close(s);
			}
		}
		for (i = 1; i <= NCONN; i++) {
			ssize_t n;
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n > 0) {
				ssize_t w = 0;
				total += (size_t)n;
				while (w < n) {
					ssize_t m = write(p[i].fd, buf + w, (size_t)(n - w));
					if (m <= 0)
						break;
					w += m;
				}
				continue;
			}
			close(p[i].fd);
			p[i].fd = -1;
			open_--;
			done++;
		}
	}
	printf("STRESS-H2G conns=%d bytes=%zu\n", done, total);
}

/* Opens NCONN connections to the host at once; each sends CONN_BYTES and reads them back. */
static void connect_many(void)
{
	static char out[CONN_BYTES], in[CONN_BYTES];
	int s[NCONN], ok = 0, i;
	for (i = 0; i < CONN_BYTES; i++)
		out[i] = (char)(i * 7 + 1);
	for (i = 0; i < NCONN; i++)
		s[i] = vsock_connect(HOST_PORT);
	for (i = 0; i < NCONN; i++) {
		size_t got = 0;
		if (s[i] < 0)
			continue;
		if (write(s[i], out, CONN_BYTES) != CONN_BYTES)
			goto next;
		shutdown(s[i], SHUT_WR);
		while (got < CONN_BYTES) {
			ssize_t n = read(s[i], in + got, CONN_BYTES - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		ok += got == CONN_BYTES && !memcmp(in, out, CONN_BYTES);
next:
		close(s[i]);
	}
	printf("STRESS-G2H ok=%d of %d\n", ok, NCONN);
}

static void udp_burst(const char *host)
{
	static char buf[1400];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(UDP_TX) };
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(UDP_RX) };
	int s = socket(AF_INET, SOCK_DGRAM, 0), sent = 0, got = 0, i;
	struct pollfd p;
	inet_pton(AF_INET, host, &to.sin_addr);
	if (s < 0 || bind(s, (struct sockaddr *)&me, sizeof(me))) {
		printf("STRESS-NET FAIL socket: %s\n", strerror(errno));
		return;
	}
	for (i = 0; i < BURST; i++)
		sent += sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&to, sizeof(to)) > 0;
	printf("STRESS-NET-TX sent=%d\n", sent);
	p.fd = s;
	p.events = POLLIN;
	/* The host answers with its own burst; stop when it has been quiet for 10 s. */
	while (poll(&p, 1, 10000) == 1)
		got += recv(s, buf, sizeof(buf), 0) > 0;
	printf("STRESS-NET-RX got=%d\n", got);
	close(s);
}

int main(int argc, char **argv)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = ECHO_PORT };
	int ls = socket(AF_VSOCK, SOCK_STREAM, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, NCONN)) {
		printf("STRESS-LISTEN FAIL: %s\n", strerror(errno));
		return 1;
	}
	printf("STRESS-LISTENING\n");
	serve_many(ls);
	connect_many();
	if (argc > 1)
		udp_burst(argv[1]);
	printf("STRESS-DONE\n");
	return 0;
}
"""

# Runs in the host's network namespace: counts the guest's burst, then answers with one.
HOST_UDP = r"""
import socket, sys, time
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind((sys.argv[1], int(sys.argv[3])))
rx.settimeout(600)
got = 0
try:
    rx.recv(2048)
    got = 1
    rx.settimeout(3)
    while True:
        rx.recv(2048)
        got += 1
except OSError:
    pass
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
for _ in range(int(sys.argv[5])):
    try:
        tx.sendto(b"h" * 1400, (sys.argv[2], int(sys.argv[4])))
        sent += 1
    except OSError:
        time.sleep(0.001)
print(f"HOST-UDP got={got} sent={sent}", flush=True)
"""


def netns():
    return make_netns(f"api-stress-{os.getpid()}", f"apist{os.getpid() % 100000}", HOST_IP)


def guest_initrd(tmp_path, base):
    extra = tmp_path / "extra"
    extra.mkdir()
    src = tmp_path / "stress.c"
    src.write_text(GUEST_C)
    subprocess.run(["gcc", "-static", "-O2", f"-DNCONN={NCONN}", f"-DCONN_BYTES={CONN_BYTES}",
                    f"-DECHO_PORT={ECHO_PORT}", f"-DHOST_PORT={HOST_PORT}",
                    f"-DUDP_TX={UDP_TX}", f"-DUDP_RX={UDP_RX}", f"-DBURST={BURST}",
                    "-o", str(extra / "stress"), str(src)], check=True)
    return initrd_with(base, extra, ["stress"], tmp_path / "stress.cpio")


class HostServer(threading.Thread):
    """Accepts on <uds>_<HOST_PORT> and echoes every connection, each in its own thread."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(NCONN)
        self.sock.settimeout(900)
        self.conns = 0

    def echo(self, c):
        with c:
            c.settimeout(120)
            try:
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    c.sendall(b)
            except OSError:
                pass

    def run(self):
        try:
            while True:
                c, _ = self.sock.accept()
                self.conns += 1
                threading.Thread(target=self.echo, args=(c,), daemon=True).start()
        except OSError:
            pass


def host_to_guest(uds, n, results, barrier):
    """One host-initiated connection: CONNECT, then (once every connection is up, so that
    all are open at once) CONN_BYTES out and the echo back."""
    try:
        # volt gives the guest 2 s to answer a CONNECT; an emulated guest kernel answers
        # a few per second: stagger them.
        time.sleep(n * 0.25)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(300)
        s.connect(str(uds))
        s.sendall(f"CONNECT {ECHO_PORT}\n".encode())
        line = b""
        while not line.endswith(b"\n"):
            ch = s.recv(1)
            if not ch:
                break
            line += ch
        if not re.fullmatch(rb"OK \d+\n", line):
            results[n] = f"no OK: {line!r}"
            barrier.abort()
            return
        barrier.wait()
        data = bytes([(n + i) & 0xff for i in range(CONN_BYTES)])
        back = bytearray()

        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        while True:
            b = s.recv(65536)
            if not b:
                break
            back += b
        t.join(60)
        s.close()
        results[n] = "ok" if bytes(back) == data else f"echo differs ({len(back)} bytes)"
    except (OSError, threading.BrokenBarrierError) as e:
        results.setdefault(n, repr(e))
        barrier.abort()


def balloon_cycles(api, stop, log):
    """Inflates and deflates the balloon until stop is set."""
    target = 32
    while not stop.is_set():
        status, _ = api.patch("/balloon", {"amount_mib": target})
        log.append((target, status))
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            st, stats = api.get("/balloon/statistics")
            if st == 200 and stats.get("actual_mib") == target:
                log.append(("reached", target))
                break
            time.sleep(0.5)
        target = 0 if target else 32


def test_devices_under_load_in_kill_mode(kvm, volt_bin, guest_kit, tmp_path):
    initrd = guest_initrd(tmp_path, guest_kit["initrd"])
    uds, sock = tmp_path / "v.sock", tmp_path / "api.sock"
    net = netns()
    script = ("/stress" if not net else
              f"ip addr add {GUEST_IP}/24 dev eth0 && ip link set eth0 up; /stress {HOST_IP}")
    cfg = {"boot-source": {"kernel_image_path": str(guest_kit["vmlinux"]),
                           "initrd_path": str(initrd),
                           "boot_args": "console=ttyS0 reboot=k panic=-1 quiet "
                                        f'volt.cmd="{script}"'},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 192},
           "vsock": {"guest_cid": 3, "uds_path": str(uds)},
           "balloon": {"amount_mib": 0, "deflate_on_oom": False,
                       "stats_polling_interval_s": 1},
           "network-interfaces": ([{"iface_id": "eth0", "host_dev_name": net.tap}]
                                  if net else [])}
    (tmp_path / "vm.json").write_text(json.dumps(cfg))
    prefix = ["ip", "netns", "exec", net.ns] if net else []
    log = open(tmp_path / "volt.log", "wb")
    proc = subprocess.Popen([*prefix, str(VOLT), "--config-file", str(tmp_path / "vm.json"),
                             "--api-sock", str(sock), "--seccomp=kill"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    udp = None
    stop = threading.Event()

    def output():
        return (tmp_path / "volt.log").read_text(errors="replace")

    def wait_for(marker, timeout):
        deadline = time.monotonic() + timeout
        while marker not in output():
            assert proc.poll() is None, (
                f"volt exited ({proc.returncode}):\n" + "\n".join(audit_lines(proc.pid)) +
                "\n" + output()[-3000:])
            assert time.monotonic() < deadline, f"no {marker!r}:\n" + output()[-3000:]
            time.sleep(0.1)

    try:
        wait_for_socket(sock, proc, timeout=60)
        api = ApiClient(sock, timeout=60)
        host = HostServer(f"{uds}_{HOST_PORT}")
        host.start()
        if net:
            udp = subprocess.Popen(["ip", "netns", "exec", net.ns, sys.executable, "-c",
                                    HOST_UDP, HOST_IP, GUEST_IP, str(UDP_TX), str(UDP_RX),
                                    str(BURST)], stdout=subprocess.PIPE, text=True)
        wait_for("STRESS-LISTENING", 900)
        balloon_log = []
        balloon = threading.Thread(target=balloon_cycles, args=(api, stop, balloon_log),
                                   daemon=True)
        balloon.start()
        results = {}
        barrier = threading.Barrier(NCONN, timeout=600)
        clients = [threading.Thread(target=host_to_guest, args=(uds, n, results, barrier),
                                    daemon=True) for n in range(NCONN)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(600)
        bad = {n: r for n, r in results.items() if r != "ok"}
        assert len(results) == NCONN and not bad, bad
        wait_for("STRESS-DONE", 900)
        stop.set()
        balloon.join(150)
        out = output()
        assert f"STRESS-H2G conns={NCONN} bytes={NCONN * CONN_BYTES}" in out, out[-3000:]
        assert f"STRESS-G2H ok={NCONN} of {NCONN}" in out, out[-3000:]
        assert ("reached", 32) in balloon_log, balloon_log
        if net:
            m = re.search(r"STRESS-NET-RX got=(\d+)", out)
            host_says = udp.communicate(timeout=120)[0]
            assert m and int(m.group(1)) > 0, out[-2000:]
            assert re.search(r"HOST-UDP got=[1-9]", host_says), host_says
        # Still controllable, then a clean stop by signal.
        assert api.get("/")[1]["state"] == "Running"
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(120)
        assert rc != -signal.SIGSYS, "\n".join(audit_lines(proc.pid)) + output()[-3000:]
        assert rc == 128 + signal.SIGTERM, (rc, output()[-3000:])
        assert not [l for l in audit_lines(proc.pid) if " sig=31 " in l]
        print(f"\nvsock {NCONN}+{NCONN} connections, balloon {balloon_log}, "
              f"net {'on' if net else 'off'}")
    finally:
        stop.set()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if udp and udp.poll() is None:
            udp.kill()
        log.close()
        if net:
            net.remove()
