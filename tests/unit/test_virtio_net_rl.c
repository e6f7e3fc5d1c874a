/* virtio-net's tx rate limiter on a real TAP (skipped where none can be
 * made), driven like a driver (virtio_rig.h): the chains beyond the budget
 * wait in the avail ring for the limiter's timer; all are completed. The TAP
 * is down, so the frames go nowhere: only the pace of the queue counts. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "devices/virtio/virtio_net.h"
#include "util/log.h"
#include "virtio_rig.h"

#define TXQ 1
#define N   4

Test(net_rate_limit, tx_ops_park_the_queue_until_the_timer, .timeout = 20)
{
	struct net_config c = { .tx_rate_limiter = { .ops = { N, 0, 100 } } };
	struct virtio_net *x = NULL;
	struct rig r;
	uint64_t t0;

	log_set_level(LOG_OFF);
	snprintf(c.tap, sizeof(c.tap), "vrl%d", (int)(getpid() % 100000));
	rig_init(&r);
	if (virtio_net_create(&x, &c, &r.env, RIG_BASE, 5)) {
		rig_free(&r);
		cr_skip_test("no TAP device can be made here");
	}
	/* struct virtio_net starts with its struct virtio_dev. */
	r.d = (struct virtio_dev *)x;
	rig_driver_ok(&r, 2);
	for (unsigned int i = 0; i < 3 * N; i++) {
		uint64_t gpa = RIG_DATA + i * 256ULL;
		struct rig_seg s[2] = { { gpa, 12, false }, { gpa + 64, 60, false } };

		memset(gpa_to_hva(&r.mem, gpa, 12), 0, 12);
		memset(gpa_to_hva(&r.mem, gpa + 64, 60), 0xff, 60);
		rig_chain(&r, TXQ, s, 2, false);
	}
	t0 = rig_ms();
	rig_kick(&r, TXQ);
	cr_assert(rig_wait_used(&r, TXQ, N, 1000), "used %u", rig_used(&r, TXQ));
	rig_sleep_ms(40);
	cr_assert_eq(rig_used(&r, TXQ), N, "only %d at first", N);
	cr_assert(rig_wait_used(&r, TXQ, 3 * N, 3000), "used %u", rig_used(&r, TXQ));
	cr_assert_geq(rig_ms() - t0, 180);
	rig_stop(&r);
	virtio_net_destroy(x);
	rig_free(&r);
}

#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define RXQ 0

/* Brings the TAP up (without IPv6, whose own frames would add to the count)
 * and sends n frames into it from the host, as the network would. */
static bool host_sends(const char *tap, unsigned int n)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_ll to = { .sll_family = AF_PACKET };
	char path[128];
	uint8_t frame[60];
	FILE *f;
	int s;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", tap);
	f = fopen(path, "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	s = socket(AF_PACKET, SOCK_RAW, 0);
	if (s < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr))) {
		close(s);
		return false;
	}
	to.sll_ifindex = (int)if_nametoindex(tap);
	to.sll_halen = 6;
	memset(frame, 0xff, 12); /* broadcast, from ff:..: only the count matters */
	frame[12] = 0x88;	 /* a local experimental EtherType */
	frame[13] = 0xb5;
	for (unsigned int i = 0; i < n; i++)
		if (sendto(s, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) !=
		    (ssize_t)sizeof(frame)) {
			close(s);
			return false;
		}
	close(s);
	return true;
}

