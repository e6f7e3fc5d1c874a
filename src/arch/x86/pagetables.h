/* Boot page tables: identity map of 0-4 GiB and the kernel's high-half map
 * (0xffffffff80000000 + 2 GiB -> 0), all in 2 MiB pages at the fixed
 * addresses of layout.h. The walker is the same lookup the MMU does, for tests
 * and for reading guest instructions when the emulator gives up. */
#ifndef VOLT_ARCH_X86_PAGETABLES_H
#define VOLT_ARCH_X86_PAGETABLES_H

#include <stdint.h>

#include "core/guest_mem.h"

int pagetables_build(struct guest_mem *m);
/* Translates a virtual address through 4-level tables rooted at cr3;
 * 0 and *pa, -EFAULT for a table outside RAM, -ENOENT if not mapped. */
int pagetables_walk(const struct guest_mem *m, uint64_t cr3, uint64_t va, uint64_t *pa);

#endif
