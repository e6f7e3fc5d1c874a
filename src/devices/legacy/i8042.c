#include "devices/legacy/i8042.h"

#include "core/metrics.h"
#include "core/snap.h"
#include "util/log.h"

#include <errno.h>
#include <string.h>

#define OFS_DATA   0
#define OFS_STATUS (I8042_CMD_PORT - I8042_DATA_PORT)

/* Status register. */
#define STR_OBF	    0x01 /* a byte waits in port 0x60 */
#define STR_SYS	    0x04 /* mirrors the command byte's POST-passed flag */
#define STR_CMDDAT  0x08 /* the last write went to port 0x64 */
#define STR_KEYLOCK 0x10 /* 1: keyboard not inhibited by the key lock */

/* Command byte. */
#define CTR_KBDINT 0x01
#define CTR_SYS	   0x04
#define CTR_KBDDIS 0x10
#define CTR_XLATE  0x40
/* What a BIOS leaves: keyboard interrupt on, POST passed, translation on. */
#define CTR_POWER_ON (CTR_KBDINT | CTR_SYS | CTR_XLATE)

/* Controller commands. */
#define CMD_READ_CTR	  0x20
#define CMD_WRITE_CTR	  0x60
#define CMD_SELF_TEST	  0xaa
#define CMD_KBD_TEST	  0xab
#define CMD_KBD_DISABLE	  0xad
#define CMD_KBD_ENABLE	  0xae
#define CMD_READ_OUTP	  0xd0
#define CMD_WRITE_OUTP	  0xd1
#define CMD_WRITE_KBD_OUT 0xd2

/* Keyboard commands and answers. */
#define KBD_CMD_IDENTIFY 0xf2
#define KBD_CMD_RESET	 0xff
#define KBD_CMD_ECHO	 0xee
#define KBD_ACK		 0xfa
#define KBD_BAT_OK	 0xaa
#define SELF_TEST_OK	 0x55

/* Set 2 codes. */
#define SC_EXT	    0xe0
#define SC_BREAK    0xf0
#define SC_LCTRL    0x14
#define SC_LALT	    0x11
#define SC_DELETE   0xe071
#define XLATE_BREAK 0x80 /* set 1 marks a release in bit 7 */

/* The controller's set 2 -> set 1 translation, for the keys volt presses;
 * anything else passes as it is. */
static const uint8_t xlate_pairs[][2] = {
	{ 0x14, 0x1d }, /* Ctrl */
	{ 0x11, 0x38 }, /* Alt */
	{ 0x71, 0x53 }, /* Delete (after 0xe0) */
	{ 0x76, 0x01 }, /* Escape */
	{ 0x5a, 0x1c }, /* Enter */
};

static void power_on(struct i8042 *k)
{
	k->ctr = CTR_POWER_ON;
	k->outp = 0x01; /* reset line not asserted */
	k->status = STR_KEYLOCK;
	k->pending_cmd = 0;
	k->xlate_break = false;
	k->buf_head = k->buf_len = 0;
	k->ready = true;
}

void i8042_init(struct i8042 *k, void (*reset)(void *), void (*irq)(void *), void *ctx)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->reset = reset;
	k->irq = irq;
	k->ctx = ctx;
	power_on(k);
}

/* The owner may have zero-initialised the struct (a zeroed mutex is an
 * unlocked default one). */
static void lock(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	if (!k->ready)
		power_on(k);
}

static void raise_irq(struct i8042 *k)
{
	if ((k->ctr & CTR_KBDINT) && k->irq)
		k->irq(k->ctx);
}

/* Controller answers replace whatever waited: the driver reads them next. */
static void reply(struct i8042 *k, uint8_t b)
{
	k->buf_head = 0;
	k->buf_len = 1;
	k->buf[0] = b;
}

/* A byte from the keyboard: queued, interrupting if the guest can read it now. */
static void kbd_push(struct i8042 *k, uint8_t b)
{
	if (k->buf_len == I8042_BUF_SIZE) {
		METRICS_INC(i8042.error_count);
		return;
	}
	k->buf[(k->buf_head + k->buf_len) % I8042_BUF_SIZE] = b;
	if (k->buf_len++ == 0)
		raise_irq(k);
}

/* A set 2 byte as the guest sees it: with translation, break prefixes fold
 * into bit 7 of the next code. Returns false when the byte vanishes. */
