# Prints a line on COM1 and exits through isa-debug-exit with value 0x10 (status 0x21 = 33).
    .section .text.start
    .globl _start
    .code64
_start:
    lea msg(%rip), %rsi
1:  lodsb
    test %al, %al
    jz 3f
    mov %al, %bl
2:  mov $0x3fd, %dx          # LSR: wait for THR empty
    in %dx, %al
    test $0x20, %al
    jz 2b
    mov $0x3f8, %dx
    mov %bl, %al
    out %al, %dx
    jmp 1b
3:  mov $0xf4, %dx
    mov $0x10, %eax
    out %eax, %dx
4:  hlt
    jmp 4b

    .section .rodata
msg: .asciz "Hello from a jvisor test guest\n"
