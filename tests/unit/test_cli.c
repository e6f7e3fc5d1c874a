/* The front-ends' option tables (cli/opt.h), the shared-option parser and
 * the jailer's planning through the tables. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/api_opts.h"
#include "cli/commands.h"
#include "cli/common_opts.h"
#include "cli/device_paths.h"
#include "cli/jail_plan.h"
#include "cli/opt.h"
#include "cli/run_opts.h"
#include "sandbox/sandbox.h"

static const struct cli_opt *const tables[] = { run_opts, api_opts };

Test(cli, getopt_array_follows_the_table)
{
	struct option lo[CLI_OPT_MAX + 1];

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		size_t n;

		cr_assert_eq(cli_opt_longopts(tables[t], lo), 0);
		for (n = 0; tables[t][n].name; n++) {
			cr_assert_str_eq(lo[n].name, tables[t][n].name);
			cr_assert_eq(lo[n].has_arg,
				     tables[t][n].value ? required_argument : no_argument, "--%s",
				     lo[n].name);
			cr_assert_eq(lo[n].val, tables[t][n].code);
			/* One description per option. */
			for (size_t m = 0; m < n; m++)
				cr_assert_str_neq(tables[t][m].name, tables[t][n].name);
			/* A value option has something to show; a file option takes a value. */
			cr_assert(!tables[t][n].value || tables[t][n].arg, "--%s", lo[n].name);
			cr_assert(tables[t][n].value || (tables[t][n].path == CLI_PATH_NONE &&
							 !tables[t][n].spec_paths),
				  "--%s", lo[n].name);
		}
		cr_assert_null(lo[n].name);
	}
}

Test(cli, usage_shows_every_visible_option)
{
	char *buf = NULL, want[64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	run_usage(f);
	fclose(f);
	cr_assert(!strncmp(buf, "usage: volt run ", 16), "%s", buf);
	for (const struct cli_opt *o = run_opts; o->name; o++) {
		snprintf(want, sizeof(want), "[--%s%s", o->name, o->value ? " " : "]");
		cr_assert_eq(strstr(buf, want) != NULL, !o->hidden, "%s in %s", want, buf);
	}
	/* Wrapped: a line wider than 92 columns holds one option alone. */
	for (char *l = buf, *e; *l; l = e + 1) {
		e = strchr(l, '\n');
		cr_assert_not_null(e);
		*e = '\0';
		cr_assert(e - l <= 92 || !strstr(l, "] ["), "%s", l);
	}
	free(buf);
}

Test(cli, shared_options_parse_once)
{
	struct cli_common c = { 0 };

	cr_assert_eq(cli_common_option('k', "x", &c), 1);
	cr_assert_eq(cli_common_option(CLI_O_BOOT_TIMER, NULL, &c), 0);
	cr_assert(c.boot_timer);
	cr_assert_eq(cli_common_option(CLI_O_SECCOMP, "maybe", &c), -EINVAL);
	cr_assert_eq(cli_common_option(CLI_O_LANDLOCK, "never", &c), -EINVAL);
	cr_assert_eq(cli_common_option(CLI_O_LOG_LEVEL, "loud", &c), -EINVAL);
	cr_assert_eq(cli_common_option(CLI_O_SECCOMP, "log", &c), 0);
	cr_assert_eq(cli_common_option(CLI_O_NO_SECCOMP, NULL, &c), 0);
}

/* Both front-ends take the shared options with the same codes. */
Test(cli, front_ends_share_the_shared_options)
{
	static const char *const shared[] = { "log-level", "seccomp", "no-seccomp", "landlock",
					      "boot-timer" };

	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		const struct cli_opt *r = cli_opt_find(run_opts, shared[i], strlen(shared[i]));
		const struct cli_opt *a = cli_opt_find(api_opts, shared[i], strlen(shared[i]));

		cr_assert(r && a, "%s", shared[i]);
		cr_assert_eq(r->code, a->code);
		cr_assert_eq(cli_common_option(r->code, "x", &(struct cli_common){ 0 }) != 1, true,
			     "%s", shared[i]);
	}
}

