#include "vmm/vcpu_state.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "core/kvm.h"
#include "util/log.h"
#include "vmm/vcpu_msrs.h"

/* An ioctl's name with its request, for messages. */
#define REQ(r) (r), #r

static int has_cap(int kvm_fd, int cap)
{
	int r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap);

	return r > 0 ? r : 0;
}

/* Lets KVM finish the access the last exit left to user space (see the
 * header), without running the guest. */
static int complete_pending_io(int vcpu_fd, int kvm_fd)
{
	int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run;
	uint8_t was;
	int ret, err = 0;

	if (size < (int)sizeof(*run))
		return size < 0 ? -errno : -EINVAL;
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED)
		return -errno;
	was = __atomic_exchange_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	ret = ioctl(vcpu_fd, KVM_RUN, 0);
	if (ret == 0 || errno != EINTR) {
		err = ret == 0 ? -EIO : -errno;
		pr_err("snapshot: KVM_RUN to complete the vCPU's last I/O: %s",
		       ret == 0 ? "the guest ran" : strerror(errno));
	}
	/* A kick pending for the vCPU thread stays pending. */
	__atomic_store_n(&run->immediate_exit, was, __ATOMIC_SEQ_CST);
	munmap(run, (size_t)size);
	return err;
}

static int save_fixed(int vcpu_fd, struct snap_writer *w, const char *name, unsigned long req,
		      const char *what, size_t size)
{
	uint8_t buf[4096]; /* the largest fixed-size state: kvm_xsave, kvm_lapic_state */
	int err;

	if (size > sizeof(buf))
		return -E2BIG;
	memset(buf, 0, size);
	if (ioctl(vcpu_fd, req, buf)) {
		err = -errno;
		pr_err("snapshot: %s: %s", what, strerror(errno));
		return err;
	}
	return snap_put(w, name, buf, size);
}

static int restore_fixed(int vcpu_fd, struct snap_reader *r, const char *name, unsigned long req,
			 const char *what, size_t size)
{
	uint8_t buf[4096];
	int err;

	if (size > sizeof(buf))
		return -E2BIG;
	err = snap_get(r, name, buf, size);
	if (err)
		return err;
	if (ioctl(vcpu_fd, req, buf)) {
		err = -errno;
		pr_err("restore: %s: %s", what, strerror(errno));
	}
	return err;
}

static int save_cpuid(int vcpu_fd, struct snap_writer *w)
{
	size_t size =
		sizeof(struct kvm_cpuid2) + VCPU_STATE_CPUID_MAX * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, size);
	int err;

	if (!c)
		return -ENOMEM;
	err = kvm_get_cpuid2(vcpu_fd, c, VCPU_STATE_CPUID_MAX);
	if (err) {
		pr_err("snapshot: KVM_GET_CPUID2: %s", strerror(-err));
	} else {
		err = snap_put(w, "cpuid", c->entries, c->nent * sizeof(c->entries[0]));
	}
	free(c);
	return err;
}

static int restore_cpuid(int vcpu_fd, struct snap_reader *r)
{
	size_t size =
		sizeof(struct kvm_cpuid2) + VCPU_STATE_CPUID_MAX * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, size);
	size_t len = 0;
	int err;

	if (!c)
		return -ENOMEM;
	err = snap_get_var(r, "cpuid", c->entries, size - sizeof(*c), &len);
	if (!err && (len == 0 || len % sizeof(c->entries[0]))) {
		pr_err("restore: record 'cpuid' of %zu bytes is no CPUID table", len);
		err = -EMSGSIZE;
	}
	if (!err) {
		c->nent = (uint32_t)(len / sizeof(c->entries[0]));
		if (ioctl(vcpu_fd, KVM_SET_CPUID2, c)) {
			err = -errno;
			pr_err("restore: KVM_SET_CPUID2: %s", strerror(errno));
		}
	}
	free(c);
	return err;
}

/* KVM_GET_XSAVE2's size where KVM has it (at least struct kvm_xsave's). */
static size_t xsave_size(int kvm_fd)
{
	size_t n = (size_t)has_cap(kvm_fd, KVM_CAP_XSAVE2);

	return n > sizeof(struct kvm_xsave) ? n : sizeof(struct kvm_xsave);
}

