/* The MMDS network stack (contract in mmds_stack.h). A connection is its
 * sequence numbers: snd_nxt == iss means the SYN-ACK is (re)sent next, bytes
 * [out_seq, out_seq + out_len) are the answer being sent, fin_seq the FIN
 * after it; going back on a timeout is snd_nxt = snd_una, and three
 * duplicate ACKs send the one segment at snd_una again (resume_nxt: where
 * sending then goes on). */
#include "devices/mmds/mmds_stack.h"

#include "devices/mmds/mmds_metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ETH_LEN	  14
#define ARP_LEN	  28
#define IP_LEN	  20
#define TCP_LEN	  20
#define MSS_OPT	  4
#define ETYPE_IP  0x0800
#define ETYPE_ARP 0x0806
#define PROTO_TCP 6

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

/* RFC 879's default when the SYN names none; the floor keeps a guest's tiny
 * MSS from turning an answer into thousands of frames. */
#define MSS_DEFAULT 536
#define MSS_MIN	    64
#define DUP_ACKS    3
#define REQ_MAX	    MMDS_HTTP_REQUEST_MAX

_Static_assert(MMDS_STACK_PEEK == ETH_LEN + ARP_LEN, "the head names ARP's target");

const uint8_t mmds_stack_default_mac[6] = { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 };

struct conn {
	bool used;
	bool fin_rcvd;	 /* the guest's FIN is in rcv_nxt */
	bool fin_queued; /* ours goes at fin_seq */
	bool need_ack;
	bool probe;	  /* the timer allows one byte into a zero window */
	bool fast_rexmit; /* the next segment is the one at snd_una, then resume_nxt */
	bool lost;	  /* a timeout: one segment in flight until an ACK moves */
	uint8_t mac[6];
	uint8_t dup_acks, rto_count;
	uint16_t port, mss;
	uint32_t ip;
	uint32_t iss, snd_una, snd_nxt, snd_max, rcv_nxt, fin_seq, out_seq, resume_nxt;
	uint32_t wnd; /* the guest's (no window scaling: the SYN-ACK offers none) */
	uint64_t rto_at, last_active;
	uint8_t *out; /* the answer, malloc'd; NULL: none */
	size_t out_len, rlen;
	uint8_t rbuf[REQ_MAX];
};

/* A frame owed to a guest that has no connection (or no longer): an ARP
 * reply or a TCP segment without data (RST, the last ACK). */
struct ctl {
	bool arp;
	uint8_t flags;
	uint8_t mac[6];
	uint16_t sport, dport; /* ours, the guest's */
	uint32_t ip, seq, ack;
};

struct mmds_stack {
	struct mmds *m;
	uint32_t ip;
	uint8_t mac[6];
	uint16_t ip_id;
	uint64_t rng;
	uint64_t (*now)(void *ctx);
	void *now_ctx;
	unsigned int nconns, next_conn, ctl_head, ctl_n;
	struct ctl ctl[MMDS_STACK_MAX_PENDING];
	struct conn conns[MMDS_STACK_MAX_CONNS];
};

/* --- bytes ------------------------------------------------------------------ */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

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

static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint64_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The TCP checksum's start: the IPv4 pseudo header. */
static uint64_t pseudo_sum(uint32_t src, uint32_t dst, size_t tcp_len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + PROTO_TCP + tcp_len;
}

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static uint64_t now_ns(struct mmds_stack *s)
{
	struct timespec t;

	if (s->now)
		return s->now(s->now_ctx);
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* xorshift64: initial sequence numbers without a syscall per connection. */
static uint32_t next_random(struct mmds_stack *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return (uint32_t)(s->rng >> 16);
}

/* --- life cycle ---------------------------------------------------------------- */

int mmds_stack_create(struct mmds_stack **out, struct mmds *m, uint32_t ipv4, const uint8_t mac[6])
{
	struct mmds_stack *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->m = m;
	s->ip = ipv4;
	memcpy(s->mac, mac, 6);
	if (getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng))
		s->rng = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
	s->rng |= 1; /* xorshift never leaves 0 */
	*out = s;
	return 0;
}

