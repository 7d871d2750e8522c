/*
 * io: port I/O instructions and the bus behind them.
 * Asserts: COM1's line status shows an idle transmitter and its scratch register keeps a value;
 * REP OUTSB sends a string to COM1 forwards and (DF=1) backwards, advancing RSI and clearing RCX;
 * reads from an unclaimed port (UNCLAIMED, 0x2A0) return all ones at every width, through IN with
 * DX or an immediate port, and through REP INSB/INSW/INSD in both directions; IN AL/AX merge into
 * RAX while IN EAX zero-extends; writes to an unclaimed port are ignored.
 */
#include "lib.h"

#define UNCLAIMED 0x2A0     /* nothing on jvisor's or QEMU's pc bus answers here */
#define UNCLAIMED_IMM 0xE0  /* an unclaimed port below 0x100, for the imm8 forms */

static void test_uart_registers(void)
{
    uint8_t lsr = inb(COM1 + 5);
    printf("io: COM1 LSR %#x\n", lsr);
    CHECK_EQ(lsr & 0x60, 0x60); /* THRE and TEMT: idle */
    outb(COM1 + 7, 0xA5);
    CHECK_EQ(inb(COM1 + 7), 0xA5);
    outb(COM1 + 7, 0x5A);
    CHECK_EQ(inb(COM1 + 7), 0x5A);
}

static void test_outs(void)
{
    static const char fwd[] = "io: rep outsb forwards to COM1\n";
    static const char bwd[] = "\n)1=FD( sdrawkcab 1MOC ot bstuo per :oi";
    const char *p = fwd;
    uint64_t n = sizeof(fwd) - 1;
    __asm__ volatile("cld; rep outsb" : "+S"(p), "+c"(n) : "d"(COM1) : "memory");
    CHECK(p == fwd + sizeof(fwd) - 1 && n == 0);
    p = bwd + sizeof(bwd) - 2;
    n = sizeof(bwd) - 1;
    __asm__ volatile("std; rep outsb; cld" : "+S"(p), "+c"(n) : "d"(COM1) : "memory");
    CHECK((uintptr_t)p == (uintptr_t)bwd - 1 && n == 0);
}

static void test_unclaimed(void)
{
    CHECK_EQ(inb(UNCLAIMED), 0xFF);
    CHECK_EQ(inw(UNCLAIMED), 0xFFFF);
    CHECK_EQ(inl(UNCLAIMED), 0xFFFFFFFFU);
    uint8_t b;
    __asm__ volatile("inb $0xe0, %0" : "=a"(b));
    CHECK_EQ(b, 0xFF);

    /* IN AL / IN AX write only part of RAX; IN EAX zero-extends. */
    uint64_t r = 0x1122334455667788UL;
    __asm__ volatile("inb %%dx, %%al" : "+a"(r) : "d"(UNCLAIMED));
    CHECK_EQ(r, 0x11223344556677FFUL);
    r = 0x1122334455667788UL;
    __asm__ volatile("inw %%dx, %%ax" : "+a"(r) : "d"(UNCLAIMED));
    CHECK_EQ(r, 0x112233445566FFFFUL);
    r = 0x1122334455667788UL;
    __asm__ volatile("inl %%dx, %%eax" : "+a"(r) : "d"(UNCLAIMED));
    CHECK_EQ(r, 0xFFFFFFFFUL);
    r = 0x1122334455667788UL;
    __asm__ volatile("inl $0xe0, %%eax" : "+a"(r));
    CHECK_EQ(r, 0xFFFFFFFFUL);

    /* Writes go nowhere and do not disturb anything. */
    outb(UNCLAIMED, 0x12);
    outw(UNCLAIMED, 0x1234);
    outl(UNCLAIMED, 0x12345678);
    __asm__ volatile("outb %%al, $0xe0" : : "a"(0x5a));
    CHECK_EQ(inl(UNCLAIMED), 0xFFFFFFFFU);
    printf("io: unclaimed port %#x reads all ones at 8/16/32 bits\n", UNCLAIMED);
}

static void test_ins(void)
{
    static uint8_t buf[64];
    uint8_t *d;
    uint64_t n;

    memset(buf, 0, sizeof(buf));
    d = buf + 8;
    n = 16;
    __asm__ volatile("cld; rep insb" : "+D"(d), "+c"(n) : "d"(UNCLAIMED) : "memory");
    CHECK(d == buf + 24 && n == 0);
    for (int i = 0; i < 64; i++)
        CHECK_EQ(buf[i], (i >= 8 && i < 24) ? 0xFF : 0);

    memset(buf, 0, sizeof(buf));
    d = buf + 39;
    n = 10;
    __asm__ volatile("std; rep insb; cld" : "+D"(d), "+c"(n) : "d"(UNCLAIMED) : "memory");
    CHECK(d == buf + 29 && n == 0);
    for (int i = 0; i < 64; i++)
        CHECK_EQ(buf[i], (i >= 30 && i < 40) ? 0xFF : 0);

    static uint16_t w[8];
    uint16_t *wd = w + 1;
    n = 6;
    __asm__ volatile("cld; rep insw" : "+D"(wd), "+c"(n) : "d"(UNCLAIMED) : "memory");
    CHECK(wd == w + 7 && n == 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(w[i], (i >= 1 && i < 7) ? 0xFFFF : 0);

    static uint32_t l[8];
    uint32_t *ld = l + 2;
    n = 4;
    __asm__ volatile("cld; rep insl" : "+D"(ld), "+c"(n) : "d"(UNCLAIMED) : "memory");
    CHECK(ld == l + 6 && n == 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(l[i], (i >= 2 && i < 6) ? 0xFFFFFFFFU : 0);

    /* REP with RCX = 0 does no I/O and moves nothing. */
    d = buf;
    n = 0;
    buf[0] = 0x42;
    __asm__ volatile("cld; rep insb" : "+D"(d), "+c"(n) : "d"(UNCLAIMED) : "memory");
    CHECK(d == buf && buf[0] == 0x42);

    /* OUTSW/OUTSD to the unclaimed port. */
    const uint16_t *ws = w;
    n = 8;
    __asm__ volatile("cld; rep outsw" : "+S"(ws), "+c"(n) : "d"(UNCLAIMED) : "memory");
    CHECK(ws == w + 8 && n == 0);
    const uint32_t *ls = l;
    n = 8;
    __asm__ volatile("cld; rep outsl" : "+S"(ls), "+c"(n) : "d"(UNCLAIMED) : "memory");
    CHECK(ls == l + 8 && n == 0);
    printf("io: rep insb/insw/insl and outsw/outsl ok\n");
}

int main(void)
{
    test_uart_registers();
    test_outs();
    test_unclaimed();
    test_ins();
    pass();
}
