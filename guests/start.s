# Entry point of the C test guests and the interrupt stubs of lib.c.
#
# _start: runs on jvisor's boot stack only long enough to zero .bss, then switches to a 64 KiB
# stack in .bss, calls main(), reports the result through isa-debug-exit (0x10 when main returned
# 0, 0x11 otherwise) and halts.

    .section .text.start, "ax"
    .globl _start
    .code64
_start:
    cli
    cld
    lea __bss_start(%rip), %rdi
    lea __bss_end(%rip), %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    rep stosb
    lea stack_top(%rip), %rsp
    xor %ebp, %ebp
    call main
    mov %eax, %ebx
    mov %eax, %edi
    call report_main_result       # prints PASS or FAIL: main returned N
    mov $0x10, %eax
    mov $0x11, %ecx
    test %ebx, %ebx
    cmovnz %ecx, %eax
    mov $0xf4, %dx
    out %eax, %dx
1:  cli
    hlt
    jmp 1b

# 256 interrupt stubs, 16 bytes apart: each pushes a 0 error code when the CPU pushes none, then
# its vector, and joins isr_common, which saves the GPRs and calls exception_handler(frame).
    .text
    .balign 16
isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp isr_common
    .set vec, vec + 1
    .endr

isr_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi               # struct frame *; 16-byte aligned here (176-byte frame)
    cld
    call exception_handler
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp                # vector and error code
    iretq

    .section .rodata
    .balign 8
    .globl isr_stub_table
isr_stub_table:
    .set vec, 0
    .rept 256
    .quad isr_stubs + 16 * vec
    .set vec, vec + 1
    .endr

    .bss
    .balign 16
stack:
    .skip 65536
stack_top:

    .section .note.GNU-stack, "", @progbits
