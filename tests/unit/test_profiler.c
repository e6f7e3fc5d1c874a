/* The guest profiler's logic (vmm/profiler.h): symbols from a System.map and
 * from an ELF .symtab, lookup, initcalls, and the report from known samples. */
#include <criterion/criterion.h>

#include "helpers.h"

#include "vmm/profiler.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char system_map[] = "ffffffff81000000 T _text\n"
				 "ffffffff81000000 T startup_64\n"
				 "ffffffff81001000 T default_idle\n"
				 "ffffffff81001040 t local_helper\n"
				 "ffffffff81002000 W weak_fn\n"
				 "ffffffff81003000 D some_data\n"
				 "ffffffff81004000 T memset\n"
				 "ffffffff82000000 T pci_subsys_init\n"
				 "ffffffff82000100 T sched_init\n"
				 "ffffffff82000200 T populate_rootfs\n"
				 "ffffffff82000300 T not_an_initcall\n"
				 "ffffffff82000400 T foo2\n"
				 "ffffffff82100000 D __initcall_start\n"
				 "ffffffff82100000 d __initcall_pci_subsys_init4\n"
				 "ffffffff82100004 d __initcall__kmod_core__123_456_sched_init7s\n"
				 "ffffffff82100008 d __initcall_populate_rootfsrootfs\n"
				 "ffffffff8210000c d __initcall_foo26\n"
				 "ffffffff82100010 D __initcall_end\n"
				 "garbage line\n"
				 "\n";

static struct profiler *from_map(int ncpus)
{
	struct profiler *p = profiler_new(ncpus, 1000);

	cr_assert_not_null(p);
	cr_assert_eq(profiler_load_system_map(p, system_map, sizeof(system_map) - 1), 0);
	return p;
}

Test(profiler, system_map_lookup)
{
	struct profiler *p = from_map(1);
	uint64_t off = 99;

	/* Text only: the data symbols and initcall entries are not. */
	cr_assert_eq(profiler_nsyms(p), 11);
	cr_assert_str_eq(profiler_lookup(p, 0xffffffff81000010, &off), "startup_64");
	cr_assert_eq(off, 0x10);
	cr_assert_str_eq(profiler_lookup(p, 0xffffffff81001000, &off), "default_idle");
	cr_assert_eq(off, 0);
	cr_assert_str_eq(profiler_lookup(p, 0xffffffff8100103f, NULL), "default_idle");
	cr_assert_str_eq(profiler_lookup(p, 0xffffffff81001040, NULL), "local_helper");
	cr_assert_str_eq(profiler_lookup(p, 0xffffffff81002010, NULL), "weak_fn");
	/* Data symbols do not end the function before them. */
	cr_assert_str_eq(profiler_lookup(p, 0xffffffff81003010, NULL), "weak_fn");
	cr_assert_null(profiler_lookup(p, 0xffffffff80ffffff, NULL));
	cr_assert_null(profiler_lookup(p, 0x1000, NULL));
	/* A label reaches 1 MiB at most. */
	cr_assert_null(profiler_lookup(p, 0xffffffff83000000, NULL));
	cr_assert_eq(profiler_nsyms(p), 10, "_text and startup_64 are one");
	profiler_free(p);
}

Test(profiler, initcalls_from_their_entries)
{
	struct profiler *p = from_map(1);

	cr_assert(profiler_is_initcall(p, "pci_subsys_init"));
	cr_assert(profiler_is_initcall(p, "sched_init"), "the __kmod_ form, level 7s");
	cr_assert(profiler_is_initcall(p, "populate_rootfs"), "the rootfs level");
	cr_assert(profiler_is_initcall(p, "foo2"), "a name ending in a digit, level 6");
	cr_assert_not(profiler_is_initcall(p, "not_an_initcall"));
	cr_assert_not(profiler_is_initcall(p, "memset"));
	cr_assert_not(profiler_is_initcall(p, "no_such_function"));
	profiler_free(p);
}

/* A small ET_EXEC with .text, .data, .symtab and .strtab. */
struct tiny_elf {
	Elf64_Ehdr eh;
	char strtab[128];
	Elf64_Sym syms[8];
	Elf64_Shdr sh[5];
};

static size_t put_str(char *tab, size_t *used, const char *s)
{
	size_t at = *used;

	strcpy(tab + at, s);
	*used += strlen(s) + 1;
	return at;
}

