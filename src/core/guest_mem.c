#include "core/guest_mem.h"
#include "util/fault_files.h"
#include "util/rust_err.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/mman.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define PAGE_SHIFT 12

/* The hotpluggable region's geometry, and its bitmaps. */
static int layout_hotplug(struct guest_mem *m, const struct guest_mem_hp_layout *l)
{
	struct guest_mem_hotplug *hp = &m->hp;

	if (!l || !l->size)
		return 0;
	if (!l->block_size || (l->block_size & (l->block_size - 1)) ||
	    l->block_size < GUEST_MEM_PAGE_SIZE || !l->slot_size || l->slot_size % l->block_size ||
	    l->size % l->slot_size || l->gpa % l->block_size ||
	    l->size / l->slot_size > GUEST_MEM_HP_MAX_SLOTS ||
	    l->gpa < m->regions[m->nregions - 1].gpa + m->regions[m->nregions - 1].size ||
	    l->size > UINT64_MAX - l->gpa || l->size > UINT64_MAX - m->size)
		return -ERANGE;
	hp->l = *l;
	hp->nblocks = l->size / l->block_size;
	hp->nslots = l->size / l->slot_size;
	hp->plugged = calloc((hp->nblocks + 63) / 64, sizeof(uint64_t));
	hp->slot_on = calloc(hp->nslots, 1);
	if (!hp->plugged || !hp->slot_on)
		return -ENOMEM;
	m->map_size += l->size;
	return 0;
}

/* Fills in everything but the mapping itself; checks the geometry. */
static int layout(struct guest_mem *m, uint64_t size, uint64_t hole_start, uint64_t hole_end,
		  const struct guest_mem_hp_layout *hp)
{
	uint64_t low = size < hole_start ? size : hole_start;

	memset(m, 0, sizeof(*m));
	m->uffd = -1;
	m->host_page_size = GUEST_MEM_PAGE_SIZE;
	if (!size || (size & 0xfff) || (hole_start & 0xfff) || hole_end < hole_start ||
	    size - low > UINT64_MAX - hole_end)
		return -EINVAL;
	m->size = m->map_size = size;
	m->regions[0] = (struct guest_mem_region){ .gpa = 0, .size = low };
	m->nregions = 1;
	if (size > low) {
		m->regions[1] = (struct guest_mem_region){ .gpa = hole_end, .size = size - low };
		m->nregions = 2;
	}
	return layout_hotplug(m, hp);
}

static void set_base(struct guest_mem *m, void *p)
{
	m->base = p;
	m->regions[0].hva = m->base;
	if (m->nregions > 1)
		m->regions[1].hva = m->base + m->regions[0].size;
	if (m->hp.l.size)
		m->hp.hva = m->base + m->size;
	/* Guest RAM never belongs in a core dump of the VMM. */
	madvise(p, m->map_size, MADV_DONTDUMP);
}

static int map_anon(struct guest_mem *m)
{
	/* hugetlbfs: reserved now, so that a short pool fails here. */
	int flags = m->host_page_size == GUEST_MEM_HUGE_PAGE_SIZE
			    ? MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB
			    : MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p = mmap(NULL, m->map_size, PROT_READ | PROT_WRITE, flags, -1, 0);
	struct sysinfo si;

	if (p == MAP_FAILED)
		return -errno;
	set_base(m, p);
	/* Swap configured later makes mincore() miss swapped-out pages; the
	 * host's swap is a setup matter, checked once here. */
	m->untouched_zero = !sysinfo(&si) && si.totalswap == 0;
	return 0;
}

/* Why map_anon() failed (into buf): with 2 MiB pages, most likely the
 * host's pool. */
static const char *map_anon_why(const struct guest_mem *m, int err, char *buf, size_t size)
{
	if (m->host_page_size == GUEST_MEM_HUGE_PAGE_SIZE && err == -ENOMEM) {
		snprintf(buf, size,
			 "huge_pages 2M: the host has fewer than %llu free 2 MiB pages "
			 "(HugePages_Free in /proc/meminfo; vm.nr_hugepages sets the pool)",
			 (unsigned long long)(m->map_size / GUEST_MEM_HUGE_PAGE_SIZE));
		return buf;
	}
	snprintf(buf, size, "mmap: %s%s", strerror(-err),
		 m->host_page_size == GUEST_MEM_HUGE_PAGE_SIZE ? " (huge_pages 2M)" : "");
	return buf;
}

