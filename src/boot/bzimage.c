/* bzImage loader for the 64-bit Linux boot protocol (Documentation/x86/boot.rst):
 * the real-mode setup code is skipped, the protected-mode kernel after it is
 * loaded at pref_address (or 1 MiB) and entered at its 64-bit entry, load
 * address + 0x200. Needs protocol 2.12+ with XLF_KERNEL_64. The setup header
 * is kept for the zero page. Every field read from the image is checked first;
 * nothing is written to guest memory or *k unless the whole image is accepted. */
#include "boot/boot.h"

#include "arch/x86/layout.h"
#include "util/why.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define BZ_HDR_OFFSET	0x1f1
#define BZ_FLAG_OFFSET	0x1fe
#define BZ_JUMP_OFFSET	0x200
#define BZ_MAGIC_OFFSET 0x202
#define BZ_BOOT_FLAG	0xAA55
#define BZ_HDRS		0x53726448 /* "HdrS" */
#define BZ_MIN_VERSION	0x020c	   /* 2.12: xloadflags, pref_address, init_size */
#define BZ_ENTRY64	0x200	   /* startup_64 past the 32-bit entry */
#define BZ_HDR_END	(BZ_HDR_OFFSET + sizeof(struct setup_header))
/* The 2.12 header ends after handover_offset; kernel_info_offset came in 2.15. */
#define BZ_HDR_END_2_12 (BZ_HDR_OFFSET + offsetof(struct setup_header, kernel_info_offset))

static int check_header(const uint8_t *p, size_t size, struct setup_header *h, char *why,
			size_t why_size)
{
	uint16_t flag;
	uint32_t magic;
	size_t hdr_end;

	if (size < BZ_FLAG_OFFSET + 2)
		return why_fail(why, why_size, -ENOEXEC,
				"file is %zu bytes, too small for a boot sector", size);
	memcpy(&flag, p + BZ_FLAG_OFFSET, sizeof(flag));
	if (flag != BZ_BOOT_FLAG)
		return why_fail(why, why_size, -ENOEXEC, "boot_flag %#x at 0x1fe, expected 0xaa55",
				flag);
	if (size < BZ_MAGIC_OFFSET + 4)
		return why_fail(why, why_size, -ENOEXEC,
				"file is %zu bytes, too small for the \"HdrS\" header", size);
	memcpy(&magic, p + BZ_MAGIC_OFFSET, sizeof(magic));
	if (magic != BZ_HDRS)
		return why_fail(why, why_size, -ENOEXEC, "header %#x at 0x202 is not \"HdrS\"",
				magic);
	if (size < BZ_HDR_END)
		return why_fail(why, why_size, -ENOEXEC,
				"file is %zu bytes, too small for the setup header (%#zx)", size,
				(size_t)BZ_HDR_END);
	memcpy(h, p + BZ_HDR_OFFSET, sizeof(*h));
	if (h->version < BZ_MIN_VERSION)
		return why_fail(why, why_size, -ENOEXEC,
				"boot protocol version %u.%02u (%#x), need 2.12 or later",
				h->version >> 8, h->version & 0xff, h->version);
	if (!(h->loadflags & LOADED_HIGH))
		return why_fail(why, why_size, -ENOEXEC,
				"loadflags %#x lack LOADED_HIGH: a zImage, not a bzImage",
				h->loadflags);
	if (!(h->xloadflags & XLF_KERNEL_64))
		return why_fail(why, why_size, -ENOEXEC,
				"xloadflags %#x lack XLF_KERNEL_64: no 64-bit entry point",
				h->xloadflags);
	/* boot.rst: the header ends at 0x202 + the jump's displacement byte. */
	hdr_end = BZ_MAGIC_OFFSET + (size_t)p[BZ_JUMP_OFFSET + 1];
	if (hdr_end < BZ_HDR_END_2_12)
		return why_fail(why, why_size, -ENOEXEC,
				"jump %#x at 0x200 ends the setup header at %#zx, before its 2.12 "
				"fields end (%#zx)",
				h->jump, hdr_end, (size_t)BZ_HDR_END_2_12);
	return 0;
}

int bzimage_load(struct guest_mem *m, const void *image, size_t size, struct boot_kernel *k,
		 char *why, size_t why_size)
{
	const uint8_t *p = image;
	struct setup_header h, copy;
	uint64_t setup_size, payload, room, load, pref;
	size_t hdr_len;
	unsigned int sects;
	int err;

	if (!image)
		return why_fail(why, why_size, -EINVAL, "no image");
	/* check_header fills h only as far as it got; gcc cannot see that
	 * every error return is non-zero. */
	memset(&h, 0, sizeof(h));
	err = check_header(p, size, &h, why, why_size);
	if (err)
		return err;

	sects = h.setup_sects ? h.setup_sects : 4; /* 0 means 4, for ancient images */
	setup_size = ((uint64_t)sects + 1) * 512;
	if (setup_size >= size)
		return why_fail(why, why_size, -ENOEXEC,
				"setup_sects %u: %#llx bytes of setup leave no kernel in %zu bytes",
				h.setup_sects, (unsigned long long)setup_size, size);
	payload = size - setup_size;
	/* The kernel decompresses in place: it needs init_size bytes from where it sits. */
	room = h.init_size > payload ? h.init_size : payload;

	pref = h.pref_address;
	if (pref >= LAYOUT_KERNEL_MIN && gpa_to_hva(m, pref, room)) {
		load = pref;
	} else if (!h.relocatable_kernel) {
		/* It would move itself to pref_address whatever we do. */
		return why_fail(why, why_size, -ENOMEM,
				"non-relocatable kernel needs pref_address %#llx + init_size %#x "
				"(%#llx bytes) in guest RAM",
				(unsigned long long)pref, h.init_size, (unsigned long long)room);
	} else if (gpa_to_hva(m, LAYOUT_KERNEL_MIN, room)) {
		load = LAYOUT_KERNEL_MIN;
	} else {
		return why_fail(why, why_size, -ENOMEM,
				"kernel needs %#llx bytes (init_size %#x, payload %#llx) at "
				"pref_address %#llx or 1 MiB; guest RAM is %llu MiB",
				(unsigned long long)room, h.init_size, (unsigned long long)payload,
				(unsigned long long)pref, (unsigned long long)(m->size >> 20));
	}

	/* Only what the image declares as header is copied; the rest stays 0
	 * rather than picking up setup code. */
	hdr_len = BZ_MAGIC_OFFSET + (size_t)p[BZ_JUMP_OFFSET + 1] - BZ_HDR_OFFSET;
	if (hdr_len > sizeof(copy))
		hdr_len = sizeof(copy);
	memset(&copy, 0, sizeof(copy));
	memcpy(&copy, p + BZ_HDR_OFFSET, hdr_len);

	memcpy(gpa_to_hva(m, load, payload), p + setup_size, payload);

	memset(k, 0, sizeof(*k));
	k->format = KERNEL_FORMAT_BZIMAGE;
	k->protocol = BOOT_PROTOCOL_LINUX;
	k->entry = load + BZ_ENTRY64;
	k->start = load;
	k->end = load + room;
	k->has_setup_header = true;
	k->setup = copy;
	/* With XLF_CAN_BE_LOADED_ABOVE_4G any address goes; boot_place_initrd
	 * still keeps the initrd in low RAM, below the MMIO hole. */
	k->initrd_addr_max =
		(h.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) ? UINT64_MAX : h.initrd_addr_max;
	return 0;
}
