/* spin: prints a banner, runs a known loop (spin_loop) for a fixed number of
 * iterations, prints a second line and resets. A guest whose time goes to one
 * symbol: `volt run --profile` must put most samples there. About a second
 * where ring 0 is emulated (PVM hosts), milliseconds on hardware. */
#include "../pvh-note.inc"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	lea	msg(%rip), %rsi
	call	puts
	mov	$400000, %ecx
	.globl spin_loop
spin_loop:
	dec	%ecx
	jnz	spin_loop
	lea	done(%rip), %rsi
	call	puts
	jmp	reset

	.code32
	.globl _start32
_start32:
	mov	$msg, %esi
	jmp	puts_reset32
	.code64

#include "../lib.inc"

	.section .rodata
msg:	.asciz "spin guest: spinning\n"
done:	.asciz "spin guest: done\n"
