"""virtio-net over a TAP, driven by a real Linux guest in one boot: link, MAC, ping, the MMDS
(V2: a token, then metadata with it and a refusal without) through the interface's MMDS stack,
and TCP transfers checksummed in both directions (1 MiB at the standard MTU, where segmentation
offload carries it, then 10 MiB at a 65000-byte MTU). The VM is described by a Firecracker
configuration file (--config-file --no-api, the store filled by --metadata). Volt, the TAP and the host side of every
connection live in a network namespace of their own, so nothing touches the host's network.
Then the ways --net can be wrong: each must end volt with a clear message."""
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import GUESTS, VOLT, VoltProcess, host_is_pvm, initrd_with, run_volt

HOST_IP, GUEST_IP, PORT = "172.16.0.1", "172.16.0.2", 5001
SMALL, BIG = 1 << 20, 10 << 20
MAC = "52:54:00:12:34:56"
MMDS_IP, AMI_ID = "169.254.169.254", "ami-volt-mmds"

# Guest side of the transfers: big reads and writes, MD5 in user space (native speed here,
# while every system call and page fault of the guest is slow on hosts without VT).
NETTOOL_C = r"""/* Guest side of the virtio-net test: TCP transfers with an MD5 of the bytes.
 *   nettool get IP PORT      receive until EOF
 *   nettool put IP PORT N    send N pseudo-random bytes
 * Prints "NET-<GET|PUT> <bytes> <md5> <microseconds>". Small buffers: every
 * first touch of a page is slow in these guests. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct md5 {
	uint32_t h[4];
	uint64_t len;
	uint8_t buf[64];
};

static const uint32_t K[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
	0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
	0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
	0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
	0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
	0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
	0xeb86d391 };
static const uint8_t R[64] = { 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
			       5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
			       4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
			       6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21 };

static void md5_block(struct md5 *m, const uint8_t *p)
{
	uint32_t w[16], a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];
	int i;

	for (i = 0; i < 16; i++)
		w[i] = p[4 * i] | p[4 * i + 1] << 8 | p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (i = 0; i < 64; i++) {
		uint32_t f, t;
		int g;

		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) & 15;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) & 15;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) & 15;
		}
		t = d;
		d = c;
		c = b;
		f += a + K[i] + w[g];
		b += (f << R[i]) | (f >> (32 - R[i]));
		a = t;
	}
	m->h[0] += a;
	m->h[1] += b;
	m->h[2] += c;
	m->h[3] += d;
}

static void md5_init(struct md5 *m)
{
	m->h[0] = 0x67452301;
	m->h[1] = 0xefcdab89;
	m->h[2] = 0x98badcfe;
	m->h[3] = 0x10325476;
	m->len = 0;
}

static void md5_update(struct md5 *m, const uint8_t *p, size_t n)
{
	size_t have = m->len & 63;

	m->len += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;

		memcpy(m->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		md5_block(m, m->buf);
	}
	for (; n >= 64; n -= 64, p += 64)
		md5_block(m, p);
	memcpy(m->buf, p, n);
}

static void md5_hex(struct md5 *m, char out[33])
{
	uint64_t bits = m->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = ((m->len & 63) < 56 ? 56 : 120) - (m->len & 63);
	int i;

	for (i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (8 * i));
	md5_update(m, pad, padlen + 8);
	for (i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", (m->h[i / 4] >> (8 * (i % 4))) & 0xff);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int dial(const char *ip, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("nettool: connect");
		exit(2);
	}
	return fd;
}

static uint8_t buf[65536];

int main(int argc, char **argv)
{
	struct md5 m;
	uint64_t total = 0, t0, x = 0x9e3779b97f4a7c15ULL;
	char hex[33];
	int fd;

	if (argc < 4 || (strcmp(argv[1], "get") && strcmp(argv[1], "put")) ||
	    (!strcmp(argv[1], "put") && argc < 5)) {
		fprintf(stderr, "usage: nettool get IP PORT | put IP PORT BYTES\n");
		return 2;
	}
	md5_init(&m);
	fd = dial(argv[2], argv[3]);
	t0 = now_us();
	if (!strcmp(argv[1], "get")) {
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n < 0) {
				perror("nettool: read");
				return 1;
			}
			if (n == 0)
				break;
			md5_update(&m, buf, (size_t)n);
			total += (uint64_t)n;
		}
	} else {
		uint64_t want = strtoull(argv[4], NULL, 0);

		x ^= now_us();
		while (total < want) {
			size_t n = want - total < sizeof(buf) ? want - total : sizeof(buf), i, off = 0;

			for (i = 0; i < n; i += 8) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				memcpy(buf + i, &x, 8);
			}
			md5_update(&m, buf, n);
			while (off < n) {
				ssize_t w = write(fd, buf + off, n - off);

				if (w <= 0) {
					perror("nettool: write");
					return 1;
				}
				off += (size_t)w;
			}
			total += n;
		}
		shutdown(fd, SHUT_WR);
		/* Wait for the peer to close: every byte is then in. */
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	}
	md5_hex(&m, hex);
	printf("NET-%s %llu %s %llu\n", !strcmp(argv[1], "get") ? "GET" : "PUT",
	       (unsigned long long)total, hex, (unsigned long long)(now_us() - t0));
	return 0;
}
"""

