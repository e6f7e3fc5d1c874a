#include "core/kvm.h"

#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_HLT, "KVM_CAP_HLT" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

int kvm_open(void)
{
	size_t i;
	int fd, v;

	fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		pr_err("cannot open /dev/kvm: %s%s", strerror(errno),
		       errno == ENOENT
			       ? " (this host has no KVM: load kvm_intel or kvm_amd, or enable "
				 "nested virtualization)"
		       : errno == EACCES ? " (join the 'kvm' group)"
					 : "");
		return err;
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		pr_err("/dev/kvm speaks API version %d, volt needs %d", v, KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	for (i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			pr_err("/dev/kvm lacks %s, which volt needs", required_caps[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	return fd;
}

int kvm_ioeventfd(int vm_fd, int fd, uint64_t addr, uint32_t datamatch)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	return ioctl(vm_fd, KVM_IOEVENTFD, &io) ? -errno : 0;
}

int kvm_irqfd(int vm_fd, int fd, uint32_t gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

	return ioctl(vm_fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

int kvm_get_cpuid2(int vcpu_fd, struct kvm_cpuid2 *out, unsigned int max)
{
	unsigned int n;

	/* An entry KVM did not write keeps flags all ones, which no entry has. */
	memset(out->entries, 0xff, (size_t)max * sizeof(out->entries[0]));
	out->nent = max;
	if (ioctl(vcpu_fd, KVM_GET_CPUID2, out))
		return -errno;
	for (n = 0; n < out->nent && n < max && out->entries[n].flags != UINT32_MAX; n++)
		;
	out->nent = n;
	return 0;
}