/* A sample value for each option of run_opts; host paths start with /host/. */
static const char *run_sample(const struct cli_opt *o)
{
	if (!strcmp(o->name, "drive"))
		return "path=/host/d.img,ro";
	if (!strcmp(o->name, "pmem"))
		return "path=/host/p.img";
	if (!strcmp(o->name, "vsock"))
		return "cid=3,uds=/host/v.sock";
	if (!strcmp(o->name, "net"))
		return "tap=tap0";
	if (!strcmp(o->name, "balloon"))
		return "64";
	if (o->path != CLI_PATH_NONE)
		return "/host/file";
	return "1";
}

/* Every option that names a host file, alone: its value no longer names the
 * host's path, and the file (or socket name) is in the plan. */
Test(cli, every_file_option_is_rewritten)
{
	int checked = 0;

	for (const struct cli_opt *o = run_opts; o->name; o++) {
		char opt[64], why[256], *args[2];
		struct jail_plan p;

		if (o->path == CLI_PATH_NONE && !o->spec_paths)
			continue;
		snprintf(opt, sizeof(opt), "--%s", o->name);
		args[0] = opt;
		args[1] = (char *)run_sample(o);
		if (o->path == CLI_PATH_DIR) { /* --restore: refused, with the reason */
			cr_assert_neq(jail_plan_make(2, args, &p, why, sizeof(why)), 0, "%s", opt);
			cr_assert(strstr(why, "snapshot"), "%s: %s", opt, why);
			continue;
		}
		cr_assert_eq(jail_plan_make(2, args, &p, why, sizeof(why)), 0, "%s: %s", opt, why);
		cr_assert_eq(p.argc, 3);
		cr_assert_str_eq(p.argv[1], opt);
		cr_assert_null(strstr(p.argv[2], "/host/"), "%s %s", opt, p.argv[2]);
		if (strstr(args[1], "/host/")) {
			cr_assert(p.nfiles == 1 || p.socket_name, "%s", opt);
			checked++;
		}
		jail_plan_free(&p);
	}
	cr_assert_geq(checked, 5); /* kernel, initrd, drive, pmem, vsock */
}

/* An option taking a value swallows the next argument, even one that looks
 * like an option; a flag does not. */
Test(cli, value_is_never_taken_for_an_option)
{
	for (const struct cli_opt *o = run_opts; o->name; o++) {
		char opt[64], why[256];
		char *args[] = { opt, "--kernel", "/k" };
		struct jail_plan p;
		int err;

		if (o->path != CLI_PATH_NONE || !strcmp(o->name, "drive") ||
		    !strcmp(o->name, "pmem") || !strcmp(o->name, "vsock") ||
		    !strcmp(o->name, "help"))
			continue;
		snprintf(opt, sizeof(opt), "--%s", o->name);
		err = jail_plan_make(3, args, &p, why, sizeof(why));
		cr_assert_eq(err, 0, "%s: %s", opt, why);
		if (o->value) {
			/* "--kernel" is the value; "/k" a stray argument, no kernel. */
			cr_assert_str_eq(p.argv[2], "--kernel", "%s", opt);
			cr_assert_not(p.has_kernel, "%s", opt);
			cr_assert_eq(p.nfiles, 0, "%s", opt);
		} else {
			cr_assert(p.has_kernel, "%s", opt);
			cr_assert_eq(p.nfiles, 1, "%s", opt);
		}
		jail_plan_free(&p);
	}
}

/* The API front-end: what the VMM creates is a path in the jail, the
 * configuration file is read outside; every value option keeps its value. */
Test(cli, api_plan_follows_the_table)
{
	for (const struct cli_opt *o = api_opts; o->name; o++) {
		char opt[64], why[256];
		char *args[] = { "--no-api", opt, "--id" };
		struct jail_plan p;

		if (!o->value)
			continue;
		snprintf(opt, sizeof(opt), "--%s", o->name);
		cr_assert_eq(jail_api_plan_make(3, args, NULL, &p, why, sizeof(why)), 0, "%s: %s",
			     opt, why);
		cr_assert_eq(p.argc, 3, "%s", opt);
		cr_assert_str_eq(p.argv[2],
				 o->path == CLI_PATH_NONE     ? "--id"
				 : o->path == CLI_PATH_CONFIG ? "/" JAIL_CONFIG_NAME
							      : "/--id",
				 "%s", opt);
		jail_plan_free(&p);
		args[2] = "/run/x";
		cr_assert_eq(jail_api_plan_make(3, args, NULL, &p, why, sizeof(why)), 0, "%s: %s",
			     opt, why);
		if (o->path == CLI_PATH_SOCK || o->path == CLI_PATH_OUT)
			cr_assert(p.ninside == 1 && !strcmp(p.inside[0], "/run/x"), "%s", opt);
		else if (o->path == CLI_PATH_DIR)
			cr_assert(p.ninside == 1 && !strcmp(p.inside[0], "/run/x/."), "%s", opt);
		else
			cr_assert_eq(p.ninside, 0, "%s", opt);
		if (o->path == CLI_PATH_CONFIG)
			cr_assert_str_eq(p.argv[2], "/" JAIL_CONFIG_NAME);
		jail_plan_free(&p);
	}
}

