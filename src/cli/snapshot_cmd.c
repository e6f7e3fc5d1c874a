/* `volt snapshot <subcommand>`: snapshots of microVMs. The dispatcher is a
 * table of subcommands (one line each); `create` is a thin client of a
 * running volt's API (Firecracker's calls: PATCH /vm, PUT /snapshot/create),
 * so it works the same on a Firecracker socket. */
#include "cli/commands.h"

#include "cli/api_client.h"
#include "cli/opt.h"
#include "cli/snapshot_cache_cmd.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct snapshot_sub {
	const char *name;
	const char *synopsis; /* after "volt snapshot " */
	const char *help;
	/* argv[0] is the subcommand's name. */
	int (*fn)(int argc, char **argv);
};

static int snapshot_create(int argc, char **argv);

static const struct snapshot_sub subs[] = {
	{ "create",
	  "create --api-sock SOCKET --out DIR [--type full|diff] [--then resume|pause|stop]",
	  "snapshot a running microVM through its API socket", snapshot_create },
	{ "list", "list", "the guest kit's cached snapshots (volt run starts from them)",
	  snapshot_list_cmd },
	{ "rm", "rm KEY|--all", "remove cached snapshots", snapshot_rm_cmd },
	{ NULL, NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	const struct snapshot_sub *s;

	for (s = subs; s->name; s++)
		fprintf(f, "%s volt snapshot %s\n", s == subs ? "usage:" : "      ", s->synopsis);
	fputs("\n", f);
	for (s = subs; s->name; s++)
		fprintf(f, "  %-8s %s\n", s->name, s->help);
	fputs("\n'volt snapshot <subcommand> --help' describes each.\n", f);
}

int snapshot_cmd(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	const struct snapshot_sub *s;

	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		usage(sub ? stdout : stderr);
		return sub ? 0 : -EINVAL;
	}
	for (s = subs; s->name; s++)
		if (!strcmp(sub, s->name))
			return s->fn(argc - 1, argv + 1);
	pr_err("unknown snapshot command '%s'", sub);
	usage(stderr);
	return -EINVAL;
}

/* --- create ---------------------------------------------------------------------- */

enum { O_SOCK = 1, O_OUT, O_TYPE, O_THEN, O_TIMEOUT, O_HELP };

static const struct cli_opt create_opts[] = {
	{ .name = "api-sock",
	  .code = O_SOCK,
	  .value = true,
	  .arg = "SOCKET",
	  .help = "the API socket of the running volt or Firecracker (required)",
	  .path = CLI_PATH_SOCK },
	{ .name = "out",
	  .code = O_OUT,
	  .value = true,
	  .arg = "DIR",
	  .help = "where DIR/state and DIR/mem go, made 0700 if missing (required)",
	  .path = CLI_PATH_DIR },
	{ .name = "type",
	  .code = O_TYPE,
	  .value = true,
	  .arg = "full|diff",
	  .help = "full (default), or diff: the pages dirtied since the last one" },
	{ .name = "then",
	  .code = O_THEN,
	  .value = true,
	  .arg = "resume|pause|stop",
	  .help = "what the microVM does afterwards (default resume)" },
	{ .name = "timeout",
	  .code = O_TIMEOUT,
	  .value = true,
	  .arg = "SECONDS",
	  .help = "how long each API call may take (default 300)" },
	{ .name = "help", .code = O_HELP, .hidden = true },
	{ .name = NULL },
};

static const char create_epilogue[] =
	"\nThe microVM is paused (PATCH /vm), saved (PUT /snapshot/create, the paths as the\n"
	"VMM sees them: a jailed VMM's are inside its jail), then:\n"
	"  resume  resumed (PATCH /vm Resumed)\n"
	"  pause   left paused\n"
	"  stop    resumed and sent Ctrl+Alt+Del (PUT /actions SendCtrlAltDel): the API has\n"
	"          no \"stop\"; a Linux guest reboots, which ends volt. A guest that ignores\n"
	"          it keeps running: kill the VMM then.\n"
	"If the snapshot fails, the microVM is resumed (unless --then pause).\n";

static void create_usage(FILE *f)
{
	cli_opt_usage(f, "snapshot create", create_opts, create_epilogue);
}

/* One API call; 0 on a 2xx answer, else -errno with the API's fault_message logged. */
static int call(const char *sock, const char *method, const char *url, const char *body,
		int timeout_ms, const char *what)
{
	struct api_reply r;
	char why[1024];
	int err;

	err = api_client_request(sock, method, url, body, timeout_ms, &r, why, sizeof(why));
	if (err) {
		pr_err("%s: %s", what, why);
		return err;
	}
	if (r.status < 200 || r.status > 299) {
		api_client_fault(&r, why, sizeof(why));
		pr_err("%s: the API answered %d: %s", what, r.status, why);
		err = -EIO;
	}
	free(r.body);
	return err;
}

