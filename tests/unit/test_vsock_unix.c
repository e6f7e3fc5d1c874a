/* The Unix-socket side of virtio-vsock without a guest: the CONNECT line,
 * the "<uds>_<port>" paths, and the muxer driven through real AF_UNIX
 * sockets with hand-made guest packets. */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/vsock_csm.h"
#include "devices/virtio/vsock_proto.h"
#include "devices/virtio/vsock_unix.h"
#include "helpers.h"
#include "vsock_test.h"
#include "util/fs.h"

#define GUEST_CID 3
#define HDR_SIZE  sizeof(struct virtio_vsock_hdr)

static int connect_port(const char *line, uint32_t *port)
{
	return vsock_parse_connect(line, strlen(line), port);
}

Test(vsock_unix, connect_line)
{
	uint32_t port = 0;

	cr_assert_eq(connect_port("CONNECT 5000", &port), 0);
	cr_assert_eq(port, 5000);
	cr_assert_eq(connect_port("connect 52\r", &port), 0);
	cr_assert_eq(port, 52);
	cr_assert_eq(connect_port("  Connect\t4294967295  ", &port), 0);
	cr_assert_eq(port, 4294967295U);
	cr_assert_eq(connect_port("CONNECT 0", &port), 0);
	cr_assert_eq(port, 0);
	cr_assert_eq(connect_port("CONNECT 4294967296", &port), -EINVAL);
	cr_assert_eq(connect_port("CONNECT", &port), -EINVAL);
	cr_assert_eq(connect_port("CONNECT ", &port), -EINVAL);
	cr_assert_eq(connect_port("CONNECT5000", &port), -EINVAL);
	cr_assert_eq(connect_port("CONNECT -1", &port), -EINVAL);
	cr_assert_eq(connect_port("CONNECT 50x", &port), -EINVAL);
	cr_assert_eq(connect_port("CONNECT 50 60", &port), -EINVAL);
	cr_assert_eq(connect_port("CONNEC 50", &port), -EINVAL);
	cr_assert_eq(connect_port("", &port), -EINVAL);
	/* An embedded NUL is not a blank. */
	cr_assert_eq(vsock_parse_connect("CONNECT 5\0", 10, &port), -EINVAL);
}

Test(vsock_unix, port_path)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], uds[128], big[160];

	cr_assert_eq(vsock_port_path(path, sizeof(path), "/tmp/v.sock", 52), 0);
	cr_assert_str_eq(path, "/tmp/v.sock_52");
	cr_assert_eq(vsock_port_path(path, sizeof(path), "rel", 4294967295U), 0);
	cr_assert_str_eq(path, "rel_4294967295");
	/* 96 bytes and the longest suffix fill a sockaddr_un; one more does not. */
	snprintf(uds, sizeof(uds), "/%095d", 0);
	cr_assert_eq(vsock_port_path(path, sizeof(path), uds, 4294967295U), 0);
	snprintf(uds, sizeof(uds), "/%096d", 0);
	cr_assert_eq(vsock_port_path(path, sizeof(path), uds, 4294967295U), -ENAMETOOLONG);
	cr_assert_eq(vsock_port_path(path, sizeof(path), uds, 5), 0);
	cr_assert_eq(vsock_port_path(path, 8, "/tmp/v", 52), -ENAMETOOLONG);
	snprintf(uds, sizeof(uds), "/%0104d", 0);
	cr_assert_eq(vsock_port_path(big, sizeof(big), uds, 52), -ENAMETOOLONG,
		     "longer than a sockaddr_un, whatever the buffer");
}

static struct vsock_mux mux;
static char *dir, uds[108];
static struct virtq_elem rx;
static uint8_t rxbuf[HDR_SIZE + 65536];

static void teardown(void)
{
	if (!dir)
		return;
	vsock_mux_close(&mux);
	rm_rf(dir);
}

TestSuite(vsock_unix, .fini = teardown);

