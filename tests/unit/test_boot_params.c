/* What the guest reads at boot (src/boot): initrd placement, the command line,
 * the e820 map, the Linux zero page and the PVH start_info, for guests from
 * 128 MiB to 16 GiB (all RAM below the MMIO hole, and RAM above 4 GiB). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "boot/pvh.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define PAGE 0x1000ULL

static struct guest_mem mem;

static void mem_init(uint64_t size)
{
	cr_assert_eq(layout_guest_mem_init(&mem, size), 0);
}

/* What elf_load leaves for a vmlinux at 16 MiB. */
static struct boot_kernel elf_kernel(uint64_t end)
{
	struct boot_kernel k = { 0 };

	k.format = KERNEL_FORMAT_ELF;
	k.protocol = BOOT_PROTOCOL_LINUX;
	k.entry = 0x1000000;
	k.start = 0x1000000;
	k.end = end;
	k.initrd_addr_max = 0x7fffffff;
	return k;
}

/* A minimal bzImage (protocol 2.15, relocatable) for bzimage_load. */
static uint8_t *build_bz(size_t *size)
{
	const size_t setup = 5 * 512, payload = 0x1000;
	uint8_t *buf = calloc(1, setup + payload);
	struct setup_header *h = (struct setup_header *)(buf + 0x1f1);

	cr_assert(buf);
	h->setup_sects = 4;
	h->syssize = payload / 16;
	h->boot_flag = 0xAA55;
	h->jump = 0xEB | ((0x1f1 + sizeof(*h) - 0x202) << 8);
	h->header = 0x53726448;
	h->version = 0x020f;
	h->kernel_version = 0x1234;
	h->loadflags = LOADED_HIGH;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 2047;
	h->setup_data = 0x12345678; /* an image cannot hand the kernel a pointer */
	h->pref_address = 0x1000000;
	h->init_size = 0x800000;
	h->handover_offset = 0x190;
	memset(buf + setup, 0xc3, payload);
	*size = setup + payload;
	return buf;
}

static struct boot_params read_zero_page(void)
{
	struct boot_params bp;

	cr_assert_eq(guest_read(&mem, LAYOUT_ZERO_PAGE, &bp, sizeof(bp)), 0);
	return bp;
}

/* ---- initrd ---- */

static void check_initrd(uint64_t ram, uint64_t max, uint64_t size, uint64_t want_top)
{
	struct boot_kernel k = elf_kernel(0x1c18000);
	uint64_t gpa = 0;

	mem_init(ram);
	k.initrd_addr_max = max;
	cr_assert_eq(boot_place_initrd(&mem, &k, size, &gpa), 0);
	cr_assert_eq(gpa % PAGE, 0, "%#llx not page aligned", (unsigned long long)gpa);
	cr_assert_leq(gpa + size, want_top);
	cr_assert_gt(gpa + size + PAGE, want_top, "not as high as possible: %#llx",
		     (unsigned long long)gpa);
	cr_assert_leq(gpa + size - 1, max);
	cr_assert_geq(gpa, k.end);
	cr_assert(gpa_to_hva(&mem, gpa, size));
	guest_mem_free(&mem);
}

Test(initrd, top_of_low_ram)
{
	const uint64_t size = 10 * MiB + 123;

	check_initrd(128 * MiB, 0x7fffffff, size, 128 * MiB);
	check_initrd(1 * GiB, 0x7fffffff, size, 1 * GiB);
	check_initrd(1 * GiB, UINT64_MAX, size, 1 * GiB);
	/* initrd_addr_max 2 GiB - 1 caps 4 and 16 GiB guests below 2 GiB... */
	check_initrd(4 * GiB, 0x7fffffff, size, 2 * GiB);
	check_initrd(16 * GiB, 0x7fffffff, size, 2 * GiB);
	/* ...and without a cap the initrd still stays below the MMIO hole. */
	check_initrd(4 * GiB, UINT64_MAX, size, 3 * GiB);
	check_initrd(16 * GiB, UINT64_MAX, size, 3 * GiB);
	check_initrd(16 * GiB, 0xffffffff, size, 3 * GiB);
}

Test(initrd, unaligned_initrd_addr_max)
{
	/* A page-aligned start must not push the last byte past initrd_addr_max. */
	check_initrd(1 * GiB, 0x37ffffff - 0x800, 0x1000, 0x37fff800);
	check_initrd(1 * GiB, 0x37ffffff - 0x800, 0x1801, 0x37fff800);
}

