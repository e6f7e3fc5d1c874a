/* Devices' snapshot state (issue #13): every device saves what it holds and a
 * device made fresh from the same configuration restores it, without KVM.
 * The virtio devices run on plain eventfds (a virtio_env with no route
 * callbacks) over real guest memory that both devices share, as a restored VM
 * shares the memory file with the VM that was saved. Each test plays the
 * driver through the MMIO registers and the rings, serves kicks on its own
 * thread (virtio_kick), and checks the registers, the queue indexes and the
 * next request after the restore; then hostile state files, which must be
 * refused without a crash. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "core/snap.h"
#include "devices/device_kind.h"
#include "devices/legacy/cmos.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial.h"
#include "devices/virtio/virtio_balloon.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"
#include "helpers.h"
#include "util/log.h"

/* --- state files ------------------------------------------------------------ */

struct image {
	struct snap_writer w;
	struct snap_reader r;
};

static void image_begin(struct image *im, const char *scope)
{
	snap_writer_init(&im->w);
	cr_assert_eq(snap_writer_scope(&im->w, "%s", scope), 0);
}

/* Finishes the writer and opens a reader on it, in the same scope. */
static void image_read(struct image *im, const char *scope)
{
	const uint8_t *img;
	size_t len;

	cr_assert_eq(snap_finish(&im->w, &img, &len), 0);
	cr_assert_eq(snap_read_mem(&im->r, img, len, "test"), 0);
	cr_assert_eq(snap_reader_scope(&im->r, "%s", scope), 0);
}

static void image_free(struct image *im)
{
	snap_writer_free(&im->w);
	snap_reader_free(&im->r);
}

/* A copy of the image read in im->r with record name (full name) replaced by
 * data (len bytes), or dropped when data is NULL; opened in out->r. */
static void image_edit(struct image *im, struct image *out, const char *scope, const char *name,
		       const void *data, size_t len)
{
	snap_writer_init(&out->w);
	for (size_t i = 0; i < im->r.nrecs; i++) {
		const struct snap_record *rec = &im->r.recs[i];

		if (!strcmp(rec->name, name)) {
			if (data)
				cr_assert_eq(snap_put(&out->w, rec->name, data, len), 0);
			continue;
		}
		cr_assert_eq(snap_put(&out->w, rec->name, im->r.buf + rec->off, rec->len), 0);
	}
	image_read(out, scope);
}

/* The data of record name (full name) in im->r. */
static const void *image_rec(struct image *im, const char *name, size_t *len)
{
	for (size_t i = 0; i < im->r.nrecs; i++)
		if (!strcmp(im->r.recs[i].name, name)) {
			*len = im->r.recs[i].len;
			return im->r.buf + im->r.recs[i].off;
		}
	cr_assert_fail("no record %s", name);
	return NULL;
}

/* --- the legacy devices ------------------------------------------------------ */

static int serial_levels[8], serial_nlevels;

static void serial_irq_cb(void *ctx, bool level)
{
	(void)ctx;
	if (serial_nlevels < 8)
		serial_levels[serial_nlevels++] = level;
}

static void port_w(struct serial *s, unsigned int reg, uint8_t v)
{
	serial_io(s, reg, &v, 1, true);
}

static uint8_t port_r(struct serial *s, unsigned int reg)
{
	uint8_t v;

	serial_io(s, reg, &v, 1, false);
	return v;
}

Test(dev_state, serial_registers_fifo_and_irq_level_round_trip)
{
	struct serial a, b;
	struct image im;
	uint8_t regs_a[8], regs_b[8];

	log_set_level(LOG_ERROR);
	serial_init(&a, NULL, serial_irq_cb, NULL);
	port_w(&a, 3, 0x80); /* DLAB */
	port_w(&a, 0, 0x01);
	port_w(&a, 1, 0x00);
	port_w(&a, 3, 0x03); /* 8N1 */
	port_w(&a, 4, 0x0b); /* DTR, RTS, OUT2 */
	port_w(&a, 7, 0x5a);
	port_w(&a, 1, 0x01); /* receive interrupts */
	cr_assert_eq(serial_receive(&a, (const uint8_t *)"hello", 5), 5);
	cr_assert_eq(port_r(&a, 0), 'h');
	cr_assert(a.irq_level);

	image_begin(&im, "dev/serial");
	cr_assert_eq(serial_save(&a, &im.w), 0);
	image_read(&im, "dev/serial");
	serial_init(&b, NULL, serial_irq_cb, NULL);
	serial_nlevels = 0;
	cr_assert_eq(serial_restore(&b, &im.r), 0);
	cr_assert_null(snap_unread(&im.r));
	cr_assert_eq(serial_nlevels, 1, "the level is asserted again");
	cr_assert_eq(serial_levels[0], 1);
	cr_assert(b.irq_level);

	for (unsigned int i = 1; i < 8; i++) {
		regs_a[i] = port_r(&a, i);
		regs_b[i] = port_r(&b, i);
		cr_assert_eq(regs_a[i], regs_b[i], "register %u", i);
	}
	port_w(&b, 3, 0x83);
	cr_assert_eq(port_r(&b, 0), 0x01, "divisor latch");
	port_w(&b, 3, 0x03);
	cr_assert_eq(port_r(&b, 0), 'e');
	cr_assert_eq(port_r(&b, 0), 'l');
	cr_assert_eq(port_r(&b, 0), 'l');
	cr_assert_eq(port_r(&b, 0), 'o');
	cr_assert_eq(port_r(&b, 5) & 0x01, 0, "FIFO empty");
	cr_assert_not(b.irq_level, "and the interrupt goes down");
	image_free(&im);
}

