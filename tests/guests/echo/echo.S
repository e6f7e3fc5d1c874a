/* echo: prints a banner on COM1, then runs until the VMM stops it, echoing
 * every byte it receives on COM1 (polled; a short pause between polls keeps
 * the exits to the VMM few). A guest that stays up for tests that need a
 * running VM and proof that it still runs (type, see the echo), without the
 * cost of a Linux boot. Only the long-mode entry echoes; PVH just prints. */
#include "../pvh-note.inc"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	lea	msg(%rip), %rsi
	call	puts
poll:
	mov	$0x3fd, %dx		/* COM1 LSR */
	inb	%dx, %al
	test	$1, %al			/* data ready */
	jz	idle
	mov	$0x3f8, %dx		/* COM1 */
	inb	%dx, %al
	outb	%al, %dx
	jmp	poll
idle:
	mov	$2000, %ecx
1:	pause
	dec	%ecx
	jnz	1b
	jmp	poll

	.code32
	.globl _start32
_start32:
	mov	$msg, %esi
	jmp	puts_reset32
	.code64

#include "../lib.inc"

	.section .rodata
msg:	.asciz "echo guest ready\n"
