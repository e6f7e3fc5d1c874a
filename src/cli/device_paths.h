/* The host paths inside device configuration: in option values
 * (`--drive path=FILE,ro`, `--vsock cid=3,uds=PATH`) and in a configuration
 * file's device sections. The two seams through which the jailer rewrites
 * them: the device table (issue #12 item 1) replaces the bodies of
 * cli_device_spec_paths() and cli_config_device_paths() with loops over its
 * kinds' path fields; nothing else names a device's path keys. */
#ifndef VOLT_CLI_DEVICE_PATHS_H
#define VOLT_CLI_DEVICE_PATHS_H

#include "cli/opt.h"

#include <jansson.h>

/* A cli_spec_paths_fn: opt is the option's name ("drive"); fn gets each host
 * path of val with its kind (a read-only drive CLI_PATH_IN, a writable one
 * CLI_PATH_INOUT, a vsock socket CLI_PATH_SOCK); *out is val with those
 * paths replaced. A value the device refuses fails with
 * "--<opt> '<val>': <reason>" in why. */
int cli_device_spec_paths(const char *opt, const char *val, cli_path_fn fn, void *ctx, char **out,
			  char *why, size_t why_size);

/* obj's key, when a string (absent or null: left alone), replaced by what
 * fn makes of it. */
int cli_json_rewrite_path(json_t *obj, const char *key, enum cli_path kind, cli_path_fn fn,
			  void *ctx, char *why, size_t why_size);

/* The same for a Firecracker configuration document: each device's host
 * path (drives' path_on_host, CLI_PATH_IN when is_read_only, else
 * CLI_PATH_INOUT; vsock uds_path, CLI_PATH_SOCK) goes through fn and is
 * replaced by what it returns. The document was validated before. */
int cli_config_device_paths(json_t *root, cli_path_fn fn, void *ctx, char *why, size_t why_size);

#endif
