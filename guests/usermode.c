/*
 * usermode: ring 3, SYSCALL/SYSRET and privilege checks.
 * Builds its GDT (kernel and user segments in STAR order, a 64-bit TSS with RSP0 and IST1) and
 * user-accessible page tables (one supervisor-only page), sets EFER.SCE, STAR, LSTAR and SFMASK,
 * and enters ring 3 with IRETQ. The user code reports each step through SYSCALL; the kernel side
 * asserts: CS/SS are 0x2B/0x23 in ring 3 and IRETQ nulled DS; SYSCALL saved RIP in RCX and RFLAGS
 * in R11, masked RFLAGS by SFMASK and loaded CS/SS 0x08/0x10 from STAR; SYSRETQ restored them;
 * INT $0x80 through a DPL3 gate arrives from CPL3 on the TSS RSP0 stack; INT $0x81 through a DPL0
 * gate, HLT, CLI, IN and MOV from CR3 raise #GP with the right error code, on RSP0; user accesses
 * to a supervisor page raise #PF with the U bit; a gate with IST1 switches to the IST1 stack.
 */
#include "lib.h"

#define SYS_ADD 1
#define SYS_FLAGS 2
#define SYS_CHECK 3
#define SYS_EXIT 60
#define SFMASK_BITS (RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_AC | (1UL << 14) /* NT */)
#define RFLAGS_RF (1UL << 16)
/* SYSCALL keeps the arithmetic flags (RFLAGS &= ~SFMASK). QEMU 7.2's TCG loses them (its
 * helper_syscall reloads RFLAGS without them); only the QEMU reference build ignores them. */
#ifdef QEMU_REFERENCE
#define SYSCALL_FLAGS_COMPARED (~0x8D5UL)
#else
#define SYSCALL_FLAGS_COMPARED (~0UL)
#endif

#define PTE_P 1UL
#define PTE_W 2UL
#define PTE_U 4UL
#define PTE_PS 0x80UL
#define PAGE_ALIGNED __attribute__((aligned(4096)))
static volatile uint64_t pml4[512] PAGE_ALIGNED, pdpt[512] PAGE_ALIGNED, pd[512] PAGE_ALIGNED, pt[512] PAGE_ALIGNED;
static volatile uint64_t kernel_page[512] PAGE_ALIGNED; /* mapped without U */
static uint8_t user_stack[16384] __attribute__((aligned(16)));
static uint8_t syscall_stack[16384] __attribute__((aligned(16)));

/* What the SYSCALL entry pushes, lowest address first. */
struct sysctx {
    uint64_t r10, r9, r8, rdx, rsi, rdi;
    uint64_t kernel_rflags; /* RFLAGS inside the kernel, after SFMASK */
    uint64_t r11;           /* user RFLAGS saved by SYSCALL */
    uint64_t rcx;           /* user RIP saved by SYSCALL */
    uint64_t user_rsp;
};

uint64_t syscall_stack_top, user_rsp_saved, kernel_saved_rsp;
uint64_t syscall_dispatch(uint64_t nr, uint64_t a1, uint64_t a2, struct sysctx *ctx);
void syscall_entry(void);
uint64_t enter_user(uint64_t rip, uint64_t rsp);

