/*
 * exceptions: exception and software-interrupt delivery through a 64-bit IDT.
 * For each case the handler records vector, error code and the CPU-pushed frame, then resumes
 * after the instruction. Asserts the vector, the error code, the RIP pushed (the faulting
 * instruction for faults, the next one for traps and INT n), CS/SS/RSP in the frame, the 16-byte
 * alignment of the frame, that the handler's changes to GPRs and RFLAGS come back through
 * IRETQ, and that a faulting instruction changed no register.
 */
#include "lib.h"

static const char *vec_name(uint64_t v)
{
    switch (v) {
    case VEC_DE: return "#DE";
    case VEC_DB: return "#DB";
    case VEC_BP: return "#BP";
    case VEC_UD: return "#UD";
    case VEC_NP: return "#NP";
    case VEC_GP: return "#GP";
    case VEC_PF: return "#PF";
    default: return "int";
    }
}

/* Asserts one recorded event: a single exception of this vector and error code at this RIP,
 * taken from CPL0 on the current stack (frame RSP = the RSP at the instruction). */
static void expect(const char *what, uint64_t vector, uint64_t err, uint64_t rip, uint64_t rsp)
{
    printf("exceptions: %-34s -> %s (vector %lu) error %#lx rip %#lx\n", what, vec_name(last_fault.vector),
           last_fault.vector, last_fault.error_code, last_fault.rip);
    if (last_fault.count != 1)
        failf("%s: expected one exception, got %lu", what, last_fault.count);
    if (last_fault.vector != vector)
        failf("%s: vector %lu, expected %lu", what, last_fault.vector, vector);
    if (last_fault.error_code != err)
        failf("%s: error code %#lx, expected %#lx", what, last_fault.error_code, err);
    if (last_fault.rip != rip)
        failf("%s: pushed rip %#lx, expected %#lx", what, last_fault.rip, rip);
    if (last_fault.cs != KERNEL_CS || last_fault.ss != read_ss())
        failf("%s: pushed cs:ss %#lx:%#lx, expected %#x:%#x", what, last_fault.cs, last_fault.ss, KERNEL_CS,
              read_ss());
    if (rsp && last_fault.rsp != rsp)
        failf("%s: pushed rsp %#lx, expected %#lx", what, last_fault.rsp, rsp);
    if (last_fault.frame_addr & 15)
        failf("%s: exception frame at %#lx is not 16-byte aligned", what, last_fault.frame_addr);
    if (last_fault.rflags & RFLAGS_IF)
        failf("%s: pushed rflags %#lx has IF set", what, last_fault.rflags);
}

static void test_de(void)
{
    uint64_t sp, rax = 1, rdx = 0, rcx = 0;
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("divl %%ecx")
                     : [sp] "=&r"(sp), "+a"(rax), "+d"(rdx), "+c"(rcx) : : "memory", "cc");
    expect("div by zero (divl %ecx)", VEC_DE, 0, probe_rip, sp);
    CHECK(rax == 1 && rdx == 0 && rcx == 0); /* a fault leaves the registers alone */

    /* Quotient overflow: 0x1_00000000 / 1 does not fit in 32 bits. */
    rax = 0;
    rdx = 1;
    rcx = 1;
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("divl %%ecx")
                     : [sp] "=&r"(sp), "+a"(rax), "+d"(rdx), "+c"(rcx) : : "memory", "cc");
    expect("divide overflow (divl)", VEC_DE, 0, probe_rip, sp);
    CHECK(rax == 0 && rdx == 1);

    /* INT64_MIN / -1 overflows a signed 64-bit quotient. */
    rax = 0x8000000000000000UL;
    rdx = ~0UL;
    rcx = ~0UL;
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("idivq %%rcx")
                     : [sp] "=&r"(sp), "+a"(rax), "+d"(rdx), "+c"(rcx) : : "memory", "cc");
    expect("signed overflow (idivq INT64_MIN/-1)", VEC_DE, 0, probe_rip, sp);
    CHECK_EQ(rax, 0x8000000000000000UL);
}

