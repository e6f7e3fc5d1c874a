/* Kconfig fragments: parsing them and checking that a merged .config kept
 * every value a fragment asked for (olddefconfig silently drops options
 * whose dependencies are missing). */
#ifndef VOLT_KERNEL_KCONFIG_H
#define VOLT_KERNEL_KCONFIG_H

#include <stddef.h>

struct kconfig_opt {
	char name[96];
	char value[160]; /* "n" for "# CONFIG_X is not set" */
};

/* Returns the number of options, or -EINVAL with the 1-based line in *bad_line,
 * or -E2BIG when there are more than max. */
int kconfig_parse(const char *text, struct kconfig_opt *opts, int max, int *bad_line);
/* Value of name in a .config text; "n" when unset or absent. */
void kconfig_lookup(const char *config, const char *name, char *val, size_t size);
/* Number of fragment options whose value config does not have (names listed
 * in missing, space separated), or -EINVAL for a malformed fragment. */
int kconfig_verify(const char *fragment, const char *config, char *missing, size_t size);
/* The same for fragment merged with overlay (NULL: none) after it: an option
 * that overlay sets is checked for overlay's value only. */
int kconfig_verify_merged(const char *fragment, const char *overlay, const char *config,
			  char *missing, size_t size);

#endif
