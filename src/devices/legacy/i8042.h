/* The i8042 keyboard controller with a keyboard on its first port: enough for
 * Linux's i8042 and atkbd drivers to find a keyboard on IRQ 1 (no aux/mouse
 * port: volt boots Linux with i8042.noaux i8042.nomux i8042.dumbkbd), for
 * Ctrl-Alt-Del to reach the guest, and for the guest to reset the machine
 * (0xfe on port 0x64, Linux's reboot=k).
 *
 * Controller commands (port 0x64): read/write the command byte (0x20/0x60),
 * self-test (0xaa -> 0x55), keyboard interface test (0xab -> 0), keyboard
 * disable/enable (0xad/0xae), read/write the output port (0xd0/0xd1), write
 * the keyboard output buffer (0xd2), pulse reset (0xfe). Bytes written to port
 * 0x60 otherwise go to the keyboard, which acknowledges them (0xfa), answers
 * reset (0xff) with its self-test result and identify (0xf2) with an MF2 id.
 *
 * Keyboard bytes wait in a 16-byte buffer read through port 0x60; each one
 * the guest can read raises IRQ 1 (when the command byte enables the keyboard
 * interrupt), the next one as the previous is read. Scancodes are set 2; with
 * the command byte's translate bit (set at power-on, as a BIOS leaves it) the
 * controller hands the guest their set 1 form.
 *
 * Thread-safe: vCPU threads do port I/O while another thread presses keys. */
#ifndef VOLT_DEVICES_LEGACY_I8042_H
#define VOLT_DEVICES_LEGACY_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	0x64
#define I8042_CMD_RESET 0xfe
#define I8042_IRQ	1
#define I8042_BUF_SIZE	16

struct i8042 {
	/* Set by the owner: the guest asked for a reset; a pulse (edge) on IRQ 1. */
	void (*reset)(void *ctx);
	void (*irq)(void *ctx);
	void *ctx;

	pthread_mutex_t lock;
	bool ready;	/* the power-on state below is set (on first use if not by i8042_init) */
	uint8_t ctr;	/* the command byte */
	uint8_t outp;	/* the output port */
	uint8_t status; /* status bits besides OBF (which is "buf_len > 0") */
	uint8_t pending_cmd; /* a command waiting for its byte on port 0x60; 0: none */
	bool xlate_break;    /* translation: a set 2 break prefix (0xf0) was swallowed */
	uint8_t buf[I8042_BUF_SIZE];
	unsigned int buf_head, buf_len;
};

/* Power-on state; reset, irq may be NULL. A zero-initialised struct with
 * reset/irq/ctx filled in also works: it powers on at its first access. */
void i8042_init(struct i8042 *k, void (*reset)(void *), void (*irq)(void *), void *ctx);
/* Registered on ports 0x60..0x64 (0x61-0x63 belong to others: offsets 0 and 4 only). */
void i8042_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Presses and releases Ctrl, Alt and Delete. 0, or -ENOSPC when the guest has
 * not read earlier keys (nothing is queued then). */
int i8042_ctrl_alt_del(struct i8042 *k);
/* Queues one key press (make) or release (break) of a set 2 scancode;
 * extended keys are 0xe0xx. 0 or -ENOSPC. */
int i8042_key(struct i8042 *k, uint16_t set2_code, bool release);

/* Snapshots (core/snap.h; the caller sets the scope, "dev/i8042"): the
 * command byte, output port, status bits, a command waiting for its data
 * byte, the translation state and the bytes the guest has not read, so a
 * driver in the middle of a command exchange or of a key sequence goes on.
 * Records "regs" and "buf", of fixed sizes. Restore refuses values the
 * controller cannot hold (-EINVAL, logged); it raises no interrupt: the edge
 * for a waiting byte was delivered before the snapshot and the interrupt
 * controller's restored state holds it. 0 or -errno. */
struct snap_writer;
struct snap_reader;
int i8042_save(const struct i8042 *k, struct snap_writer *w);
int i8042_restore(struct i8042 *k, struct snap_reader *r);

#endif
