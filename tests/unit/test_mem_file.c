/* Guest memory for snapshots: the memory file (core/mem_file.h: sparse, whole
 * or absent), RAM mapped back from it (copy-on-write, the file untouched) or
 * through the test page-fault handler (tests/uffd_handler.c, Firecracker's
 * Uffd handshake), and dirty tracking without KVM (vm_fd -1). */
#include <criterion/criterion.h>

#include <dirent.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "core/guest_mem.h"
#include "core/mem_file.h"
#include "devices/virtio/virtq.h"
#include "helpers.h"

#define PG	   4096ULL
#define RAM	   (4ULL << 20)
#define HOLE_START (2ULL << 20)
#define HOLE_END   (16ULL << 20) /* region 1: gpa 16 MiB = offset 2 MiB */

static struct guest_mem m, m2, m3;
static char why[512];
static char *dir;
static char path[PATH_MAX];

static void setup(void)
{
	dir = test_tmpdir();
	cr_assert_not_null(dir);
	path_fmt(path, sizeof(path), "%s/mem", dir);
	cr_assert_eq(guest_mem_map(&m, RAM, HOLE_START, HOLE_END), 0);
	cr_assert_eq(m.nregions, 2);
}

static void teardown(void)
{
	guest_mem_free(&m);
	guest_mem_free(&m2);
	guest_mem_free(&m3);
	rm_rf(dir);
}

TestSuite(mem_file, .init = setup, .fini = teardown, .timeout = 60);

static void fill(struct guest_mem *g, uint64_t page, int seed)
{
	uint8_t *p = g->base + page * PG;
	uint64_t i;

	for (i = 0; i < PG; i++)
		p[i] = (uint8_t)(seed + i * 7 + page);
}

