# For the gdbstub test (GdbStubGuestTest), run under gdb on jvisor and on QEMU: known registers at
# gdb_break, one instruction to step, a word table to read, a branch on RAX that gdb changes
# ("set $rax = 0x600d" prints "rax patched"), then a spin on `release` that gdb interrupts and ends
# by writing it; exits 0x10 after "released". Without gdb it prints "rax not patched" and spins.
    .section .text.start
    .globl _start
    .code64
_start:
    push $2                 # RFLAGS known on both (QEMU's boot32 leaves its own)
    popfq
    mov $0x1111111111111111, %rbx
    mov $0x2222222222222222, %rcx
    mov $0x3333333333333333, %rdx
    mov $0x4444444444444444, %rsi
    mov $0x5555555555555555, %rdi
    mov $0x6666666666666666, %rbp
    mov $0x8888888888888888, %r8
    mov $0x9999999999999999, %r9
    mov $0xaaaaaaaaaaaaaaaa, %r10
    mov $0xbbbbbbbbbbbbbbbb, %r11
    mov $0xcccccccccccccccc, %r12
    mov $0xdddddddddddddddd, %r13
    mov $0xeeeeeeeeeeeeeeee, %r14
    mov $0xffffffffffffffff, %r15
    mov $0x80000, %rsp
    xor %eax, %eax          # ZF PF set: eflags 0x46
    mov $0x1234, %eax
    .globl gdb_break
gdb_break:
    mov $0x7777, %ecx
    .globl gdb_after_step
gdb_after_step:
    lea patched(%rip), %rsi
    cmp $0x600d, %rax
    je 1f
    lea unpatched(%rip), %rsi
1:  call print
    .globl gdb_spin
gdb_spin:
    cmpl $0, release(%rip)
    je gdb_spin
    lea released(%rip), %rsi
    call print
    mov $0xf4, %dx
    mov $0x10, %eax
    out %eax, %dx
2:  hlt
    jmp 2b

# Prints the NUL-terminated string at RSI on COM1.
print:
    lodsb
    test %al, %al
    jz 3f
    mov %al, %bl
4:  mov $0x3fd, %dx
    in %dx, %al
    test $0x20, %al
    jz 4b
    mov $0x3f8, %dx
    mov %bl, %al
    out %al, %dx
    jmp print
3:  ret

    .section .rodata
    .globl gdb_words
    .balign 4
gdb_words: .long 0xdeadbeef, 0x12345678, 0xcafef00d, 0x0badc0de
patched: .asciz "gdbstub: rax patched\n"
unpatched: .asciz "gdbstub: rax not patched\n"
released: .asciz "gdbstub: released\n"

    .data
    .globl release
    .balign 4
release: .long 0
