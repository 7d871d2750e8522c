# Exit-cost guest: COUNT byte writes to port 0x510, which nothing claims, then isa-debug-exit.
# Built by bench/kvm-exits.sh with --defsym COUNT=N.
    .section .text.start
    .globl _start
    .code64
_start:
    mov $COUNT, %ecx
    mov $0x510, %dx
    test %ecx, %ecx
    jz 2f
1:  out %al, %dx
    dec %ecx
    jnz 1b
2:  mov $0xf4, %dx
    mov $0x10, %eax
    out %eax, %dx
3:  hlt
    jmp 3b
