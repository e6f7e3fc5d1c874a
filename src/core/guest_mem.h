/* Guest RAM: one MAP_NORESERVE mapping split around an MMIO hole (the
 * architecture names it: arch/x86/layout.h). RAM below the hole is
 * guest-physical [0, low); the rest continues at the hole's end. Region i is
 * KVM memory slot i, and a byte's offset in the mapping is its offset in a
 * snapshot's memory file (core/mem_file.h). Every access to guest memory goes
 * through gpa_to_hva(), which checks that the whole range lies inside one RAM
 * region (no wrap-around).
 *
 * The mapping is anonymous (a booted VM), a private copy-on-write view of a
 * memory file (a restored VM: the file is never written, so many VMs can
 * share one snapshot), or anonymous with its missing pages served by an
 * external page-fault handler through a userfaultfd (Firecracker's Uffd
 * backend and handshake).
 *
 * Dirty tracking for Diff snapshots: KVM logs the guest's own writes per
 * slot; what the VMM writes (devices through the rings, guest_write) goes
 * into the VMM's bitmap with guest_mem_mark_dirty(). Both are drained by
 * guest_mem_dirty_collect().
 *
 * Hotpluggable memory (virtio-mem, Firecracker's /hotplug/memory) follows RAM
 * in the mapping (and so in a memory file) but lives at its own guest-physical
 * address: blocks the guest plugs and unplugs, and KVM slots of slot_size
 * bytes that exist only while a block in them is plugged, so that a guest
 * cannot use memory it was not given (Firecracker's protection). The VMM
 * reaches a block through gpa_to_hva() only while it is plugged. */
#ifndef VOLT_CORE_GUEST_MEM_H
#define VOLT_CORE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_PAGE_SIZE 4096ULL
/* Firecracker's huge_pages "2M": the host pages behind guest memory. */
#define GUEST_MEM_HUGE_PAGE_SIZE (2ULL << 20)

struct guest_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

enum guest_mem_kind {
	GUEST_MEM_ANON, /* zero-filled */
	GUEST_MEM_FILE, /* MAP_PRIVATE of a memory file */
	GUEST_MEM_UFFD, /* anonymous, missing pages served by a handler */
};

/* The hotpluggable region's geometry: size a multiple of slot_size, which is
 * a multiple of block_size (a power of two); gpa aligned to block_size, after
 * RAM. size 0: none. */
struct guest_mem_hp_layout {
	uint64_t gpa, size, block_size, slot_size;
};

struct guest_mem_source {
	enum guest_mem_kind kind;
	const char *path; /* FILE: the memory file; UFFD: the handler's Unix socket */
	struct guest_mem_hp_layout hotplug;
	/* huge_pages "2M": hugetlbfs pages of 2 MiB (ANON and UFFD; a FILE's
	 * mapping is the file's, refused with Firecracker's words). Every size
	 * and address of the layout is then a multiple of 2 MiB (-EINVAL). The
	 * pages are reserved when mapped (not MAP_NORESERVE, unlike
	 * Firecracker): a host pool too small is -ENOMEM then, with the pool
	 * named, never a SIGBUS when the guest first touches a page. */
	bool hugetlb_2m;
};

/* KVM slot of the hotpluggable region's first slot (RAM's are 0 and 1,
 * device memory's follow them). */
#define GUEST_MEM_HP_SLOT0 64U
/* Slots of hotpluggable memory at most (1 TiB of 128 MiB slots). */
#define GUEST_MEM_HP_MAX_SLOTS 8192U

struct guest_mem_hotplug {
	struct guest_mem_hp_layout l;
	uint8_t *hva;	   /* base + the RAM's size */
	uint64_t *plugged; /* one bit per block, read and written atomically */
	uint8_t *slot_on;  /* per slot: registered with KVM (the device's thread) */
	uint64_t nblocks, nslots;
};

struct guest_mem {
	uint8_t *base;	   /* the whole mapping */
	uint64_t size;	   /* bytes of RAM */
	uint64_t map_size; /* bytes mapped: RAM, then hotpluggable memory */
	struct guest_mem_hotplug hp;
	struct guest_mem_region regions[2];
	int nregions;
	enum guest_mem_kind kind;
	uint64_t host_page_size; /* 4 KiB, or GUEST_MEM_HUGE_PAGE_SIZE (hugetlbfs) */
	int uffd;		 /* GUEST_MEM_UFFD only: the userfaultfd (the handler has a copy) */
	int file_fd;		 /* GUEST_MEM_FILE only: the memory file, kept open */
	bool track_dirty;	 /* KVM slots carry KVM_MEM_LOG_DIRTY_PAGES */
	/* ANON with no swap on the host when mapped: a page mincore() calls not
	 * resident was never touched and is zero (core/mem_file.c). Learnt
	 * here, before any sandbox, not when a snapshot is taken. */
	bool untouched_zero;
	uint64_t *dirty; /* the VMM's writes: one bit per page, by offset in base */
	/* The VMM wrote RAM without marks (a boot's kernel and structures): the
	 * next guest_mem_dirty_collect() adds every resident page. */
	bool unmarked_writes;
};

/* Maps size bytes (a non-zero multiple of 4 KiB) around [hole_start, hole_end),
 * anonymous, without hotpluggable memory. */