Test(dev_state, serial_refuses_hostile_records)
{
	struct serial a, b;
	struct image im, bad;
	uint8_t rec[80];
	const void *p;
	size_t len;

	log_set_level(LOG_OFF);
	serial_init(&a, NULL, NULL, NULL);
	image_begin(&im, "dev/serial");
	cr_assert_eq(serial_save(&a, &im.w), 0);
	image_read(&im, "dev/serial");

	p = image_rec(&im, "dev/serial/regs", &len);
	cr_assert_eq(len, 16);
	image_edit(&im, &bad, "dev/serial", "dev/serial/regs", p, len - 1);
	serial_init(&b, NULL, NULL, NULL);
	cr_assert_eq(serial_restore(&b, &bad.r), -EMSGSIZE);
	image_free(&bad);

	p = image_rec(&im, "dev/serial/fifo", &len);
	memcpy(rec, p, len);
	rec[4] = 65; /* count */
	image_edit(&im, &bad, "dev/serial", "dev/serial/fifo", rec, len);
	cr_assert_eq(serial_restore(&b, &bad.r), -EINVAL);
	image_free(&bad);

	p = image_rec(&im, "dev/serial/regs", &len);
	memcpy(rec, p, len);
	rec[4] = 0xff; /* IER */
	image_edit(&im, &bad, "dev/serial", "dev/serial/regs", rec, len);
	cr_assert_eq(serial_restore(&b, &bad.r), -EINVAL);
	image_free(&bad);

	image_edit(&im, &bad, "dev/serial", "dev/serial/fifo", NULL, 0);
	cr_assert_eq(serial_restore(&b, &bad.r), -ENOENT);
	image_free(&bad);
	image_free(&im);
}

static void kbd_w(struct i8042 *k, uint64_t off, uint8_t v)
{
	i8042_io(k, off, &v, 1, true);
}

static uint8_t kbd_r(struct i8042 *k, uint64_t off)
{
	uint8_t v;

	i8042_io(k, off, &v, 1, false);
	return v;
}

Test(dev_state, i8042_buffer_and_command_state_round_trip)
{
	struct i8042 a, b;
	struct image im;
	uint8_t rec[32];
	const void *p;
	size_t len;

	log_set_level(LOG_OFF);
	i8042_init(&a, NULL, NULL, NULL);
	cr_assert_eq(i8042_ctrl_alt_del(&a), 0);
	(void)kbd_r(&a, 0); /* the guest read the first byte */
	kbd_w(&a, 4, 0x60); /* write command byte: waits for its data */

	image_begin(&im, "dev/i8042");
	cr_assert_eq(i8042_save(&a, &im.w), 0);
	image_read(&im, "dev/i8042");
	i8042_init(&b, NULL, NULL, NULL);
	cr_assert_eq(i8042_restore(&b, &im.r), 0);
	cr_assert_null(snap_unread(&im.r));

	cr_assert_eq(kbd_r(&a, 4), kbd_r(&b, 4), "status");
	for (int i = 0; i < 5; i++)
		cr_assert_eq(kbd_r(&a, 0), kbd_r(&b, 0), "byte %d", i);
	/* The pending command takes its data byte on the restored controller. */
	kbd_w(&b, 0, 0x05);
	kbd_w(&b, 4, 0x20);
	cr_assert_eq(kbd_r(&b, 0), 0x05);

	p = image_rec(&im, "dev/i8042/regs", &len);
	memcpy(rec, p, len);
	rec[7] = 0x42; /* pending_cmd: takes no data */
	{
		struct image bad;

		image_edit(&im, &bad, "dev/i8042", "dev/i8042/regs", rec, len);
		cr_assert_eq(i8042_restore(&b, &bad.r), -EINVAL);
		image_free(&bad);
		p = image_rec(&im, "dev/i8042/buf", &len);
		memcpy(rec, p, len);
		rec[0] = 16; /* head */
		image_edit(&im, &bad, "dev/i8042", "dev/i8042/buf", rec, len);
		cr_assert_eq(i8042_restore(&b, &bad.r), -EINVAL);
		image_free(&bad);
	}
	image_free(&im);
}

Test(dev_state, cmos_index_and_ram_round_trip)
{
	struct cmos a = { 0 }, b = { 0 };
	struct image im, bad;
	uint8_t v, rec[136];
	const void *p;
	size_t len;

	log_set_level(LOG_OFF);
	for (int i = 0x10; i < 0x20; i++) {
		v = (uint8_t)i;
		cmos_io(&a, 0, &v, 1, true);
		v = (uint8_t)(i * 3);
		cmos_io(&a, 1, &v, 1, true);
	}
	v = 0x8f; /* NMI mask and index 0x0f */
	cmos_io(&a, 0, &v, 1, true);
	image_begin(&im, "dev/cmos");
	cr_assert_eq(cmos_save(&a, &im.w), 0);
	image_read(&im, "dev/cmos");
	cr_assert_eq(cmos_restore(&b, &im.r), 0);
	cr_assert_eq(b.index, 0x0f);
	cr_assert_eq(memcmp(a.nvram, b.nvram, sizeof(a.nvram)), 0);

	p = image_rec(&im, "dev/cmos/regs", &len);
	cr_assert_eq(len, sizeof(rec));
	memcpy(rec, p, len);
	rec[4] = 0x80;
	image_edit(&im, &bad, "dev/cmos", "dev/cmos/regs", rec, len);
	cr_assert_eq(cmos_restore(&b, &bad.r), -EINVAL);
	image_free(&bad);
	image_free(&im);
}

/* --- virtio: the rig ---------------------------------------------------------- */

#define RAM	 (128ULL << 20)
#define BASE	 0xd0000000ULL
#define IRQ	 5
#define QSIZE	 8
#define QBASE(q) (0x100000ULL + (q)*0x4000ULL)
#define DESC(q)	 QBASE(q)
#define AVAIL(q) (QBASE(q) + 0x1000)
#define USED(q)	 (QBASE(q) + 0x2000)
#define DATA	 0x200000ULL

static struct guest_mem mem;

/* One side of the snapshot: a device with its own bus and event loop. */
struct side {
	struct event_loop loop;
	struct io_bus bus;
	struct virtio_env env;
	const struct device_kind *kind;
	void *dev;
	struct virtio_dev *d;
};

static int side_plug(struct side *s, const struct device_kind *kind, const void *cfg)
{
	struct device_env denv;
	int err;

	memset(s, 0, sizeof(*s));
	cr_assert_eq(event_loop_init(&s->loop), 0);
	s->bus.kind = "mmio";
	s->env = (struct virtio_env){ .mem = &mem, .loop = &s->loop, .mmio = &s->bus };
	denv = (struct device_env){ .venv = &s->env, .base = BASE, .irq = IRQ };
	s->kind = kind;
	err = kind->create(&s->dev, cfg, &denv);
	if (err)
		return err;
	cr_assert_eq(s->bus.n, 1);
	s->d = s->bus.ranges[0].dev; /* the transport registers itself */
	return 0;
}