static void read_all(const char *file, uint8_t *buf, uint64_t len)
{
	int fd = open(file, O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
}

static off_t seek(const char *file, off_t off, int whence)
{
	int fd = open(file, O_RDONLY);
	off_t r;

	cr_assert_geq(fd, 0);
	r = lseek(fd, off, whence);
	close(fd);
	return r;
}

/* Entries of dir besides . and ..: a failed write leaves no temporary. */
static int entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(dp);
	while ((de = readdir(dp)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

Test(mem_file, full_write_is_sparse_and_equal)
{
	uint8_t *buf = malloc(RAM);
	struct stat st;

	cr_assert_not_null(buf);
	fill(&m, 3, 1);
	fill(&m, 10, 2);
	fill(&m, 11, 3);
	fill(&m, 600, 4);			       /* region 1 */
	memset(m.base + 20 * PG, 0, PG);	       /* touched, but zero: a hole */
	(void)*(volatile uint8_t *)(m.base + 30 * PG); /* read: the zero page */
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, RAM);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_leq((uint64_t)st.st_blocks * 512, 4 * PG, "%llu bytes allocated",
		      (unsigned long long)st.st_blocks * 512);
	cr_assert_eq(seek(path, 0, SEEK_DATA), (off_t)(3 * PG));
	cr_assert_eq(seek(path, 3 * PG, SEEK_HOLE), (off_t)(4 * PG));
	cr_assert_eq(seek(path, 4 * PG, SEEK_DATA), (off_t)(10 * PG));
	cr_assert_eq(seek(path, 10 * PG, SEEK_HOLE), (off_t)(12 * PG));
	cr_assert_eq(seek(path, 12 * PG, SEEK_DATA), (off_t)(600 * PG));
	cr_assert_eq(seek(path, 600 * PG, SEEK_HOLE), (off_t)(601 * PG));
	read_all(path, buf, RAM);
	cr_assert_eq(memcmp(buf, m.base, RAM), 0);
	cr_assert_eq(entries(dir), 1);
	free(buf);
}

Test(mem_file, untouched_pages_are_not_read)
{
	unsigned char v[4];

	if (!m.untouched_zero)
		cr_skip_test("the host has swap: every page is read");
	fill(&m, 3, 1);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(mincore(m.base + 4 * PG, 4 * PG, v), 0);
	cr_assert_eq(v[0] | v[1] | v[2] | v[3], 0, "the write faulted in untouched pages");
}

/* With swap on the host mincore() is not trusted: every page is read. */
Test(mem_file, full_write_reading_every_page)
{
	uint8_t *buf = malloc(RAM);

	m.untouched_zero = false;
	fill(&m, 3, 1);
	fill(&m, 900, 2);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(seek(path, 0, SEEK_DATA), (off_t)(3 * PG));
	cr_assert_eq(seek(path, 3 * PG, SEEK_HOLE), (off_t)(4 * PG));
	cr_assert_eq(seek(path, 4 * PG, SEEK_DATA), (off_t)(900 * PG));
	read_all(path, buf, RAM);
	cr_assert_eq(memcmp(buf, m.base, RAM), 0);
	free(buf);
}

Test(mem_file, overwrites_an_existing_file)
{
	uint8_t b[PG];

	cr_assert_eq(write_file(path, "old", 3, 0644), 0);
	fill(&m, 1, 9);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	read_all(path, b, PG);
	cr_assert_eq(b[0], 0);
	read_all(path, b, 1); /* the first page is a hole */
	cr_assert_eq(entries(dir), 1);
}

Test(mem_file, file_map_round_trip_and_copy_on_write)
{
	struct guest_mem_source src = { .kind = GUEST_MEM_FILE, .path = path };
	uint8_t b[PG], orig[PG];
	uint32_t v = 0xdeadbeef;

	fill(&m, 0, 5);
	fill(&m, 700, 6);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(m2.kind, GUEST_MEM_FILE);
	cr_assert_eq(m2.nregions, 2);
	cr_assert_eq(memcmp(m2.base, m.base, RAM), 0);
	/* A write goes to the process's copy, never to the file. */
	memcpy(orig, m.base + 700 * PG, PG);
	cr_assert_eq(guest_write(&m2, HOLE_END + (700 * PG - HOLE_START), &v, sizeof(v)), 0);
	cr_assert_eq(guest_write(&m2, 5 * PG, &v, sizeof(v)), 0);
	read_all(path, b, PG);
	cr_assert_eq(memcmp(b, m.base, PG), 0);
	{
		int fd = open(path, O_RDONLY);

		cr_assert_eq(pread(fd, b, PG, 700 * PG), (ssize_t)PG);
		close(fd);
	}
	cr_assert_eq(memcmp(b, orig, PG), 0);
	/* A second mapping of the file sees the file, not the first one's writes. */
	cr_assert_eq(guest_mem_map_from(&m3, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(memcmp(m3.base, m.base, RAM), 0);
	cr_assert_neq(memcmp(m3.base + 700 * PG, m2.base + 700 * PG, PG), 0);
	cr_assert_eq(*(uint32_t *)(m2.base + 5 * PG), v);
	cr_assert_eq(*(uint32_t *)(m3.base + 5 * PG), 0);
}

/* A restored VM's discarded pages (balloon, unplugged memory) read as zeros,
 * not as the memory file's pages again; the pages around them keep theirs,
 * and the file is never written. */
Test(mem_file, discard_reads_zeros_in_a_restored_vm)
{
	struct guest_mem_source src = { .kind = GUEST_MEM_FILE, .path = path };
	uint8_t b[PG], zero[PG] = { 0 };
	uint32_t v = 0xdeadbeef;
	uint64_t p;

	for (p = 10; p < 14; p++)
		fill(&m, p, 9);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(guest_write(&m2, 11 * PG, &v, sizeof(v)), 0); /* a private copy of one */
	cr_assert_eq(guest_mem_discard(&m2, m2.base + 11 * PG, 2 * PG), 0);
	cr_assert_eq(memcmp(m2.base + 11 * PG, zero, PG), 0);
	cr_assert_eq(memcmp(m2.base + 12 * PG, zero, PG), 0);
	cr_assert_eq(memcmp(m2.base + 10 * PG, m.base + 10 * PG, PG), 0);
	cr_assert_eq(memcmp(m2.base + 13 * PG, m.base + 13 * PG, PG), 0);
	/* Still guest memory, writable, and the file as it was. */
	cr_assert_eq(guest_write(&m2, 12 * PG, &v, sizeof(v)), 0);
	cr_assert_eq(*(uint32_t *)(m2.base + 12 * PG), v);
	{
		int fd = open(path, O_RDONLY);

		cr_assert_eq(pread(fd, b, PG, 12 * PG), (ssize_t)PG);
		close(fd);
	}
	cr_assert_eq(memcmp(b, m.base + 12 * PG, PG), 0);
	/* Anonymous memory: zeros too. */
	cr_assert_eq(guest_mem_discard(&m, m.base + 10 * PG, PG), 0);
	cr_assert_eq(memcmp(m.base + 10 * PG, zero, PG), 0);
	cr_assert_eq(guest_mem_discard(&m, m.base, 0), 0);
}

Test(mem_file, wrong_size_or_kind_refused)
{
	struct guest_mem_source src = { .kind = GUEST_MEM_FILE, .path = path };
	int fd = open(path, O_CREAT | O_WRONLY, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, RAM - PG), 0);
	close(fd);
	cr_assert_eq(guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why)),
		     -EINVAL);
	cr_assert_not_null(strstr(why, path), "%s", why);
	cr_assert_not_null(strstr(why, "4190208"), "%s", why);
	cr_assert_not_null(strstr(why, "4194304"), "%s", why);
	cr_assert_null(m2.base);
	src.path = dir;
	cr_assert_eq(guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why)),
		     -EINVAL);
	cr_assert_not_null(strstr(why, "regular"), "%s", why);
	path_fmt(path, sizeof(path), "%s/none", dir);
	src.path = path;
	cr_assert_eq(guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why)),
		     -ENOENT);
	cr_assert_not_null(strstr(why, path), "%s", why);
}

