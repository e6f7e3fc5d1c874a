/* The jailer's planning: what goes into the jail and the arguments the VMM
 * gets there. Pure logic over the front-ends' option tables (cli/opt.h):
 * an option's table entry says whether it takes a value and which host
 * files it names, so no option is listed here. Unit-tested without root.
 * The plan (struct jail_plan, sandbox/jail.h) is carried out by
 * jail_run(). Functions return 0 or -errno with a one-line reason in why. */
#ifndef VOLT_CLI_JAIL_PLAN_H
#define VOLT_CLI_JAIL_PLAN_H

#include "cli/api_opts.h"
#include "sandbox/jail.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The API socket in the jail when the arguments name none. */
#define JAIL_DEFAULT_API_SOCK API_DEFAULT_SOCK

/* Rewrites the `volt run` arguments (an optional leading "run" is dropped) so
 * that every host file run_opts[] says an option names (--kernel, --initrd,
 * --drive path=, --vsock uds=) names a file in the jail's root, and lists
 * the files to put there. Other arguments pass as they are. */
int jail_plan_make(int argc, char **argv, struct jail_plan *p, char *why, size_t why_size);

/* True when the arguments after `--` are the API front end's (`volt
 * --api-sock PATH`...): they start with --api-sock, --config-file, --no-api
 * or --id. */
bool jail_args_are_api(int argc, char **argv);
/* API mode: like Firecracker's jailer, the sockets and files the VMM creates
 * (api_opts[]: --api-sock, --log-path, --metrics-path) are paths in the
 * jail ("/run/api.sock" is <root>/run/api.sock outside; a relative path is
 * taken from the root; no ".."); the socket defaults to
 * JAIL_DEFAULT_API_SOCK unless --no-api. The configuration file
 * (--config-file) becomes "/" JAIL_CONFIG_NAME, and id, when not NULL, is
 * passed as --id unless the arguments hold one. */
int jail_api_plan_make(int argc, char **argv, const char *id, struct jail_plan *p, char *why,
		       size_t why_size);
/* A Firecracker configuration document: every file it names (boot-source
 * kernel_image_path and initrd_path, drives' path_on_host, logger log_path,
 * metrics metrics_path) joins p's files and becomes its jail path, vsock
 * uds_path becomes a name in the root. Other fields are left as they are;
 * the document should have been validated (api_config_from_json) first. */
int jail_config_rewrite(json_t *root, struct jail_plan *p, char *why, size_t why_size);

#endif
