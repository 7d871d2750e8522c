# Counts forever in RAM at 0x300000 without a single exit: for pause/resume tests.
    .section .text.start
    .globl _start
    .code64
_start:
    mov $0x300000, %rdi
    movq $0, (%rdi)
1:  incq (%rdi)
    jmp 1b
