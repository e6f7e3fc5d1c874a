/* Kernel loaders (src/boot): synthetic ELF64 vmlinux images and bzImages built
 * here, every header field pushed out of range, every truncation tried on a
 * buffer of exactly that size (so ASan/valgrind see any over-read), and the
 * guest memory checked to be untouched whenever a load is refused. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "boot/pvh.h"
#include "util/fs.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define KBASE  0x1000000ULL /* where vmlinux's first PT_LOAD goes */
#define KVBASE 0xffffffff81000000ULL

struct img {
	uint8_t *buf;
	size_t size;
};

struct seg {
	uint32_t type;
	uint64_t paddr, vaddr, filesz, memsz, align;
	const void *data; /* NULL: a pattern */
	size_t data_len;  /* bytes of data, the rest of filesz gets the pattern */
};

/* Designated, so that -Wextra does not want every field. */
#define SEG(t, pa, va, fs, ms)                                                           \
	{                                                                                \
		.type = (t), .paddr = (pa), .vaddr = (va), .filesz = (fs), .memsz = (ms) \
	}
#define NOTE_SEG(pa, va, notes, len, al)                                                        \
	{                                                                                       \
		.type = PT_NOTE, .paddr = (pa), .vaddr = (va), .filesz = (len), .memsz = (len), \
		.align = (al), .data = (notes), .data_len = (len)                               \
	}

static struct guest_mem mem;
static char why[256];

static void mem_init(uint64_t size)
{
	cr_assert_eq(layout_guest_mem_init(&mem, size), 0);
	why[0] = '\0';
}

static uint8_t pat(int seg, uint64_t i)
{
	return (uint8_t)(seg * 37 + i * 7 + 1);
}

/* ehdr, program headers, then every segment's bytes back to back: the file's
 * last byte belongs to the last segment, so that every prefix is incomplete. */
static struct img build_elf(const struct seg *s, int n, uint64_t entry)
{
	size_t size = sizeof(Elf64_Ehdr) + (size_t)n * sizeof(Elf64_Phdr), off;
	Elf64_Ehdr eh = { 0 };
	struct img im;
	int i;

	for (i = 0; i < n; i++)
		size += s[i].filesz;
	im.buf = calloc(1, size);
	im.size = size;
	cr_assert(im.buf);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = entry;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (uint16_t)n;
	memcpy(im.buf, &eh, sizeof(eh));
	off = sizeof(eh) + (size_t)n * sizeof(Elf64_Phdr);
	for (i = 0; i < n; i++) {
		Elf64_Phdr ph = { .p_type = s[i].type,
				  .p_flags = PF_R,
				  .p_offset = off,
				  .p_vaddr = s[i].vaddr,
				  .p_paddr = s[i].paddr,
				  .p_filesz = s[i].filesz,
				  .p_memsz = s[i].memsz,
				  .p_align = s[i].align ? s[i].align : 0x1000 };
		uint64_t j;

		memcpy(im.buf + sizeof(eh) + (size_t)i * sizeof(ph), &ph, sizeof(ph));
		for (j = 0; j < s[i].filesz; j++)
			im.buf[off + j] =
				j < s[i].data_len ? ((const uint8_t *)s[i].data)[j] : pat(i, j);
		off += s[i].filesz;
	}
	return im;
}

static Elf64_Ehdr *ehdr(struct img *im)
{
	return (Elf64_Ehdr *)im->buf;
}

static Elf64_Phdr *phdr(struct img *im, int i)
{
	return (Elf64_Phdr *)(im->buf + sizeof(Elf64_Ehdr)) + i;
}

/* One note, name and descriptor padded to 4 as Linux's ELFNOTE() does. */
static size_t put_note(uint8_t *out, const char *name, uint32_t type, const void *desc,
		       uint32_t descsz)
{
	Elf64_Nhdr nh = { .n_namesz = (uint32_t)strlen(name) + 1,
			  .n_descsz = descsz,
			  .n_type = type };
	size_t off = sizeof(nh);

	memcpy(out, &nh, sizeof(nh));
	memcpy(out + off, name, nh.n_namesz);
	off += (nh.n_namesz + 3) & ~3u;
	memcpy(out + off, desc, descsz);
	off += (descsz + 3) & ~3u;
	return off;
}

/* GNU build-id first, then Xen's PHYS32_ENTRY (8 bytes, as x86-64 Linux emits it). */
static size_t linux_notes(uint8_t *out, uint64_t pvh)
{
	static const uint8_t id[20] = { 1, 2, 3 };
	static const uint32_t zero;
	size_t n = 0;

	n += put_note(out + n, "GNU", NT_GNU_BUILD_ID, id, sizeof(id));
	n += put_note(out + n, "Linux", 1, &zero, 4);
	n += put_note(out + n, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &pvh, 8);
	return n;
}

/* Two PT_LOADs like vmlinux's: text, and data with a bss tail. */
static struct img valid_elf(void)
{
	const struct seg s[] = {
		SEG(PT_LOAD, KBASE, KVBASE, 0x300, 0x300),
		SEG(PT_LOAD, KBASE + 0x2000, KVBASE + 0x2000, 0x100, 0x1000),
	};

	return build_elf(s, 2, KBASE);
}

