/* The MMDS network stack with hand-built guest frames: ARP, the TCP handshake,
 * requests in one or several segments, answers larger than the MSS and the
 * window, retransmission (timer and duplicate ACKs, with an injected clock),
 * RST, FIN, bad checksums, malformed frames and the connection limit. The
 * HTTP side is a test double: a request ends at an empty line, the answer is
 * "A" + answer_body bytes, "close" in the request closes the connection. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "devices/mmds/mmds_metrics.h"
#include "devices/mmds/mmds_stack.h"

#define MMDS_IP	 MMDS_DEFAULT_IPV4
#define GUEST_IP 0xa9fe0102u /* 169.254.1.2 */
#define GPORT	 40000
#define S	 1000000000ull

static const uint8_t guest_mac[6] = { 0x02, 0, 0, 0, 0, 1 };
static size_t answer_body = 10;
static unsigned int served;
static uint64_t fake_now = 1000 * S;

int mmds_http_serve(struct mmds *m, const uint8_t *in, size_t len, bool final, size_t *consumed,
		    uint8_t **out, size_t *out_len)
{
	const uint8_t *end = memmem(in, len, "\r\n\r\n", 4);
	size_t n;

	(void)m;
	if (!end && !final)
		return 0;
	served++;
	if (!end) {
		*consumed = len;
		*out = (uint8_t *)strdup("400");
		*out_len = 3;
		return 2;
	}
	*consumed = (size_t)(end + 4 - in);
	n = answer_body + 1;
	*out = malloc(n);
	(*out)[0] = 'A';
	for (size_t i = 1; i < n; i++)
		(*out)[i] = (uint8_t)('a' + i % 26);
	*out_len = n;
	return memmem(in, *consumed, "close", 5) ? 2 : 1;
}

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

/* --- frames ---------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint16_t csum(uint64_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint64_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint64_t pseudo(uint32_t a, uint32_t b, size_t len)
{
	return (a >> 16) + (a & 0xffff) + (b >> 16) + (b & 0xffff) + 6 + len;
}

struct tcp_in {
	uint16_t sport, dport, wnd;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *opt;
	size_t optlen;
	const void *data;
	size_t n;
	bool wnd0; /* wnd 0 means 65535 unless this */
};

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

static size_t eth(uint8_t *b, uint16_t type)
{
	memcpy(b, mmds_stack_default_mac, 6);
	memcpy(b + 6, guest_mac, 6);
	put16(b + 12, type);
	return 14;
}

static size_t tcp_frame(uint8_t *b, const struct tcp_in *t)
{
	uint8_t *ip = b + eth(b, 0x0800), *h = ip + 20;
	size_t thl = 20 + t->optlen, tl = thl + t->n;

	memset(ip, 0, 20 + thl);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tl));
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, GUEST_IP);
	put32(ip + 16, MMDS_IP);
	put16(ip + 10, csum(0, ip, 20));
	put16(h, t->sport ? t->sport : GPORT);
	put16(h + 2, t->dport ? t->dport : 80);
	put32(h + 4, t->seq);
	put32(h + 8, t->ack);
	h[12] = (uint8_t)(thl / 4 << 4);
	h[13] = t->flags;
	put16(h + 14, t->wnd0 ? 0 : t->wnd ? t->wnd : 65535);
	if (t->optlen)
		memcpy(h + 20, t->opt, t->optlen);
	if (t->n)
		memcpy(h + thl, t->data, t->n);
	put16(h + 16, csum(pseudo(GUEST_IP, MMDS_IP, tl), h, tl));
	return 14 + 20 + tl;
}

static size_t arp_frame(uint8_t *b, uint16_t op, uint32_t tpa)
{
	uint8_t *a = b + eth(b, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, guest_mac, 6);
	put32(a + 14, GUEST_IP);
	memset(a + 18, 0, 6);
	put32(a + 24, tpa);
	return 42;
}

/* A segment the stack sent, checked on the way: addresses and checksums. */
struct out {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t wnd, mss, sport, dport;
	uint8_t data[2000];
	size_t n;
};