static void mux_up(void)
{
	dir = test_tmpdir();
	cr_assert_not_null(dir);
	snprintf(uds, sizeof(uds), "%s/v", dir);
	vsock_mux_init(&mux, GUEST_CID, uds);
	cr_assert_eq(vsock_mux_open(&mux), 0);
}

/* Serves the muxer's sockets until they are quiet for wait_ms. */
static void pump(int wait_ms)
{
	struct pollfd p = { .fd = vsock_mux_fd(&mux), .events = POLLIN };

	while (poll(&p, 1, wait_ms) == 1) {
		vsock_mux_process(&mux);
		vsock_mux_settle(&mux);
	}
}

/* The next packet for the guest; its length, 0 when there is none. */
static uint32_t guest_recv(struct virtio_vsock_hdr *h)
{
	uint32_t len;

	memset(rxbuf, 0, sizeof(rxbuf));
	rx.out_num = 0;
	rx.in_num = 1;
	rx.iov[0] = (struct iovec){ rxbuf, sizeof(rxbuf) };
	rx.in_len = sizeof(rxbuf);
	if (!vsock_mux_has_pkt(&mux))
		return 0;
	len = vsock_mux_recv_pkt(&mux, &rx);
	cr_assert_geq(len, HDR_SIZE);
	memcpy(h, rxbuf, HDR_SIZE);
	cr_assert_eq(le64toh(h->src_cid), VSOCK_HOST_CID);
	cr_assert_eq(le64toh(h->dst_cid), GUEST_CID);
	cr_assert_eq(le32toh(h->len), len - HDR_SIZE);
	return len;
}

static void expect(uint16_t op, uint32_t host_port, uint32_t guest_port)
{
	struct virtio_vsock_hdr h;

	cr_assert_gt(guest_recv(&h), 0, "no packet for the guest");
	cr_assert_eq(le16toh(h.op), op, "op %u, not %u", le16toh(h.op), op);
	cr_assert_eq(le32toh(h.src_port), host_port);
	cr_assert_eq(le32toh(h.dst_port), guest_port);
}

static void guest_send(uint16_t op, uint32_t host_port, uint32_t guest_port, const void *data,
		       uint32_t len)
{
	struct virtio_vsock_hdr h = guest_hdr(GUEST_CID, op, guest_port, host_port, len, 65536, 0);
	struct iovec iov[2] = { { &h, HDR_SIZE }, { (void *)data, len } };

	vsock_mux_send_pkt(&mux, &h, iov, 2, len);
}

static int client(const char *line, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(send(fd, line, len, 0), (ssize_t)len);
	pump(50);
	return fd;
}

