#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>

#include "helpers.h"
#include "kernel/rootfs.h"

static int check_file(const char *path)
{
	char *img;
	size_t len;
	int r;

	cr_assert_eq(read_file(path, 64 << 20, &img, &len), 0, "%s", path);
	r = elf_is_static(img, len);
	free(img);
	return r;
}

Test(rootfs, tells_static_from_dynamic_executables)
{
	cr_assert_eq(check_file("/bin/busybox"), 1);
	cr_assert_eq(check_file("/bin/ls"), 0);
}

Test(rootfs, rejects_non_elf_and_truncated_headers)
{
	Elf64_Ehdr eh;

	cr_assert_eq(elf_is_static("not an elf at all, not at all, no", 34), -ENOEXEC);
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phoff = sizeof(eh);
	eh.e_phnum = 4; /* program headers beyond the end of the image */
	cr_assert_eq(elf_is_static(&eh, sizeof(eh)), -ENOEXEC);
	eh.e_phoff = ~0ULL;
	cr_assert_eq(elf_is_static(&eh, sizeof(eh)), -ENOEXEC);
	eh.e_phnum = 0;
	eh.e_phoff = sizeof(eh);
	cr_assert_eq(elf_is_static(&eh, sizeof(eh)), 1);
}