static bool next_seg(struct mmds_stack *s, struct out *o)
{
	uint8_t b[MMDS_STACK_FRAME_MAX];
	size_t len = mmds_stack_next_frame(s, b, sizeof(b)), tl, thl;
	const uint8_t *ip = b + 14, *h = b + 34;

	if (!len)
		return false;
	cr_assert_geq(len, 54);
	cr_assert(!memcmp(b, guest_mac, 6));
	cr_assert(!memcmp(b + 6, mmds_stack_default_mac, 6));
	cr_assert_eq(get16(b + 12), 0x0800);
	cr_assert_eq(ip[0], 0x45);
	cr_assert_eq(get16(ip + 2), len - 14);
	cr_assert_eq(csum(0, ip, 20), 0, "IPv4 header checksum");
	cr_assert_eq(get32(ip + 12), MMDS_IP);
	cr_assert_eq(get32(ip + 16), GUEST_IP);
	tl = len - 34;
	cr_assert_eq(csum(pseudo(MMDS_IP, GUEST_IP, tl), h, tl), 0, "TCP checksum");
	memset(o, 0, sizeof(*o));
	o->sport = get16(h);
	o->dport = get16(h + 2);
	o->seq = get32(h + 4);
	o->ack = get32(h + 8);
	thl = (size_t)(h[12] >> 4) * 4;
	o->flags = h[13];
	o->wnd = get16(h + 14);
	if (thl == 24 && h[20] == 2 && h[21] == 4)
		o->mss = get16(h + 22);
	o->n = tl - thl;
	cr_assert_leq(o->n, sizeof(o->data));
	memcpy(o->data, h + thl, o->n);
	return true;
}

static struct mmds_stack *stack(void)
{
	struct mmds_stack *s;

	cr_assert_eq(mmds_stack_create(&s, NULL, MMDS_IP, mmds_stack_default_mac), 0);
	mmds_stack_set_clock(s, fake_clock, NULL);
	return s;
}

static bool send_seg(struct mmds_stack *s, const struct tcp_in *t)
{
	uint8_t b[4096];

	return mmds_stack_detour(s, b, tcp_frame(b, t), false);
}