/* Whether the muxer closed its end of fd. */
static bool closed(int fd)
{
	char b;

	return recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

Test(vsock_unix, host_client_reaches_the_guest)
{
	static const char line[] = "CONNECT 5000\nearly";
	char ok[32] = { 0 };
	struct virtio_vsock_hdr h;
	int fd;

	mux_up();
	fd = client(line, sizeof(line) - 1);
	expect(VIRTIO_VSOCK_OP_REQUEST, 1U << 30, 5000);
	cr_assert_eq(guest_recv(&h), 0);
	guest_send(VIRTIO_VSOCK_OP_RESPONSE, 1U << 30, 5000, NULL, 0);
	cr_assert_eq(recv(fd, ok, sizeof(ok) - 1, MSG_DONTWAIT), 14);
	cr_assert_str_eq(ok, "OK 1073741824\n");
	/* What followed the line is the guest's. */
	pump(50);
	cr_assert_eq(guest_recv(&h), HDR_SIZE + 5);
	cr_assert_eq(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(memcmp(rxbuf + HDR_SIZE, "early", 5), 0);
	guest_send(VIRTIO_VSOCK_OP_RW, 1U << 30, 5000, "hi", 2);
	cr_assert_eq(recv(fd, ok, sizeof(ok), MSG_DONTWAIT), 2);
	cr_assert_eq(memcmp(ok, "hi", 2), 0);
	/* The next client gets the next port. */
	client("connect 5001\r\n", 14);
	expect(VIRTIO_VSOCK_OP_REQUEST, (1U << 30) + 1, 5001);
}

Test(vsock_unix, request_line_in_pieces)
{
	int fd;

	mux_up();
	fd = client("CONN", 4);
	cr_assert_not(closed(fd));
	cr_assert_eq(send(fd, "ECT 7\n", 6, 0), 6);
	pump(50);
	expect(VIRTIO_VSOCK_OP_REQUEST, 1U << 30, 7);
}

Test(vsock_unix, hostile_lines_are_refused)
{
	static const char *const bad[] = {
		"HELLO 5000\n",
		"CONNECT 4294967296\n",
		"CONNECT -1\n",
		"CONNECT x\n",
		"CONNECT 50 60\n",
		"CONNECT\n",
		"\n",
		"CONNECT 5\0\n",
		"CONNECT 99999999999999999999\n",
		"GET / HTTP/1.1\r\n",
	};
	static const size_t len[] = { 11, 19, 11, 10, 14, 8, 1, 11, 29, 16 };
	struct virtio_vsock_hdr h;
	char junk[40];
	size_t i;
	int fd;

	mux_up();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = client(bad[i], len[i]);
		cr_assert(closed(fd), "'%s' not refused", bad[i]);
		close(fd);
	}
	/* A line is at most 32 bytes with its '\n'. */
	memset(junk, 'A', sizeof(junk));
	fd = client(junk, 31);
	cr_assert_not(closed(fd));
	cr_assert_eq(send(fd, junk, 1, 0), 1);
	pump(50);
	cr_assert(closed(fd));
	cr_assert_eq(guest_recv(&h), 0, "the guest heard of a refused client");
}

Test(vsock_unix, rst_for_unknown_connections)
{
	struct virtio_vsock_hdr h;

	mux_up();
	guest_send(VIRTIO_VSOCK_OP_RW, 1234, 77, "data", 4);
	expect(VIRTIO_VSOCK_OP_RST, 1234, 77);
	guest_send(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 1235, 78, NULL, 0);
	guest_send(VIRTIO_VSOCK_OP_SHUTDOWN, 1236, 79, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, 1235, 78);
	expect(VIRTIO_VSOCK_OP_RST, 1236, 79);
	/* An RST is never answered. */
	guest_send(VIRTIO_VSOCK_OP_RST, 1237, 80, NULL, 0);
	cr_assert_eq(guest_recv(&h), 0);
}

Test(vsock_unix, guest_connects_to_uds_port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int service = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0), fd;
	char b[8];

	mux_up();
	cr_assert_eq(vsock_port_path(sa.sun_path, sizeof(sa.sun_path), uds, 6000), 0);
	cr_assert_eq(bind(service, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(service, 4), 0);
	guest_send(VIRTIO_VSOCK_OP_REQUEST, 6000, 1025, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RESPONSE, 6000, 1025);
	fd = accept(service, NULL, NULL);
	cr_assert_geq(fd, 0);
	guest_send(VIRTIO_VSOCK_OP_RW, 6000, 1025, "ping", 4);
	cr_assert_eq(recv(fd, b, sizeof(b), MSG_DONTWAIT), 4);
	/* Nobody at <uds>_6001. */
	guest_send(VIRTIO_VSOCK_OP_REQUEST, 6001, 1026, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, 6001, 1026);
	/* The guest resets it: the service sees EOF, nothing is answered. */
	guest_send(VIRTIO_VSOCK_OP_RST, 6000, 1025, NULL, 0);
	cr_assert(closed(fd));
	cr_assert_not(vsock_mux_has_pkt(&mux));
}

Test(vsock_unix, unanswered_request_times_out)
{
	int fd;

	mux_up();
	fd = client("CONNECT 9\n", 10);
	expect(VIRTIO_VSOCK_OP_REQUEST, 1U << 30, 9);
	pump(VSOCK_CONNECT_TIMEOUT_MS + 500);
	cr_assert(closed(fd));
	expect(VIRTIO_VSOCK_OP_RST, 1U << 30, 9);
}

Test(vsock_unix, listener_path_is_checked_and_removed)
{
	struct vsock_mux other;
	struct stat st;
	char file[128];

	mux_up();
	vsock_mux_init(&other, GUEST_CID, uds);
	cr_assert_eq(vsock_mux_open(&other), -EADDRINUSE, "took a live socket");
	vsock_mux_close(&other);
	cr_assert_eq(stat(uds, &st), 0, "removed another's socket");
	snprintf(file, sizeof(file), "%s/file", dir);
	test_write(dir, "file", "x");
	vsock_mux_init(&other, GUEST_CID, file);
	cr_assert_eq(vsock_mux_open(&other), -EEXIST);
	vsock_mux_close(&other);
	cr_assert_eq(stat(file, &st), 0);
	vsock_mux_close(&mux);
	cr_assert_neq(stat(uds, &st), 0, "left its socket behind");
	/* An earlier run's socket is replaced. */
	cr_assert_eq(vsock_mux_open(&mux), 0);
}

/* Serves the muxer for ms, quiet or not; how many times it had work. */
static int pump_for(int ms)
{
	struct pollfd p = { .fd = vsock_mux_fd(&mux), .events = POLLIN };
	uint64_t end = vsock_now_ms() + (uint64_t)ms, now;
	int turns = 0;

	while ((now = vsock_now_ms()) < end)
		if (poll(&p, 1, (int)(end - now)) == 1) {
			vsock_mux_process(&mux);
			vsock_mux_settle(&mux);
			turns++;
		}
	return turns;
}

/* A client that connects and says nothing; -1 when the backlog is full. */
static int idle_client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	pump(0);
	return fd;
}