Test(mem_file, layout_init_from)
{
	struct guest_mem_source src = { .kind = GUEST_MEM_ANON };

	cr_assert_eq(layout_guest_mem_init_from(&m2, 1ULL << 20, &src, why, sizeof(why)), -EINVAL);
	cr_assert_neq(why[0], 0);
	cr_assert_eq(layout_guest_mem_init_from(&m2, 128ULL << 20, &src, why, sizeof(why)), 0, "%s",
		     why);
	cr_assert_eq(m2.kind, GUEST_MEM_ANON);
	cr_assert_eq(guest_mem_low_end(&m2), 128ULL << 20);
	cr_assert_eq(layout_guest_mem_init_from(&m3, 128ULL << 20, NULL, why, sizeof(why)), 0);
}

Test(mem_file, diff_writes_the_selected_pages_zero_or_not)
{
	uint64_t *bits = calloc((guest_mem_pages(&m) + 63) / 64, 8);
	uint8_t b[PG];
	int fd;

	fill(&m, 5, 1);
	fill(&m, 100, 2);		     /* not selected: a hole */
	bits[0] = (1ULL << 5) | (1ULL << 7); /* page 7 is zero, but dirty */
	bits[600 / 64] |= 1ULL << (600 % 64);
	fill(&m, 600, 3);
	cr_assert_eq(mem_file_write(&m, path, bits, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(seek(path, 0, SEEK_DATA), (off_t)(5 * PG));
	cr_assert_eq(seek(path, 5 * PG, SEEK_HOLE), (off_t)(6 * PG));
	cr_assert_eq(seek(path, 6 * PG, SEEK_DATA), (off_t)(7 * PG));
	cr_assert_eq(seek(path, 7 * PG, SEEK_HOLE), (off_t)(8 * PG));
	cr_assert_eq(seek(path, 8 * PG, SEEK_DATA), (off_t)(600 * PG));
	cr_assert_eq(seek(path, 600 * PG, SEEK_HOLE), (off_t)(601 * PG));
	fd = open(path, O_RDONLY);
	cr_assert_eq(pread(fd, b, PG, 600 * PG), (ssize_t)PG);
	cr_assert_eq(memcmp(b, m.base + 600 * PG, PG), 0);
	cr_assert_eq(pread(fd, b, PG, 100 * PG), (ssize_t)PG);
	cr_assert_eq(b[0] | b[1] | b[PG - 1], 0);
	close(fd);
	free(bits);
}

Test(mem_file, diff_over_a_file_of_rams_size_merges_onto_it)
{
	uint64_t *bits = calloc((guest_mem_pages(&m) + 63) / 64, 8);
	uint8_t *want = malloc(RAM), *got = malloc(RAM);
	char other[PATH_MAX];
	int fd;

	fill(&m, 3, 1);
	fill(&m, 5, 2);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	memcpy(want, m.base, RAM);
	/* Page 5 changes, page 9 is new: the Diff writes them over the base. */
	fill(&m, 5, 3);
	fill(&m, 9, 4);
	bits[0] = (1ULL << 5) | (1ULL << 9);
	memcpy(want + 5 * PG, m.base + 5 * PG, PG);
	memcpy(want + 9 * PG, m.base + 9 * PG, PG);
	fill(&m, 3, 5); /* changed, but not in the Diff: the base's page stays */
	cr_assert_eq(mem_file_write(&m, path, bits, why, sizeof(why)), 0, "%s", why);
	read_all(path, got, RAM);
	cr_assert_eq(memcmp(got, want, RAM), 0);
	cr_assert_eq(seek(path, 0, SEEK_DATA), (off_t)(3 * PG), "the base's holes stay holes");
	cr_assert_eq(entries(dir), 1, "no temporary left");
	/* A file of another size is no base: replaced by the Diff alone. */
	path_fmt(other, sizeof(other), "%s/other", dir);
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	cr_assert_eq(write(fd, "x", 1), 1);
	close(fd);
	cr_assert_eq(mem_file_write(&m, other, bits, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(seek(other, 0, SEEK_DATA), (off_t)(5 * PG));
	free(bits);
	free(want);
	free(got);
}

/* A snapshot stages its memory file and puts it in place only once its
 * state file is written: staged and discarded, the old file stays. */
Test(mem_file, staged_file_replaces_only_when_committed)
{
	struct staged_file p;
	struct stat before, st;
	int failed;

	fill(&m, 3, 1);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(stat(path, &before), 0);
	fill(&m, 5, 2);
	cr_assert_eq(mem_file_stage(&m, path, NULL, &p, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(entries(dir), 2); /* the file and the staged one */
	staged_discard(&p);
	cr_assert_eq(entries(dir), 1);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_ino, before.st_ino);
	cr_assert_eq(seek(path, 4 * PG, SEEK_DATA), -1, "page 5 is not in the old file");
	cr_assert_eq(mem_file_stage(&m, path, NULL, &p, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(staged_commit(&p, 1, &failed), 0);
	cr_assert_eq(entries(dir), 1);
	cr_assert_eq(seek(path, 4 * PG, SEEK_DATA), (off_t)(5 * PG));
	cr_assert_eq(p.dfd, -1);
}

Test(mem_file, missing_directory_refused)
{
	path_fmt(path, sizeof(path), "%s/no/such/mem", dir);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), -ENOENT);
	cr_assert_not_null(strstr(why, "does not exist"), "%s", why);
	cr_assert_not_null(strstr(why, path), "%s", why);
	cr_assert_eq(entries(dir), 0);
}

Test(mem_file, failure_leaves_the_old_file_and_no_temporary)
{
	struct rlimit lim = { 64 << 10, 64 << 10 };
	char *old = NULL;
	size_t len = 0;

	cr_assert_eq(write_file(path, "old", 3, 0644), 0);
	fill(&m, 1, 1);
	/* EFBIG past 64 KiB (this test's process only). */
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), -EFBIG);
	cr_assert_not_null(strstr(why, path), "%s", why);
	cr_assert_eq(read_file(path, 100, &old, &len), 0);
	cr_assert_str_eq(old, "old");
	free(old);
	cr_assert_eq(entries(dir), 1);
	/* A directory at path: the rename fails, the temporary goes. */
	lim.rlim_cur = lim.rlim_max = RLIM_INFINITY;
	setrlimit(RLIMIT_FSIZE, &lim);
	path_fmt(path, sizeof(path), "%s/sub", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	cr_assert_lt(mem_file_write(&m, path, NULL, why, sizeof(why)), 0);
	cr_assert_eq(entries(dir), 2);
}

static bool bit(const uint64_t *b, uint64_t p)
{
	return (b[p / 64] >> (p % 64)) & 1;
}

static int count(const uint64_t *b, size_t pages)
{
	size_t i;
	int n = 0;

	for (i = 0; i < pages; i++)
		n += bit(b, i);
	return n;
}

Test(mem_file, dirty_marks_and_collect)
{
	size_t pages = guest_mem_pages(&m);
	uint64_t *b = calloc((pages + 63) / 64, 8);
	uint64_t low_pages = HOLE_START / PG;
	char x[PG + 2] = { 1 };

	cr_assert_eq(pages, RAM / PG);
	/* Not tracking: marks are ignored, nothing to collect. */
	guest_mem_mark_dirty(&m, 0, PG);
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), -EINVAL);
	cr_assert_eq(guest_mem_dirty_enable(&m), 0);
	cr_assert(m.track_dirty);
	cr_assert_eq(guest_mem_dirty_enable(&m), 0);
	guest_mem_mark_dirty(&m, 3 * PG + 100, 10);	   /* page 3 */
	guest_mem_mark_dirty(&m, 63 * PG + 1, 2 * PG);	   /* 63, 64, 65: across a word */
	guest_mem_mark_dirty(&m, 100 * PG, 0);		   /* nothing */
	guest_mem_mark_dirty(&m, HOLE_START - PG, 3 * PG); /* the last low page; the rest is hole */
	guest_mem_mark_dirty(&m, HOLE_END - PG, 2 * PG);   /* first page of region 1 */
	guest_mem_mark_dirty(&m, HOLE_END + RAM, PG);	   /* beyond RAM */
	guest_mem_mark_dirty(&m, UINT64_MAX - 10, 100);	   /* wraps */
	cr_assert_eq(guest_write(&m, HOLE_END + 10 * PG - 1, x, 2), 0); /* region 1: 9, 10 */
	cr_assert_eq(guest_write(&m, HOLE_START, x, 1), -EFAULT);
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), 0);
	cr_assert(bit(b, 3));
	cr_assert(bit(b, 63) && bit(b, 64) && bit(b, 65));
	cr_assert(bit(b, low_pages - 1));
	cr_assert(bit(b, low_pages));
	cr_assert(bit(b, low_pages + 9) && bit(b, low_pages + 10));
	cr_assert_eq(count(b, pages), 8, "%d", count(b, pages));
	/* Collected: the next collect starts empty. */
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), 0);
	cr_assert_eq(count(b, pages), 0);
	/* All of RAM. */
	guest_mem_mark_dirty(&m, 0, UINT64_MAX);
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), 0);
	cr_assert_eq(count(b, pages), (int)pages);
	free(b);
}

