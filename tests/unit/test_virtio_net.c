/* virtio-net without KVM: --net parsing, the receive path's placement of
 * frames into rings laid out by hand in real guest memory (mergeable buffers,
 * backpressure, drops), header checks both ways, and sending over a socket
 * pair standing in for the TAP. */
#include <criterion/criterion.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "core/guest_mem.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtq.h"

/* --- --net parsing ----------------------------------------------------------- */

static int parse(const char *spec, struct net_config *c, char *why)
{
	memset(why, 0, 256);
	return fields_parse_spec(&net_fields, spec, c, why, 256);
}

Test(virtio_net, parses_a_tap_and_a_mac)
{
	struct net_config c;
	char why[256];
	static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

	cr_assert_eq(parse("tap=vt0", &c, why), 0, "%s", why);
	cr_assert_str_eq(c.tap, "vt0");
	cr_assert_not(c.has_mac);
	cr_assert_eq(parse("mac=52:54:00:AB:cd:ef,tap=tap-long.name_1", &c, why), 0, "%s", why);
	cr_assert_str_eq(c.tap, "tap-long.name_1");
	cr_assert(c.has_mac);
	cr_assert_arr_eq(c.mac, want, 6);
}

static void assert_rejected(const char *spec, const char *reason)
{
	struct net_config c;
	char why[256];

	cr_assert_eq(parse(spec, &c, why), -EINVAL, "'%s' accepted", spec);
	cr_assert(strstr(why, reason), "'%s': reason '%s' lacks '%s'", spec, why, reason);
}

Test(virtio_net, rejects_bad_macs)
{
	assert_rejected("tap=vt0,mac=52:54:00:12:34", "bad MAC");
	assert_rejected("tap=vt0,mac=52:54:00:12:34:56:78", "bad MAC");
	assert_rejected("tap=vt0,mac=52-54-00-12-34-56", "bad MAC");
	assert_rejected("tap=vt0,mac=zz:54:00:12:34:56", "bad MAC");
	assert_rejected("tap=vt0,mac=5:54:00:12:34:56", "bad MAC");
	assert_rejected("tap=vt0,mac=", "bad MAC");
	assert_rejected("tap=vt0,mac=01:00:5e:00:00:01", "multicast");
	assert_rejected("tap=vt0,mac=00:00:00:00:00:00", "all zeros");
	assert_rejected("tap=vt0,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57", "twice");
}

Test(virtio_net, rejects_bad_names_and_options)
{
	struct net_config c;
	char why[256];

	assert_rejected("", "missing tap=NAME");
	assert_rejected("mac=52:54:00:12:34:56", "missing tap=NAME");
	assert_rejected("tap=", "needs an interface name");
	assert_rejected("tap=abcdefghijklmnop", "longer than 15");
	cr_assert_eq(parse("tap=abcdefghijklmno", &c, why), 0, "15 characters: %s", why);
	assert_rejected("tap=a/b", "'/'");
	assert_rejected("tap=tap%d", "'%'");
	assert_rejected("tap=a b", "not allowed");
	assert_rejected("tap=..", "not a valid interface name");
	assert_rejected("tap=vt0,tap=vt1", "twice");
	assert_rejected("tap=vt0,queues=4", "unknown option 'queues=4'");
	assert_rejected("tap=vt0,vhost", "unknown option 'vhost'");
	assert_rejected("vt0", "unknown option 'vt0'");
}

/* --- a receive queue in real guest memory ----------------------------------- */

#define DESC_GPA  0x10000ULL
#define AVAIL_GPA 0x20000ULL
#define USED_GPA  0x30000ULL
#define BUF_GPA	  0x100000ULL

struct ring {
	struct guest_mem m;
	struct virtq q;
	uint16_t next_desc;
	uint64_t next_buf;
};

static struct ring *ring_new(uint16_t size)
{
	struct ring *r = calloc(1, sizeof(*r));
	char why[160];