static void conn_drop(struct mmds_stack *s, struct conn *c)
{
	free(c->out);
	c->out = NULL;
	c->used = false;
	s->nconns--;
	METRIC_INC(mmds_metrics.connections_destroyed);
}

void mmds_stack_destroy(struct mmds_stack *s)
{
	unsigned int i;

	if (!s)
		return;
	for (i = 0; i < MMDS_STACK_MAX_CONNS; i++)
		free(s->conns[i].out);
	free(s);
}

void mmds_stack_set_ipv4(struct mmds_stack *s, uint32_t ipv4)
{
	s->ip = ipv4;
}

void mmds_stack_set_clock(struct mmds_stack *s, uint64_t (*now)(void *ctx), void *ctx)
{
	s->now = now;
	s->now_ctx = ctx;
}

unsigned int mmds_stack_connections(const struct mmds_stack *s)
{
	return s->nconns;
}

/* --- receiving ------------------------------------------------------------------ */

/* Queues a control frame; dropped when MMDS_STACK_MAX_PENDING wait already
 * (the guest retransmits what needed an answer). */
static void ctl_push(struct mmds_stack *s, const struct ctl *c)
{
	if (s->ctl_n >= MMDS_STACK_MAX_PENDING)
		return;
	s->ctl[(s->ctl_head + s->ctl_n) % MMDS_STACK_MAX_PENDING] = *c;
	s->ctl_n++;
}

static void arp_in(struct mmds_stack *s, const uint8_t *a)
{
	struct ctl c = { .arp = true };

	/* Ethernet, IPv4, 6- and 4-byte addresses, a request. */
	if (get16(a) != 1 || get16(a + 2) != ETYPE_IP || a[4] != 6 || a[5] != 4 ||
	    get16(a + 6) != 1) {
		METRIC_INC(mmds_metrics.rx_bad_eth);
		return;
	}
	memcpy(c.mac, a + 8, 6);
	c.ip = get32(a + 14);
	ctl_push(s, &c);
}

/* RFC 793's answer to a segment no connection takes. */
static void rst_for(struct mmds_stack *s, const uint8_t *mac, uint32_t ip, uint16_t sport,
		    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, size_t plen)
{
	struct ctl c = { .ip = ip, .sport = dport, .dport = sport };

	if (flags & TH_RST)
		return;
	memcpy(c.mac, mac, 6);
	if (flags & TH_ACK) {
		c.flags = TH_RST;
		c.seq = ack;
	} else {
		c.flags = TH_RST | TH_ACK;
		c.ack = seq + (uint32_t)plen + !!(flags & TH_SYN) + !!(flags & TH_FIN);
	}
	ctl_push(s, &c);
}

/* Drops c and tells the guest with a RST. */
static void conn_reset(struct mmds_stack *s, struct conn *c)
{
	struct ctl r = { .flags = TH_RST | TH_ACK, .ip = c->ip, .sport = MMDS_STACK_PORT };

	memcpy(r.mac, c->mac, 6);
	r.dport = c->port;
	r.seq = c->snd_max;
	r.ack = c->rcv_nxt;
	ctl_push(s, &r);
	conn_drop(s, c);
}

static struct conn *conn_find(struct mmds_stack *s, uint32_t ip, uint16_t port)
{
	unsigned int i;

	for (i = 0; i < MMDS_STACK_MAX_CONNS; i++)
		if (s->conns[i].used && s->conns[i].ip == ip && s->conns[i].port == port)
			return &s->conns[i];
	return NULL;
}

/* A free slot, or the one idle longest if that is past the eviction age. */
static struct conn *conn_slot(struct mmds_stack *s, uint64_t now)
{
	struct conn *old = NULL;
	unsigned int i;

	for (i = 0; i < MMDS_STACK_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (!c->used)
			return c;
		if (!old || c->last_active < old->last_active)
			old = c;
	}
	if (now - old->last_active < MMDS_STACK_EVICT_IDLE_NS)
		return NULL;
	conn_reset(s, old);
	return old;
}