static bool zero(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gpa_to_hva(&mem, gpa, len);
	uint64_t i;

	cr_assert(p);
	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void fill(uint64_t gpa, uint64_t len, uint8_t v)
{
	uint8_t *p = gpa_to_hva(&mem, gpa, len);

	cr_assert(p);
	memset(p, v, len);
}

/* Loading must fail, name `field` in why, and leave the kernel area as it was. */
static void elf_rejects(struct img *im, const char *field)
{
	struct boot_kernel k;

	memset(&k, 0x5a, sizeof(k));
	why[0] = '\0';
	cr_assert_neq(elf_load(&mem, im->buf, im->size, &k, why, sizeof(why)), 0);
	cr_assert(strstr(why, field), "why \"%s\" does not name %s", why, field);
	cr_assert(zero(KBASE, 0x4000), "a refused image was partly written");
	cr_assert_eq(k.entry, 0x5a5a5a5a5a5a5a5aULL, "a refused image changed *k");
}

Test(elf, loads_segments_bss_entry)
{
	struct img im = valid_elf();
	struct boot_kernel k;
	const uint8_t *p;
	uint64_t i;

	mem_init(128 * MiB);
	/* bss must be zeroed even over old contents. */
	fill(KBASE, 0x4000, 0xcc);
	cr_assert_eq(elf_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.format, KERNEL_FORMAT_ELF);
	cr_assert_eq(k.protocol, BOOT_PROTOCOL_LINUX);
	cr_assert_eq(k.entry, KBASE);
	cr_assert_eq(k.start, KBASE);
	cr_assert_eq(k.end, KBASE + 0x3000);
	cr_assert_not(k.has_setup_header);
	cr_assert_not(k.has_pvh_entry);
	cr_assert_eq(k.initrd_addr_max, 0x7fffffffULL);
	p = gpa_to_hva(&mem, KBASE, 0x3000);
	for (i = 0; i < 0x300; i++)
		cr_assert_eq(p[i], pat(0, i));
	/* Between the segments nothing is written. */
	cr_assert_eq(p[0x300], 0xcc);
	cr_assert_eq(p[0x1fff], 0xcc);
	for (i = 0; i < 0x100; i++)
		cr_assert_eq(p[0x2000 + i], pat(1, i));
	cr_assert(zero(KBASE + 0x2100, 0xf00));
	cr_assert_eq(p[0x1fff + 0x1001], 0xcc);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, adjacent_segments_and_zero_size_ones)
{
	const struct seg s[] = {
		SEG(PT_LOAD, KBASE, KVBASE, 0x100, 0x1000),
		SEG(PT_LOAD, KBASE + 0x1000, KVBASE + 0x1000, 0x10, 0x10),
		SEG(PT_LOAD, 0, 0, 0, 0), /* empty: ignored, even at 0 */
		SEG(PT_GNU_STACK, 0, 0, 0, 0),
	};
	struct img im = build_elf(s, 4, KBASE + 0x1008);
	struct boot_kernel k;

	mem_init(128 * MiB);
	cr_assert_eq(elf_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.entry, KBASE + 0x1008);
	cr_assert_eq(k.end, KBASE + 0x1010);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, high_half_entry_is_translated)
{
	const struct seg s[] = {
		/* like vmlinux's percpu segment: vaddr 0 */
		SEG(PT_LOAD, KBASE + 0x10000, 0, 0x100, 0x100),
		SEG(PT_LOAD, KBASE, KVBASE, 0x300, 0x300),
	};
	struct img im = build_elf(s, 2, KVBASE + 0x120);
	struct boot_kernel k;

	mem_init(128 * MiB);
	cr_assert_eq(elf_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.entry, KBASE + 0x120);
	cr_assert_eq(k.start, KBASE);
	cr_assert_eq(k.end, KBASE + 0x10100);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, entry_outside_segments)
{
	struct img im = valid_elf();

	mem_init(128 * MiB);
	ehdr(&im)->e_entry = KBASE + 0x1000; /* the gap between the segments */
	elf_rejects(&im, "e_entry");
	ehdr(&im)->e_entry = KVBASE + 0x10000000;
	elf_rejects(&im, "e_entry");
	ehdr(&im)->e_entry = 0;
	elf_rejects(&im, "e_entry");
	/* One past the end of a segment, by p_paddr and by p_vaddr. */
	ehdr(&im)->e_entry = KBASE + 0x300;
	elf_rejects(&im, "e_entry");
	ehdr(&im)->e_entry = KVBASE + 0x3000;
	elf_rejects(&im, "e_entry");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, segment_above_4g)
{
	const struct seg s[] = {
		SEG(PT_LOAD, KBASE, KVBASE, 0x100, 0x100),
		SEG(PT_LOAD, 4 * GiB + 0x1000, 0, 0x100, 0x2000),
	};
	struct img im = build_elf(s, 2, KBASE);
	struct boot_kernel k;
	const uint8_t *p;

	mem_init(16 * GiB);
	cr_assert_eq(elf_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.end, 4 * GiB + 0x3000);
	p = gpa_to_hva(&mem, 4 * GiB + 0x1000, 0x100);
	cr_assert_eq(p[5], pat(1, 5));
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_bad_ident)
{
	struct img im = valid_elf();

	mem_init(128 * MiB);
	im.buf[1] = 'X';
	elf_rejects(&im, "magic");
	im.buf[1] = 'E';
	im.buf[EI_CLASS] = ELFCLASS32;
	elf_rejects(&im, "EI_CLASS");
	im.buf[EI_CLASS] = ELFCLASS64;
	im.buf[EI_DATA] = ELFDATA2MSB;
	elf_rejects(&im, "EI_DATA");
	im.buf[EI_DATA] = ELFDATA2LSB;
	ehdr(&im)->e_machine = EM_386;
	elf_rejects(&im, "e_machine");
	ehdr(&im)->e_machine = EM_AARCH64;
	elf_rejects(&im, "e_machine");
	ehdr(&im)->e_machine = EM_X86_64;
	ehdr(&im)->e_type = ET_DYN;
	elf_rejects(&im, "e_type");
	ehdr(&im)->e_type = ET_REL;
	elf_rejects(&im, "e_type");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_bad_program_header_table)
{
	struct img im = valid_elf();

	mem_init(128 * MiB);
	ehdr(&im)->e_phentsize = 32;
	elf_rejects(&im, "e_phentsize");
	ehdr(&im)->e_phentsize = sizeof(Elf64_Phdr);
	ehdr(&im)->e_phnum = 0;
	elf_rejects(&im, "e_phnum");
	ehdr(&im)->e_phnum = 0xffff; /* PN_XNUM */
	elf_rejects(&im, "e_phnum");
	ehdr(&im)->e_phnum = 1000; /* plausible, but past the end of the file */
	elf_rejects(&im, "e_phnum");
	ehdr(&im)->e_phnum = 2;
	ehdr(&im)->e_phoff = UINT64_MAX - 10;
	elf_rejects(&im, "e_phoff");
	ehdr(&im)->e_phoff = UINT64_MAX - 2 * sizeof(Elf64_Phdr) + 1;
	elf_rejects(&im, "e_phoff");
	ehdr(&im)->e_phoff = im.size;
	elf_rejects(&im, "e_phoff");
	ehdr(&im)->e_phoff = im.size - sizeof(Elf64_Phdr);
	elf_rejects(&im, "e_phoff");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_bad_file_ranges)
{
	struct img im = valid_elf();
	uint64_t off = phdr(&im, 1)->p_offset;

	mem_init(128 * MiB);
	phdr(&im, 1)->p_filesz = 0x101; /* one byte past the end of the file */
	elf_rejects(&im, "p_filesz");
	phdr(&im, 1)->p_filesz = 0x100;
	phdr(&im, 1)->p_offset = UINT64_MAX - 0x10;
	elf_rejects(&im, "p_offset");
	phdr(&im, 1)->p_offset = UINT64_MAX;
	elf_rejects(&im, "p_offset");
	phdr(&im, 1)->p_offset = im.size + 1;
	phdr(&im, 1)->p_filesz = 0;
	elf_rejects(&im, "p_offset");
	phdr(&im, 1)->p_offset = off;
	phdr(&im, 1)->p_filesz = 0x1001; /* > p_memsz */
	elf_rejects(&im, "p_filesz");
	/* In the file, but more than the segment holds in memory. */
	phdr(&im, 1)->p_filesz = 0x100;
	phdr(&im, 1)->p_memsz = 0x80;
	elf_rejects(&im, "p_filesz 0x100 is larger than p_memsz 0x80");
	phdr(&im, 1)->p_memsz = 0x1000;
	phdr(&im, 1)->p_filesz = UINT64_MAX;
	phdr(&im, 1)->p_memsz = UINT64_MAX;
	elf_rejects(&im, "PT_LOAD 1");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_absurd_and_wrapping_sizes)
{
	struct img im = valid_elf();

	mem_init(128 * MiB);
	phdr(&im, 1)->p_memsz = 1ULL << 63;
	elf_rejects(&im, "p_memsz 0x8000000000000000 is larger than any guest");
	phdr(&im, 1)->p_memsz = UINT64_MAX;
	elf_rejects(&im, "is larger than any guest");
	phdr(&im, 1)->p_memsz = 0x2000;
	phdr(&im, 1)->p_paddr = UINT64_MAX - 0xfff;
	elf_rejects(&im, "wraps");
	phdr(&im, 1)->p_paddr = UINT64_MAX - 0x1fff; /* ends exactly at 2^64 */
	elf_rejects(&im, "p_paddr");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_segments_outside_ram)
{
	struct img im = valid_elf();

	mem_init(128 * MiB);
	phdr(&im, 1)->p_paddr = 256 * MiB;
	elf_rejects(&im, "not guest RAM");
	phdr(&im, 1)->p_paddr = 128 * MiB - 0x800; /* straddles the end of RAM */
	elf_rejects(&im, "not guest RAM");
	phdr(&im, 1)->p_paddr = 128 * MiB - 0x1000; /* ends exactly there: fine */
	cr_assert_eq(elf_load(&mem, im.buf, im.size, &(struct boot_kernel){ 0 }, why, sizeof(why)),
		     0, "%s", why);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_segment_across_mmio_hole)
{
	struct img im = valid_elf();

	mem_init(16 * GiB);
	phdr(&im, 1)->p_paddr = 3 * GiB - 0x800;
	elf_rejects(&im, "not guest RAM");
	phdr(&im, 1)->p_paddr = 3 * GiB + 0x1000;
	elf_rejects(&im, "not guest RAM");
	phdr(&im, 1)->p_paddr = 17 * GiB - 0x800;
	elf_rejects(&im, "not guest RAM");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_segments_below_1mib)
{
	struct img im = valid_elf();

	mem_init(128 * MiB);
	phdr(&im, 1)->p_paddr = 0;
	elf_rejects(&im, "below 1 MiB");
	cr_assert(strstr(why, "PT_LOAD 1"));
	cr_assert(strstr(why, "p_paddr 0"));
	phdr(&im, 1)->p_paddr = LAYOUT_KERNEL_MIN - 0x800; /* straddles 1 MiB */
	elf_rejects(&im, "below 1 MiB");
	phdr(&im, 1)->p_paddr = LAYOUT_ZERO_PAGE;
	elf_rejects(&im, "below 1 MiB");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_overlapping_segments)
{
	struct img im = valid_elf();

	mem_init(128 * MiB);
	phdr(&im, 1)->p_paddr = KBASE + 0x2ff; /* last byte of segment 0 */
	elf_rejects(&im, "overlaps");
	phdr(&im, 1)->p_paddr = KBASE - 0xfff; /* bss reaches into segment 0 */
	elf_rejects(&im, "overlaps");
	phdr(&im, 1)->p_paddr = KBASE - 0x800;
	phdr(&im, 1)->p_memsz = 0x4000; /* covers segment 0 entirely */
	elf_rejects(&im, "overlaps");
	phdr(&im, 1)->p_paddr = KBASE;
	elf_rejects(&im, "overlaps");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_no_load_segment)
{
	const struct seg only_note[] = { SEG(PT_NOTE, KBASE, KVBASE, 0x20, 0x20) };
	const struct seg empty_load[] = { SEG(PT_LOAD, KBASE, KVBASE, 0, 0) };
	struct img a = build_elf(only_note, 1, KBASE);
	struct img b = build_elf(empty_load, 1, KBASE);

	mem_init(128 * MiB);
	elf_rejects(&a, "no PT_LOAD");
	elf_rejects(&b, "no PT_LOAD");
	free(a.buf);
	free(b.buf);
	guest_mem_free(&mem);
}

Test(elf, rejects_too_many_segments)
{
	struct seg s[100];
	struct img im;
	int i;

	for (i = 0; i < 100; i++)
		s[i] = (struct seg)SEG(PT_LOAD, KBASE + (uint64_t)i * 0x1000, 0, 0x10, 0x10);
	im = build_elf(s, 100, KBASE);
	mem_init(128 * MiB);
	elf_rejects(&im, "PT_LOAD");
	free(im.buf);
	guest_mem_free(&mem);
}

/* A valid later segment after a bad one, and a bad one after a good one:
 * neither may leave bytes in guest memory. */
Test(elf, never_writes_partially)
{
	struct img im = valid_elf();

	mem_init(128 * MiB);
	phdr(&im, 1)->p_paddr = 512 * MiB;
	elf_rejects(&im, "PT_LOAD 1");
	phdr(&im, 1)->p_paddr = KBASE + 0x2000;
	phdr(&im, 0)->p_paddr = 0x1000;
	elf_rejects(&im, "PT_LOAD 0");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, every_truncation_fails_cleanly)
{
	uint8_t notes[128];
	size_t nlen = linux_notes(notes, KBASE + 0x40);
	/* The note first, so that every cut lands in a PT_LOAD. */
	const struct seg s[] = {
		NOTE_SEG(0, 0, notes, nlen, 4),
		SEG(PT_LOAD, KBASE, KVBASE, 0x80, 0x100),
		SEG(PT_LOAD, KBASE + 0x1000, KVBASE + 0x1000, 0x40, 0x40),
	};
	struct img im = build_elf(s, 3, KBASE);
	struct boot_kernel k;
	uint32_t pvh;
	size_t len;

	mem_init(128 * MiB);
	for (len = 0; len < im.size; len++) {
		/* Exactly len bytes, so that an over-read is a heap overflow. */
		uint8_t *p = malloc(len ? len : 1);

		memcpy(p, im.buf, len);
		why[0] = '\0';
		cr_assert_neq(elf_load(&mem, p, len, &k, why, sizeof(why)), 0, "prefix %zu loaded",
			      len);
		cr_assert_neq(why[0], '\0', "prefix %zu: no reason given", len);
		cr_assert_neq(
			boot_load_kernel(&mem, p, len, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)),
			0);
		/* The notes come before the cut from some length on; no crash either way. */
		if (elf_find_pvh_entry(p, len, &pvh) == 0)
			cr_assert_eq(pvh, KBASE + 0x40);
		free(p);
	}
	cr_assert(zero(KBASE, 0x2000));
	cr_assert_eq(elf_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert(k.has_pvh_entry);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(elf, null_and_tiny_inputs)
{
	struct boot_kernel k;
	uint32_t pvh;

	mem_init(128 * MiB);
	cr_assert_neq(elf_load(&mem, NULL, 0, &k, why, sizeof(why)), 0);
	cr_assert_neq(elf_load(&mem,
			       "\x7f"
			       "ELF",
			       4, &k, why, sizeof(why)),
		      0);
	cr_assert_neq(elf_load(&mem,
			       "\x7f"
			       "ELF",
			       4, &k, NULL, 0),
		      0);
	cr_assert_eq(elf_find_pvh_entry(NULL, 0, &pvh), -ENOENT);
	cr_assert_eq(elf_find_pvh_entry("\x7f"
					"ELF",
					4, &pvh),
		     -ENOENT);
	guest_mem_free(&mem);
}

/* ---- PVH note ---- */

static struct img elf_with_notes(const void *notes, size_t len, uint64_t align)
{
	const struct seg s[] = {
		SEG(PT_LOAD, KBASE, KVBASE, 0x100, 0x100),
		NOTE_SEG(KBASE + 0x80, KVBASE + 0x80, notes, len, align),
	};

	return build_elf(s, 2, KBASE);
}

Test(pvh_note, found_in_pt_note)
{
	uint8_t notes[128];
	size_t n = linux_notes(notes, KBASE + 0x40);
	struct img im = elf_with_notes(notes, n, 4);
	struct boot_kernel k;
	uint32_t pvh = 0;

	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), 0);
	cr_assert_eq(pvh, KBASE + 0x40);
	mem_init(128 * MiB);
	cr_assert_eq(elf_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert(k.has_pvh_entry);
	cr_assert_eq(k.pvh_entry, KBASE + 0x40);
	cr_assert_eq(k.entry, KBASE, "the Linux protocol keeps e_entry");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(pvh_note, four_byte_descriptor)
{
	uint8_t notes[128];
	uint32_t e = 0x1000123, pvh = 0;
	size_t n = put_note(notes, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &e, 4);
	struct img im = elf_with_notes(notes, n, 4);

	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), 0);
	cr_assert_eq(pvh, 0x1000123);
	free(im.buf);
}

