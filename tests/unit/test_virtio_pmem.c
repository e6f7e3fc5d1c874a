/* virtio-pmem driven like a driver (virtio_rig.h), with a stand-in for the
 * VM's map_memory: the region the guest is told of (config space), the
 * file's pages shared with it, FLUSH answered in the status, malformed
 * chains given back unanswered, and the files a device refuses. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_pmem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/virtio_pmem.h"
#include "virtio_rig.h"

#define PMEM_GPA 0x100000000ULL

static void *mapped_hva;
static uint64_t mapped_size;
static bool mapped_ro;

static int fake_map(void *ctx, void *hva, uint64_t size, bool read_only, uint64_t *gpa)
{
	(void)ctx;
	mapped_hva = hva;
	mapped_size = size;
	mapped_ro = read_only;
	*gpa = PMEM_GPA;
	return 0;
}

static char dir[64], file[96];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/volt-pmem-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/pmem.img", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(pmem, .init = setup, .fini = teardown);

static void make_file(off_t size)
{
	int fd = open(file, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);

	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
}

static struct virtio_pmem *pmem_rig(struct rig *r, bool read_only, int *err)
{
	struct pmem_config c = { .read_only = read_only };
	struct virtio_pmem *p = NULL;

	snprintf(c.path, sizeof(c.path), "%s", file);
	rig_init(r);
	r->env.map_memory = fake_map;
	*err = virtio_pmem_create(&p, &c, NULL, &r->env, RIG_BASE, 5);
	return p;
}

static uint64_t config_u64(struct rig *r, uint32_t off)
{
	return rig_rd(r, VIRTIO_MMIO_CONFIG + off) |
	       (uint64_t)rig_rd(r, VIRTIO_MMIO_CONFIG + off + 4) << 32;
}

static uint32_t used_len(struct rig *r, uint16_t i)
{
	struct vring_used *used = gpa_to_hva(&r->mem, RIG_QBASE(0) + 0x2000, 6 + 8 * RIG_QSIZE);

	return used->ring[i % RIG_QSIZE].len;
}

Test(pmem, region_flush_and_malformed_requests, .timeout = 20)
{
	struct rig r;
	int err;
	struct virtio_pmem *p;
	uint32_t *req = NULL, *status;
	char back[6];
	int fd;

	make_file(3 << 20); /* not a multiple of 2 MiB: rounded up */
	p = pmem_rig(&r, false, &err);
	cr_assert_eq(err, 0);
	cr_assert_eq(mapped_size, 4 << 20);
	cr_assert_not(mapped_ro);
	/* The guest writes the file's pages directly. */
	memcpy((char *)mapped_hva + 4096, "volt!", 6);

	r.d = virtio_pmem_dev(p);
	cr_assert_eq(rig_rd(&r, VIRTIO_MMIO_DEVICE_ID), 27);
	cr_assert_eq(config_u64(&r, 0), PMEM_GPA);
	cr_assert_eq(config_u64(&r, 8), 4 << 20);
	rig_driver_ok(&r, 1);

	req = gpa_to_hva(&r.mem, RIG_DATA, 4);
	status = gpa_to_hva(&r.mem, RIG_DATA + 16, 4);
	*req = VIRTIO_PMEM_REQ_TYPE_FLUSH;
	*status = 0x55555555;
	{
		struct rig_seg s[] = { { RIG_DATA, 4, false }, { RIG_DATA + 16, 4, true } };

		rig_chain(&r, 0, s, 2, true);
	}
	cr_assert(rig_wait_used(&r, 0, 1, 2000));
	cr_assert_eq(used_len(&r, 0), 4);
	cr_assert_eq(*status, 0);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(pread(fd, back, sizeof(back), 4096), (ssize_t)sizeof(back));
	close(fd);
	cr_assert_str_eq(back, "volt!");

	/* An unknown type, a short status, a request split over two
	 * descriptors (fine), a status that is not writable. */
	*req = 7;
	*status = 0x55555555;
	{
		struct rig_seg s[] = { { RIG_DATA, 4, false }, { RIG_DATA + 16, 4, true } };

		rig_chain(&r, 0, s, 2, true);
	}
	cr_assert(rig_wait_used(&r, 0, 2, 2000));
	cr_assert_eq(used_len(&r, 1), 0);
	cr_assert_eq(*status, 0x55555555, "no status for a malformed request");
	*req = VIRTIO_PMEM_REQ_TYPE_FLUSH;
	{
		struct rig_seg s[] = { { RIG_DATA, 4, false }, { RIG_DATA + 16, 2, true } };

		rig_chain(&r, 0, s, 2, true);
	}
	cr_assert(rig_wait_used(&r, 0, 3, 2000));
	cr_assert_eq(used_len(&r, 2), 0);
	{
		struct rig_seg s[] = { { RIG_DATA, 2, false },
				       { RIG_DATA + 2, 2, false },
				       { RIG_DATA + 16, 4, true } };

		rig_chain(&r, 0, s, 3, true);
	}
	cr_assert(rig_wait_used(&r, 0, 4, 2000));
	cr_assert_eq(used_len(&r, 3), 4);
	cr_assert_eq(*status, 0);
	{
		struct rig_seg s[] = { { RIG_DATA, 4, false }, { RIG_DATA + 16, 4, false } };

		rig_chain(&r, 0, s, 2, true);
	}
	cr_assert(rig_wait_used(&r, 0, 5, 2000));
	cr_assert_eq(used_len(&r, 4), 0);
	/* The device still serves. */
	cr_assert_eq(rig_rd(&r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	rig_stop(&r);
	virtio_pmem_destroy(p);
	rig_free(&r);
}

/* The file cut on the host: what the guest wrote past the new end is gone,
 * and msync says nothing of it; the flush fails, the device goes on. */
Test(pmem, flush_fails_once_the_file_was_cut, .timeout = 20)
{
	struct rig_seg s[] = { { RIG_DATA, 4, false }, { RIG_DATA + 16, 4, true } };
	struct virtio_pmem *p;
	uint32_t *req, *status;
	struct rig r;
	int err;

	make_file(2 << 20);
	p = pmem_rig(&r, false, &err);
	cr_assert_eq(err, 0);
	r.d = virtio_pmem_dev(p);
	rig_driver_ok(&r, 1);
	req = gpa_to_hva(&r.mem, RIG_DATA, 4);
	status = gpa_to_hva(&r.mem, RIG_DATA + 16, 4);
	*req = VIRTIO_PMEM_REQ_TYPE_FLUSH;
	cr_assert_eq(truncate(file, 4096), 0);
	*status = 0x55555555;
	rig_chain(&r, 0, s, 2, true);
	cr_assert(rig_wait_used(&r, 0, 1, 2000));
	cr_assert_eq(used_len(&r, 0), 4);
	cr_assert_eq(*status, (uint32_t)-1, "a flush of a cut file succeeded");
	cr_assert_eq(rig_rd(&r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	rig_stop(&r);
	virtio_pmem_destroy(p);
	rig_free(&r);
}

Test(pmem, read_only_maps_read_only)
{
	struct rig r;
	int err;
	struct virtio_pmem *p;

	make_file(2 << 20);
	p = pmem_rig(&r, true, &err);
	cr_assert_eq(err, 0);
	cr_assert(mapped_ro);
	cr_assert_eq(mapped_size, 2 << 20);
	virtio_pmem_destroy(p);
	rig_free(&r);
}

/* An empty file, a directory, a FIFO (no writer: the open must not block),
 * a missing file: refused, nothing mapped. */
Test(pmem, files_a_device_refuses, .timeout = 10)
{
	struct rig r;
	int err;
	struct virtio_pmem *p;

	make_file(0);
	p = pmem_rig(&r, false, &err);
	cr_assert_eq(err, -EINVAL);
	virtio_pmem_destroy(p);
	rig_free(&r);

	snprintf(file, sizeof(file), "%s", dir);
	p = pmem_rig(&r, false, &err);
	cr_assert_neq(err, 0);
	virtio_pmem_destroy(p);
	rig_free(&r);

	snprintf(file, sizeof(file), "%s/fifo", dir);
	cr_assert_eq(mkfifo(file, 0600), 0);
	p = pmem_rig(&r, true, &err);
	cr_assert_neq(err, 0);
	virtio_pmem_destroy(p);
	rig_free(&r);

	snprintf(file, sizeof(file), "%s/missing", dir);
	p = pmem_rig(&r, false, &err);
	cr_assert_eq(err, -ENOENT);
	virtio_pmem_destroy(p);
	rig_free(&r);
}

/* The parser alone: only a 4-byte FLUSH with a 4-byte status is answered. */
Test(pmem, handle_alone)
{
	uint32_t type = VIRTIO_PMEM_REQ_TYPE_FLUSH, st = 9;
	struct virtq_elem e = { .out_num = 1, .in_num = 1, .out_len = 4, .in_len = 4 };
	char why[128];

	e.iov[0] = (struct iovec){ &type, 4 };
	e.iov[1] = (struct iovec){ &st, 4 };
	cr_assert_eq(virtio_pmem_handle(&e, -1, why, sizeof(why)), 4);
	cr_assert_eq(st, 0xffffffffu);
	e.in_len = 8;
	cr_assert_eq(virtio_pmem_handle(&e, 0, why, sizeof(why)), 0);
	cr_assert(strstr(why, "4 and 4"), "%s", why);
}
