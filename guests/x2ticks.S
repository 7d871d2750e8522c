# ticks.S in x2APIC mode, for snapshots across engines: the local APIC is switched to x2APIC mode
# (IA32_APIC_BASE.EXTD, SDM vol. 3, 10.12.1) and programmed only through its MSRs (10.12.1.2),
# then the guest counts in RAM while the timer interrupts. Never exits. 0x300000: loop count;
# 0x300008: timer interrupts taken; 0x300010: the x2APIC ID read from MSR 0x802 (its 32-bit form).
    .set APIC_BASE_MSR, 0x1B
    .set X2_ID, 0x802
    .set X2_EOI, 0x80B
    .set X2_SVR, 0x80F
    .set X2_LVT_TIMER, 0x832
    .set X2_TMICT, 0x838
    .set X2_TDCR, 0x83E
#include "idt.inc"
    .section .text.start
    .globl _start
    .code64
_start:
    mov $0x300000, %rdi
    movq $0, (%rdi)
    movq $0, 8(%rdi)
    mov $0xff, %al              # mask both 8259s (OCW1)
    out %al, $0x21
    out %al, $0xa1
    set_interrupt_gate 0x40, tick, idt   # the timer's vector
    lidt idtr(%rip)
    mov $APIC_BASE_MSR, %ecx    # EN and EXTD: xAPIC to x2APIC mode
    rdmsr
    or $0xC00, %eax
    wrmsr
    mov $X2_ID, %ecx
    rdmsr
    mov %eax, 0x300010
    mov $X2_SVR, %ecx           # APIC enabled, spurious vector 0xFF
    mov $0x1FF, %eax
    xor %edx, %edx
    wrmsr
    mov $X2_TDCR, %ecx          # divide by 1
    mov $0xB, %eax
    wrmsr
    mov $X2_LVT_TIMER, %ecx     # periodic, vector 0x40
    mov $0x20040, %eax
    wrmsr
    mov $X2_TMICT, %ecx         # initial count: starts the timer
    mov $1000000, %eax
    wrmsr
    sti
1:  incq (%rdi)
    jmp 1b

tick:
    push %rax
    push %rcx
    push %rdx
    incq 0x300008
    mov $X2_EOI, %ecx           # EOI: a WRMSR of 0 (10.12.1.2: non-zero is #GP)
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    pop %rdx
    pop %rcx
    pop %rax
    iretq

    .section .data
idtr:
    .word 0x41 * 16 - 1
    .quad idt
    .balign 16
idt:
    .fill 0x41 * 16, 1, 0
