/* Guest RAM: one anonymous MAP_NORESERVE mapping split around an MMIO hole
 * (the architecture names it: arch/x86/layout.h). RAM below the hole is
 * guest-physical [0, low); the rest continues at the hole's end. Every
 * access to guest memory goes through gpa_to_hva(), which checks that the
 * whole range lies inside one RAM region (no wrap-around). */
#ifndef VOLT_CORE_GUEST_MEM_H
#define VOLT_CORE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	uint8_t *base; /* the whole mapping */
	uint64_t size; /* bytes of RAM */
	struct guest_mem_region regions[2];
	int nregions;
};

/* Maps size bytes (a non-zero multiple of 4 KiB) around [hole_start, hole_end). */
int guest_mem_map(struct guest_mem *m, uint64_t size, uint64_t hole_start, uint64_t hole_end);
void guest_mem_free(struct guest_mem *m);
/* Host address of [gpa, gpa + len), or NULL unless all of it is RAM. */
void *gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* End of RAM below the MMIO hole. */
uint64_t guest_mem_low_end(const struct guest_mem *m);
/* One past the highest RAM address. */
uint64_t guest_mem_end(const struct guest_mem *m);
/* Copies into / out of guest memory; -EFAULT unless all of the range is RAM. */
int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);

#endif
