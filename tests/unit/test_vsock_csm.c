/* The virtio-vsock connection state machine alone: one connection whose host
 * stream is one end of a socketpair, driven by hand-made guest packets. */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/virtq.h"
#include "devices/virtio/vsock_csm.h"
#include "devices/virtio/vsock_proto.h"
#include "vsock_test.h"

#define GUEST_CID  3
#define HOST_PORT  (1U << 30)
#define GUEST_PORT 5000U
#define HDR_SIZE   sizeof(struct virtio_vsock_hdr)

static struct iovec scratch[VIRTQ_MAX_SEGS];

/* c on one end of a socketpair in state; returns the host's end. */
static int conn_open(struct vsock_conn *c, enum vsock_conn_state state)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	memset(c, 0, sizeof(*c));
	vsock_conn_init(c, sv[0], state);
	return sv[1];
}

static struct virtio_vsock_hdr hdr(uint16_t op, uint32_t len, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	return guest_hdr(GUEST_CID, op, GUEST_PORT, HOST_PORT, len, buf_alloc, fwd_cnt);
}

/* The guest sends op with len bytes of data (may be NULL for a control packet). */
static const char *from_guest(struct vsock_conn *c, struct virtio_vsock_hdr h, const void *data,
			      const char **why)
{
	struct iovec iov[2] = { { &h, HDR_SIZE }, { (void *)data, le32toh(h.len) } };
	const char *dummy;

	return vsock_conn_from_guest(c, &h, iov, data ? 2 : 1, scratch, why ? why : &dummy);
}

static const char *guest_op(struct vsock_conn *c, uint16_t op, uint32_t flags)
{
	struct virtio_vsock_hdr h = hdr(op, 0, 65536, 0);

	h.flags = htole32(flags);
	return from_guest(c, h, NULL, NULL);
}

/* The control packet c owes, which must be op. */
static struct virtio_vsock_hdr control(struct vsock_conn *c, uint16_t op)
{
	struct virtio_vsock_hdr h;

	cr_assert(vsock_conn_control_due(c));
	vsock_conn_control(c, GUEST_CID, &h);
	cr_assert_eq(le16toh(h.op), op, "op %u, not %u", le16toh(h.op), op);
	cr_assert_eq(le64toh(h.src_cid), VSOCK_HOST_CID);
	cr_assert_eq(le64toh(h.dst_cid), GUEST_CID);
	cr_assert_eq(le32toh(h.src_port), c->host_port);
	cr_assert_eq(le32toh(h.dst_port), c->guest_port);
	cr_assert_eq(le32toh(h.buf_alloc), VSOCK_CONN_BUF_SIZE);
	cr_assert_eq(le32toh(h.fwd_cnt), c->fwd_cnt);
	return h;
}

/* Reads a packet for the guest into a buffer of room bytes; returns its payload length. */
static uint32_t to_guest(struct vsock_conn *c, uint8_t *buf, uint64_t room)
{
	struct virtio_vsock_hdr h;
	struct iovec iov = { buf, HDR_SIZE + room };
	uint32_t n = vsock_conn_data(c, GUEST_CID, &h, &iov, 1, room, scratch);

	if (n) {
		cr_assert_eq(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
		cr_assert_eq(le32toh(h.len), n);
	}
	return n;
}

/* An established guest-initiated connection whose guest advertised buf_alloc. */
static int established(struct vsock_conn *c, uint32_t buf_alloc)
{
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_REQUEST, 0, buf_alloc, 0);
	int host = conn_open(c, VSOCK_CONN_ESTABLISHED);

	vsock_conn_accept(c, HOST_PORT, GUEST_PORT, &h);
	control(c, VIRTIO_VSOCK_OP_RESPONSE);
	cr_assert_not(vsock_conn_control_due(c));
	return host;
}

Test(vsock_csm, host_initiated_handshake)
{
	struct vsock_conn c;
	char ok[32] = { 0 };
	int host = conn_open(&c, VSOCK_CONN_CMD);
	uint64_t before = vsock_now_ms();

	cr_assert_eq(vsock_conn_interest(&c), VSOCK_IO_READ);
	vsock_conn_connect(&c, HOST_PORT, GUEST_PORT);
	cr_assert_eq(c.state, VSOCK_CONN_REQUEST);
	cr_assert_eq(vsock_conn_interest(&c), 0);
	cr_assert_geq(c.deadline_ms, before + VSOCK_CONNECT_TIMEOUT_MS);
	control(&c, VIRTIO_VSOCK_OP_REQUEST);
	cr_assert(c.request_sent);
	cr_assert_null(guest_op(&c, VIRTIO_VSOCK_OP_RESPONSE, 0));
	cr_assert_not(c.killed);
	cr_assert_eq(c.state, VSOCK_CONN_ESTABLISHED);
	cr_assert_eq(c.deadline_ms, 0);
	cr_assert_eq(read(host, ok, sizeof(ok) - 1), 14);
	cr_assert_str_eq(ok, "OK 1073741824\n");
	cr_assert_eq(vsock_conn_interest(&c), VSOCK_IO_READ);
	cr_assert_eq(vsock_conn_peer_free(&c), 65536);
}