Test(initrd, page_sized_and_exact_fits)
{
	struct boot_kernel k = elf_kernel(0x2000000);
	uint64_t gpa;

	mem_init(128 * MiB);
	cr_assert_eq(boot_place_initrd(&mem, &k, 1, &gpa), 0);
	cr_assert_eq(gpa, 128 * MiB - PAGE);
	cr_assert_eq(boot_place_initrd(&mem, &k, PAGE, &gpa), 0);
	cr_assert_eq(gpa, 128 * MiB - PAGE);
	cr_assert_eq(boot_place_initrd(&mem, &k, 128 * MiB - 0x2000000, &gpa), 0);
	cr_assert_eq(gpa, 0x2000000, "exactly the room above the kernel");
	guest_mem_free(&mem);
}

Test(initrd, never_over_the_kernel)
{
	struct boot_kernel k = elf_kernel(0x2000001); /* bss ends mid-page */
	uint64_t gpa = 0;

	mem_init(128 * MiB);
	cr_assert_eq(boot_place_initrd(&mem, &k, 128 * MiB - 0x2001000, &gpa), 0);
	cr_assert_eq(gpa, 0x2001000);
	cr_assert_eq(boot_place_initrd(&mem, &k, 128 * MiB - 0x2001000 + 1, &gpa), -ENOMEM);
	/* The kernel at the very top of low RAM leaves no room above it. */
	k.start = 100 * MiB;
	k.end = 128 * MiB;
	cr_assert_eq(boot_place_initrd(&mem, &k, 1, &gpa), -ENOMEM);
	k.end = UINT64_MAX;
	cr_assert_eq(boot_place_initrd(&mem, &k, 1, &gpa), -ENOMEM);
	guest_mem_free(&mem);
}

Test(initrd, never_below_1mib)
{
	struct boot_kernel k = elf_kernel(0);
	uint64_t gpa;

	/* Even with no kernel end to stay above, the boot structures are off limits. */
	k.start = 0;
	mem_init(128 * MiB);
	cr_assert_eq(boot_place_initrd(&mem, &k, 127 * MiB, &gpa), 0);
	cr_assert_eq(gpa, 1 * MiB);
	cr_assert_eq(boot_place_initrd(&mem, &k, 127 * MiB + 1, &gpa), -ENOMEM);
	guest_mem_free(&mem);
}

Test(initrd, too_big_or_empty)
{
	struct boot_kernel k = elf_kernel(0x1c18000);
	uint64_t gpa = 42;

	mem_init(128 * MiB);
	cr_assert_eq(boot_place_initrd(&mem, &k, 0, &gpa), -EINVAL);
	cr_assert_eq(boot_place_initrd(&mem, &k, 128 * MiB, &gpa), -ENOMEM);
	cr_assert_eq(boot_place_initrd(&mem, &k, 200 * MiB, &gpa), -ENOMEM);
	cr_assert_eq(boot_place_initrd(&mem, &k, UINT64_MAX, &gpa), -ENOMEM);
	cr_assert_eq(gpa, 42, "*gpa untouched on error");
	guest_mem_free(&mem);

	/* 3 GiB of initrd does not fit in a 16 GiB guest: it must stay in low RAM. */
	mem_init(16 * GiB);
	k.initrd_addr_max = UINT64_MAX;
	cr_assert_eq(boot_place_initrd(&mem, &k, 3 * GiB, &gpa), -ENOMEM);
	cr_assert_eq(boot_place_initrd(&mem, &k, 2 * GiB, &gpa), 0);
	cr_assert_eq(gpa, 1 * GiB);
	guest_mem_free(&mem);
}