/* huge_pages "2M": Firecracker restores such a VM through a page-fault
 * handler only; every boundary of the layout falls on a 2 MiB page. */
static int hugetlb_layout_check(const struct guest_mem *m, enum guest_mem_kind kind, char *why,
				size_t why_size)
{
	uint64_t mask = GUEST_MEM_HUGE_PAGE_SIZE - 1;
	int i;

	if (kind == GUEST_MEM_FILE) {
		snprintf(why, why_size,
			 "Failed to load guest memory: Error creating guest memory from file: "
			 "Cannot restore hugetlbfs backed snapshot by mapping the memory file. "
			 "Please use uffd.");
		return -EINVAL;
	}
	for (i = 0; i < m->nregions; i++)
		if ((m->regions[i].gpa | m->regions[i].size) & mask)
			break;
	if (i < m->nregions || (m->map_size & mask) ||
	    (m->hp.l.size && ((m->hp.l.gpa | m->hp.l.block_size) & mask))) {
		snprintf(why, why_size,
			 "huge_pages 2M: guest memory of %llu bytes (hotpluggable included) is "
			 "not made of whole 2 MiB pages",
			 (unsigned long long)m->map_size);
		return -EINVAL;
	}
	return 0;
}

int guest_mem_map(struct guest_mem *m, uint64_t size, uint64_t hole_start, uint64_t hole_end)
{
	int err = layout(m, size, hole_start, hole_end, NULL);

	if (!err)
		err = map_anon(m);
	if (err)
		guest_mem_free(m);
	return err;
}

static int map_file(struct guest_mem *m, const char *path, char *why, size_t why_size)
{
	struct stat st;
	void *p;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		err = -errno;
		/* Firecracker's chain of errors (its tests match it), then the path. */
		snprintf(why, why_size,
			 "Failed to load guest memory: Error creating guest memory from file: "
			 "Failed to load guest memory: %s (os error %d) (memory file '%s')",
			 musl_strerror(-err), -err, path);
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		snprintf(why, why_size, "memory file '%s': %s", path, strerror(-err));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		snprintf(why, why_size, "memory file '%s': not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size != m->map_size) {
		err = -EINVAL;
		snprintf(why, why_size,
			 "memory file '%s' holds %llu bytes, but guest RAM is %llu bytes%s", path,
			 (unsigned long long)st.st_size, (unsigned long long)m->map_size,
			 m->hp.l.size ? " (hotpluggable memory included)" : "");
		goto out;
	}
	/* Private: the guest's writes are copy-on-write, the file stays as it
	 * is (several VMs may restore it at once); pages are read on first use. */
	p = mmap(NULL, m->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		snprintf(why, why_size, "memory file '%s': mmap: %s", path, strerror(-err));
		goto out;
	}
	set_base(m, p);
	m->file_fd = fd; /* its size is checked before a snapshot reads the pages */
	/* A cut on the host makes reads past its new end SIGBUS: named then. */
	fault_files_mapped(p, m->map_size, path);
	return 0;
out:
	close(fd);
	return err;
}

int guest_mem_file_check(const struct guest_mem *m, char *why, size_t why_size)
{
	struct stat st;

	if (m->kind != GUEST_MEM_FILE)
		return 0;
	if (fstat(m->file_fd, &st)) {
		snprintf(why, why_size, "the memory file this VM was restored from: %s",
			 strerror(errno));
		return -EIO;
	}
	if ((uint64_t)st.st_size < m->map_size) {
		snprintf(why, why_size,
			 "the memory file this VM was restored from was cut to %llu bytes (it "
			 "had %llu): the pages past its end cannot be read",
			 (unsigned long long)st.st_size, (unsigned long long)m->map_size);
		return -EIO;
	}
	return 0;
}

