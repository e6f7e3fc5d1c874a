/* The boot GDT at LAYOUT_GDT and the KVM segment registers built from it. */
#ifndef VOLT_ARCH_X86_GDT_H
#define VOLT_ARCH_X86_GDT_H

#include <linux/kvm.h>
#include <stdint.h>

#include "core/guest_mem.h"

enum gdt_index { GDT_NULL, GDT_CODE64, GDT_DATA, GDT_TSS, GDT_CODE32, GDT_ENTRIES };

#define GDT_SELECTOR(i) ((uint16_t)((i)*8))

extern const uint64_t gdt_table[GDT_ENTRIES];

int gdt_write(struct guest_mem *m);
/* Decodes descriptor gdt_table[i] into what KVM_SET_SREGS takes. */
struct kvm_segment gdt_segment(enum gdt_index i);

#endif
