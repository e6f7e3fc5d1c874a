/* volt: command-line entry. The commands and their usage are a table in
 * cli/commands.c; main only notes when the process started. */
#include "cli/commands.h"

#include <time.h>

int main(int argc, char **argv)
{
	struct timespec started;

	clock_gettime(CLOCK_MONOTONIC, &started);
	return cli_main(argc, argv, &started);
}
