/* vmlinux loader: an ELF64 x86-64 ET_EXEC whose PT_LOAD segments go to their
 * physical addresses (p_paddr), bss zeroed, and its XEN_ELFNOTE_PHYS32_ENTRY
 * note for PVH boot. Nothing in the image is trusted: every header, offset and
 * size is checked against the file and against guest RAM, with overflow-safe
 * arithmetic, and all segments are validated before the first byte is copied,
 * so that on error guest memory and *k are left as they were. Structures are
 * read with memcpy, as the image gives no alignment guarantee. */
#include "boot/boot.h"

#include "arch/x86/layout.h"
#include "util/why.h"
#include "boot/pvh.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

/* A real vmlinux has about five program headers; these bound the work a
 * hostile image can cause (the overlap check is quadratic). */
#define ELF_MAX_PHNUM 1024
#define ELF_MAX_LOADS 64

struct elf_seg {
	int index; /* in the program header table, for messages */
	uint64_t offset, filesz;
	uint64_t paddr, vaddr, memsz;
};

static const uint8_t *at(const void *image, uint64_t off)
{
	return (const uint8_t *)image + off;
}

/* [off, off + len) lies inside a file of size bytes, without wrapping. */
static bool in_file(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

static int read_ehdr(const void *image, size_t size, Elf64_Ehdr *eh, char *why, size_t why_size)
{
	if (size < sizeof(*eh))
		return why_fail(why, why_size, -ENOEXEC,
				"file is %zu bytes, too small for an ELF64 header", size);
	memcpy(eh, image, sizeof(*eh));
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return why_fail(why, why_size, -ENOEXEC, "no ELF magic (\\x7fELF)");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return why_fail(why, why_size, -ENOEXEC, "EI_CLASS %u, expected ELFCLASS64 (2)",
				eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return why_fail(why, why_size, -ENOEXEC,
				"EI_DATA %u, expected ELFDATA2LSB (1, little endian)",
				eh->e_ident[EI_DATA]);
	if (eh->e_machine != EM_X86_64)
		return why_fail(why, why_size, -ENOEXEC, "e_machine %u, expected EM_X86_64 (62)",
				eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return why_fail(why, why_size, -ENOEXEC, "e_type %u, expected ET_EXEC (2)",
				eh->e_type);
	return 0;
}

/* Walks the notes in [p, p + len): each is a 12-byte header, then the name and
 * the descriptor, each starting align-aligned from the start of the notes. Any
 * size that does not fit ends the walk. */
static int find_pvh_note(const uint8_t *p, uint64_t len, uint64_t align, uint32_t *entry)
{
	uint64_t off = 0, desc_off, desc_end, desc;
	Elf64_Nhdr nh;

	while (len - off >= sizeof(nh)) {
		memcpy(&nh, p + off, sizeof(nh));
		off += sizeof(nh);
		if (nh.n_namesz > len - off)
			return -ENOENT;
		desc_off = (off + nh.n_namesz + align - 1) & ~(align - 1);
		if (desc_off > len || nh.n_descsz > len - desc_off)
			return -ENOENT;
		desc_end = desc_off + nh.n_descsz;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    !memcmp(p + off, "Xen", 4)) {
			/* Linux emits the entry with _ASM_PTR: 8 bytes on x86-64, 4 on i386. */
			if (nh.n_descsz != 4 && nh.n_descsz != 8)
				return -ENOENT;
			desc = 0;
			memcpy(&desc, p + desc_off, nh.n_descsz);
			if (desc > UINT32_MAX)
				return -ENOENT;
			*entry = (uint32_t)desc;
			return 0;
		}
		/* The last note's padding may be cut off by the end: then off > len
		 * and the walk ends. */
		off = (desc_end + align - 1) & ~(align - 1);
		if (off > len)
			return -ENOENT;
	}
	return -ENOENT;
}

/* gABI: notes in a 64-bit object are 4-aligned unless the container says 8. */
static uint64_t note_align(uint64_t container_align)
{
	return container_align == 8 ? 8 : 4;
}

static int pvh_from_segments(const void *image, size_t size, const Elf64_Ehdr *eh, uint32_t *entry)
{
	unsigned int i;

	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum > ELF_MAX_PHNUM ||
	    !in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
		return -ENOENT;
	for (i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, at(image, eh->e_phoff + i * sizeof(ph)), sizeof(ph));
		if (ph.p_type != PT_NOTE || !in_file(ph.p_offset, ph.p_filesz, size))
			continue;
		if (!find_pvh_note(at(image, ph.p_offset), ph.p_filesz, note_align(ph.p_align),
				   entry))
			return 0;
	}
	return -ENOENT;
}

/* For images whose program headers carry no PT_NOTE (e.g. stripped of it by a
 * linker script) but whose section table still has the notes. */
static int pvh_from_sections(const void *image, size_t size, const Elf64_Ehdr *eh, uint32_t *entry)
{
	unsigned int i;

	if (!eh->e_shoff || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    !in_file(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), size))
		return -ENOENT;
	for (i = 0; i < eh->e_shnum; i++) {
		Elf64_Shdr sh;

		memcpy(&sh, at(image, eh->e_shoff + i * sizeof(sh)), sizeof(sh));
		if (sh.sh_type != SHT_NOTE || !in_file(sh.sh_offset, sh.sh_size, size))
			continue;
		if (!find_pvh_note(at(image, sh.sh_offset), sh.sh_size, note_align(sh.sh_addralign),
				   entry))
			return 0;
	}
	return -ENOENT;
}

