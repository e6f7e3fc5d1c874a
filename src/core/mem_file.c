#include "core/mem_file.h"

#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE	    GUEST_MEM_PAGE_SIZE
#define CHUNK_PAGES 4096ULL    /* pages per residency query: 16 MiB of RAM */
#define MERGE_CHUNK (1U << 20) /* bytes read at a time from a Diff's base */

/* Consecutive pages to write, gathered into one pwrite(). */
struct run {
	int fd;
	const uint8_t *base;
	uint64_t start, len; /* bytes, offsets in base and in the file */
};

static int flush(struct run *r)
{
	int err = pwrite_all(r->fd, r->base + r->start, r->len, (off_t)r->start);

	r->start += r->len;
	r->len = 0;
	return err;
}

static int add(struct run *r, uint64_t page)
{
	uint64_t off = page * PAGE;
	int err;

	if (r->len && r->start + r->len == off) {
		r->len += PAGE;
		return 0;
	}
	err = flush(r);
	r->start = off;
	r->len = PAGE;
	return err;
}

static bool page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	size_t i, j;

	/* Eight words at a time: a page with data usually says so early. */
	for (i = 0; i < PAGE / 8; i += 8) {
		uint64_t acc = 0;

		for (j = 0; j < 8; j++)
			acc |= w[i + j];
		if (acc)
			return false;
	}
	return true;
}

/* mincore() on anonymous memory: a page never touched is not resident, and
 * reads as zero. But a swapped-out page is not resident either, though it
 * holds data: mincore is trusted only where the host had no swap when RAM
 * was mapped (guest_mem.untouched_zero); otherwise every page is read. */
static int resident(const struct guest_mem *m, bool use_mincore, uint64_t first, uint64_t n,
		    unsigned char *vec)
{
	if (!use_mincore) {
		memset(vec, 1, (size_t)n);
		return 0;
	}
	return mincore(m->base + first * PAGE, n * PAGE, vec) ? -errno : 0;
}

static bool selected(const uint64_t *pages, uint64_t p)
{
	return (pages[p / 64] >> (p % 64)) & 1;
}

static int write_pages(const struct guest_mem *m, int fd, const uint64_t *pages)
{
	uint64_t npages = guest_mem_pages(m), first, i;
	struct run r = { .fd = fd, .base = m->base };
	unsigned char *vec;
	bool use_mincore;
	int err = 0;

	if (pages) {
		/* A Diff: every selected page, zero or not (mem_file.h). */
		for (i = 0; i < npages && !err; i++) {
			if (!pages[i / 64] && i % 64 == 0) {
				i += 63;
				continue;
			}
			if (selected(pages, i))
				err = add(&r, i);
		}
		return err ? err : flush(&r);
	}
	/* FILE and UFFD memory is read page by page: mincore cannot tell a
	 * page the guest wrote (an anonymous copy) from one merely read in
	 * from the memory file (page cache), and a page a handler has not
	 * served yet is not resident but holds the snapshot's data. */
	use_mincore = m->kind == GUEST_MEM_ANON && m->untouched_zero;
	vec = calloc(CHUNK_PAGES, 1);
	if (!vec)
		return -ENOMEM;
	for (first = 0; first < npages && !err; first += CHUNK_PAGES) {
		uint64_t n = npages - first < CHUNK_PAGES ? npages - first : CHUNK_PAGES;

		err = resident(m, use_mincore, first, n, vec);
		for (i = 0; i < n && !err; i++) {
			if (vec[i] && !page_zero(m->base + (first + i) * PAGE))
				err = add(&r, first + i);
		}
	}
	if (!err)
		err = flush(&r);
	free(vec);
	return err;
}

/* A Diff written where a memory file of RAM's size already is merges onto it,
 * as Firecracker's snapshot_memory_to_file does: the new file starts as a copy
 * of that file's data ranges (its holes stay holes), the dirty pages then go
 * over it. The copy goes to the temporary file, so the old one is intact until
 * the rename (and a VM restored from it, which maps it, keeps its pages).
 * 0 when there is nothing to merge (no file, another size: Firecracker
 * truncates it), or -errno with *what naming the step. */
