/* traps: exercises the exception paths volt must get right.
 *   default: installs a #BP handler, runs int3 (reflected as #BP by volt on PVM
 *            hosts, where KVM's emulator gives up on it) and fwait (stepped
 *            over there), printing a line after each, then resets.
 *   command line starting with "crash":  ud2 with an empty IDT, a triple
 *            fault without a reset request (volt must exit non-zero).
 *   command line starting with "popcnt": popcnt in ring 0 (on PVM hosts an
 *            instruction the emulator cannot run: volt must stop and say so).
 * The command line is read at the zero page's cmd_line_ptr (RSI + 0x228). */
#include "../pvh-note.inc"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	mov	0x228(%rsi), %ebx	/* boot_params.hdr.cmd_line_ptr */
	mov	(%rbx), %eax
	cmp	$0x73617263, %eax	/* "cras" */
	je	crash
	cmp	$0x63706f70, %eax	/* "popc" */
	je	do_popcnt

	/* IDT entry 3: a 64-bit interrupt gate to bp_handler, selector 0x08. */
	lea	bp_handler(%rip), %rax
	lea	idt(%rip), %rdi
	mov	%ax, 3*16(%rdi)
	movw	$0x08, 3*16+2(%rdi)
	movw	$0x8e00, 3*16+4(%rdi)
	shr	$16, %rax
	mov	%ax, 3*16+6(%rdi)
	shr	$16, %rax
	mov	%eax, 3*16+8(%rdi)
	lea	idtr(%rip), %rax
	mov	%rdi, 2(%rax)
	lidt	(%rax)

	int3
	lea	msg_after_bp(%rip), %rsi
	call	puts
	fwait
	lea	msg_fwait(%rip), %rsi
	call	puts
	jmp	reset

bp_handler:
	lea	msg_bp(%rip), %rsi
	call	puts
	iretq

crash:
	lea	null_idtr(%rip), %rax
	lidt	(%rax)
	ud2

do_popcnt:
	mov	$0xff, %eax
	popcnt	%eax, %eax
	lea	msg_popcnt(%rip), %rsi
	call	puts
	jmp	reset

	.code32
	.globl _start32
_start32:
	mov	$msg_pvh, %esi
	jmp	puts_reset32
	.code64

#include "../lib.inc"

	.section .rodata
msg_bp:		.asciz "TRAPS: #BP handled\n"
msg_after_bp:	.asciz "TRAPS: back after int3\n"
msg_fwait:	.asciz "TRAPS: fwait done\n"
msg_popcnt:	.asciz "TRAPS: popcnt ran\n"
msg_pvh:	.asciz "TRAPS: PVH entry unsupported\n"

	.section .data
	.balign 16
idt:	.fill 32, 8, 0
idtr:	.word 16*16-1
	.quad 0