/* The MSS option of a SYN; opt..opt+n are the options. */
static uint16_t syn_mss(const uint8_t *opt, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (opt[i] == 0)
			break;
		if (opt[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || opt[i + 1] < 2 || opt[i + 1] > n - i)
			break;
		if (opt[i] == 2 && opt[i + 1] == 4)
			return get16(opt + i + 2);
		i += opt[i + 1];
	}
	return MSS_DEFAULT;
}

static void conn_open(struct mmds_stack *s, const uint8_t *mac, uint32_t ip, uint16_t port,
		      uint32_t seq, uint16_t wnd, uint16_t mss, uint64_t now)
{
	struct conn *c = conn_slot(s, now);

	if (!c) {
		rst_for(s, mac, ip, port, MMDS_STACK_PORT, seq, 0, TH_SYN, 0);
		return;
	}
	memset(c, 0, offsetof(struct conn, rbuf));
	c->used = true;
	memcpy(c->mac, mac, 6);
	c->ip = ip;
	c->port = port;
	c->mss = mss < MSS_MIN ? MSS_MIN : mss > MMDS_STACK_MSS ? MMDS_STACK_MSS : mss;
	c->iss = next_random(s);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->rcv_nxt = seq + 1;
	c->wnd = wnd;
	c->last_active = now;
	s->nconns++;
	METRIC_INC(mmds_metrics.connections_created);
}

static bool conn_established(const struct conn *c)
{
	return c->snd_una != c->iss;
}

/* Answer bytes not sent yet. */
static size_t conn_unsent(const struct conn *c)
{
	uint32_t end = c->out_seq + (uint32_t)c->out_len;

	if (!c->out || seq_lt(c->snd_nxt, c->out_seq) || !seq_lt(c->snd_nxt, end))
		return 0;
	return end - c->snd_nxt;
}

/* The retransmission timer runs while something is unacknowledged or an
 * answer waits for a window; progress (now) restarts it. */
static void conn_timer(struct conn *c, uint64_t now, bool progress)
{
	bool busy = c->snd_max != c->snd_una || (conn_unsent(c) && !c->wnd);

	if (!busy)
		c->rto_at = 0;
	else if (!c->rto_at || progress)
		c->rto_at = now + MMDS_STACK_RTO_NS;
}

static void conn_close(struct conn *c)
{
	c->fin_queued = true;
	c->fin_seq = c->out ? c->out_seq + (uint32_t)c->out_len : c->snd_max;
}

/* Serves the requests in rbuf, one answer at a time: the next waits until
 * the guest acked this one. -ENOMEM: reset the connection. */
static int conn_serve(struct mmds_stack *s, struct conn *c)
{
	while (!c->out && !c->fin_queued && c->rlen) {
		bool final = c->rlen >= REQ_MAX || c->fin_rcvd;
		size_t used = 0, alen = 0;
		uint8_t *ans = NULL;
		int r = mmds_http_serve(s->m, c->rbuf, c->rlen, final, &used, &ans, &alen);

		if (r < 0)
			return r;
		if (r == 0) {
			/* A whole buffer (or all the guest will send) is no request. */
			if (final)
				conn_close(c);
			break;
		}
		if (used > c->rlen)
			used = c->rlen;
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
		c->rlen -= used;
		if (ans && alen) {
			c->out = ans;
			c->out_len = alen;
			c->out_seq = c->snd_max;
		} else {
			free(ans);
		}
		if (r == 2 || !used)
			conn_close(c);
	}
	/* The guest sends no more: once its requests are answered, close. */
	if (c->fin_rcvd && !c->rlen && !c->fin_queued)
		conn_close(c);
	return 0;
}