/* DIR made if missing (0700), and its absolute path: the VMM's cwd is not ours. */
static int out_dir(const char *dir, char *abs)
{
	struct stat st;
	int err;

	if (stat(dir, &st)) {
		if (errno != ENOENT) {
			err = -errno;
			pr_err("--out '%s': %s", dir, strerror(errno));
			return err;
		}
		err = mkdir_p(dir, 0700);
		if (err) {
			pr_err("--out '%s': cannot create it: %s", dir, strerror(-err));
			return err;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		pr_err("--out '%s': exists and is not a directory", dir);
		return -ENOTDIR;
	}
	if (!realpath(dir, abs)) {
		err = -errno;
		pr_err("--out '%s': %s", dir, strerror(errno));
		return err;
	}
	return 0;
}

static int snapshot_create(int argc, char **argv)
{
	struct option longopts[CLI_OPT_MAX + 1];
	const char *sock = NULL, *out = NULL, *type = "Full", *then = "resume";
	char dir[PATH_MAX], state[PATH_MAX + 8], mem[PATH_MAX + 8];
	unsigned int timeout_s = 300;
	json_t *body;
	char *text;
	int c, err, ms;

	if (cli_opt_longopts(create_opts, longopts))
		return -E2BIG;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_SOCK:
			sock = optarg;
			break;
		case O_OUT:
			out = optarg;
			break;
		case O_TYPE:
			if (!strcmp(optarg, "full")) {
				type = "Full";
			} else if (!strcmp(optarg, "diff")) {
				type = "Diff";
			} else {
				pr_err("--type '%s': full or diff", optarg);
				return -EINVAL;
			}
			break;
		case O_THEN:
			if (strcmp(optarg, "resume") && strcmp(optarg, "pause") &&
			    strcmp(optarg, "stop")) {
				pr_err("--then '%s': resume, pause or stop", optarg);
				return -EINVAL;
			}
			then = optarg;
			break;
		case O_TIMEOUT:
			if (parse_uint(optarg, 1, 86400, &timeout_s)) {
				pr_err("--timeout '%s': seconds, 1 to 86400", optarg);
				return -EINVAL;
			}
			break;
		case O_HELP:
			create_usage(stdout);
			return 0;
		default:
			create_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		create_usage(stderr);
		return -EINVAL;
	}
	if (!sock || !out) {
		pr_err("snapshot create needs --api-sock SOCKET and --out DIR");
		create_usage(stderr);
		return -EINVAL;
	}
	ms = (int)timeout_s * 1000;
	/* The API first: nothing is made when no microVM answers. */
	err = call(sock, "PATCH", "/vm", "{\"state\":\"Paused\"}", ms, "pausing the microVM");
	if (err)
		return err;
	err = out_dir(out, dir);
	if (err)
		goto failed;
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(mem, sizeof(mem), "%s/mem", dir);
	body = json_pack("{s:s, s:s, s:s}", "snapshot_type", type, "snapshot_path", state,
			 "mem_file_path", mem);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		pr_err("out of memory");
		err = -ENOMEM;
	} else {
		err = call(sock, "PUT", "/snapshot/create", text, ms, "creating the snapshot");
		free(text);
	}
	if (err)
		goto failed;
	printf("snapshot (%s) in %s: state %s, memory %s\n",
	       !strcmp(type, "Full") ? "full" : "diff", dir, state, mem);
	if (!strcmp(then, "pause")) {
		printf("the microVM is left paused\n");
		return 0;
	}
	err = call(sock, "PATCH", "/vm", "{\"state\":\"Resumed\"}", ms, "resuming the microVM");
	if (err)
		return err;
	if (!strcmp(then, "resume")) {
		printf("the microVM was resumed\n");
		return 0;
	}
	err = call(sock, "PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", ms,
		   "stopping the microVM");
	if (err)
		return err;
	printf("sent Ctrl+Alt+Del: the guest should shut down (a Linux guest reboots, which "
	       "ends volt); if it does not, kill the VMM\n");
	return 0;
failed:
	/* No snapshot: the microVM goes on as it was unless it was to stay paused. */
	if (strcmp(then, "pause") &&
	    !call(sock, "PATCH", "/vm", "{\"state\":\"Resumed\"}", ms, "resuming the microVM"))
		pr_info("no snapshot was taken; the microVM was resumed");
	return err;
}
