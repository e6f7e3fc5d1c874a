/* `volt jail`: runs `volt run` as an unprivileged user in a chroot jail, the
 * way Firecracker's jailer runs Firecracker.
 *
 * As root: validate everything; close inherited fds >= 3 and clear the
 * environment; make <base>/volt/<id>/root with volt (and the shared libraries
 * it runs on), the VM's files and /dev/kvm, /dev/net/tun; put the process in
 * a cgroup with the given limits; set rlimits; join a network namespace;
 * unshare the mount namespace and pivot_root into the jail; optionally
 * unshare the PID namespace; drop every capability, the bounding set
 * included, set no_new_privs and switch to uid:gid; then exec /volt run with
 * the arguments rewritten to jail paths. API mode (the arguments after "--"
 * start with --api-sock, --config-file, --no-api or --id) execs /volt with
 * the API front end's arguments instead: the socket and log paths are jail
 * paths, the configuration file is read, its files put in the jail and a
 * rewritten copy passed as /config.json. With --new-pid-ns the jailer stays
 * as the parent (outside the namespace), forwards SIGINT/SIGTERM/SIGHUP/
 * SIGQUIT and returns the VMM's exit status; otherwise the VMM replaces it.
 * A jail directory that exists already is refused; one made by a failed
 * attempt is removed. Neither the jail nor the cgroup is removed after the
 * VM exits (the caller owns them then). */
#include "cli/commands.h"

#include "api/vm_config_json.h"
#include "cli/common_opts.h"
#include "cli/jail_plan.h"
#include "cli/opt.h"
#include "kernel/guest_kit.h"
#include "sandbox/jail.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_BASE   "/srv/jailer"
#define DEFAULT_PARENT "volt"

static const struct cli_opt jail_opts[] = {
	{ .name = "id", .code = 'i', .value = true, .arg = "ID" },
	{ .name = "uid", .code = 'u', .value = true, .arg = "UID" },
	{ .name = "gid", .code = 'g', .value = true, .arg = "GID" },
	{ .name = "chroot-base", .code = 'b', .value = true, .arg = "DIR", .path = CLI_PATH_DIR },
	{ .name = "netns", .code = 'n', .value = true, .arg = "PATH", .path = CLI_PATH_IN },
	{ .name = "cgroup", .code = 'c', .value = true, .repeat = true, .arg = "FILE=VALUE" },
	{ .name = "cgroup-version", .code = 'V', .value = true, .arg = "1|2" },
	{ .name = "parent-cgroup", .code = 'P', .value = true, .arg = "PATH" },
	{ .name = "rlimit", .code = 'r', .value = true, .repeat = true, .arg = "RESOURCE=VALUE" },
	{ .name = "daemonize", .code = 'd' },
	{ .name = "new-pid-ns", .code = 'p' },
	{ .name = "allow-root", .code = 'R' },
	CLI_COMMON_LOG_LEVEL,
	{ .name = "help", .code = 'h', .hidden = true },
	{ .name = NULL },
};

static void usage(FILE *f)
{
	cli_opt_usage(
		f, "jail --id ID --uid UID --gid GID", jail_opts,
		"                 -- <volt run arguments> | <API arguments>\n"
		"Runs `volt run` as UID:GID, without capabilities, chrooted (pivot_root) into\n"
		"DIR/volt/ID/root (DIR defaults to " DEFAULT_BASE
		"). The files named by --kernel,\n"
		"--initrd and --drive (the guest kit's, without --kernel) are hard-linked or "
		"copied\n"
		"there, never changed: a writable drive must be writable by UID:GID as it is and\n"
		"on DIR's file system. DIR must be a real directory (no symlinks) owned by root.\n"
		"UID or GID 0 needs --allow-root. --vsock uds=PATH becomes\n"
		"DIR/volt/ID/root/<name of PATH>. --cgroup sets a\n"
		"cgroup file (memory.max=256M, pids.max=100, cpu.max=...) in the group\n"
		"<hierarchy>/" DEFAULT_PARENT
		"/ID. --rlimit takes fsize, no-file, nproc, memlock or core.\n"
		"When the arguments after -- start with --api-sock, --config-file, --no-api or\n"
		"--id, /volt runs the API front end instead: --api-sock, --log-path and\n"
		"--metrics-path are paths in the jail (default socket "
		"DIR/volt/ID/root" JAIL_DEFAULT_API_SOCK ");\n"
		"--config-file is read here, its files are put in the jail and the rewritten\n"
		"file is /" JAIL_CONFIG_NAME " there. Files given later through the API must be\n"
		"in the jail already, named by their path there.\n"
		"Needs root.\n");
}

