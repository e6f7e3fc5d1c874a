/* libFuzzer target: a hostile guest's raw port and MMIO accesses, as its
 * vCPUs would make them, to the legacy devices (COM1, the i8042, the CMOS,
 * the guest kit port) and to virtio-mmio transports (an entropy device and
 * two drives, one read-only), through the VM's buses: any offset, width 1 to
 * 8 (accesses straddling two devices' ranges or none), any register order
 * (queue set-up after DRIVER_OK, a reset mid-request, config-space writes),
 * rings anywhere in (or out of) guest RAM, kicks, and the host's side at the
 * same time (console input, key presses). The other device targets drive a
 * model the way a driver would; this one drives no protocol at all.
 *
 * The input is a header (flags, image length), the guest memory image
 * (fuzz_mem.h: one or two regions ending at guard pages) and then 8-byte
 * steps. Devices are made once; each input starts with their power-on state
 * (a virtio reset through the registers, a fresh legacy device). Checked
 * besides crashes: a read returns exactly the bytes asked for (the rest of
 * the buffer is untouched), the UART's FIFO and the i8042's buffer stay
 * within their sizes, and the drives' disk never changes size, nor does the
 * read-only one change at all. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/legacy/cmos.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/kit_port.h"
#include "devices/legacy/serial.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_rng.h"
#include "fuzz_mem.h"
#include "util/log.h"

#define MMIO_BASE  0xd0000000ULL
#define NVIRTIO	   3
#define DISK_BYTES (64 * 512)
#define STEP_BYTES 8

struct fuzz_hdr {
	uint8_t flags;
	uint16_t image; /* bytes of guest memory image that follow */
} __attribute__((packed));

enum {
	F_TWO_REGIONS = 1 << 0,
};

struct step {
	uint8_t op;	/* low 3 bits: what; bits 3-4: width 1, 2, 4, 8 */
	uint8_t target; /* device, port or queue */
	uint16_t off;
	uint32_t value;
} __attribute__((packed));

_Static_assert(sizeof(struct step) == STEP_BYTES, "steps are 8 bytes");

/* Ports around and inside the legacy devices' ranges (a width may reach past). */
static const uint16_t ports[] = { 0x3f0, 0x3f1, 0x3f7, 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc,
				  0x3fd, 0x3fe, 0x3ff, 0x400, 0x5f,  0x60,  0x61,  0x64,
				  0x65,	 0x6f,	0x70,  0x71,  0x72,  0x80 };
#define NPORTS (sizeof(ports) / sizeof(ports[0]))

static struct fuzz_rig rig;
static struct io_bus pio;
static struct serial uart;
static struct i8042 kbd;
static struct cmos rtc;
static struct kit_port kit;
static struct virtio_rng *rng;
static struct virtio_blk *blk[2]; /* read-write (writeback), read-only (unsafe) */
static struct virtio_dev *vdev[NVIRTIO];
static int disk[2] = { -1, -1 };
static uint8_t ro_image[DISK_BYTES];

static void uart_out(void *ctx, uint8_t byte)
{
	(void)ctx;
	(void)byte;
}

static void uart_irq(void *ctx, bool level)
{
	(void)ctx;
	(void)level;
}

static void no_op(void *ctx)
{
	(void)ctx;
}

static void make_disk(bool read_only)
{
	struct blk_config c = { .read_only = read_only, .engine = BLK_ENGINE_SYNC };
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC), i = read_only ? 1 : 0;

	if (fd < 0 || ftruncate(fd, DISK_BYTES))
		abort();
	if (read_only) {
		for (size_t k = 0; k < sizeof(ro_image); k++)
			ro_image[k] = (uint8_t)(k * 7 + 3);
		if (pwrite(fd, ro_image, sizeof(ro_image), 0) != (ssize_t)sizeof(ro_image))
			abort();
	}
	c.cache = read_only ? BLK_CACHE_UNSAFE : BLK_CACHE_WRITEBACK;
	snprintf(c.path, sizeof(c.path), "/proc/self/fd/%d", fd);
	if (virtio_blk_create(&blk[i], &c, &rig.env,
			      MMIO_BASE + (uint64_t)(1 + i) * VIRTIO_MMIO_WINDOW, 6 + i))
		abort();
	disk[i] = fd;
}