int guest_mem_map(struct guest_mem *m, uint64_t size, uint64_t hole_start, uint64_t hole_end);
/* guest_mem_map() with the backing src names (NULL: anonymous), and its
 * hotpluggable region (all of it unplugged). FILE: a regular file of exactly
 * the mapping's size (-EINVAL otherwise). UFFD: registers the
 * whole mapping for missing-page faults and sends Firecracker's handshake (a
 * JSON array of the regions' mappings, the userfaultfd in SCM_RIGHTS) to the
 * Unix stream socket at src->path. 0 or -errno with why naming the path. */
int guest_mem_map_from(struct guest_mem *m, uint64_t size, uint64_t hole_start, uint64_t hole_end,
		       const struct guest_mem_source *src, char *why, size_t why_size);
/* A restored VM's memory file still holds all of the mapping (0), or was cut
 * on the host (-EIO with why): reading the pages past its end would raise
 * SIGBUS. 0 for other kinds. */
int guest_mem_file_check(const struct guest_mem *m, char *why, size_t why_size);
/* Unmaps, closes the userfaultfd or the memory file, frees the dirty bitmap;
 * *m is zeroed. */
void guest_mem_free(struct guest_mem *m);
/* Host address of [gpa, gpa + len), or NULL unless all of it is RAM, or all
 * of it plugged hotpluggable memory. */
void *gpa_to_hva(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* End of RAM below the MMIO hole. */
uint64_t guest_mem_low_end(const struct guest_mem *m);
/* One past the highest RAM address. */
uint64_t guest_mem_end(const struct guest_mem *m);
/* Copies into / out of guest memory; -EFAULT unless all of the range is RAM.
 * guest_write() marks what it wrote dirty. */
int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);

/* Gives [hva, hva + len) of the mapping (page aligned, the caller checked it
 * is guest memory) back to the host; it reads as zeros from then on, in a
 * restored VM too (anonymous memory replaces the memory file's pages there,
 * up to a bound on how many such replacements a process makes; past it,
 * and when that fails, the file's pages come back). With 2 MiB pages only the
 * whole ones inside the range go (Firecracker's balloon does not free
 * hugetlbfs memory either); the rest keeps what it held, which a deflated
 * page may. The caller marks the range dirty. 0 or -errno of madvise. */
int guest_mem_discard(const struct guest_mem *m, uint8_t *hva, uint64_t len);

/* Hotpluggable memory: blocks [first, first + n) (the caller checked they
 * are the region's) become plugged or unplugged; each slot they touch is
 * then registered with KVM (vm_fd) when a block in it is plugged, removed
 * otherwise; an unplugged range is given back to the host
 * (guest_mem_discard) after its slots went, and is marked dirty (a Diff then holds what it now
 * reads). 0 or -errno from KVM (the blocks' state is changed nevertheless); vm_fd < 0: no KVM
 * (tests). */
int guest_mem_hp_set(struct guest_mem *m, int vm_fd, uint64_t first, uint64_t n, bool plug);
/* Plugged blocks among [first, first + n). */
uint64_t guest_mem_hp_count(const struct guest_mem *m, uint64_t first, uint64_t n);

/* Firecracker's huge_pages "Transparent": asks the host for transparent huge
 * pages behind the guest's RAM (madvise MADV_HUGEPAGE); 0 or -errno (the
 * host's THP "never" still takes the advice and gives 4 KiB pages). */
int guest_mem_advise_huge(const struct guest_mem *m);
/* 4 KiB pages of the mapping (RAM and hotpluggable memory): the bits of a dirty bitmap (bit i:
 * bytes [i * 4096, (i + 1) * 4096) of base, bit i % 64 of word i / 64). */
size_t guest_mem_pages(const struct guest_mem *m);
/* Starts tracking: allocates the VMM's bitmap and sets track_dirty, after
 * which the caller creates the KVM slots with KVM_MEM_LOG_DIRTY_PAGES. Idempotent;
 * 0 or -ENOMEM. */
int guest_mem_dirty_enable(struct guest_mem *m);
/* Records that the VMM wrote [gpa, gpa + len): the part of it that is RAM.
 * Thread-safe (atomic OR); nothing when not tracking. */
void guest_mem_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Overwrites bitmap (guest_mem_pages() bits, rounded up to whole words) with
 * the pages written since the last call: KVM_GET_DIRTY_LOG of every slot
 * (which clears KVM's log) ORed with the VMM's bitmap (which is cleared), and
 * with the resident pages once after unmarked_writes (which is cleared).
 * vm_fd < 0: the VMM's bitmap only. -EINVAL when not tracking, or -errno. */
int guest_mem_dirty_collect(struct guest_mem *m, int vm_fd, uint64_t *bitmap);
/* Gives back what a collect took when its snapshot failed: ORs bitmap into the
 * VMM's bitmap, so that the next collect reports those pages again (a Diff
 * after a failed one loses nothing). Thread-safe; nothing when not tracking. */
void guest_mem_dirty_restore(const struct guest_mem *m, const uint64_t *bitmap);
/* Without dirty tracking, what a Diff holds (Firecracker's mincore_bitmap):
 * fills bitmap (as above) with the pages resident in RAM's mapping, that is
 * every page touched since it was mapped (a restored VM's: read or written
 * since its snapshot); every page when swap makes mincore() miss some
 * (untouched_zero false). 0 or -errno. */
int guest_mem_resident(const struct guest_mem *m, uint64_t *bitmap);

#endif
