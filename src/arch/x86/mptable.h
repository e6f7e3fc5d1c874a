/* Intel MultiProcessor Specification 1.4 tables at LAYOUT_MPTABLE, which
 * Linux finds by scanning the last KiB of base memory: how a guest without
 * ACPI learns its CPUs, its I/O APIC and the ISA interrupt routing. */
#ifndef VOLT_ARCH_X86_MPTABLE_H
#define VOLT_ARCH_X86_MPTABLE_H

#include "core/guest_mem.h"

#define MPTABLE_MAX_CPUS 32

int mptable_write(struct guest_mem *m, int ncpus);

#endif