static bool translate(struct i8042 *k, uint8_t *b)
{
	size_t i;

	if (!(k->ctr & CTR_XLATE))
		return true;
	if (*b == SC_BREAK) {
		k->xlate_break = true;
		return false;
	}
	if (*b != SC_EXT) {
		for (i = 0; i < sizeof(xlate_pairs) / sizeof(xlate_pairs[0]); i++)
			if (xlate_pairs[i][0] == *b) {
				*b = xlate_pairs[i][1];
				break;
			}
		if (k->xlate_break)
			*b |= XLATE_BREAK;
		k->xlate_break = false;
	}
	return true;
}

/* The bytes the guest will read for one key event (at most 3). */
static unsigned int key_bytes(struct i8042 *k, uint16_t code, bool release, uint8_t *out)
{
	uint8_t raw[3];
	unsigned int i, n = 0, m = 0;

	if (code >> 8)
		raw[n++] = SC_EXT;
	if (release)
		raw[n++] = SC_BREAK;
	raw[n++] = (uint8_t)code;
	for (i = 0; i < n; i++)
		if (translate(k, &raw[i]))
			out[m++] = raw[i];
	return m;
}

static int queue_keys(struct i8042 *k, const uint16_t *codes, const bool *release, unsigned int n)
{
	uint8_t bytes[I8042_BUF_SIZE];
	unsigned int i, len = 0;

	lock(k);
	for (i = 0; i < n; i++) {
		uint8_t b[3];
		unsigned int m = key_bytes(k, codes[i], release[i], b);

		if (len + m > sizeof(bytes) - k->buf_len) {
			pthread_mutex_unlock(&k->lock);
			return -ENOSPC;
		}
		memcpy(bytes + len, b, m);
		len += m;
	}
	for (i = 0; i < len; i++)
		kbd_push(k, bytes[i]);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

int i8042_key(struct i8042 *k, uint16_t set2_code, bool release)
{
	return queue_keys(k, &set2_code, &release, 1);
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	static const uint16_t codes[] = {
		SC_LCTRL, SC_LALT, SC_DELETE, SC_DELETE, SC_LALT, SC_LCTRL
	};
	static const bool release[] = { false, false, false, true, true, true };

	return queue_keys(k, codes, release, 6);
}

/* A byte the guest sends to the keyboard. */
static void kbd_command(struct i8042 *k, uint8_t b)
{
	/* The answer replaces what the keyboard had not sent yet. */
	k->buf_head = k->buf_len = 0;
	switch (b) {
	case KBD_CMD_ECHO:
		kbd_push(k, KBD_CMD_ECHO);
		break;
	case KBD_CMD_RESET:
		kbd_push(k, KBD_ACK);
		kbd_push(k, KBD_BAT_OK);
		break;
	case KBD_CMD_IDENTIFY:
		kbd_push(k, KBD_ACK);
		kbd_push(k, 0xab);
		/* Translated MF2 keyboards identify as 0xab 0x41. */
		kbd_push(k, (k->ctr & CTR_XLATE) ? 0x41 : 0x83);
		break;
	default: /* LEDs, rate, scancode set... and their arguments */
		kbd_push(k, KBD_ACK);
		break;
	}
}

static void controller_command(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_READ_CTR:
		reply(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
	case CMD_WRITE_KBD_OUT:
		k->pending_cmd = cmd;
		break;
	case CMD_SELF_TEST:
		reply(k, SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
		reply(k, 0x00);
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_READ_OUTP:
		reply(k, k->outp);
		break;
	case I8042_CMD_RESET:
		METRICS_INC(i8042.reset_count);
		if (k->reset)
			k->reset(k->ctx);
		break;
	default: /* aux port, mux, password...: not here */
		break;
	}
}

static void write_data(struct i8042 *k, uint8_t b)
{
	uint8_t cmd = k->pending_cmd;
	bool had_int = k->ctr & CTR_KBDINT;

	k->pending_cmd = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = b;
		/* Keys that waited for the interrupt to be enabled. */
		if (!had_int && k->buf_len)
			raise_irq(k);
		break;
	case CMD_WRITE_OUTP:
		/* Bit 0 low would reset the CPU; Linux resets with 0xfe instead. */
		k->outp = b;
		break;
	case CMD_WRITE_KBD_OUT:
		k->buf_head = k->buf_len = 0;
		kbd_push(k, b);
		break;
	default:
		kbd_command(k, b);
		break;
	}
}

static uint8_t read_data(struct i8042 *k)
{
	uint8_t b;

	if (!k->buf_len)
		return 0; /* as Firecracker: nothing there reads 0 */
	b = k->buf[k->buf_head];
	k->buf_head = (k->buf_head + 1) % I8042_BUF_SIZE;
	/* The next byte gets its own interrupt. */
	if (--k->buf_len)
		raise_irq(k);
	return b;
}

static uint8_t read_status(struct i8042 *k)
{
	uint8_t s = k->status;

	if (k->buf_len)
		s |= STR_OBF;
	if (k->ctr & CTR_SYS)
		s |= STR_SYS;
	return s;
}

void i8042_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = dev;

	if (len != 1 || (offset != OFS_DATA && offset != OFS_STATUS)) {
		if (!is_write)
			memset(data, 0xff, len);
		if (is_write)
			METRICS_INC(i8042.missed_write_count);
		else
			METRICS_INC(i8042.missed_read_count);
		return;
	}
	lock(k);
	if (is_write) {
		METRICS_INC(i8042.write_count);
		if (offset == OFS_STATUS) {
			k->status |= STR_CMDDAT;
			controller_command(k, data[0]);
		} else {
			k->status &= (uint8_t)~STR_CMDDAT;
			write_data(k, data[0]);
		}
	} else {
		METRICS_INC(i8042.read_count);
		data[0] = offset == OFS_STATUS ? read_status(k) : read_data(k);
	}
	pthread_mutex_unlock(&k->lock);
}

