/* Snapshots and restores of a VM (vmm/vm_snapshot.h). */
#include "vmm/vm_snapshot.h"

#include <errno.h>
#include <stdio.h>

int vm_snapshot_create(struct vm *vm, const struct snapshot_create_req *req, char *why,
		       size_t why_size)
{
	(void)vm;
	(void)req;
	snprintf(why, why_size, "snapshots are not implemented yet");
	return -ENOSYS;
}

int vm_restore(struct vm *vm, const struct snapshot_load_req *req, char *why, size_t why_size)
{
	(void)vm;
	(void)req;
	snprintf(why, why_size, "snapshots are not implemented yet");
	return -ENOSYS;
}