static int uffd_open(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

#ifdef USERFAULTFD_IOC_NEW
	/* Where the syscall is kept from unprivileged users, access to
	 * /dev/userfaultfd may be granted instead. */
	if (fd < 0 && errno == EPERM) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev >= 0) {
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
			close(dev);
		} else {
			errno = EPERM;
		}
	}
#endif
	return fd < 0 ? -errno : fd;
}

/* How long the handshake waits for the page-fault handler to accept and to
 * read. */
#define UFFD_WAIT_MS 1000

/* Firecracker's handshake (vmm/src/persist.rs, send_uffd_handshake): one
 * message on a fresh connection, the serde_json of Vec<GuestRegionUffdMapping>
 * as the data and the userfaultfd as SCM_RIGHTS; then the connection is closed. */
static int uffd_handshake(const struct guest_mem *m, const char *path, char *why, size_t why_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char json[512], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov;
	struct msghdr msg = { 0 };
	struct cmsghdr *c;
	size_t n = 0;
	int s, i, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, why_size, "page-fault handler socket '%s': path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	json[n++] = '[';
	for (i = 0; i < m->nregions; i++)
		n += (size_t)snprintf(
			json + n, sizeof(json) - n,
			"%s{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%llu,"
			"\"page_size\":%llu,\"page_size_kib\":%llu}",
			i ? "," : "", (unsigned long long)(uintptr_t)m->regions[i].hva,
			(unsigned long long)m->regions[i].size,
			(unsigned long long)(m->regions[i].hva - m->base),
			(unsigned long long)m->host_page_size,
			(unsigned long long)m->host_page_size);
	if (m->hp.l.size)
		n += (size_t)snprintf(
			json + n, sizeof(json) - n,
			",{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%llu,"
			"\"page_size\":%llu,\"page_size_kib\":%llu}",
			(unsigned long long)(uintptr_t)m->hp.hva, (unsigned long long)m->hp.l.size,
			(unsigned long long)m->size, (unsigned long long)m->host_page_size,
			(unsigned long long)m->host_page_size);
	n += (size_t)snprintf(json + n, sizeof(json) - n, "]");
	/* Non-blocking, with a bound: a handler that does not accept (its
	 * backlog full) or does not read must not hang volt; one at work
	 * takes this small message at once. */
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0) {
		err = -errno;
		snprintf(why, why_size, "page-fault handler socket '%s': %s", path, strerror(-err));
		return err;
	}
	for (i = 0; connect(s, (struct sockaddr *)&sa, sizeof(sa)); i++) {
		if ((errno == EAGAIN || errno == EINTR) && i < UFFD_WAIT_MS / 10) {
			poll(NULL, 0, 10);
			continue;
		}
		err = -errno;
		/* Firecracker's chain of errors, which its tests match, then the path. */
		snprintf(why, why_size,
			 "Failed to load guest memory: Error creating guest memory from uffd: "
			 "Failed to connect to UDS Unix stream: %s (os error %d) (the page-fault "
			 "handler at '%s')",
			 musl_strerror(-err), -err, path);
		goto out;
	}
	iov = (struct iovec){ .iov_base = json, .iov_len = n };
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &m->uffd, sizeof(int));
	for (;;) {
		ssize_t r = sendmsg(s, &msg, MSG_NOSIGNAL);
		struct pollfd out = { .fd = s, .events = POLLOUT };

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN && poll(&out, 1, UFFD_WAIT_MS) > 0)
			continue;
		if (r < 0) {
			err = -errno;
			snprintf(why, why_size, "page-fault handler socket '%s': sendmsg: %s", path,
				 strerror(-err));
			goto out;
		}
		/* A stream socket takes a message this small whole. */
		err = (size_t)r == n ? 0 : -EIO;
		if (err)
			snprintf(why, why_size, "page-fault handler socket '%s': short send", path);
		break;
	}
out:
	close(s);
	return err;
}

