/* Front door of the kernel loaders: picks the format by its magic, resolves the
 * boot protocol (and refuses PVH before anything is loaded when the image cannot
 * do it), places the initrd and writes the command line. */
#include "boot/boot.h"

#include "arch/x86/layout.h"
#include "util/why.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#define PAGE_SIZE 0x1000ULL

static bool is_elf(const uint8_t *p, size_t size)
{
	return size >= SELFMAG && !memcmp(p, ELFMAG, SELFMAG);
}

/* Either mark is enough to call it a bzImage, so that a damaged one gets
 * bzimage_load's precise reason rather than "unknown format". */
static bool is_bzimage(const uint8_t *p, size_t size)
{
	return (size >= 0x200 && p[0x1fe] == 0x55 && p[0x1ff] == 0xAA) ||
	       (size >= 0x206 && !memcmp(p + 0x202, "HdrS", 4));
}

int boot_load_kernel(struct guest_mem *m, const void *image, size_t size, enum boot_protocol want,
		     struct boot_kernel *k, char *why, size_t why_size)
{
	struct boot_kernel loaded;
	uint32_t pvh;
	int err;

	if (!image)
		return why_fail(why, why_size, -EINVAL, "no image");
	if (is_elf(image, size)) {
		if (want == BOOT_PROTOCOL_PVH && elf_find_pvh_entry(image, size, &pvh))
			return why_fail(why, why_size, -ENOEXEC,
					"--boot-protocol pvh needs an ELF kernel with a "
					"XEN_ELFNOTE_PHYS32_ENTRY note");
		err = elf_load(m, image, size, &loaded, why, why_size);
	} else if (is_bzimage(image, size)) {
		if (want == BOOT_PROTOCOL_PVH)
			return why_fail(why, why_size, -ENOEXEC,
					"--boot-protocol pvh needs an ELF kernel with a "
					"XEN_ELFNOTE_PHYS32_ENTRY note, not a bzImage");
		err = bzimage_load(m, image, size, &loaded, why, why_size);
	} else {
		return why_fail(why, why_size, -ENOEXEC, "not an ELF vmlinux or a bzImage");
	}
	if (err)
		return err;

	if (want == BOOT_PROTOCOL_PVH) {
		/* A 32-bit entry that is not in the image would run garbage. */
		if (loaded.pvh_entry < loaded.start || loaded.pvh_entry >= loaded.end)
			return why_fail(why, why_size, -ENOEXEC,
					"XEN_ELFNOTE_PHYS32_ENTRY %#x lies outside the loaded "
					"kernel [%#llx, %#llx)",
					loaded.pvh_entry, (unsigned long long)loaded.start,
					(unsigned long long)loaded.end);
		loaded.protocol = BOOT_PROTOCOL_PVH;
		loaded.entry = loaded.pvh_entry;
	} else {
		loaded.protocol = BOOT_PROTOCOL_LINUX;
	}
	*k = loaded;
	return 0;
}

int boot_place_initrd(const struct guest_mem *m, const struct boot_kernel *k, uint64_t size,
		      uint64_t *gpa)
{
	uint64_t top = guest_mem_low_end(m);
	uint64_t floor, addr;

	if (!size)
		return -EINVAL;
	/* initrd_addr_max is the last byte, so the limit is one past it. */
	if (k->initrd_addr_max < top - 1)
		top = k->initrd_addr_max + 1;
	if (k->end > UINT64_MAX - (PAGE_SIZE - 1))
		return -ENOMEM;
	floor = (k->end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	/* Below 1 MiB are volt's own boot structures. */
	if (floor < LAYOUT_HIMEM_START)
		floor = LAYOUT_HIMEM_START;
	if (size > top)
		return -ENOMEM;
	addr = (top - size) & ~(PAGE_SIZE - 1);
	if (addr < floor)
		return -ENOMEM;
	*gpa = addr;
	return 0;
}

int boot_write_cmdline(struct guest_mem *m, const char *cmdline)
{
	size_t len = strnlen(cmdline, LAYOUT_CMDLINE_MAX);

	if (len >= LAYOUT_CMDLINE_MAX)
		return -E2BIG;
	return guest_write(m, LAYOUT_CMDLINE, cmdline, len + 1);
}
