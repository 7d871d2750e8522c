/*
 * Support library for the C test guests (see README.md for the contract).
 *
 * Everything here runs at CPL0 in 64-bit mode on the page tables jvisor built, unless a guest
 * installs its own. Nothing depends on an interrupt controller: interrupts stay off (IF=0).
 */
#ifndef JVISOR_GUEST_LIB_H
#define JVISOR_GUEST_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- exit protocol (isa-debug-exit at port 0xF4: status = (V << 1) | 1) ---- */

#define DEBUG_EXIT_PORT 0xF4
#define EXIT_PASS 0x10 /* process exit status 33 */
#define EXIT_FAIL 0x11 /* process exit status 35 */

/* Writes V to the debug-exit port; never returns (halts forever if the port is not there). */
__attribute__((noreturn)) void guest_exit(uint32_t v);
/* Prints "PASS" and exits with EXIT_PASS. */
__attribute__((noreturn)) void pass(void);
/* Prints "FAIL: <reason>" and exits with EXIT_FAIL. */
__attribute__((noreturn)) void fail(const char *reason);
/* Like fail() with a printf format. */
__attribute__((noreturn, format(printf, 1, 2))) void failf(const char *fmt, ...);

/* CHECK(cond): fails with file:line and the expression text. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            failf("%s:%d: check failed: %s", __FILE__, __LINE__, #cond);       \
    } while (0)

/* CHECK_EQ(got, want): fails showing both values (as 64-bit hex). */
#define CHECK_EQ(got, want)                                                    \
    do {                                                                       \
        uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);             \
        if (got_ != want_)                                                     \
            failf("%s:%d: %s = %#lx, expected %#lx", __FILE__, __LINE__, #got, \
                  got_, want_);                                                \
    } while (0)

/* ---- port I/O ---- */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* ---- COM1 console and printf ---- */

#define COM1 0x3F8
void serial_putc(char c); /* polls LSR.THRE (bit 5) then writes THR; "\n" is sent as-is */
char serial_getc(void);   /* polls LSR.DR (bit 0) then reads RBR */
/* prints "WHO: waiting for the host" and waits for one byte on COM1: a test's go-ahead between
 * stages, so the host can check something after each however fast the stages run */
void await_host(const char *who);
void serial_puts(const char *s);
/* printf: %d %i %u %x %X %o %c %s %p %%, length l/ll/z/h (ignored for h), flags '-', '0', '#',
 * '+', ' ', a width (or '*') and a precision for %s. Returns the number of characters printed. */
__attribute__((format(printf, 1, 2))) int printf(const char *fmt, ...);
int vprintf(const char *fmt, va_list ap);
/* Formats into buf (always NUL-terminated when size > 0); returns the untruncated length. */
__attribute__((format(printf, 3, 4))) int snprintf(char *buf, size_t size, const char *fmt, ...);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* ---- memory and strings (gcc may emit calls to the first four) ---- */

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* ---- CPU helpers ---- */

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

#define DEFINE_CR(n)                                                                                   \
    static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline uint64_t read_rflags(void) { uint64_t v; __asm__ volatile("pushfq; popq %0" : "=r"(v)); return v; }
static inline void write_rflags(uint64_t v) { __asm__ volatile("pushq %0; popfq" : : "r"(v) : "memory", "cc"); }
static inline void invlpg(const volatile void *va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline uint16_t read_cs(void) { uint16_t v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }
static inline uint16_t read_ss(void) { uint16_t v; __asm__ volatile("mov %%ss, %0" : "=r"(v)); return v; }
static inline uint64_t read_rsp(void) { uint64_t v; __asm__ volatile("mov %%rsp, %0" : "=r"(v)); return v; }
static inline void cli(void) { __asm__ volatile("cli" : : : "memory"); }
/* Keeps the compiler from knowing a value (so checks exercise the CPU, not constant folding). */
#define OPAQUE(x) ({ __typeof__(x) o_ = (x); __asm__ volatile("" : "+r"(o_)); o_; })

#define RFLAGS_CF (1UL << 0)
#define RFLAGS_FIXED (1UL << 1)
#define RFLAGS_ZF (1UL << 6)
#define RFLAGS_SF (1UL << 7)
#define RFLAGS_TF (1UL << 8)
#define RFLAGS_IF (1UL << 9)
#define RFLAGS_DF (1UL << 10)
#define RFLAGS_OF (1UL << 11)
#define RFLAGS_AC (1UL << 18)

#define CR0_WP (1UL << 16)
#define CR0_PG (1UL << 31)
#define MSR_EFER 0xC0000080
#define MSR_STAR 0xC0000081
#define MSR_LSTAR 0xC0000082
#define MSR_SFMASK 0xC0000084
#define EFER_SCE (1UL << 0)
#define EFER_LME (1UL << 8)
#define EFER_LMA (1UL << 10)
#define EFER_NXE (1UL << 11)

/* ---- interrupts and exceptions ---- */

/* What every vector's stub pushes, lowest address first: the saved GPRs, the vector, the error
 * code (0 for vectors without one), then the frame the CPU pushed. Handlers may change any field;
 * the stub restores it all and returns with iretq (so setting rip skips an instruction). */
struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};
#define FRAME_SIZE 176 /* sizeof(struct frame) */