# Runs in the guest. Few processes: each fork+exec costs about a second on PVM hosts.
# min_tso_segs: the guest's TCP then hands the device 64 KiB segments instead of 2-MSS ones.
GUEST_SCRIPT = f"""
echo 44 > /proc/sys/net/ipv4/tcp_min_tso_segs
read -r mac < /sys/class/net/eth0/address; echo "NET-MAC $mac"
ip addr add {GUEST_IP}/24 dev eth0
ip link set eth0 up
read -r carrier < /sys/class/net/eth0/carrier; echo "NET-CARRIER $carrier"
ping -c 3 -w 30 {HOST_IP}
# The MMDS: its address through eth0 (the stack answers ARP for it), V2's token, then a GET
# with it and one without. busybox nc half-closes after the request, the MMDS closes after
# the answer; the token is the answer's last line.
ip route add {MMDS_IP} dev eth0
mmds() {{ timeout 60 nc {MMDS_IP} 80; }}
T=$(printf 'PUT /latest/api/token HTTP/1.1\\r\\nX-metadata-token-ttl-seconds: 60\\r\\n\\r\\n' | mmds | tail -n 1)
echo "MMDS-TOKEN-LEN ${{#T}}"
R=$(printf 'GET /latest/meta-data/ami-id HTTP/1.1\\r\\nX-metadata-token: %s\\r\\n\\r\\n' "$T" | mmds)
echo "MMDS-GET $(echo "$R" | head -n 1) $(echo "$R" | tail -n 1)"
R=$(printf 'GET /latest/meta-data/ami-id HTTP/1.1\\r\\n\\r\\n' | mmds | head -n 1)
echo "MMDS-NO-TOKEN $R"
/nettool get {HOST_IP} {PORT}
/nettool put {HOST_IP} {PORT} {SMALL}
ip link set eth0 mtu 65000
/nettool get {HOST_IP} {PORT}
/nettool put {HOST_IP} {PORT} {BIG}
for f in rx_errors rx_length_errors rx_frame_errors tx_errors; do
  read -r v < /sys/class/net/eth0/statistics/$f; echo "NET-STAT $f $v"
done
echo NET-DONE
"""