static int parse_id_num(const char *opt, const char *s, unsigned int *out)
{
	if (parse_uint(s, 0, 4294967294U, out)) {
		pr_err("%s '%s': not a number (a numeric id, not a name)", opt, s);
		return -EINVAL;
	}
	return 0;
}

/* A relative path below the cgroup hierarchy's root: no "..", no "//". */
static bool parent_ok(const char *s)
{
	const char *c = s;

	if (!*s || *s == '/')
		return false;
	while (*c) {
		const char *e = strchrnul(c, '/');

		if (e == c || (e - c == 1 && *c == '.') || (e - c == 2 && !strncmp(c, "..", 2)))
			return false;
		c = *e ? e + 1 : e;
	}
	return s[strlen(s) - 1] != '/';
}

static int parse_opts(int argc, char **argv, struct jail_opts *o, int *first_run_arg)
{
	struct option longopts[CLI_OPT_MAX + 1];
	struct cli_common common = { 0 };
	char why[160];
	unsigned int n;
	int c;

	memset(o, 0, sizeof(*o));
	if (cli_opt_longopts(jail_opts, longopts))
		return -E2BIG;
	o->base = DEFAULT_BASE;
	o->parent = DEFAULT_PARENT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		int shared = cli_common_option(c, optarg, &common);

		if (shared <= 0) {
			if (shared)
				return shared;
			continue;
		}
		switch (c) {
		case 'i':
			if (jail_id_check(optarg, why, sizeof(why))) {
				pr_err("--id '%s': %s", optarg, why);
				return -EINVAL;
			}
			o->id = optarg;
			break;
		case 'u':
			if (parse_id_num("--uid", optarg, &n))
				return -EINVAL;
			o->uid = n;
			o->has_uid = true;
			break;
		case 'g':
			if (parse_id_num("--gid", optarg, &n))
				return -EINVAL;
			o->gid = n;
			o->has_gid = true;
			break;
		case 'b':
			o->base = optarg;
			break;
		case 'n':
			o->netns = optarg;
			break;
		case 'c':
			if (o->ncgroups == JAIL_MAX_CGROUP) {
				pr_err("--cgroup: at most %d", JAIL_MAX_CGROUP);
				return -EINVAL;
			}
			if (jail_cgroup_parse(optarg, &o->cgroups[o->ncgroups], why, sizeof(why))) {
				pr_err("--cgroup '%s': %s", optarg, why);
				return -EINVAL;
			}
			o->ncgroups++;
			break;
		case 'V':
			if (parse_uint(optarg, 1, 2, &n)) {
				pr_err("--cgroup-version '%s': 1 or 2", optarg);
				return -EINVAL;
			}
			o->cgroup_version = (int)n;
			break;
		case 'P':
			if (!parent_ok(optarg)) {
				pr_err("--parent-cgroup '%s': a relative path without '.' or '..'",
				       optarg);
				return -EINVAL;
			}
			o->parent = optarg;
			break;
		case 'r':
			if (o->nrlimits == JAIL_MAX_RLIMIT) {
				pr_err("--rlimit: at most %d", JAIL_MAX_RLIMIT);
				return -EINVAL;
			}
			if (jail_rlimit_parse(optarg, &o->rl_res[o->nrlimits],
					      &o->rl_val[o->nrlimits], why, sizeof(why))) {
				pr_err("--rlimit '%s': %s", optarg, why);
				return -EINVAL;
			}
			o->nrlimits++;
			break;
		case 'd':
			o->daemonize = true;
			break;
		case 'p':
			o->new_pid_ns = true;
			break;
		case 'R':
			o->allow_root = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!o->id || !o->has_uid || !o->has_gid) {
		pr_err("volt jail: --id, --uid and --gid are required");
		usage(stderr);
		return -EINVAL;
	}
	/* Root's uid or group in the jail, even without capabilities, owns or
	 * may write what root does on the host's files the jail holds: only when
	 * asked for in so many words. */
	if ((o->uid == 0 || o->gid == 0) && !o->allow_root) {
		pr_err("--%s 0: the VMM would run as root's %s; pass --allow-root to mean it",
		       o->uid == 0 ? "uid" : "gid", o->uid == 0 ? "user" : "group");
		return -EINVAL;
	}
	if (o->base[0] != '/') {
		pr_err("--chroot-base '%s': must be an absolute path", o->base);
		return -EINVAL;
	}
	*first_run_arg = optind;
	return 0;
}