Test(mem_file, dirty_restore_gives_back_what_a_failed_snapshot_collected)
{
	size_t pages = guest_mem_pages(&m);
	uint64_t *b = calloc((pages + 63) / 64, 8);

	/* Not tracking: nothing to give back to, nothing happens. */
	b[0] = 1;
	guest_mem_dirty_restore(&m, b);
	cr_assert_eq(guest_mem_dirty_enable(&m), 0);
	guest_mem_mark_dirty(&m, 3 * PG, PG);
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), 0);
	cr_assert_eq(count(b, pages), 1);
	/* The snapshot failed: its pages and the ones written since come back together. */
	guest_mem_dirty_restore(&m, b);
	guest_mem_mark_dirty(&m, 70 * PG, PG);
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), 0);
	cr_assert(bit(b, 3) && bit(b, 70));
	cr_assert_eq(count(b, pages), 2);
	free(b);
}

Test(mem_file, unmarked_writes_add_the_resident_pages_once)
{
	size_t pages = guest_mem_pages(&m);
	uint64_t *b = calloc((pages + 63) / 64, 8);

	cr_assert_eq(guest_mem_dirty_enable(&m), 0);
	fill(&m, 7, 1); /* a loader's memcpy: no mark */
	m.unmarked_writes = true;
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), 0);
	cr_assert(bit(b, 7));
	if (m.untouched_zero) /* no swap: mincore is trusted, untouched pages are not in */
		cr_assert_not(bit(b, 100));
	cr_assert_not(m.unmarked_writes);
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), 0);
	cr_assert_eq(count(b, pages), 0, "once");
	free(b);
}