static int map_uffd(struct guest_mem *m, const char *path, char *why, size_t why_size)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	char buf[192];
	int err;

	err = map_anon(m);
	if (err) {
		snprintf(why, why_size, "guest RAM for '%s': %s", path,
			 map_anon_why(m, err, buf, sizeof(buf)));
		return err;
	}
	m->uffd = uffd_open();
	if (m->uffd < 0) {
		err = m->uffd;
		m->uffd = -1;
		snprintf(why, why_size, "userfaultfd for '%s': %s%s", path, strerror(-err),
			 err == -EPERM ? " (vm.unprivileged_userfaultfd is 0)" : "");
		return err;
	}
	/* EVENT_REMOVE as Firecracker asks: the balloon's MADV_DONTNEED tells
	 * the handler those pages are zero from now on. */
	if (ioctl(m->uffd, UFFDIO_API, &api)) {
		err = -errno;
		snprintf(why, why_size, "userfaultfd for '%s': UFFDIO_API: %s", path,
			 strerror(-err));
		return err;
	}
	reg.range.start = (uint64_t)(uintptr_t)m->base;
	reg.range.len = m->map_size;
	if (ioctl(m->uffd, UFFDIO_REGISTER, &reg)) {
		err = -errno;
		snprintf(why, why_size, "userfaultfd for '%s': UFFDIO_REGISTER: %s", path,
			 strerror(-err));
		return err;
	}
	return uffd_handshake(m, path, why, why_size);
}

int guest_mem_map_from(struct guest_mem *m, uint64_t size, uint64_t hole_start, uint64_t hole_end,
		       const struct guest_mem_source *src, char *why, size_t why_size)
{
	enum guest_mem_kind kind = src ? src->kind : GUEST_MEM_ANON;
	char buf[192];
	int err;

	err = layout(m, size, hole_start, hole_end, src ? &src->hotplug : NULL);
	if (err) {
		if (err == -EINVAL)
			snprintf(why, why_size,
				 "guest RAM of %llu bytes does not fit around [%#llx, %#llx)",
				 (unsigned long long)size, (unsigned long long)hole_start,
				 (unsigned long long)hole_end);
		else
			snprintf(why, why_size, "hotpluggable memory of %llu bytes at %#llx: %s",
				 (unsigned long long)src->hotplug.size,
				 (unsigned long long)src->hotplug.gpa,
				 err == -ERANGE ? "not a whole number of slots after guest RAM"
						: strerror(-err));
		guest_mem_free(m);
		return err;
	}
	if (kind != GUEST_MEM_ANON && (!src->path || !*src->path)) {
		snprintf(why, why_size, "no %s path",
			 kind == GUEST_MEM_FILE ? "memory file" : "socket");
		guest_mem_free(m);
		return -EINVAL;
	}
	if (src && src->hugetlb_2m) {
		err = hugetlb_layout_check(m, kind, why, why_size);
		if (err) {
			guest_mem_free(m);
			return err;
		}
		m->host_page_size = GUEST_MEM_HUGE_PAGE_SIZE;
	}
	m->kind = kind;
	switch (kind) {
	case GUEST_MEM_ANON:
		err = map_anon(m);
		if (err)
			snprintf(why, why_size, "guest RAM: %s",
				 map_anon_why(m, err, buf, sizeof(buf)));
		break;
	case GUEST_MEM_FILE:
		err = map_file(m, src->path, why, why_size);
		break;
	case GUEST_MEM_UFFD:
		err = map_uffd(m, src->path, why, why_size);
		break;
	default:
		snprintf(why, why_size, "unknown guest memory backing %d", (int)kind);
		err = -EINVAL;
	}
	if (err)
		guest_mem_free(m);
	return err;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->kind == GUEST_MEM_FILE)
		fault_files_unmapped(m->base);
	if (m->base)
		munmap(m->base, m->map_size);
	free(m->hp.plugged);
	free(m->hp.slot_on);
	/* Only a UFFD mapping owns a descriptor: a zeroed struct has uffd 0. */
	if (m->kind == GUEST_MEM_UFFD && m->uffd >= 0)
		close(m->uffd);
	if (m->kind == GUEST_MEM_FILE)
		close(m->file_fd);
	free(m->dirty);
	memset(m, 0, sizeof(*m));
}