Test(pvh_note, absent)
{
	uint8_t notes[128];
	uint64_t e = KBASE;
	size_t n = 0;
	struct img im, plain = valid_elf();
	struct boot_kernel k;
	uint32_t pvh;

	/* Other Xen notes and other owners' type 18 are not it. */
	n += put_note(notes + n, "Xen", 17, &e, 8);
	n += put_note(notes + n, "Xe", XEN_ELFNOTE_PHYS32_ENTRY, &e, 8);
	n += put_note(notes + n, "Linux", XEN_ELFNOTE_PHYS32_ENTRY, &e, 8);
	im = elf_with_notes(notes, n, 4);
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	cr_assert_eq(elf_find_pvh_entry(plain.buf, plain.size, &pvh), -ENOENT);
	mem_init(128 * MiB);
	cr_assert_eq(elf_load(&mem, plain.buf, plain.size, &k, why, sizeof(why)), 0);
	cr_assert_not(k.has_pvh_entry);
	free(im.buf);
	free(plain.buf);
	guest_mem_free(&mem);
}

Test(pvh_note, eight_aligned_note_segment)
{
	uint8_t notes[128] = { 0 };
	Elf64_Nhdr nh = { 4, 8, XEN_ELFNOTE_PHYS32_ENTRY };
	uint64_t e = 0x1000040;
	struct img im;
	uint32_t pvh;

	/* With p_align 8 the descriptor starts 8-aligned: 12 + 4 -> 16. */
	memcpy(notes, &nh, sizeof(nh));
	memcpy(notes + 12, "Xen", 4);
	memcpy(notes + 16, &e, 8);
	im = elf_with_notes(notes, 24, 8);
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), 0);
	cr_assert_eq(pvh, 0x1000040);
	free(im.buf);
}