__asm__(".text\n"
        ".globl syscall_entry\n"
        "syscall_entry:\n\t"
        "mov %rsp, user_rsp_saved(%rip)\n\t"
        "mov syscall_stack_top(%rip), %rsp\n\t"
        "pushq user_rsp_saved(%rip)\n\t"
        "push %rcx\n\t"
        "push %r11\n\t"
        "pushfq\n\t"
        "push %rdi\n\t"
        "push %rsi\n\t"
        "push %rdx\n\t"
        "push %r8\n\t"
        "push %r9\n\t"
        "push %r10\n\t"
        "mov %cs, %edi\n\t"          /* SYSCALL must have loaded CS = STAR[47:32] (CPL0) */
        "test $3, %edi\n\t"
        "jnz syscall_bad_cpl\n\t"
        "mov 40(%rsp), %rdi\n\t"     /* restore RDI (saved above) */
        "cmp $60, %rax\n\t"            /* SYS_EXIT: back into enter_user's caller */
        "je 1f\n\t"
        "mov %rsp, %rcx\n\t"           /* dispatch(nr, a1, a2, ctx) */
        "mov %rsi, %rdx\n\t"
        "mov %rdi, %rsi\n\t"
        "mov %rax, %rdi\n\t"
        "cld\n\t"
        "call syscall_dispatch\n\t"
        "pop %r10\n\t"
        "pop %r9\n\t"
        "pop %r8\n\t"
        "pop %rdx\n\t"
        "pop %rsi\n\t"
        "pop %rdi\n\t"
        "add $8, %rsp\n\t"
        "pop %r11\n\t"
        "pop %rcx\n\t"
        "pop %rsp\n\t"
        "sysretq\n"
        "1:\n\t"
        "mov %rdi, %rax\n\t"
        "mov kernel_saved_rsp(%rip), %rsp\n\t"
        "pop %r15\n\t"
        "pop %r14\n\t"
        "pop %r13\n\t"
        "pop %r12\n\t"
        "pop %rbx\n\t"
        "pop %rbp\n\t"
        "ret\n"
        ".globl syscall_bad_cpl\n"
        "syscall_bad_cpl:\n\t"
        "ud2\n"
        /* enter_user(rip, rsp): saves the callee-saved registers, IRETQs to ring 3 with IF=0;
         * returns the SYS_EXIT argument when the user code exits. */
        ".globl enter_user\n"
        "enter_user:\n\t"
        "push %rbp\n\t"
        "push %rbx\n\t"
        "push %r12\n\t"
        "push %r13\n\t"
        "push %r14\n\t"
        "push %r15\n\t"
        "mov %rsp, kernel_saved_rsp(%rip)\n\t"
        "pushq $0x23\n\t"              /* SS = USER_DS */
        "push %rsi\n\t"                /* RSP */
        "pushq $0x2\n\t"               /* RFLAGS */
        "pushq $0x2b\n\t"              /* CS = USER_CS */
        "push %rdi\n\t"                /* RIP */
        "iretq\n");

/* ---------------- user side (runs at CPL3; no I/O, no printing) ---------------- */

static inline uint64_t sys(uint64_t nr, uint64_t a1, uint64_t a2)
{
    uint64_t ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a1), "S"(a2) : "rcx", "r11", "memory");
    return ret;
}

enum step {
    STEP_SEGS = 1, STEP_DF_AFTER_SYSRET, STEP_INT80, STEP_INT81, STEP_HLT, STEP_CLI, STEP_IN, STEP_CR3,
    STEP_READ_SUPERVISOR, STEP_WRITE_SUPERVISOR,
};

#define USER_PROBE(insn, ...)                                                                      \
    ({                                                                                             \
        uint64_t sp_;                                                                              \
        __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM(insn) : [sp] "=&r"(sp_) __VA_ARGS__);   \
        sp_;                                                                                       \
    })