struct seen {
	enum cli_path kind;
	char path[64];
};

static int record(void *ctx, enum cli_path kind, const char *host_path, char **jail_path, char *why,
		  size_t why_size)
{
	struct seen *s = ctx;

	(void)why;
	(void)why_size;
	s->kind = kind;
	snprintf(s->path, sizeof(s->path), "%s", host_path);
	*jail_path = strdup("/J");
	return 0;
}

Test(cli, device_seam_finds_paths_and_kinds)
{
	struct seen s = { 0 };
	char why[256], *out;

	cr_assert_eq(cli_device_spec_paths("drive", "id=r,path=/a/b.img,ro", record, &s, &out, why,
					   sizeof(why)),
		     0, "%s", why);
	cr_assert_str_eq(out, "id=r,path=/J,ro");
	cr_assert_eq(s.kind, CLI_PATH_DISK_IN); /* a drive: a block device too */
	cr_assert_str_eq(s.path, "/a/b.img");
	free(out);
	cr_assert_eq(
		cli_device_spec_paths("drive", "path=/a/c.img", record, &s, &out, why, sizeof(why)),
		0);
	cr_assert_eq(s.kind, CLI_PATH_DISK_INOUT);
	free(out);
	cr_assert_eq(
		cli_device_spec_paths("pmem", "path=/a/p.img", record, &s, &out, why, sizeof(why)),
		0, "%s", why);
	cr_assert_eq(s.kind, CLI_PATH_INOUT); /* a regular file only */
	free(out);
	cr_assert_eq(cli_device_spec_paths("vsock", "uds=/s/v.sock,cid=5", record, &s, &out, why,
					   sizeof(why)),
		     0);
	cr_assert_str_eq(out, "uds=/J,cid=5");
	cr_assert_eq(s.kind, CLI_PATH_SOCK);
	free(out);
	cr_assert_eq(cli_device_spec_paths("drive", "ro", record, &s, &out, why, sizeof(why)),
		     -EINVAL);
	cr_assert(!strncmp(why, "--drive 'ro': ", 14), "%s", why);
	cr_assert_null(out);
}

Test(cli, command_table_names_every_command)
{
	static const char *const names[] = { "run",    "jail",	"sandbox", "kernel",
					     "rootfs", "cpuid", "version" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct cli_command *c;

		for (c = cli_commands; c->synopsis; c++)
			if (c->name && !strcmp(c->name, names[i]))
				break;
		cr_assert_not_null(c->synopsis, "%s", names[i]);
		cr_assert_not_null(c->fn);
		cr_assert_not_null(c->help);
	}
}

Test(cli, usage_layout)
{
	static const struct cli_opt t[] = {
		{ .name = "id", .code = 1, .value = true, .arg = "ID" },
		{ .name = "idle", .code = 2, .help = "sleep" },
		{ .name = "secret", .code = 3, .hidden = true },
		{ .name = "many",
		  .code = 4,
		  .value = true,
		  .repeat = true,
		  .arg = "N",
		  .help = "more" },
		{ .name = NULL },
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_opt_usage(f, "x --id ID", t, "end\n");
	fclose(f);
	/* --id is in the synopsis; --idle is not, though it starts the same. */
	cr_assert_str_eq(buf, "usage: volt x --id ID [--idle] [--many N]...\n"
			      "  --idle     sleep\n"
			      "  --many N   more\n"
			      "end\n");
	free(buf);
}