static void side_unplug(struct side *s)
{
	event_loop_destroy(&s->loop);
	if (s->dev)
		s->kind->destroy(s->dev);
	s->dev = NULL;
}

static void wr(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_io(d, off, (uint8_t *)&v, 4, true);
}

static uint32_t rd(struct virtio_dev *d, uint64_t off)
{
	uint32_t v;

	virtio_mmio_io(d, off, (uint8_t *)&v, 4, false);
	return v;
}

/* Negotiation of what the device offers among want (VERSION_1 always), every
 * queue at QBASE(q), DRIVER_OK. */
static void driver_up(struct virtio_dev *d, unsigned int nq, uint64_t want)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	uint64_t offered;

	wr(d, VIRTIO_MMIO_STATUS, 0);
	wr(d, VIRTIO_MMIO_STATUS, s);
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	want = (want | (1ULL << VIRTIO_F_VERSION_1)) & offered;
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)want);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(want >> 32));
	s |= VIRTIO_CONFIG_S_FEATURES_OK;
	wr(d, VIRTIO_MMIO_STATUS, s);
	cr_assert(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned int q = 0; q < nq; q++) {
		wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(d, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC(q));
		wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL(q));
		wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)USED(q));
		wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
		cr_assert_eq(rd(d, VIRTIO_MMIO_QUEUE_READY), 1, "queue %u", q);
	}
	wr(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(d, VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert_eq(rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

static uint16_t next_desc[8];

/* Offers a chain of n segments on queue q (descriptors used round robin). */
static void add_chain(unsigned int q, const struct seg *s, unsigned int n)
{
	struct vring_desc *desc = gpa_to_hva(&mem, DESC(q), 16 * QSIZE);
	struct vring_avail *avail = gpa_to_hva(&mem, AVAIL(q), 6 + 2 * QSIZE);
	uint16_t idx = avail->idx, head = next_desc[q] % QSIZE;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t me = (uint16_t)((head + i) % QSIZE), nx = (uint16_t)((me + 1) % QSIZE);

		desc[me] = (struct vring_desc){
			.addr = s[i].gpa,
			.len = s[i].len,
			.flags = (uint16_t)((s[i].writable ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = nx,
		};
	}
	next_desc[q] = (uint16_t)(next_desc[q] + n);
	avail->ring[idx % QSIZE] = head;
	__atomic_store_n(&avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static struct vring_used *used_ring(unsigned int q)
{
	return gpa_to_hva(&mem, USED(q), 6 + 8 * QSIZE);
}

static uint16_t used_idx(unsigned int q)
{
	return __atomic_load_n(&used_ring(q)->idx, __ATOMIC_ACQUIRE);
}

/* An eventfd's count (0: not signalled); it is reset. */
static uint64_t efd_take(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) < 0)
		cr_assert_eq(errno, EAGAIN);
	return n;
}

/* Saves a's device into im (scope), restores it into b's; returns restore's result. */
static int snapshot(struct side *a, struct side *b, struct image *im, const char *scope)
{
	image_begin(im, scope);
	cr_assert_eq(a->kind->save(a->dev, &im->w), 0);
	image_read(im, scope);
	return b->kind->restore(b->dev, &im->r);
}

static void same_transport(struct virtio_dev *a, struct virtio_dev *b)
{
	cr_assert_eq(rd(a, VIRTIO_MMIO_STATUS), rd(b, VIRTIO_MMIO_STATUS));
	cr_assert_eq(rd(a, VIRTIO_MMIO_INTERRUPT_STATUS), rd(b, VIRTIO_MMIO_INTERRUPT_STATUS));
	cr_assert_eq(rd(a, VIRTIO_MMIO_CONFIG_GENERATION), rd(b, VIRTIO_MMIO_CONFIG_GENERATION));
	cr_assert_eq(a->driver_features, b->driver_features);
	cr_assert_eq(a->queue_sel, b->queue_sel);
	cr_assert_eq(memcmp(a->config, b->config, a->config_size), 0, "config space");
	for (unsigned int q = 0; q < a->ops->num_queues; q++) {
		const struct virtq *x = &a->vq[q], *y = &b->vq[q];

		cr_assert_eq(x->ready, y->ready, "queue %u", q);
		cr_assert_eq(x->size, y->size, "queue %u", q);
		cr_assert_eq(x->desc_gpa, y->desc_gpa, "queue %u", q);
		cr_assert_eq(x->avail_gpa, y->avail_gpa, "queue %u", q);
		cr_assert_eq(x->used_gpa, y->used_gpa, "queue %u", q);
		cr_assert_eq(x->last_avail, y->last_avail, "queue %u", q);
		cr_assert_eq(x->used_idx, y->used_idx, "queue %u", q);
		cr_assert_eq(x->event_idx, y->event_idx, "queue %u", q);
		cr_assert_eq(x->indirect, y->indirect, "queue %u", q);
		cr_assert_eq(x->signalled_used, y->signalled_used, "queue %u", q);
		cr_assert_eq(x->signalled_valid, y->signalled_valid, "queue %u", q);
	}
}

/* --- virtio-blk --------------------------------------------------------------- */

static char disk_path[64];

static struct blk_config *blk_disk(enum blk_engine engine)
{
	static struct blk_config c;
	int fd;

	snprintf(disk_path, sizeof(disk_path), "/var/tmp/volt-devstate-XXXXXX");
	fd = mkstemp(disk_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	memset(&c, 0, sizeof(c));
	snprintf(c.path, sizeof(c.path), "%s", disk_path);
	c.engine = engine;
	return &c;
}

#define HDR(n)	  (DATA + 0x1000 * (n))
#define BUF(n)	  (DATA + 0x10000 + 0x1000 * (n))
#define STATUS(n) (DATA + 0x100 + 0x1000 * (n))

/* Request n: a 512-byte read or write at sector. */
static void blk_request(unsigned int n, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	uint8_t unset = 0xee;
	struct seg s[3] = {
		{ HDR(n), sizeof(h), false },
		{ BUF(n), 512, type == VIRTIO_BLK_T_IN },
		{ STATUS(n), 1, true },
	};

	cr_assert_eq(guest_write(&mem, HDR(n), &h, sizeof(h)), 0);
	cr_assert_eq(guest_write(&mem, STATUS(n), &unset, 1), 0);
	add_chain(0, s, 3);
}

static uint8_t guest_byte(uint64_t gpa)
{
	uint8_t v = 0;

	cr_assert_eq(guest_read(&mem, gpa, &v, 1), 0);
	return v;
}

static void blk_round_trip(enum blk_engine engine)
{
	struct blk_config *c = blk_disk(engine);
	uint8_t data[512], back[512];
	struct side a, b;
	struct image im;

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_blk_kind, c), 0);
	driver_up(a.d, 1, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	for (int i = 0; i < 512; i++)
		data[i] = (uint8_t)(i * 13 + 1);
	cr_assert_eq(guest_write(&mem, BUF(0), data, sizeof(data)), 0);
	blk_request(0, VIRTIO_BLK_T_OUT, 3);
	virtio_kick(a.d, 0);
	/* A request the driver posted (its kick still in an eventfd) waits. */
	blk_request(1, VIRTIO_BLK_T_IN, 3);

	/* save completes whatever the engine still has in flight */
	image_begin(&im, "dev/blk0");
	cr_assert_eq(a.kind->save(a.dev, &im.w), 0);
	cr_assert_eq(used_idx(0), 1, "the write is done before the state is saved");
	cr_assert_eq(guest_byte(STATUS(0)), VIRTIO_BLK_S_OK);
	image_read(&im, "dev/blk0");
	(void)efd_take(a.d->irq_fd);

	cr_assert_eq(side_plug(&b, &virtio_blk_kind, c), 0);
	cr_assert_eq(b.kind->restore(b.dev, &im.r), 0);
	cr_assert_null(snap_unread(&im.r));
	same_transport(a.d, b.d);
	cr_assert_eq(b.d->vq[0].last_avail, 1);
	cr_assert_eq(b.d->vq[0].used_idx, 1);
	/* The restored device looks at its ring once it runs. */
	cr_assert_geq(efd_take(b.d->kick_fd[0]), 1);
	/* used_event: interrupt for the next used entry (the restored
	 * signalled_used decides whether that is one). */
	((struct vring_avail *)gpa_to_hva(&mem, AVAIL(0), 6 + 2 * QSIZE))->ring[QSIZE] = 1;
	virtio_kick(b.d, 0);
	if (engine == BLK_ENGINE_IO_URING) {
		struct image again;

		/* No device thread here: a save reaps the completion. */
		image_begin(&again, "dev/blk0");
		cr_assert_eq(b.kind->save(b.dev, &again.w), 0);
		image_free(&again);
	}
	cr_assert_eq(used_idx(0), 2, "the restored device served the waiting request");
	cr_assert_eq(used_ring(0)->ring[1].len, 513);
	cr_assert_eq(guest_byte(STATUS(1)), VIRTIO_BLK_S_OK);
	cr_assert_eq(guest_read(&mem, BUF(1), back, sizeof(back)), 0);
	cr_assert_eq(memcmp(data, back, sizeof(data)), 0);
	cr_assert_geq(efd_take(b.d->irq_fd), 1, "and interrupted the driver");
	image_free(&im);
	side_unplug(&a);
	side_unplug(&b);
	unlink(disk_path);
	guest_mem_free(&mem);
}

Test(dev_state, blk_sync_round_trip)
{
	blk_round_trip(BLK_ENGINE_SYNC);
}

Test(dev_state, blk_io_uring_round_trip_drains_in_flight_requests)
{
	blk_round_trip(BLK_ENGINE_IO_URING);
}

/* The records' layout (virtio_mmio.c), to forge hostile ones. */
struct transport_rec {
	uint32_t version, device_id, num_queues, status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t isr, config_generation, config_size;
	uint64_t features, driver_features;
	uint8_t failed, reserved[7];
	uint8_t config[VIRTIO_CONFIG_MAX];
} __attribute__((packed));

struct queue_rec {
	uint64_t desc, avail, used;
	uint16_t size, last_avail, used_idx, signalled_used;
	uint8_t ready, event_idx, indirect, signalled_valid;
	uint32_t reserved;
} __attribute__((packed));

/* Restoring a blk state with one record edited: the result. */
static int blk_restore_edited(struct image *im, const struct blk_config *c, const char *name,
			      const void *data, size_t len)
{
	struct image bad;
	struct side b;
	int err;

	image_edit(im, &bad, "dev/blk0", name, data, len);
	cr_assert_eq(side_plug(&b, &virtio_blk_kind, c), 0);
	err = b.kind->restore(b.dev, &bad.r);
	/* Refused: nothing of it is live. */
	if (err) {
		cr_assert_eq(b.d->status, 0);
		cr_assert_not(b.d->vq[0].ready);
	}
	side_unplug(&b);
	image_free(&bad);
	return err;
}

Test(dev_state, hostile_transport_records_are_refused)
{
	struct blk_config *c = blk_disk(BLK_ENGINE_SYNC);
	struct transport_rec t;
	struct queue_rec q;
	struct side a;
	struct image im;
	const void *p;
	size_t len;

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_blk_kind, c), 0);
	driver_up(a.d, 1, 0);
	image_begin(&im, "dev/blk0");
	cr_assert_eq(a.kind->save(a.dev, &im.w), 0);
	image_read(&im, "dev/blk0");

	p = image_rec(&im, "dev/blk0/transport", &len);
	cr_assert_eq(len, sizeof(t));
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/transport", p, len - 1), -EMSGSIZE);
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/transport", NULL, 0), -ENOENT);
	memcpy(&t, p, sizeof(t));
	t.device_id = VIRTIO_ID_NET;
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/transport", &t, sizeof(t)), -EINVAL);
	memcpy(&t, p, sizeof(t));
	t.num_queues = 2;
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/transport", &t, sizeof(t)), -EINVAL);
	memcpy(&t, p, sizeof(t));
	t.config_size = 8;
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/transport", &t, sizeof(t)), -EINVAL);
	memcpy(&t, p, sizeof(t));
	t.status |= 0x10; /* no such status bit */
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/transport", &t, sizeof(t)), -EINVAL);
	memcpy(&t, p, sizeof(t));
	t.driver_features |= 1ULL << 40; /* accepted, never offered */
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/transport", &t, sizeof(t)), -EINVAL);

	p = image_rec(&im, "dev/blk0/queue0", &len);
	cr_assert_eq(len, sizeof(q));
	memcpy(&q, p, sizeof(q));
	cr_assert_eq(q.size, QSIZE);
	cr_assert_eq(q.ready, 1);
	q.size = 3;
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/queue0", &q, sizeof(q)), -EINVAL);
	memcpy(&q, p, sizeof(q));
	q.size = 512; /* above queue_max */
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/queue0", &q, sizeof(q)), -EINVAL);
	memcpy(&q, p, sizeof(q));
	q.desc = RAM + 0x1000; /* beyond RAM */
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/queue0", &q, sizeof(q)), -EINVAL);
	memcpy(&q, p, sizeof(q));
	q.used = 0xfffffffffffff000ULL;
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/queue0", &q, sizeof(q)), -EINVAL);
	memcpy(&q, p, sizeof(q));
	q.ready = 7;
	cr_assert_eq(blk_restore_edited(&im, c, "dev/blk0/queue0", &q, sizeof(q)), -EINVAL);
	/* The untouched image still restores. */
	cr_assert_eq(blk_restore_edited(&im, c, "none", NULL, 0), 0);
	image_free(&im);
	side_unplug(&a);
	unlink(disk_path);
	guest_mem_free(&mem);
}

/* A snapshot from before FLUSH was offered for a write-back cache only: the
 * guest of an Unsafe drive acked it. The restored device offers it again (as
 * Firecracker's restored avail_features) instead of refusing the state. */
Test(dev_state, a_flush_the_saved_device_offered_is_offered_after_a_restore)
{
	struct blk_config *c = blk_disk(BLK_ENGINE_SYNC), unsafe;
	struct side a, b;
	struct image im;

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_blk_kind, c), 0);
	driver_up(a.d, 1, 1ULL << VIRTIO_BLK_F_FLUSH);
	cr_assert(a.d->driver_features & (1ULL << VIRTIO_BLK_F_FLUSH));
	unsafe = *c;
	unsafe.cache = BLK_CACHE_UNSAFE;
	cr_assert_eq(side_plug(&b, &virtio_blk_kind, &unsafe), 0);
	cr_assert_eq(snapshot(&a, &b, &im, "dev/blk0"), 0);
	same_transport(a.d, b.d);
	wr(b.d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert(rd(b.d, VIRTIO_MMIO_DEVICE_FEATURES) & (1U << VIRTIO_BLK_F_FLUSH));
	image_free(&im);
	side_unplug(&a);
	side_unplug(&b);
	unlink(disk_path);
	guest_mem_free(&mem);
}

Test(dev_state, a_device_never_set_up_round_trips)
{
	struct blk_config *c = blk_disk(BLK_ENGINE_SYNC);
	struct side a, b;
	struct image im;

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_blk_kind, c), 0);
	cr_assert_eq(side_plug(&b, &virtio_blk_kind, c), 0);
	cr_assert_eq(snapshot(&a, &b, &im, "dev/blk0"), 0);
	same_transport(a.d, b.d);
	cr_assert_eq(efd_take(b.d->kick_fd[0]), 0, "no queue to look at");
	image_free(&im);
	side_unplug(&a);
	side_unplug(&b);
	unlink(disk_path);
	guest_mem_free(&mem);
}