static void make_elf(struct tiny_elf *e, bool with_symtab)
{
	size_t used = 1;
	int n = 1;

	memset(e, 0, sizeof(*e));
	memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
	e->eh.e_ident[EI_CLASS] = ELFCLASS64;
	e->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh.e_type = ET_EXEC;
	e->eh.e_machine = EM_X86_64;
	e->eh.e_shoff = offsetof(struct tiny_elf, sh);
	e->eh.e_shentsize = sizeof(Elf64_Shdr);
	e->eh.e_shnum = 5;
	e->sh[1] = (Elf64_Shdr){ .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_EXECINSTR };
	e->sh[2] = (Elf64_Shdr){ .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_WRITE };
	e->sh[3] = (Elf64_Shdr){ .sh_type = with_symtab ? SHT_SYMTAB : SHT_PROGBITS,
				 .sh_offset = offsetof(struct tiny_elf, syms),
				 .sh_size = sizeof(e->syms),
				 .sh_entsize = sizeof(Elf64_Sym),
				 .sh_link = 4 };
	e->sh[4] = (Elf64_Shdr){ .sh_type = SHT_STRTAB,
				 .sh_offset = offsetof(struct tiny_elf, strtab),
				 .sh_size = sizeof(e->strtab) };
	/* _start (FUNC, 0x20 bytes), poll and idle (local labels), a data
	 * object, a symbol of no section, and one whose name is out of range. */
	e->syms[n++] = (Elf64_Sym){ .st_name = (uint32_t)put_str(e->strtab, &used, "_start"),
				    .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
				    .st_shndx = 1,
				    .st_value = 0x100000,
				    .st_size = 0x20 };
	e->syms[n++] = (Elf64_Sym){ .st_name = (uint32_t)put_str(e->strtab, &used, "poll"),
				    .st_info = ELF64_ST_INFO(STB_LOCAL, STT_NOTYPE),
				    .st_shndx = 1,
				    .st_value = 0x100040 };
	e->syms[n++] = (Elf64_Sym){ .st_name = (uint32_t)put_str(e->strtab, &used, "idle"),
				    .st_info = ELF64_ST_INFO(STB_LOCAL, STT_NOTYPE),
				    .st_shndx = 1,
				    .st_value = 0x100060 };
	e->syms[n++] = (Elf64_Sym){ .st_name = (uint32_t)put_str(e->strtab, &used, "msg"),
				    .st_info = ELF64_ST_INFO(STB_LOCAL, STT_OBJECT),
				    .st_shndx = 2,
				    .st_value = 0x100080 };
	e->syms[n++] = (Elf64_Sym){ .st_name = (uint32_t)put_str(e->strtab, &used, "undef"),
				    .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
				    .st_shndx = SHN_UNDEF };
	e->syms[n++] = (Elf64_Sym){ .st_name = 5000,
				    .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
				    .st_shndx = 1,
				    .st_value = 0x100010 };
}

Test(profiler, elf_symtab)
{
	struct profiler *p = profiler_new(1, 100);
	struct tiny_elf e;

	make_elf(&e, true);
	cr_assert_eq(profiler_load_elf(p, &e, sizeof(e)), 0);
	cr_assert_eq(profiler_nsyms(p), 3, "_start, poll, idle");
	cr_assert_str_eq(profiler_lookup(p, 0x100000, NULL), "_start");
	cr_assert_str_eq(profiler_lookup(p, 0x10001f, NULL), "_start");
	cr_assert_null(profiler_lookup(p, 0x100020, NULL), "past _start's size");
	cr_assert_str_eq(profiler_lookup(p, 0x100045, NULL), "poll");
	cr_assert_str_eq(profiler_lookup(p, 0x100070, NULL), "idle");
	cr_assert_str_eq(profiler_lookup(p, 0x100090, NULL), "idle", "data ends nothing");
	profiler_free(p);
}

/* A name longer than any kernel symbol's (512) is skipped: a crafted image's
 * megabyte names would each be copied and, as initcall entries, searched
 * from every underscore. */