static void test_ud(void)
{
    uint64_t sp;
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("ud2") : [sp] "=&r"(sp) : : "memory");
    expect("ud2", VEC_UD, 0, probe_rip, sp);

    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM(".byte 0x06") : [sp] "=&r"(sp) : : "memory");
    expect("push %es (invalid in 64-bit mode)", VEC_UD, 0, probe_rip, sp);

    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM(".byte 0xf0, 0x01, 0xc3")
                     : [sp] "=&r"(sp) : : "memory", "rbx", "cc");
    expect("lock add %eax,%ebx (register operand)", VEC_UD, 0, probe_rip, sp);

    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM(".byte 0x0f, 0x20, 0xc8")
                     : [sp] "=&r"(sp) : : "memory", "rax");
    expect("mov %cr1, %rax", VEC_UD, 0, probe_rip, sp);

    /* With a misaligned RSP the CPU still aligns the frame to 16 bytes and pushes the old RSP. */
    clear_fault();
    __asm__ volatile("sub $8, %%rsp\n\t"
                     "mov %%rsp, %[sp]\n\t" PROBE_ASM("ud2") "add $8, %%rsp"
                     : [sp] "=&r"(sp) : : "memory");
    CHECK_EQ(sp & 15, 8);
    expect("ud2 with RSP = 8 mod 16", VEC_UD, 0, probe_rip, sp);
}

static void test_bp(void)
{
    uint64_t sp;
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("int3") : [sp] "=&r"(sp) : : "memory");
    expect("int3 (trap: rip after it)", VEC_BP, 0, probe_rip + 1, sp);

    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM(".byte 0xcd, 0x03") : [sp] "=&r"(sp) : : "memory");
    expect("int $3 (two-byte form)", VEC_BP, 0, probe_rip + 2, sp);
}

static void test_gp(void)
{
    uint64_t sp, v = 0x1234, addr = 0x0000800000000000UL;
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("mov (%[a]), %[v]")
                     : [sp] "=&r"(sp), [v] "+r"(v) : [a] "r"(addr) : "memory");
    expect("load from non-canonical 0x800000000000", VEC_GP, 0, probe_rip, sp);
    CHECK_EQ(v, 0x1234);

    addr = 0xFFFF7FFFFFFFFFF8UL;
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("movq $1, (%[a])")
                     : [sp] "=&r"(sp) : [a] "r"(addr) : "memory");
    expect("store to non-canonical 0xffff7ffffffffff8", VEC_GP, 0, probe_rip, sp);

    /* Selector 0x40 lies beyond the GDT limit: #GP(selector). */
    uint16_t sel = 0x40;
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("mov %[s], %%ds")
                     : [sp] "=&r"(sp) : [s] "r"(sel) : "memory");
    expect("mov 0x40 (beyond GDT limit), %ds", VEC_GP, 0x40, probe_rip, sp);

    /* A code segment cannot be a stack segment: #GP(selector). */
    sel = KERNEL_CS;
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("mov %[s], %%ss")
                     : [sp] "=&r"(sp) : [s] "r"(sel) : "memory");
    expect("mov 0x08 (code segment), %ss", VEC_GP, KERNEL_CS, probe_rip, sp);

}

/* INT 0x80 handler: changes RAX and sets CF in the saved RFLAGS, which IRETQ must restore. */
static void int80_handler(struct frame *f)
{
    record_fault(f);
    f->rax = f->rdi * 3 + 1;
    f->rflags |= RFLAGS_CF;
}

static void test_int(void)
{
    uint64_t sp, rax = 0, rdi = 0x1111;
    uint8_t cf;
    set_handler(0x80, int80_handler);
    clear_fault();
    __asm__ volatile("clc\n\t"
                     "mov %%rsp, %[sp]\n\t" PROBE_ASM("int $0x80") "setc %[cf]"
                     : [sp] "=&r"(sp), "+a"(rax), [cf] "=r"(cf) : "D"(rdi) : "memory", "cc");
    expect("int $0x80", 0x80, 0, probe_rip + 2, sp);
    CHECK_EQ(rax, 0x3334); /* set by the handler through the frame */
    CHECK_EQ(cf, 1);       /* RFLAGS restored by iretq */

    /* A gate that is not present: #NP with the IDT bit (2) and the vector in bits 15:3. */
    idt_set_gate(0x81, false, 0, 0);
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("int $0x81") : [sp] "=&r"(sp) : : "memory");
    expect("int $0x81 (gate not present)", VEC_NP, IDT_ERROR_CODE(0x81), probe_rip, sp);
    idt_set_gate(0x81, true, 0, 0);

    /* A vector beyond the IDT limit: #GP with the IDT bit. */
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } idtr, small;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    CHECK_EQ(idtr.limit, 256 * 16 - 1);
    small = idtr;
    small.limit = 0x90 * 16 - 1;
    __asm__ volatile("lidt %0" : : "m"(small) : "memory");
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("int $0x90") : [sp] "=&r"(sp) : : "memory");
    __asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
    expect("int $0x90 (beyond the IDT limit)", VEC_GP, IDT_ERROR_CODE(0x90), probe_rip, sp);
}

