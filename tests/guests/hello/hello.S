/* hello: prints one line on COM1, then resets. Entered in long mode at _start
 * (volt's direct boot) or in 32-bit protected mode at _start32 (PVH). */
#include "../pvh-note.inc"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	lea	msg(%rip), %rsi
	call	puts
	jmp	reset

	.code32
	.globl _start32
_start32:
	mov	$msg32, %esi
	jmp	puts_reset32
	.code64

#include "../lib.inc"

	.section .rodata
msg:	.asciz "Hello from the volt hello guest\n"
/* Its own line, so that a test sees which entry volt jumped to. */
msg32:	.asciz "Hello from the volt hello guest (PVH entry)\n"
