/* The guest kit's files (kernel/guest_kit.h). */
#include "kernel/guest_kit.h"

#include "kernel/kernel.h"
#include "kernel/rootfs.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>

int guest_kit_paths(bool build, char *kernel, size_t ksize, char *initrd, size_t isize)
{
	struct kernel_build_opts bo = { 0 };
	struct rootfs_opts ro = { .format = rootfs_default_format() };
	struct kernel_spec spec;
	struct kernel_entry e;
	int err;

	err = kernel_spec_resolve(&spec, NULL, NULL, NULL, false);
	if (err)
		return err;
	err = kernel_find(&spec, &e);
	if (err && build) {
		fprintf(stderr, "[volt] building the guest kit's kernel first (once)\n");
		kernel_spec_free(&spec);
		err = kernel_spec_resolve(&spec, NULL, NULL, NULL, true);
		if (!err)
			err = kernel_build(&spec, &bo, &e);
	} else if (err) {
		pr_err("no --kernel, and the guest kit's kernel is not built: run "
		       "'volt kernel build' first");
	}
	kernel_spec_free(&spec);
	if (err)
		return err;
	if (kernel_entry_path(&e, "vmlinux", kernel, ksize))
		return -ENAMETOOLONG;
	return initrd ? rootfs_get(&ro, initrd, isize) : 0;
}
