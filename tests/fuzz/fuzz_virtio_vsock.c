/* libFuzzer target: the whole virtio-vsock device (virtio_vsock.c with
 * vsock_proto.c) driven through its registers by a hostile driver, with the
 * host side played by real AF_UNIX sockets: services listening on
 * "<uds>_1024".."<uds>_1027" for the guest's REQUESTs, and host clients that
 * connect to <uds> and send a CONNECT line.
 *
 * The input is a header (flags, the three queues' sizes and ring addresses,
 * which queues' buffers appear only at their first kick, a script of up to
 * 24 steps) and then the guest memory image (fuzz_mem.h),
 * where the guest's packets and receive buffers lie. Steps: kick the TX or RX
 * queue, serve the device's event sources (host sockets, requeued kicks),
 * accept at the services, send host bytes, shut down or close a host socket,
 * connect a host client, read everything the host sockets hold. Each input
 * starts with a device reset, so connections never outlive their input.
 * Crashes, sanitizer reports and hangs (libFuzzer's -timeout) are the
 * findings; the device's own state stays private. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "devices/virtio/virtio_vsock.h"
#include "devices/virtio/vsock_proto.h"
#include "fuzz_mem.h"
#include "util/log.h"

#define GUEST_CID     3
#define NSERVICES     4
#define SERVICE_PORT  1024
#define MAX_HOST_FDS  64
#define MAX_STEPS     24
#define VSOCK_BASE    0xd0000000ULL
#define HOST_SEND_MAX 4096

struct fuzz_hdr {
	uint8_t flags;
	uint8_t hold; /* bit q: queue q's avail index reads 0 until a kick publishes it */
	uint8_t nsteps;
	uint8_t steps[MAX_STEPS];
	struct fuzz_queue q[3]; /* RX, TX, event */
} __attribute__((packed));

enum {
	F_INDIRECT = 1 << 0,
	F_EVENT_IDX = 1 << 1,
	F_TWO_REGIONS = 1 << 2,
};

enum { S_KICK_TX, S_KICK_RX, S_PUMP, S_ACCEPT, S_HOST_SEND, S_HOST_CLOSE, S_CLIENT, S_HOST_READ };

static struct fuzz_rig rig;
static struct virtio_dev *dev;
static char dir[64], uds[108];
static int services[NSERVICES] = { -1, -1, -1, -1 };
static int host_fds[MAX_HOST_FDS];
static unsigned int nhost;
static uint8_t junk[HOST_SEND_MAX];
static uint16_t *held_idx[2]; /* where a held avail index lives */
static uint16_t held_val[2];

/* Hides the buffers the driver placed on queue q until publish(q): at
 * DRIVER_OK the device serves whatever is there, before any host side exists. */
static void hold(const struct fuzz_queue *fq, unsigned int q)
{
	held_idx[q] = gpa_to_hva(&rig.mem, fq->avail + 2, 2);
	if (held_idx[q]) {
		memcpy(&held_val[q], held_idx[q], 2);
		memset(held_idx[q], 0, 2);
	}
}

static void publish(unsigned int q)
{
	if (held_idx[q])
		memcpy(held_idx[q], &held_val[q], 2);
	held_idx[q] = NULL;
}

static void cleanup_dir(void)
{
	char path[sizeof(uds) + 16];
	int i;

	for (i = 0; i < NSERVICES; i++) {
		snprintf(path, sizeof(path), "%s_%d", uds, SERVICE_PORT + i);
		unlink(path);
	}
	unlink(uds);
	rmdir(dir);
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16))
		abort();
	return fd;
}