int elf_find_pvh_entry(const void *image, size_t size, uint32_t *entry)
{
	Elf64_Ehdr eh = { 0 };

	if (!image || read_ehdr(image, size, &eh, NULL, 0))
		return -ENOENT;
	if (!pvh_from_segments(image, size, &eh, entry))
		return 0;
	return pvh_from_sections(image, size, &eh, entry);
}

static int check_load(struct guest_mem *m, size_t size, const Elf64_Phdr *ph, int i, char *why,
		      size_t why_size)
{
	unsigned long long paddr = ph->p_paddr, memsz = ph->p_memsz;

	if (ph->p_filesz > ph->p_memsz)
		return why_fail(why, why_size, -ENOEXEC,
				"PT_LOAD %d: p_filesz %#llx is larger than p_memsz %#llx", i,
				(unsigned long long)ph->p_filesz, memsz);
	if (!in_file(ph->p_offset, ph->p_filesz, size))
		return why_fail(why, why_size, -ENOEXEC,
				"PT_LOAD %d: p_offset %#llx + p_filesz %#llx runs past the end of "
				"the %zu-byte file",
				i, (unsigned long long)ph->p_offset,
				(unsigned long long)ph->p_filesz, size);
	if (!memsz)
		return 0; /* no bytes: wherever it claims to be, it occupies nothing */
	if (memsz > LAYOUT_MEM_MAX)
		return why_fail(why, why_size, -ENOEXEC,
				"PT_LOAD %d: p_memsz %#llx is larger than any guest", i, memsz);
	if (paddr > UINT64_MAX - memsz)
		return why_fail(why, why_size, -ENOEXEC,
				"PT_LOAD %d: p_paddr %#llx + p_memsz %#llx wraps around", i, paddr,
				memsz);
	if (paddr < LAYOUT_KERNEL_MIN)
		return why_fail(why, why_size, -EINVAL,
				"PT_LOAD %d: p_paddr %#llx + p_memsz %#llx lies below 1 MiB, where "
				"the boot structures are",
				i, paddr, memsz);
	if (!gpa_to_hva(m, paddr, memsz))
		return why_fail(why, why_size, -ENOMEM,
				"PT_LOAD %d: p_paddr %#llx + p_memsz %#llx is not guest RAM "
				"(%llu MiB, hole at 3-4 GiB)",
				i, paddr, memsz, (unsigned long long)(m->size >> 20));
	return 0;
}