/* The ACK field of a segment on c; false: the segment goes no further. */
static bool conn_ack(struct conn *c, uint32_t ack, uint16_t wnd, bool dup_candidate, uint64_t now)
{
	if (seq_lt(ack, c->snd_una) || seq_lt(c->snd_max, ack)) {
		/* Acks what was never sent (or long ago): tell the guest where we are. */
		c->need_ack = true;
		return !seq_lt(c->snd_max, ack);
	}
	if (seq_lt(c->snd_una, ack)) {
		c->snd_una = ack;
		if (seq_lt(c->snd_nxt, ack))
			c->snd_nxt = ack;
		c->dup_acks = 0;
		c->rto_count = 0;
		c->lost = false;
		if (c->out && seq_le(c->out_seq + (uint32_t)c->out_len, ack)) {
			free(c->out);
			c->out = NULL;
			c->out_len = 0;
		}
		c->wnd = wnd;
		conn_timer(c, now, true);
		return true;
	}
	/* A zero window's probe answered: the guest is there, however long its
	 * reader takes (RFC 1122 4.2.2.17); only silence ends the connection. */
	if (!wnd && c->snd_max != c->snd_una)
		c->rto_count = 0;
	if (dup_candidate && wnd == c->wnd && c->snd_max != c->snd_una &&
	    ++c->dup_acks >= DUP_ACKS) {
		/* Fast retransmit (RFC 5681): the segment the guest lacks, not the
		 * whole flight, which three 54-byte ACKs would make it resend. */
		if (!c->fast_rexmit)
			c->resume_nxt = c->snd_nxt;
		c->fast_rexmit = true;
		c->snd_nxt = c->snd_una;
		c->dup_acks = 0;
	}
	c->wnd = wnd;
	conn_timer(c, now, false);
	return true;
}

/* The segment's data and FIN, in order only. */
static void conn_data(struct conn *c, uint32_t seq, const uint8_t *data, size_t plen, bool fin)
{
	uint32_t end = seq + (uint32_t)plen + fin;
	size_t off, take;

	c->need_ack = true;
	if (c->fin_rcvd || !seq_le(seq, c->rcv_nxt) || !seq_lt(c->rcv_nxt, end))
		return; /* out of order, or old: the ACK tells the guest what we have */
	off = c->rcv_nxt - seq;
	take = off < plen ? plen - off : 0;
	if (take > REQ_MAX - c->rlen)
		take = REQ_MAX - c->rlen; /* beyond the window we advertised */
	memcpy(c->rbuf + c->rlen, data + off, take);
	c->rlen += take;
	c->rcv_nxt += (uint32_t)take;
	if (fin && off + take == plen) {
		c->fin_rcvd = true;
		c->rcv_nxt++;
	}
}

static void conn_in(struct mmds_stack *s, struct conn *c, uint32_t seq, uint32_t ack, uint8_t flags,
		    uint16_t wnd, const uint8_t *data, size_t plen, uint64_t now)
{
	c->last_active = now;
	if (flags & TH_RST) {
		/* Only one within the window we offer (or at rcv_nxt when it is
		 * closed): a blind RST must guess it. */
		uint32_t wnd = (uint32_t)(REQ_MAX - c->rlen);

		if (seq == c->rcv_nxt || (seq_le(c->rcv_nxt, seq) && seq_lt(seq, c->rcv_nxt + wnd)))
			conn_drop(s, c);
		return;
	}
	if (flags & TH_SYN) {
		/* The SYN again: our SYN-ACK was lost. Otherwise RFC 5961's
		 * challenge ACK: a guest that lost the connection answers RST. */
		if (!conn_established(c) && seq + 1 == c->rcv_nxt)
			c->snd_nxt = c->iss;
		else
			c->need_ack = true;
		return;
	}
	if (!(flags & TH_ACK))
		return;
	if (!conn_ack(c, ack, wnd, !plen && !(flags & TH_FIN), now) || !conn_established(c))
		return;
	if (plen || (flags & TH_FIN))
		conn_data(c, seq, data, plen, flags & TH_FIN);
	if (conn_serve(s, c)) {
		conn_reset(s, c);
		return;
	}
	/* Both FINs acked: done, after the guest's FIN has its ACK. */
	if (c->fin_rcvd && c->fin_queued && c->snd_una == c->fin_seq + 1) {
		struct ctl a = { .flags = TH_ACK, .ip = c->ip, .sport = MMDS_STACK_PORT };

		memcpy(a.mac, c->mac, 6);
		a.dport = c->port;
		a.seq = c->snd_max;
		a.ack = c->rcv_nxt;
		if (c->need_ack)
			ctl_push(s, &a);
		conn_drop(s, c);
	}
}