static bool block_plugged(const struct guest_mem_hotplug *hp, uint64_t b)
{
	return (__atomic_load_n(&hp->plugged[b / 64], __ATOMIC_ACQUIRE) >> (b % 64)) & 1;
}

/* [off, off + len) of the hotpluggable region, all of it in plugged blocks. */
static void *hp_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct guest_mem_hotplug *hp = &m->hp;
	uint64_t off = gpa - hp->l.gpa, b;

	if (!hp->l.size || gpa < hp->l.gpa || off > hp->l.size || len > hp->l.size - off)
		return NULL;
	for (b = off / hp->l.block_size; len && b <= (off + len - 1) / hp->l.block_size; b++)
		if (!block_plugged(hp, b))
			return NULL;
	return hp->hva + off;
}

void *gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	int i;

	for (i = 0; i < m->nregions; i++) {
		const struct guest_mem_region *r = &m->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return hp_to_hva(m, gpa, len);
}

uint64_t guest_mem_hp_count(const struct guest_mem *m, uint64_t first, uint64_t n)
{
	uint64_t b, count = 0;

	for (b = first; b < first + n && b < m->hp.nblocks; b++)
		count += block_plugged(&m->hp, b);
	return count;
}

/* Slot k registered with KVM, or removed (memory_size 0). */
static int hp_slot_set(struct guest_mem *m, int vm_fd, uint64_t k, bool on)
{
	struct guest_mem_hotplug *hp = &m->hp;
	struct kvm_userspace_memory_region r = {
		.slot = GUEST_MEM_HP_SLOT0 + (uint32_t)k,
		.flags = m->track_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = hp->l.gpa + k * hp->l.slot_size,
		.memory_size = on ? hp->l.slot_size : 0,
		.userspace_addr = (uint64_t)(uintptr_t)(hp->hva + k * hp->l.slot_size),
	};

	if (!!hp->slot_on[k] == on)
		return 0;
	if (vm_fd >= 0 && ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r))
		return -errno;
	hp->slot_on[k] = on;
	return 0;
}

static int hp_slots_sync(struct guest_mem *m, int vm_fd, uint64_t first_slot, uint64_t last_slot)
{
	struct guest_mem_hotplug *hp = &m->hp;
	uint64_t per = hp->l.slot_size / hp->l.block_size, k;
	int err = 0;

	for (k = first_slot; k <= last_slot && k < hp->nslots; k++) {
		int e = hp_slot_set(m, vm_fd, k, guest_mem_hp_count(m, k * per, per) > 0);

		if (e && !err)
			err = e;
	}
	return err;
}

int guest_mem_hp_set(struct guest_mem *m, int vm_fd, uint64_t first, uint64_t n, bool plug)
{
	struct guest_mem_hotplug *hp = &m->hp;
	uint64_t per, b;
	int err;

	if (!n || first >= hp->nblocks || n > hp->nblocks - first)
		return -EINVAL;
	for (b = first; b < first + n; b++) {
		uint64_t bit = 1ULL << (b % 64);

		if (plug)
			__atomic_fetch_or(&hp->plugged[b / 64], bit, __ATOMIC_RELEASE);
		else
			__atomic_fetch_and(&hp->plugged[b / 64], ~bit, __ATOMIC_RELEASE);
	}
	per = hp->l.slot_size / hp->l.block_size;
	err = hp_slots_sync(m, vm_fd, first / per, (first + n - 1) / per);
	if (!plug) {
		uint64_t off = first * hp->l.block_size, len = n * hp->l.block_size;

		/* The guest's content of those blocks is gone, for the host's
		 * memory and for the next Diff alike. */
		guest_mem_discard(m, hp->hva + off, len);
		guest_mem_mark_dirty(m, hp->l.gpa + off, len);
	}
	return err;
}

/* Areas this process added by putting anonymous memory over parts of a
 * memory file's mapping: each may split the mapping in two more, and the
 * host limits a process's areas (vm.max_map_count, 65530 by default), past
 * which an mmap (or the split of a later one) fails. A guest decides how
 * scattered its discards are, so it must not reach that limit through us. */