static void user_main(void)
{
    uint16_t cs, ss, ds;
    __asm__ volatile("mov %%cs, %0; mov %%ss, %1; mov %%ds, %2" : "=r"(cs), "=r"(ss), "=r"(ds));
    sys(SYS_CHECK, STEP_SEGS, (uint64_t)cs << 32 | (uint64_t)ss << 16 | ds);

    if (sys(SYS_ADD, 40, 2) != 42 || sys(SYS_ADD, 0xfffffffffUL, 1) != 0x1000000000UL)
        sys(SYS_EXIT, 2, 0);

    /* DF set across SYSCALL: the kernel sees it masked; SYSRETQ brings it back. */
    uint64_t after, ret;
    __asm__ volatile("std\n\t"
                     "pushfq\n\t"
                     "pop %%rsi\n\t"              /* a2: RFLAGS before SYSCALL */
                     "lea 1f(%%rip), %%rdi\n\t"   /* a1: the RIP SYSCALL must save */
                     "syscall\n"
                     "1:\tpushfq\n\t"
                     "pop %[a]\n\t"
                     "cld"
                     : [a] "=r"(after), "=a"(ret)
                     : "a"((uint64_t)SYS_FLAGS)
                     : "rcx", "r11", "rdi", "rsi", "memory", "cc");
    (void)ret;
    sys(SYS_CHECK, STEP_DF_AFTER_SYSRET, after);

    /* INT through a DPL3 gate, which the handler answers in RAX. */
    uint64_t rax = 0, sp;
    sp = USER_PROBE("int $0x80", , "+a"(rax) : : "memory");
    sys(SYS_CHECK, STEP_INT80, sp);
    if (rax != 0x80800)
        sys(SYS_EXIT, 3, 0);

    sp = USER_PROBE("int $0x81", : : "memory");
    sys(SYS_CHECK, STEP_INT81, sp);
    sp = USER_PROBE("hlt", : : "memory");
    sys(SYS_CHECK, STEP_HLT, sp);
    sp = USER_PROBE("cli", : : "memory");
    sys(SYS_CHECK, STEP_CLI, sp);
    sp = USER_PROBE("inb %%dx, %%al", : "d"(0x3f8) : "rax", "memory");
    sys(SYS_CHECK, STEP_IN, sp);
    sp = USER_PROBE("mov %%cr3, %%rax", : : "rax", "memory");
    sys(SYS_CHECK, STEP_CR3, sp);
    uint64_t v = 0;
    sp = USER_PROBE("mov (%[p]), %[v]", , [v] "+r"(v) : [p] "r"(&kernel_page[3]) : "memory");
    sys(SYS_CHECK, STEP_READ_SUPERVISOR, sp);
    if (v != 0)
        sys(SYS_EXIT, 4, 0);
    sp = USER_PROBE("movq $1, (%[p])", : [p] "r"(&kernel_page[5]) : "memory");
    sys(SYS_CHECK, STEP_WRITE_SUPERVISOR, sp);

    sys(SYS_EXIT, 0, 0);
    for (;;)
        ;
}

/* ---------------- kernel side ---------------- */

static unsigned syscalls;

static void expect_user_fault(const char *what, uint64_t vector, uint64_t err, uint64_t user_sp)
{
    printf("usermode: %-38s -> vector %lu error %#lx cs %#lx ss %#lx frame at %#lx\n", what, last_fault.vector,
           last_fault.error_code, last_fault.cs, last_fault.ss, last_fault.frame_addr);
    if (last_fault.count != 1 || last_fault.vector != vector || last_fault.error_code != err)
        failf("%s: got %lu exception(s), vector %lu error %#lx; expected vector %lu error %#lx", what,
              last_fault.count, last_fault.vector, last_fault.error_code, vector, err);
    uint64_t want_rip = vector == 0x80 ? probe_rip + 2 : probe_rip;
    if (last_fault.rip != want_rip)
        failf("%s: pushed rip %#lx, expected %#lx", what, last_fault.rip, want_rip);
    if (last_fault.cs != USER_CS || last_fault.ss != USER_DS || last_fault.rsp != user_sp)
        failf("%s: pushed cs:rsp %#lx:%#lx ss %#lx, expected %#x:%#lx ss %#x", what, last_fault.cs,
              last_fault.rsp, last_fault.ss, USER_CS, user_sp, USER_DS);
    if (last_fault.frame_addr != tss_rsp0_top - FRAME_SIZE)
        failf("%s: frame at %#lx: the CPU did not switch to TSS.RSP0 (%#lx)", what, last_fault.frame_addr,
              tss_rsp0_top);
}

