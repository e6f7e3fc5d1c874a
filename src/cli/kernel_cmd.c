/* `volt kernel build|list|path|rm`. */
#include "cli/commands.h"

#include "cli/opt.h"
#include "kernel/kernel.h"

#include "util/fs.h"
#include "util/parse.h"
#include "util/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct cli_opt kernel_opts[] = {
	{ .name = "config", .code = 'c', .value = true, .arg = "NAME|FILE" },
	{ .name = "variant", .code = 'v', .value = true, .arg = "generic|pvm" },
	{ .name = "source", .code = 's', .value = true, .arg = "TARBALL", .path = CLI_PATH_IN },
	{ .name = "jobs", .code = 'j', .value = true, .arg = "N" },
	{ .name = "force", .code = 'f' },
	{ .name = "no-build", .code = 'n' },
	{ .name = "help", .code = 'h', .hidden = true },
	{ .name = NULL },
};

/* Subcommands take different options: the synopsis is written by hand. */
static const char usage[] =
	"usage: volt kernel build [--config NAME|FILE] [--variant generic|pvm] [--source TARBALL]\n"
	"                         [--jobs N] [--force]\n"
	"       volt kernel list\n"
	"       volt kernel path [NAME|KEY] [--variant V] [--source TARBALL] [--no-build]\n"
	"       volt kernel rm NAME|KEY\n";

struct kopts {
	const char *config, *variant, *source;
	struct kernel_build_opts build;
	bool no_build;
};

