/* `volt snapshot list|rm` over the guest kit's snapshot cache. */
#include "cli/snapshot_cache_cmd.h"
#include "cli/commands.h"

#include "kernel/snapshot_cache.h"
#include "util/log.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char snapshot_list_usage[] = "usage: volt snapshot list\n";
const char snapshot_rm_usage[] = "usage: volt snapshot rm KEY|--all\n";

static bool wants_help(int argc, char **argv)
{
	return argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}

/* 1536 -> "1.5K": sizes in the table. */
static void human(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "BKMGT";
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && units[u + 1]) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 "B", bytes);
	else
		snprintf(buf, size, "%.1f%c", v, units[u]);
}

static int print_row(const struct snapshot_cache_info *info, void *ctx)
{
	char when[32], mem[16], disk[16], boot[32];
	int *rows = ctx;

	if (!(*rows)++)
		printf("%-16s  %8s  %5s  %-16s  %10s  %8s\n", "KEY", "MEMORY", "VCPUS", "CREATED",
		       "FIRST BOOT", "SIZE");
	cli_format_date(info->created, when, sizeof(when));
	human(info->mem_size, mem, sizeof(mem));
	human(info->disk_bytes, disk, sizeof(disk));
	snprintf(boot, sizeof(boot), "%.1fs", (double)info->first_boot_ms / 1000);
	printf("%-16s  %8s  %5d  %-16s  %10s  %8s\n", info->key, mem, info->ncpus, when, boot,
	       disk);
	return 0;
}

int snapshot_list_cmd(int argc, char **argv)
{
	char root[PATH_MAX];
	int rows = 0, err;

	if (wants_help(argc, argv)) {
		fputs(snapshot_list_usage, stdout);
		return 0;
	}
	if (argc > 1) {
		pr_err("snapshot list: unexpected argument '%s'", argv[1]);
		fputs(snapshot_list_usage, stderr);
		return -EINVAL;
	}
	err = snapshot_cache_list(print_row, &rows);
	if (err) {
		pr_err("cannot list the snapshot cache: %s", strerror(-err));
		return err;
	}
	if (!rows && !snapshot_cache_root(root, sizeof(root)))
		printf("no snapshots cached in %s\n", root);
	return 0;
}

int snapshot_rm_cmd(int argc, char **argv)
{
	const char *what;
	int err;

	if (wants_help(argc, argv)) {
		fputs(snapshot_rm_usage, stdout);
		return 0;
	}
	if (argc != 2) {
		fputs(snapshot_rm_usage, stderr);
		return -EINVAL;
	}
	what = !strcmp(argv[1], "--all") ? "all" : argv[1];
	/* Only --all removes everything: a bare "all" is a mistyped key. */
	if (strcmp(argv[1], "--all") && !snapshot_cache_key_valid(argv[1])) {
		pr_err("snapshot rm: '%s' is not a snapshot key (16 hex digits; see 'volt snapshot "
		       "list')",
		       argv[1]);
		return -EINVAL;
	}
	err = snapshot_cache_rm(what);
	if (err == -ENOENT) {
		pr_err("no cached snapshot %s (see 'volt snapshot list')", what);
		return err;
	}
	if (err) {
		pr_err("cannot remove %s: %s", strcmp(what, "all") ? what : "the snapshots",
		       strerror(-err));
		return err;
	}
	if (strcmp(what, "all"))
		printf("removed %s\n", what);
	else
		printf("removed every cached snapshot\n");
	return 0;
}
