#include "vmm/vm_state.h"

#include <cpuid.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

/* The record "vm/cpu": vendor (12 bytes), family, model, stepping (u32 LE). */
#define CPU_RECORD 24

static const char *const chip_names[] = { "irqchip/pic0", "irqchip/pic1", "irqchip/ioapic" };

void cpu_signature_host(struct cpu_signature *s)
{
	unsigned int a = 0, b = 0, c = 0, d = 0, fam, model;

	memset(s, 0, sizeof(*s));
	__cpuid(0, a, b, c, d);
	memcpy(s->vendor, &b, 4);
	memcpy(s->vendor + 4, &d, 4);
	memcpy(s->vendor + 8, &c, 4);
	__cpuid(1, a, b, c, d);
	fam = (a >> 8) & 0xf;
	model = (a >> 4) & 0xf;
	/* The extended fields count only for these families (SDM vol. 2, CPUID). */
	if (fam == 0xf || fam == 0x6)
		model |= ((a >> 16) & 0xf) << 4;
	if (fam == 0xf)
		fam += (a >> 20) & 0xff;
	s->family = fam;
	s->model = model;
	s->stepping = a & 0xf;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int save_cpu(int ncpus, struct snap_writer *w)
{
	struct cpu_signature s;
	uint8_t rec[CPU_RECORD];

	cpu_signature_host(&s);
	memcpy(rec, s.vendor, 12);
	put_u32(rec + 12, s.family);
	put_u32(rec + 16, s.model);
	put_u32(rec + 20, s.stepping);
	snap_put(w, "cpu", rec, sizeof(rec));
	return snap_put_u64(w, "ncpus", (uint64_t)ncpus);
}

/* ENXIO/EINVAL: the VM has no such device, nothing to save. */
static int save_dev(int vm_fd, struct snap_writer *w, const char *name, unsigned long req,
		    void *buf, size_t size, const char *what)
{
	if (ioctl(vm_fd, req, buf)) {
		if (errno == ENXIO)
			return 0;
		pr_err("snapshot: %s: %s", what, strerror(errno));
		return -errno;
	}
	return snap_put(w, name, buf, size);
}

static int save_all(int vm_fd, int ncpus, struct snap_writer *w)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int err = save_cpu(ncpus, w);

	for (unsigned int i = 0; !err && i < 3; i++) {
		struct kvm_irqchip chip = { .chip_id = i };

		err = save_dev(vm_fd, w, chip_names[i], KVM_GET_IRQCHIP, &chip, sizeof(chip),
			       "KVM_GET_IRQCHIP");
	}
	memset(&pit, 0, sizeof(pit));
	if (!err)
		err = save_dev(vm_fd, w, "pit", KVM_GET_PIT2, &pit, sizeof(pit), "KVM_GET_PIT2");
	memset(&clock, 0, sizeof(clock));
	if (!err && ioctl(vm_fd, KVM_GET_CLOCK, &clock)) {
		err = -errno;
		pr_err("snapshot: KVM_GET_CLOCK: %s", strerror(errno));
	}
	if (!err)
		err = snap_put(w, "clock", &clock, sizeof(clock));
	return err;
}

int vm_state_save(int vm_fd, int ncpus, struct snap_writer *w)
{
	int err = snap_writer_scope(w, "vm");

	if (!err)
		err = save_all(vm_fd, ncpus, w);
	snap_writer_scope(w, NULL);
	return err;
}