Test(vsock_csm, response_nobody_asked_for_is_reset)
{
	struct vsock_conn c;
	const char *why;

	/* The REQUEST is still queued: the guest cannot know the connection. */
	conn_open(&c, VSOCK_CONN_CMD);
	vsock_conn_connect(&c, HOST_PORT, GUEST_PORT);
	cr_assert_not_null(from_guest(&c, hdr(VIRTIO_VSOCK_OP_RESPONSE, 0, 0, 0), NULL, &why));
	cr_assert_str_eq(why, "RESPONSE");
	cr_assert(c.killed);
	cr_assert_not(c.rst_owed);
	/* An established one it knows. */
	established(&c, 65536);
	cr_assert_not_null(guest_op(&c, VIRTIO_VSOCK_OP_RESPONSE, 0));
	cr_assert(c.killed);
	cr_assert(c.rst_owed);
}

Test(vsock_csm, guest_initiated_connection_owes_a_response)
{
	struct vsock_conn c;
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_REQUEST, 0, 4096, 1000);

	conn_open(&c, VSOCK_CONN_ESTABLISHED);
	vsock_conn_accept(&c, 6000, GUEST_PORT, &h);
	cr_assert_eq(c.peer_buf_alloc, 4096);
	cr_assert_eq(c.peer_fwd_cnt, 1000);
	cr_assert_eq(vsock_conn_interest(&c), VSOCK_IO_READ);
	control(&c, VIRTIO_VSOCK_OP_RESPONSE);
	/* A second REQUEST for the same ports resets it. */
	guest_op(&c, VIRTIO_VSOCK_OP_REQUEST, 0);
	cr_assert(c.killed);
	cr_assert(c.rst_owed);
}

Test(vsock_csm, guest_rst_is_not_answered)
{
	struct vsock_conn c;

	established(&c, 65536);
	guest_op(&c, VIRTIO_VSOCK_OP_RST, 0);
	cr_assert(c.killed);
	cr_assert_not(c.rst_owed);
}

Test(vsock_csm, peer_free_follows_what_the_guest_consumed)
{
	static uint8_t buf[HDR_SIZE + 65536], junk[8192];
	struct vsock_conn c;
	int host = established(&c, 4096);

	cr_assert_eq(vsock_conn_peer_free(&c), 4096);
	cr_assert_not(vsock_conn_data_ready(&c), "nothing seen on the host stream yet");
	cr_assert_eq(write(host, junk, 3000), 3000);
	vsock_conn_host_ready(&c, VSOCK_IO_READ);
	cr_assert(c.readable);
	cr_assert_eq(vsock_conn_interest(&c), 0, "a readable stream is not watched");
	cr_assert(vsock_conn_data_ready(&c));
	cr_assert_eq(to_guest(&c, buf, 65536), 3000);
	cr_assert_eq(vsock_conn_peer_free(&c), 1096);
	/* Never more than the guest's credit, then it is asked for more. */
	cr_assert_eq(write(host, junk, 2000), 2000);
	cr_assert_eq(to_guest(&c, buf, 65536), 1096);
	cr_assert_eq(vsock_conn_peer_free(&c), 0);
	cr_assert_not(vsock_conn_data_ready(&c));
	control(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	cr_assert(c.credit_requested);
	/* The guest consumed 2000 bytes. */
	from_guest(&c, hdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 4096, 2000), NULL, NULL);
	cr_assert_eq(vsock_conn_peer_free(&c), 2000);
	cr_assert_not(c.credit_requested);
	cr_assert_eq(to_guest(&c, buf, 65536), 904);
	/* Empty now: the stream is watched again. */
	cr_assert_eq(to_guest(&c, buf, 65536), 0);
	cr_assert_not(c.readable);
	cr_assert_eq(vsock_conn_interest(&c), VSOCK_IO_READ);
	/* The buffer's room bounds a packet too. */
	cr_assert_eq(write(host, junk, 500), 500);
	vsock_conn_host_ready(&c, VSOCK_IO_READ);
	cr_assert_eq(to_guest(&c, buf, 100), 100);
}

