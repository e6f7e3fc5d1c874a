/* libFuzzer target: the MMDS network stack (devices/mmds/mmds_stack.h) fed
 * sequences of guest frames through detour, with every frame it has for the
 * guest drained through next_frame after each one.
 *
 * The input is a list of records: an op byte, a u16 length (little endian)
 * and that many bytes of Ethernet frame (cut at the input's end). The op's
 * bits help the fuzzer past what it cannot guess: the addresses (IPv4 to the
 * MMDS from the guest, or ARP for it), the IPv4 and TCP checksums, the ACK
 * number (relative to the end of the last segment the stack sent, whose
 * initial sequence number is random), the partial-checksum flag, a clock step
 * with the retransmission timer, and a short buffer for next_frame. The HTTP
 * side is a double: a request ends at an empty line, the answer's size comes
 * from the request's first byte, "c" closes.
 * Checked besides crashes: every frame the stack writes fits its buffer, is
 * ARP or a well-formed IPv4/TCP packet with correct checksums and addresses;
 * at most MMDS_STACK_MAX_CONNS connections; draining ends (next_frame does
 * not produce frames forever). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/mmds/mmds_stack.h"

#define MMDS_IP	  MMDS_DEFAULT_IPV4
#define GUEST_IP  0xa9fe0102u
#define DRAIN_MAX 4096

enum {
	OP_PARTIAL = 1 << 0,
	OP_ADDR = 1 << 1,    /* IPv4 from the guest to the MMDS (ARP: for it) */
	OP_IP_CSUM = 1 << 2, /* the IPv4 header checksum computed */
	OP_TCP_CSUM = 1 << 3,
	OP_ACK = 1 << 4,   /* ack = the end of the stack's last segment + (int8) ack */
	OP_TIMER = 1 << 5, /* the clock steps 0.6 s, the timer runs */
	OP_SHORT = 1 << 6, /* next_frame gets a buffer of 100 bytes */
	OP_ARP = 1 << 7,   /* with OP_ADDR: an ARP request rather than IPv4 */
};

static uint64_t fake_now;
static uint32_t last_end;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

int mmds_http_serve(struct mmds *m, const uint8_t *in, size_t len, bool final, size_t *consumed,
		    uint8_t **out, size_t *out_len)
{
	const uint8_t *end = memmem(in, len, "\r\n\r\n", 4);
	size_t n;

	(void)m;
	if (!end && !final)
		return 0;
	*consumed = end ? (size_t)(end + 4 - in) : len;
	n = 1 + (size_t)in[0] * 97;
	*out = malloc(n);
	if (!*out)
		return -12;
	memset(*out, 'x', n);
	*out_len = n;
	return !end || in[0] == 'c' ? 2 : 1;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
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

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* Makes the frame what the op's bits ask for. */
static void shape(uint8_t *f, size_t len, uint8_t op)
{
	if ((op & OP_ADDR) && (op & OP_ARP) && len >= 42) {
		put16(f + 12, 0x0806);
		put16(f + 14, 1);
		put16(f + 16, 0x0800);
		f[18] = 6;
		f[19] = 4;
		put32(f + 14 + 24, MMDS_IP);
		return;
	}
	if ((op & OP_ADDR) && len >= 34) {
		put16(f + 12, 0x0800);
		put32(f + 14 + 12, GUEST_IP);
		put32(f + 14 + 16, MMDS_IP);
	}
	if (len < 34 || get16(f + 12) != 0x0800)
		return;
	{
		uint8_t *ip = f + 14;
		size_t ihl = (size_t)(ip[0] & 0xf) * 4, tot = get16(ip + 2);

		if (ihl < 20 || ihl > len - 14)
			return;
		if (tot >= ihl && tot <= len - 14 && tot - ihl >= 20) {
			uint8_t *t = ip + ihl;

			if (op & OP_ACK)
				put32(t + 8, last_end + (uint32_t)(int8_t)t[11]);
			if (op & OP_TCP_CSUM) {
				put16(t + 16, 0);
				put16(t + 16,
				      csum(pseudo(get32(ip + 12), get32(ip + 16), tot - ihl), t,
					   tot - ihl));
			}
		}
		if (op & OP_IP_CSUM) {
			put16(ip + 10, 0);
			put16(ip + 10, csum(0, ip, ihl));
		}
	}
}

/* Checks one frame the stack wrote and remembers where its sequence ends. */
static void check_out(const uint8_t *f, size_t len, size_t cap)
{
	const uint8_t *ip = f + 14, *t = f + 34;
	size_t tl, thl;
	uint32_t end;

	CHECK(len <= cap && len >= 42);
	CHECK(!memcmp(f + 6, mmds_stack_default_mac, 6));
	if (get16(f + 12) == 0x0806) {
		CHECK(len == 42 && get16(f + 20) == 2 && get32(f + 28) == MMDS_IP);
		return;
	}
	CHECK(get16(f + 12) == 0x0800 && len >= 54);
	CHECK(ip[0] == 0x45 && get16(ip + 2) == len - 14 && csum(0, ip, 20) == 0);
	CHECK(get32(ip + 12) == MMDS_IP);
	tl = len - 34;
	thl = (size_t)(t[12] >> 4) * 4;
	CHECK(thl >= 20 && thl <= tl);
	CHECK(csum(pseudo(get32(ip + 12), get32(ip + 16), tl), t, tl) == 0);
	end = get32(t + 4) + (uint32_t)(tl - thl) + !!(t[13] & 0x02) + !!(t[13] & 0x01);
	if (!(t[13] & 0x04))
		last_end = end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[65536], out[MMDS_STACK_FRAME_MAX];
	struct mmds_stack *s;
	size_t at = 0;

	fake_now = 1000000000000ull;
	last_end = 0;
	if (mmds_stack_create(&s, NULL, MMDS_IP, mmds_stack_default_mac))
		return 0;
	mmds_stack_set_clock(s, fake_clock, NULL);
	while (at + 3 <= size) {
		uint8_t op = data[at];
		size_t len = (size_t)data[at + 1] | (size_t)data[at + 2] << 8, cap, n = 0, got;

		at += 3;
		if (len > size - at)
			len = size - at;
		memcpy(frame, data + at, len);
		at += len;
		shape(frame, len, op);
		mmds_stack_detour(s, frame, len, op & OP_PARTIAL);
		CHECK(mmds_stack_connections(s) <= MMDS_STACK_MAX_CONNS);
		if (op & OP_TIMER) {
			fake_now += 600000000ull;
			mmds_stack_timer(s);
		}
		cap = op & OP_SHORT ? 100 : sizeof(out);
		while ((got = mmds_stack_next_frame(s, out, cap))) {
			check_out(out, got, cap);
			CHECK(++n < DRAIN_MAX);
		}
		if (cap == sizeof(out))
			CHECK(!mmds_stack_pending(s));
	}
	mmds_stack_destroy(s);
	return 0;
}