Test(mem_file, virtq_push_marks_the_chain_and_the_used_ring)
{
	static struct virtq q;
	static struct virtq_elem e;
	size_t pages = guest_mem_pages(&m);
	uint64_t *b = calloc((pages + 63) / 64, 8);
	struct vring_desc *d = gpa_to_hva(&m, 0x1000, 16 * 4);
	struct vring_avail *a = gpa_to_hva(&m, 0x2000, 6 + 2 * 4);

	cr_assert_eq(guest_mem_dirty_enable(&m), 0);
	q.size = 4;
	q.desc_gpa = 0x1000;
	q.avail_gpa = 0x2000;
	q.used_gpa = 0x3000;
	cr_assert_eq(virtq_setup(&q, &m, 256, why, sizeof(why)), 0, "%s", why);
	d[0] = (struct vring_desc){
		.addr = 0x10000, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 1
	};
	d[1] = (struct vring_desc){ .addr = 0x20000, .len = 2 * PG, .flags = VRING_DESC_F_WRITE };
	a->ring[0] = 0;
	a->idx = 1;
	cr_assert_eq(virtq_pop(&q, &e, why, sizeof(why)), 1, "%s", why);
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), 0);
	virtq_push(&q, e.head, 5);
	cr_assert_eq(guest_mem_dirty_collect(&m, -1, b), 0);
	cr_assert(bit(b, 0x20) && bit(b, 0x21));
	cr_assert(bit(b, 0x3));
	cr_assert_not(bit(b, 0x10), "the readable segment is not written");
	cr_assert_eq(count(b, pages), 3);
	free(b);
}

static void flat_seg(struct kvm_segment *sg, uint16_t sel, uint8_t type)
{
	*sg = (struct kvm_segment){ .base = 0,
				    .limit = 0xffffffff,
				    .selector = sel,
				    .type = type,
				    .present = 1,
				    .db = 1,
				    .s = 1,
				    .g = 1 };
}

/* The guest's own writes come from KVM's dirty log, slot by slot, each at its
 * offset in the mapping: a 32-bit flat guest writes a page of each region. */
