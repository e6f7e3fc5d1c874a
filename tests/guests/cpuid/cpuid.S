/* cpuid: prints what CPUID returns to the guest's ring 0 for a few leaves,
 *   CPUID 00000001 00 eax=........ ebx=........ ecx=........ edx=........
 * then CPUID-DONE, then resets through the i8042. On a PVM host these are
 * the configured bits OR'ed with the host's (see tests/integration). The PVH
 * entry only says it is not supported and resets. */
#include "../pvh-note.inc"

#define COM1 0x3f8

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
	mov	$0xfe, %al
	outb	%al, $0x64
1:	hlt
	jmp	1b

/* puts: prints the NUL-terminated string at %rsi. Clobbers rax, rdx, rsi. */
puts:
	mov	$COM1, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	ret

/* puthex: prints the low %esi hex digits of %rdi, most significant first.
 * Clobbers rax, rdx, rsi. */
puthex:
	push	%rcx
	mov	$COM1, %dx
1:	lea	-1(%rsi), %ecx
	shl	$2, %ecx
	mov	%rdi, %rax
	shr	%cl, %rax
	and	$0xf, %eax
	cmp	$10, %eax
	jb	2f
	add	$('a' - '0' - 10), %eax
2:	add	$'0', %eax
	outb	%al, %dx
	dec	%esi
	jnz	1b
	pop	%rcx
	ret

	.code32
	.globl _start32
_start32:
	mov	$s_pvh, %esi
	mov	$COM1, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	mov	$0xfe, %al
	outb	%al, $0x64
3:	hlt
	jmp	3b

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
