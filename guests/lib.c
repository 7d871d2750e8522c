/* Support library for the C test guests: console, printf, mem*, exit, IDT, GDT/TSS. */
#include "lib.h"

/* ---- exit ---- */

void guest_exit(uint32_t v)
{
    outl(DEBUG_EXIT_PORT, v);
    for (;;)
        __asm__ volatile("cli; hlt");
}

void pass(void)
{
    serial_puts("PASS\n");
    guest_exit(EXIT_PASS);
}

void fail(const char *reason)
{
    printf("FAIL: %s\n", reason);
    guest_exit(EXIT_FAIL);
}

void failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    serial_puts("FAIL: ");
    vprintf(fmt, ap);
    va_end(ap);
    serial_putc('\n');
    guest_exit(EXIT_FAIL);
}

/* Called by start.s when main() returns; start.s then writes the exit value. */
void report_main_result(int rc);
void report_main_result(int rc)
{
    if (rc == 0)
        serial_puts("PASS\n");
    else
        printf("FAIL: main returned %d\n", rc);
}

/* ---- console ---- */

char serial_getc(void)
{
    while (!(inb(COM1 + 5) & 0x01))
        __asm__ volatile("pause");
    return (char)inb(COM1);
}

void await_host(const char *who)
{
    printf("%s: waiting for the host\n", who);
    (void)serial_getc();
}

void serial_putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))
        ;
    outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

/* ---- printf ---- */

struct out {
    char *buf;   /* NULL: to the serial port */
    size_t size; /* capacity of buf */
    size_t len;  /* characters produced so far */
};

static void emit(struct out *o, char c)
{
    if (!o->buf)
        serial_putc(c);
    else if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void emit_pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        emit(o, c);
}

static int vformat(struct out *o, const char *fmt, va_list ap)
{
    while (*fmt) {
        char c = *fmt++;
        if (c != '%') {
            emit(o, c);
            continue;
        }
        bool left = false, zero = false, alt = false, plus = false, space = false;
        for (;; fmt++) {
            if (*fmt == '-')
                left = true;
            else if (*fmt == '0')
                zero = true;
            else if (*fmt == '#')
                alt = true;
            else if (*fmt == '+')
                plus = true;
            else if (*fmt == ' ')
                space = true;
            else
                break;
        }
        int width = 0;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = true;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        int prec = -1;
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
            }
        }
        int lng = 0;
        while (*fmt == 'l' || *fmt == 'z' || *fmt == 'h') {
            if (*fmt != 'h')
                lng = 1;
            fmt++;
        }
        char conv = *fmt ? *fmt++ : '\0';
        char tmp[24];
        const char *s = tmp;
        int n = 0;
        const char *prefix = "";
        switch (conv) {
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            n = 1;
            zero = false;
            break;
        case 's':
            s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            while (s[n] && (prec < 0 || n < prec))
                n++;
            zero = false;
            break;
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o':
        case 'p': {
            uint64_t v;
            bool neg = false;
            if (conv == 'p') {
                v = (uint64_t)(uintptr_t)va_arg(ap, void *);
                alt = true;
            } else if (conv == 'd' || conv == 'i') {
                int64_t sv = lng ? va_arg(ap, long) : va_arg(ap, int);
                neg = sv < 0;
                v = neg ? -(uint64_t)sv : (uint64_t)sv;
            } else {
                v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
            }
            unsigned base = (conv == 'o') ? 8 : (conv == 'd' || conv == 'i' || conv == 'u') ? 10 : 16;
            const char *digits = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            char *end = tmp + sizeof(tmp);
            char *p = end;
            do {
                *--p = digits[v % base];
                v /= base;
            } while (v);
            s = p;
            n = (int)(end - p);
            if (neg)
                prefix = "-";
            else if (plus && (conv == 'd' || conv == 'i'))
                prefix = "+";
            else if (space && (conv == 'd' || conv == 'i'))
                prefix = " ";
            else if (alt && base == 16)
                prefix = conv == 'X' ? "0X" : "0x";
            else if (alt && base == 8 && *s != '0')
                prefix = "0";
            break;
        }
        case '%':
            emit(o, '%');
            continue;
        default: /* unknown conversion: print it verbatim */
            emit(o, '%');
            if (conv)
                emit(o, conv);
            continue;
        }
        int plen = (int)strlen(prefix);
        int pad = width - n - plen;
        if (!left && !zero)
            emit_pad(o, ' ', pad);
        for (const char *q = prefix; *q; q++)
            emit(o, *q);
        if (!left && zero)
            emit_pad(o, '0', pad);
        for (int i = 0; i < n; i++)
            emit(o, s[i]);
        if (left)
            emit_pad(o, ' ', pad);
    }
    return (int)o->len;
}

int vprintf(const char *fmt, va_list ap)
{
    struct out o = {0, 0, 0};
    return vformat(&o, fmt, ap);
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    int n = vformat(&o, fmt, ap);
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- memory and strings ----
 * Plain byte loops with an empty asm in the body so gcc cannot turn them back into calls to
 * themselves. */

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)c;
        __asm__ volatile("");
    }
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    for (size_t i = 0; i < n; i++) {
        dp[i] = sp[i];
        __asm__ volatile("");
    }
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp <= sp || dp >= sp + n)
        return memcpy(d, s, n);
    for (size_t i = n; i-- > 0;) {
        dp[i] = sp[i];
        __asm__ volatile("");
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) {
        n++;
        __asm__ volatile("");
    }
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

/* libgcc's population count, which __builtin_popcount* call without -mpopcnt. The asm barriers
 * keep gcc from recognising the idiom and calling this very function. */
