/* libFuzzer target: the snapshot state file reader (core/snap.c) and the
 * record checks of the restore functions, against hostile state files.
 *
 * Input: one mode byte, then either a whole state file (mode bit 0 clear) or
 * only a body (bit 0 set), to which the target puts a valid header (magic,
 * version, length, SHA-256), so that the fuzzer gets past the checksum into
 * the record parser.
 *
 * Checked for every file the reader accepts: each record lies inside the
 * file, has a valid NUL-terminated name and reads back with its own length
 * and not with another; re-writing the records gives a file that reads back
 * the same. Then the vCPU and VM restore functions run on it with invalid
 * fds (-1): their record checks run, every ioctl fails; and the devices'
 * restore functions (serial, i8042, CMOS, and the virtio-mmio transport
 * through a virtio-rng made fresh for each input, on the smallest guest
 * memory the layout takes), and the API's record ("api/config") checked
 * as a load checks it (api_config_restore) against a VM with two drives and
 * an interface. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/snapshot_config.h"
#include "api/vm_config_json.h"
#include "arch/x86/layout.h"
#include "core/event_loop.h"
#include "core/snap.h"
#include "devices/device_kind.h"
#include "devices/legacy/cmos.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_rng.h"
#include "util/log.h"
#include "util/sha256.h"
#include "vmm/vcpu_msrs.h"
#include "vmm/vcpu_state.h"
#include "vmm/vm_state.h"

#define FUZZ_MAX_INPUT (1u << 20)

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static uint8_t *with_header(const uint8_t *body, size_t len, size_t *out_len)
{
	uint8_t *b = malloc(SNAP_HEADER_SIZE + len + 1);
	struct sha256 s;

	if (!b)
		abort();
	memset(b, 0, SNAP_HEADER_SIZE);
	memcpy(b, SNAP_MAGIC, 8);
	b[8] = SNAP_FORMAT_VERSION;
	b[12] = SNAP_HEADER_SIZE;
	for (int i = 0; i < 8; i++)
		b[16 + i] = (uint8_t)((uint64_t)len >> (8 * i));
	if (len)
		memcpy(b + SNAP_HEADER_SIZE, body, len);
	sha256_init(&s);
	sha256_update(&s, b + SNAP_HEADER_SIZE, len);
	sha256_final(&s, b + 24);
	*out_len = SNAP_HEADER_SIZE + len;
	return b;
}

static void check_records(struct snap_reader *r)
{
	static uint8_t buf[SNAP_MAX_BODY > (1u << 20) ? (1u << 20) : SNAP_MAX_BODY];
	struct snap_writer w;
	struct snap_reader again;
	const uint8_t *img;
	size_t len;

	snap_writer_init(&w);
	for (size_t i = 0; i < r->nrecs; i++) {
		const struct snap_record *rec = &r->recs[i];
		size_t n;

		if (rec->off > r->len || rec->len > r->len - rec->off)
			abort();
		if (memchr(rec->name, '\0', SNAP_NAME_MAX) == NULL || rec->name[0] == '\0')
			abort();
		if (rec->len <= sizeof(buf)) {
			if (snap_get(r, rec->name, buf, rec->len) ||
			    memcmp(buf, r->buf + rec->off, rec->len))
				abort();
			if (snap_get(r, rec->name, buf, rec->len + 1) != -EMSGSIZE)
				abort();
			if (snap_get_var(r, rec->name, buf, rec->len, &n) || n != rec->len)
				abort();
		}
		if (snap_put(&w, rec->name, r->buf + rec->off, rec->len))
			abort();
	}
	if (snap_finish(&w, &img, &len) || snap_read_mem(&again, img, len, "rewritten"))
		abort();
	if (again.nrecs != r->nrecs)
		abort();
	for (size_t i = 0; i < r->nrecs; i++)
		if (strcmp(again.recs[i].name, r->recs[i].name) ||
		    again.recs[i].len != r->recs[i].len)
			abort();
	snap_reader_free(&again);
	snap_writer_free(&w);
}

/* The devices' restores on fresh devices, each in its usual scope. */
static void restore_devices(struct snap_reader *r)
{
	static struct guest_mem mem;
	static bool mapped;
	struct serial s;
	struct i8042 k;
	struct cmos c = { 0 };
	struct event_loop loop;
	struct io_bus bus = { .kind = "mmio" };
	struct virtio_env env = { .mem = &mem, .loop = &loop, .mmio = &bus };
	struct device_env denv = { .venv = &env, .base = 0xd0000000ULL, .irq = 5 };
	void *rng = NULL;

	serial_init(&s, NULL, NULL, NULL);
	snap_reader_scope(r, "dev/serial");
	serial_restore(&s, r);
	i8042_init(&k, NULL, NULL, NULL);
	snap_reader_scope(r, "dev/i8042");
	i8042_restore(&k, r);
	snap_reader_scope(r, "dev/cmos");
	cmos_restore(&c, r);
	if (!mapped) {
		if (layout_guest_mem_init(&mem, 128u << 20))
			abort();
		mapped = true;
	}
	if (event_loop_init(&loop))
		abort();
	if (!virtio_rng_kind.create(&rng, NULL, &denv)) {
		snap_reader_scope(r, "dev/rng0");
		virtio_rng_kind.restore(rng, r);
		virtio_rng_kind.destroy(rng);
	}
	event_loop_destroy(&loop);
	snap_reader_scope(r, NULL);
}

/* The API's record of the snapshot, as PUT /snapshot/load reads it. */
static void restore_api_config(struct snap_reader *r)
{
	static struct vm_config vm;
	static struct api_config c;
	static const char *const ids[] = { "rootfs", "data", "eth0" };
	const void *data;
	char why[512], *text;
	size_t len;

	if (snap_find(r, "api/config", &data, &len))
		return;
	if (!vm.ndevices) {
		for (int i = 0; i < 3; i++) {
			vm.devices[i].kind = i < 2 ? &virtio_blk_kind : &virtio_net_kind;
			vm.devices[i].id = id_intern(ids[i]);
		}
		vm.ndevices = 3;
		vm.ncpus = 1;
		vm.mem_size = 128u << 20;
	}
	text = malloc(len + 1);
	if (!text)
		abort();
	memcpy(text, data, len);
	text[len] = '\0';
	api_config_init(&c);
	if (api_config_restore(&c, &vm, text, why, sizeof(why)) && !why[0])
		abort(); /* a refusal says why */
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct snap_reader r;
	uint8_t *img = NULL;
	size_t len;
	int err;

	if (!quiet) {
		log_set_level(LOG_OFF);
		quiet = true;
	}
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (data[0] & 1) {
		img = with_header(data + 1, size - 1, &len);
		err = snap_read_mem(&r, img, len, "fuzz");
	} else {
		err = snap_read_mem(&r, data + 1, size - 1, "fuzz");
	}
	free(img);
	if (err) {
		if (r.nrecs || r.buf)
			abort(); /* a refused file leaves nothing behind */
		return 0;
	}
	check_records(&r);
	vm_state_check(&r, 1);
	vcpu_state_restore(-1, -1, &r, 0);
	/* The MSR list's checks, which the restore above does not reach. */
	snap_reader_scope(&r, "vcpu0");
	vcpu_msrs_restore(-1, &r);
	vcpu_msrs_restore_one(-1, &r, MSR_IA32_TSC_DEADLINE);
	snap_reader_scope(&r, NULL);
	vm_state_restore(-1, &r, false);
	restore_devices(&r);
	restore_api_config(&r);
	snap_unread(&r);
	snap_reader_free(&r);
	return 0;
}
