#include "vmm/vcpu_msrs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/msr.h"
#include "util/log.h"

#define MSR_IA32_MCG_CAP 0x179
#define MSR_IA32_XSS	 0xda0

/* MSRs a guest uses that KVM_GET_MSR_INDEX_LIST leaves out on some hosts
 * (measured on PVM hosts, README "Snapshots on PVM hosts"); those a host
 * cannot read are dropped by the probe. */
static const uint32_t extra_msrs[] = {
	MSR_IA32_TSC, 0x3a, /* FEAT_CTL */
	0x3b,		    /* TSC_ADJUST */
	0x48,		    /* SPEC_CTRL */
	MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_IA32_MCG_CAP,
	0x17a,			     /* MCG_STATUS */
	0x17b,			     /* MCG_CTL */
	MSR_IA32_MISC_ENABLE, 0x1d9, /* DEBUGCTL */
	/* variable-range MTRRs: 8 base/mask pairs, as KVM offers */
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, 0x208, 0x209, 0x20a, 0x20b, 0x20c,
	0x20d, 0x20e, 0x20f, 0x250,				/* MTRRfix64K_00000 */
	0x258,							/* MTRRfix16K_80000 */
	0x259,							/* MTRRfix16K_A0000 */
	0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f, /* MTRRfix4K_* */
	0x277,							/* PAT */
	MSR_MTRRdefType, 0x38d,					/* FIXED_CTR_CTRL */
	0x38f,							/* PERF_GLOBAL_CTRL */
	0x400, 0x401, 0x402, 0x403,				/* MC0_CTL, _STATUS, _ADDR, _MISC */
	MSR_IA32_TSC_DEADLINE, MSR_IA32_XSS, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK,
	MSR_KERNEL_GS_BASE, 0xc0000103, /* TSC_AUX */
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The index list plus extra_msrs, sorted, without duplicates. */
static int msr_indices(int kvm_fd, uint32_t **out)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	struct kvm_msr_list *list;
	size_t n, extra = sizeof(extra_msrs) / sizeof(extra_msrs[0]), k = 0;
	uint32_t *idx;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) && errno != E2BIG)
		return -errno;
	if (probe.nmsrs > VCPU_MSRS_MAX)
		return -E2BIG;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	if (probe.nmsrs && ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list)) {
		int err = -errno;

		free(list);
		return err;
	}
	n = list->nmsrs + extra;
	idx = malloc(n * sizeof(*idx));
	if (!idx) {
		free(list);
		return -ENOMEM;
	}
	memcpy(idx, list->indices, list->nmsrs * sizeof(uint32_t));
	memcpy(idx + list->nmsrs, extra_msrs, sizeof(extra_msrs));
	free(list);
	qsort(idx, n, sizeof(*idx), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || idx[k - 1] != idx[i])
			idx[k++] = idx[i];
	*out = idx;
	return (int)k;
}

/* KVM_GET_MSRS/SET_MSRS for n entries: the count done (it stops at the
 * first MSR it cannot handle) or -errno. */
static int msrs_ioctl(int vcpu_fd, unsigned long req, struct kvm_msr_entry *e, size_t n)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(*e));
	int ret;

	if (!m)
		return -ENOMEM;
	m->nmsrs = (uint32_t)n;
	memcpy(m->entries, e, n * sizeof(*e));
	ret = ioctl(vcpu_fd, req, m);
	if (ret < 0)
		ret = -errno;
	else
		memcpy(e, m->entries, n * sizeof(*e));
	free(m);
	return ret;
}