static void note_is_refused(const void *notes, size_t len)
{
	struct img im = elf_with_notes(notes, len, 4);
	struct boot_kernel k;
	uint32_t pvh;

	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	/* A bad note is not a reason to refuse the kernel itself. */
	cr_assert_eq(elf_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_not(k.has_pvh_entry);
	free(im.buf);
}

Test(pvh_note, malformed_notes)
{
	uint8_t n[128];
	uint64_t e = KBASE;
	uint64_t high = 0x100000000ULL;
	uint16_t tiny = 0x1234;
	Elf64_Nhdr *nh = (Elf64_Nhdr *)n;
	size_t len;

	mem_init(128 * MiB);
	len = put_note(n, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &e, 8);
	nh->n_namesz = 0xffffffff;
	note_is_refused(n, len);
	nh->n_namesz = 0xfffffffd; /* pads up to 2^32 */
	note_is_refused(n, len);
	nh->n_namesz = 4;
	nh->n_descsz = 0xffffffff;
	note_is_refused(n, len);
	nh->n_descsz = 0xfffffff0;
	note_is_refused(n, len);
	nh->n_descsz = 8;
	note_is_refused(n, len - 1); /* descriptor cut by the segment's end */
	note_is_refused(n, 8);	     /* header cut */
	note_is_refused(n, 14);	     /* name cut */
	len = put_note(n, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &tiny, 2);
	note_is_refused(n, len);
	len = put_note(n, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &high, 8);
	note_is_refused(n, len);
	len = put_note(n, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &e, 8);
	nh->n_descsz = 16;
	note_is_refused(n, len);
	guest_mem_free(&mem);
}

Test(pvh_note, note_segment_outside_file)
{
	uint8_t notes[128];
	size_t n = linux_notes(notes, KBASE);
	struct img im = elf_with_notes(notes, n, 4);
	uint32_t pvh;

	phdr(&im, 1)->p_offset = im.size - 4;
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	phdr(&im, 1)->p_offset = UINT64_MAX - 4;
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	phdr(&im, 1)->p_offset = im.size - n;
	phdr(&im, 1)->p_filesz = UINT64_MAX;
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	free(im.buf);
}

/* No PT_NOTE: the section table's SHT_NOTE is the fallback. */
static struct img with_note_section(uint64_t pvh)
{
	struct img im = valid_elf();
	uint8_t notes[128];
	size_t n = linux_notes(notes, pvh);
	size_t notes_off = im.size, sh_off = (im.size + n + 7) & ~(size_t)7;
	Elf64_Shdr sh[3] = { 0 };

	im.size = sh_off + sizeof(sh);
	im.buf = realloc(im.buf, im.size);
	memset(im.buf + notes_off, 0, im.size - notes_off);
	memcpy(im.buf + notes_off, notes, n);
	sh[1].sh_type = SHT_PROGBITS;
	sh[1].sh_offset = sizeof(Elf64_Ehdr);
	sh[1].sh_size = 16;
	sh[2].sh_type = SHT_NOTE;
	sh[2].sh_offset = notes_off;
	sh[2].sh_size = n;
	sh[2].sh_addralign = 4;
	memcpy(im.buf + sh_off, sh, sizeof(sh));
	ehdr(&im)->e_shoff = sh_off;
	ehdr(&im)->e_shnum = 3;
	ehdr(&im)->e_shentsize = sizeof(Elf64_Shdr);
	return im;
}

Test(pvh_note, found_in_section_table)
{
	struct img im = with_note_section(KBASE + 0x10);
	uint32_t pvh = 0;

	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), 0);
	cr_assert_eq(pvh, KBASE + 0x10);
	free(im.buf);
}

