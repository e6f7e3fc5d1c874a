/* The guest kit port: one I/O port through which the guest kit's init tells
 * volt it reached its ready point and then takes the command to run. The
 * command comes through the port, not the kernel command line, so that a
 * snapshot taken at the ready point can be restored to run any command: the
 * kernel command line is frozen in the snapshot, the port is read after it.
 *
 * Protocol (port KIT_PORT, byte accesses; rootfs/helpers/volt-ready.c):
 *   OUT KIT_PORT_READY_MAGIC  the guest is ready. ready() runs on the vCPU
 *                             thread inside that exit, before the guest's
 *                             next instruction (its first IN): a vCPU pause
 *                             requested from ready() parks the vCPU before
 *                             the guest reads anything, so a snapshot taken
 *                             then has the cursor at 0. (The OUT exit is
 *                             still pending in KVM: a saver completes it
 *                             first, as after any I/O exit.) Other bytes
 *                             written are ignored.
 *   IN                        the command's next byte, then 0 for ever (a
 *                             command is text: no 0 inside, never 0xff first).
 * A VMM without the port answers 0xff (io_bus): the guest falls back to the
 * kernel command line's volt.cmd=. Accesses wider than a byte read 0xff and
 * write nothing.
 *
 * Thread-safe: vCPU threads do port I/O while the serving thread sets the
 * command. */
#ifndef VOLT_DEVICES_LEGACY_KIT_PORT_H
#define VOLT_DEVICES_LEGACY_KIT_PORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In the legacy floppy controller's range (0x3f0-0x3f7), which the guest
 * kit's kernel never probes (no CONFIG_BLK_DEV_FD); 0x3f0 is the boot timer. */
#define KIT_PORT	     0x3f1
#define KIT_PORT_READY_MAGIC 0x52 /* 'R' */
#define KIT_PORT_CMD_MAX     4095 /* bytes of command; the guest reads at most 4096 with the 0 */

struct kit_port {
	/* Set by the owner (kit_port_init); ready may be NULL. */
	void (*ready)(void *ctx);
	void *ctx;

	pthread_mutex_t lock;
	char cmd[KIT_PORT_CMD_MAX];
	size_t len;
	size_t cursor;	      /* bytes the guest read, the final 0 included: 0..len + 1 */
	unsigned int readies; /* READY magics seen */
};

/* An empty command (the guest kit runs its interactive shell). */
void kit_port_init(struct kit_port *k, void (*ready)(void *), void *ctx);
/* Replaces the command; the guest reads it from its first byte. -E2BIG over
 * KIT_PORT_CMD_MAX, -EINVAL a first byte 0xff (the guest would take it for
 * "no port"), -EBUSY once the guest has begun reading (it would see a mix). */
int kit_port_set_command(struct kit_port *k, const char *cmd);
/* Registered on one port (offset 0). */
void kit_port_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Saves the cursor and, when the guest has begun reading, the command (the
 * rest of its read must match). At the ready point the cursor is 0 and no
 * command is saved: a restore keeps the command set on the port (before or
 * after kit_port_restore), so a snapshot never replays its first run's
 * command. Names are relative to the writer's/reader's scope. 0 or -errno. */
struct snap_writer;
struct snap_reader;
int kit_port_save(struct kit_port *k, struct snap_writer *w);
/* -EBADMSG on a cursor beyond the saved command. */
int kit_port_restore(struct kit_port *k, struct snap_reader *r);

/* The guest kit's init reads volt.cmd="..." (or volt.cmd=WORD) from the
 * kernel command line when there is no port. Moves the first such parameter
 * (as the init would find it) out of cmdline (edited in place, one separating
 * space removed with it) into cmd. 1 when found, 0 when not (cmd ""),
 * -E2BIG when the command does not fit cmd_size. */
int kit_cmdline_take(char *cmdline, char *cmd, size_t cmd_size);

#endif
