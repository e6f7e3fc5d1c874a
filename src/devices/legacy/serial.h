/* A 16550A UART (COM1 at 0x3f8, IRQ 4). Transmission is instant, so THR is
 * always empty, and the THRE interrupt Linux's /dev/console waits for is raised
 * as the chip would. Received bytes wait in a FIFO until the guest reads them.
 * Thread-safe: vCPU threads and the console reader call in concurrently. */
#ifndef VOLT_DEVICES_LEGACY_SERIAL_H
#define VOLT_DEVICES_LEGACY_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ	 4
#define SERIAL_FIFO_SIZE 64

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, iir, lcr, mcr, lsr, msr, scr, dll, dlm;
	bool thre_pending;
	uint8_t rx[SERIAL_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	/* Output sink and interrupt line, set by the owner. */
	void (*out)(void *ctx, uint8_t byte);
	void (*irq)(void *ctx, bool level);
	void *ctx;
	bool irq_level;
};

void serial_init(struct serial *s, void (*out)(void *, uint8_t), void (*irq)(void *, bool),
		 void *ctx);
/* The io_bus handler for the 8 registers. */
void serial_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Queues input; returns how many bytes fitted in the FIFO. */
unsigned int serial_receive(struct serial *s, const uint8_t *buf, unsigned int len);
/* Room left in the receive FIFO. */
unsigned int serial_rx_room(struct serial *s);

/* Snapshots (core/snap.h; the caller sets the scope, "dev/serial"). The guest
 * must find the UART as it left it: every register, the bytes it has not read
 * yet and the interrupt it may be waiting for. Records "regs" and "fifo", of
 * fixed sizes. Restore refuses values the chip cannot hold (-EINVAL, logged),
 * and re-asserts the interrupt line through the irq callback when it was
 * high: it runs after the interrupt controller's own state was restored, which
 * does not remember who holds a level up. 0 or -errno. */
struct snap_writer;
struct snap_reader;
int serial_save(const struct serial *s, struct snap_writer *w);
int serial_restore(struct serial *s, struct snap_reader *r);

#endif
