# For live-migration tests: writes the pass number into the first quadword of every page of
# 0x400000-0x600000 (512 pages), pass after pass, and checks before each write that the page holds
# the previous pass's number, so a page that a migration lost (it holds an older number) is caught
# on the next pass. 0x300000: the last complete pass. After each pass it prints '.' on COM1; on a
# mismatch "LOST" and the page's address at 0x300008, then halts with interrupts off.
    .set BASE, 0x400000
    .set END, 0x600000
    .set COM1, 0x3f8
    .section .text.start
    .globl _start
    .code64
_start:
    xor %r8, %r8                # the pass every page holds (RAM starts zeroed)
    mov $COM1, %dx
1:  lea 1(%r8), %r9             # this pass
    mov $BASE, %rdi
2:  cmp %r8, (%rdi)
    jne lost
    mov %r9, (%rdi)
    add $4096, %rdi
    cmp $END, %rdi
    jb 2b
    mov %r9, %r8
    mov %r8, 0x300000
    mov $'.', %al
    out %al, %dx
    jmp 1b

lost:
    mov %rdi, 0x300008
    lea message(%rip), %rsi
3:  lodsb
    test %al, %al
    jz 4f
    out %al, %dx
    jmp 3b
4:  cli
    hlt
    jmp 4b

message:
    .asciz "LOST\n"
