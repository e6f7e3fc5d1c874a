#include "core/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

int guest_mem_map(struct guest_mem *m, uint64_t size, uint64_t hole_start, uint64_t hole_end)
{
	uint64_t low = size < hole_start ? size : hole_start;
	void *p;

	memset(m, 0, sizeof(*m));
	if (!size || (size & 0xfff) || (hole_start & 0xfff) || hole_end < hole_start ||
	    size - low > UINT64_MAX - hole_end)
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Guest RAM never belongs in a core dump of the VMM. */
	madvise(p, size, MADV_DONTDUMP);
	m->base = p;
	m->size = size;
	m->regions[0] = (struct guest_mem_region){ .gpa = 0, .size = low, .hva = m->base };
	m->nregions = 1;
	if (size > low) {
		m->regions[1] = (struct guest_mem_region){ .gpa = hole_end,
							   .size = size - low,
							   .hva = m->base + low };
		m->nregions = 2;
	}
	return 0;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->base)
		munmap(m->base, m->size);
	memset(m, 0, sizeof(*m));
}

void *gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	int i;

	for (i = 0; i < m->nregions; i++) {
		const struct guest_mem_region *r = &m->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t guest_mem_low_end(const struct guest_mem *m)
{
	return m->regions[0].size;
}

uint64_t guest_mem_end(const struct guest_mem *m)
{
	const struct guest_mem_region *r = &m->regions[m->nregions - 1];

	return r->gpa + r->size;
}

int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gpa_to_hva(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gpa_to_hva(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}
