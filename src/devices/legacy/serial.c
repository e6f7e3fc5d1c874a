#include "devices/legacy/serial.h"

#include "core/metrics.h"
#include "core/snap.h"
#include "util/log.h"

#include <errno.h>
#include <string.h>

/* Register offsets (DLAB = LCR bit 7 selects the divisor latch at 0 and 1). */
enum { REG_DATA, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR };

#define IER_RDA	   0x01 /* received data available */
#define IER_THRE   0x02
#define IER_MASK   0x0f
#define IIR_NONE   0x01
#define IIR_THRE   0x02
#define IIR_RDA	   0x04
#define IIR_FIFO   0xc0 /* FIFOs enabled: a 16550A, not a 16450 */
#define FCR_ENABLE 0x01
#define FCR_CLR_RX 0x02
#define LCR_DLAB   0x80
#define MCR_DTR	   0x01
#define MCR_RTS	   0x02
#define MCR_OUT1   0x04
#define MCR_OUT2   0x08
#define MCR_LOOP   0x10
#define LSR_DR	   0x01
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80

void serial_init(struct serial *s, void (*out)(void *, uint8_t), void (*irq)(void *, bool),
		 void *ctx)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->iir = IIR_NONE;
	s->lsr = LSR_THRE | LSR_TEMT;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	s->dll = 12; /* 9600 baud */
	s->out = out;
	s->irq = irq;
	s->ctx = ctx;
}

/* Recomputes IIR from the pending sources (receive data outranks THRE) and
 * drives the interrupt line; called with the lock held. */
static void update_irq(struct serial *s)
{
	uint8_t iir = IIR_NONE;
	bool level;

	if ((s->ier & IER_RDA) && s->rx_count)
		iir = IIR_RDA;
	else if ((s->ier & IER_THRE) && s->thre_pending)
		iir = IIR_THRE;
	s->iir = iir;
	/* OUT2 gates the interrupt onto the ISA bus on PC-compatible boards. */
	level = iir != IIR_NONE && (s->mcr & MCR_OUT2);
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->irq)
			s->irq(s->ctx, level);
	}
}

static void push_rx(struct serial *s, uint8_t byte)
{
	if (s->rx_count == SERIAL_FIFO_SIZE) {
		METRICS_INC(uart.missed_read_count);
		return; /* overrun: the byte is lost, as on the chip */
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = byte;
	s->rx_count++;
	s->lsr |= LSR_DR;
}

static uint8_t loopback_msr(uint8_t mcr)
{
	return (uint8_t)(((mcr & MCR_RTS) ? MSR_CTS : 0) | ((mcr & MCR_DTR) ? MSR_DSR : 0) |
			 ((mcr & MCR_OUT1) ? MSR_RI : 0) | ((mcr & MCR_OUT2) ? MSR_DCD : 0));
}

static void write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		if (s->mcr & MCR_LOOP)
			push_rx(s, v);
		else if (s->out)
			s->out(s->ctx, v);
		METRICS_INC(uart.write_count);
		/* Sent at once: THR is empty again and says so. */
		s->thre_pending = true;
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		/* Enabling THRE with THR empty raises it immediately. */
		if ((v & IER_THRE) && !(s->ier & IER_THRE))
			s->thre_pending = true;
		s->ier = v & IER_MASK;
		break;
	case REG_IIR_FCR:
		if (v & FCR_CLR_RX) {
			s->rx_count = 0;
			s->lsr &= (uint8_t)~LSR_DR;
		}
		(void)FCR_ENABLE; /* the FIFOs are always on */
		break;
	case REG_LCR:
		s->lcr = v;
		return;
	case REG_MCR:
		s->mcr = v & 0x1f;
		break;
	case REG_SCR:
		s->scr = v;
		return;
	default: /* LSR and MSR are read-only */
		return;
	}
	update_irq(s);
}

static uint8_t read_reg(struct serial *s, unsigned int reg)
{
	uint8_t v = 0;

	switch (reg) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_count) {
			METRICS_INC(uart.read_count);
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
			if (--s->rx_count == 0)
				s->lsr &= (uint8_t)~LSR_DR;
		}
		break;
	case REG_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case REG_IIR_FCR:
		v = s->iir | IIR_FIFO;
		/* Reading IIR while it reports THRE acknowledges it. */
		if (s->iir == IIR_THRE)
			s->thre_pending = false;
		break;
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		return s->lsr;
	case REG_MSR:
		return (s->mcr & MCR_LOOP) ? loopback_msr(s->mcr) : s->msr;
	case REG_SCR:
		return s->scr;
	}
	update_irq(s);
	return v;
}

void serial_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = dev;

	if (len != 1 || offset > REG_SCR) { /* Firecracker counts these as missed */
		if (!is_write)
			memset(data, 0xff, len);
		if (is_write)
			METRICS_INC(uart.missed_write_count);
		else
			METRICS_INC(uart.missed_read_count);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (is_write)
		write_reg(s, (unsigned int)offset, data[0]);
	else
		data[0] = read_reg(s, (unsigned int)offset);
	pthread_mutex_unlock(&s->lock);
}

