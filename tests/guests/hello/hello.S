/* hello: prints one line on COM1, then resets through the i8042, or, on
 * machines without one (QEMU's microvm), by a triple fault: ud2 with an empty IDT.
 * Entered in long mode at _start (volt's direct boot) or in 32-bit protected
 * mode at _start32 (PVH), which runs the same loop. */
#include "../pvh-note.inc"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	lea	msg(%rip), %rsi
	mov	$0x3f8, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	mov	$0xfe, %al
	outb	%al, $0x64
	lidt	null_idt(%rip)
	ud2

	.code32
	.globl _start32
_start32:
	mov	$msg, %esi
	mov	$0x3f8, %dx
1:	lodsb
	test	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	mov	$0xfe, %al
	outb	%al, $0x64
	lidt	null_idt
	ud2

	.section .rodata
null_idt:
	.word	0
	.quad	0
msg:	.asciz "Hello from the volt hello guest\n"
