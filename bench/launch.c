/* launch RSS_FILE PROGRAM ARGS...: runs PROGRAM as a child of this small
 * static process and writes the child's peak RSS (KiB, wait4's ru_maxrss) to
 * RSS_FILE; exits with the child's status. Why: the peak RSS the kernel
 * reports for a process includes the high-water mark of the address space it
 * exec'ed from, so a child vfork'ed and exec'ed by Python would report
 * Python's 13 MiB; forked from here it starts from a few pages. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *f;

	if (argc < 3) {
		fputs("usage: launch RSS_FILE PROGRAM [ARGS...]\n", stderr);
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		execv(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) {
		perror("launch");
		return 2;
	}
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%ld\n", ru.ru_maxrss) < 0 || fclose(f)) {
		perror(argv[1]);
		return 2;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