static int copy_base(const struct guest_mem *m, const char *path, int dst, const char **what)
{
	char why[128];
	struct stat st;
	uint8_t *buf;
	off_t off = 0;
	int src, err;

	err = open_input(path, O_RDONLY, INPUT_FILE, &src, &st, why, sizeof(why));
	if (err == -ENOENT)
		return 0;
	if (err) {
		*what = "the file there to merge onto: ";
		return err;
	}
	if ((uint64_t)st.st_size != m->map_size) {
		close(src);
		return 0;
	}
	buf = malloc(MERGE_CHUNK);
	if (!buf) {
		close(src);
		return -ENOMEM;
	}
	*what = "merging onto the file there: ";
	while (!err && (uint64_t)off < m->map_size) {
		off_t data = lseek(src, off, SEEK_DATA), hole;

		if (data < 0) {
			err = errno == ENXIO ? 0 : -errno; /* ENXIO: no data past off */
			break;
		}
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0) {
			err = -errno;
			break;
		}
		/* Never past RAM's size: the file may grow while it is copied. */
		if ((uint64_t)data >= m->map_size)
			break;
		if ((uint64_t)hole > m->map_size)
			hole = (off_t)m->map_size;
		for (off = data; off < hole && !err;) {
			size_t n = (uint64_t)(hole - off) < MERGE_CHUNK ? (size_t)(hole - off)
									: MERGE_CHUNK;
			struct iovec iov = { buf, n };
			ssize_t got = preadv(src, &iov, 1, off);

			if (got <= 0) {
				err = got < 0 ? -errno : -EIO;
				break;
			}
			err = pwrite_all(dst, buf, (size_t)got, off);
			off += got;
		}
	}
	free(buf);
	close(src);
	return err;
}

int mem_file_stage(const struct guest_mem *m, const char *path, const uint64_t *pages,
		   struct staged_file *f, char *why, size_t why_size)
{
	char dir[PATH_MAX];
	const char *what = "";
	int fd, err;

	f->tmp[0] = '\0';
	f->dfd = -1;
	if (!m->base || !path || !*path) {
		snprintf(why, why_size, "memory file '%s': no guest memory or no path",
			 path ? path : "");
		return -EINVAL;
	}
	fd = staged_open(f, path, dir, sizeof(dir));
	if (fd < 0) {
		if (fd == -ENAMETOOLONG)
			snprintf(why, why_size, "memory file '%s': path too long", path);
		else if (fd == -ENOENT)
			snprintf(why, why_size, "memory file '%s': directory '%s' does not exist",
				 path, dir);
		else
			snprintf(why, why_size,
				 "memory file '%s': cannot create a file in '%s': %s", path, dir,
				 strerror(-fd));
		return fd;
	}
	/* The file's size first: what is not written stays a hole. */
	err = ftruncate(fd, (off_t)m->map_size) ? -errno : 0;
	if (err)
		what = "ftruncate: ";
	if (!err && pages)
		err = copy_base(m, path, fd, &what);
	if (!err) {
		err = write_pages(m, fd, pages);
		if (err)
			what = "write: ";
	}
	if (!err && fsync(fd)) {
		err = -errno;
		what = "fsync: ";
	}
	if (close(fd) && !err) {
		err = -errno;
		what = "close: ";
	}
	if (err) {
		snprintf(why, why_size, "memory file '%s': %s%s", path, what, strerror(-err));
		staged_discard(f);
	}
	return err;
}

int mem_file_write(const struct guest_mem *m, const char *path, const uint64_t *pages, char *why,
		   size_t why_size)
{
	struct staged_file f;
	int failed, err = mem_file_stage(m, path, pages, &f, why, why_size);

	if (!err) {
		err = staged_commit(&f, 1, &failed);
		if (err)
			snprintf(why, why_size, "memory file '%s': rename: %s", path,
				 strerror(-err));
	}
	return err;
}
