# Compute guest for bench/tcg-mips.sh: ITERS iterations of an 8-instruction loop body mixing
# ALU work, a store and a load, lea, a multiply and a taken branch; then isa-debug-exit.
# Built with --defsym ITERS=N; guest instructions = 8 * ITERS (+ a handful).
    .section .text.start
    .globl _start
    .code64
_start:
    mov $ITERS, %rcx
    mov $0x200000, %rdi
    xor %eax, %eax
    xor %edx, %edx
    xor %ebx, %ebx
1:  add %rcx, %rax
    xor %rax, %rdx
    mov %rdx, (%rdi)
    add (%rdi), %rbx
    lea 1(%rbx), %rbx
    imul $3, %rax, %rsi
    dec %rcx
    jnz 1b
    mov $0xf4, %dx
    mov $0x10, %eax
    out %eax, %dx
2:  hlt
    jmp 2b