#define FILE_REMAPS_MAX 8192U
static unsigned int file_remaps;

int guest_mem_discard(const struct guest_mem *m, uint8_t *hva, uint64_t len)
{
	if (m->host_page_size > GUEST_MEM_PAGE_SIZE) {
		uintptr_t ps = (uintptr_t)m->host_page_size, a = (uintptr_t)hva;
		uintptr_t first = (a + ps - 1) & ~(ps - 1), end = (a + len) & ~(ps - 1);

		if (first >= end)
			return 0;
		hva = (uint8_t *)first;
		len = end - first;
	}
	if (!len)
		return 0;
	/* A private mapping of a file reads the file's page again once its
	 * copy is dropped: the guest would find its old data there (and a
	 * zeroed page it expects, e.g. a freshly plugged block, would not be).
	 * An anonymous mapping in its place reads zeros, as Firecracker does;
	 * KVM follows the change through its MMU notifier. */
	if (m->kind == GUEST_MEM_FILE &&
	    __atomic_add_fetch(&file_remaps, 1, __ATOMIC_RELAXED) <= FILE_REMAPS_MAX) {
		void *p = mmap(hva, len, PROT_READ | PROT_WRITE,
			       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p != MAP_FAILED)
			return 0;
	}
	return madvise(hva, len, MADV_DONTNEED) ? -errno : 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *m)
{
	return m->regions[0].size;
}

uint64_t guest_mem_end(const struct guest_mem *m)
{
	const struct guest_mem_region *r = &m->regions[m->nregions - 1];

	return r->gpa + r->size;
}

int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gpa_to_hva(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	guest_mem_mark_dirty(m, gpa, len);
	return 0;
}

int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gpa_to_hva(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

size_t guest_mem_pages(const struct guest_mem *m)
{
	return (size_t)(m->map_size >> PAGE_SHIFT);
}

static size_t bitmap_words(const struct guest_mem *m)
{
	return (guest_mem_pages(m) + 63) / 64;
}

int guest_mem_advise_huge(const struct guest_mem *m)
{
	return madvise(m->base, m->map_size, MADV_HUGEPAGE) ? -errno : 0;
}

int guest_mem_dirty_enable(struct guest_mem *m)
{
	if (m->track_dirty)
		return 0;
	m->dirty = calloc(bitmap_words(m) ? bitmap_words(m) : 1, sizeof(uint64_t));
	if (!m->dirty)
		return -ENOMEM;
	m->track_dirty = true;
	return 0;
}

void guest_mem_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct guest_mem_region hp = { m->hp.l.gpa, m->hp.l.size, m->hp.hva };
	int i;

	if (!m->track_dirty || !len)
		return;
	for (i = 0; i <= m->nregions; i++) {
		const struct guest_mem_region *r = i < m->nregions ? &m->regions[i] : &hp;
		uint64_t start, end, first, last, p;

		/* The part of [gpa, gpa + len) in this region (no wrap-around). */
		if (gpa >= r->gpa + r->size || (gpa + len > gpa && gpa + len <= r->gpa))
			continue;
		start = gpa > r->gpa ? gpa - r->gpa : 0;
		end = gpa + len < gpa || gpa + len - r->gpa > r->size ? r->size
								      : gpa + len - r->gpa;
		if (start >= end)
			continue;
		first = (uint64_t)(r->hva - m->base + start) >> PAGE_SHIFT;
		last = (uint64_t)(r->hva - m->base + end - 1) >> PAGE_SHIFT;
		for (p = first; p <= last;) {
			uint64_t bits;
			unsigned int lo = (unsigned int)(p % 64), hi = 63;

			if (last / 64 == p / 64)
				hi = (unsigned int)(last % 64);
			bits = (hi - lo == 63 ? ~0ULL : ((1ULL << (hi - lo + 1)) - 1)) << lo;
			__atomic_fetch_or(&m->dirty[p / 64], bits, __ATOMIC_RELAXED);
			p += hi - lo + 1;
		}
	}
}