uint64_t syscall_dispatch(uint64_t nr, uint64_t a1, uint64_t a2, struct sysctx *ctx)
{
    syscalls++;
    if (read_cs() != KERNEL_CS || read_ss() != KERNEL_DS)
        failf("syscall %lu: kernel cs:ss %#x:%#x, expected %#x:%#x (from STAR)", nr, read_cs(), read_ss(), KERNEL_CS,
              KERNEL_DS);
    if (ctx->kernel_rflags & SFMASK_BITS)
        failf("syscall %lu: kernel RFLAGS %#lx not masked by SFMASK", nr, ctx->kernel_rflags);
    if ((ctx->kernel_rflags ^ (ctx->r11 & ~(SFMASK_BITS | RFLAGS_RF))) & SYSCALL_FLAGS_COMPARED)
        failf("syscall %lu: kernel RFLAGS %#lx, user RFLAGS (r11) %#lx", nr, ctx->kernel_rflags, ctx->r11);
    switch (nr) {
    case SYS_ADD:
        return a1 + a2;
    case SYS_FLAGS:
        printf("usermode: syscall: rcx %#lx r11 %#lx, kernel rflags %#lx\n", ctx->rcx, ctx->r11, ctx->kernel_rflags);
        if (ctx->rcx != a1)
            failf("SYSCALL saved rip %#lx in rcx, expected %#lx", ctx->rcx, a1);
        if (ctx->r11 != a2 || !(ctx->r11 & RFLAGS_DF))
            failf("SYSCALL saved rflags %#lx in r11, expected %#lx (with DF)", ctx->r11, a2);
        return 0;
    case SYS_CHECK:
        switch (a1) {
        case STEP_SEGS:
            printf("usermode: ring 3: cs %#lx ss %#lx ds %#lx\n", a2 >> 32, (a2 >> 16) & 0xffff, a2 & 0xffff);
            if (a2 != ((uint64_t)USER_CS << 32 | (uint64_t)USER_DS << 16))
                failf("ring 3 segments cs:ss:ds %#lx:%#lx:%#lx, expected %#x:%#x:0 (IRETQ nulls a DPL0 DS)",
                      a2 >> 32, (a2 >> 16) & 0xffff, a2 & 0xffff, USER_CS, USER_DS);
            break;
        case STEP_DF_AFTER_SYSRET:
            if (!(a2 & RFLAGS_DF))
                failf("after SYSRETQ user RFLAGS %#lx lost DF", a2);
            break;
        case STEP_INT80:
            expect_user_fault("int $0x80 (DPL3 gate) from ring 3", 0x80, 0, a2);
            break;
        case STEP_INT81:
            expect_user_fault("int $0x81 (DPL0 gate) from ring 3", VEC_GP, IDT_ERROR_CODE(0x81), a2);
            break;
        case STEP_HLT:
            expect_user_fault("hlt in ring 3", VEC_GP, 0, a2);
            break;
        case STEP_CLI:
            expect_user_fault("cli in ring 3 (IOPL 0)", VEC_GP, 0, a2);
            break;
        case STEP_IN:
            expect_user_fault("inb 0x3f8 in ring 3 (no I/O bitmap)", VEC_GP, 0, a2);
            break;
        case STEP_CR3:
            expect_user_fault("mov %cr3 in ring 3", VEC_GP, 0, a2);
            break;
        case STEP_READ_SUPERVISOR:
            expect_user_fault("read of a supervisor page", VEC_PF, 0x5, a2);
            CHECK_EQ(last_fault.cr2, (uint64_t)(uintptr_t)&kernel_page[3]);
            break;
        case STEP_WRITE_SUPERVISOR:
            expect_user_fault("write to a supervisor page", VEC_PF, 0x7, a2);
            CHECK_EQ(last_fault.cr2, (uint64_t)(uintptr_t)&kernel_page[5]);
            CHECK_EQ(kernel_page[5], 0);
            break;
        default:
            failf("bad check step %lu", a1);
        }
        clear_fault();
        return 0;
    default:
        failf("unknown syscall %lu", nr);
    }
}

void syscall_bad_cpl(void);

static void ud_handler(struct frame *f)
{
    if (f->rip == (uint64_t)(uintptr_t)syscall_bad_cpl)
        failf("SYSCALL did not switch to ring 0: CS %#lx in the syscall entry (STAR %#lx)", f->cs,
              rdmsr(MSR_STAR));
    record_fault(f);
}