static void init(void)
{
	struct vsock_config c = { .cid = GUEST_CID };
	struct virtio_vsock *v;
	char path[sizeof(uds) + 16];
	int i;

	/* VOLT_FUZZ_LOG=1 shows what the device logs, to follow one input. */
	log_set_level(getenv("VOLT_FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR);
	for (i = 0; i < (int)sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 31 + 7);
	snprintf(dir, sizeof(dir), "/tmp/volt-fuzz-vsock-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(uds, sizeof(uds), "%s/v", dir);
	atexit(cleanup_dir);
	for (i = 0; i < NSERVICES; i++) {
		snprintf(path, sizeof(path), "%s_%d", uds, SERVICE_PORT + i);
		services[i] = listen_at(path);
	}
	snprintf(c.uds, sizeof(c.uds), "%s", uds);
	fuzz_rig_init(&rig, 64 << 20);
	if (virtio_vsock_create(&v, &c, &rig.env, VSOCK_BASE, 5))
		abort();
	/* The transport registered the device's window: that names its virtio_dev. */
	dev = rig.mmio.ranges[0].dev;
}

static void host_add(int fd)
{
	if (nhost == MAX_HOST_FDS) {
		close(fd);
		return;
	}
	host_fds[nhost++] = fd;
}

static void host_remove(unsigned int i)
{
	close(host_fds[i]);
	host_fds[i] = host_fds[--nhost];
}

static void accept_all(int close_them)
{
	int i, fd;

	for (i = 0; i < NSERVICES; i++)
		while ((fd = accept4(services[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			if (close_them)
				close(fd);
			else
				host_add(fd);
		}
}

static void client(unsigned int arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[40];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), n;

	if (fd < 0)
		return;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return;
	}
	if (arg & 8)
		n = snprintf(line, sizeof(line), "HELLO %u\n", arg);
	else if (arg & 4)
		n = snprintf(line, sizeof(line), " connect\t%u \r\n", SERVICE_PORT + (arg & 3));
	else
		n = snprintf(line, sizeof(line), "CONNECT %u\n", SERVICE_PORT + (arg & 3));
	/* A line sent in two pieces, or cut short, at times. */
	if (arg & 16) {
		(void)!send(fd, line, 3, MSG_NOSIGNAL);
		fuzz_pump(&rig, 2);
		(void)!send(fd, line + 3, (size_t)n - 3, MSG_NOSIGNAL);
	} else {
		(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL);
	}
	host_add(fd);
}

static void host_read_all(void)
{
	unsigned int i;

	for (i = 0; i < nhost; i++)
		while (recv(host_fds[i], junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
}

static void step(uint8_t s)
{
	unsigned int arg = s >> 3;

	switch (s & 7) {
	case S_KICK_TX:
	case S_KICK_RX:
		/* 0 is RX, 1 TX; a held queue's buffers appear with its first kick. */
		publish(!(s & 7));
		virtio_kick(dev, !(s & 7));
		break;
	case S_PUMP:
		fuzz_pump(&rig, 1 + arg % 8);
		break;
	case S_ACCEPT:
		accept_all(0);
		break;
	case S_HOST_SEND:
		if (nhost)
			(void)!send(host_fds[arg % nhost], junk, 16u << (arg % 8),
				    MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	case S_HOST_CLOSE:
		if (!nhost)
			break;
		if (arg & 1)
			shutdown(host_fds[(arg >> 1) % nhost], (arg & 2) ? SHUT_RDWR : SHUT_WR);
		else
			host_remove((arg >> 1) % nhost);
		break;
	case S_CLIENT:
		client(arg);
		break;
	case S_HOST_READ:
		host_read_all();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_hdr h;
	uint64_t want;
	unsigned int i;

	if (!dev)
		init();
	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	fuzz_mem_set(&rig.mem, data, size, h.flags & F_TWO_REGIONS, 0);
	want = ((h.flags & F_INDIRECT) ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0) |
	       ((h.flags & F_EVENT_IDX) ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0);
	/* The reset in here also closes the last input's connections. */
	held_idx[0] = held_idx[1] = NULL;
	for (i = 0; i < 2; i++)
		if (h.hold & (1u << i))
			hold(&h.q[i], i);
	fuzz_driver_setup(dev, want, h.q, 3, 0);
	for (i = 0; i < h.nsteps % (MAX_STEPS + 1); i++)
		step(h.steps[i]);
	fuzz_pump(&rig, 8);

	/* The host side forgets everything too; what volt still holds goes at the reset. */
	while (nhost)
		host_remove(0);
	accept_all(1);
	fuzz_pump(&rig, 4);
	return 0;
}