Test(mem_file, kvm_dirty_log_of_both_slots)
{
	/* mov dword [0x3000], 1; mov dword [HOLE_END + 0x1000], 2; hlt */
	static const uint8_t code[] = { 0xc7, 0x05, 0x00, 0x30, 0x00, 0x00, 0x01,
					0x00, 0x00, 0x00, 0xc7, 0x05, 0x00, 0x10,
					0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0xf4 };
	size_t pages = guest_mem_pages(&m);
	uint64_t *b = calloc((pages + 63) / 64, 8);
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	struct kvm_sregs sregs;
	struct kvm_run *run;
	int kvm, vm, vcpu, i, size;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		cr_skip_test("no /dev/kvm");
	cr_assert_eq(HOLE_END + 0x1000, 0x1001000ULL);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	cr_assert_geq(vm, 0);
	cr_assert_eq(ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL), 0);
	cr_assert_eq(guest_mem_dirty_enable(&m), 0);
	for (i = 0; i < m.nregions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)i,
			.flags = KVM_MEM_LOG_DIRTY_PAGES,
			.guest_phys_addr = m.regions[i].gpa,
			.memory_size = m.regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)m.regions[i].hva,
		};

		cr_assert_eq(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r), 0, "%s", strerror(errno));
	}
	cr_assert_eq(guest_write(&m, 0x1000, code, sizeof(code)), 0); /* VMM: page 1 */
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	cr_assert_geq(vcpu, 0);
	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	cr_assert_neq(run, MAP_FAILED);
	cr_assert_eq(ioctl(vcpu, KVM_GET_SREGS, &sregs), 0);
	flat_seg(&sregs.cs, 8, 11);
	flat_seg(&sregs.ds, 16, 3);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = 0x11; /* PE, ET */
	cr_assert_eq(ioctl(vcpu, KVM_SET_SREGS, &sregs), 0);
	cr_assert_eq(ioctl(vcpu, KVM_SET_REGS, &regs), 0);
	cr_assert_eq(ioctl(vcpu, KVM_RUN, 0), 0, "%s", strerror(errno));
	cr_assert_eq(run->exit_reason, KVM_EXIT_HLT, "exit %u", run->exit_reason);
	cr_assert_eq(*(uint32_t *)(m.base + 0x3000), 1);
	cr_assert_eq(*(uint32_t *)(m.base + HOLE_START + 0x1000), 2);
	cr_assert_eq(guest_mem_dirty_collect(&m, vm, b), 0);
	cr_assert(bit(b, 1), "the VMM's write");
	cr_assert(bit(b, 3), "the guest's write in slot 0");
	cr_assert(bit(b, HOLE_START / PG + 1), "the guest's write in slot 1");
	cr_assert_eq(count(b, pages), 3, "%d pages", count(b, pages));
	/* KVM's log was cleared by the collect. */
	cr_assert_eq(guest_mem_dirty_collect(&m, vm, b), 0);
	cr_assert_eq(count(b, pages), 0);
	munmap(run, (size_t)size);
	close(vcpu);
	close(vm);
	close(kvm);
	free(b);
}

static pid_t handler = -1;

static void stop_handler(void)
{
	if (handler > 0) {
		kill(handler, SIGKILL);
		waitpid(handler, NULL, 0);
	}
}

/* Starts tests/uffd_handler on sock, serving file; waits for it to listen. */
static void start_handler(const char *exe, const char *sock, const char *file)
{
	char line[128] = "";
	int p[2];
	FILE *f;

	cr_assert_eq(pipe(p), 0);
	handler = fork();
	/* No assertion in the child: with --full-stats even a passing one
	 * sends the runner a message from a process it does not know. */
	if (!handler) {
		dup2(p[1], 1);
		close(p[0]);
		execl(exe, exe, sock, file, (char *)NULL);
		_exit(127);
	}
	cr_assert_geq(handler, 0);
	close(p[1]);
	f = fdopen(p[0], "r");
	cr_assert_not_null(fgets(line, sizeof(line), f), "the handler did not start");
	fclose(f);
	cr_assert_str_eq(line, "uffd_handler: ready\n");
}

Test(mem_file, uffd_pages_come_from_the_handler)
{
	const char *exe = getenv("UFFD_HANDLER");
	struct guest_mem_source src = { .kind = GUEST_MEM_UFFD };
	char sock[PATH_MAX];
	uint32_t v = 0x12345678;
	uint64_t i;
	int err;

	if (!exe)
		cr_skip_test("UFFD_HANDLER not set (meson test sets it)");
	for (i = 0; i < RAM / PG; i += 3)
		fill(&m, i, (int)i);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	path_fmt(sock, sizeof(sock), "%s/uffd.sock", dir);
	start_handler(exe, sock, path);
	src.path = sock;
	err = guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why));
	if (err == -EPERM || err == -ENOSYS) {
		stop_handler();
		cr_skip_test("userfaultfd not permitted here: %s", why);
	}
	cr_assert_eq(err, 0, "%s", why);
	cr_assert_eq(m2.kind, GUEST_MEM_UFFD);
	cr_assert_geq(m2.uffd, 0);
	/* Every page faults in from the handler, region 1 at its offset. */
	cr_assert_eq(memcmp(m2.base, m.base, RAM), 0);
	cr_assert_eq(guest_write(&m2, HOLE_END + PG, &v, sizeof(v)), 0);
	cr_assert_eq(*(uint32_t *)(m2.base + HOLE_START + PG), v);
	/* The balloon's discard: the handler unregisters, the pages read zero. */
	cr_assert_eq(madvise(m2.base + 6 * PG, 3 * PG, MADV_DONTNEED), 0);
	for (i = 6 * PG; i < 9 * PG; i++)
		cr_assert_eq(m2.base[i], 0);
	cr_assert_eq(memcmp(m2.base + 9 * PG, m.base + 9 * PG, PG), 0);
	/* The handler took its one connection: nobody listens any more. */
	guest_mem_free(&m2);
	err = guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why));
	cr_assert_neq(err, 0, "the handler serves one VM only");
	cr_assert_not_null(strstr(why, sock), "%s", why);
	stop_handler();
}