int __popcountdi2(uint64_t x);
int __popcountdi2(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555UL);
    __asm__("" : "+r"(x));
    x = (x & 0x3333333333333333UL) + ((x >> 2) & 0x3333333333333333UL);
    __asm__("" : "+r"(x));
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FUL;
    return (int)((x * 0x0101010101010101UL) >> 56);
}

/* ---- IDT ---- */

struct __attribute__((packed)) idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
};

struct __attribute__((packed)) desc_ptr {
    uint16_t limit;
    uint64_t base;
};

static struct idt_gate idt[256] __attribute__((aligned(16)));
static handler_t handlers[256];
extern const uint64_t isr_stub_table[256]; /* in start.s */

void idt_set_gate(int vector, bool present, int dpl, int ist)
{
    uint64_t a = isr_stub_table[vector];
    struct idt_gate *g = &idt[vector];
    g->offset_lo = (uint16_t)a;
    g->selector = read_cs();
    g->ist = (uint8_t)(ist & 7);
    g->type_attr = (uint8_t)((present ? 0x80 : 0) | ((dpl & 3) << 5) | 0x0E); /* 64-bit interrupt gate */
    g->offset_mid = (uint16_t)(a >> 16);
    g->offset_hi = (uint32_t)(a >> 32);
    g->reserved = 0;
}

void idt_init(void)
{
    for (int v = 0; v < 256; v++) {
        idt_set_gate(v, true, 0, 0);
        handlers[v] = 0;
    }
    struct desc_ptr p = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

void set_handler(int vector, handler_t h)
{
    handlers[vector & 255] = h;
}

void exception_handler(struct frame *f)
{
    handler_t h = handlers[f->vector & 255];
    if (h) {
        h(f);
        return;
    }
    failf("unexpected exception: vector %lu error %#lx rip %#lx cs %#lx rflags %#lx rsp %#lx ss %#lx cr2 %#lx",
          f->vector, f->error_code, f->rip, f->cs, f->rflags, f->rsp, f->ss, read_cr2());
}

volatile struct fault_record last_fault;
volatile uint64_t probe_rip, resume_rip;

void clear_fault(void)
{
    last_fault.count = 0;
    last_fault.vector = ~0UL;
    last_fault.error_code = ~0UL;
    last_fault.rip = 0;
    last_fault.cs = 0;
    last_fault.rflags = 0;
    last_fault.rsp = 0;
    last_fault.ss = 0;
    last_fault.cr2 = 0;
    last_fault.frame_addr = 0;
}

void record_fault(struct frame *f)
{
    last_fault.count++;
    last_fault.vector = f->vector;
    last_fault.error_code = f->error_code;
    last_fault.rip = f->rip;
    last_fault.cs = f->cs;
    last_fault.rflags = f->rflags;
    last_fault.rsp = f->rsp;
    last_fault.ss = f->ss;
    last_fault.cr2 = read_cr2();
    last_fault.frame_addr = (uint64_t)(uintptr_t)f;
    if (!resume_rip)
        failf("exception outside a probe: vector %lu error %#lx rip %#lx cs %#lx rflags %#lx rsp %#lx ss %#lx cr2 %#lx",
              f->vector, f->error_code, f->rip, f->cs, f->rflags, f->rsp, f->ss, last_fault.cr2);
    f->rip = resume_rip;
    resume_rip = 0;
}

/* ---- GDT and TSS for ring 3 ---- */

static uint64_t gdt[8] __attribute__((aligned(16)));
struct tss64 guest_tss __attribute__((aligned(16)));
static uint8_t rsp0_stack[16384] __attribute__((aligned(16)));
static uint8_t ist1_stack[16384] __attribute__((aligned(16)));
uint64_t tss_rsp0_top, tss_ist1_top;

void gdt_setup_user(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00AF9B000000FFFFUL; /* 0x08 kernel code: L, P, DPL0, exec/read, accessed */
    gdt[2] = 0x00CF93000000FFFFUL; /* 0x10 kernel data: P, DPL0, read/write, accessed */
    gdt[3] = 0x00CFFB000000FFFFUL; /* 0x18 user code 32-bit (compat), DPL3: SYSRET base */
    gdt[4] = 0x00CFF3000000FFFFUL; /* 0x20 user data, DPL3 */
    gdt[5] = 0x00AFFB000000FFFFUL; /* 0x28 user code 64-bit, DPL3 */
    uint64_t base = (uint64_t)(uintptr_t)&guest_tss;
    uint64_t limit = sizeof(guest_tss) - 1;
    gdt[6] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89UL << 40) /* P, 64-bit TSS available */
             | ((limit >> 16) & 0xF) << 48 | ((base >> 24) & 0xFF) << 56;
    gdt[7] = base >> 32;

    memset(&guest_tss, 0, sizeof(guest_tss));
    tss_rsp0_top = (uint64_t)(uintptr_t)(rsp0_stack + sizeof(rsp0_stack));
    tss_ist1_top = (uint64_t)(uintptr_t)(ist1_stack + sizeof(ist1_stack));
    guest_tss.rsp[0] = tss_rsp0_top;
    guest_tss.ist[0] = tss_ist1_top;
    guest_tss.iomap_base = sizeof(guest_tss); /* no I/O bitmap: ring 3 gets no ports */

    struct desc_ptr p = {sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "mov %2, %%ds\n\t"
                     "mov %2, %%es\n\t"
                     "mov %2, %%ss\n\t"
                     "ltr %3"
                     :
                     : "m"(p), "i"((uint64_t)KERNEL_CS), "r"((uint16_t)KERNEL_DS), "r"((uint16_t)TSS_SEL)
                     : "rax", "memory");
}