/* The handshake; returns our ISS + 1 (the first answer byte's sequence). */
static uint32_t connect(struct mmds_stack *s, uint16_t port, uint16_t mss, uint32_t gseq)
{
	uint8_t opt[4] = { 2, 4, (uint8_t)(mss >> 8), (uint8_t)mss };
	struct out o;

	cr_assert(send_seg(
		s, &(struct tcp_in){
			   .sport = port, .seq = gseq, .flags = SYN, .opt = opt, .optlen = 4 }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, SYN | ACK);
	cr_assert_eq(o.ack, gseq + 1);
	cr_assert_eq(o.mss, MMDS_STACK_MSS);
	cr_assert_eq(o.dport, port);
	cr_assert_eq(o.sport, 80);
	cr_assert(send_seg(
		s, &(struct tcp_in){
			   .sport = port, .seq = gseq + 1, .ack = o.seq + 1, .flags = ACK }));
	cr_assert(!mmds_stack_pending(s));
	return o.seq + 1;
}

static const char GET[] = "GET /x HTTP/1.1\r\n\r\n";

static void init(void)
{
	answer_body = 10;
	served = 0;
	fake_now = 1000 * S;
}

TestSuite(mmds_stack, .init = init);

/* --- ARP and what is not the MMDS's ------------------------------------------ */

Test(mmds_stack, arp_request_gets_a_reply)
{
	struct mmds_stack *s = stack();
	uint8_t b[64], r[MMDS_STACK_FRAME_MAX];
	size_t len;

	cr_assert(mmds_stack_detour(s, b, arp_frame(b, 1, MMDS_IP), false));
	cr_assert(mmds_stack_pending(s));
	len = mmds_stack_next_frame(s, r, sizeof(r));
	cr_assert_eq(len, 42);
	cr_assert(!memcmp(r, guest_mac, 6));
	cr_assert(!memcmp(r + 6, mmds_stack_default_mac, 6));
	cr_assert_eq(get16(r + 12), 0x0806);
	cr_assert_eq(get16(r + 14 + 6), 2, "a reply");
	cr_assert(!memcmp(r + 14 + 8, mmds_stack_default_mac, 6), "sender: the MMDS MAC");
	cr_assert_eq(get32(r + 14 + 14), MMDS_IP);
	cr_assert(!memcmp(r + 14 + 18, guest_mac, 6));
	cr_assert_eq(get32(r + 14 + 24), GUEST_IP);
	cr_assert(!mmds_stack_pending(s));
	cr_assert_eq(mmds_stack_next_frame(s, r, sizeof(r)), 0);
	mmds_stack_destroy(s);
}

Test(mmds_stack, frames_for_others_pass)
{
	struct mmds_stack *s = stack();
	uint8_t b[128] = { 0 };
	size_t len;

	/* ARP for another address, an ARP reply for ours (consumed, no answer). */
	cr_assert(!mmds_stack_detour(s, b, arp_frame(b, 1, GUEST_IP + 1), false));
	cr_assert(mmds_stack_detour(s, b, arp_frame(b, 2, MMDS_IP), false));
	cr_assert(!mmds_stack_pending(s));
	/* IPv4 to another address. */
	len = tcp_frame(b, &(struct tcp_in){ .flags = SYN });
	put32(b + 14 + 16, 0x08080808);
	cr_assert(!mmds_stack_detour(s, b, len, false));
	/* IPv6, runts, an ARP too short to name its target. */
	put16(b + 12, 0x86dd);
	cr_assert(!mmds_stack_detour(s, b, len, false));
	for (size_t n = 0; n < 34; n++)
		cr_assert(!mmds_stack_detour(s, b, n, false));
	len = arp_frame(b, 1, MMDS_IP);
	cr_assert(!mmds_stack_detour(s, b, len - 1, false));
	cr_assert(!mmds_stack_pending(s));
	mmds_stack_destroy(s);
}

/* --- TCP ------------------------------------------------------------------------- */

Test(mmds_stack, get_in_one_segment)
{
	struct mmds_stack *s = stack();
	uint32_t iss1 = connect(s, GPORT, 1460, 100);
	struct out o;

	cr_assert_eq(mmds_stack_connections(s), 1);
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 101,
						.ack = iss1,
						.flags = ACK | PSH,
						.data = GET,
						.n = strlen(GET) }));
	cr_assert_eq(served, 1);
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, ACK | PSH);
	cr_assert_eq(o.seq, iss1);
	cr_assert_eq(o.ack, 101 + strlen(GET));
	cr_assert_eq(o.n, 11);
	cr_assert_eq(o.data[0], 'A');
	cr_assert_eq(o.wnd, MMDS_HTTP_REQUEST_MAX);
	cr_assert(!next_seg(s, &o));
	/* Unacked: the timer runs. */
	cr_assert_eq(mmds_stack_deadline(s), fake_now + MMDS_STACK_RTO_NS);
	cr_assert(send_seg(
		s, &(struct tcp_in){ .seq = 101 + strlen(GET), .ack = iss1 + 11, .flags = ACK }));
	cr_assert(!mmds_stack_pending(s));
	cr_assert_eq(mmds_stack_deadline(s), 0);
	cr_assert_eq(mmds_stack_connections(s), 1);
	mmds_stack_destroy(s);
}

Test(mmds_stack, get_over_several_segments_out_of_order_ignored)
{
	struct mmds_stack *s = stack();
	uint32_t iss1 = connect(s, GPORT, 1460, 7), seq = 8;
	struct out o;

	/* A segment past a hole: not taken, a duplicate ACK says where we are. */
	cr_assert(send_seg(
		s, &(struct tcp_in){
			   .seq = seq + 5, .ack = iss1, .flags = ACK, .data = GET + 5, .n = 5 }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.ack, seq);
	cr_assert_eq(o.n, 0);
	cr_assert(send_seg(
		s, &(struct tcp_in){ .seq = seq, .ack = iss1, .flags = ACK, .data = GET, .n = 5 }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.ack, seq + 5);
	cr_assert_eq(o.wnd, MMDS_HTTP_REQUEST_MAX - 5);
	cr_assert_eq(served, 0);
	/* Overlapping what we have: only the new bytes count. */
	cr_assert(send_seg(
		s, &(struct tcp_in){
			   .seq = seq + 2, .ack = iss1, .flags = ACK, .data = GET + 2, .n = 8 }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.ack, seq + 10);
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = seq + 10,
						.ack = iss1,
						.flags = ACK,
						.data = GET + 10,
						.n = strlen(GET) - 10 }));
	cr_assert_eq(served, 1);
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.n, 11);
	cr_assert_eq(o.ack, seq + strlen(GET));
	mmds_stack_destroy(s);
}