/* An exception inside a handler nests on the same stack and returns to the outer handler. */
static volatile uint64_t inner_rip, inner_vector;

static void int82_handler(struct frame *f)
{
    uint64_t outer_probe = probe_rip, outer_resume = resume_rip;
    clear_fault();
    __asm__ volatile(PROBE_ASM("ud2") : : : "memory");
    inner_rip = last_fault.rip;
    inner_vector = last_fault.vector;
    CHECK_EQ(last_fault.rip, probe_rip);
    CHECK(last_fault.frame_addr + FRAME_SIZE <= (uint64_t)(uintptr_t)f); /* nested below the outer frame */
    probe_rip = outer_probe;
    resume_rip = outer_resume;
    clear_fault();
    record_fault(f);
}

static void test_nested(void)
{
    uint64_t sp;
    set_handler(0x82, int82_handler);
    clear_fault();
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("int $0x82") : [sp] "=&r"(sp) : : "memory");
    expect("int $0x82 whose handler hits ud2", 0x82, 0, probe_rip + 2, sp);
    CHECK_EQ(inner_vector, VEC_UD);
}

/* Single-step: a #DB trap after the instruction that follows the POPF setting TF. */
static volatile uint64_t db_dr6;

static void db_handler(struct frame *f)
{
    uint64_t dr6;
    __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
    db_dr6 = dr6;
    record_fault(f);
    f->rflags &= ~RFLAGS_TF;
}

static void test_single_step(void)
{
    uint64_t sp, after_nop, dr6 = 0xFFFF0FF0UL, rf;
    set_handler(VEC_DB, db_handler);
    __asm__ volatile("mov %0, %%dr6" : : "r"(dr6));
    clear_fault();
    __asm__ volatile("movq $2f, resume_rip(%%rip)\n\t"
                     "mov %%rsp, %[sp]\n\t"
                     "pushfq\n\t"
                     "orq $0x100, (%%rsp)\n\t"
                     "popfq\n"          /* sets TF: no trap after POPF itself */
                     "1:\tnop\n"        /* the trap comes after this one */
                     "2:\n\t"
                     "movq $0, resume_rip(%%rip)\n\t"
                     "lea 2b(%%rip), %[a]\n\t"
                     "pushfq\n\t"
                     "popq %[rf]"
                     : [sp] "=&r"(sp), [a] "=&r"(after_nop), [rf] "=&r"(rf) : : "memory", "cc");
    expect("TF single step over a nop", VEC_DB, 0, after_nop, sp);
    CHECK(last_fault.rflags & RFLAGS_TF); /* the pushed RFLAGS still has TF */
    CHECK(!(rf & RFLAGS_TF));             /* the handler cleared it */
    if (!(db_dr6 & (1UL << 14)))
        failf("single step: DR6 = %#lx lacks BS (bit 14)", db_dr6);
    printf("exceptions: single step DR6 = %#lx\n", db_dr6);
}

int main(void)
{
    idt_init();
    for (int v = 0; v < 32; v++)
        set_handler(v, record_fault);
    printf("exceptions: IDT loaded, cs %#x ss %#x\n", read_cs(), read_ss());
    test_de();
    test_ud();
    test_gp();
    test_single_step();
    /* Software interrupts last: the nested KVM on our build hosts cannot emulate INT n or INT3. */
    test_int();
    test_nested();
    test_bp();
    pass();
}
