#include "util/spawn.h"

#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child_pgid;
static volatile sig_atomic_t interrupted;

void spawn_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
	if (child_pgid > 0)
		kill(-child_pgid, SIGTERM);
}

bool spawn_interrupted(void)
{
	return interrupted;
}

void spawn_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = spawn_interrupt };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void child_exec(char *const argv[], const struct spawn_opts *o, int pipe_wr)
{
	int devnull = open("/dev/null", O_RDWR);
	int err_fd = pipe_wr >= 0 ? pipe_wr : (o->log_fd >= 0 ? o->log_fd : devnull);
	int out_fd = o->out_fd >= 0 ? o->out_fd : err_fd;

	setpgid(0, 0);
	/* A helper must not outlive volt (killed, say, by a test's timeout). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	if (o->cwd && chdir(o->cwd)) {
		dprintf(2, "volt: cannot enter %s: %s\n", o->cwd, strerror(errno));
		_exit(127);
	}
	execvp(argv[0], argv);
	dprintf(2, "volt: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void pump_lines(int fd, const struct spawn_opts *o)
{
	char buf[8192];
	size_t fill = 0;

	for (;;) {
		ssize_t n = read(fd, buf + fill, sizeof(buf) - 1 - fill);
		char *start, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (o->log_fd >= 0)
			write_all(o->log_fd, buf + fill, (size_t)n);
		fill += (size_t)n;
		buf[fill] = '\0';
		start = buf;
		while ((nl = strchr(start, '\n'))) {
			*nl = '\0';
			o->on_line(start, o->ctx);
			start = nl + 1;
		}
		fill -= (size_t)(start - buf);
		memmove(buf, start, fill);
		if (fill == sizeof(buf) - 1) /* an over-long line: pass it on in pieces */
			fill = 0;
	}
}

int spawn_run(char *const argv[], const struct spawn_opts *opts)
{
	static const struct spawn_opts none = { .out_fd = -1, .log_fd = -1 };
	const struct spawn_opts *o = opts ? opts : &none;
	int pfd[2] = { -1, -1 };
	int status;
	pid_t pid;

	if (interrupted)
		return -EINTR;
	if (o->on_line && pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		if (pfd[0] >= 0)
			close(pfd[0]), close(pfd[1]);
		return err;
	}
	if (pid == 0)
		child_exec(argv, o, pfd[1]);
	setpgid(pid, pid);
	child_pgid = pid;
	if (interrupted) /* a signal arrived before child_pgid was set */
		kill(-pid, SIGTERM);
	if (o->on_line) {
		close(pfd[1]);
		pump_lines(pfd[0], o);
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			child_pgid = 0;
			return -errno;
		}
	}
	child_pgid = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