Test(initrd, bzimage_kernel)
{
	size_t size;
	uint8_t *bz = build_bz(&size);
	struct boot_kernel k;
	char why[256];
	uint64_t gpa;

	mem_init(16 * GiB);
	cr_assert_eq(boot_load_kernel(&mem, bz, size, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(boot_place_initrd(&mem, &k, 64 * MiB, &gpa), 0);
	cr_assert_eq(gpa, 3 * GiB - 64 * MiB);
	free(bz);
	guest_mem_free(&mem);
}

/* ---- command line ---- */

Test(cmdline, written_nul_terminated)
{
	const char *s = "console=ttyS0 root=/dev/vda";
	const char *p;

	mem_init(128 * MiB);
	memset(gpa_to_hva(&mem, LAYOUT_CMDLINE, LAYOUT_CMDLINE_MAX), 'x', LAYOUT_CMDLINE_MAX);
	cr_assert_eq(boot_write_cmdline(&mem, s), 0);
	p = gpa_to_hva(&mem, LAYOUT_CMDLINE, LAYOUT_CMDLINE_MAX);
	cr_assert_str_eq(p, s);
	cr_assert_eq(boot_write_cmdline(&mem, ""), 0);
	cr_assert_eq(p[0], '\0');
	guest_mem_free(&mem);
}

Test(cmdline, length_limit)
{
	char *s = malloc(LAYOUT_CMDLINE_MAX + 2);
	const char *p;

	mem_init(128 * MiB);
	p = gpa_to_hva(&mem, LAYOUT_CMDLINE, LAYOUT_CMDLINE_MAX + 1);
	/* 2047 characters and the NUL: exactly COMMAND_LINE_SIZE */
	memset(s, 'a', LAYOUT_CMDLINE_MAX - 1);
	s[LAYOUT_CMDLINE_MAX - 1] = '\0';
	cr_assert_eq(boot_write_cmdline(&mem, s), 0);
	cr_assert_eq(p[LAYOUT_CMDLINE_MAX - 2], 'a');
	cr_assert_eq(p[LAYOUT_CMDLINE_MAX - 1], '\0');
	cr_assert_eq(p[LAYOUT_CMDLINE_MAX], '\0', "nothing past the limit");
	/* One more is refused, and nothing is written. */
	memset(s, 'b', LAYOUT_CMDLINE_MAX);
	s[LAYOUT_CMDLINE_MAX] = '\0';
	cr_assert_eq(boot_write_cmdline(&mem, s), -E2BIG);
	cr_assert_eq(p[0], 'a');
	s[LAYOUT_CMDLINE_MAX] = 'b';
	s[LAYOUT_CMDLINE_MAX + 1] = '\0';
	cr_assert_eq(boot_write_cmdline(&mem, s), -E2BIG);
	free(s);
	guest_mem_free(&mem);
}

/* ---- e820 ---- */

static void check_entry(const struct boot_e820_entry *e, uint64_t addr, uint64_t size)
{
	cr_assert_eq(e->addr, addr, "addr %#llx, expected %#llx", (unsigned long long)e->addr,
		     (unsigned long long)addr);
	cr_assert_eq(e->size, size, "size %#llx, expected %#llx", (unsigned long long)e->size,
		     (unsigned long long)size);
	cr_assert_eq(e->type, 1, "E820_RAM");
}

Test(e820, ram_below_the_hole)
{
	struct boot_e820_entry e[8];
	const uint64_t sizes[] = { 128 * MiB, 1 * GiB, 3 * GiB };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		mem_init(sizes[i]);
		cr_assert_eq(e820_build(&mem, e, 8), 2);
		check_entry(&e[0], 0, LAYOUT_EBDA_START);
		check_entry(&e[1], LAYOUT_HIMEM_START, sizes[i] - LAYOUT_HIMEM_START);
		guest_mem_free(&mem);
	}
}

Test(e820, ram_above_4g)
{
	struct boot_e820_entry e[8];

	mem_init(4 * GiB);
	cr_assert_eq(e820_build(&mem, e, 8), 3);
	check_entry(&e[0], 0, LAYOUT_EBDA_START);
	check_entry(&e[1], LAYOUT_HIMEM_START, 3 * GiB - LAYOUT_HIMEM_START);
	check_entry(&e[2], 4 * GiB, 1 * GiB);
	guest_mem_free(&mem);

	mem_init(16 * GiB);
	cr_assert_eq(e820_build(&mem, e, 8), 3);
	check_entry(&e[1], LAYOUT_HIMEM_START, 3 * GiB - LAYOUT_HIMEM_START);
	check_entry(&e[2], 4 * GiB, 13 * GiB);
	guest_mem_free(&mem);
}

Test(e820, max_too_small)
{
	struct boot_e820_entry e[3];

	memset(e, 0x77, sizeof(e));
	mem_init(128 * MiB);
	cr_assert_eq(e820_build(&mem, e, 1), -E2BIG);
	cr_assert_eq(e820_build(&mem, e, 0), -E2BIG);
	cr_assert_eq(e[0].addr, 0x7777777777777777ULL, "nothing written");
	cr_assert_eq(e820_build(&mem, e, 2), 2);
	guest_mem_free(&mem);
	mem_init(16 * GiB);
	cr_assert_eq(e820_build(&mem, e, 2), -E2BIG);
	cr_assert_eq(e820_build(&mem, e, 3), 3);
	guest_mem_free(&mem);
}

/* ---- zero page ---- */

static void check_e820_table(const struct boot_params *bp)
{
	struct boot_e820_entry e[E820_MAX_ENTRIES_ZEROPAGE];
	int n = e820_build(&mem, e, E820_MAX_ENTRIES_ZEROPAGE);

	cr_assert_gt(n, 0);
	cr_assert_eq(bp->e820_entries, n);
	cr_assert_eq(memcmp(bp->e820_table, e, (size_t)n * sizeof(e[0])), 0);
	cr_assert_eq(bp->e820_table[n].addr, 0);
	cr_assert_eq(bp->e820_table[n].size, 0);
}

/* Every byte outside hdr, the ext_* fields and the e820 table is 0. */
static void check_rest_zero(const struct boot_params *bp)
{
	struct boot_params z = *bp;

	memset(&z.hdr, 0, sizeof(z.hdr));
	memset(z.e820_table, 0, sizeof(z.e820_table));
	z.e820_entries = 0;
	z.ext_ramdisk_image = 0;
	z.ext_ramdisk_size = 0;
	cr_assert_eq(memcmp(&z, &(struct boot_params){ 0 }, sizeof(z)), 0);
	cr_assert_eq(bp->sentinel, 0);
	cr_assert_eq(bp->ext_cmd_line_ptr, 0);
}

Test(zero_page, elf_kernel)
{
	struct boot_kernel k = elf_kernel(0x1c18000);
	struct boot_params bp;

	mem_init(128 * MiB);
	memset(gpa_to_hva(&mem, LAYOUT_ZERO_PAGE, PAGE), 0xcc, PAGE);
	cr_assert_eq(boot_write_zero_page(&mem, &k, 42, 100 * MiB, 5 * MiB + 3), 0);
	bp = read_zero_page();
	cr_assert_eq(bp.hdr.type_of_loader, 0xff);
	cr_assert_eq(bp.hdr.boot_flag, 0xAA55);
	cr_assert_eq(bp.hdr.header, 0x53726448);
	cr_assert_geq(bp.hdr.version, 0x020c);
	cr_assert(bp.hdr.loadflags & LOADED_HIGH);
	cr_assert_eq(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	cr_assert_eq(bp.hdr.cmdline_size, 42);
	cr_assert_eq(bp.hdr.kernel_alignment, 0x1000000);
	cr_assert_eq(bp.hdr.ramdisk_image, 100 * MiB);
	cr_assert_eq(bp.hdr.ramdisk_size, 5 * MiB + 3);
	cr_assert_eq(bp.ext_ramdisk_image, 0);
	cr_assert_eq(bp.ext_ramdisk_size, 0);
	cr_assert_eq(bp.hdr.setup_sects, 0);
	cr_assert_eq(bp.hdr.setup_data, 0);
	cr_assert_eq(bp.hdr.hardware_subarch, X86_SUBARCH_PC);
	check_e820_table(&bp);
	check_rest_zero(&bp);
	guest_mem_free(&mem);
}

Test(zero_page, no_initrd)
{
	struct boot_kernel k = elf_kernel(0x1c18000);
	struct boot_params bp;

	mem_init(128 * MiB);
	cr_assert_eq(boot_write_zero_page(&mem, &k, 0, 0, 0), 0);
	bp = read_zero_page();
	cr_assert_eq(bp.hdr.ramdisk_image, 0);
	cr_assert_eq(bp.hdr.ramdisk_size, 0);
	cr_assert_eq(bp.hdr.cmdline_size, 0);
	guest_mem_free(&mem);
}

Test(zero_page, bzimage_setup_header)
{
	size_t size;
	uint8_t *bz = build_bz(&size);
	const struct setup_header *img = (const struct setup_header *)(bz + 0x1f1);
	struct boot_kernel k;
	struct boot_params bp;
	char why[256];

	mem_init(16 * GiB);
	cr_assert_eq(boot_load_kernel(&mem, bz, size, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(boot_write_zero_page(&mem, &k, 100, 3 * GiB - 64 * MiB, 64 * MiB), 0);
	bp = read_zero_page();
	/* The image's own fields survive... */
	cr_assert_eq(bp.hdr.setup_sects, 4);
	cr_assert_eq(bp.hdr.syssize, img->syssize);
	cr_assert_eq(bp.hdr.jump, img->jump);
	cr_assert_eq(bp.hdr.version, 0x020f);
	cr_assert_eq(bp.hdr.kernel_version, 0x1234);
	cr_assert_eq(bp.hdr.code32_start, 0x100000);
	cr_assert_eq(bp.hdr.initrd_addr_max, 0x7fffffff);
	cr_assert_eq(bp.hdr.kernel_alignment, 0x200000);
	cr_assert_eq(bp.hdr.relocatable_kernel, 1);
	cr_assert_eq(bp.hdr.min_alignment, 21);
	cr_assert_eq(bp.hdr.xloadflags, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	cr_assert_eq(bp.hdr.pref_address, 0x1000000);
	cr_assert_eq(bp.hdr.init_size, 0x800000);
	cr_assert_eq(bp.hdr.handover_offset, 0x190);
	/* ...and the loader's are filled in. */
	cr_assert_eq(bp.hdr.type_of_loader, 0xff);
	cr_assert_eq(bp.hdr.boot_flag, 0xAA55);
	cr_assert_eq(bp.hdr.header, 0x53726448);
	cr_assert_eq(bp.hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	cr_assert_eq(bp.hdr.heap_end_ptr, 0xfe00);
	cr_assert_eq(bp.hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	cr_assert_eq(bp.hdr.cmdline_size, 100);
	cr_assert_eq(bp.hdr.ramdisk_image, 3 * GiB - 64 * MiB);
	cr_assert_eq(bp.hdr.ramdisk_size, 64 * MiB);
	cr_assert_eq(bp.hdr.setup_data, 0, "the image's setup_data pointer is dropped");
	cr_assert_eq(bp.e820_entries, 3);
	check_e820_table(&bp);
	check_rest_zero(&bp);
	free(bz);
	guest_mem_free(&mem);
}

Test(zero_page, initrd_above_4g)
{
	struct boot_kernel k = elf_kernel(0x1c18000);
	struct boot_params bp;
	const uint64_t gpa = 4 * GiB + 0x123000, size = 5 * GiB + 7;

	mem_init(16 * GiB);
	cr_assert_eq(boot_write_zero_page(&mem, &k, 0, gpa, size), 0);
	bp = read_zero_page();
	cr_assert_eq(bp.hdr.ramdisk_image, 0x123000);
	cr_assert_eq(bp.ext_ramdisk_image, 1);
	cr_assert_eq(bp.hdr.ramdisk_size, 1 * GiB + 7);
	cr_assert_eq(bp.ext_ramdisk_size, 1);
	guest_mem_free(&mem);
}

Test(zero_page, rejects_bad_arguments)
{
	struct boot_kernel k = elf_kernel(0x1c18000);

	mem_init(128 * MiB);
	cr_assert_eq(boot_write_zero_page(&mem, &k, LAYOUT_CMDLINE_MAX, 0, 0), -E2BIG);
	cr_assert_eq(boot_write_zero_page(&mem, &k, 0, 127 * MiB, 2 * MiB), -EFAULT);
	cr_assert_eq(boot_write_zero_page(&mem, &k, 0, UINT64_MAX, 2), -EFAULT);
	cr_assert(gpa_to_hva(&mem, LAYOUT_ZERO_PAGE, PAGE));
	cr_assert_eq(((struct boot_params *)gpa_to_hva(&mem, LAYOUT_ZERO_PAGE, PAGE))->hdr.header,
		     0, "nothing written");
	guest_mem_free(&mem);
}

Test(zero_page, leaves_the_command_line_alone)
{
	struct boot_kernel k = elf_kernel(0x1c18000);

	mem_init(128 * MiB);
	cr_assert_eq(boot_write_cmdline(&mem, "quiet"), 0);
	cr_assert_eq(boot_write_zero_page(&mem, &k, 5, 0, 0), 0);
	cr_assert_eq(boot_write_pvh_start_info(&mem, 5, 0, 0), 0);
	cr_assert_str_eq(gpa_to_hva(&mem, LAYOUT_CMDLINE, 6), "quiet");
	guest_mem_free(&mem);
}

/* ---- PVH ---- */

static struct hvm_start_info read_start_info(void)
{
	struct hvm_start_info si;

	cr_assert_eq(guest_read(&mem, LAYOUT_PVH_START_INFO, &si, sizeof(si)), 0);
	return si;
}

static void check_memmap(const struct hvm_start_info *si)
{
	struct boot_e820_entry e[8];
	int i, n = e820_build(&mem, e, 8);

	cr_assert_eq(si->memmap_paddr, LAYOUT_E820);
	cr_assert_eq(si->memmap_entries, (uint32_t)n);
	for (i = 0; i < n; i++) {
		struct hvm_memmap_table_entry m;

		cr_assert_eq(guest_read(&mem, LAYOUT_E820 + (uint64_t)i * sizeof(m), &m, sizeof(m)),
			     0);
		cr_assert_eq(m.addr, e[i].addr);
		cr_assert_eq(m.size, e[i].size);
		cr_assert_eq(m.type, XEN_HVM_MEMMAP_TYPE_RAM);
		cr_assert_eq(m.reserved, 0);
	}
}

Test(pvh, start_info_with_initrd)
{
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;

	mem_init(128 * MiB);
	memset(gpa_to_hva(&mem, LAYOUT_PVH_START_INFO, PAGE), 0xcc, PAGE);
	memset(gpa_to_hva(&mem, LAYOUT_E820, PAGE), 0xcc, PAGE);
	cr_assert_eq(boot_write_pvh_start_info(&mem, 12, 100 * MiB, 5 * MiB + 1), 0);
	si = read_start_info();
	cr_assert_eq(si.magic, 0x336ec578);
	cr_assert_eq(si.version, 1);
	cr_assert_eq(si.flags, 0);
	cr_assert_eq(si.nr_modules, 1);
	cr_assert_eq(si.cmdline_paddr, LAYOUT_CMDLINE);
	cr_assert_eq(si.rsdp_paddr, 0);
	cr_assert_eq(si.reserved, 0);
	/* The module list shares start_info's page, 8-aligned after it. */
	cr_assert_geq(si.modlist_paddr, LAYOUT_PVH_START_INFO + sizeof(si));
	cr_assert_eq(si.modlist_paddr % 8, 0);
	cr_assert_leq(si.modlist_paddr + sizeof(mod), LAYOUT_PVH_START_INFO + PAGE);
	cr_assert_eq(guest_read(&mem, si.modlist_paddr, &mod, sizeof(mod)), 0);
	cr_assert_eq(mod.paddr, 100 * MiB);
	cr_assert_eq(mod.size, 5 * MiB + 1);
	cr_assert_eq(mod.cmdline_paddr, 0);
	cr_assert_eq(mod.reserved, 0);
	check_memmap(&si);
	guest_mem_free(&mem);
}

Test(pvh, start_info_without_initrd)
{
	struct hvm_start_info si;

	mem_init(128 * MiB);
	cr_assert_eq(boot_write_pvh_start_info(&mem, 0, 0, 0), 0);
	si = read_start_info();
	cr_assert_eq(si.magic, 0x336ec578);
	cr_assert_eq(si.nr_modules, 0);
	cr_assert_eq(si.modlist_paddr, 0, "0 means none");
	cr_assert_eq(si.memmap_entries, 2);
	check_memmap(&si);
	guest_mem_free(&mem);
}

Test(pvh, memmap_above_4g)
{
	struct hvm_start_info si;
	struct hvm_memmap_table_entry m;

	mem_init(16 * GiB);
	cr_assert_eq(boot_write_pvh_start_info(&mem, 0, 3 * GiB - 4 * MiB, 4 * MiB), 0);
	si = read_start_info();
	cr_assert_eq(si.memmap_entries, 3);
	check_memmap(&si);
	cr_assert_eq(guest_read(&mem, LAYOUT_E820 + 2 * sizeof(m), &m, sizeof(m)), 0);
	cr_assert_eq(m.addr, 4 * GiB);
	cr_assert_eq(m.size, 13 * GiB);
	guest_mem_free(&mem);
}

Test(pvh, rejects_bad_arguments)
{
	mem_init(128 * MiB);
	cr_assert_eq(boot_write_pvh_start_info(&mem, LAYOUT_CMDLINE_MAX, 0, 0), -E2BIG);
	cr_assert_eq(boot_write_pvh_start_info(&mem, 0, 128 * MiB, 1), -EFAULT);
	cr_assert_eq(read_start_info().magic, 0, "nothing written");
	guest_mem_free(&mem);
}