Test(profiler, elf_overlong_names_skipped)
{
	static struct {
		Elf64_Ehdr eh;
		char strtab[2048];
		Elf64_Sym syms[4];
		Elf64_Shdr sh[5];
	} e;
	struct profiler *p = profiler_new(1, 100);
	char name[700];
	size_t used = 1;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	memcpy(e.eh.e_ident, ELFMAG, SELFMAG);
	e.eh.e_ident[EI_CLASS] = ELFCLASS64;
	e.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	e.eh.e_type = ET_EXEC;
	e.eh.e_machine = EM_X86_64;
	e.eh.e_shoff = offsetof(__typeof__(e), sh);
	e.eh.e_shentsize = sizeof(Elf64_Shdr);
	e.eh.e_shnum = 5;
	e.sh[1] = (Elf64_Shdr){ .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_EXECINSTR };
	e.sh[3] = (Elf64_Shdr){ .sh_type = SHT_SYMTAB,
				.sh_offset = offsetof(__typeof__(e), syms),
				.sh_size = sizeof(e.syms),
				.sh_entsize = sizeof(Elf64_Sym),
				.sh_link = 4 };
	e.sh[4] = (Elf64_Shdr){ .sh_type = SHT_STRTAB,
				.sh_offset = offsetof(__typeof__(e), strtab),
				.sh_size = sizeof(e.strtab) };
	e.syms[1] = (Elf64_Sym){ .st_name = (uint32_t)put_str(e.strtab, &used, name),
				 .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
				 .st_shndx = 1,
				 .st_value = 0x100000,
				 .st_size = 0x20 };
	name[512] = 0; /* the longest a kernel has */
	e.syms[2] = (Elf64_Sym){ .st_name = (uint32_t)put_str(e.strtab, &used, name),
				 .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
				 .st_shndx = 1,
				 .st_value = 0x100040,
				 .st_size = 0x20 };
	cr_assert_eq(profiler_load_elf(p, &e, sizeof(e)), 0);
	cr_assert_eq(profiler_nsyms(p), 1);
	cr_assert_null(profiler_lookup(p, 0x100000, NULL));
	cr_assert_str_eq(profiler_lookup(p, 0x100040, NULL), name);
	profiler_free(p);
}

Test(profiler, elf_without_symtab_or_broken)
{
	struct profiler *p = profiler_new(1, 100);
	struct tiny_elf e;

	make_elf(&e, false);
	cr_assert_eq(profiler_load_elf(p, &e, sizeof(e)), -ENOENT);
	make_elf(&e, true);
	cr_assert_neq(profiler_load_elf(p, &e, 10), 0, "truncated header");
	e.sh[3].sh_size = 1 << 20; /* the table runs past the file */
	cr_assert_eq(profiler_load_elf(p, &e, sizeof(e)), -ENOENT);
	make_elf(&e, true);
	e.sh[3].sh_link = 9; /* no such string table */
	cr_assert_eq(profiler_load_elf(p, &e, sizeof(e)), -ENOENT);
	make_elf(&e, true);
	e.strtab[sizeof(e.strtab) - 1] = 'x'; /* names may not run off the table */
	cr_assert_eq(profiler_load_elf(p, &e, sizeof(e)), -ENOENT);
	cr_assert_eq(profiler_load_elf(p, "bzImage...", 10), -ENOEXEC);
	cr_assert_eq(profiler_nsyms(p), 0);
	profiler_free(p);
}

__attribute__((noinline)) static char *report(struct profiler *p, int top)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	profiler_report(p, f, top);
	fclose(f);
	return buf;
}

Test(profiler, report_from_known_samples)
{
	struct profiler *p = from_map(2);
	char *out;
	int i;

	/* vCPU 0: the initcall pci_subsys_init, then memset under it, then
	 * pci_subsys_init again; vCPU 1 idles. */
	profiler_record(p, 0, 0xffffffff82000010);
	for (i = 0; i < 6; i++)
		profiler_record(p, 0, 0xffffffff81004008);
	profiler_record(p, 0, 0xffffffff82000020);
	profiler_record(p, 0, PROFILER_USER);
	profiler_record(p, 0, 0x1234); /* nowhere */
	profiler_record(p, 1, PROFILER_UNSTARTED);
	for (i = 0; i < 10; i++)
		profiler_record(p, 1, 0xffffffff81001004);
	out = report(p, 3);
	cr_assert(strstr(out,
			 "volt profile: 20 samples at 1000 Hz on 2 vCPUs (0.0 s of vCPU time), "
			 "1 more of vCPUs not started yet"),
		  "%s", out);
	cr_assert(strstr(out, "        10  50.00       10.0  default_idle\n"), "%s", out);
	cr_assert(strstr(out, "         6  30.00        6.0  memset\n"), "%s", out);
	cr_assert(strstr(out, "         2  10.00        2.0  pci_subsys_init\n"), "%s", out);
	cr_assert(strstr(out, "(2 more functions)"), "[user] and [unknown]: %s", out);
	/* self 2, span 8 (first to last sample on vCPU 0). */
	cr_assert(strstr(out, "         2          8        8.0  pci_subsys_init\n"), "%s", out);
	free(out);
	out = report(p, 0);
	cr_assert(strstr(out, "         1   5.00        1.0  [user]\n"), "%s", out);
	cr_assert(strstr(out, "         1   5.00        1.0  [unknown]\n"), "%s", out);
	free(out);
	profiler_free(p);
}

