/*
 * QEMU-only front end for the test guests: a Multiboot (v1) header and a 32-bit entry that builds
 * the same machine state as org.jvisor.boot.TestGuestBoot (same tables at the same addresses),
 * enters long mode and jumps to the guest's 64-bit _start. Linked first into *.mb.elf by
 * qemu/mb.ld; never part of the images jvisor runs.
 *
 * The header uses the a.out kludge (flags bit 16): QEMU then loads the file bytes by the header's
 * address fields instead of parsing the ELF, which it refuses for ELF64. mb.ld keeps the image
 * one contiguous PT_LOAD segment so file offsets and addresses stay in step.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010000 /* a.out kludge: load by the address fields below */

#define GDT_ADDR 0x500
#define PML4_ADDR 0x1000
#define PDPT_ADDR 0x2000
#define PD_ADDR 0x3000
#define PD_COUNT 4 /* 4 GiB: all of a <= 3 GiB guest's RAM and the 3-4 GiB MMIO hole */
#define STACK_TOP 0x80000

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header          /* header_addr */
    .long __mb_load_start    /* load_addr */
    .long __mb_load_end      /* load_end_addr */
    .long __bss_end          /* bss_end_addr */
    .long boot32_entry       /* entry_addr */

    .section .text.boot32, "ax"
    .code32
    .globl boot32_entry
boot32_entry:
    cli
    cld
    /* Zero the PML4, the PDPT and the page directories. */
    mov $PML4_ADDR, %edi
    mov $((PD_ADDR + PD_COUNT * 0x1000 - PML4_ADDR) / 4), %ecx
    xor %eax, %eax
    rep stosl
    movl $(PDPT_ADDR | 3), PML4_ADDR          /* present, writable */
    mov $PDPT_ADDR, %edi
    mov $(PD_ADDR | 3), %eax
    mov $PD_COUNT, %ecx
1:  mov %eax, (%edi)
    add $0x1000, %eax
    add $8, %edi
    loop 1b
    /* 2 MiB identity pages: present, writable, PS. */
    mov $PD_ADDR, %edi
    mov $0x83, %eax
    mov $(PD_COUNT * 512), %ecx
2:  mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 2b

    /* GDT: null, 0x08 64-bit code, 0x10 flat data, 0x18 64-bit TSS at base 0, limit 0x67. */
    movl $0, GDT_ADDR
    movl $0, GDT_ADDR + 4
    movl $0x0000FFFF, GDT_ADDR + 0x08
    movl $0x00AF9B00, GDT_ADDR + 0x0C
    movl $0x0000FFFF, GDT_ADDR + 0x10
    movl $0x00CF9300, GDT_ADDR + 0x14
    movl $0x00000067, GDT_ADDR + 0x18
    movl $0x00008900, GDT_ADDR + 0x1C         /* available; ltr below marks it busy (0x8B) */
    movl $0, GDT_ADDR + 0x20
    movl $0, GDT_ADDR + 0x24
    lgdt gdt_ptr

    mov $0x620, %eax                          /* CR4: PAE, OSFXSR, OSXMMEXCPT */
    mov %eax, %cr4
    mov $PML4_ADDR, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx                     /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov $0x80010033, %eax                     /* CR0: PG, WP, NE, ET, MP, PE */
    mov %eax, %cr0
    ljmp $0x08, $long_entry

    .code64
long_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %fs
    mov %eax, %gs
    mov %eax, %ss
    mov $0x18, %eax
    ltr %ax
    lidt idt_null
    mov $STACK_TOP, %esp
    pushq $2                                  /* RFLAGS: only the fixed bit */
    popfq
    mov $_start, %eax
    mov %rax, %r15
    xor %eax, %eax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    jmp *%r15

    .section .rodata
    .balign 8
gdt_ptr:
    .word 0x27
    .long GDT_ADDR
    .balign 8
idt_null:
    .word 0
    .quad 0

    .section .note.GNU-stack, "", @progbits