static int save_xsave(int vcpu_fd, int kvm_fd, struct snap_writer *w)
{
	size_t size = xsave_size(kvm_fd);
	bool v2 = has_cap(kvm_fd, KVM_CAP_XSAVE2) > 0;
	void *buf;
	int err;

	if (!has_cap(kvm_fd, KVM_CAP_XSAVE))
		return 0; /* the FPU record holds it all */
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	if (ioctl(vcpu_fd, v2 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, buf)) {
		err = -errno;
		pr_err("snapshot: KVM_GET_XSAVE%s: %s", v2 ? "2" : "", strerror(errno));
	} else {
		err = snap_put(w, "xsave", buf, size);
	}
	free(buf);
	return err;
}

static int restore_xsave(int vcpu_fd, int kvm_fd, struct snap_reader *r)
{
	size_t size = xsave_size(kvm_fd), len = 0;
	void *buf;
	int err;

	if (!has_cap(kvm_fd, KVM_CAP_XSAVE))
		return 0;
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	/* A larger area than this host's holds features it does not have. */
	err = snap_get_var(r, "xsave", buf, size, &len);
	if (!err && len < sizeof(struct kvm_xsave)) {
		pr_err("restore: record 'xsave' of %zu bytes is too short", len);
		err = -EMSGSIZE;
	}
	if (!err && ioctl(vcpu_fd, KVM_SET_XSAVE, buf)) {
		err = -errno;
		pr_err("restore: KVM_SET_XSAVE: %s", strerror(errno));
	}
	free(buf);
	return err;
}

static int save_tsc_khz(int vcpu_fd, struct snap_writer *w)
{
	int khz = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);

	if (khz <= 0) {
		pr_err("snapshot: KVM_GET_TSC_KHZ: %s", khz < 0 ? strerror(errno) : "0 kHz");
		return khz < 0 ? -errno : -EIO;
	}
	return snap_put_u64(w, "tsc_khz", (uint64_t)khz);
}

/* The guest measured its TSC at the saved frequency: keep it, or refuse. */
static int restore_tsc_khz(int vcpu_fd, struct snap_reader *r)
{
	uint64_t khz;
	int now, err = snap_get_u64(r, "tsc_khz", &khz);

	if (err)
		return err;
	now = ioctl(vcpu_fd, KVM_GET_TSC_KHZ, 0);
	if (now > 0 && (uint64_t)now == khz)
		return 0;
	if (khz > UINT32_MAX || ioctl(vcpu_fd, KVM_SET_TSC_KHZ, (unsigned long)khz)) {
		pr_err("restore: the guest's TSC ran at %llu kHz, this host's at %d kHz, and KVM "
		       "cannot scale it",
		       (unsigned long long)khz, now);
		return -EINVAL;
	}
	return 0;
}

static int save_sregs(int vcpu_fd, int kvm_fd, struct snap_writer *w)
{
	if (has_cap(kvm_fd, KVM_CAP_SREGS2))
		return save_fixed(vcpu_fd, w, "sregs2", REQ(KVM_GET_SREGS2),
				  sizeof(struct kvm_sregs2));
	return save_fixed(vcpu_fd, w, "sregs", REQ(KVM_GET_SREGS), sizeof(struct kvm_sregs));
}

static int restore_sregs(int vcpu_fd, int kvm_fd, struct snap_reader *r)
{
	if (!snap_has(r, "sregs2"))
		return restore_fixed(vcpu_fd, r, "sregs", REQ(KVM_SET_SREGS),
				     sizeof(struct kvm_sregs));
	if (!has_cap(kvm_fd, KVM_CAP_SREGS2)) {
		pr_err("restore: the state has KVM_GET_SREGS2's registers, this KVM has no "
		       "KVM_SET_SREGS2");
		return -EOPNOTSUPP;
	}
	return restore_fixed(vcpu_fd, r, "sregs2", REQ(KVM_SET_SREGS2), sizeof(struct kvm_sregs2));
}

