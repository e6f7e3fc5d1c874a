/* `volt rootfs build|path`. */
#include "cli/commands.h"

#include "cli/opt.h"
#include "kernel/rootfs.h"

#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define EXT4_MIN (8ULL << 20)
#define EXT4_MAX (64ULL << 30)

static const struct cli_opt rootfs_opts_table[] = {
	{ .name = "ext4", .code = 'e', .value = true, .arg = "SIZE" },
	{ .name = "compress", .code = 'c', .value = true, .arg = "gzip|none" },
	{ .name = "busybox", .code = 'b', .value = true, .arg = "PATH", .path = CLI_PATH_IN },
	{ .name = "applet-links", .code = 'l', .value = true, .arg = "all|minimal" },
	{ .name = "force", .code = 'f' },
	{ .name = "no-build", .code = 'n' },
	{ .name = "help", .code = 'h', .hidden = true },
	{ .name = NULL },
};

/* Subcommands take different options: the synopsis is written by hand. */
static const char usage[] =
	"usage: volt rootfs build [--ext4 SIZE | --compress gzip|none] [--busybox PATH]\n"
	"                         [--applet-links all|minimal] [--force]\n"
	"       volt rootfs path  [--ext4 SIZE | --compress gzip|none] [--busybox PATH]\n"
	"                         [--applet-links all|minimal] [--no-build]\n"
	"SIZE: bytes or with a K/M/G suffix (8M to 64G)\n"
	"--applet-links minimal: /bin/sh and /usr/bin/env only, busybox runs the rest by name\n"
	"(the default for an initramfs on hosts that emulate guest ring 0; else all)\n";

int rootfs_cmd(int argc, char **argv)
{
	struct option longopts[CLI_OPT_MAX + 1];
	struct rootfs_opts o = { .format = rootfs_default_format() };
	const char *sub = argc > 1 ? argv[1] : NULL;
	char path[PATH_MAX];
	bool compress_set = false;
	int c, err;

	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fputs(usage, sub ? stdout : stderr);
		return sub ? 0 : -EINVAL;
	}
	if (strcmp(sub, "build") && strcmp(sub, "path")) {
		pr_err("unknown rootfs command '%s'", sub);
		fputs(usage, stderr);
		return -EINVAL;
	}
	if (cli_opt_longopts(rootfs_opts_table, longopts))
		return -E2BIG;
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "e:c:b:l:fnh", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (parse_size(optarg, 1, &o.ext4_size) || o.ext4_size < EXT4_MIN ||
			    o.ext4_size > EXT4_MAX) {
				pr_err("--ext4: '%s' is not a size from 8M to 64G", optarg);
				return -EINVAL;
			}
			o.format = ROOTFS_EXT4;
			break;
		case 'c':
			if (!strcmp(optarg, "gzip")) {
				o.format = ROOTFS_CPIO_GZ;
			} else if (!strcmp(optarg, "none")) {
				o.format = ROOTFS_CPIO;
			} else {
				pr_err("--compress: '%s' is not gzip or none", optarg);
				return -EINVAL;
			}
			compress_set = true;
			break;
		case 'b':
			o.busybox = optarg;
			break;
		case 'l':
			if (!strcmp(optarg, "all")) {
				o.links = ROOTFS_LINKS_ALL;
			} else if (!strcmp(optarg, "minimal")) {
				o.links = ROOTFS_LINKS_MINIMAL;
			} else {
				pr_err("--applet-links: '%s' is not all or minimal", optarg);
				return -EINVAL;
			}
			break;
		case 'f':
			o.force = true;
			break;
		case 'n':
			o.no_build = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (optind + 1 < argc) {
		pr_err("unexpected argument '%s'", argv[optind + 1]);
		return -EINVAL;
	}
	if (compress_set && o.ext4_size) {
		pr_err("--compress and --ext4 exclude each other");
		return -EINVAL;
	}
	if (!strcmp(sub, "build") && o.no_build) {
		pr_err("--no-build goes with 'volt rootfs path'");
		return -EINVAL;
	}
	err = rootfs_get(&o, path, sizeof(path));
	if (err)
		return err;
	if (!strcmp(sub, "path"))
		printf("%s\n", path);
	else
		fprintf(stderr, "[volt] root filesystem: %s\n", path);
	return 0;
}