# Host side, in the namespace: four connections from the guest in turn: send SMALL random
# bytes, receive, send BIG, receive. One JSON line per connection. Before the first, a burst
# of UDP at the guest (nobody listens) that outruns its receive buffers: the TCP data behind it
# must still arrive intact.
HOST_SERVER = r"""
import hashlib, json, os, socket, sys, time
ip, port, small, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
BURST = 400  # the guest's receive ring has 256 buffers
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
s.listen(1)
s.settimeout(600)
print("LISTENING", flush=True)
for i, (direction, size) in enumerate((("to", small), ("from", small), ("to", big),
                                       ("from", big))):
    c, peer = s.accept()
    c.settimeout(300)
    if i == 0:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(BURST):
            try:
                u.sendto(bytes(1400), (peer[0], 9))
            except OSError:
                pass
        u.close()
    t0 = time.monotonic()
    h, n = hashlib.md5(), 0
    if direction == "to":
        data = os.urandom(size)
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
        h.update(data)
        n = size
    else:
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
    c.close()
    print(json.dumps({"dir": direction, "bytes": n, "md5": h.hexdigest(),
                      "secs": time.monotonic() - t0}), flush=True)
"""


# Counts the frames on the TAP that carry the MMDS's address (ARP or IPv4), until SIGTERM.
SNIFF = r"""
import signal, socket, sys
tap, ip = sys.argv[1], socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((tap, 0))
n = 0
signal.signal(signal.SIGTERM, lambda *_: (print("SNIFFED", n, flush=True), sys.exit(0)))
print("SNIFFING", flush=True)
while True:
    f = s.recv(65600)
    if (f[12:14] == b"\x08\x06" and f[38:42] == ip) or (f[12:14] == b"\x08\x00" and f[30:34] == ip):
        n += 1
"""


class NetnsVolt(VoltProcess):
    """volt started inside a network namespace (`ip netns exec`)."""

    def __init__(self, ns, args, log_path):
        self.args = ["ip", "netns", "exec", ns, str(VOLT), *map(str, args)]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)


class NetLab:
    def __init__(self, ns, tap, tmp_path):
        self.ns, self.tap, self.tmp_path = ns, tap, tmp_path
        self.procs = []

    def ip(self, *args, check=True):
        return subprocess.run(["ip", "netns", "exec", self.ns, *args], capture_output=True,
                              text=True, check=check)

    def volt(self, *args):
        p = NetnsVolt(self.ns, args, self.tmp_path / f"volt-{len(self.procs)}.log")
        self.procs.append(p)
        return p

    def popen(self, *args):
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.procs.append(p)
        return p


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces and TAP devices")