static void make_devices(void)
{
	log_set_level(getenv("VOLT_FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR);
	fuzz_rig_init(&rig, 64ULL << 20);
	pio.kind = "port";
	if (virtio_rng_create(&rng, NULL, &rig.env, MMIO_BASE, 5))
		abort();
	make_disk(false);
	make_disk(true);
	vdev[0] = virtio_rng_dev(rng);
	vdev[1] = virtio_blk_dev(blk[0]);
	vdev[2] = virtio_blk_dev(blk[1]);
	if (io_bus_register(&pio, SERIAL_COM1_BASE, 8, serial_io, &uart, "serial") ||
	    io_bus_register(&pio, I8042_DATA_PORT, 5, i8042_io, &kbd, "i8042") ||
	    io_bus_register(&pio, CMOS_PORT, 2, cmos_io, &rtc, "cmos") ||
	    io_bus_register(&pio, KIT_PORT, 1, kit_port_io, &kit, "kit"))
		abort();
}

/* Power-on state for every device. */
static void power_on(void)
{
	int i;

	for (i = 0; i < NVIRTIO; i++)
		fuzz_wr(vdev[i], VIRTIO_MMIO_STATUS, 0);
	fuzz_pump(&rig, 8); /* kicks left in the eventfds by the last input */
	serial_init(&uart, uart_out, uart_irq, NULL);
	i8042_init(&kbd, no_op, no_op, NULL);
	memset(&rtc, 0, sizeof(rtc));
	kit_port_init(&kit, no_op, NULL);
	if (kit_port_set_command(&kit, "echo fuzz"))
		abort();
	if (ftruncate(disk[0], DISK_BYTES))
		abort();
}

/* An access of width len must fill exactly len bytes of a read. */
static void bus_access(bool mmio, uint64_t addr, uint32_t len, bool is_write, uint32_t value)
{
	uint8_t buf[16];

	memset(buf, 0xa5, sizeof(buf));
	memcpy(buf, &value, sizeof(value));
	if (mmio)
		io_bus_access(&rig.mmio, addr, buf, len, is_write);
	else
		io_bus_access(&pio, addr, buf, len, is_write);
	for (size_t i = len > 4 ? len : 4; i < sizeof(buf); i++)
		if (buf[i] != 0xa5)
			abort();
}

/* A queue set up as a driver would, with the rings where the step puts them. */
static void queue_setup(const struct step *s)
{
	struct virtio_dev *d = vdev[s->target % NVIRTIO];
	uint64_t n = 1u << ((s->off & 0xff) % 11); /* fuzz_driver_setup's size */
	struct fuzz_queue q = {
		.size_log2 = (uint8_t)(s->off & 0xff),
		.desc = s->value,
		.avail = (uint64_t)s->value + 16 * n,
	};

	q.used = (q.avail + 6 + 2 * n + 3) & ~3ULL;
	if (s->off & 0x100)
		q.desc |= FUZZ_HIGH_GPA, q.avail |= FUZZ_HIGH_GPA, q.used |= FUZZ_HIGH_GPA;
	fuzz_driver_setup(d, s->off & 0x200 ? ~0ULL : 0, &q, 1, s->off & 0x400);
}

static void kick(const struct step *s)
{
	struct virtio_dev *d = vdev[s->target % NVIRTIO];
	unsigned int q = s->off % (d->ops->num_queues + 1); /* one past: none */

	if (s->off & 0x8000)
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	else
		virtio_kick(d, q);
	fuzz_pump(&rig, 8);
}

static void host_side(const struct step *s)
{
	uint8_t bytes[4];

	memcpy(bytes, &s->value, sizeof(bytes));
	switch (s->target % 4) {
	case 0:
		serial_receive(&uart, bytes, s->off % 5);
		break;
	case 1:
		i8042_key(&kbd, s->off, s->value & 1);
		break;
	case 2:
		i8042_ctrl_alt_del(&kbd);
		break;
	default:
		fuzz_pump(&rig, 8);
		break;
	}
}

static void check(void)
{
	struct stat st;

	if (uart.rx_count > SERIAL_FIFO_SIZE || uart.rx_head >= SERIAL_FIFO_SIZE ||
	    kbd.buf_len > I8042_BUF_SIZE || kbd.buf_head >= I8042_BUF_SIZE)
		abort();
	for (int i = 0; i < 2; i++)
		if (fstat(disk[i], &st) || st.st_size != DISK_BYTES)
			abort();
}

static void check_read_only_disk(void)
{
	static uint8_t now[DISK_BYTES];

	if (pread(disk[1], now, sizeof(now), 0) != (ssize_t)sizeof(now) ||
	    memcmp(now, ro_image, sizeof(now)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t widths[] = { 1, 2, 4, 8 };
	struct fuzz_hdr h;
	size_t img;

	if (!rig.ready)
		make_devices();
	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	img = h.image < size ? h.image : size;
	power_on();
	fuzz_mem_set(&rig.mem, data, img, h.flags & F_TWO_REGIONS, 0);
	data += img;
	size -= img;
	for (; size >= STEP_BYTES; data += STEP_BYTES, size -= STEP_BYTES) {
		struct step s;
		uint32_t len;

		memcpy(&s, data, sizeof(s));
		len = widths[(s.op >> 3) & 3];
		switch (s.op & 7) {
		case 0:
		case 1:
			bus_access(true, MMIO_BASE + s.off % (NVIRTIO * VIRTIO_MMIO_WINDOW + 0x10),
				   len, !(s.op & 1), s.value);
			break;
		case 2:
		case 3:
			bus_access(false, ports[s.target % NPORTS], len, !(s.op & 1), s.value);
			break;
		case 4:
			queue_setup(&s);
			break;
		case 5:
			kick(&s);
			break;
		default:
			host_side(&s);
			break;
		}
		check();
	}
	fuzz_pump(&rig, 8);
	check();
	check_read_only_disk();
	return 0;
}