/* 300 clients that never send their CONNECT line held every connection's
 * slot: host clients and the guest's own connections were refused. */
Test(vsock_unix, idle_clients_give_way, .timeout = 60)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int service = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0), idle[300], i, n = 0;

	mux_up();
	for (i = 0; i < 300; i++)
		if ((idle[n] = idle_client()) >= 0)
			n++;
	cr_assert_geq(n, 290);
	cr_assert_leq(mux.npending, 64, "%u clients without a line kept", mux.npending);
	cr_assert_eq(mux.nconns, mux.npending);
	cr_assert(closed(idle[0]), "the oldest gave way");
	cr_assert_not(closed(idle[n - 1]));
	/* A client that sends its line at once gets through... */
	client("CONNECT 5000\n", 13);
	expect(VIRTIO_VSOCK_OP_REQUEST, 1U << 30, 5000);
	/* ...and so does the guest. */
	cr_assert_eq(vsock_port_path(sa.sun_path, sizeof(sa.sun_path), uds, 6000), 0);
	cr_assert_eq(bind(service, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(service, 4), 0);
	guest_send(VIRTIO_VSOCK_OP_REQUEST, 6000, 1025, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RESPONSE, 6000, 1025);
	for (i = 0; i < n; i++)
		close(idle[i]);
	close(service);
}

/* Out of descriptors, accept4() fails and the client stays in the backlog:
 * the listening socket stayed readable and the device thread spun on it (and
 * logged each turn). pump() returns only once the muxer is quiet. */
Test(vsock_unix, out_of_descriptors_the_listener_waits, .timeout = 30)
{
	struct rlimit was, low;
	int fds[20], i, next, turns;

	mux_up();
	for (i = 0; i < 20; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	next = dup(0); /* the lowest free descriptor */
	close(next);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = (struct rlimit){ (rlim_t)next + 2, was.rlim_max };
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	turns = pump_for(500);
	cr_assert_eq(mux.nconns, 2, "accepted while descriptors were left");
	/* A try every 100 ms: the timer, then the socket. */
	cr_assert_leq(turns, 40, "%d turns of the muxer in 0.5 s: it spins", turns);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	pump_for(300); /* the retry takes the rest */
	cr_assert_not(mux.listen_paused);
	cr_assert_eq(mux.nconns, 20);
	for (i = 0; i < 20; i++)
		close(fds[i]);
}