Test(pvh_note, bad_section_table)
{
	struct img im = with_note_section(KBASE);
	uint64_t shoff = ehdr(&im)->e_shoff;
	Elf64_Shdr *sh = (Elf64_Shdr *)(im.buf + shoff);
	uint32_t pvh;

	ehdr(&im)->e_shnum = 0xffff;
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	ehdr(&im)->e_shnum = 3;
	ehdr(&im)->e_shentsize = 40;
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	ehdr(&im)->e_shentsize = sizeof(Elf64_Shdr);
	ehdr(&im)->e_shoff = UINT64_MAX - 0x40;
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	ehdr(&im)->e_shoff = shoff;
	sh[2].sh_size = UINT64_MAX;
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	sh[2].sh_offset = UINT64_MAX;
	sh[2].sh_size = 8;
	cr_assert_eq(elf_find_pvh_entry(im.buf, im.size, &pvh), -ENOENT);
	free(im.buf);
}

/* ---- bzImage ---- */

#define BZ_SETUP_SECTS 4
#define BZ_SETUP_SIZE  ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_PAYLOAD     0x3000
#define BZ_INIT_SIZE   0x800000

static struct setup_header *hdr(struct img *im)
{
	return (struct setup_header *)(im->buf + 0x1f1);
}

/* A bzImage as Linux 6.1 builds one: protocol 2.15, relocatable, pref_address
 * 16 MiB; setup code bytes are 0x90 so that a header copy overrunning shows. */
