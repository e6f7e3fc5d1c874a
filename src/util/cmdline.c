#include "util/cmdline.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

size_t cmdline_init_args_at(const char *cmdline)
{
	bool quoted = false;
	size_t i;

	/* As Linux's next_arg(): words split at white space, double quotes
	 * group; the first bare "--" word ends the kernel's parameters. */
	for (i = 0; cmdline[i]; i++) {
		if (cmdline[i] == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted || cmdline[i] != '-' || cmdline[i + 1] != '-')
			continue;
		if ((i == 0 || isspace((unsigned char)cmdline[i - 1])) &&
		    (!cmdline[i + 2] || isspace((unsigned char)cmdline[i + 2])))
			return i;
	}
	return i;
}

int cmdline_add(char *cmdline, size_t size, const char *param, size_t n)
{
	size_t len = strlen(cmdline), at = cmdline_init_args_at(cmdline);
	/* " param" at the end, or "param " in front of the "--". */
	bool space = at == len ? len > 0 : true;
	size_t add = n + (space ? 1 : 0);

	if (!n)
		return 0;
	if (len + add >= size)
		return -E2BIG;
	memmove(cmdline + at + add, cmdline + at, len - at + 1);
	if (at == len) {
		if (space)
			cmdline[at++] = ' ';
		memcpy(cmdline + at, param, n);
	} else {
		memcpy(cmdline + at, param, n);
		cmdline[at + n] = ' ';
	}
	return 0;
}
