/* `volt snapshot list` and `volt snapshot rm`: the guest kit's snapshot cache
 * (kernel/snapshot_cache.h). The `volt snapshot` dispatcher (cli/
 * snapshot_cmd.c) owns registration and calls these with argv[0] the
 * subcommand's name ("list", "rm"); they return 0 or -errno (the reason
 * already printed) like the other command handlers. */
#ifndef VOLT_CLI_SNAPSHOT_CACHE_CMD_H
#define VOLT_CLI_SNAPSHOT_CACHE_CMD_H

/* Synopsis lines for the dispatcher's usage, each ending in '\n'. */
extern const char snapshot_list_usage[];
extern const char snapshot_rm_usage[];

/* Prints a table of the complete cached snapshots: key, memory, vCPUs,
 * created, first boot time, size on disk. */
int snapshot_list_cmd(int argc, char **argv);
/* `rm KEY` removes one snapshot; `rm --all` every one (and abandoned
 * partial writes). */
int snapshot_rm_cmd(int argc, char **argv);

#endif
