/* virtio-vsock's pure parts: --vsock parsing, the verdict on guest packet
 * headers, credit arithmetic (with wrapping counters). The connection state
 * machine and the Unix side have test_vsock_csm.c and test_vsock_unix.c. */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio/virtio_vsock.h"
#include "devices/virtio/vsock_proto.h"
#include "vsock_test.h"

static int parse(const char *spec, struct vsock_config *c, char *why)
{
	why[0] = '\0';
	return fields_parse_spec(&vsock_fields, spec, c, why, 256);
}

Test(virtio_vsock, config_accepts_cid_and_uds)
{
	struct vsock_config c;
	char why[256];

	cr_assert_eq(parse("cid=3,uds=/tmp/v.sock", &c, why), 0, "%s", why);
	cr_assert_eq(c.cid, 3);
	cr_assert_str_eq(c.uds, "/tmp/v.sock");
	cr_assert_eq(parse("uds=rel.sock,cid=4294967294", &c, why), 0, "%s", why);
	cr_assert_eq(c.cid, 4294967294U);
	cr_assert_str_eq(c.uds, "rel.sock");
}

Test(virtio_vsock, config_rejects_bad_input_with_reasons)
{
	static const struct {
		const char *spec, *reason;
	} bad[] = {
		{ "cid=2,uds=/tmp/x", "reserved" },
		{ "cid=0,uds=/tmp/x", "reserved" },
		{ "cid=4294967295,uds=/tmp/x", "VMADDR_CID_ANY" },
		{ "cid=4294967296,uds=/tmp/x", "not a number" },
		{ "cid=-3,uds=/tmp/x", "not a number" },
		{ "cid=x,uds=/tmp/x", "not a number" },
		{ "cid=,uds=/tmp/x", "not a number" },
		{ "uds=/tmp/x", "no cid" },
		{ "cid=3", "no uds" },
		{ "cid=3,uds=", "needs a socket path" },
		{ "cid=3,cid=4,uds=/tmp/x", "twice" },
		{ "cid=3,uds=/a,uds=/b", "twice" },
		{ "cid=3,uds=/tmp/x,mode=1", "unknown" },
		{ "cid=3,uds=/tmp/x,bogus", "unknown" },
		{ "", "no cid" },
	};
	struct vsock_config c;
	char why[256], spec[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i].spec, &c, why), -EINVAL, "'%s' accepted", bad[i].spec);
		cr_assert(strstr(why, bad[i].reason), "'%s': reason '%s' lacks '%s'", bad[i].spec,
			  why, bad[i].reason);
	}
	/* The path must leave room for "_<port>" in a sockaddr_un. */
	snprintf(spec, sizeof(spec), "cid=3,uds=/%095d", 0);
	cr_assert_eq(parse(spec, &c, why), 0, "%s", why);
	snprintf(spec, sizeof(spec), "cid=3,uds=/%096d", 0);
	cr_assert_eq(parse(spec, &c, why), -EINVAL);
	cr_assert(strstr(why, "97 bytes"), "%s", why);
}

static struct virtio_vsock_hdr hdr(uint16_t op, uint32_t len)
{
	return guest_hdr(3, op, 1025, 6000, len, 256 * 1024, 0);
}

Test(virtio_vsock, valid_headers_pass)
{
	struct virtio_vsock_hdr h;
	const char *why;
	uint16_t op;

	for (op = VIRTIO_VSOCK_OP_REQUEST; op <= VIRTIO_VSOCK_OP_CREDIT_REQUEST; op++) {
		h = hdr(op, 0);
		cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_OK, "op %u: %s", op, why);
	}
	h = hdr(VIRTIO_VSOCK_OP_RW, 4096);
	cr_assert_eq(vsock_hdr_check(&h, 4096, 3, &why), VSOCK_PKT_OK);
	/* A chain may be longer than the payload. */
	cr_assert_eq(vsock_hdr_check(&h, 8192, 3, &why), VSOCK_PKT_OK);
	h = hdr(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PAYLOAD);
	cr_assert_eq(vsock_hdr_check(&h, VSOCK_MAX_PAYLOAD, 3, &why), VSOCK_PKT_OK);
	h = hdr(VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = htole32(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_OK);
}

Test(virtio_vsock, misaddressed_headers_are_dropped)
{
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_REQUEST, 0);
	const char *why = NULL;

	h.src_cid = htole64(4); /* another guest's CID */
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_DROP);
	cr_assert_not_null(why);
	h = hdr(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.dst_cid = htole64(3); /* not the host */
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_DROP);
	h.dst_cid = htole64(1);
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_DROP);
}

