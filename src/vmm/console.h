/* The serial console's host side: stdin in raw mode while the guest runs
 * (restored on every exit path, crashes included), the Ctrl-A x escape that
 * ends the VM (Ctrl-A Ctrl-A sends one Ctrl-A), and plain pipes when stdin is
 * not a terminal. */
#ifndef VOLT_VMM_CONSOLE_H
#define VOLT_VMM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console {
	int in_fd;
	bool tty;
	bool eof;
	bool escape_seen;
	uint8_t buf[256];
	size_t len, off; /* input read but not yet taken by the guest */
};

void console_init(struct console *c, int in_fd);
void console_restore(void);
/* Reads what stdin has (after escape processing) into the buffer; returns 1
 * when the escape asked to end the VM, 0 otherwise (also at EOF). */
int console_read(struct console *c);
/* Pure escape filter: copies in to out (out holds len bytes) and returns the
 * count, or -1 once Ctrl-A x is seen. *escape carries state across calls. */
int console_filter(bool *escape, const uint8_t *in, size_t len, uint8_t *out);

#endif