unsigned int serial_receive(struct serial *s, const uint8_t *buf, unsigned int len)
{
	unsigned int n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_count < SERIAL_FIFO_SIZE)
		push_rx(s, buf[n++]);
	if (n)
		update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

unsigned int serial_rx_room(struct serial *s)
{
	unsigned int room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_FIFO_SIZE - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return room;
}

/* --- snapshots ------------------------------------------------------------- */

#define SERIAL_STATE_VERSION 1

struct serial_regs_rec {
	uint32_t version;
	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, dll, dlm;
	uint8_t thre_pending, irq_level;
	uint8_t reserved;
} __attribute__((packed));

struct serial_fifo_rec {
	uint32_t head, count;
	uint8_t data[SERIAL_FIFO_SIZE];
} __attribute__((packed));

_Static_assert(sizeof(struct serial_regs_rec) == 16, "fixed record size");
_Static_assert(sizeof(struct serial_fifo_rec) == 8 + SERIAL_FIFO_SIZE, "fixed record size");

int serial_save(const struct serial *s, struct snap_writer *w)
{
	struct serial *m = (struct serial *)s; /* only for the lock */
	struct serial_regs_rec regs = { .version = SERIAL_STATE_VERSION };
	struct serial_fifo_rec fifo;
	int err;

	memset(&fifo, 0, sizeof(fifo));
	pthread_mutex_lock(&m->lock);
	regs.ier = s->ier;
	regs.iir = s->iir;
	regs.lcr = s->lcr;
	regs.mcr = s->mcr;
	regs.lsr = s->lsr;
	regs.msr = s->msr;
	regs.scr = s->scr;
	regs.dll = s->dll;
	regs.dlm = s->dlm;
	regs.thre_pending = s->thre_pending;
	regs.irq_level = s->irq_level;
	fifo.head = s->rx_head;
	fifo.count = s->rx_count;
	memcpy(fifo.data, s->rx, sizeof(fifo.data));
	pthread_mutex_unlock(&m->lock);
	err = snap_put(w, "regs", &regs, sizeof(regs));
	return err ? err : snap_put(w, "fifo", &fifo, sizeof(fifo));
}

#define BAD(...) (pr_err("restore: serial: " __VA_ARGS__), -EINVAL)

static int check_state(const struct serial_regs_rec *g, const struct serial_fifo_rec *f)
{
	if (g->version != SERIAL_STATE_VERSION)
		return BAD("state version %u, this volt reads %d", g->version,
			   SERIAL_STATE_VERSION);
	if (g->ier & ~IER_MASK)
		return BAD("IER %#x has bits the chip does not have", g->ier);
	if (g->iir != IIR_NONE && g->iir != IIR_RDA && g->iir != IIR_THRE)
		return BAD("IIR %#x is no interrupt the UART raises", g->iir);
	if (g->mcr & ~0x1f)
		return BAD("MCR %#x has bits the chip does not have", g->mcr);
	if (g->lsr & ~(LSR_DR | LSR_THRE | LSR_TEMT))
		return BAD("LSR %#x has bits the UART never sets", g->lsr);
	if (g->thre_pending > 1 || g->irq_level > 1 || g->reserved)
		return BAD("flags %u/%u/%u are not booleans", g->thre_pending, g->irq_level,
			   g->reserved);
	if (f->head >= SERIAL_FIFO_SIZE || f->count > SERIAL_FIFO_SIZE)
		return BAD("FIFO head %u, count %u out of %d", f->head, f->count, SERIAL_FIFO_SIZE);
	if (!!(g->lsr & LSR_DR) != (f->count > 0))
		return BAD("LSR data ready %u with %u bytes in the FIFO", !!(g->lsr & LSR_DR),
			   f->count);
	return 0;
}

int serial_restore(struct serial *s, struct snap_reader *r)
{
	struct serial_regs_rec g;
	struct serial_fifo_rec f;
	bool level;
	int err;

	err = snap_get(r, "regs", &g, sizeof(g));
	if (!err)
		err = snap_get(r, "fifo", &f, sizeof(f));
	if (!err)
		err = check_state(&g, &f);
	if (err)
		return err;
	pthread_mutex_lock(&s->lock);
	s->ier = g.ier;
	s->iir = g.iir;
	s->lcr = g.lcr;
	s->mcr = g.mcr;
	s->lsr = g.lsr;
	s->msr = g.msr;
	s->scr = g.scr;
	s->dll = g.dll;
	s->dlm = g.dlm;
	s->thre_pending = g.thre_pending;
	s->rx_head = f.head;
	s->rx_count = f.count;
	memcpy(s->rx, f.data, sizeof(s->rx));
	level = g.irq_level;
	s->irq_level = level;
	if (level && s->irq)
		s->irq(s->ctx, true);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
