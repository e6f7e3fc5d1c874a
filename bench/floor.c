/* The bare-KVM floor that bench/run.sh measures volt against: the least a VMM
 * can do to run the hello guest (tests/guests/hello) - create a VM, a 128 MiB
 * memory slot, the in-kernel irqchip and one vCPU, enter the guest at its PVH
 * entry (flat 32-bit protected mode), copy COM1's bytes to stdout one write()
 * each (as volt does), and exit when the guest resets through port 0x64.
 * No sandbox, no devices, no error messages beyond the failing step.
 * Usage: floor GUEST_ELF */
#include <elf.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE   (128UL << 20)
#define FAIL(what) (perror(what), 1)

int main(int argc, char **argv)
{
	static char elf[1 << 20];
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf;
	struct kvm_userspace_memory_region slot = { .memory_size = MEM_SIZE };
	struct kvm_segment seg = { .limit = 0xffffffff, .present = 1, .s = 1, .db = 1, .g = 1 };
	struct kvm_regs regs = { .rflags = 2 };
	struct kvm_sregs sregs;
	struct kvm_run *run;
	uint32_t entry = 0;
	ssize_t len;
	char *mem;
	int fd, kvm, vm, cpu, i;

	if (argc != 2 || (fd = open(argv[1], O_RDONLY)) < 0)
		return FAIL("floor: GUEST_ELF");
	len = read(fd, elf, sizeof(elf));
	if (len < (ssize_t)sizeof(*eh) || memcmp(elf, ELFMAG, SELFMAG) ||
	    eh->e_phoff + eh->e_phnum * sizeof(Elf64_Phdr) > (size_t)len)
		return FAIL("floor: not an ELF file");
	/* The memory slot before the irqchip, in the order: added after it,
	 * the slot sleeps ~5 ms in KVM on these hosts (docs/benchmarks.md). */
	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0 ||
	    (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		return FAIL("floor: KVM_CREATE_VM");
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	slot.userspace_addr = (uintptr_t)mem;
	if (mem == MAP_FAILED || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot))
		return FAIL("floor: guest memory");
	if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000) || ioctl(vm, KVM_CREATE_IRQCHIP, 0))
		return FAIL("floor: KVM_SET_TSS_ADDR/IRQCHIP");
	for (i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(elf + eh->e_phoff) + i;
		const uint32_t *note = (const uint32_t *)(elf + ph->p_offset);

		if (ph->p_offset + ph->p_filesz > (size_t)len ||
		    ph->p_paddr + ph->p_memsz > MEM_SIZE)
			return FAIL("floor: segment out of bounds");
		if (ph->p_type == PT_LOAD)
			memcpy(mem + ph->p_paddr, elf + ph->p_offset, ph->p_filesz);
		/* XEN_ELFNOTE_PHYS32_ENTRY: namesz 4 ("Xen"), descsz 4, type 18. */
		if (ph->p_type == PT_NOTE && ph->p_filesz >= 20 && note[2] == 18)
			entry = note[4];
	}
	if (!entry || (cpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0)
		return FAIL("floor: PVH entry note / KVM_CREATE_VCPU");
	run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE,
		   MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED || ioctl(cpu, KVM_GET_SREGS, &sregs))
		return FAIL("floor: vCPU");
	seg.type = 11, seg.selector = 8, sregs.cs = seg; /* code, execute/read */
	seg.type = 3, seg.selector = 16;		 /* data, read/write */
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
	sregs.cr0 = 1; /* protected mode, no paging */
	regs.rip = entry;
	if (ioctl(cpu, KVM_SET_SREGS, &sregs) || ioctl(cpu, KVM_SET_REGS, &regs))
		return FAIL("floor: KVM_SET_SREGS/REGS");
	for (;;) {
		if (ioctl(cpu, KVM_RUN, 0))
			return FAIL("floor: KVM_RUN");
		if (run->exit_reason != KVM_EXIT_IO) /* a triple fault, halt...: done */
			return run->exit_reason == KVM_EXIT_SHUTDOWN ? 0 : 2;
		if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x3f8 &&
		    write(1, (char *)run + run->io.data_offset, run->io.size * run->io.count) < 0)
			return FAIL("floor: write");
		if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x64)
			return 0; /* the i8042 reset: volt stops here too */
	}
}