static int parse_opts(int argc, char **argv, struct kopts *k)
{
	struct option longopts[CLI_OPT_MAX + 1];
	int c;

	if (cli_opt_longopts(kernel_opts, longopts))
		return -E2BIG;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:v:s:j:fnh", longopts, NULL)) != -1) {
		unsigned int jobs;

		switch (c) {
		case 'c':
			k->config = optarg;
			break;
		case 'v':
			k->variant = optarg;
			break;
		case 's':
			k->source = optarg;
			break;
		case 'j':
			if (parse_uint(optarg, 1, 1024, &jobs)) {
				pr_err("--jobs: '%s' is not a number from 1 to 1024", optarg);
				return -EINVAL;
			}
			k->build.jobs = (int)jobs;
			break;
		case 'f':
			k->build.force = true;
			break;
		case 'n':
			k->no_build = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	return 0;
}

static int cmd_build(struct kopts *k)
{
	struct kernel_spec s;
	struct kernel_entry e;
	int err;

	err = kernel_spec_resolve(&s, k->config, k->variant, k->source, true);
	if (err)
		return err;
	if (!k->build.force && !kernel_find(&s, &e))
		fprintf(stderr, "[volt] kernel %s (%s, %s) is cached: %s/vmlinux\n", s.config,
			s.variant, e.key, e.dir);
	else
		err = kernel_build(&s, &k->build, &e);
	kernel_spec_free(&s);
	return err;
}

static bool is_key_prefix(const char *name)
{
	size_t n = strlen(name);

	return n >= 4 && n <= KERNEL_KEY_LEN && strspn(name, "0123456789abcdef") == n;
}

/* The damaged entries (kernel_entry_list_damaged()) whose key starts with
 * prefix: listed, or removed (`volt kernel rm KEY` clears what a build would
 * otherwise replace). How many; *err on a failed removal. */
static int each_damaged(const char *prefix, bool remove, int *err)
{
	struct kernel_entry *list;
	int n = kernel_entry_list_damaged(&list), i, done = 0, r;

	for (i = 0; i < n; i++) {
		if (strncmp(list[i].key, prefix, strlen(prefix)))
			continue;
		if (!remove) {
			printf("%-16s  damaged: %s (volt kernel rm %s)\n", list[i].key,
			       list[i].damage, list[i].key);
			done++;
			continue;
		}
		r = rm_rf(list[i].dir);
		if (r) {
			pr_err("cannot remove %s: %s", list[i].dir, strerror(-r));
			*err = r;
			continue;
		}
		printf("removed %s (damaged: %s)\n", list[i].key, list[i].damage);
		done++;
	}
	free(list);
	return done;
}

static int cmd_path(struct kopts *k, const char *name)
{
	struct kernel_entry *list, e;
	struct kernel_spec s;
	int n, i, err;

	if (name && is_key_prefix(name)) {
		n = kernel_entry_list(&list);
		for (i = 0; i < n; i++) {
			if (!strncmp(list[i].key, name, strlen(name))) {
				printf("%s/vmlinux\n", list[i].dir);
				free(list);
				return 0;
			}
		}
		free(list);
	}
	err = kernel_spec_resolve(&s, k->config ? k->config : name, k->variant, k->source,
				  !k->no_build);
	if (err)
		return err;
	err = kernel_find(&s, &e);
	if (err == -EUCLEAN && k->no_build)
		pr_err("the cached kernel %s is damaged (%s); run 'volt kernel build --config %s' "
		       "to build it again",
		       e.dir, e.damage, s.config);
	else if (err && k->no_build)
		pr_err("kernel %s (%s) is not cached; run 'volt kernel build --config %s'",
		       s.config, s.variant, s.config);
	else if (err)
		err = kernel_build(&s, &k->build, &e);
	if (!err)
		printf("%s/vmlinux\n", e.dir);
	kernel_spec_free(&s);
	return err;
}

static int cmd_list(void)
{
	struct kernel_entry *list;
	char dir[PATH_MAX];
	int n, i;

	n = kernel_entry_list(&list);
	if (n < 0) {
		pr_err("cannot list the kernel cache: %s", strerror(-n));
		return n;
	}
	if (n == 0) {
		kernel_cache_dir(dir, sizeof(dir));
		printf("no kernels cached in %s\n", dir);
		each_damaged("", false, &n);
		return 0;
	}
	printf("%-16s  %-12s  %-8s  %-16s  %s\n", "KEY", "CONFIG", "VARIANT", "BUILT", "SOURCE");
	for (i = 0; i < n; i++) {
		char when[32];

		cli_format_date(list[i].built, when, sizeof(when));
		printf("%-16s  %-12s  %-8s  %-16s  %s\n", list[i].key, list[i].config,
		       list[i].variant, when, list[i].source_version);
	}
	free(list);
	each_damaged("", false, &n);
	return 0;
}

static int cmd_rm(const char *name)
{
	struct kernel_entry *list;
	int n, i, removed = 0, err = 0;

	n = kernel_entry_list(&list);
	if (n < 0) {
		pr_err("cannot list the kernel cache: %s", strerror(-n));
		return n;
	}
	for (i = 0; i < n; i++) {
		bool match = is_key_prefix(name) ? !strncmp(list[i].key, name, strlen(name))
						 : !strcmp(list[i].config, name);
		int r;

		if (!match)
			continue;
		r = rm_rf(list[i].dir);
		if (r) {
			pr_err("cannot remove %s: %s", list[i].dir, strerror(-r));
			err = r;
			continue;
		}
		printf("removed %s (%s, %s)\n", list[i].key, list[i].config, list[i].variant);
		removed++;
	}
	free(list);
	if (!removed && !err && is_key_prefix(name))
		removed = each_damaged(name, true, &err);
	if (!removed && !err) {
		pr_err("no cached kernel matches '%s' (see 'volt kernel list')", name);
		return -ENOENT;
	}
	return err;
}

int kernel_cmd(int argc, char **argv)
{
	struct kopts k = { 0 };
	const char *sub = argc > 1 ? argv[1] : NULL;
	int err;

	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(usage, sub ? stdout : stderr);
		return sub ? 0 : -EINVAL;
	}
	err = parse_opts(argc - 1, argv + 1, &k);
	if (err)
		return err > 0 ? 0 : err;
	argc -= optind + 1;
	argv += optind + 1;
	if (!strcmp(sub, "build") && argc == 0)
		return cmd_build(&k);
	if (!strcmp(sub, "list") && argc == 0)
		return cmd_list();
	if (!strcmp(sub, "path") && argc <= 1)
		return cmd_path(&k, argc ? argv[0] : NULL);
	if (!strcmp(sub, "rm") && argc == 1)
		return cmd_rm(argv[0]);
	if (strcmp(sub, "build") && strcmp(sub, "list") && strcmp(sub, "path") && strcmp(sub, "rm"))
		pr_err("unknown kernel command '%s'", sub);
	else
		pr_err("wrong arguments for 'volt kernel %s'", sub);
	fputs(usage, stderr);
	return -EINVAL;
}