#define VEC_DE 0
#define VEC_DB 1
#define VEC_BP 3
#define VEC_UD 6
#define VEC_DF 8
#define VEC_NP 11
#define VEC_SS 12
#define VEC_GP 13
#define VEC_PF 14

/* The error code of a fault raised while delivering through IDT entry v: the IDT flag (bit 1) and
 * the vector in bits 15:3 (SDM vol. 3, 6.13). QEMU 7.2's TCG pushes v * 16 + 2 instead in 64-bit
 * mode (do_interrupt64); only the QEMU reference build (QEMU_REFERENCE) expects that. */
#ifdef QEMU_REFERENCE
#define IDT_ERROR_CODE(v) ((uint64_t)(v) * 16 + 2)
#else
#define IDT_ERROR_CODE(v) ((uint64_t)(v) * 8 + 2)
#endif

typedef void (*handler_t)(struct frame *f);

/* Fills the IDT with 256 present 64-bit interrupt gates (DPL0, no IST, selector = current CS)
 * pointing at the stubs, loads it, and clears all callbacks. */
void idt_init(void);
/* Changes one gate: present or not, its DPL and IST index (0 = none). */
void idt_set_gate(int vector, bool present, int dpl, int ist);
/* Registers a callback for a vector (NULL: unexpected, which fails the test). */
void set_handler(int vector, handler_t h);
/* The C entry point of all stubs: dispatches to the registered callback. */
void exception_handler(struct frame *f);

/* A ready-made callback: records the frame in last_fault (plus CR2 and the frame's own address)
 * and, if a PROBE armed resume_rip, continues there. Unarmed, it fails the test. */
struct fault_record {
    uint64_t count, vector, error_code, rip, cs, rflags, rsp, ss, cr2, frame_addr;
};
extern volatile struct fault_record last_fault;
void record_fault(struct frame *f);
void clear_fault(void);

/* probe_rip/resume_rip: set by PROBE_ASM around one instruction. */
extern volatile uint64_t probe_rip, resume_rip;
/*
 * PROBE_ASM(insn): an extended-asm template fragment that records the address of insn in
 * probe_rip and the address just after it in resume_rip, runs insn, then disarms resume_rip.
 * Use it inside asm volatile(... : outputs : inputs : clobbers) (extended asm: write %% for
 * registers). Labels 1 and 2 are taken.
 */
#define PROBE_ASM(insn)                                                        \
    "movq $1f, probe_rip(%%rip)\n\t"                                           \
    "movq $2f, resume_rip(%%rip)\n"                                            \
    "1:\t" insn "\n"                                                           \
    "2:\n\t"                                                                   \
    "movq $0, resume_rip(%%rip)\n\t"

/* ---- descriptor tables for ring 3 ---- */

/* The GDT gdt_setup_user() loads: ordered so that STAR[47:32] = KERNEL_CS and
 * STAR[63:48] = USER_CS32 give SYSCALL CS/SS = 0x08/0x10 and SYSRETQ CS/SS = 0x2B/0x23. */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_CS32 0x1B
#define USER_DS 0x23
#define USER_CS 0x2B
#define TSS_SEL 0x30

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
extern struct tss64 guest_tss;
/* Top of the stacks in guest_tss.rsp[0] and guest_tss.ist[0] (IST1); 16-byte aligned. */
extern uint64_t tss_rsp0_top, tss_ist1_top;

/* Builds and loads (lgdt, reloads CS/DS/ES/SS, ltr) the ring-3 capable GDT and TSS. */
void gdt_setup_user(void);

#endif
