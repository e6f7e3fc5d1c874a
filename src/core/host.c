#include "core/host.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool host_is_pvm(void)
{
	const char *force = getenv("VOLT_HOST");

	if (force && !strcmp(force, "pvm"))
		return true;
	if (force && !strcmp(force, "vt"))
		return false;
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}
