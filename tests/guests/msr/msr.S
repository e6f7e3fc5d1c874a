/* msr: reads the boot MSRs volt sets (arch/x86/msr.h) with rdmsr, before
 * anything in the guest can change them, and prints
 *   MSR c0000082 value=0000000000000000
 * for each, then MSR-DONE, then resets through the i8042. An MSR KVM refused
 * would raise #GP here and end the VM without MSR-DONE. The PVH entry only
 * says it is not supported and resets. */
#include "../pvh-note.inc"


	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	lea	msrs(%rip), %r15
next:
	mov	(%r15), %ecx
	test	%ecx, %ecx
	jz	done
	mov	%ecx, %r12d
	rdmsr
	shl	$32, %rdx
	mov	%eax, %eax
	or	%rdx, %rax
	mov	%rax, %r8

	lea	s_msr(%rip), %rsi
	call	puts
	mov	%r12, %rdi
	mov	$8, %esi
	call	puthex
	lea	s_value(%rip), %rsi
	call	puts
	mov	%r8, %rdi
	mov	$16, %esi
	call	puthex
	lea	s_nl(%rip), %rsi
	call	puts
	add	$4, %r15
	jmp	next

done:
	lea	s_done(%rip), %rsi
	call	puts
	jmp	reset

	.code32
	.globl _start32
_start32:
	mov	$s_pvh, %esi
	jmp	puts_reset32
	.code64

#include "../lib.inc"

	.section .rodata
	.p2align 2
/* The boot MSRs, ended by 0 (MSR 0 is not one of them). */
msrs:
	.long	0x00000174	/* IA32_SYSENTER_CS */
	.long	0x00000175	/* IA32_SYSENTER_ESP */
	.long	0x00000176	/* IA32_SYSENTER_EIP */
	.long	0xc0000081	/* STAR */
	.long	0xc0000082	/* LSTAR */
	.long	0xc0000083	/* CSTAR */
	.long	0xc0000084	/* SYSCALL_MASK */
	.long	0xc0000102	/* KERNEL_GS_BASE */
	.long	0x00000010	/* IA32_TSC */
	.long	0x000001a0	/* IA32_MISC_ENABLE */
	.long	0x000002ff	/* MTRRdefType */
	.long	0
s_msr:		.asciz "MSR "
s_value:	.asciz " value="
s_nl:		.asciz "\n"
s_done:		.asciz "MSR-DONE\n"
s_pvh:		.asciz "msr guest: PVH entry unsupported\n"