static struct img build_bz(size_t payload)
{
	struct img im;
	struct setup_header *h;
	size_t i;

	im.size = BZ_SETUP_SIZE + payload;
	im.buf = calloc(1, im.size);
	cr_assert(im.buf);
	memset(im.buf + 0x1f1, 0x90, BZ_SETUP_SIZE - 0x1f1);
	h = hdr(&im);
	memset(h, 0, sizeof(*h));
	h->setup_sects = BZ_SETUP_SECTS;
	h->syssize = (uint32_t)(payload / 16);
	h->boot_flag = 0xAA55;
	h->jump = 0xEB | ((0x1f1 + sizeof(*h) - 0x202) << 8);
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->min_alignment = 21;
	h->xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h->cmdline_size = 2047;
	h->pref_address = 0x1000000;
	h->init_size = BZ_INIT_SIZE;
	h->kernel_info_offset = 0x1234;
	for (i = 0; i < payload; i++)
		im.buf[BZ_SETUP_SIZE + i] = pat(9, i);
	return im;
}

static void bz_rejects(struct img *im, const char *field)
{
	struct boot_kernel k;

	memset(&k, 0x5a, sizeof(k));
	why[0] = '\0';
	cr_assert_neq(bzimage_load(&mem, im->buf, im->size, &k, why, sizeof(why)), 0);
	cr_assert(strstr(why, field), "why \"%s\" does not name %s", why, field);
	cr_assert(zero(LAYOUT_KERNEL_MIN, 0x4000) && zero(0x1000000, 0x4000),
		  "a refused image was partly written");
	cr_assert_eq(k.entry, 0x5a5a5a5a5a5a5a5aULL, "a refused image changed *k");
}

static void check_payload_at(uint64_t gpa, size_t payload)
{
	const uint8_t *p = gpa_to_hva(&mem, gpa, payload);
	size_t i;

	cr_assert(p);
	for (i = 0; i < payload; i++)
		cr_assert_eq(p[i], pat(9, i), "payload byte %zu", i);
}