	cr_assert(r);
	cr_assert_eq(layout_guest_mem_init(&r->m, 128 << 20), 0);
	r->q.size = size;
	r->q.desc_gpa = DESC_GPA;
	r->q.avail_gpa = AVAIL_GPA;
	r->q.used_gpa = USED_GPA;
	cr_assert_eq(virtq_setup(&r->q, &r->m, 1024, why, sizeof(why)), 0, "%s", why);
	r->next_buf = BUF_GPA;
	return r;
}

static void ring_free(struct ring *r)
{
	guest_mem_free(&r->m);
	free(r);
}

/* Makes a chain of n descriptors (lens[i] bytes each) available; returns its head. */
static uint16_t add_chain(struct ring *r, const uint32_t *lens, unsigned int n, uint16_t flags)
{
	uint16_t head = r->next_desc;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint16_t d = (uint16_t)(r->next_desc++ % r->q.size);

		r->q.desc[d].addr = r->next_buf;
		r->q.desc[d].len = lens[i];
		r->q.desc[d].flags = flags | (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		r->q.desc[d].next = (uint16_t)(r->next_desc % r->q.size);
		r->next_buf += (lens[i] + 63) & ~63U;
	}
	r->q.avail->ring[r->q.avail->idx % r->q.size] = head % r->q.size;
	__atomic_store_n(&r->q.avail->idx, r->q.avail->idx + 1, __ATOMIC_RELEASE);
	return head % r->q.size;
}

static uint16_t add_buf(struct ring *r, uint32_t len)
{
	return add_chain(r, &len, 1, VRING_DESC_F_WRITE);
}

static void *buf_of(struct ring *r, uint16_t desc)
{
	return gpa_to_hva(&r->m, r->q.desc[desc].addr, r->q.desc[desc].len);
}

/* A frame of len bytes: a vnet header, then a recognisable pattern. */
static uint8_t *make_frame(size_t len)
{
	uint8_t *f = malloc(len);
	size_t i;

	memset(f, 0, NET_HDR_LEN);
	for (i = NET_HDR_LEN; i < len; i++)
		f[i] = (uint8_t)(i * 7 + 3);
	return f;
}

static uint16_t hdr_num_buffers(const void *first_buf)
{
	struct virtio_net_hdr_v1 h;

	memcpy(&h, first_buf, sizeof(h));
	return le16toh(h.num_buffers);
}