/* A TCP segment (t, tlen bytes) from the guest; -1: malformed. */
static int tcp_in(struct mmds_stack *s, const uint8_t *mac, uint32_t src, const uint8_t *t,
		  size_t tlen, bool partial)
{
	uint16_t sport, dport, wnd;
	uint32_t seq, ack;
	size_t doff;
	uint8_t flags;
	struct conn *c;
	uint64_t now;

	if (tlen < TCP_LEN)
		return -1;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < TCP_LEN || doff > tlen)
		return -1;
	if (!partial && csum_fold(csum_add(pseudo_sum(src, s->ip, tlen), t, tlen)) != 0)
		return -1;
	sport = get16(t);
	dport = get16(t + 2);
	seq = get32(t + 4);
	ack = get32(t + 8);
	flags = t[13];
	wnd = get16(t + 14);
	METRIC_INC(mmds_metrics.rx_count);
	now = now_ns(s);
	c = dport == MMDS_STACK_PORT ? conn_find(s, src, sport) : NULL;
	if (c)
		conn_in(s, c, seq, ack, flags, wnd, t + doff, tlen - doff, now);
	else if (dport == MMDS_STACK_PORT &&
		 (flags & (TH_SYN | TH_ACK | TH_FIN | TH_RST)) == TH_SYN)
		conn_open(s, mac, src, sport, seq, wnd, syn_mss(t + TCP_LEN, doff - TCP_LEN), now);
	else
		rst_for(s, mac, src, sport, dport, seq, ack, flags, tlen - doff);
	return 0;
}

/* An IPv4 packet to the MMDS address; -1: malformed. */
static int ipv4_in(struct mmds_stack *s, const uint8_t *f, size_t len, bool partial)
{
	const uint8_t *ip = f + ETH_LEN;
	size_t avail = len - ETH_LEN, ihl, tot;

	if (ip[0] >> 4 != 4)
		return -1;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = get16(ip + 2);
	if (ihl < IP_LEN || tot < ihl || tot > avail)
		return -1;
	if (csum_fold(csum_add(0, ip, ihl)) != 0)
		return -1;
	if (get16(ip + 6) & 0x3fff)
		return -1; /* a fragment (more to come, or an offset) */
	if (ip[9] != PROTO_TCP) {
		METRIC_INC(mmds_metrics.rx_accepted_unusual);
		return 0;
	}
	return tcp_in(s, f + 6, get32(ip + 12), ip + ihl, tot - ihl, partial);
}

bool mmds_stack_wants(const struct mmds_stack *s, const uint8_t *f, size_t len)
{
	uint16_t type;

	if (len < ETH_LEN)
		return false;
	type = get16(f + 12);
	if (type == ETYPE_ARP)
		return len >= ETH_LEN + ARP_LEN && get32(f + ETH_LEN + 24) == s->ip;
	return type == ETYPE_IP && len >= ETH_LEN + IP_LEN && get32(f + ETH_LEN + 16) == s->ip;
}

bool mmds_stack_detour(struct mmds_stack *s, const uint8_t *f, size_t len, bool partial)
{
	if (!mmds_stack_wants(s, f, len < MMDS_STACK_PEEK ? len : MMDS_STACK_PEEK))
		return false;
	METRIC_INC(mmds_metrics.rx_accepted);
	if (get16(f + 12) == ETYPE_ARP) {
		arp_in(s, f + ETH_LEN);
		return true;
	}
	if (ipv4_in(s, f, len, partial))
		METRIC_INC(mmds_metrics.rx_accepted_err);
	return true;
}

