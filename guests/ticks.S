# For snapshot tests: state beyond the general registers, then counting in RAM while the local
# APIC timer interrupts. Never exits. 0x300000: loop count; 0x300008: timer interrupts taken.
# State set first: the 8259s masked, DR0 = 0x1234000 (disabled in DR7), XMM0 = a pattern, PIT channel 0 in mode 2,
# an IDT with vector 0x40; LAPIC (SDM vol. 3, 10.5.4): SVR enabled, timer periodic on 0x40,
# divide by 1, initial count 1000000.
    .set LAPIC, 0xFEE00000
#include "idt.inc"
    .section .text.start
    .globl _start
    .code64
_start:
    mov $0x300000, %rdi
    movq $0, (%rdi)
    movq $0, 8(%rdi)
    mov $0x1234000, %rax
    mov %rax, %dr0
    movdqu pattern(%rip), %xmm0    # (not movq: the nested KVM here cannot emulate it)
    mov $0xff, %al              # mask both 8259s (OCW1): KVM's BSP takes PIC interrupts through LINT0
    out %al, $0x21
    out %al, $0xa1
    mov $0x34, %al              # channel 0, lobyte/hibyte, mode 2 (its IRQ 0 stays masked)
    out %al, $0x43
    mov $0x9c, %al              # count 0x2e9c
    out %al, $0x40
    mov $0x2e, %al
    out %al, $0x40
    set_interrupt_gate 0x40, tick, idt   # the timer's vector
    lidt idtr(%rip)
    mov $LAPIC, %rbx
    movl $0x1FF, 0xF0(%rbx)     # SVR: APIC enabled, spurious vector 0xFF
    movl $0xB, 0x3E0(%rbx)      # divide by 1
    movl $0x20040, 0x320(%rbx)  # LVT timer: periodic, vector 0x40
    movl $1000000, 0x380(%rbx)  # initial count: starts the timer
    sti
1:  incq (%rdi)
    jmp 1b

tick:
    push %rax
    incq 0x300008
    mov $LAPIC, %rax
    movl $0, 0xB0(%rax)         # EOI
    pop %rax
    iretq

    .section .data
    .balign 16
pattern:
    .quad 0x0123456789abcdef, 0xfedcba9876543210
idtr:
    .word 0x41 * 16 - 1
    .quad idt
    .balign 16
idt:
    .fill 0x41 * 16, 1, 0