/* --- snapshots ------------------------------------------------------------- */

#define I8042_STATE_VERSION 1

struct i8042_regs_rec {
	uint32_t version;
	uint8_t ctr, outp, status, pending_cmd, xlate_break;
	uint8_t reserved[3];
} __attribute__((packed));

struct i8042_buf_rec {
	uint32_t head, len;
	uint8_t data[I8042_BUF_SIZE];
} __attribute__((packed));

_Static_assert(sizeof(struct i8042_regs_rec) == 12, "fixed record size");
_Static_assert(sizeof(struct i8042_buf_rec) == 8 + I8042_BUF_SIZE, "fixed record size");

int i8042_save(const struct i8042 *k, struct snap_writer *w)
{
	struct i8042 *m = (struct i8042 *)k; /* the lock, and the power-on state of an unused one */
	struct i8042_regs_rec regs = { .version = I8042_STATE_VERSION };
	struct i8042_buf_rec buf;
	int err;

	memset(&buf, 0, sizeof(buf));
	lock(m);
	regs.ctr = k->ctr;
	regs.outp = k->outp;
	regs.status = k->status;
	regs.pending_cmd = k->pending_cmd;
	regs.xlate_break = k->xlate_break;
	buf.head = k->buf_head;
	buf.len = k->buf_len;
	memcpy(buf.data, k->buf, sizeof(buf.data));
	pthread_mutex_unlock(&m->lock);
	err = snap_put(w, "regs", &regs, sizeof(regs));
	return err ? err : snap_put(w, "buf", &buf, sizeof(buf));
}

#define BAD(...) (pr_err("restore: i8042: " __VA_ARGS__), -EINVAL)

static int check_state(const struct i8042_regs_rec *g, const struct i8042_buf_rec *b)
{
	if (g->version != I8042_STATE_VERSION)
		return BAD("state version %u, this volt reads %d", g->version, I8042_STATE_VERSION);
	if (g->status & ~(STR_CMDDAT | STR_KEYLOCK))
		return BAD("status %#x has bits the controller keeps elsewhere", g->status);
	if (g->pending_cmd && g->pending_cmd != CMD_WRITE_CTR && g->pending_cmd != CMD_WRITE_OUTP &&
	    g->pending_cmd != CMD_WRITE_KBD_OUT)
		return BAD("pending command %#x takes no data byte", g->pending_cmd);
	if (g->xlate_break > 1 || g->reserved[0] || g->reserved[1] || g->reserved[2])
		return BAD("translation flag %u or reserved bytes set", g->xlate_break);
	if (b->head >= I8042_BUF_SIZE || b->len > I8042_BUF_SIZE)
		return BAD("buffer head %u, length %u out of %d", b->head, b->len, I8042_BUF_SIZE);
	return 0;
}

int i8042_restore(struct i8042 *k, struct snap_reader *r)
{
	struct i8042_regs_rec g;
	struct i8042_buf_rec b;
	int err;

	err = snap_get(r, "regs", &g, sizeof(g));
	if (!err)
		err = snap_get(r, "buf", &b, sizeof(b));
	if (!err)
		err = check_state(&g, &b);
	if (err)
		return err;
	lock(k);
	k->ctr = g.ctr;
	k->outp = g.outp;
	k->status = g.status;
	k->pending_cmd = g.pending_cmd;
	k->xlate_break = g.xlate_break;
	k->buf_head = b.head;
	k->buf_len = b.len;
	memcpy(k->buf, b.data, sizeof(k->buf));
	k->ready = true;
	pthread_mutex_unlock(&k->lock);
	return 0;
}