Test(profiler, full_buffer_counts_drops)
{
	struct profiler *p = profiler_new(1, 1000);
	char *out;
	uint32_t i;

	for (i = 0; i < PROFILER_MAX_SAMPLES + 5; i++)
		profiler_record(p, 0, PROFILER_USER);
	out = report(p, 5);
	cr_assert(strstr(out, "5 dropped"), "%s", out);
	cr_assert(strstr(out, "initcalls: none sampled"), "%s", out);
	free(out);
	profiler_free(p);
}

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

Test(profiler, timer_signals_this_thread)
{
	struct sigaction sa = { .sa_handler = on_tick };
	struct timespec ts = { 0, 1000000 };
	timer_t t;
	int i;

	sigemptyset(&sa.sa_mask);
	sigaction(PROFILER_SIGNAL, &sa, NULL);
	cr_assert_eq(profiler_timer_start(&t, 1000), 0);
	for (i = 0; i < 2000 && ticks < 5; i++)
		nanosleep(&ts, NULL);
	profiler_timer_stop(t);
	cr_assert_geq(ticks, 5);
}

/* More rows than the sort's largest gap: the order still holds. */
Test(profiler, report_sorts_many_functions)
{
	struct profiler *p = profiler_new(1, 1000);
	char *map = malloc(4000 * 40), *out, *first, *second, *third;
	size_t len = 0;
	int k, i;

	for (k = 0; k < 4000; k++)
		len += (size_t)sprintf(map + len, "%016llx T fn%d\n", 0x1000ULL + 0x100ULL * k, k);
	cr_assert_eq(profiler_load_system_map(p, map, len), 0);
	for (k = 0; k < 4000; k++)
		for (i = 0; i < (k == 1234 ? 10 : k == 777 ? 9 : k % 3 + 1); i++)
			profiler_record(p, 0, 0x1000ULL + 0x100ULL * k + 7);
	out = report(p, 3);
	first = strstr(out, "  fn1234\n");
	second = strstr(out, "  fn777\n");
	third = strstr(out, "  fn");
	cr_assert(first && second && third == first && second > first, "%s", out);
	cr_assert(strstr(out, "         3   ") && strstr(out, "(3997 more functions)"), "%s", out);
	free(out);
	free(map);
	profiler_free(p);
}

Test(profiler, raw_samples_a_line_each)
{
	struct profiler *p = from_map(2);
	char buf[512] = "";
	FILE *f = tmpfile();

	profiler_record(p, 0, 0xffffffff81001004);
	profiler_record(p, 0, PROFILER_USER);
	profiler_record(p, 1, 0x1234);
	cr_assert_eq(profiler_write_samples(p, fileno(f)), 0);
	rewind(f);
	cr_assert_eq(fread(buf, 1, sizeof(buf) - 1, f) > 0, true);
	cr_assert_str_eq(buf, "0 0xffffffff81001004 default_idle+0x4\n"
			      "0 0xffffffffffffffff [user]\n"
			      "1 0x1234 [unknown]\n");
	fclose(f);
	profiler_free(p);
}

/* A FIFO in the kernel's place, and in System.map's, is refused, never
 * opened for a reader that would block for ever. */
Test(profiler, fifos_in_the_kernels_place_do_not_block, .timeout = 10)
{
	struct profiler *p = profiler_new(1, 100);
	char *dir = test_tmpdir(), kernel[PATH_MAX], map[PATH_MAX], where[256];

	cr_assert(dir);
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	snprintf(map, sizeof(map), "%s/System.map", dir);
	cr_assert_eq(mkfifo(kernel, 0644), 0);
	cr_assert_eq(mkfifo(map, 0644), 0);
	cr_assert_eq(profiler_load_symbols(p, kernel, where, sizeof(where)), -EINVAL);
	profiler_free(p);
	rm_rf(dir);
}
