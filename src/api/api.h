/* The Firecracker-compatible front end: `volt --api-sock PATH [--id ID]`
 * (HTTP/1.1 on a Unix socket, served by its own thread) and
 * `volt --config-file FILE [--no-api]`. Both build the same struct vm_config
 * as `volt run` and drive the VM through vm.h. */
#ifndef VOLT_API_API_H
#define VOLT_API_API_H

#include <time.h>

/* argv[0] is the first option; returns like run_cmd (exit status > 0, or -errno). */
int api_main(int argc, char **argv, const struct timespec *started);

#endif