/* Reads the answer: segments of at most mss, never more in flight than wnd. */
Test(mmds_stack, answer_larger_than_mss_and_window)
{
	struct mmds_stack *s;
	uint32_t iss1, una, gseq = 1000 + 1 + (uint32_t)strlen(GET);
	static uint8_t got[6000];
	size_t have = 0, total;
	struct out o;
	int rounds = 0;

	answer_body = 5000;
	total = answer_body + 1;
	s = stack();
	iss1 = connect(s, GPORT, 536, 1000);
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 1001,
						.ack = iss1,
						.flags = ACK,
						.wnd = 2000,
						.data = GET,
						.n = strlen(GET) }));
	una = iss1;
	while (have < total) {
		size_t burst = 0;

		cr_assert_lt(rounds++, 20);
		while (next_seg(s, &o)) {
			cr_assert_leq(o.n, 536);
			cr_assert_eq(o.seq, iss1 + have);
			memcpy(got + have, o.data, o.n);
			have += o.n;
			burst += o.n;
		}
		cr_assert_leq(burst, 2000);
		cr_assert_gt(burst, 0);
		una = iss1 + (uint32_t)have;
		cr_assert(send_seg(
			s, &(struct tcp_in){ .seq = gseq, .ack = una, .flags = ACK, .wnd = 2000 }));
	}
	cr_assert_eq(have, total);
	cr_assert_eq(got[0], 'A');
	for (size_t i = 1; i < total; i++)
		cr_assert_eq(got[i], 'a' + i % 26);
	cr_assert(!mmds_stack_pending(s));
	mmds_stack_destroy(s);
}

/* A connection (MSS 1000) whose GET asked for a 3001-byte answer, sent at
 * once in 4 segments and none acked yet; *iss1 is our ISS + 1. */
static struct mmds_stack *asked_3001(uint32_t *iss1)
{
	struct mmds_stack *s = stack();
	struct out o;
	int n = 0;

	answer_body = 3000;
	*iss1 = connect(s, GPORT, 1000, 0);
	cr_assert(send_seg(
		s, &(struct tcp_in){
			   .seq = 1, .ack = *iss1, .flags = ACK, .data = GET, .n = strlen(GET) }));
	while (next_seg(s, &o))
		n++;
	cr_assert_eq(n, 4, "3001 bytes in 4 segments of 1000 at most, not %d", n);
	return s;
}

Test(mmds_stack, retransmits_on_timeout_and_dup_acks)
{
	struct mmds_stack *s;
	uint32_t iss1, gseq = 1 + (uint32_t)strlen(GET);
	struct out o;

	s = asked_3001(&iss1);
	/* Nothing acked: the timer goes back to the first byte. */
	cr_assert(mmds_stack_deadline(s));
	fake_now = mmds_stack_deadline(s) - 1;
	mmds_stack_timer(s);
	cr_assert(!mmds_stack_pending(s), "not before the deadline");
	fake_now++;
	mmds_stack_timer(s);
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.seq, iss1);
	cr_assert_eq(o.n, 1000);
	/* The guest has the first 1000 (ACK), then three duplicate ACKs. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = gseq, .ack = iss1 + 1000, .flags = ACK }));
	while (next_seg(s, &o))
		;
	for (int i = 0; i < 3; i++)
		cr_assert(send_seg(
			s, &(struct tcp_in){ .seq = gseq, .ack = iss1 + 1000, .flags = ACK }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.seq, iss1 + 1000, "fast retransmit");
	mmds_stack_destroy(s);
}

/* Three duplicate ACKs resend the segment the guest lacks, not the whole
 * flight: 162 bytes of ACKs made it resend 3 KB here (50 KB at a time in a
 * live guest). */