static int check(struct snap_reader *r, int ncpus)
{
	struct cpu_signature host, saved;
	uint8_t rec[CPU_RECORD];
	uint64_t n;
	int err = snap_get(r, "cpu", rec, sizeof(rec));

	if (!err)
		err = snap_get_u64(r, "ncpus", &n);
	if (err)
		return err;
	memset(&saved, 0, sizeof(saved));
	memcpy(saved.vendor, rec, 12);
	saved.family = get_u32(rec + 12);
	saved.model = get_u32(rec + 16);
	cpu_signature_host(&host);
	/* Names from the file are printed with %.12s and checked to be printable. */
	for (int i = 0; i < 12; i++)
		if (saved.vendor[i] < 0x20 || saved.vendor[i] > 0x7e)
			saved.vendor[i] = '?';
	if (strcmp(saved.vendor, host.vendor) || saved.family != host.family ||
	    saved.model != host.model) {
		pr_err("restore: the snapshot was taken on a %.12s CPU family %#x model %#x, "
		       "this host has a %s family %#x model %#x",
		       saved.vendor, saved.family, saved.model, host.vendor, host.family,
		       host.model);
		return -EXDEV;
	}
	if (n != (uint64_t)ncpus) {
		pr_err("restore: the snapshot has %llu vCPUs, this VM %d", (unsigned long long)n,
		       ncpus);
		return -EINVAL;
	}
	return 0;
}

int vm_state_check(struct snap_reader *r, int ncpus)
{
	int err = snap_reader_scope(r, "vm");

	if (!err)
		err = check(r, ncpus);
	snap_reader_scope(r, NULL);
	return err;
}

static int restore_dev(int vm_fd, struct snap_reader *r, const char *name, unsigned long req,
		       void *buf, size_t size, const char *what)
{
	int err;

	if (!snap_has(r, name))
		return 0;
	err = snap_get(r, name, buf, size);
	if (!err && ioctl(vm_fd, req, buf)) {
		err = -errno;
		pr_err("restore: %s: %s", what, strerror(errno));
	}
	return err;
}

/* The saved kvmclock, as it goes on: from its saved value (flags 0), or,
 * with clock_realtime, by the wall-clock time since it was saved
 * (KVM_CLOCK_REALTIME: KVM adds the difference of the host's CLOCK_REALTIME
 * to the saved reading). KVM saves that reading only on hosts whose clock
 * source is the TSC; without it there is nothing to add (warned). */
static void clock_to_set(struct kvm_clock_data *clock, bool realtime)
{
	bool has_realtime = clock->flags & KVM_CLOCK_REALTIME;

	clock->flags = 0;
	clock->host_tsc = 0;
	if (realtime && has_realtime) {
		clock->flags = KVM_CLOCK_REALTIME;
		return;
	}
	if (realtime)
		pr_warn("restore: clock_realtime: the snapshot's clock has no wall-clock "
			"reading (its host's clock source is not the TSC): the guest's clock "
			"goes on from its saved value");
	clock->realtime = 0;
}

static int restore_all(int vm_fd, struct snap_reader *r, bool realtime)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int err = 0;

	for (unsigned int i = 0; !err && i < 3; i++) {
		struct kvm_irqchip chip;

		if (!snap_has(r, chip_names[i]))
			continue;
		err = snap_get(r, chip_names[i], &chip, sizeof(chip));
		/* Which chip is the record's name, whatever the bytes say. */
		chip.chip_id = i;
		if (!err && ioctl(vm_fd, KVM_SET_IRQCHIP, &chip)) {
			err = -errno;
			pr_err("restore: KVM_SET_IRQCHIP (%s): %s", chip_names[i], strerror(errno));
		}
	}
	if (!err)
		err = restore_dev(vm_fd, r, "pit", KVM_SET_PIT2, &pit, sizeof(pit), "KVM_SET_PIT2");
	if (!err)
		err = snap_get(r, "clock", &clock, sizeof(clock));
	if (!err) {
		clock_to_set(&clock, realtime);
		if (ioctl(vm_fd, KVM_SET_CLOCK, &clock)) {
			err = -errno;
			pr_err("restore: KVM_SET_CLOCK: %s", strerror(errno));
		}
	}
	return err;
}

int vm_state_restore(int vm_fd, struct snap_reader *r, bool clock_realtime)
{
	int err = snap_reader_scope(r, "vm");

	if (!err)
		err = restore_all(vm_fd, r, clock_realtime);
	snap_reader_scope(r, NULL);
	return err;
}