/* --- sending ------------------------------------------------------------------- */

static size_t eth_header(struct mmds_stack *s, uint8_t *b, const uint8_t *dst, uint16_t type)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, s->mac, 6);
	put16(b + 12, type);
	return ETH_LEN;
}

static size_t arp_reply(struct mmds_stack *s, uint8_t *b, const struct ctl *c)
{
	uint8_t *a = b + eth_header(s, b, c->mac, ETYPE_ARP);

	put16(a, 1);
	put16(a + 2, ETYPE_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2);
	memcpy(a + 8, s->mac, 6);
	put32(a + 14, s->ip);
	memcpy(a + 18, c->mac, 6);
	put32(a + 24, c->ip);
	return ETH_LEN + ARP_LEN;
}

struct seg {
	const uint8_t *mac;
	uint32_t ip, seq, ack;
	uint16_t sport, dport, wnd, mss; /* mss: the option's value; 0: none */
	uint8_t flags;
	const uint8_t *data;
	size_t n;
};

static size_t tcp_segment(struct mmds_stack *s, uint8_t *b, const struct seg *g)
{
	uint8_t *ip = b + eth_header(s, b, g->mac, ETYPE_IP);
	size_t thl = TCP_LEN + (g->mss ? MSS_OPT : 0), tlen = thl + g->n;
	uint8_t *t = ip + IP_LEN;

	memset(ip, 0, IP_LEN + thl);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_LEN + tlen));
	put16(ip + 4, s->ip_id++);
	put16(ip + 6, 0x4000); /* don't fragment */
	ip[8] = 64;
	ip[9] = PROTO_TCP;
	put32(ip + 12, s->ip);
	put32(ip + 16, g->ip);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_LEN)));
	put16(t, g->sport);
	put16(t + 2, g->dport);
	put32(t + 4, g->seq);
	put32(t + 8, g->ack);
	t[12] = (uint8_t)(thl / 4 << 4);
	t[13] = g->flags;
	put16(t + 14, g->wnd);
	if (g->mss) {
		t[20] = 2;
		t[21] = 4;
		put16(t + 22, g->mss);
	}
	if (g->n)
		memcpy(t + thl, g->data, g->n);
	put16(t + 16, csum_fold(csum_add(pseudo_sum(s->ip, g->ip, tlen), t, tlen)));
	return ETH_LEN + IP_LEN + tlen;
}

static size_t ctl_frame(struct mmds_stack *s, uint8_t *b, const struct ctl *c)
{
	struct seg g = { .mac = c->mac, .ip = c->ip, .seq = c->seq, .ack = c->ack };

	if (c->arp)
		return arp_reply(s, b, c);
	g.sport = c->sport;
	g.dport = c->dport;
	g.flags = c->flags;
	return tcp_segment(s, b, &g);
}

/* The next segment of c into b (room bytes for its data), or with b NULL
 * only whether there is one. 0: none. */