Test(mmds_stack, fast_retransmit_is_one_segment)
{
	struct mmds_stack *s;
	uint32_t iss1, gseq = 1 + (uint32_t)strlen(GET);
	struct out o;
	int more = 0;

	s = asked_3001(&iss1);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3; i++)
			cr_assert(send_seg(
				s, &(struct tcp_in){ .seq = gseq, .ack = iss1, .flags = ACK }));
		cr_assert(next_seg(s, &o));
		cr_assert_eq(o.seq, iss1, "the first unacknowledged segment");
		cr_assert_eq(o.n, 1000);
		while (next_seg(s, &o))
			more++;
		cr_assert_eq(more, 0, "%d more segments resent after the lost one", more);
	}
	/* The guest got it all: nothing more, nothing lost. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = gseq, .ack = iss1 + 3001, .flags = ACK }));
	cr_assert(!next_seg(s, &o));
	mmds_stack_destroy(s);
}

/* A guest that acks nothing had the whole window resent at every timeout
 * (50 KB each 1.2 s, 15 times); RFC 5681's loss window is one segment. */
Test(mmds_stack, a_timeout_resends_one_segment_until_acked)
{
	struct mmds_stack *s;
	uint32_t iss1, gseq = 1 + (uint32_t)strlen(GET);
	struct out o;
	int n;

	s = asked_3001(&iss1);
	for (int round = 0; round < 3; round++) {
		fake_now = mmds_stack_deadline(s);
		mmds_stack_timer(s);
		for (n = 0; next_seg(s, &o); n++)
			cr_assert_eq(o.seq, iss1);
		cr_assert_eq(n, 1, "%d segments resent after a timeout", n);
	}
	/* Acked: the rest goes as the window allows. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = gseq, .ack = iss1 + 1000, .flags = ACK }));
	for (n = 0; next_seg(s, &o); n++)
		;
	cr_assert_eq(n, 3);
	mmds_stack_destroy(s);
}

/* A connection whose GET came with a closed window: the answer waits.
 * *iss1 is our ISS + 1. */
static struct mmds_stack *asked_with_a_closed_window(uint32_t *iss1)
{
	struct mmds_stack *s = stack();

	*iss1 = connect(s, GPORT, 1460, 0);
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 1,
						.ack = *iss1,
						.flags = ACK,
						.data = GET,
						.n = strlen(GET),
						.wnd0 = true }));
	return s;
}

/* A guest whose reader stalls answers every probe with a closed window: it is
 * there, so the connection stays (it was reset after MMDS_STACK_RTO_MAX
 * probes, ~19 s); a guest that answers nothing still loses it. */