static void int80_handler(struct frame *f)
{
    record_fault(f);
    f->rax = 0x80800;
}

static void build_tables(void)
{
    for (int i = 0; i < 512; i++) {
        pt[i] = ((uint64_t)i << 12) | PTE_P | PTE_W | PTE_U;
        pd[i] = i == 0 ? (uint64_t)(uintptr_t)pt | PTE_P | PTE_W | PTE_U
                       : ((uint64_t)i << 21) | PTE_P | PTE_W | PTE_U | PTE_PS;
    }
    pt[(uintptr_t)kernel_page >> 12] &= ~PTE_U;
    pdpt[0] = (uint64_t)(uintptr_t)pd | PTE_P | PTE_W | PTE_U;
    pml4[0] = (uint64_t)(uintptr_t)pdpt | PTE_P | PTE_W | PTE_U;
}

/* A gate with IST1 switches stacks even without a privilege change. */
static void test_ist(void)
{
    idt_set_gate(0x82, true, 0, 1);
    set_handler(0x82, record_fault);
    clear_fault();
    uint64_t sp;
    __asm__ volatile("mov %%rsp, %[sp]\n\t" PROBE_ASM("int $0x82") : [sp] "=&r"(sp) : : "memory");
    printf("usermode: int $0x82 via IST1 from ring 0: frame at %#lx, ist1 top %#lx\n", last_fault.frame_addr,
           tss_ist1_top);
    CHECK_EQ(last_fault.count, 1);
    CHECK_EQ(last_fault.vector, 0x82);
    CHECK_EQ(last_fault.cs, KERNEL_CS);
    CHECK_EQ(last_fault.rsp, sp);
    CHECK_EQ(last_fault.frame_addr, tss_ist1_top - FRAME_SIZE);
}

int main(void)
{
    CHECK((uintptr_t)__builtin_frame_address(0) < 0x200000);
    gdt_setup_user();
    CHECK_EQ(read_cs(), KERNEL_CS);
    uint16_t tr;
    __asm__ volatile("str %0" : "=r"(tr));
    CHECK_EQ(tr, TSS_SEL);
    idt_init();
    for (int v = 0; v < 32; v++)
        set_handler(v, record_fault);
    set_handler(VEC_UD, ud_handler);
    idt_set_gate(0x80, true, 3, 0);
    set_handler(0x80, int80_handler);
    set_handler(0x81, record_fault); /* must not run: the DPL0 gate refuses ring 3 */

    build_tables();
    write_cr3((uint64_t)(uintptr_t)pml4);

    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    wrmsr(MSR_STAR, (uint64_t)USER_CS32 << 48 | (uint64_t)KERNEL_CS << 32);
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
    wrmsr(MSR_SFMASK, SFMASK_BITS);
    CHECK_EQ(rdmsr(MSR_LSTAR), (uint64_t)(uintptr_t)syscall_entry);
    CHECK_EQ(rdmsr(MSR_SFMASK), SFMASK_BITS);
    syscall_stack_top = (uint64_t)(uintptr_t)(syscall_stack + sizeof(syscall_stack));
    printf("usermode: GDT/TSS loaded (tr %#x, rsp0 %#lx, ist1 %#lx), STAR %#lx, entering ring 3\n", tr,
           tss_rsp0_top, tss_ist1_top, rdmsr(MSR_STAR));

    clear_fault();
    uint64_t rc = enter_user((uint64_t)(uintptr_t)user_main, (uint64_t)(uintptr_t)(user_stack + sizeof(user_stack)));
    __asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"((uint16_t)KERNEL_DS));
    printf("usermode: back in ring 0 after %u syscalls, exit code %lu\n", syscalls, rc);
    CHECK_EQ(rc, 0);
    CHECK_EQ(read_cs(), KERNEL_CS);
    CHECK(syscalls >= 12);
    test_ist();
    pass();
}