/* --config-file, read and checked outside the jail with the API's parser,
 * its files added to the plan, rewritten to jail paths into *text. */
static int load_config(struct jail_plan *p, uid_t uid, gid_t gid, char **text)
{
	struct api_config *cfg = NULL;
	char why[512], *buf = NULL;
	struct stat st;
	json_t *j = NULL;
	size_t len;
	int err;

	err = read_input_stat(p->config_src, 1 << 20, &buf, &len, &st, why, sizeof(why));
	if (err) {
		pr_err("--config-file '%s': %s", p->config_src, why);
		return err;
	}
	/* Its text becomes the jail's /config.json, uid:gid's: as for every
	 * other input, nothing that uid cannot read on the host. */
	if (!jail_may_access(&st, uid, gid, false)) {
		pr_err("--config-file '%s' is not readable by uid %u/gid %u: chown or chmod it for "
		       "%u:%u before jailing (a jail gives that uid nothing it cannot read on the "
		       "host)",
		       p->config_src, (unsigned int)uid, (unsigned int)gid, (unsigned int)uid,
		       (unsigned int)gid);
		free(buf);
		return -EACCES;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		err = -ENOMEM;
		goto out;
	}
	api_config_init(cfg);
	j = api_json_parse(buf, len, why, sizeof(why));
	err = j ? api_config_from_json(cfg, j, why, sizeof(why)) : -EINVAL;
	if (!err)
		err = jail_config_rewrite(j, p, why, sizeof(why));
	if (err) {
		pr_err("--config-file '%s': %s", p->config_src, why);
		goto out;
	}
	*text = json_dumps(j, JSON_INDENT(2));
	if (!*text)
		err = -ENOMEM;
out:
	json_decref(j);
	free(cfg);
	free(buf);
	return err;
}

int jail_cmd(int argc, char **argv)
{
	char kernel[PATH_MAX], initrd[PATH_MAX], why[200];
	char **run_argv = NULL, *config_text = NULL;
	struct jail_plan plan = { 0 };
	struct jail_opts o;
	int first, nrun, i, err;
	bool api;

	err = parse_opts(argc, argv, &o, &first);
	if (err)
		return err > 0 ? 0 : err;
	if (geteuid() != 0) {
		pr_err("volt jail needs root (it makes device nodes, a cgroup and namespaces)");
		return -EPERM;
	}
	/* Nothing the caller left open reaches the VMM. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U))
		for (i = 3; i < 1024; i++)
			close(i);

	nrun = argc - first;
	run_argv = calloc((size_t)nrun + 5, sizeof(*run_argv));
	if (!run_argv)
		return -ENOMEM;
	for (i = 0; i < nrun; i++)
		run_argv[i] = argv[first + i];
	api = jail_args_are_api(nrun, run_argv);
	err = api ? jail_api_plan_make(nrun, run_argv, o.id, &plan, why, sizeof(why))
		  : jail_plan_make(nrun, run_argv, &plan, why, sizeof(why));
	if (err) {
		pr_err("volt jail: %s", why);
		goto out;
	}
	if (api && plan.config_src) {
		err = load_config(&plan, o.uid, o.gid, &config_text);
		if (err)
			goto out;
	}
	if (!api && !plan.has_kernel) {
		/* As volt run would: the guest kit, found outside the jail. */
		err = guest_kit_paths(false, kernel, sizeof(kernel),
				      plan.has_initrd ? NULL : initrd, sizeof(initrd));
		if (err)
			goto out;
		run_argv[nrun++] = "--kernel";
		run_argv[nrun++] = kernel;
		if (!plan.has_initrd) {
			run_argv[nrun++] = "--initrd";
			run_argv[nrun++] = initrd;
		}
		jail_plan_free(&plan);
		err = jail_plan_make(nrun, run_argv, &plan, why, sizeof(why));
		if (err) {
			pr_err("volt jail: %s", why);
			goto out;
		}
	}
	err = jail_run(&o, &plan, config_text);
out:
	free(config_text);
	jail_plan_free(&plan);
	free(run_argv);
	return err;
}