Test(virtio_vsock, malformed_headers_are_reset)
{
	struct virtio_vsock_hdr h;
	const char *why;

	h = hdr(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_RST);
	h = hdr(VIRTIO_VSOCK_OP_INVALID, 0);
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_RST);
	h = hdr(8, 0);
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_RST);
	h = hdr(0xffff, 0);
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_RST);
	/* hdr.len against the chain and against the 64 KiB cap. */
	h = hdr(VIRTIO_VSOCK_OP_RW, 4097);
	cr_assert_eq(vsock_hdr_check(&h, 4096, 3, &why), VSOCK_PKT_RST);
	cr_assert(strstr(why, "buffer"), "%s", why);
	h = hdr(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PAYLOAD + 1);
	cr_assert_eq(vsock_hdr_check(&h, 1 << 20, 3, &why), VSOCK_PKT_RST);
	h = hdr(VIRTIO_VSOCK_OP_RW, 0xffffffff);
	cr_assert_eq(vsock_hdr_check(&h, UINT64_MAX, 3, &why), VSOCK_PKT_RST);
	/* Control packets carry no payload. */
	h = hdr(VIRTIO_VSOCK_OP_REQUEST, 16);
	cr_assert_eq(vsock_hdr_check(&h, 16, 3, &why), VSOCK_PKT_RST);
	h = hdr(VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = htole32(4);
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_RST);
}

Test(virtio_vsock, bad_rst_is_dropped_not_answered)
{
	struct virtio_vsock_hdr h = hdr(VIRTIO_VSOCK_OP_RST, 8);
	const char *why;

	cr_assert_eq(vsock_hdr_check(&h, 8, 3, &why), VSOCK_PKT_DROP);
	h = hdr(VIRTIO_VSOCK_OP_RST, 0);
	h.type = htole16(7);
	cr_assert_eq(vsock_hdr_check(&h, 0, 3, &why), VSOCK_PKT_DROP);
}

Test(virtio_vsock, credit_arithmetic)
{
	/* Nothing sent: the whole buffer. */
	cr_assert_eq(vsock_credit(262144, 0, 0), 262144);
	cr_assert_eq(vsock_credit(262144, 0, 4096), 262144 - 4096);
	cr_assert_eq(vsock_credit(262144, 4096, 4096), 262144);
	cr_assert_eq(vsock_credit(262144, 0, 262144), 0);
	/* A peer that shrank its buffer below what is in flight. */
	cr_assert_eq(vsock_credit(4096, 0, 8192), 0);
	/* Counters wrap. */
	cr_assert_eq(vsock_credit(65536, 0xfffff000U, 0x1000), 65536 - 0x2000);
	/* A peer claiming to have consumed more than was sent gets nothing. */
	cr_assert_eq(vsock_credit(65536, 100, 50), 0);
	cr_assert_eq(vsock_credit(0, 0, 0), 0);
}

Test(virtio_vsock, credit_update_only_when_the_sender_may_stall)
{
	const uint32_t buf = 256 * 1024;

	/* Plenty of credit left in the sender's view: stay quiet. */
	cr_assert_not(vsock_credit_update_due(buf, 4096, 4096, 0));
	/* Low credit in its view and everything forwarded: tell it. */
	cr_assert(vsock_credit_update_due(buf, 200 * 1024, 200 * 1024, 0));
	/* Low credit but only a little freed, more still buffered: wait. */
	cr_assert_not(vsock_credit_update_due(buf, 200 * 1024, 4096, 0));
	/* Low credit and a full packet's worth freed. */
	cr_assert(vsock_credit_update_due(buf, 200 * 1024, 64 * 1024, 0));
	/* Nothing new since the last update. */
	cr_assert_not(vsock_credit_update_due(buf, 200 * 1024, 100, 100));
	/* Exhausted sender, any progress that drains the buffer. */
	cr_assert(vsock_credit_update_due(buf, buf, buf, 0));
	/* Wrapping counters. */
	cr_assert(vsock_credit_update_due(buf, 0x10000, 0x10000, 0xfffd0000U));
	/* Forwarded more than received is nonsense: no update. */
	cr_assert_not(vsock_credit_update_due(buf, 100, 200, 0));
}

/* The one guest CID rule of --vsock cid=, PUT /vsock and the config file. */
Test(virtio_vsock, cid_check_is_the_rule_everywhere)
{
	char why[160];

	cr_assert_eq(vsock_cid_check(3, why, sizeof(why)), 0);
	cr_assert_eq(vsock_cid_check(4294967294ULL, why, sizeof(why)), 0);
	cr_assert_eq(vsock_cid_check(2, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "reserved"), "%s", why);
	cr_assert_eq(vsock_cid_check(4294967295ULL, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "VMADDR_CID_ANY"), "%s", why);
	cr_assert_eq(vsock_cid_check(1ULL << 40, why, sizeof(why)), -EINVAL);
}
