/* Option tables: getopt_long's array and the usage text, built from one
 * description per option (cli/opt.h). */
#include "cli/opt.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#define USAGE_WIDTH 92

int cli_opt_longopts(const struct cli_opt *t, struct option *out)
{
	size_t n;

	for (n = 0; t[n].name; n++) {
		if (n == CLI_OPT_MAX)
			return -E2BIG;
		out[n] = (struct option){ t[n].name, t[n].value ? required_argument : no_argument,
					  NULL, t[n].code };
	}
	out[n] = (struct option){ NULL, 0, NULL, 0 };
	return 0;
}

const struct cli_opt *cli_opt_find(const struct cli_opt *t, const char *name, size_t len)
{
	for (; t->name; t++)
		if (strlen(t->name) == len && !strncmp(t->name, name, len))
			return t;
	return NULL;
}

/* Whether the synopsis shows "--name" already (then the list leaves it out). */
static bool in_synopsis(const char *synopsis, const char *name)
{
	size_t n = strlen(name);
	const char *s;

	for (s = strstr(synopsis, "--"); s; s = strstr(s + 2, "--")) {
		/* The name first: only then is s[2 + n] inside the string. */
		if (!strncmp(s + 2, name, n) && !isalnum((unsigned char)s[2 + n]) &&
		    s[2 + n] != '-')
			return true;
	}
	return false;
}

/* "  --name ARG" padded to the longest one, then its help. */
static void help_lines(FILE *f, const struct cli_opt *t)
{
	const struct cli_opt *o;
	char left[128];
	int width = 0;

	for (o = t; o->name; o++)
		if (o->help) {
			int n = snprintf(left, sizeof(left), "--%s%s%s", o->name,
					 o->value ? " " : "", o->value ? o->arg : "");

			width = n > width ? n : width;
		}
	for (o = t; o->name; o++)
		if (o->help) {
			snprintf(left, sizeof(left), "--%s%s%s", o->name, o->value ? " " : "",
				 o->value ? o->arg : "");
			fprintf(f, "  %-*s   %s\n", width, left, o->help);
		}
}

void cli_opt_usage(FILE *f, const char *synopsis, const struct cli_opt *t, const char *epilogue)
{
	const char *last = strrchr(synopsis, '\n');
	size_t col, indent;
	char item[192];

	const struct cli_opt *t0 = t;

	last = last ? last + 1 : synopsis;
	/* Continuation lines start under the last synopsis line's second word. */
	indent = strspn(last, " ");
	indent += strcspn(last + indent, " ") + 1 + (last == synopsis ? strlen("usage: volt ") : 0);
	col = strlen(last) + (last == synopsis ? strlen("usage: volt ") : 0);
	fprintf(f, "usage: volt %s", synopsis);
	for (; t->name; t++) {
		size_t len;

		if (t->hidden || in_synopsis(synopsis, t->name))
			continue;
		len = (size_t)snprintf(item, sizeof(item), "[--%s%s%s]%s", t->name,
				       t->value ? " " : "", t->value ? t->arg : "",
				       t->repeat ? "..." : "");
		if (col + 1 + len > USAGE_WIDTH) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else {
			fputc(' ', f);
			col++;
		}
		fputs(item, f);
		col += len;
	}
	fputc('\n', f);
	help_lines(f, t0);
	if (epilogue)
		fputs(epilogue, f);
}