static int collect_loads(struct guest_mem *m, const void *image, size_t size, const Elf64_Ehdr *eh,
			 struct elf_seg *segs, int *nsegs, char *why, size_t why_size)
{
	int i, j, n = 0, err;

	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return why_fail(why, why_size, -ENOEXEC, "e_phentsize %u, expected %zu",
				eh->e_phentsize, sizeof(Elf64_Phdr));
	if (!eh->e_phnum || eh->e_phnum > ELF_MAX_PHNUM)
		return why_fail(why, why_size, -ENOEXEC, "e_phnum %u outside 1..%d", eh->e_phnum,
				ELF_MAX_PHNUM);
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
		return why_fail(why, why_size, -ENOEXEC,
				"program headers (e_phoff %#llx, e_phnum %u) run past the end of "
				"the %zu-byte file",
				(unsigned long long)eh->e_phoff, eh->e_phnum, size);
	for (i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		struct elf_seg *s;

		memcpy(&ph, at(image, eh->e_phoff + (uint64_t)i * sizeof(ph)), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		err = check_load(m, size, &ph, i, why, why_size);
		if (err)
			return err;
		if (!ph.p_memsz)
			continue; /* nothing to load, and no range to overlap */
		if (n == ELF_MAX_LOADS)
			return why_fail(why, why_size, -ENOEXEC, "more than %d PT_LOAD segments",
					ELF_MAX_LOADS);
		for (j = 0; j < n; j++) {
			if (ph.p_paddr < segs[j].paddr + segs[j].memsz &&
			    segs[j].paddr < ph.p_paddr + ph.p_memsz)
				return why_fail(
					why, why_size, -ENOEXEC,
					"PT_LOAD %d [%#llx, %#llx) overlaps PT_LOAD %d "
					"[%#llx, %#llx)",
					i, (unsigned long long)ph.p_paddr,
					(unsigned long long)(ph.p_paddr + ph.p_memsz),
					segs[j].index, (unsigned long long)segs[j].paddr,
					(unsigned long long)(segs[j].paddr + segs[j].memsz));
		}
		s = &segs[n++];
		s->index = i;
		s->offset = ph.p_offset;
		s->filesz = ph.p_filesz;
		s->paddr = ph.p_paddr;
		s->vaddr = ph.p_vaddr;
		s->memsz = ph.p_memsz;
	}
	if (!n)
		return why_fail(why, why_size, -ENOEXEC, "no PT_LOAD segment with p_memsz > 0");
	*nsegs = n;
	return 0;
}

/* vmlinux's e_entry is already physical (startup_64 at p_paddr); an image
 * linked with a high-half entry is translated through its segment. */
static int find_entry(const Elf64_Ehdr *eh, const struct elf_seg *segs, int n, uint64_t *entry,
		      char *why, size_t why_size)
{
	uint64_t e = eh->e_entry;
	bool high = e >= LAYOUT_HIGH_HALF_BASE;
	int i;

	for (i = 0; i < n; i++) {
		uint64_t base = high ? segs[i].vaddr : segs[i].paddr;

		if (e >= base && e - base < segs[i].memsz) {
			*entry = e - base + segs[i].paddr;
			return 0;
		}
	}
	return why_fail(why, why_size, -ENOEXEC, "e_entry %#llx lies in no PT_LOAD segment%s",
			(unsigned long long)e, high ? " (by p_vaddr)" : "");
}

int elf_load(struct guest_mem *m, const void *image, size_t size, struct boot_kernel *k, char *why,
	     size_t why_size)
{
	struct elf_seg segs[ELF_MAX_LOADS];
	uint64_t entry = 0, start = UINT64_MAX, end = 0;
	uint32_t pvh;
	Elf64_Ehdr eh = { 0 };
	int i, n = 0, err;

	if (!image)
		return why_fail(why, why_size, -EINVAL, "no image");
	err = read_ehdr(image, size, &eh, why, why_size);
	if (!err)
		err = collect_loads(m, image, size, &eh, segs, &n, why, why_size);
	if (!err)
		err = find_entry(&eh, segs, n, &entry, why, why_size);
	if (err)
		return err;

	for (i = 0; i < n; i++) {
		uint8_t *dst = gpa_to_hva(m, segs[i].paddr, segs[i].memsz);

		memcpy(dst, at(image, segs[i].offset), segs[i].filesz);
		memset(dst + segs[i].filesz, 0, segs[i].memsz - segs[i].filesz);
		if (segs[i].paddr < start)
			start = segs[i].paddr;
		if (segs[i].paddr + segs[i].memsz > end)
			end = segs[i].paddr + segs[i].memsz;
	}

	memset(k, 0, sizeof(*k));
	k->format = KERNEL_FORMAT_ELF;
	k->protocol = BOOT_PROTOCOL_LINUX;
	k->entry = entry;
	k->start = start;
	k->end = end;
	if (!elf_find_pvh_entry(image, size, &pvh)) {
		k->has_pvh_entry = true;
		k->pvh_entry = pvh;
	}
	/* The boot protocol's default for kernels that do not say (before 2.03). */
	k->initrd_addr_max = 0x7fffffff;
	return 0;
}

/* One symbol table: its entries, the string table they name into, and the
 * section table to tell code from data. Every index and offset is checked. */
static int symtab_walk(const void *image, size_t size, const Elf64_Ehdr *eh, const Elf64_Shdr *st,
		       elf_sym_fn fn, void *ctx)
{
	Elf64_Shdr strs, sec;
	uint64_t i, n;
	int err;

	if (st->sh_entsize != sizeof(Elf64_Sym) || !in_file(st->sh_offset, st->sh_size, size) ||
	    st->sh_link >= eh->e_shnum)
		return 0;
	memcpy(&strs, at(image, eh->e_shoff + st->sh_link * sizeof(strs)), sizeof(strs));
	if (strs.sh_type != SHT_STRTAB || !in_file(strs.sh_offset, strs.sh_size, size) ||
	    !strs.sh_size || *at(image, strs.sh_offset + strs.sh_size - 1))
		return 0; /* names must end inside their table */
	n = st->sh_size / sizeof(Elf64_Sym);
	for (i = 1; i < n; i++) {
		Elf64_Sym s;
		unsigned int type;

		memcpy(&s, at(image, st->sh_offset + i * sizeof(s)), sizeof(s));
		type = ELF64_ST_TYPE(s.st_info);
		if (!s.st_name || s.st_name >= strs.sh_size || s.st_shndx == SHN_UNDEF ||
		    s.st_shndx >= eh->e_shnum || type == STT_SECTION || type == STT_FILE)
			continue;
		memcpy(&sec, at(image, eh->e_shoff + s.st_shndx * sizeof(sec)), sizeof(sec));
		err = fn(ctx, (const char *)at(image, strs.sh_offset + s.st_name), s.st_value,
			 s.st_size, type, ELF64_ST_BIND(s.st_info),
			 (sec.sh_flags & SHF_EXECINSTR) != 0);
		if (err)
			return err;
	}
	return 0;
}

int elf_for_each_symbol(const void *image, size_t size, elf_sym_fn fn, void *ctx)
{
	Elf64_Ehdr eh = { 0 };
	bool found = false;
	unsigned int i;
	int err;

	if (!image || read_ehdr(image, size, &eh, NULL, 0))
		return -ENOEXEC;
	if (!eh.e_shoff || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !in_file(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), size))
		return -ENOENT;
	for (i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;

		memcpy(&sh, at(image, eh.e_shoff + i * sizeof(sh)), sizeof(sh));
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		found = true;
		if ((err = symtab_walk(image, size, &eh, &sh, fn, ctx)))
			return err;
	}
	return found ? 0 : -ENOENT;
}