Test(mem_file, uffd_snapshot_of_a_uffd_vm)
{
	const char *exe = getenv("UFFD_HANDLER");
	struct guest_mem_source src = { .kind = GUEST_MEM_UFFD };
	char sock[PATH_MAX], path2[PATH_MAX];
	uint8_t *buf = malloc(RAM);
	uint64_t i;
	int err;

	if (!exe)
		cr_skip_test("UFFD_HANDLER not set (meson test sets it)");
	for (i = 0; i < RAM / PG; i += 5)
		fill(&m, i, 3);
	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	path_fmt(sock, sizeof(sock), "%s/uffd.sock", dir);
	start_handler(exe, sock, path);
	src.path = sock;
	err = guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why));
	if (err == -EPERM || err == -ENOSYS) {
		stop_handler();
		cr_skip_test("userfaultfd not permitted here: %s", why);
	}
	cr_assert_eq(err, 0, "%s", why);
	/* Nothing faulted in yet: a snapshot must still hold every page. */
	path_fmt(path2, sizeof(path2), "%s/mem2", dir);
	cr_assert_eq(mem_file_write(&m2, path2, NULL, why, sizeof(why)), 0, "%s", why);
	read_all(path2, buf, RAM);
	cr_assert_eq(memcmp(buf, m.base, RAM), 0);
	guest_mem_free(&m2);
	stop_handler();
	free(buf);
}

Test(mem_file, uffd_without_a_handler_names_the_socket)
{
	struct guest_mem_source src = { .kind = GUEST_MEM_UFFD };
	char sock[PATH_MAX];
	int err;

	path_fmt(sock, sizeof(sock), "%s/nobody.sock", dir);
	src.path = sock;
	err = guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why));
	cr_assert_lt(err, 0);
	cr_assert_not_null(strstr(why, sock), "%s", why);
	cr_assert_null(m2.base);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 128 MiB of RAM, 16 MiB of it touched (every 8th page): zero and untouched
 * pages cost no system call. */
Test(mem_file, speed_128m_16m_touched)
{
	const uint64_t ram = 128ULL << 20;
	struct stat st;
	double t;
	uint64_t i;

	cr_assert_eq(guest_mem_map(&m2, ram, ram, ram), 0);
	for (i = 0; i < ram / PG; i += 8)
		fill(&m2, i, 1);
	t = now();
	cr_assert_eq(mem_file_write(&m2, path, NULL, why, sizeof(why)), 0, "%s", why);
	t = now() - t;
	cr_assert_eq(stat(path, &st), 0);
	fprintf(stderr,
		"mem_file_write: 128 MiB RAM, %llu pages (16 MiB) touched: %.1f ms, %llu KiB on "
		"disk\n",
		(unsigned long long)(ram / PG / 8), t * 1e3, (unsigned long long)st.st_blocks / 2);
	cr_assert_lt(t, 5.0);
}

/* The same 16 MiB in runs of 1 MiB: a few large writes. */
Test(mem_file, speed_128m_16m_in_runs)
{
	const uint64_t ram = 128ULL << 20;
	double t;
	uint64_t i;

	cr_assert_eq(guest_mem_map(&m2, ram, ram, ram), 0);
	for (i = 0; i < ram / PG; i++)
		if ((i / 256) % 8 == 0)
			fill(&m2, i, 1);
	t = now();
	cr_assert_eq(mem_file_write(&m2, path, NULL, why, sizeof(why)), 0, "%s", why);
	t = now() - t;
	fprintf(stderr, "mem_file_write: 128 MiB RAM, 16 MiB touched in 1 MiB runs: %.1f ms\n",
		t * 1e3);
	cr_assert_lt(t, 5.0);
}

/* --- huge_pages "2M": hugetlbfs pages behind guest memory -------------------------- */

#define HUGE (2ULL << 20)

/* 2 MiB pages this process may still reserve (free, not promised to a
 * mapping); 0 when the host has no pool. */
static uint64_t huge_pages_available(void)
{
	unsigned long long v[2] = { 0, 0 };
	const char *f[2] = { "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
			     "/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages" };

	for (int i = 0; i < 2; i++) {
		FILE *fp = fopen(f[i], "r");

		if (!fp || fscanf(fp, "%llu", &v[i]) != 1)
			v[i] = 0;
		if (fp)
			fclose(fp);
	}
	return v[0] > v[1] ? v[0] - v[1] : 0;
}

