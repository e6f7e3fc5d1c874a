/* libFuzzer target: the kernel image a user names is a hostile file. The
 * loaders (src/boot: ELF vmlinux, bzImage, the PVH note), the boot
 * structures written for what they accepted, and the profiler's symbol
 * readers (the same image's .symtab, or the image read as a System.map).
 *
 * Input: one mode byte, then the image.
 *   bits 0-1: the protocol asked for (AUTO, LINUX, PVH); 3: AUTO, and the
 *             profiler's symbol readers on the image too
 *   bit 2:    guest RAM of 40 MiB instead of 18 (the kernel goes at 16 MiB)
 *   bits 3-7: an initrd of that many MiB to place (0: none)
 * Checked for every image a loader accepts: it lies in guest RAM, an initrd
 * goes above it and below its limit, and the zero page or start_info, the
 * command line and e820 are written. The image is given in a buffer of
 * exactly its size, so that ASan sees any read past its end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "util/log.h"
#include "vmm/profiler.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

#define MiB (1ULL << 20)

static struct guest_mem mem[2];
static FILE *devnull;

static int setup(void)
{
	log_set_level(LOG_OFF);
	devnull = fopen("/dev/null", "w");
	if (!devnull || layout_guest_mem_init(&mem[0], 18 * MiB) ||
	    layout_guest_mem_init(&mem[1], 40 * MiB))
		abort();
	return 0;
}

static void boot_structures(struct guest_mem *m, const struct boot_kernel *k, unsigned initrd_mib)
{
	struct boot_e820_entry e820[16];
	uint64_t initrd = 0, initrd_size = (uint64_t)initrd_mib * MiB;
	static const char cmdline[] = "console=ttyS0 reboot=k panic=1";

	if (k->start > k->end || k->end > m->map_size)
		abort(); /* a loader accepted what does not lie in RAM (all low here) */
	if (initrd_size && boot_place_initrd(m, k, initrd_size, &initrd))
		initrd = initrd_size = 0;
	/* initrd_addr_max is the last byte (UINT64_MAX: no limit). */
	if (initrd_size && (initrd < k->end || initrd + initrd_size - 1 > k->initrd_addr_max))
		abort(); /* an initrd over the kernel or past its limit */
	if (boot_write_cmdline(m, cmdline))
		abort();
	if (e820_build(m, e820, 16) <= 0)
		abort();
	if (k->protocol == BOOT_PROTOCOL_PVH)
		boot_write_pvh_start_info(m, sizeof(cmdline), initrd, initrd_size);
	else
		boot_write_zero_page(m, k, sizeof(cmdline), initrd, initrd_size);
}

static void symbols(const uint8_t *image, size_t size)
{
	/* No vCPU: its sample buffer (8 MiB) would cost more than the rest. */
	struct profiler *p = profiler_new(0, 100);
	uint64_t off;

	if (!p)
		return;
	profiler_load_elf(p, image, size);
	profiler_load_system_map(p, (const char *)image, size);
	profiler_lookup(p, 0xffffffff81000000ULL, &off);
	profiler_report(p, devnull, 10);
	profiler_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum boot_protocol want[4] = { BOOT_PROTOCOL_AUTO, BOOT_PROTOCOL_LINUX,
						    BOOT_PROTOCOL_PVH, BOOT_PROTOCOL_AUTO };
	static int ready;
	struct boot_kernel k;
	struct guest_mem *m;
	uint8_t *image;
	uint32_t pvh;
	char why[256];

	if (!ready)
		ready = !setup();
	if (size < 1 || size > (8 << 20))
		return 0;
	m = &mem[(data[0] >> 2) & 1];
	image = malloc(size - 1 ? size - 1 : 1);
	if (!image)
		return 0;
	memcpy(image, data + 1, size - 1);
	memset(&k, 0, sizeof(k));
	if (!boot_load_kernel(m, image, size - 1, want[data[0] & 3], &k, why, sizeof(why)))
		boot_structures(m, &k, data[0] >> 3);
	elf_find_pvh_entry(image, size - 1, &pvh);
	if ((data[0] & 3) == 3)
		symbols(image, size - 1);
	free(image);
	return 0;
}
