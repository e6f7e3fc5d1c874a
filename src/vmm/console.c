#include "vmm/console.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static volatile sig_atomic_t saved_valid;
static int saved_fd = -1;

void console_restore(void)
{
	if (saved_valid) {
		tcsetattr(saved_fd, TCSANOW, &saved);
		saved_valid = 0;
	}
}

static void restore_and_reraise(int sig)
{
	console_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

void console_init(struct console *c, int in_fd)
{
	/* SIGSEGV, SIGBUS and SIGILL: vmm/signals.c restores it before it ends
	 * volt (a handler here would replace Firecracker's handling there). */
	static const int fatal[] = { SIGFPE, SIGABRT };
	struct termios raw;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->tty = isatty(in_fd);
	if (!c->tty || tcgetattr(in_fd, &saved))
		return;
	saved_fd = in_fd;
	raw = saved;
	/* Every key goes to the guest, Ctrl-C included; output is the guest's own. */
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(in_fd, TCSANOW, &raw))
		return;
	saved_valid = 1;
	atexit(console_restore);
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], restore_and_reraise);
}

int console_filter(bool *escape, const uint8_t *in, size_t len, uint8_t *out)
{
	size_t i;
	int n = 0;

	for (i = 0; i < len; i++) {
		if (*escape) {
			*escape = false;
			if (in[i] == 'x' || in[i] == 'X')
				return -1;
			if (in[i] == CONSOLE_ESCAPE) {
				out[n++] = CONSOLE_ESCAPE;
				continue;
			}
			/* Not a command: both bytes go through. */
			out[n++] = CONSOLE_ESCAPE;
			out[n++] = in[i];
			continue;
		}
		if (in[i] == CONSOLE_ESCAPE)
			*escape = true;
		else
			out[n++] = in[i];
	}
	return n;
}

int console_read(struct console *c)
{
	uint8_t raw[sizeof(c->buf) / 2];
	ssize_t n;
	int m;

	if (c->eof || c->len)
		return 0;
	n = read(c->in_fd, raw, sizeof(raw));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		c->eof = true;
		return 0;
	}
	if (!c->tty) { /* pipes carry data, not commands */
		memcpy(c->buf, raw, (size_t)n);
		c->len = (size_t)n;
		c->off = 0;
		return 0;
	}
	m = console_filter(&c->escape_seen, raw, (size_t)n, c->buf);
	if (m < 0)
		return 1;
	c->len = (size_t)m;
	c->off = 0;
	return 0;
}