Test(mem_file, hugetlb_refuses_a_memory_file_and_partial_pages)
{
	struct guest_mem_source src = { .kind = GUEST_MEM_FILE, .path = path, .hugetlb_2m = true };

	cr_assert_eq(mem_file_write(&m, path, NULL, why, sizeof(why)), 0, "%s", why);
	/* Firecracker's words: such a snapshot is restored through a handler. */
	cr_assert_eq(guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why)),
		     -EINVAL);
	cr_assert_str_eq(why, "Failed to load guest memory: Error creating guest memory from "
			      "file: Cannot restore hugetlbfs backed snapshot by mapping the "
			      "memory file. Please use uffd.");
	cr_assert_null(m2.base);
	src.kind = GUEST_MEM_ANON;
	cr_assert_eq(
		guest_mem_map_from(&m2, RAM + PG, HOLE_START, HOLE_END, &src, why, sizeof(why)),
		-EINVAL);
	cr_assert_not_null(strstr(why, "not made of whole 2 MiB pages"), "%s", why);
	cr_assert_eq(
		guest_mem_map_from(&m2, RAM, HOLE_START + PG, HOLE_END, &src, why, sizeof(why)),
		-EINVAL);
	cr_assert_null(m2.base);
}

Test(mem_file, hugetlb_pool_too_small_is_named_when_mapped)
{
	struct guest_mem_source src = { .kind = GUEST_MEM_ANON, .hugetlb_2m = true };
	uint64_t avail = huge_pages_available(), ram = (avail + 1) * HUGE;
	FILE *f = fopen("/proc/sys/vm/nr_overcommit_hugepages", "r");
	unsigned long long surplus = 0;

	if (f && fscanf(f, "%llu", &surplus) != 1)
		surplus = 0;
	if (f)
		fclose(f);
	/* Surplus pages would let the mapping grow the pool past its size. */
	if (ram > (1ULL << 30) || surplus)
		cr_skip_test("this host has %llu free 2 MiB pages and %llu surplus",
			     (unsigned long long)avail, surplus);
	/* Reserved when mapped: the shortage is an error now, not a SIGBUS
	 * when the guest touches its last pages. */
	cr_assert_eq(guest_mem_map_from(&m2, ram, ram, ram + HUGE, &src, why, sizeof(why)), -ENOMEM,
		     "%s", why);
	cr_assert_not_null(strstr(why, "huge_pages 2M: the host has fewer than"), "%s", why);
	cr_assert_not_null(strstr(why, "vm.nr_hugepages"), "%s", why);
	cr_assert_null(m2.base);
}

Test(mem_file, hugetlb_ram_discard_snapshot_and_handler)
{
	const char *exe = getenv("UFFD_HANDLER");
	struct guest_mem_source src = { .kind = GUEST_MEM_ANON, .hugetlb_2m = true };
	char sock[PATH_MAX];
	uint8_t *buf = malloc(RAM), *file = malloc(RAM);
	uint64_t i;
	int err;

	cr_assert(buf && file);
	if (huge_pages_available() < 2 * RAM / HUGE)
		cr_skip_test("fewer than %llu free 2 MiB pages here (vm.nr_hugepages)",
			     (unsigned long long)(2 * RAM / HUGE));
	cr_assert_eq(guest_mem_map_from(&m2, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(m2.host_page_size, HUGE);
	for (i = 0; i < RAM / PG; i += 3)
		fill(&m2, i, 9);
	memcpy(buf, m2.base, RAM);
	/* A 4 KiB discard (the balloon's) leaves a huge page as it was; a
	 * whole one reads zeros. */
	cr_assert_eq(guest_mem_discard(&m2, m2.base + 3 * PG, PG), 0);
	cr_assert_eq(memcmp(m2.base, buf, RAM), 0);
	cr_assert_eq(guest_mem_discard(&m2, m2.base + HUGE - PG, HUGE + PG), 0);
	cr_assert_eq(memcmp(m2.base, buf, HUGE), 0);
	for (i = HUGE; i < 2 * HUGE; i++)
		cr_assert_eq(m2.base[i], 0);
	memset(buf + HUGE, 0, HUGE);
	/* A snapshot of it, restored through the handler in 2 MiB pages. */
	cr_assert_eq(mem_file_write(&m2, path, NULL, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(memcmp(m2.base, buf, RAM), 0);
	guest_mem_free(&m2);
	read_all(path, file, RAM);
	cr_assert_eq(memcmp(file, buf, RAM), 0);
	if (!exe) {
		free(buf);
		free(file);
		cr_skip_test("UFFD_HANDLER not set (meson test sets it)");
	}
	path_fmt(sock, sizeof(sock), "%s/uffd.sock", dir);
	start_handler(exe, sock, path);
	src.kind = GUEST_MEM_UFFD;
	src.path = sock;
	err = guest_mem_map_from(&m3, RAM, HOLE_START, HOLE_END, &src, why, sizeof(why));
	if (err == -EPERM || err == -ENOSYS) {
		stop_handler();
		free(buf);
		free(file);
		cr_skip_test("userfaultfd not permitted here: %s", why);
	}
	cr_assert_eq(err, 0, "%s", why);
	cr_assert_eq(m3.host_page_size, HUGE);
	cr_assert_eq(memcmp(m3.base, buf, RAM), 0);
	guest_mem_free(&m3);
	stop_handler();
	free(buf);
	free(file);
}
