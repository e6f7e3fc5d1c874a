#include "util/cmdline.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
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

/* s[0..n) without the white space at either end: its start, *len its length. */
static const char *trimmed(const char *s, size_t n, size_t *len)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	*len = n;
	return s;
}

int cmdline_fc_form(const char *raw, char *out, size_t size)
{
	size_t len = strlen(raw), i, quotes = 0, blen, ilen = 0;
	const char *boot = trimmed(raw, len, &blen), *init = "";
	int n;

	for (i = 0; i + 4 <= len; i++) {
		if (raw[i] == '"')
			quotes++;
		/* linux-loader: outside double quotes is an even count before. */
		if (!memcmp(raw + i, " -- ", 4) && quotes % 2 == 0) {
			boot = trimmed(raw, i, &blen);
			init = trimmed(raw + i + 4, len - i - 4, &ilen);
			break;
		}
	}
	n = snprintf(out, size, "%.*s%s%.*s", (int)blen, boot, ilen ? " -- " : "", (int)ilen, init);
	return n < 0 || (size_t)n >= size ? -E2BIG : 0;
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