Test(bzimage, loads_at_pref_address)
{
	struct img im = build_bz(BZ_PAYLOAD);
	struct boot_kernel k;

	mem_init(128 * MiB);
	cr_assert_eq(bzimage_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.format, KERNEL_FORMAT_BZIMAGE);
	cr_assert_eq(k.protocol, BOOT_PROTOCOL_LINUX);
	cr_assert_eq(k.start, 0x1000000);
	cr_assert_eq(k.entry, 0x1000200);
	cr_assert_eq(k.end, 0x1000000 + BZ_INIT_SIZE, "init_size is reserved, not just the file");
	check_payload_at(0x1000000, BZ_PAYLOAD);
	cr_assert(zero(0x1000000 + BZ_PAYLOAD, 0x1000));
	cr_assert(k.has_setup_header);
	cr_assert_eq(memcmp(&k.setup, hdr(&im), sizeof(k.setup)), 0);
	cr_assert_eq(k.setup.version, 0x020f);
	cr_assert_eq(k.setup.kernel_info_offset, 0x1234);
	cr_assert_not(k.has_pvh_entry);
	cr_assert_eq(k.initrd_addr_max, UINT64_MAX, "XLF_CAN_BE_LOADED_ABOVE_4G");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(bzimage, payload_bigger_than_init_size)
{
	struct img im = build_bz(BZ_PAYLOAD);
	struct boot_kernel k;

	hdr(&im)->init_size = 0x1000;
	hdr(&im)->xloadflags = XLF_KERNEL_64;
	mem_init(128 * MiB);
	cr_assert_eq(bzimage_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.end, 0x1000000 + BZ_PAYLOAD);
	cr_assert_eq(k.initrd_addr_max, 0x7fffffff);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(bzimage, falls_back_to_1mib)
{
	struct img im = build_bz(BZ_PAYLOAD);
	struct boot_kernel k;

	mem_init(128 * MiB);
	hdr(&im)->pref_address = 0;
	cr_assert_eq(bzimage_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.start, LAYOUT_KERNEL_MIN);
	cr_assert_eq(k.entry, LAYOUT_KERNEL_MIN + 0x200);
	check_payload_at(LAYOUT_KERNEL_MIN, BZ_PAYLOAD);
	guest_mem_free(&mem);

	/* pref_address + init_size beyond RAM, 1 MiB + init_size within it */
	mem_init(128 * MiB);
	hdr(&im)->pref_address = 0x1000000;
	hdr(&im)->init_size = 120 * MiB;
	cr_assert_eq(bzimage_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.start, LAYOUT_KERNEL_MIN);
	cr_assert_eq(k.end, LAYOUT_KERNEL_MIN + 120 * MiB);
	guest_mem_free(&mem);

	/* pref_address below 1 MiB would land on the boot structures */
	mem_init(128 * MiB);
	hdr(&im)->pref_address = LAYOUT_ZERO_PAGE;
	hdr(&im)->init_size = BZ_INIT_SIZE;
	cr_assert_eq(bzimage_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.start, LAYOUT_KERNEL_MIN);
	cr_assert(zero(LAYOUT_ZERO_PAGE, 0x1000));
	free(im.buf);
	guest_mem_free(&mem);
}

Test(bzimage, rejects_what_does_not_fit)
{
	struct img im = build_bz(BZ_PAYLOAD);

	mem_init(128 * MiB);
	hdr(&im)->init_size = 0xffffffff;
	bz_rejects(&im, "init_size");
	hdr(&im)->init_size = BZ_INIT_SIZE;
	hdr(&im)->pref_address = 0x7fff000;
	hdr(&im)->relocatable_kernel = 0;
	bz_rejects(&im, "non-relocatable");
	hdr(&im)->pref_address = UINT64_MAX - 0x1000;
	bz_rejects(&im, "pref_address");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(bzimage, rejects_bad_headers)
{
	struct img im = build_bz(BZ_PAYLOAD);

	mem_init(128 * MiB);
	hdr(&im)->boot_flag = 0x55AA;
	bz_rejects(&im, "boot_flag");
	hdr(&im)->boot_flag = 0xAA55;
	hdr(&im)->header = 0x53726449;
	bz_rejects(&im, "HdrS");
	hdr(&im)->header = 0x53726448;
	hdr(&im)->version = 0x020b;
	bz_rejects(&im, "2.11");
	hdr(&im)->version = 0x0200;
	bz_rejects(&im, "version");
	hdr(&im)->version = 0x020c;
	hdr(&im)->xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G;
	bz_rejects(&im, "XLF_KERNEL_64");
	hdr(&im)->xloadflags = XLF_KERNEL_64;
	hdr(&im)->loadflags = 0;
	bz_rejects(&im, "LOADED_HIGH");
	hdr(&im)->loadflags = LOADED_HIGH;
	hdr(&im)->jump = 0xEB | (0x40 << 8);
	bz_rejects(&im, "jump");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(bzimage, protocol_2_12_is_enough)
{
	struct img im = build_bz(BZ_PAYLOAD);
	struct boot_kernel k;

	hdr(&im)->version = 0x020c;
	/* A 2.12 header ends before kernel_info_offset: the bytes there are setup code. */
	hdr(&im)->jump = 0xEB | (0x66 << 8);
	mem_init(128 * MiB);
	cr_assert_eq(bzimage_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(k.setup.version, 0x020c);
	cr_assert_eq(k.setup.init_size, BZ_INIT_SIZE);
	cr_assert_eq(k.setup.kernel_info_offset, 0);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(bzimage, longer_header_than_volt_knows_is_cut)
{
	struct img im = build_bz(BZ_PAYLOAD);
	struct boot_kernel k;

	/* A newer protocol's header, up to 0x202 + 0xff: volt copies only the
	 * fields it knows, never past its own struct. */
	hdr(&im)->jump = 0xEB | (0xff << 8);
	mem_init(128 * MiB);
	cr_assert_eq(bzimage_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(memcmp(&k.setup, im.buf + 0x1f1, sizeof(k.setup)), 0);
	cr_assert_eq(k.setup.init_size, BZ_INIT_SIZE);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(bzimage, rejects_bad_setup_sects)
{
	struct img im = build_bz(BZ_PAYLOAD);

	mem_init(128 * MiB);
	hdr(&im)->setup_sects = 255;
	bz_rejects(&im, "setup_sects");
	/* setup exactly the whole file: no kernel left */
	hdr(&im)->setup_sects = (uint8_t)(im.size / 512 - 1);
	cr_assert_eq((hdr(&im)->setup_sects + 1) * 512, im.size);
	bz_rejects(&im, "setup_sects");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(bzimage, setup_sects_zero_means_four)
{
	struct img im = build_bz(BZ_PAYLOAD);
	struct boot_kernel k;

	hdr(&im)->setup_sects = 0;
	mem_init(128 * MiB);
	cr_assert_eq(bzimage_load(&mem, im.buf, im.size, &k, why, sizeof(why)), 0, "%s", why);
	check_payload_at(0x1000000, BZ_PAYLOAD);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(bzimage, every_truncation_is_safe)
{
	struct img im = build_bz(0x400);
	struct boot_kernel k;
	size_t len;

	mem_init(128 * MiB);
	for (len = 0; len < im.size; len++) {
		uint8_t *p = malloc(len ? len : 1);
		int err;

		memcpy(p, im.buf, len);
		why[0] = '\0';
		err = bzimage_load(&mem, p, len, &k, why, sizeof(why));
		/* Past the setup code, a shorter file is a smaller (valid) kernel. */
		if (len <= BZ_SETUP_SIZE) {
			cr_assert_neq(err, 0, "prefix %zu loaded", len);
			cr_assert_neq(why[0], '\0');
			cr_assert(zero(0x1000000, 0x1000));
		} else {
			cr_assert_eq(err, 0, "prefix %zu: %s", len, why);
			cr_assert_eq(k.entry, 0x1000200);
		}
		free(p);
	}
	free(im.buf);
	guest_mem_free(&mem);
}

/* ---- format detection and protocol ---- */

Test(load_kernel, detects_elf)
{
	struct img im = valid_elf();
	struct boot_kernel k;

	mem_init(128 * MiB);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)),
		0, "%s", why);
	cr_assert_eq(k.format, KERNEL_FORMAT_ELF);
	cr_assert_eq(k.protocol, BOOT_PROTOCOL_LINUX);
	cr_assert_eq(k.entry, KBASE);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_LINUX, &k, why, sizeof(why)),
		0, "%s", why);
	cr_assert_eq(k.protocol, BOOT_PROTOCOL_LINUX);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(load_kernel, detects_bzimage)
{
	struct img im = build_bz(BZ_PAYLOAD);
	struct boot_kernel k;

	mem_init(128 * MiB);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)),
		0, "%s", why);
	cr_assert_eq(k.format, KERNEL_FORMAT_BZIMAGE);
	cr_assert_eq(k.protocol, BOOT_PROTOCOL_LINUX);
	cr_assert_eq(k.entry, 0x1000200);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(load_kernel, rejects_unknown_formats)
{
	static uint8_t junk[4096];
	struct img bz = build_bz(BZ_PAYLOAD);
	struct boot_kernel k;

	mem_init(128 * MiB);
	memset(junk, 0x42, sizeof(junk));
	cr_assert_eq(boot_load_kernel(&mem, junk, sizeof(junk), BOOT_PROTOCOL_AUTO, &k, why,
				      sizeof(why)),
		     -ENOEXEC);
	cr_assert_str_eq(why, "not an ELF vmlinux or a bzImage");
	cr_assert_eq(boot_load_kernel(&mem, junk, 0, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)),
		     -ENOEXEC);
	cr_assert_eq(boot_load_kernel(&mem,
				      "\x7f"
				      "EL",
				      3, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)),
		     -ENOEXEC);
	/* A bzImage that lost its HdrS is reported as such. */
	hdr(&bz)->header = 0;
	cr_assert_eq(
		boot_load_kernel(&mem, bz.buf, bz.size, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)),
		-ENOEXEC);
	cr_assert(strstr(why, "HdrS"), "%s", why);
	cr_assert(zero(LAYOUT_KERNEL_MIN, 32 * MiB));
	free(bz.buf);
	guest_mem_free(&mem);
}

Test(load_kernel, pvh_with_note)
{
	uint8_t notes[128];
	size_t n = linux_notes(notes, KBASE + 0x40);
	struct img im = elf_with_notes(notes, n, 4);
	struct boot_kernel k;

	mem_init(128 * MiB);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_PVH, &k, why, sizeof(why)), 0,
		"%s", why);
	cr_assert_eq(k.protocol, BOOT_PROTOCOL_PVH);
	cr_assert_eq(k.entry, KBASE + 0x40);
	cr_assert_eq(k.pvh_entry, KBASE + 0x40);
	cr_assert_eq(*(uint8_t *)gpa_to_hva(&mem, KBASE + 3, 1), pat(0, 3));
	/* AUTO means the Linux protocol even when PVH is possible. */
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)),
		0, "%s", why);
	cr_assert_eq(k.protocol, BOOT_PROTOCOL_LINUX);
	cr_assert_eq(k.entry, KBASE);
	cr_assert(k.has_pvh_entry);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(load_kernel, pvh_without_note)
{
	struct img im = valid_elf();
	struct boot_kernel k;

	mem_init(128 * MiB);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_PVH, &k, why, sizeof(why)),
		-ENOEXEC);
	cr_assert_str_eq(why, "--boot-protocol pvh needs an ELF kernel with a "
			      "XEN_ELFNOTE_PHYS32_ENTRY note");
	cr_assert(zero(KBASE, 0x4000), "refused before loading");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(load_kernel, pvh_with_bzimage)
{
	struct img im = build_bz(BZ_PAYLOAD);
	struct boot_kernel k;

	mem_init(128 * MiB);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_PVH, &k, why, sizeof(why)),
		-ENOEXEC);
	cr_assert(strstr(why, "--boot-protocol pvh needs an ELF kernel"), "%s", why);
	cr_assert(zero(0x1000000, 0x4000), "refused before loading");
	free(im.buf);
	guest_mem_free(&mem);
}

