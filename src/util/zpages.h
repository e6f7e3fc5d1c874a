/* Zeroed memory straight from mmap, for the few large structs a start
 * allocates (a VM, its configuration: 74-86 KiB, most of it device slots a
 * small VM leaves empty). calloc serves those from the heap's top chunk and
 * clears every page, a page fault each at every start (issue #15); these
 * pages stay untouched until written. zpages_alloc: NULL (errno set) on
 * failure. zpages_free takes the size that was allocated; NULL is nothing. */
#ifndef VOLT_UTIL_ZPAGES_H
#define VOLT_UTIL_ZPAGES_H

#include <stddef.h>

void *zpages_alloc(size_t size);
void zpages_free(void *p, size_t size);

#endif
