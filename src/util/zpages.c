/* Zeroed pages from mmap (util/zpages.h). */
#include "util/zpages.h"

#include <sys/mman.h>

void *zpages_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void zpages_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}