Test(mmds_stack, answered_zero_window_probes_keep_the_connection)
{
	uint32_t iss1, gseq = 1 + (uint32_t)strlen(GET);
	struct mmds_stack *s = asked_with_a_closed_window(&iss1);
	struct out o;

	while (next_seg(s, &o))
		;
	for (int i = 0; i < 3 * MMDS_STACK_RTO_MAX; i++) {
		cr_assert(mmds_stack_deadline(s), "probe %d: no timer", i);
		fake_now = mmds_stack_deadline(s);
		mmds_stack_timer(s);
		cr_assert(next_seg(s, &o), "probe %d", i);
		cr_assert_eq(o.flags & RST, 0, "reset after %d answered probes", i);
		cr_assert_eq(o.seq, iss1);
		while (next_seg(s, &o))
			;
		cr_assert(send_seg(
			s,
			&(struct tcp_in){ .seq = gseq, .ack = iss1, .flags = ACK, .wnd0 = true }));
		while (next_seg(s, &o))
			;
	}
	cr_assert_eq(mmds_stack_connections(s), 1);
	/* The window opens: the whole answer. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = gseq, .ack = iss1, .flags = ACK }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.seq, iss1);
	cr_assert_eq(o.n, 11);
	mmds_stack_destroy(s);
}

Test(mmds_stack, gives_up_after_rto_max)
{
	struct mmds_stack *s = stack();
	uint8_t opt[4] = { 2, 4, 5, 0xb4 };
	struct out o;

	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 5, .flags = SYN, .opt = opt, .optlen = 4 }));
	for (int i = 0; i <= MMDS_STACK_RTO_MAX; i++) {
		cr_assert(next_seg(s, &o));
		cr_assert_eq(o.flags, SYN | ACK, "the SYN-ACK again");
		fake_now = mmds_stack_deadline(s);
		mmds_stack_timer(s);
	}
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags & RST, RST);
	cr_assert_eq(mmds_stack_connections(s), 0);
	cr_assert_eq(mmds_stack_deadline(s), 0);
	mmds_stack_destroy(s);
}

Test(mmds_stack, zero_window_is_probed)
{
	uint32_t iss1, gseq = 1 + (uint32_t)strlen(GET);
	struct mmds_stack *s = asked_with_a_closed_window(&iss1);
	struct out o;

	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.n, 0, "only the ACK");
	cr_assert(!next_seg(s, &o));
	cr_assert(mmds_stack_deadline(s), "the probe timer runs");
	fake_now = mmds_stack_deadline(s);
	mmds_stack_timer(s);
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.n, 1, "a one-byte probe");
	cr_assert_eq(o.seq, iss1);
	/* The window opens: the rest. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = gseq, .ack = iss1 + 1, .flags = ACK }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.seq, iss1 + 1);
	cr_assert_eq(o.n, 10);
	mmds_stack_destroy(s);
}

Test(mmds_stack, fin_after_close_answer_and_done)
{
	static const char req[] = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct mmds_stack *s = stack();
	uint32_t iss1 = connect(s, GPORT, 1460, 0), gseq = 1 + (uint32_t)strlen(req);
	struct out o;

	cr_assert(send_seg(
		s, &(struct tcp_in){
			   .seq = 1, .ack = iss1, .flags = ACK, .data = req, .n = strlen(req) }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.n, 11);
	cr_assert_eq(o.flags, ACK | PSH | FIN, "the answer and the FIN together");
	cr_assert(!next_seg(s, &o));
	/* The guest acks data and FIN, then sends its FIN: a last ACK, gone. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = gseq, .ack = iss1 + 12, .flags = ACK }));
	cr_assert_eq(mmds_stack_connections(s), 1);
	cr_assert(
		send_seg(s, &(struct tcp_in){ .seq = gseq, .ack = iss1 + 12, .flags = ACK | FIN }));
	cr_assert_eq(mmds_stack_connections(s), 0);
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, ACK);
	cr_assert_eq(o.ack, gseq + 1);
	cr_assert_eq(o.seq, iss1 + 12);
	cr_assert(!next_seg(s, &o));
	mmds_stack_destroy(s);
}

Test(mmds_stack, guest_fin_first)
{
	struct mmds_stack *s = stack();
	uint32_t iss1 = connect(s, GPORT, 1460, 0), gseq = 1 + (uint32_t)strlen(GET);
	struct out o;

	/* Request and FIN in one segment: answer, then our FIN. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 1,
						.ack = iss1,
						.flags = ACK | FIN,
						.data = GET,
						.n = strlen(GET) }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.ack, gseq + 1);
	cr_assert_eq(o.n, 11);
	cr_assert_eq(o.flags, ACK | PSH | FIN);
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = gseq + 1, .ack = iss1 + 12, .flags = ACK }));
	cr_assert_eq(mmds_stack_connections(s), 0);
	mmds_stack_destroy(s);
}

Test(mmds_stack, oversized_request_is_answered_and_closed)
{
	struct mmds_stack *s = stack();
	uint32_t iss1 = connect(s, GPORT, 1460, 0), seq = 1;
	static char junk[1000];
	struct out o;

	memset(junk, 'x', sizeof(junk));
	for (int i = 0; i < 4; i++, seq += 1000) {
		cr_assert(send_seg(
			s,
			&(struct tcp_in){
				.seq = seq, .ack = iss1, .flags = ACK, .data = junk, .n = 1000 }));
		cr_assert(next_seg(s, &o));
		cr_assert_eq(o.wnd, MMDS_HTTP_REQUEST_MAX - (i + 1) * 1000);
	}
	cr_assert_eq(served, 0);
	/* 96 bytes fit in the window: the rest is not taken. */
	cr_assert(send_seg(
		s, &(struct tcp_in){
			   .seq = seq, .ack = iss1, .flags = ACK, .data = junk, .n = 1000 }));
	cr_assert_eq(served, 1);
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.ack, 1 + MMDS_HTTP_REQUEST_MAX);
	cr_assert_eq(o.n, 3);
	cr_assert_eq(o.flags & FIN, FIN);
	mmds_stack_destroy(s);
}