static size_t conn_frame(struct mmds_stack *s, struct conn *c, uint8_t *b, size_t room)
{
	struct seg g = { .mac = c->mac, .ip = c->ip, .sport = MMDS_STACK_PORT, .flags = TH_ACK };
	size_t n = 0;

	g.dport = c->port;
	g.seq = c->snd_nxt;
	g.ack = c->rcv_nxt;
	g.wnd = (uint16_t)(REQ_MAX - c->rlen);
	if (c->snd_nxt == c->iss) {
		g.flags = TH_SYN | TH_ACK;
		g.mss = MMDS_STACK_MSS;
	} else {
		size_t unsent = conn_unsent(c), flight = c->snd_nxt - c->snd_una;
		size_t allow = c->wnd > flight ? c->wnd - flight : 0;
		size_t one_seg = flight < c->mss ? c->mss - flight : 0;

		/* After a timeout, RFC 5681's loss window: one segment until
		 * the guest acks it (a guest that acks nothing had the whole
		 * window again at every timeout). */
		if (c->lost && allow > one_seg)
			allow = one_seg;
		if (!allow && c->probe && !flight)
			allow = 1;
		n = unsent < allow ? unsent : allow;
		if (n > c->mss)
			n = c->mss;
		if (n > room)
			n = room;
		if (n)
			g.flags |= TH_PSH;
		if (c->fin_queued && c->snd_nxt + (uint32_t)n == c->fin_seq && n == unsent)
			g.flags |= TH_FIN;
		if (!n && !(g.flags & TH_FIN) && !c->need_ack)
			return 0;
	}
	if (!b)
		return 1;
	g.n = n;
	g.data = n ? c->out + (c->snd_nxt - c->out_seq) : NULL;
	c->snd_nxt += (uint32_t)n + !!(g.flags & (TH_SYN | TH_FIN));
	if (seq_lt(c->snd_max, c->snd_nxt))
		c->snd_max = c->snd_nxt;
	if (c->fast_rexmit) { /* that was the segment at snd_una: on from where we were */
		c->fast_rexmit = false;
		if (seq_lt(c->snd_nxt, c->resume_nxt))
			c->snd_nxt = c->resume_nxt;
	}
	c->need_ack = false;
	c->probe = false;
	if (n)
		METRIC_INC(mmds_metrics.tx_frames);
	conn_timer(c, now_ns(s), false);
	return tcp_segment(s, b, &g);
}

size_t mmds_stack_next_frame(struct mmds_stack *s, uint8_t *buf, size_t cap)
{
	size_t len = 0, hdrs = ETH_LEN + IP_LEN + TCP_LEN + MSS_OPT;
	unsigned int i;

	if (cap < hdrs) {
		if (mmds_stack_pending(s))
			METRIC_INC(mmds_metrics.tx_errors);
		return 0;
	}
	if (s->ctl_n) {
		len = ctl_frame(s, buf, &s->ctl[s->ctl_head]);
		s->ctl_head = (s->ctl_head + 1) % MMDS_STACK_MAX_PENDING;
		s->ctl_n--;
	}
	/* Round robin, so that one long answer does not starve the others. */
	for (i = 0; !len && i < MMDS_STACK_MAX_CONNS; i++) {
		struct conn *c = &s->conns[(s->next_conn + i) % MMDS_STACK_MAX_CONNS];

		if (c->used)
			len = conn_frame(s, c, buf, cap - hdrs);
		if (len)
			s->next_conn = (s->next_conn + i + 1) % MMDS_STACK_MAX_CONNS;
	}
	if (len) {
		METRIC_INC(mmds_metrics.tx_count);
		METRIC_ADD(mmds_metrics.tx_bytes, len);
	}
	return len;
}

bool mmds_stack_pending(struct mmds_stack *s)
{
	unsigned int i;

	if (s->ctl_n)
		return true;
	for (i = 0; i < MMDS_STACK_MAX_CONNS; i++)
		if (s->conns[i].used && conn_frame(s, &s->conns[i], NULL, MMDS_STACK_MSS))
			return true;
	return false;
}

/* --- timeouts ----------------------------------------------------------------------- */

uint64_t mmds_stack_deadline(struct mmds_stack *s)
{
	uint64_t t = 0;
	unsigned int i;

	for (i = 0; i < MMDS_STACK_MAX_CONNS; i++) {
		const struct conn *c = &s->conns[i];

		if (c->used && c->rto_at && (!t || c->rto_at < t))
			t = c->rto_at;
	}
	return t;
}

void mmds_stack_timer(struct mmds_stack *s)
{
	uint64_t now = now_ns(s);
	unsigned int i;

	for (i = 0; i < MMDS_STACK_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];

		if (!c->used || !c->rto_at || c->rto_at > now)
			continue;
		if (++c->rto_count > MMDS_STACK_RTO_MAX) {
			conn_reset(s, c);
			continue;
		}
		c->snd_nxt = c->snd_una;
		c->fast_rexmit = false; /* a timeout goes back for good */
		c->lost = true;
		c->probe = true;
		c->rto_at = now + MMDS_STACK_RTO_NS;
	}
}
