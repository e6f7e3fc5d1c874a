/* placeholder: being written */
#include "arch/x86/cpuid.h"

#include <errno.h>

int cpuid_cmd(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return -ENOSYS;
}
