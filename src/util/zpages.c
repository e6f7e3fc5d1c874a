/* Zeroed pages from mmap (util/zpages.h). */
#include "util/zpages.h"

#include <stdlib.h>
#include <sys/mman.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZPAGES_ON_HEAP 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ZPAGES_ON_HEAP 1
#endif

/* LeakSanitizer looks for pointers on the heap, stacks and globals, not in
 * mmap'ed memory: what only a VM held would be reported as leaked by the
 * check a sanitizer build runs before its filters go on (sandbox/sanitizer.c). */
#ifdef ZPAGES_ON_HEAP
void *zpages_alloc(size_t size)
{
	return calloc(1, size);
}

void zpages_free(void *p, size_t size)
{
	(void)size;
	free(p);
}
#else
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
#endif