void guest_mem_dirty_restore(const struct guest_mem *m, const uint64_t *bitmap)
{
	size_t words = bitmap_words(m), w;

	if (!m->track_dirty)
		return;
	for (w = 0; w < words; w++)
		if (bitmap[w])
			__atomic_fetch_or(&m->dirty[w], bitmap[w], __ATOMIC_RELAXED);
}

int guest_mem_resident(const struct guest_mem *m, uint64_t *bitmap)
{
	enum { CHUNK = 4096 }; /* pages per mincore() call: 16 MiB of RAM */
	size_t pages = guest_mem_pages(m), first, i;
	unsigned char vec[CHUNK];

	memset(bitmap, 0, bitmap_words(m) * sizeof(*bitmap));
	for (first = 0; first < pages; first += CHUNK) {
		size_t n = pages - first < CHUNK ? pages - first : CHUNK;

		if (!m->untouched_zero)
			memset(vec, 1, n);
		else if (mincore(m->base + (first << PAGE_SHIFT), n << PAGE_SHIFT, vec))
			return -errno;
		for (i = 0; i < n; i++)
			if (vec[i] & 1)
				bitmap[(first + i) / 64] |= 1ULL << ((first + i) % 64);
	}
	return 0;
}

/* KVM's log of one slot (which clears it), ORed into bitmap at the slot's
 * offset in the mapping. */
static int collect_slot(const struct guest_mem *m, int vm_fd, uint32_t slot_id, const uint8_t *hva,
			uint64_t size, uint64_t *bitmap)
{
	uint64_t pages = size >> PAGE_SHIFT, first, p, w;
	struct kvm_dirty_log log = { .slot = slot_id };
	uint64_t *slot = calloc((pages + 63) / 64 ? (pages + 63) / 64 : 1, sizeof(uint64_t));

	if (!slot)
		return -ENOMEM;
	log.dirty_bitmap = slot;
	if (ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log)) {
		int err = -errno;

		free(slot);
		return err;
	}
	/* The slot's bits land at its offset in the mapping, which is
	 * page- but not necessarily word-aligned. */
	first = (uint64_t)(hva - m->base) >> PAGE_SHIFT;
	for (w = 0; w < (pages + 63) / 64; w++) {
		uint64_t word = slot[w];

		while (word) {
			p = first + w * 64 + (uint64_t)__builtin_ctzll(word);
			word &= word - 1;
			if (p - first < pages)
				bitmap[p / 64] |= 1ULL << (p % 64);
		}
	}
	free(slot);
	return 0;
}

int guest_mem_dirty_collect(struct guest_mem *m, int vm_fd, uint64_t *bitmap)
{
	size_t words = bitmap_words(m), w;
	uint64_t k;
	int i;

	if (!m->track_dirty)
		return -EINVAL;
	for (w = 0; w < words; w++)
		bitmap[w] = __atomic_exchange_n(&m->dirty[w], 0, __ATOMIC_ACQ_REL);
	if (m->unmarked_writes) {
		uint64_t *res = calloc(words ? words : 1, sizeof(*res));
		int err = res ? guest_mem_resident(m, res) : -ENOMEM;

		for (w = 0; !err && w < words; w++)
			bitmap[w] |= res[w];
		free(res);
		if (err)
			return err;
		m->unmarked_writes = false;
	}
	if (vm_fd < 0)
		return 0;
	for (i = 0; i < m->nregions; i++) {
		const struct guest_mem_region *r = &m->regions[i];
		int err = collect_slot(m, vm_fd, (uint32_t)i, r->hva, r->size, bitmap);

		if (err)
			return err;
	}
	for (k = 0; k < m->hp.nslots; k++) {
		int err = m->hp.slot_on[k]
				  ? collect_slot(m, vm_fd, GUEST_MEM_HP_SLOT0 + (uint32_t)k,
						 m->hp.hva + k * m->hp.l.slot_size,
						 m->hp.l.slot_size, bitmap)
				  : 0;

		if (err)
			return err;
	}
	return 0;
}