Test(mmds_stack, rst_for_unknown_and_from_guest)
{
	struct mmds_stack *s = stack();
	struct out o;
	uint32_t iss1;

	/* An ACK nobody expects: RST with its ack as the sequence. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 9, .ack = 12345, .flags = ACK }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, RST);
	cr_assert_eq(o.seq, 12345);
	/* A SYN to another port: RST+ACK. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 9, .dport = 22, .flags = SYN }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, RST | ACK);
	cr_assert_eq(o.ack, 10);
	cr_assert_eq(o.sport, 22);
	/* A RST is never answered. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 9, .flags = RST }));
	cr_assert(!mmds_stack_pending(s));
	/* A RST outside the window is ignored; in it, the connection goes. The
	 * window is [rcv_nxt, rcv_nxt + MMDS_HTTP_REQUEST_MAX): its end is out. */
	iss1 = connect(s, GPORT, 1460, 50);
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 10, .flags = RST }));
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 51 + MMDS_HTTP_REQUEST_MAX, .flags = RST }));
	cr_assert_eq(mmds_stack_connections(s), 1);
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 51, .ack = iss1, .flags = RST | ACK }));
	cr_assert_eq(mmds_stack_connections(s), 0);
	cr_assert(!mmds_stack_pending(s));
	mmds_stack_destroy(s);
}

Test(mmds_stack, bad_checksums_are_dropped)
{
	struct mmds_stack *s = stack();
	uint64_t err = mmds_metrics.rx_accepted_err;
	uint8_t b[256];
	size_t len;

	len = tcp_frame(b, &(struct tcp_in){ .seq = 1, .flags = SYN });
	b[14 + 10] ^= 1; /* IPv4 header checksum */
	cr_assert(mmds_stack_detour(s, b, len, false));
	cr_assert(!mmds_stack_pending(s));
	len = tcp_frame(b, &(struct tcp_in){ .seq = 1, .flags = SYN });
	b[34 + 16] ^= 1; /* TCP checksum */
	cr_assert(mmds_stack_detour(s, b, len, false));
	cr_assert(!mmds_stack_pending(s));
	cr_assert_eq(mmds_metrics.rx_accepted_err, err + 2);
	/* Left to the device (VIRTIO_NET_HDR_F_NEEDS_CSUM): taken unverified. */
	cr_assert(mmds_stack_detour(s, b, len, true));
	cr_assert(mmds_stack_pending(s));
	cr_assert_eq(mmds_stack_connections(s), 1);
	mmds_stack_destroy(s);
}

Test(mmds_stack, malformed_ipv4_and_tcp_are_dropped)
{
	struct mmds_stack *s = stack();
	uint8_t b[256], *ip = b + 14, *h = b + 34;
	size_t len;

#define FRESH() (len = tcp_frame(b, &(struct tcp_in){ .seq = 1, .flags = SYN }))
#define REIP()	(put16(ip + 10, 0), put16(ip + 10, csum(0, ip, 20)))
#define DROPPED()                                               \
	do {                                                    \
		cr_assert(mmds_stack_detour(s, b, len, false)); \
		cr_assert(!mmds_stack_pending(s));              \
		cr_assert_eq(mmds_stack_connections(s), 0);     \
	} while (0)

	FRESH();
	/* Truncated: total length past the frame; the frame cut in the TCP header. */
	cr_assert(mmds_stack_detour(s, b, len - 1, false));
	cr_assert(!mmds_stack_pending(s));
	FRESH();
	put16(ip + 2, 19);
	REIP();
	DROPPED();
	/* Version 6, IHL 4, IHL past the frame. */
	FRESH();
	ip[0] = 0x65;
	REIP();
	DROPPED();
	FRESH();
	ip[0] = 0x44;
	DROPPED();
	FRESH();
	ip[0] = 0x4f;
	DROPPED();
	/* Fragments: more to come, an offset. */
	FRESH();
	put16(ip + 6, 0x2000);
	REIP();
	DROPPED();
	FRESH();
	put16(ip + 6, 0x0001);
	REIP();
	DROPPED();
	/* TCP data offset below 5 and past the segment. */
	FRESH();
	h[12] = 0x40;
	DROPPED();
	FRESH();
	h[12] = 0xf0;
	DROPPED();
	/* Not TCP (UDP): consumed all the same. */
	FRESH();
	ip[9] = 17;
	REIP();
	DROPPED();
	/* Padding after the packet (Ethernet minimum): fine. */
	FRESH();
	memset(b + len, 0xee, 20);
	cr_assert(mmds_stack_detour(s, b, len + 20, false));
	cr_assert_eq(mmds_stack_connections(s), 1);
	mmds_stack_destroy(s);
}