Test(dev_state, a_failed_device_stays_failed_until_the_driver_resets_it)
{
	struct blk_config *c = blk_disk(BLK_ENGINE_SYNC);
	struct seg outside = { RAM + 0x10000, 16, false };
	struct side a, b;
	struct image im;

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_blk_kind, c), 0);
	driver_up(a.d, 1, 0);
	add_chain(0, &outside, 1);
	virtio_kick(a.d, 0);
	cr_assert(rd(a.d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(side_plug(&b, &virtio_blk_kind, c), 0);
	cr_assert_eq(snapshot(&a, &b, &im, "dev/blk0"), 0);
	cr_assert(b.d->failed);
	cr_assert(rd(b.d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_not(b.d->vq[0].ready);
	cr_assert_eq(efd_take(b.d->kick_fd[0]), 0);
	/* The driver resets it and sets it up again, with fresh rings. */
	memset(gpa_to_hva(&mem, QBASE(0), 0x3000), 0, 0x3000);
	driver_up(b.d, 1, 0);
	cr_assert_not(b.d->failed);
	cr_assert(b.d->vq[0].ready);
	image_free(&im);
	side_unplug(&a);
	side_unplug(&b);
	unlink(disk_path);
	guest_mem_free(&mem);
}

Test(dev_state, a_resized_drive_tells_the_driver)
{
	struct blk_config *c = blk_disk(BLK_ENGINE_SYNC);
	struct virtio_blk_config cfg;
	struct side a, b;
	struct image im;
	uint32_t gen;

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_blk_kind, c), 0);
	driver_up(a.d, 1, 0);
	gen = rd(a.d, VIRTIO_MMIO_CONFIG_GENERATION);
	cr_assert_eq(truncate(disk_path, 2 << 20), 0);
	cr_assert_eq(side_plug(&b, &virtio_blk_kind, c), 0);
	cr_assert_eq(snapshot(&a, &b, &im, "dev/blk0"), 0);
	memcpy(&cfg, b.d->config, sizeof(cfg));
	cr_assert_eq(cfg.capacity, 4096, "the file's size now");
	cr_assert_neq(rd(b.d, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	cr_assert(rd(b.d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	image_free(&im);
	side_unplug(&a);
	side_unplug(&b);
	unlink(disk_path);
	guest_mem_free(&mem);
}

Test(dev_state, unpop_gives_chains_back_to_the_ring)
{
	struct seg s = { DATA, 64, true };
	struct virtq_elem *e = malloc(sizeof(*e));
	struct side a;
	char why[160];

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_rng_kind, NULL), 0);
	driver_up(a.d, 1, 0);
	(void)efd_take(a.d->kick_fd[0]);
	add_chain(0, &s, 1);
	add_chain(0, &s, 1);
	cr_assert_eq(virtq_pop(&a.d->vq[0], e, why, sizeof(why)), 1);
	cr_assert_eq(virtq_pop(&a.d->vq[0], e, why, sizeof(why)), 1);
	cr_assert_eq(e->head, 1);
	pthread_mutex_lock(&a.d->lock);
	virtio_queue_unpop(a.d, 0, 2);
	pthread_mutex_unlock(&a.d->lock);
	cr_assert_eq(a.d->vq[0].last_avail, 0);
	cr_assert_eq(efd_take(a.d->kick_fd[0]), 1, "the queue is looked at again");
	virtio_kick(a.d, 0);
	cr_assert_eq(used_idx(0), 2, "both served, once each");
	cr_assert_eq(used_ring(0)->ring[0].id, 0);
	cr_assert_eq(used_ring(0)->ring[1].id, 1);
	free(e);
	side_unplug(&a);
	guest_mem_free(&mem);
}

/* --- virtio-rng ---------------------------------------------------------------- */

Test(dev_state, rng_round_trip_serves_the_next_buffer)
{
	struct side a, b;
	struct image im;
	struct seg s = { DATA, 64, true };
	uint8_t zero[64] = { 0 }, got[64];

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_rng_kind, NULL), 0);
	driver_up(a.d, 1, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	add_chain(0, &s, 1);
	virtio_kick(a.d, 0);
	cr_assert_eq(used_idx(0), 1);
	cr_assert_eq(side_plug(&b, &virtio_rng_kind, NULL), 0);
	cr_assert_eq(snapshot(&a, &b, &im, "dev/rng0"), 0);
	same_transport(a.d, b.d);
	cr_assert_eq(guest_write(&mem, DATA, zero, sizeof(zero)), 0);
	add_chain(0, &s, 1);
	virtio_kick(b.d, 0);
	cr_assert_eq(used_idx(0), 2);
	cr_assert_eq(used_ring(0)->ring[1].len, 64);
	cr_assert_eq(guest_read(&mem, DATA, got, sizeof(got)), 0);
	cr_assert_neq(memcmp(got, zero, sizeof(got)), 0);
	image_free(&im);
	side_unplug(&a);
	side_unplug(&b);
	guest_mem_free(&mem);
}

/* --- virtio-vsock --------------------------------------------------------------- */

#define RXQ 0
#define TXQ 1
#define EVQ 2

Test(dev_state, vsock_restore_sends_a_transport_reset)
{
	struct vsock_config c = { .cid = 42 };
	struct seg ev = { DATA, 8, true }, rx = { DATA + 0x1000, 4096, true };
	struct virtio_vsock_event got;
	struct side a, b;
	struct image im, bad;
	uint8_t rec[16];
	const void *p;
	size_t len;
	char *dir;

	log_set_level(LOG_OFF);
	dir = test_tmpdir();
	cr_assert_not_null(dir);
	snprintf(c.uds, sizeof(c.uds), "%s/v.sock", dir);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_vsock_kind, &c), 0);
	driver_up(a.d, 3, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	add_chain(EVQ, &ev, 1);
	add_chain(RXQ, &rx, 1);
	virtio_kick(a.d, RXQ);
	virtio_kick(a.d, EVQ);
	cr_assert_eq(used_idx(EVQ), 0, "no event while it runs");

	image_begin(&im, "dev/vsock0");
	cr_assert_eq(a.kind->save(a.dev, &im.w), 0);
	image_read(&im, "dev/vsock0");
	side_unplug(&a); /* the restoring process makes its socket again */

	cr_assert_eq(side_plug(&b, &virtio_vsock_kind, &c), 0);
	cr_assert_eq(b.kind->restore(b.dev, &im.r), 0);
	cr_assert_null(snap_unread(&im.r));
	cr_assert_eq(rd(b.d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK,
		     VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert_eq(used_idx(EVQ), 1, "the transport reset event");
	cr_assert_eq(used_ring(EVQ)->ring[0].len, sizeof(got));
	cr_assert_eq(guest_read(&mem, DATA, &got, sizeof(got)), 0);
	cr_assert_eq(got.id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	cr_assert_geq(efd_take(b.d->irq_fd), 1, "with an interrupt");
	cr_assert(rd(b.d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
	cr_assert_eq(b.d->vq[EVQ].last_avail, 1);
	cr_assert_eq(b.d->vq[RXQ].used_idx, 0);
	side_unplug(&b);

	/* Another CID than the device created: refused. */
	p = image_rec(&im, "dev/vsock0/vsock", &len);
	cr_assert_eq(len, sizeof(rec));
	memcpy(rec, p, len);
	rec[8] = 43;
	image_edit(&im, &bad, "dev/vsock0", "dev/vsock0/vsock", rec, len);
	cr_assert_eq(side_plug(&b, &virtio_vsock_kind, &c), 0);
	cr_assert_eq(b.kind->restore(b.dev, &bad.r), -EINVAL);
	side_unplug(&b);
	image_free(&bad);
	image_free(&im);
	rm_rf(dir);
	guest_mem_free(&mem);
}

/* The image of a vsock device (CID 3, its socket in a new *dir) whose driver
 * started and put no buffer anywhere. */
static void vsock_fresh_image(struct vsock_config *c, struct image *im, char **dir)
{
	struct side a;

	log_set_level(LOG_OFF);
	*c = (struct vsock_config){ .cid = 3 };
	*dir = test_tmpdir();
	cr_assert_not_null(*dir);
	snprintf(c->uds, sizeof(c->uds), "%s/v.sock", *dir);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_vsock_kind, c), 0);
	driver_up(a.d, 3, 0);
	image_begin(im, "dev/vsock0");
	cr_assert_eq(a.kind->save(a.dev, &im->w), 0);
	image_read(im, "dev/vsock0");
	side_unplug(&a);
}

Test(dev_state, vsock_without_an_event_buffer_restores_quietly)
{
	struct vsock_config c;
	struct side b;
	struct image im;
	char *dir;

	vsock_fresh_image(&c, &im, &dir);
	cr_assert_eq(side_plug(&b, &virtio_vsock_kind, &c), 0);
	cr_assert_eq(b.kind->restore(b.dev, &im.r), 0);
	cr_assert_eq(used_idx(EVQ), 0);
	cr_assert_eq(rd(b.d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	side_unplug(&b);
	image_free(&im);
	rm_rf(dir);
	guest_mem_free(&mem);
}

/* A vsock record with this version and second word (next_port from 2 on). */
static int vsock_restore_rec(struct image *im, const struct vsock_config *c, uint32_t version,
			     uint32_t word, uint32_t *next_after)
{
	struct image bad, again;
	struct side b;
	uint8_t rec[16];
	const void *p;
	size_t len;
	int err;

	p = image_rec(im, "dev/vsock0/vsock", &len);
	cr_assert_eq(len, sizeof(rec));
	memcpy(rec, p, len);
	memcpy(rec, &version, 4);
	memcpy(rec + 4, &word, 4);
	image_edit(im, &bad, "dev/vsock0", "dev/vsock0/vsock", rec, len);
	cr_assert_eq(side_plug(&b, &virtio_vsock_kind, c), 0);
	err = b.kind->restore(b.dev, &bad.r);
	if (!err && next_after) { /* what a snapshot of the restored VM keeps */
		image_begin(&again, "dev/vsock0");
		cr_assert_eq(b.kind->save(b.dev, &again.w), 0);
		image_read(&again, "dev/vsock0");
		p = image_rec(&again, "dev/vsock0/vsock", &len);
		memcpy(next_after, (const uint8_t *)p + 4, 4);
		image_free(&again);
	}
	side_unplug(&b);
	image_free(&bad);
	return err;
}

/* Firecracker keeps local_port_last: the host ports a restored VM hands out
 * go on from the snapshot's. */
Test(dev_state, vsock_restore_goes_on_with_the_host_ports)
{
	struct vsock_config c;
	struct image im;
	uint32_t next = 0, first = 1U << 30;
	char *dir;

	vsock_fresh_image(&c, &im, &dir);
	cr_assert_eq(vsock_restore_rec(&im, &c, 2, first, &next), 0, "a fresh device's");
	cr_assert_eq(next, first);
	cr_assert_eq(vsock_restore_rec(&im, &c, 2, first + 77, &next), 0);
	cr_assert_eq(next, first + 77, "the restored VM goes on from the snapshot's port");
	cr_assert_eq(vsock_restore_rec(&im, &c, 2, UINT32_MAX, &next), 0);
	cr_assert_eq(next, UINT32_MAX);
	cr_assert_eq(vsock_restore_rec(&im, &c, 2, first - 1, NULL), -EINVAL,
		     "a port below the host's range");
	cr_assert_eq(vsock_restore_rec(&im, &c, 2, 0, NULL), -EINVAL);
	/* An older volt's record: ports from the first again. */
	cr_assert_eq(vsock_restore_rec(&im, &c, 1, 0, &next), 0);
	cr_assert_eq(next, first);
	cr_assert_eq(vsock_restore_rec(&im, &c, 1, 5, NULL), -EINVAL, "reserved, not 0");
	cr_assert_eq(vsock_restore_rec(&im, &c, 3, first, NULL), -EINVAL, "a later version");
	cr_assert_eq(vsock_restore_rec(&im, &c, 0, first, NULL), -EINVAL);
	image_free(&im);
	rm_rf(dir);
	guest_mem_free(&mem);
}

/* --- virtio-balloon ----------------------------------------------------------- */

Test(dev_state, balloon_target_statistics_and_held_buffer_round_trip)
{
	struct balloon_config c = { .mib = 8, .stats_seconds = 30 };
	struct seg st = { DATA, 10, false };
	uint8_t stat[10] = { 0 };
	struct balloon_stats sa, sb;
	struct side a, b;
	struct image im, bad;
	uint8_t rec[256];
	const void *p;
	size_t len;

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_balloon_kind, &c), 0);
	driver_up(a.d, 3, 1ULL << VIRTIO_BALLOON_F_STATS_VQ);
	stat[0] = VIRTIO_BALLOON_S_MEMFREE;
	stat[2] = 0x34;
	stat[3] = 0x12;
	cr_assert_eq(guest_write(&mem, DATA, stat, sizeof(stat)), 0);
	add_chain(2, &st, 1);
	virtio_kick(a.d, 2);
	cr_assert_eq(virtio_balloon_set_target(a.dev, 20), 0);
	wr(a.d, VIRTIO_MMIO_CONFIG + 4, 77); /* actual */

	cr_assert_eq(side_plug(&b, &virtio_balloon_kind, &c), 0);
	cr_assert_eq(snapshot(&a, &b, &im, "dev/balloon0"), 0);
	cr_assert_null(snap_unread(&im.r));
	same_transport(a.d, b.d);
	cr_assert_eq(virtio_balloon_get_stats(a.dev, &sa), 0);
	cr_assert_eq(virtio_balloon_get_stats(b.dev, &sb), 0);
	cr_assert_eq(sb.target_pages, 20 * 256);
	cr_assert_eq(sb.actual_pages, 77);
	cr_assert_eq(sb.stats_updates, 1);
	cr_assert_eq(sb.val[VIRTIO_BALLOON_S_MEMFREE], 0x1234);
	cr_assert_eq(sa.valid, sb.valid);
	cr_assert_eq(sa.inflated_pages, sb.inflated_pages);
	cr_assert_eq(sa.bad_pfns, sb.bad_pfns);
	cr_assert_eq(rd(b.d, VIRTIO_MMIO_CONFIG + 0), 20 * 256);
	cr_assert_eq(rd(b.d, VIRTIO_MMIO_CONFIG + 4), 77);
	cr_assert_eq(used_idx(2), 0, "the statistics buffer is still held");
	/* The next buffer sends the held one back: the restored device kept it. */
	add_chain(2, &st, 1);
	virtio_kick(b.d, 2);
	cr_assert_eq(used_idx(2), 1);
	cr_assert_eq(used_ring(2)->ring[0].id, 0);
	side_unplug(&b);

	p = image_rec(&im, "dev/balloon0/balloon", &len);
	cr_assert_leq(len, sizeof(rec));
	memcpy(rec, p, len);
	rec[4] = 0;
	rec[5] = 0;
	rec[6] = 0x80; /* 32768 MiB of target in 128 MiB */
	image_edit(&im, &bad, "dev/balloon0", "dev/balloon0/balloon", rec, len);
	cr_assert_eq(side_plug(&b, &virtio_balloon_kind, &c), 0);
	cr_assert_eq(b.kind->restore(b.dev, &bad.r), -EINVAL);
	side_unplug(&b);
	image_free(&bad);
	/* A balloon without statistics cannot take this state. */
	c.stats_seconds = 0;
	cr_assert_eq(side_plug(&b, &virtio_balloon_kind, &c), 0);
	snap_reader_scope(&im.r, "dev/balloon0");
	cr_assert_eq(b.kind->restore(b.dev, &im.r), -EINVAL);
	side_unplug(&b);
	image_free(&im);
	side_unplug(&a);
	guest_mem_free(&mem);
}

Test(dev_state, balloon_free_page_hinting_state_round_trip)
{
	struct balloon_config c = { .mib = 8,
				    .free_page_hinting = true,
				    .free_page_reporting = true };
	struct seg chain[2] = { { DATA, 4, false }, { 0x400000, 0x200000, true } };
	uint32_t id = 2;
	struct balloon_hint_status ha, hb;
	struct balloon_stats sb;
	struct side a, b;
	struct image im, bad;
	uint8_t rec[128];
	const void *p;
	size_t len;

	log_set_level(LOG_OFF);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(side_plug(&a, &virtio_balloon_kind, &c), 0);
	driver_up(a.d, 4,
		  (1ULL << VIRTIO_BALLOON_F_FREE_PAGE_HINT) | (1ULL << VIRTIO_BALLOON_F_REPORTING));
	cr_assert_eq(virtio_balloon_hint_start(a.dev, false), 0);
	cr_assert_eq(guest_write(&mem, DATA, &id, 4), 0);
	add_chain(2, chain, 2);
	virtio_kick(a.d, 2);
	cr_assert_eq(used_idx(2), 1);

	cr_assert_eq(side_plug(&b, &virtio_balloon_kind, &c), 0);
	cr_assert_eq(snapshot(&a, &b, &im, "dev/balloon0"), 0);
	cr_assert_null(snap_unread(&im.r));
	same_transport(a.d, b.d);
	cr_assert_eq(virtio_balloon_hint_status(a.dev, &ha), 0);
	cr_assert_eq(virtio_balloon_hint_status(b.dev, &hb), 0);
	cr_assert_eq(hb.host_cmd, 2);
	cr_assert_eq(hb.guest_cmd, 2);
	cr_assert(hb.guest_cmd_valid);
	cr_assert_eq(rd(b.d, VIRTIO_MMIO_CONFIG + 8), 2);
	cr_assert_eq(virtio_balloon_get_stats(b.dev, &sb), 0);
	cr_assert_eq(sb.hint_ranges, 1);
	cr_assert_eq(sb.hint_freed, 0x200000);
	/* The next run after the restore is 3, not 2 again. */
	cr_assert_eq(virtio_balloon_hint_start(b.dev, false), 0);
	cr_assert_eq(rd(b.d, VIRTIO_MMIO_CONFIG + 8), 3);
	side_unplug(&b);

	/* A host command that is no run the API started. */
	p = image_rec(&im, "dev/balloon0/balloon_free_pages", &len);
	cr_assert_leq(len, sizeof(rec));
	memcpy(rec, p, len);
	rec[8] = 7;
	image_edit(&im, &bad, "dev/balloon0", "dev/balloon0/balloon_free_pages", rec, len);
	cr_assert_eq(side_plug(&b, &virtio_balloon_kind, &c), 0);
	cr_assert_eq(b.kind->restore(b.dev, &bad.r), -EINVAL);
	side_unplug(&b);
	image_free(&bad);
	/* A balloon created without hinting cannot take this state, nor one
	 * with hinting a snapshot without it. */
	c.free_page_hinting = false;
	cr_assert_eq(side_plug(&b, &virtio_balloon_kind, &c), 0);
	snap_reader_scope(&im.r, "dev/balloon0");
	cr_assert_eq(b.kind->restore(b.dev, &im.r), -EINVAL);
	side_unplug(&b);
	c.free_page_reporting = false;
	cr_assert_eq(side_plug(&b, &virtio_balloon_kind, &c), 0);
	snap_reader_scope(&im.r, "dev/balloon0");
	cr_assert_eq(b.kind->restore(b.dev, &im.r), -EINVAL);
	side_unplug(&b);
	image_free(&im);
	side_unplug(&a);
	guest_mem_free(&mem);
}

/* --- virtio-net (needs a TAP: skipped where none can be made) ------------------- */

Test(dev_state, net_round_trip_on_a_new_tap)
{
	struct net_config c = { .has_mac = false };
	struct side a, b;
	struct image im;
	struct seg rx = { DATA, 2048, true };

	log_set_level(LOG_OFF);
	snprintf(c.tap, sizeof(c.tap), "vdst%d", (int)(getpid() % 100000));
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	if (side_plug(&a, &virtio_net_kind, &c)) {
		event_loop_destroy(&a.loop);
		guest_mem_free(&mem);
		cr_skip_test("no TAP device can be made here");
	}
	driver_up(a.d, 2, (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	add_chain(RXQ, &rx, 1);
	virtio_kick(a.d, RXQ);
	image_begin(&im, "dev/net0");
	cr_assert_eq(a.kind->save(a.dev, &im.w), 0);
	image_read(&im, "dev/net0");
	/* One process has the TAP at a time. */
	side_unplug(&a);
	cr_assert_eq(side_plug(&b, &virtio_net_kind, &c), 0);
	cr_assert_eq(b.kind->restore(b.dev, &im.r), 0);
	cr_assert_null(snap_unread(&im.r));
	cr_assert_eq(rd(b.d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK,
		     VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert_eq(b.d->vq[RXQ].size, QSIZE);
	cr_assert(b.d->vq[TXQ].ready);
	image_free(&im);
	side_unplug(&b);
	guest_mem_free(&mem);
}

/* --- the table --------------------------------------------------------------------- */

Test(dev_state, every_virtio_kind_saves_and_restores)
{
	const struct device_kind *kinds[] = { &virtio_blk_kind, &virtio_net_kind,
					      &virtio_vsock_kind, &virtio_balloon_kind,
					      &virtio_rng_kind };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		cr_assert_not_null(kinds[i]->save, "%s", kinds[i]->name);
		cr_assert_not_null(kinds[i]->restore, "%s", kinds[i]->name);
	}
}