@pytest.fixture
def netlab(tmp_path, kvm, volt_bin):
    """A namespace with lo up and a TAP at 172.16.0.1/24; always removed again, with
    everything started inside it."""
    need_root()
    ns, tap = f"volt-test-{os.getpid()}", f"vt{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
    lab = NetLab(ns, tap, tmp_path)
    try:
        lab.ip("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        lab.ip("ip", "link", "set", "lo", "up")
        lab.ip("ip", "tuntap", "add", "dev", tap, "mode", "tap")
        lab.ip("ip", "addr", "add", f"{HOST_IP}/24", "dev", tap)
        lab.ip("ip", "link", "set", tap, "mtu", "65000", "up")
        yield lab
    finally:
        for p in lab.procs:
            if isinstance(p, VoltProcess):
                p.kill()
            elif p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def guest_initrd(base, tmp_path):
    src = tmp_path / "nettool.c"
    src.write_text(NETTOOL_C)
    root = tmp_path / "extra"
    root.mkdir()
    cc = subprocess.run(["gcc", "-static", "-O2", "-o", str(root / "nettool"), str(src)],
                        capture_output=True, text=True)
    assert cc.returncode == 0, f"cannot build the guest helper (gcc -static):\n{cc.stderr}"
    (root / "net.sh").write_text(GUEST_SCRIPT)
    return initrd_with(base, root, ["nettool", "net.sh"], tmp_path / "initrd.cpio")


def vm_config(guest_kit, initrd, tap, tmp_path):
    """The VM as a Firecracker configuration file, and the MMDS's data for --metadata."""
    cfg, data = tmp_path / "vm_config.json", tmp_path / "metadata.json"
    cfg.write_text(json.dumps({
        "boot-source": {"kernel_image_path": str(guest_kit["vmlinux"]),
                        "initrd_path": str(initrd),
                        # i8042.*: probing the keyboard controller API VMs have is slow.
                        "boot_args": "console=ttyS0 reboot=k panic=-1 quiet i8042.noaux "
                                     'i8042.nomux i8042.dumbkbd volt.cmd="sh /net.sh"'},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": tap, "guest_mac": MAC}],
        "mmds-config": {"version": "V2", "network_interfaces": ["eth0"]},
    }))
    data.write_text(json.dumps({"latest": {"meta-data": {"ami-id": AMI_ID}}}))
    return cfg, data


def test_guest_pings_and_moves_data_both_ways(netlab, guest_kit, tmp_path):
    initrd = guest_initrd(guest_kit["initrd"], tmp_path)
    server = netlab.popen("python3", "-c", HOST_SERVER, HOST_IP, str(PORT), str(SMALL), str(BIG))
    assert server.stdout.readline().strip() == "LISTENING"
    # The MMDS's frames must not reach the TAP: count what the host sees for its address.
    sniff = netlab.popen("python3", "-c", SNIFF, netlab.tap, MMDS_IP)
    assert sniff.stdout.readline().strip() == "SNIFFING"
    cfg, data = vm_config(guest_kit, initrd, netlab.tap, tmp_path)
    p = netlab.volt("--config-file", cfg, "--no-api", "--metadata", data)
    t0 = time.monotonic()
    p.wait_for("VOLT-GUEST-READY", 300)
    t_ready = time.monotonic() - t0
    p.wait_for("NET-DONE", 300)
    assert p.wait_exit(60) == 0, p.output()[-3000:]
    out = p.output()
    server_out, _ = server.communicate(timeout=30)
    hosts = [json.loads(l) for l in server_out.splitlines() if l.startswith("{")]

    assert f"NET-MAC {MAC}" in out
    assert "NET-CARRIER 1" in out
    assert "3 packets transmitted, 3 packets received" in out, out[-3000:]
    rtt = re.search(r"round-trip min/avg/max = ([\d.]+)/([\d.]+)/([\d.]+) ms", out)
    guests = re.findall(r"NET-(GET|PUT) (\d+) ([0-9a-f]{32}) (\d+)", out)
    assert len(guests) == 4 and len(hosts) == 4, out[-3000:] + server_out
    report = [f"guest ready after {t_ready:.1f}s; its battery took "
              f"{time.monotonic() - t0 - t_ready:.1f}s",
              f"ping RTT min/avg/max {rtt.group(1)}/{rtt.group(2)}/{rtt.group(3)} ms"]
    for (kind, n, md5, us), host, size, mtu in zip(guests, hosts, (SMALL, SMALL, BIG, BIG),
                                                   (1500, 1500, 65000, 65000)):
        assert host["dir"] == ("to" if kind == "GET" else "from")
        assert int(n) == size and host["bytes"] == size, (kind, n, host)
        assert md5 == host["md5"], f"{kind} of {size} bytes at MTU {mtu}: checksums differ"
        secs = int(us) / 1e6
        report.append(f"{'host->guest' if kind == 'GET' else 'guest->host'} {size >> 20} MiB "
                      f"at MTU {mtu}: {secs:.1f}s in the guest, {size / secs / 1e6:.2f} MB/s")
    # The MMDS answered from inside the guest, and nothing for its address went to the TAP.
    assert int(re.search(r"MMDS-TOKEN-LEN (\d+)", out).group(1)) > 0, out[-3000:]
    # (Firecracker's micro_http writes no reason phrase: "HTTP/1.1 200 \r\n".)
    assert re.search(rf"MMDS-GET HTTP/1.1 200 \s*{AMI_ID}\r?\n", out), out[-3000:]
    assert re.search(r"MMDS-NO-TOKEN HTTP/1.1 401", out), out[-3000:]
    os.killpg(sniff.pid, 15)
    sniffed, _ = sniff.communicate(timeout=30)
    assert "SNIFFED 0" in sniffed, sniffed
    for stat in ("rx_errors", "rx_length_errors", "rx_frame_errors", "tx_errors"):
        assert f"NET-STAT {stat} 0" in out, out[-2000:]
    # The device's count at exit: segmentation offload was used both ways, nothing dropped.
    m = re.search(r"virtio-net \S+: (\d+) frames to the guest \((\d+) GSO, (\d+) dropped, "
                  r"(\d+) waits for buffers\), (\d+) from it \((\d+) GSO, (\d+) dropped\)", out)
    assert m, out[-2000:]
    to_guest, to_gso, to_drop, waits, from_guest, from_gso, from_drop = map(int, m.groups())
    assert to_gso > 0 and from_gso > 0, m.group(0)
    assert to_drop == 0 and from_drop == 0, m.group(0)
    # The UDP burst outran the guest's buffers (certain where its kernel runs emulated), so the
    # device stopped reading the TAP until the guest refilled, and nothing was lost by it.
    if host_is_pvm():
        assert waits > 0, m.group(0)
    print("\n" + "\n".join(report) + "\n" + m.group(0))


@pytest.mark.parametrize("spec, why", [
    ("tap=vt0,mac=52:54:00:zz:00:01", "bad MAC"),
    ("tap=vt0,mac=01:00:5e:00:00:01", "multicast"),
    ("tap=a-name-of-16-chr", "longer than 15"),
    ("tap=vt0,queues=2", "unknown option 'queues=2'"),
    ("mac=52:54:00:12:34:56", "missing tap=NAME"),
    ("tap=", "needs an interface name"),
])
def test_bad_net_options_are_refused(volt_bin, spec, why):
    r = run_volt("run", "--kernel", GUESTS / "hello", "--net", spec, timeout=30)
    assert r.returncode > 0, r
    assert f"--net '{spec}': " in r.stderr and why in r.stderr, r.stderr


def test_a_non_tap_interface_is_refused(kvm, volt_bin):
    need_root()
    r = run_volt("run", "--kernel", GUESTS / "hello", "--net", "tap=lo", timeout=60)
    assert r.returncode > 0, r
    assert "'lo' exists but is not a TAP device" in r.stderr, r.stderr


def test_taps_volt_cannot_use_are_refused_and_a_missing_one_created(netlab):
    """A single-queue TAP takes one user: the second --net on it must fail cleanly; so must a
    TUN device and a multi-queue TAP. A TAP that does not exist is created (root has
    CAP_NET_ADMIN) and goes away with volt."""
    pid = os.getpid()
    netlab.ip("ip", "tuntap", "add", "dev", f"tn{pid}", "mode", "tun")
    netlab.ip("ip", "tuntap", "add", "dev", f"mq{pid}", "mode", "tap", "multi_queue")
    for nets, why in (([netlab.tap, netlab.tap], f"'{netlab.tap}' is busy"),
                      ([f"tn{pid}"], "is a TUN device"),
                      ([f"mq{pid}"], "is a multi-queue TAP")):
        args = [a for n in nets for a in ("--net", f"tap={n}")]
        p = netlab.volt("run", "--kernel", GUESTS / "hello", *args)
        assert p.wait_exit(60) > 0, p.output()
        assert why in p.output(), p.output()
    fresh = f"vn{pid}"
    p = netlab.volt("run", "--kernel", GUESTS / "hello", "--net", f"tap={fresh}")
    assert p.wait_exit(60) == 0, p.output()
    assert "created the TAP device" in p.output(), p.output()
    assert netlab.ip("ip", "link", "show", fresh, check=False).returncode != 0