int vcpu_msrs_read(int vcpu_fd, int kvm_fd, struct kvm_msr_entry **out)
{
	uint32_t *idx = NULL;
	struct kvm_msr_entry *e;
	int n = msr_indices(kvm_fd, &idx);
	size_t done = 0, total;

	if (n < 0 || !idx)
		return n < 0 ? n : -EIO;
	total = (size_t)n;
	e = calloc(total ? total : 1, sizeof(*e));
	if (!e) {
		free(idx);
		return -ENOMEM;
	}
	for (size_t i = 0; i < total; i++)
		e[i].index = idx[i];
	free(idx);
	/* Each pass reads up to the first MSR this host cannot read, which is
	 * then dropped: the count of ioctls is the number of unreadable MSRs. */
	while (done < total) {
		int got = msrs_ioctl(vcpu_fd, KVM_GET_MSRS, e + done, total - done);

		if (got < 0) {
			free(e);
			return got;
		}
		done += (size_t)got;
		if (done < total) {
			pr_debug("vCPU MSR %#x is not readable here: not saved", e[done].index);
			memmove(e + done, e + done + 1, (total - done - 1) * sizeof(*e));
			total--;
		}
	}
	*out = e;
	return (int)total;
}

int vcpu_msrs_save(int vcpu_fd, int kvm_fd, struct snap_writer *w)
{
	struct kvm_msr_entry *e;
	int n = vcpu_msrs_read(vcpu_fd, kvm_fd, &e);
	int err;

	if (n < 0) {
		pr_err("snapshot: cannot read the vCPU's MSRs: %s", strerror(-n));
		return n;
	}
	err = snap_put(w, "msrs", e, (size_t)n * sizeof(*e));
	free(e);
	return err;
}

/* The record, checked, as a malloc'd (aligned) array of *n entries. */
static int load(struct snap_reader *r, struct kvm_msr_entry **e, size_t *n)
{
	const void *data;
	size_t len;
	int err = snap_find(r, "msrs", &data, &len);

	if (err)
		return err;
	if (len % sizeof(**e) || len / sizeof(**e) > VCPU_MSRS_MAX) {
		pr_err("snapshot: record 'msrs' of %zu bytes is no list of MSRs", len);
		return -EMSGSIZE;
	}
	*e = malloc(len ? len : 1);
	if (!*e)
		return -ENOMEM;
	memcpy(*e, data, len);
	*n = len / sizeof(**e);
	return 0;
}

/* A write KVM refused: harmless when the MSR already holds the value. */
static int refused(int vcpu_fd, const struct kvm_msr_entry *want)
{
	struct kvm_msr_entry now = { .index = want->index };

	if (msrs_ioctl(vcpu_fd, KVM_GET_MSRS, &now, 1) == 1 && now.data == want->data)
		return 0;
	if (want->index == MSR_IA32_MCG_CAP || want->index == MSR_IA32_XSS) {
		pr_warn("restore: KVM refuses to set MSR %#x to %#llx (it stays %#llx)",
			want->index, (unsigned long long)want->data, (unsigned long long)now.data);
		return 0;
	}
	pr_err("restore: KVM refuses to set MSR %#x to %#llx", want->index,
	       (unsigned long long)want->data);
	return -EINVAL;
}

int vcpu_msrs_restore(int vcpu_fd, struct snap_reader *r)
{
	struct kvm_msr_entry *e = NULL;
	size_t n = 0, done = 0;
	int err = load(r, &e, &n);

	if (err)
		return err;
	while (done < n && !err) {
		int set = msrs_ioctl(vcpu_fd, KVM_SET_MSRS, e + done, n - done);

		if (set < 0) {
			err = set;
			pr_err("restore: KVM_SET_MSRS: %s", strerror(-err));
			break;
		}
		done += (size_t)set;
		if (done < n)
			err = refused(vcpu_fd, &e[done++]);
	}
	free(e);
	return err;
}

int vcpu_msrs_restore_one(int vcpu_fd, struct snap_reader *r, uint32_t index)
{
	struct kvm_msr_entry *e = NULL;
	size_t n = 0;
	int err = load(r, &e, &n);

	for (size_t i = 0; !err && i < n; i++) {
		if (e[i].index != index)
			continue;
		if (msrs_ioctl(vcpu_fd, KVM_SET_MSRS, &e[i], 1) != 1)
			err = refused(vcpu_fd, &e[i]);
		break;
	}
	free(e);
	return err;
}