Test(vsock_csm, counters_wrap)
{
	static uint8_t buf[HDR_SIZE + 4096], data[512], got[512];
	struct virtio_vsock_hdr h;
	struct vsock_conn c;
	int host = established(&c, 4096);

	/* Towards the host: rx_cnt and fwd_cnt pass 2^32. */
	c.rx_cnt = c.fwd_cnt = c.last_fwd_sent = 0xffffff00U;
	cr_assert_eq(vsock_conn_guest_credit(&c), VSOCK_CONN_BUF_SIZE);
	memset(data, 0x5a, sizeof(data));
	h = hdr(VIRTIO_VSOCK_OP_RW, sizeof(data), 4096, 0);
	cr_assert_null(from_guest(&c, h, data, NULL));
	cr_assert_not(c.killed);
	cr_assert_eq(c.rx_cnt, 0x100);
	cr_assert_eq(c.fwd_cnt, 0x100);
	cr_assert_eq(vsock_conn_guest_credit(&c), VSOCK_CONN_BUF_SIZE);
	cr_assert_eq(read(host, got, sizeof(got)), sizeof(got));
	cr_assert_eq(memcmp(got, data, sizeof(got)), 0);
	/* Towards the guest: tx_cnt passes 2^32 and the guest's fwd_cnt follows. */
	c.tx_cnt = 0xfffffff0U;
	from_guest(&c, hdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 4096, 0xfffffff0U), NULL, NULL);
	cr_assert_eq(vsock_conn_peer_free(&c), 4096);
	cr_assert_eq(write(host, data, 100), 100);
	vsock_conn_host_ready(&c, VSOCK_IO_READ);
	cr_assert_eq(to_guest(&c, buf, 4096), 100);
	cr_assert_eq(c.tx_cnt, 0x54);
	cr_assert_eq(vsock_conn_peer_free(&c), 3996);
	from_guest(&c, hdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 4096, 0x54), NULL, NULL);
	cr_assert_eq(vsock_conn_peer_free(&c), 4096);
}

Test(vsock_csm, sending_beyond_credit_is_reset)
{
	static uint8_t data[64];
	struct vsock_conn c;
	const char *why;

	established(&c, 65536);
	/* The guest was told of room for 10 more bytes only. */
	c.rx_cnt = VSOCK_CONN_BUF_SIZE - 10;
	cr_assert_eq(vsock_conn_guest_credit(&c), 10);
	cr_assert_null(from_guest(&c, hdr(VIRTIO_VSOCK_OP_RW, 10, 65536, 0), data, NULL));
	cr_assert_not(c.killed);
	cr_assert_eq(vsock_conn_guest_credit(&c), 10, "the host took them all");
	cr_assert_not_null(from_guest(&c, hdr(VIRTIO_VSOCK_OP_RW, 11, 65536, 0), data, &why));
	cr_assert_str_eq(why, "RW");
	cr_assert(c.killed);
	cr_assert(c.rst_owed);
}

Test(vsock_csm, data_only_on_an_open_connection)
{
	static uint8_t data[16];
	struct vsock_conn c;

	established(&c, 65536);
	guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	cr_assert_not(c.killed);
	cr_assert_not_null(from_guest(&c, hdr(VIRTIO_VSOCK_OP_RW, 16, 65536, 0), data, NULL));
	cr_assert(c.killed);
	cr_assert(c.rst_owed);
	/* A closing connection is reset without a complaint. */
	established(&c, 65536);
	c.state = VSOCK_CONN_CLOSING;
	cr_assert_null(from_guest(&c, hdr(VIRTIO_VSOCK_OP_RW, 16, 65536, 0), data, NULL));
	cr_assert(c.killed);
}