Test(virtio_net, spreads_a_frame_over_mergeable_buffers)
{
	struct ring *r = ring_new(16);
	struct net_rx *rx = calloc(1, sizeof(*rx));
	size_t len = 5000, off = 0;
	uint8_t *frame = make_frame(len);
	uint16_t heads[4];
	char why[160];
	int i;

	for (i = 0; i < 4; i++)
		heads[i] = add_buf(r, 1536);
	rx->frame = frame;
	rx->len = len;
	cr_assert_eq(net_rx_place(rx, &r->q, true, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(r->q.used->idx, 4);
	cr_assert_eq(hdr_num_buffers(buf_of(r, heads[0])), 4);
	for (i = 0; i < 4; i++) {
		uint32_t want = i < 3 ? 1536 : (uint32_t)(len - 3 * 1536);
		uint8_t *b = buf_of(r, heads[i]);

		cr_assert_eq(r->q.used->ring[i].id, heads[i]);
		cr_assert_eq(r->q.used->ring[i].len, want);
		if (i == 0)
			cr_assert_arr_eq(b + NET_HDR_LEN, frame + NET_HDR_LEN, want - NET_HDR_LEN);
		else
			cr_assert_arr_eq(b, frame + off, want);
		off += want;
	}
	free(frame);
	free(rx);
	ring_free(r);
}

Test(virtio_net, holds_a_frame_until_the_guest_adds_buffers)
{
	struct ring *r = ring_new(16);
	struct net_rx *rx = calloc(1, sizeof(*rx));
	size_t len = 4000;
	uint8_t *frame = make_frame(len), *got = malloc(len);
	uint16_t heads[3];
	char why[160];
	int i;

	heads[0] = add_buf(r, 1500);
	heads[1] = add_buf(r, 1500);
	rx->frame = frame;
	rx->len = len;
	cr_assert_eq(net_rx_place(rx, &r->q, true, why, sizeof(why)), -EAGAIN);
	/* Nothing of the frame may be visible to the driver yet. */
	cr_assert_eq(r->q.used->idx, 0);
	cr_assert_eq(rx->placed, 3000);
	cr_assert_eq(net_rx_place(rx, &r->q, true, why, sizeof(why)), -EAGAIN);
	heads[2] = add_buf(r, 1500);
	cr_assert_eq(net_rx_place(rx, &r->q, true, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(r->q.used->idx, 3);
	cr_assert_eq(hdr_num_buffers(buf_of(r, heads[0])), 3);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(r->q.used->ring[i].id, heads[i]);
		memcpy(got + 1500 * i, buf_of(r, heads[i]), r->q.used->ring[i].len);
	}
	cr_assert_eq(r->q.used->ring[2].len, 1000);
	cr_assert_arr_eq(got + NET_HDR_LEN, frame + NET_HDR_LEN, len - NET_HDR_LEN);
	free(got);
	free(frame);
	free(rx);
	ring_free(r);
}

Test(virtio_net, finds_num_buffers_in_a_header_split_over_descriptors)
{
	static const uint32_t lens[] = { 4, 7, 2, 600 };
	struct ring *r = ring_new(16);
	struct net_rx *rx = calloc(1, sizeof(*rx));
	uint8_t *frame = make_frame(1000);
	char why[160];
	uint16_t head = add_chain(r, lens, 4, VRING_DESC_F_WRITE);
	uint8_t *third;

	add_buf(r, 2000);
	rx->frame = frame;
	rx->len = 1000;
	cr_assert_eq(net_rx_place(rx, &r->q, true, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(r->q.used->idx, 2);
	cr_assert_eq(r->q.used->ring[0].id, head);
	cr_assert_eq(r->q.used->ring[0].len, 613);
	/* Bytes 10 and 11 of the header: the last of the second piece, the third's first. */
	cr_assert_eq(((uint8_t *)buf_of(r, (uint16_t)(head + 1)))[6], 2);
	third = buf_of(r, (uint16_t)(head + 2));
	cr_assert_eq(third[0], 0);
	free(frame);
	free(rx);
	ring_free(r);
}

Test(virtio_net, without_mergeable_buffers_one_buffer_per_frame)
{
	struct ring *r = ring_new(16);
	struct net_rx *rx = calloc(1, sizeof(*rx));
	uint8_t *frame = make_frame(1600);
	char why[160];
	uint16_t small = add_buf(r, 1000), big = add_buf(r, 2000);

	rx->frame = frame;
	rx->len = 1600;
	/* Too large for the buffer: dropped, and the buffer goes back empty. */
	cr_assert_eq(net_rx_place(rx, &r->q, false, why, sizeof(why)), 1);
	cr_assert_eq(r->q.used->idx, 1);
	cr_assert_eq(r->q.used->ring[0].id, small);
	cr_assert_eq(r->q.used->ring[0].len, 0);
	memset(rx, 0, sizeof(*rx));
	rx->frame = frame;
	rx->len = 1600;
	cr_assert_eq(net_rx_place(rx, &r->q, false, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(r->q.used->idx, 2);
	cr_assert_eq(r->q.used->ring[1].id, big);
	cr_assert_eq(r->q.used->ring[1].len, 1600);
	cr_assert_eq(hdr_num_buffers(buf_of(r, big)), 1);
	cr_assert_arr_eq((uint8_t *)buf_of(r, big) + NET_HDR_LEN, frame + NET_HDR_LEN,
			 1600 - NET_HDR_LEN);
	free(frame);
	free(rx);
	ring_free(r);
}

Test(virtio_net, drops_a_frame_larger_than_the_whole_ring)
{
	struct ring *r = ring_new(4);
	struct net_rx *rx = calloc(1, sizeof(*rx));
	uint8_t *frame = make_frame(1000);
	char why[160];
	int i;

	for (i = 0; i < 4; i++)
		add_buf(r, 100);
	rx->frame = frame;
	rx->len = 1000;
	cr_assert_eq(net_rx_place(rx, &r->q, true, why, sizeof(why)), 1);
	cr_assert_eq(r->q.used->idx, 4);
	for (i = 0; i < 4; i++)
		cr_assert_eq(r->q.used->ring[i].len, 0);
	free(frame);
	free(rx);
	ring_free(r);
}

Test(virtio_net, malformed_receive_buffers_break_the_queue)
{
	struct ring *r = ring_new(16);
	struct net_rx *rx = calloc(1, sizeof(*rx));
	uint8_t *frame = make_frame(100);
	uint32_t len = 200;
	char why[160];

	add_buf(r, 8); /* smaller than the header */
	rx->frame = frame;
	rx->len = 100;
	cr_assert_eq(net_rx_place(rx, &r->q, true, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "header"), "%s", why);
	memset(rx, 0, sizeof(*rx));
	rx->frame = frame;
	rx->len = 100;
	add_chain(r, &len, 1, 0); /* device-readable */
	cr_assert_eq(net_rx_place(rx, &r->q, true, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "readable"), "%s", why);
	/* A chain pointing outside guest RAM fails the pop itself. */
	memset(rx, 0, sizeof(*rx));
	rx->frame = frame;
	rx->len = 100;
	add_buf(r, 100);
	r->q.desc[2].addr = 1ULL << 40;
	cr_assert_eq(net_rx_place(rx, &r->q, true, why, sizeof(why)), -EINVAL);
	cr_assert_eq(r->q.used->idx, 0);
	free(frame);
	free(rx);
	ring_free(r);
}

/* --- header checks ------------------------------------------------------------- */

#define F(bit) (1ULL << (bit))

static size_t frame_with(uint8_t *buf, size_t len, uint8_t flags, uint8_t gso_type)
{
	struct virtio_net_hdr_v1 h = { .flags = flags, .gso_type = gso_type };

	h.num_buffers = htole16(77);
	memset(buf, 0xab, len);
	memcpy(buf, &h, sizeof(h));
	return len;
}

Test(virtio_net, checks_received_headers_against_the_features)
{
	uint64_t csum = F(VIRTIO_NET_F_GUEST_CSUM), tso = csum | F(VIRTIO_NET_F_GUEST_TSO4);
	struct virtio_net_hdr_v1 h;
	uint8_t buf[200];
	char why[160];

	cr_assert_eq(net_rx_check(buf, frame_with(buf, 20, 0, 0), 0, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "runt"));
	frame_with(buf, 100, 0, 0);
	cr_assert_eq(net_rx_check(buf, 100, 0, why, sizeof(why)), 0, "%s", why);
	memcpy(&h, buf, sizeof(h));
	cr_assert_eq(le16toh(h.num_buffers), 1);
	frame_with(buf, 100, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	cr_assert_eq(net_rx_check(buf, 100, 0, why, sizeof(why)), -EINVAL);
	cr_assert_eq(net_rx_check(buf, 100, csum, why, sizeof(why)), 0, "%s", why);
	frame_with(buf, 100, VIRTIO_NET_HDR_F_DATA_VALID, 0);
	cr_assert_eq(net_rx_check(buf, 100, 0, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(buf[0], 0, "DATA_VALID kept for a driver without GUEST_CSUM");
	frame_with(buf, 100, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(net_rx_check(buf, 100, csum, why, sizeof(why)), -EINVAL);
	cr_assert_eq(net_rx_check(buf, 100, tso, why, sizeof(why)), 0, "%s", why);
	frame_with(buf, 100, VIRTIO_NET_HDR_F_NEEDS_CSUM,
		   VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
	cr_assert_eq(net_rx_check(buf, 100, tso, why, sizeof(why)), -EINVAL);
	cr_assert_eq(net_rx_check(buf, 100, tso | F(VIRTIO_NET_F_GUEST_ECN), why, sizeof(why)), 0);
	frame_with(buf, 100, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP);
	cr_assert_eq(net_rx_check(buf, 100, tso | F(VIRTIO_NET_F_GUEST_UFO), why, sizeof(why)),
		     -EINVAL);
}

Test(virtio_net, checks_sent_headers_against_the_features)
{
	uint64_t f = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4);
	struct virtio_net_hdr_v1 h = { 0 };
	char why[160];

	cr_assert_eq(net_tx_check(&h, 60, 0, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(net_tx_check(&h, 13, 0, why, sizeof(why)), -EINVAL);
	cr_assert_eq(net_tx_check(&h, NET_FRAME_MAX, 0, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(net_tx_check(&h, NET_FRAME_MAX + 1, 0, why, sizeof(why)), -EINVAL);
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	cr_assert_eq(net_tx_check(&h, 60, f, why, sizeof(why)), -EINVAL);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = htole16(34);
	h.csum_offset = htole16(16);
	cr_assert_eq(net_tx_check(&h, 60, 0, why, sizeof(why)), -EINVAL, "CSUM not negotiated");
	cr_assert_eq(net_tx_check(&h, 60, f, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(net_tx_check(&h, 51, f, why, sizeof(why)), -EINVAL, "checksum beyond");
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = htole16(1448);
	h.hdr_len = htole16(66);
	cr_assert_eq(net_tx_check(&h, 60000, f, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(net_tx_check(&h, 60000, F(VIRTIO_NET_F_CSUM), why, sizeof(why)), -EINVAL);
	h.hdr_len = htole16(60001);
	cr_assert_eq(net_tx_check(&h, 60000, f, why, sizeof(why)), -EINVAL);
	h.hdr_len = htole16(66);
	h.gso_size = 0;
	cr_assert_eq(net_tx_check(&h, 60000, f, why, sizeof(why)), -EINVAL);
	h.gso_size = htole16(1448);
	h.flags = 0;
	cr_assert_eq(net_tx_check(&h, 60000, f, why, sizeof(why)), -EINVAL, "GSO without csum");
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	cr_assert_eq(net_tx_check(&h, 60000, f, why, sizeof(why)), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	cr_assert_eq(net_tx_check(&h, 60000, f | F(VIRTIO_NET_F_HOST_UFO), why, sizeof(why)),
		     -EINVAL);
}

Test(virtio_net, maps_accepted_offloads_to_the_tap)
{
	cr_assert_eq(net_tun_offloads(0), 0);
	cr_assert_eq(net_tun_offloads(F(VIRTIO_NET_F_GUEST_TSO4)), 0, "TSO needs GUEST_CSUM");
	cr_assert_eq(net_tun_offloads(F(VIRTIO_NET_F_GUEST_CSUM)), TUN_F_CSUM);
	cr_assert_eq(net_tun_offloads(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_ECN)),
		     TUN_F_CSUM, "ECN alone is refused by the TAP");
	cr_assert_eq(net_tun_offloads(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
				      F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN)),
		     TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
}

/* --- sending: a SOCK_SEQPACKET pair keeps frame boundaries like a TAP ------- */

static void elem_of(struct virtq_elem *e, uint8_t *buf, const size_t *cuts, unsigned int n)
{
	unsigned int i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < n; i++) {
		e->iov[i].iov_base = buf;
		e->iov[i].iov_len = cuts[i];
		buf += cuts[i];
		e->out_len += cuts[i];
	}
	e->out_num = n;
}

Test(virtio_net, sends_a_chain_as_one_frame)
{
	static const size_t cuts[] = { 5, 9, 100, 1, 385 };
	struct virtq_elem *e = malloc(sizeof(*e));
	uint8_t chain[500], got[1000];
	struct virtio_net_hdr_v1 h;
	char why[160];
	int sv[2];
	ssize_t n;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	frame_with(chain, sizeof(chain), 0, 0);
	for (size_t i = NET_HDR_LEN; i < sizeof(chain); i++)
		chain[i] = (uint8_t)i;
	elem_of(e, chain, cuts, 5);
	cr_assert_eq(net_tx_send(sv[0], e, 0, why, sizeof(why)), 0, "%s", why);
	n = read(sv[1], got, sizeof(got));
	cr_assert_eq(n, (ssize_t)sizeof(chain));
	memcpy(&h, got, sizeof(h));
	cr_assert_eq(h.num_buffers, 0, "num_buffers passed on to the TAP");
	cr_assert_arr_eq(got + NET_HDR_LEN, chain + NET_HDR_LEN, sizeof(chain) - NET_HDR_LEN);

	/* Too short for a header, and a header the features forbid: dropped. */
	elem_of(e, chain, cuts, 2);
	cr_assert_eq(net_tx_send(sv[0], e, 0, why, sizeof(why)), 1);
	elem_of(e, chain, cuts, 5);
	chain[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	cr_assert_eq(net_tx_send(sv[0], e, 0, why, sizeof(why)), 1);
	cr_assert(strstr(why, "VIRTIO_NET_F_CSUM"), "%s", why);
	close(sv[0]);
	close(sv[1]);
	free(e);
}

Test(virtio_net, a_full_tap_asks_to_retry)
{
	static const size_t cuts[] = { 12, 1000 };
	struct virtq_elem *e = malloc(sizeof(*e));
	uint8_t chain[1012], got[2000];
	char why[160];
	int sv[2], sent = 0;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	frame_with(chain, sizeof(chain), 0, 0);
	elem_of(e, chain, cuts, 2);
	while (net_tx_send(sv[0], e, 0, why, sizeof(why)) == 0)
		cr_assert(++sent < 100000, "the socket never filled up");
	cr_assert_eq(net_tx_send(sv[0], e, 0, why, sizeof(why)), -EAGAIN);
	cr_assert_eq(read(sv[1], got, sizeof(got)), (ssize_t)sizeof(chain));
	cr_assert_eq(net_tx_send(sv[0], e, 0, why, sizeof(why)), 0, "%s", why);
	close(sv[0]);
	close(sv[1]);
	free(e);
}

Test(virtio_net, parses_rate_limiters)
{
	struct net_config c;
	char why[256] = "";
	json_t *j;
	char *s;

	cr_assert_eq(parse("tap=vt0,rx_bw=1M/100,tx_ops=1000/1000+500,tx_bw=64K/10", &c, why), 0,
		     "%s", why);
	cr_assert_eq(c.rx_rate_limiter.bandwidth.size, 1 << 20);
	cr_assert_eq(c.rx_rate_limiter.bandwidth.refill_time, 100);
	cr_assert_not(rl_bucket_config_enabled(&c.rx_rate_limiter.ops));
	cr_assert_eq(c.tx_rate_limiter.ops.size, 1000);
	cr_assert_eq(c.tx_rate_limiter.ops.one_time_burst, 500);
	cr_assert_eq(c.tx_rate_limiter.bandwidth.size, 64 << 10);
	j = fields_to_json(&net_fields, &c);
	s = json_dumps(json_object_get(j, "rx_rate_limiter"), JSON_SORT_KEYS | JSON_COMPACT);
	cr_assert_str_eq(s, "{\"bandwidth\":{\"one_time_burst\":null,\"refill_time\":100,"
			    "\"size\":1048576},\"ops\":null}");
	free(s);
	json_decref(j);
	assert_rejected("tap=vt0,rx_ops=5", "rx_ops='5': expected SIZE/MS");
	assert_rejected("tap=vt0,tx_bw=1/1,tx_bw=2/2", "twice");
}