Test(net_rate_limit, rx_frames_wait_in_the_device_until_the_timer, .timeout = 20)
{
	struct net_config c = { .rx_rate_limiter = { .ops = { N, 0, 100 } } };
	struct virtio_net *x = NULL;
	uint64_t made, bound;
	unsigned int used;
	struct rig r;

	log_set_level(LOG_OFF);
	snprintf(c.tap, sizeof(c.tap), "vrr%d", (int)(getpid() % 100000));
	rig_init(&r);
	made = rig_ms(); /* the bucket is made full with the device */
	if (virtio_net_create(&x, &c, &r.env, RIG_BASE, 5)) {
		rig_free(&r);
		cr_skip_test("no TAP device can be made here");
	}
	r.d = (struct virtio_dev *)x;
	rig_driver_ok(&r, 2);
	for (unsigned int i = 0; i < 4 * N; i++) {
		struct rig_seg s = { RIG_DATA + i * 2048ULL, 2048, true };

		rig_chain(&r, RXQ, &s, 1, false);
	}
	rig_kick(&r, RXQ);
	if (!host_sends(c.tap, 3 * N)) {
		rig_stop(&r);
		virtio_net_destroy(x);
		rig_free(&r);
		cr_skip_test("cannot send frames into the TAP here");
	}
	for (int ms = 1000; ms > 0 && rig_used(&r, RXQ) < N; ms -= 2)
		rig_sleep_ms(2);
	rig_sleep_ms(40);
	/* The bucket (N, refilled over 100 ms, continuously) lets through at most
	 * N and then N per 100 ms since it was made: on an idle host N of the
	 * 3N frames at first. A loaded one (a sanitizer build, other jobs) may
	 * look later, and the bound grows with the time it took. */
	used = rig_used(&r, RXQ);
	bound = N + (N * (rig_ms() - made) + 99) / 100;
	cr_assert(used >= N && used <= bound, "used %u, at most %llu by now", used,
		  (unsigned long long)bound);
	cr_assert(rig_wait_used(&r, RXQ, 3 * N, 3000), "used %u", rig_used(&r, RXQ));
	rig_stop(&r);
	virtio_net_destroy(x);
	rig_free(&r);
}

/* --- metrics: the kind's section and the interface's own ------------------------ */

#include <jansson.h>

#include "core/metrics.h"
#include "devices/device_kind.h"

/* Firecracker's "net_<iface_id>" (the API's id, through the device table's
 * create): the kind's fields, counting that interface alone, until it is
 * destroyed; an interface without an id (--net) has none. */
Test(net_metrics, the_interface_counts_in_its_own_section_and_the_kinds, .timeout = 20)
{
	struct net_config c = { 0 };
	struct device_env denv;
	void *dev = NULL;
	struct rig r;
	char *line;
	json_t *j, *own;

	log_set_level(LOG_OFF);
	cr_assert_eq(metrics_register(virtio_net_kind.metrics), 0);
	snprintf(c.tap, sizeof(c.tap), "vrm%d", (int)(getpid() % 100000));
	rig_init(&r);
	denv = (struct device_env){ .venv = &r.env, .base = RIG_BASE, .irq = 5, .id = "eth0" };
	if (virtio_net_kind.create(&dev, &c, &denv)) {
		rig_free(&r);
		cr_skip_test("no TAP device can be made here");
	}
	r.d = dev; /* struct virtio_net starts with its struct virtio_dev */
	rig_driver_ok(&r, 2);
	for (unsigned int i = 0; i < 2; i++) {
		uint64_t gpa = RIG_DATA + i * 256ULL;
		struct rig_seg s[2] = { { gpa, 12, false }, { gpa + 64, 60, false } };

		memset(gpa_to_hva(&r.mem, gpa, 12), 0, 12);
		memset(gpa_to_hva(&r.mem, gpa + 64, 60), 0xff, 60);
		rig_chain(&r, TXQ, s, 2, false);
	}
	rig_kick(&r, TXQ);
	cr_assert(rig_wait_used(&r, TXQ, 2, 2000), "used %u", rig_used(&r, TXQ));
	rig_stop(&r);
	j = rig_own_metrics("net_eth0", "net", &own);
	/* The TAP is down: Linux refuses the frames, counted as dropped. */
	cr_assert_eq(json_integer_value(json_object_get(own, "tx_packets_count")) +
			     json_integer_value(json_object_get(own, "tx_fails")),
		     2);
	cr_assert_geq(json_integer_value(json_object_get(own, "tx_queue_event_count")), 1);
	json_decref(j);
	virtio_net_kind.destroy(dev);
	rig_free(&r);
	line = metrics_render();
	cr_assert_null(strstr(line, "\"net_eth0\""), "gone with the interface");
	free(line);
}