Test(vsock_csm, bytes_the_host_does_not_take_wait_in_the_buffer)
{
	static uint8_t data[65536], got[65536];
	int size = 4096, i;
	size_t total = 0, sent;
	struct vsock_conn c;
	int host = established(&c, 65536);

	setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(host, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	for (i = 0; i < (int)sizeof(data); i++)
		data[i] = (uint8_t)i;
	/* A full buffer's worth: the guest has no credit left. */
	for (sent = 0; sent < 4; sent++)
		cr_assert_null(
			from_guest(&c, hdr(VIRTIO_VSOCK_OP_RW, 65536, 65536, 0), data, NULL));
	cr_assert_gt(c.buf_len, 0);
	cr_assert_eq(c.rx_cnt, VSOCK_CONN_BUF_SIZE);
	cr_assert_eq(c.fwd_cnt + c.buf_len, c.rx_cnt, "every accepted byte is kept");
	cr_assert_eq(vsock_conn_guest_credit(&c), VSOCK_CONN_BUF_SIZE - c.buf_len);
	cr_assert(vsock_conn_interest(&c) & VSOCK_IO_WRITE);
	while (total < VSOCK_CONN_BUF_SIZE) {
		ssize_t n = read(host, got, sizeof(got));

		for (i = 0; i < n && got[i] == (uint8_t)(total + (size_t)i); i++)
			;
		cr_assert_eq(i, n < 0 ? 0 : n, "byte %zu is wrong", total + (size_t)i);
		if (n > 0)
			total += (size_t)n;
		vsock_conn_host_ready(&c, VSOCK_IO_WRITE);
		cr_assert_not(c.killed);
	}
	cr_assert_eq(c.buf_len, 0);
	cr_assert_eq(c.fwd_cnt, VSOCK_CONN_BUF_SIZE);
	cr_assert_eq(vsock_conn_interest(&c), VSOCK_IO_READ);
	/* The guest thought itself short of credit: it hears of the room. */
	control(&c, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	cr_assert_eq(c.last_fwd_sent, c.fwd_cnt);
}

Test(vsock_csm, host_half_close_and_close)
{
	static uint8_t buf[HDR_SIZE + 4096];
	struct virtio_vsock_hdr h;
	struct vsock_conn c;
	int host = established(&c, 65536);

	/* The host sends no more: SHUTDOWN(SEND), the guest may still send. */
	shutdown(host, SHUT_WR);
	vsock_conn_host_ready(&c, VSOCK_IO_READ);
	cr_assert_eq(to_guest(&c, buf, 4096), 0);
	cr_assert(c.host_eof);
	cr_assert_eq(c.state, VSOCK_CONN_ESTABLISHED);
	h = control(&c, VIRTIO_VSOCK_OP_SHUTDOWN);
	cr_assert_eq(le32toh(h.flags), VIRTIO_VSOCK_SHUTDOWN_SEND);
	/* Then it is gone both ways: SHUTDOWN(RCV|SEND) and a deadline for the RST. */
	close(host);
	vsock_conn_host_ready(&c, VSOCK_IO_HUP);
	cr_assert(c.hup);
	cr_assert_eq(c.state, VSOCK_CONN_CLOSING);
	cr_assert_gt(c.deadline_ms, 0);
	h = control(&c, VIRTIO_VSOCK_OP_SHUTDOWN);
	cr_assert_eq(le32toh(h.flags), VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	/* No credit update is owed to a closing connection. */
	guest_op(&c, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0);
	cr_assert_not(vsock_conn_control_due(&c));
	guest_op(&c, VIRTIO_VSOCK_OP_RST, 0);
	cr_assert(c.killed);
	cr_assert_not(c.rst_owed);
}

Test(vsock_csm, guest_shutdown_flags)
{
	struct vsock_conn c;
	char b;
	int host = established(&c, 65536);

	/* SEND: the host stream is shut for writing once nothing is buffered. */
	guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	cr_assert(c.guest_no_send);
	cr_assert(c.host_wr_shut);
	cr_assert_eq(read(host, &b, 1), 0);
	cr_assert_eq(vsock_conn_interest(&c), VSOCK_IO_READ);
	/* RCV too: nothing more to do but tell the guest with an RST. */
	guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV);
	cr_assert(c.killed);
	cr_assert(c.rst_owed);
	/* RCV alone: the host stream is no longer read. */
	established(&c, 65536);
	c.readable = true;
	guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV);
	cr_assert_not(c.killed);
	cr_assert_not(c.readable);
	cr_assert_eq(vsock_conn_interest(&c), 0);
	cr_assert_not(vsock_conn_data_ready(&c));
	/* A SHUTDOWN before the connection is open resets it. */
	conn_open(&c, VSOCK_CONN_CMD);
	vsock_conn_connect(&c, HOST_PORT, GUEST_PORT);
	control(&c, VIRTIO_VSOCK_OP_REQUEST);
	guest_op(&c, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND);
	cr_assert(c.killed);
	cr_assert(c.rst_owed);
}

Test(vsock_csm, host_stream_errors_reset)
{
	struct vsock_conn c;

	established(&c, 65536);
	vsock_conn_host_ready(&c, VSOCK_IO_ERR);
	cr_assert(c.killed);
	cr_assert(c.rst_owed);
	/* A host client that gives up before the guest answers. */
	conn_open(&c, VSOCK_CONN_CMD);
	vsock_conn_connect(&c, HOST_PORT, GUEST_PORT);
	control(&c, VIRTIO_VSOCK_OP_REQUEST);
	vsock_conn_host_ready(&c, VSOCK_IO_HUP);
	cr_assert(c.killed);
	cr_assert(c.rst_owed);
	/* Not yet known to the guest: forgotten quietly. */
	conn_open(&c, VSOCK_CONN_CMD);
	vsock_conn_reset(&c);
	cr_assert(c.killed);
	cr_assert_not(c.rst_owed);
}
