# Triple-faults on its first boot (ud2 with an empty IDT: #UD -> #DF -> shutdown) and, after the
# reset, exits with 0x10. A counter at 0x300000 (outside the image, so the reload keeps it)
# tells the boots apart: RAM survives a reset as on a PC.
    .section .text.start
    .globl _start
    .code64
_start:
    mov $0x300000, %rdi
    mov (%rdi), %eax
    cmp $0x7ead, %eax
    je second
    movl $0x7ead, (%rdi)
    lea first_msg(%rip), %rsi
    call puts
    ud2
second:
    movl $0, (%rdi)
    lea second_msg(%rip), %rsi
    call puts
    mov $0xf4, %dx
    mov $0x10, %eax
    out %eax, %dx
1:  hlt
    jmp 1b

puts:
    lodsb
    test %al, %al
    jz 2f
    mov $0x3f8, %dx
    out %al, %dx
    jmp puts
2:  ret

    .section .rodata
first_msg: .asciz "boot 1: triple fault next\n"
second_msg: .asciz "boot 2: after reset\n"
