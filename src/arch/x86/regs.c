#include "arch/x86/regs.h"

#include "arch/x86/gdt.h"
#include "arch/x86/layout.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

void regs_fill_sregs(struct kvm_sregs *s, bool long_mode)
{
	struct kvm_segment code = gdt_segment(long_mode ? GDT_CODE64 : GDT_CODE32);
	struct kvm_segment data = gdt_segment(GDT_DATA);
	struct kvm_segment tss = gdt_segment(GDT_TSS);

	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = tss;
	s->gdt.base = LAYOUT_GDT;
	s->gdt.limit = GDT_ENTRIES * 8 - 1;
	/* No IDT until the kernel loads one: a fault before that is a triple fault. */
	s->idt.base = 0;
	s->idt.limit = 0;
	if (long_mode) {
		s->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
		s->cr3 = LAYOUT_PML4;
		s->cr4 = X86_CR4_PAE;
		s->efer = EFER_LME | EFER_LMA | EFER_SCE;
	} else {
		s->cr0 = X86_CR0_PE | X86_CR0_ET;
		s->cr3 = 0;
		s->cr4 = 0;
		s->efer = 0;
	}
}

void regs_fill_regs(struct kvm_regs *r, bool long_mode, uint64_t entry, uint64_t boot_info)
{
	memset(r, 0, sizeof(*r));
	r->rflags = 0x2; /* bit 1 is reserved and always set */
	r->rip = entry;
	if (long_mode) {
		r->rsp = r->rbp = LAYOUT_STACK;
		r->rsi = boot_info;
	} else {
		r->rbx = boot_info;
	}
}

int regs_setup_fpu(int vcpu_fd)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;    /* x87 power-on default */
	fpu.mxcsr = 0x1f80; /* all SSE exceptions masked */
	return ioctl(vcpu_fd, KVM_SET_FPU, &fpu) ? -errno : 0;
}

int regs_setup_boot_cpu(int vcpu_fd, bool long_mode, uint64_t entry, uint64_t boot_info)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs))
		return -errno;
	regs_fill_sregs(&sregs, long_mode);
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs))
		return -errno;
	regs_fill_regs(&regs, long_mode, entry, boot_info);
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}
