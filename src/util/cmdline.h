/* A kernel command line: the kernel's parameters, then, after a standalone
 * "--", init's arguments (Linux hands those to init as its argv). What the
 * VMM adds to a user's command line (root=, virtio_mmio.device=, a host's
 * workarounds) are kernel parameters: they go before the "--". */
#ifndef VOLT_UTIL_CMDLINE_H
#define VOLT_UTIL_CMDLINE_H

#include <stddef.h>

/* The offset of init's "--" in cmdline (a "--" word outside double quotes),
 * or strlen(cmdline) when there is none. */
size_t cmdline_init_args_at(const char *cmdline);
/* A boot_args string as Firecracker's Cmdline::try_from (linux-loader)
 * takes it: the kernel's part and init's (after the first " -- " outside
 * double quotes), each trimmed of white space, joined by " -- " when init's
 * is not empty; into out (size bytes, NUL included): 0, or -E2BIG when it
 * does not fit. */
int cmdline_fc_form(const char *raw, char *out, size_t size);
/* Adds the n bytes of param (one or more kernel parameters) to cmdline,
 * before init's arguments: 0, or -E2BIG when it would not fit in size
 * (cmdline unchanged). */
int cmdline_add(char *cmdline, size_t size, const char *param, size_t n);

#endif
