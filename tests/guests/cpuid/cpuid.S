/* cpuid: prints what CPUID returns to the guest's ring 0 for a few leaves,
 *   CPUID 00000001 00 eax=........ ebx=........ ecx=........ edx=........
 * then CPUID-DONE, then resets through the i8042. On a PVM host these are
 * the configured bits OR'ed with the host's (see tests/integration). The PVH
 * entry only says it is not supported and resets. */
#include "../pvh-note.inc"


	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	lea	leaves(%rip), %r15
next:
	mov	(%r15), %eax
	cmp	$-1, %eax
	je	done
	mov	4(%r15), %ecx
	mov	%eax, %r12d
	mov	%ecx, %r13d
	cpuid
	mov	%eax, %r8d
	mov	%ebx, %r9d
	mov	%ecx, %r10d
	mov	%edx, %r11d

	lea	s_cpuid(%rip), %rsi
	call	puts
	mov	%r12, %rdi
	mov	$8, %esi
	call	puthex
	lea	s_space(%rip), %rsi
	call	puts
	mov	%r13, %rdi
	mov	$2, %esi
	call	puthex
	lea	s_eax(%rip), %rsi
	call	puts
	mov	%r8, %rdi
	mov	$8, %esi
	call	puthex
	lea	s_ebx(%rip), %rsi
	call	puts
	mov	%r9, %rdi
	mov	$8, %esi
	call	puthex
	lea	s_ecx(%rip), %rsi
	call	puts
	mov	%r10, %rdi
	mov	$8, %esi
	call	puthex
	lea	s_edx(%rip), %rsi
	call	puts
	mov	%r11, %rdi
	mov	$8, %esi
	call	puthex
	lea	s_nl(%rip), %rsi
	call	puts
	add	$8, %r15
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
/* (function, subleaf) pairs, ended by -1. */
leaves:
	.long	0x00000000, 0
	.long	0x00000001, 0
	.long	0x00000007, 0
	.long	0x40000000, 0
	.long	0x80000001, 0
	.long	0x80000007, 0
	.long	-1, -1
s_cpuid:	.asciz "CPUID "
s_space:	.asciz " "
s_eax:		.asciz " eax="
s_ebx:		.asciz " ebx="
s_ecx:		.asciz " ecx="
s_edx:		.asciz " edx="
s_nl:		.asciz "\n"
s_done:		.asciz "CPUID-DONE\n"
s_pvh:		.asciz "cpuid guest: PVH entry unsupported\n"