static int save_all(int vcpu_fd, int kvm_fd, bool complete_io, struct snap_writer *w)
{
	int err = complete_io ? complete_pending_io(vcpu_fd, kvm_fd) : 0;

	if (!err)
		err = save_cpuid(vcpu_fd, w);
	if (!err)
		err = save_sregs(vcpu_fd, kvm_fd, w);
	if (!err)
		err = save_fixed(vcpu_fd, w, "regs", REQ(KVM_GET_REGS), sizeof(struct kvm_regs));
	if (!err)
		err = save_fixed(vcpu_fd, w, "fpu", REQ(KVM_GET_FPU), sizeof(struct kvm_fpu));
	if (!err)
		err = save_xsave(vcpu_fd, kvm_fd, w);
	if (!err && has_cap(kvm_fd, KVM_CAP_XCRS))
		err = save_fixed(vcpu_fd, w, "xcrs", REQ(KVM_GET_XCRS), sizeof(struct kvm_xcrs));
	if (!err)
		err = vcpu_msrs_save(vcpu_fd, kvm_fd, w);
	if (!err)
		err = save_fixed(vcpu_fd, w, "lapic", REQ(KVM_GET_LAPIC),
				 sizeof(struct kvm_lapic_state));
	if (!err)
		err = save_fixed(vcpu_fd, w, "debugregs", REQ(KVM_GET_DEBUGREGS),
				 sizeof(struct kvm_debugregs));
	if (!err)
		err = save_fixed(vcpu_fd, w, "events", REQ(KVM_GET_VCPU_EVENTS),
				 sizeof(struct kvm_vcpu_events));
	if (!err)
		err = save_fixed(vcpu_fd, w, "mp_state", REQ(KVM_GET_MP_STATE),
				 sizeof(struct kvm_mp_state));
	if (!err)
		err = save_tsc_khz(vcpu_fd, w);
	return err;
}

int vcpu_state_save(int vcpu_fd, int kvm_fd, bool complete_io, struct snap_writer *w, int index)
{
	int err = snap_writer_scope(w, "vcpu%d", index);

	if (!err)
		err = save_all(vcpu_fd, kvm_fd, complete_io, w);
	snap_writer_scope(w, NULL);
	if (err)
		pr_err("snapshot: vCPU %d: not saved: %s", index, strerror(-err));
	return err;
}

static int restore_events(int vcpu_fd, struct snap_reader *r)
{
	struct kvm_vcpu_events ev;
	int err = snap_get(r, "events", &ev, sizeof(ev));

	if (err)
		return err;
	/* GET reports them always; SET takes them only when told to. */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev)) {
		err = -errno;
		pr_err("restore: KVM_SET_VCPU_EVENTS: %s", strerror(errno));
	}
	return err;
}

static int restore_all(int vcpu_fd, int kvm_fd, struct snap_reader *r)
{
	int err = restore_cpuid(vcpu_fd, r);

	if (!err)
		err = restore_tsc_khz(vcpu_fd, r);
	if (!err)
		err = restore_sregs(vcpu_fd, kvm_fd, r);
	if (!err)
		err = restore_fixed(vcpu_fd, r, "regs", REQ(KVM_SET_REGS), sizeof(struct kvm_regs));
	if (!err)
		err = restore_fixed(vcpu_fd, r, "fpu", REQ(KVM_SET_FPU), sizeof(struct kvm_fpu));
	if (!err)
		err = restore_xsave(vcpu_fd, kvm_fd, r);
	if (!err && has_cap(kvm_fd, KVM_CAP_XCRS))
		err = restore_fixed(vcpu_fd, r, "xcrs", REQ(KVM_SET_XCRS), sizeof(struct kvm_xcrs));
	if (!err)
		err = vcpu_msrs_restore(vcpu_fd, r);
	if (!err)
		err = restore_fixed(vcpu_fd, r, "lapic", REQ(KVM_SET_LAPIC),
				    sizeof(struct kvm_lapic_state));
	if (!err)
		err = vcpu_msrs_restore_one(vcpu_fd, r, MSR_IA32_TSC_DEADLINE);
	if (!err)
		err = restore_fixed(vcpu_fd, r, "debugregs", REQ(KVM_SET_DEBUGREGS),
				    sizeof(struct kvm_debugregs));
	if (!err)
		err = restore_events(vcpu_fd, r);
	if (!err)
		err = restore_fixed(vcpu_fd, r, "mp_state", REQ(KVM_SET_MP_STATE),
				    sizeof(struct kvm_mp_state));
	return err;
}

int vcpu_state_restore(int vcpu_fd, int kvm_fd, struct snap_reader *r, int index)
{
	int err = snap_reader_scope(r, "vcpu%d", index);

	if (!err)
		err = restore_all(vcpu_fd, kvm_fd, r);
	snap_reader_scope(r, NULL);
	if (err)
		pr_err("restore: vCPU %d: not restored: %s", index, strerror(-err));
	return err;
}