Test(mmds_stack, options_are_parsed_safely)
{
	struct mmds_stack *s = stack();
	/* NOP, window scale, a length running past the end. */
	uint8_t opt[8] = { 1, 3, 3, 7, 2, 9, 0, 0 };
	struct out o;

	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 1, .flags = SYN, .opt = opt, .optlen = 8 }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, SYN | ACK);
	mmds_stack_destroy(s);
}

Test(mmds_stack, connection_limit_rst_then_evicts_idle)
{
	struct mmds_stack *s = stack();
	struct out o;
	int i;

	for (i = 0; i < MMDS_STACK_MAX_CONNS; i++)
		connect(s, (uint16_t)(GPORT + i), 1460, 1);
	cr_assert_eq(mmds_stack_connections(s), MMDS_STACK_MAX_CONNS);
	cr_assert(send_seg(s, &(struct tcp_in){ .sport = 1234, .seq = 1, .flags = SYN }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, RST | ACK);
	cr_assert_eq(o.dport, 1234);
	cr_assert_eq(mmds_stack_connections(s), MMDS_STACK_MAX_CONNS);
	/* Past the idle age the oldest goes (RST) and the SYN is taken. */
	fake_now += MMDS_STACK_EVICT_IDLE_NS;
	cr_assert(send_seg(s, &(struct tcp_in){ .sport = 1234, .seq = 1, .flags = SYN }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, RST | ACK);
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, SYN | ACK);
	cr_assert_eq(o.dport, 1234);
	cr_assert_eq(mmds_stack_connections(s), MMDS_STACK_MAX_CONNS);
	mmds_stack_destroy(s);
}

Test(mmds_stack, retransmitted_syn_and_syn_on_established)
{
	struct mmds_stack *s = stack();
	struct out o, o2;
	uint32_t iss1;

	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 1, .flags = SYN }));
	cr_assert(next_seg(s, &o));
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 1, .flags = SYN }));
	cr_assert(next_seg(s, &o2));
	cr_assert_eq(o2.flags, SYN | ACK);
	cr_assert_eq(o2.seq, o.seq);
	cr_assert_eq(o2.mss, MMDS_STACK_MSS);
	iss1 = o.seq + 1;
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 2, .ack = iss1, .flags = ACK }));
	/* A new SYN on it: a challenge ACK. */
	cr_assert(send_seg(s, &(struct tcp_in){ .seq = 999, .flags = SYN }));
	cr_assert(next_seg(s, &o));
	cr_assert_eq(o.flags, ACK);
	cr_assert_eq(o.ack, 2);
	mmds_stack_destroy(s);
}

Test(mmds_stack, garbage_does_not_crash)
{
	struct mmds_stack *s = stack();
	uint8_t b[2048], r[MMDS_STACK_FRAME_MAX];
	unsigned int seed = 1;

	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(b);

		for (size_t k = 0; k < len; k++)
			b[k] = (uint8_t)rand_r(&seed);
		if (len >= 34) {
			put16(b + 12, i & 1 ? 0x0800 : 0x0806);
			put32(b + 14 + 16, MMDS_IP);
			put32(b + 14 + 24, MMDS_IP);
		}
		mmds_stack_detour(s, b, len, i & 2);
		while (mmds_stack_next_frame(s, r, sizeof(r)))
			;
	}
	mmds_stack_destroy(s);
}
