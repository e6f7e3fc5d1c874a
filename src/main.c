/* volt: command-line entry. The commands and their usage are a table in
 * cli/commands.c; main only notes when the process started
 * (and runs the start-up trace, util/startup_trace.h). */
#include "cli/commands.h"
#include "util/startup_trace.h"

#include <time.h>

int main(int argc, char **argv)
{
	struct timespec started;
	int status;

	startup_trace_init();
	clock_gettime(CLOCK_MONOTONIC, &started);
	status = cli_main(argc, argv, &started);
	startup_mark("exit");
	startup_trace_report();
	return status;
}
