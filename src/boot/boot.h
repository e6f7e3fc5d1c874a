/* Loading a guest kernel and writing what it reads at boot: the command line,
 * the initrd, the e820 map, the Linux zero page and the PVH start_info.
 * Everything goes through gpa_to_hva()/guest_write(): every offset and size
 * read from an image is validated against the file and against guest RAM.
 * Functions return 0 or -errno; where they take `why`, they write a one-line
 * reason there (naming the offending field) for the caller to print. */
#ifndef VOLT_BOOT_BOOT_H
#define VOLT_BOOT_BOOT_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

enum boot_protocol {
	BOOT_PROTOCOL_AUTO,  /* 64-bit Linux boot protocol for both formats */
	BOOT_PROTOCOL_LINUX, /* enter the 64-bit entry in long mode, RSI = zero page */
	BOOT_PROTOCOL_PVH,   /* enter XEN_ELFNOTE_PHYS32_ENTRY in 32-bit mode, EBX = start_info */
};

enum kernel_format { KERNEL_FORMAT_ELF, KERNEL_FORMAT_BZIMAGE };

struct boot_kernel {
	enum kernel_format format;
	enum boot_protocol protocol; /* LINUX or PVH, never AUTO */
	uint64_t entry;		     /* guest-physical address the vCPU starts at */
	uint64_t start, end;	     /* guest-physical range the image occupies, bss included */
	bool has_setup_header;	     /* bzImage: its setup header, for the zero page */
	struct setup_header setup;
	bool has_pvh_entry;
	uint32_t pvh_entry;
	uint64_t initrd_addr_max; /* last byte an initrd may occupy */
};

/* Detects ELF or bzImage and loads it. */
int boot_load_kernel(struct guest_mem *m, const void *image, size_t size, enum boot_protocol want,
		     struct boot_kernel *k, char *why, size_t why_size);
int elf_load(struct guest_mem *m, const void *image, size_t size, struct boot_kernel *k, char *why,
	     size_t why_size);
int bzimage_load(struct guest_mem *m, const void *image, size_t size, struct boot_kernel *k,
		 char *why, size_t why_size);
/* The XEN_ELFNOTE_PHYS32_ENTRY note of an ELF image: 0 and *entry, or -ENOENT. */
int elf_find_pvh_entry(const void *image, size_t size, uint32_t *entry);

/* Calls fn for each symbol of an ELF64 image's SHT_SYMTAB sections (named,
 * defined in a section); exec: that section holds code. Names point into the
 * image. 0, -ENOENT (no symbol table) or fn's first non-zero return. */
typedef int (*elf_sym_fn)(void *ctx, const char *name, uint64_t value, uint64_t size,
			  unsigned int type, unsigned int bind, bool exec);
int elf_for_each_symbol(const void *image, size_t size, elf_sym_fn fn, void *ctx);

/* Where an initrd of size bytes goes: page aligned, as high as possible below
 * min(initrd_addr_max, end of low RAM), above the kernel. -ENOMEM if it does not fit. */
int boot_place_initrd(const struct guest_mem *m, const struct boot_kernel *k, uint64_t size,
		      uint64_t *gpa);
/* Writes the NUL-terminated command line at LAYOUT_CMDLINE; -E2BIG when it is
 * LAYOUT_CMDLINE_MAX bytes or longer. */
int boot_write_cmdline(struct guest_mem *m, const char *cmdline);
/* RAM map: [0, EBDA), [1 MiB, low end), [4 GiB, end) when RAM is above the hole. */
int e820_build(const struct guest_mem *m, struct boot_e820_entry *e, int max);
int boot_write_zero_page(struct guest_mem *m, const struct boot_kernel *k, uint32_t cmdline_len,
			 uint64_t initrd_gpa, uint64_t initrd_size);
int boot_write_pvh_start_info(struct guest_mem *m, uint32_t cmdline_len, uint64_t initrd_gpa,
			      uint64_t initrd_size);

#endif