Test(load_kernel, pvh_entry_outside_image)
{
	uint8_t notes[128];
	size_t n = linux_notes(notes, 64 * MiB);
	struct img im = elf_with_notes(notes, n, 4);
	struct boot_kernel k;

	mem_init(128 * MiB);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_PVH, &k, why, sizeof(why)),
		-ENOEXEC);
	cr_assert(strstr(why, "XEN_ELFNOTE_PHYS32_ENTRY 0x4000000"), "%s", why);
	free(im.buf);
	guest_mem_free(&mem);
}

/* ---- the real kernel, when the developer has built one ---- */

/* Overridable for a kernel built elsewhere; skipped when absent. */
#define REAL_VMLINUX "/work/scratch/kb/vmlinux"
#define REAL_BZIMAGE "/work/scratch/kb/arch/x86/boot/bzImage"

static struct img read_real(const char *env, const char *path)
{
	struct img im = { 0 };
	char *buf;
	size_t len;

	if (getenv(env))
		path = getenv(env);
	if (!path_exists(path))
		cr_skip_test("%s not built", path);
	cr_assert_eq(read_file(path, 512 * MiB, &buf, &len), 0);
	im.buf = (uint8_t *)buf;
	im.size = len;
	return im;
}

Test(real_kernel, vmlinux)
{
	struct img im = read_real("VOLT_TEST_VMLINUX", REAL_VMLINUX);
	struct boot_kernel k;

	mem_init(256 * MiB);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)),
		0, "%s", why);
	cr_assert_eq(k.entry, 0x1000000);
	cr_assert_eq(k.start, 0x1000000);
	cr_assert(k.has_pvh_entry);
	cr_assert(k.pvh_entry > k.start && k.pvh_entry < k.end);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_PVH, &k, why, sizeof(why)), 0,
		"%s", why);
	cr_assert_eq(k.entry, k.pvh_entry);
	free(im.buf);
	guest_mem_free(&mem);
}

Test(real_kernel, bzimage)
{
	struct img im = read_real("VOLT_TEST_BZIMAGE", REAL_BZIMAGE);
	struct boot_kernel k;

	mem_init(256 * MiB);
	cr_assert_eq(
		boot_load_kernel(&mem, im.buf, im.size, BOOT_PROTOCOL_AUTO, &k, why, sizeof(why)),
		0, "%s", why);
	cr_assert_eq(k.format, KERNEL_FORMAT_BZIMAGE);
	cr_assert_eq(k.start, k.setup.pref_address);
	cr_assert_eq(k.entry, k.start + 0x200);
	cr_assert_geq(k.setup.version, 0x020c);
	free(im.buf);
	guest_mem_free(&mem);
}
