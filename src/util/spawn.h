/* Runs helper programs (tar, make, mke2fs ...) with their output captured.
 * spawn_run() returns the exit status (0..255, 128+N for a signal) or -errno
 * when the program could not be started. The child gets its own process group
 * so spawn_interrupt() (called from a signal handler) can stop all of it. */
#ifndef VOLT_UTIL_SPAWN_H
#define VOLT_UTIL_SPAWN_H

#include <stdbool.h>

struct spawn_opts {
	const char *cwd;
	int out_fd; /* child's stdout; -1: same as log_fd */
	int log_fd; /* child's stderr (and stdout); -1: /dev/null */
	/* Called with each line of the child's output (which is then also
	 * written to log_fd); the child's output goes through a pipe when set. */
	void (*on_line)(const char *line, void *ctx);
	void *ctx;
};

int spawn_run(char *const argv[], const struct spawn_opts *opts);
/* Async-signal-safe: terminates the running child's process group. */
void spawn_interrupt(int sig);
/* True once spawn_interrupt() was called. */
bool spawn_interrupted(void);
/* Installs spawn_interrupt for SIGINT, SIGTERM and SIGHUP. */
void spawn_catch_signals(void);

#endif
