/* The guest kit's files (kernel/guest_kit.h). */
#include "kernel/guest_kit.h"

#include "kernel/kernel.h"
#include "kernel/rootfs.h"
#include "util/cmdline.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The spec (some 140 KiB of paths) is the heap's, not the stack's: this runs
 * in the process that goes on to be the VMM, where stack pages once touched
 * stay resident for its whole life (issue #15's VMM overhead), while an
 * allocation this large is an mmap that free() gives back. */
int guest_kit_paths(bool build, char *kernel, size_t ksize, char *initrd, size_t isize)
{
	struct kernel_build_opts bo = { 0 };
	struct rootfs_opts ro = { .format = rootfs_default_format() };
	struct kernel_spec *spec = malloc(sizeof(*spec));
	struct kernel_entry e;
	int err;

	if (!spec)
		return -ENOMEM;
	err = kernel_spec_resolve(spec, NULL, NULL, NULL, false);
	if (err)
		goto out;
	err = kernel_find(spec, &e);
	if (err && build) {
		fprintf(stderr, "[volt] building the guest kit's kernel first (once)\n");
		kernel_spec_free(spec);
		err = kernel_spec_resolve(spec, NULL, NULL, NULL, true);
		if (!err)
			err = kernel_build(spec, &bo, &e);
	} else if (err == -EUCLEAN) {
		pr_err("no --kernel, and the guest kit's cached kernel %s is damaged (%s): run "
		       "'volt kernel build' to build it again",
		       e.dir, e.damage);
	} else if (err) {
		pr_err("no --kernel, and the guest kit's kernel is not built: run "
		       "'volt kernel build' first");
	}
	kernel_spec_free(spec);
out:
	free(spec);
	if (err)
		return err;
	if (kernel_entry_path(&e, "vmlinux", kernel, ksize))
		return -ENAMETOOLONG;
	return initrd ? rootfs_get(&ro, initrd, isize) : 0;
}

/* Whether cmdline has a word that sets param (its text up to '=', or the
 * whole word for a flag). */
static bool sets_param(const char *cmdline, const char *param, size_t plen)
{
	const char *p = cmdline;

	while (*p) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n >= plen && !strncmp(p, param, plen) && (n == plen || p[plen] == '='))
			return true;
		p += n;
	}
	return false;
}

static int append_missing(char *cmdline, size_t size, const char *params)
{
	const char *w = params;

	while (*w) {
		size_t n = strcspn(w, " "), plen = strcspn(w, " =");

		if (plen > n)
			plen = n;
		/* Kernel parameters: before init's arguments, if any. */
		if (!sets_param(cmdline, w, plen) && cmdline_add(cmdline, size, w, n))
			return -E2BIG;
		w += n;
		while (*w == ' ')
			w++;
	}
	return 0;
}

int guest_kit_cmdline_append(char *cmdline, size_t size, bool pvm_host)
{
	int err = append_missing(cmdline, size, GUEST_KIT_CMDLINE);

	if (!err && pvm_host)
		err = append_missing(cmdline, size, GUEST_KIT_PVM_CMDLINE);
	return err;
}
