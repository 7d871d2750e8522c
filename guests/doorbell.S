# Rings a doorbell 1000 times (32-bit writes of 0x1234 to port 0x510), then exits through
# isa-debug-exit. Tests bind an ioeventfd to the port: the writes should never reach the VMM.
    .section .text.start
    .globl _start
    .code64
_start:
    mov $1000, %ecx
    mov $0x510, %dx
    mov $0x1234, %eax
1:  out %eax, %dx
    dec %ecx
    jnz 1b
    mov $0xf4, %dx
    mov $0x10, %eax
    out %eax, %dx
2:  hlt
    jmp 2b
