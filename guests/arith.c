/*
 * arith: integer arithmetic and string instructions against values computed on the host
 * (a Python model, see the comments), with inputs hidden from the compiler so the CPU does the
 * work. Covers 64-bit and 128-bit mul/div (signed and unsigned), shifts and rotates including
 * count masking, bit scans and counts, flags of add/sub/inc/mul, partial-register writes
 * (32-bit writes zero-extend, 8/16-bit ones merge), CRC32 and FNV-1a over a buffer, a long mixed
 * loop, and the string instructions (rep movsb/stosq/cmpsb/scasb/lodsq) forwards, backwards
 * (DF=1) and overlapping, checking RSI/RDI/RCX afterwards.
 */
#include "lib.h"

#define FLAGS_MASK (RFLAGS_CF | (1UL << 2) | (1UL << 4) | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

static uint64_t rotl64(uint64_t x, unsigned n) { return (x << (n & 63)) | (x >> ((64 - n) & 63)); }
static uint64_t rotr64(uint64_t x, unsigned n) { return (x >> (n & 63)) | (x << ((64 - n) & 63)); }

static void test_muldiv(void)
{
    uint64_t a = OPAQUE(0x123456789abcdef1UL), b = OPAQUE(0xfedcba9876543211UL);
    unsigned __int128 p = (unsigned __int128)a * b; /* mulq */
    CHECK_EQ((uint64_t)p, 0x347e9a0f6729e001UL);
    CHECK_EQ((uint64_t)(p >> 64), 0x121fa00ad77d7423UL);
    int64_t sa = OPAQUE(-0x1234567L), sb = OPAQUE(0x7654321L);
    CHECK_EQ((uint64_t)(sa * sb), 0xfff795e36ca718b9UL);

    uint64_t n = OPAQUE(0xfedcba9876543210UL), d = OPAQUE(0x12345UL);
    CHECK_EQ(n / d, 0xe0004fa01c4dUL);
    CHECK_EQ(n % d, 0x10a4fUL);
    int64_t sn = OPAQUE(-1000000007L), sd = OPAQUE(13L);
    CHECK_EQ(sn / sd, -76923077L); /* truncation towards zero */
    CHECK_EQ(sn % sd, -6L);        /* remainder has the dividend's sign */
    sn = OPAQUE(1000000007L);
    sd = OPAQUE(-13L);
    CHECK_EQ(sn / sd, -76923077L);
    CHECK_EQ(sn % sd, 6L);

    /* 128/64 divq and idivq. */
    uint64_t hi = 0x0123456789abcdefUL, lo = 0xfedcba9876543210UL, q, r;
    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "r"(OPAQUE(0x0fedcba987654321UL)) : "cc");
    CHECK_EQ(q, 0x1249249249249247UL);
    CHECK_EQ(r, 0x0eb5b8284f51c1e9UL);
    /* -(0x12345678 << 64 | 0x9abcdef0) / -0x7fffffff1 */
    unsigned __int128 big = ((unsigned __int128)0x12345678 << 64) | 0x9abcdef0;
    big = -big;
    __asm__("idivq %4" : "=a"(q), "=d"(r) : "a"((uint64_t)big), "d"((uint64_t)(big >> 64)),
            "r"(OPAQUE(-0x7fffffff1L)) : "cc");
    CHECK_EQ(q, 0x02468acf04444444UL);
    CHECK_EQ(r, 0xfffffffe25432114UL);

    /* 8-bit div: AX / r8 -> AL quotient, AH remainder. */
    uint64_t ax = 1000;
    __asm__("divb %b1" : "+a"(ax) : "q"(OPAQUE((uint8_t)7)) : "cc");
    CHECK_EQ(ax & 0xffff, (6 << 8) | 142);

    /* mul sets CF=OF when the high half is non-zero; imul when the result was truncated. */
    uint64_t fl, rax = OPAQUE(0x100000000UL), rdx;
    __asm__("mulq %3; pushfq; popq %2" : "+a"(rax), "=d"(rdx), "=r"(fl) : "r"(OPAQUE(0x100000000UL)) : "cc");
    CHECK_EQ(rax, 0);
    CHECK_EQ(rdx, 1);
    CHECK_EQ(fl & (RFLAGS_CF | RFLAGS_OF), RFLAGS_CF | RFLAGS_OF);
    rax = OPAQUE(3UL);
    __asm__("mulq %3; pushfq; popq %2" : "+a"(rax), "=d"(rdx), "=r"(fl) : "r"(OPAQUE(5UL)) : "cc");
    CHECK_EQ(rax, 15);
    CHECK_EQ(fl & (RFLAGS_CF | RFLAGS_OF), 0);
    int64_t im;
    __asm__("imulq %2, %0; pushfq; popq %1" : "=r"(im), "=r"(fl) : "r"(OPAQUE(-0x100000000L)), "0"(OPAQUE(0x80000000L)) : "cc");
    CHECK_EQ(im, 0x8000000000000000UL); /* -2^63 fits exactly */
    CHECK_EQ(fl & (RFLAGS_CF | RFLAGS_OF), 0);
    __asm__("imulq %2, %0; pushfq; popq %1" : "=r"(im), "=r"(fl) : "r"(OPAQUE(0x100000000L)), "0"(OPAQUE(0x80000000L)) : "cc");
    CHECK_EQ(fl & (RFLAGS_CF | RFLAGS_OF), RFLAGS_CF | RFLAGS_OF); /* +2^63 does not */
    int64_t ovf;
    CHECK(__builtin_mul_overflow(OPAQUE(0x4000000000000000L), OPAQUE(2L), &ovf));
    CHECK(!__builtin_add_overflow(OPAQUE(0x3fffffffffffffffL), OPAQUE(0x4000000000000000L), &ovf));
    CHECK(__builtin_add_overflow(OPAQUE(0x4000000000000000L), OPAQUE(0x4000000000000000L), &ovf));
    printf("arith: mul/div ok\n");
}

static void test_shifts_bits(void)
{
    uint64_t x = OPAQUE(0x8000000000000001UL);
    CHECK_EQ(x << 63, 0x8000000000000000UL);
    CHECK_EQ(x >> 17, 0x0000400000000000UL);
    CHECK_EQ((uint64_t)((int64_t)x >> 17), 0xffffc00000000000UL); /* sar */
    CHECK_EQ(rotl64(OPAQUE(0x0123456789abcdefUL), OPAQUE(12U)), 0x3456789abcdef012UL);
    CHECK_EQ(rotr64(OPAQUE(0x0123456789abcdefUL), OPAQUE(12U)), 0xdef0123456789abcUL);

    /* Count masking: 64-bit shifts use count & 63, 32-bit and narrower use count & 31. */
    uint64_t v = 0x10, c = 65;
    __asm__("shlq %%cl, %0" : "+r"(v) : "c"(OPAQUE(c)) : "cc");
    CHECK_EQ(v, 0x20);
    v = 0xffffffff00000010UL;
    __asm__("shll %%cl, %k0" : "+r"(v) : "c"(OPAQUE(33UL)) : "cc");
    CHECK_EQ(v, 0x20); /* and the 32-bit write cleared the upper half */
    v = 0x1234;
    __asm__("shlb %%cl, %b0" : "+q"(v) : "c"(OPAQUE(9UL)) : "cc");
    CHECK_EQ(v, 0x1200); /* count 9 is not masked to 1 for 8-bit operands */
    v = 0x81;
    __asm__("rolb %%cl, %b0" : "+q"(v) : "c"(OPAQUE(9UL)) : "cc");
    CHECK_EQ(v, 0x03); /* rotates are modulo the width */
    v = 0x1;
    __asm__("stc; rclb %%cl, %b0" : "+q"(v) : "c"(OPAQUE(9UL)) : "cc");
    CHECK_EQ(v, 0x1); /* rcl by 9 on 8 bits (+CF) is the identity */
    uint64_t hi = OPAQUE(0x0123456789abcdefUL), lo = OPAQUE(0xfedcba9876543210UL);
    v = hi;
    __asm__("shldq $16, %1, %0" : "+r"(v) : "r"(lo) : "cc");
    CHECK_EQ(v, 0x456789abcdeffedcUL);
    v = lo;
    __asm__("shrdq %%cl, %1, %0" : "+r"(v) : "r"(hi), "c"(OPAQUE(8UL)) : "cc");
    CHECK_EQ(v, 0xeffedcba98765432UL);

    CHECK_EQ(__builtin_popcountll(OPAQUE(0xf0f0f0f0f0f0f0f1UL)), 33);
    CHECK_EQ(__builtin_ctzll(OPAQUE(0x0000010000000000UL)), 40);
    CHECK_EQ(__builtin_clzll(OPAQUE(0x0000010000000000UL)), 23);
    CHECK_EQ(__builtin_bswap64(OPAQUE(0x0102030405060708UL)), 0x0807060504030201UL);
    CHECK_EQ(__builtin_bswap32(OPAQUE(0xa1b2c3d4U)), 0xd4c3b2a1U);
    uint64_t idx;
    __asm__("bsfq %1, %0" : "=r"(idx) : "r"(OPAQUE(0x8000000000000000UL)) : "cc");
    CHECK_EQ(idx, 63);
    __asm__("bsrq %1, %0" : "=r"(idx) : "r"(OPAQUE(0x0000000000000300UL)) : "cc");
    CHECK_EQ(idx, 9);

    /* bt/bts/btr/btc: CF = the old bit. */
    uint64_t w = OPAQUE(0x5UL);
    uint8_t cf1, cf2, cf3, cf4;
    __asm__("btq $2, %4; setc %0\n\t"
            "btsq $3, %4; setc %1\n\t"
            "btrq $0, %4; setc %2\n\t"
            "btcq $63, %4; setc %3"
            : "=r"(cf1), "=r"(cf2), "=r"(cf3), "=r"(cf4), "+r"(w) : : "cc");
    CHECK(cf1 == 1 && cf2 == 0 && cf3 == 1 && cf4 == 0);
    CHECK_EQ(w, 0x800000000000000cUL);
    /* bt with a register bit offset into memory addresses beyond the operand. */
    static uint64_t bits[4] = {0, 0, 0x40, 0};
    uint8_t cf;
    __asm__("btq %1, %2; setc %0" : "=r"(cf) : "r"(OPAQUE(134UL)), "m"(bits) : "cc");
    CHECK_EQ(cf, 1);
    printf("arith: shifts and bit operations ok\n");
}

static uint64_t flags_of_add(int width, uint64_t a, uint64_t b)
{
    uint64_t f;
    switch (width) {
    case 8: __asm__("addb %b2, %b1; pushfq; popq %0" : "=r"(f), "+q"(a) : "q"(b) : "cc"); break;
    case 16: __asm__("addw %w2, %w1; pushfq; popq %0" : "=r"(f), "+r"(a) : "r"(b) : "cc"); break;
    case 32: __asm__("addl %k2, %k1; pushfq; popq %0" : "=r"(f), "+r"(a) : "r"(b) : "cc"); break;
    default: __asm__("addq %2, %1; pushfq; popq %0" : "=r"(f), "+r"(a) : "r"(b) : "cc"); break;
    }
    return f & FLAGS_MASK;
}

static uint64_t flags_of_sub(int width, uint64_t a, uint64_t b)
{
    uint64_t f;
    switch (width) {
    case 8: __asm__("subb %b2, %b1; pushfq; popq %0" : "=r"(f), "+q"(a) : "q"(b) : "cc"); break;
    case 32: __asm__("subl %k2, %k1; pushfq; popq %0" : "=r"(f), "+r"(a) : "r"(b) : "cc"); break;
    default: __asm__("subq %2, %1; pushfq; popq %0" : "=r"(f), "+r"(a) : "r"(b) : "cc"); break;
    }
    return f & FLAGS_MASK;
}

static void test_flags_and_partial_regs(void)
{
    /* Expected OF|SF|ZF|AF|PF|CF from a flag model of add/sub (host side). */
    CHECK_EQ(flags_of_add(32, OPAQUE(0x7fffffffUL), 1), 0x894);
    CHECK_EQ(flags_of_add(64, OPAQUE(~0UL), 1), 0x55);
    CHECK_EQ(flags_of_add(16, OPAQUE(0x8000UL), 0x8000), 0x845);
    CHECK_EQ(flags_of_add(8, OPAQUE(0x0fUL), 1), 0x10);
    CHECK_EQ(flags_of_sub(32, OPAQUE(0UL), 1), 0x95);
    CHECK_EQ(flags_of_sub(8, OPAQUE(0x80UL), 1), 0x810);
    CHECK_EQ(flags_of_sub(64, OPAQUE(5UL), 5), 0x44);

    /* inc/dec leave CF alone; adc/sbb chains carry. */
    uint64_t f, v = OPAQUE(~0UL);
    __asm__("stc; incq %1; pushfq; popq %0" : "=r"(f), "+r"(v) : : "cc");
    CHECK_EQ(v, 0);
    CHECK_EQ(f & (RFLAGS_CF | RFLAGS_ZF), RFLAGS_CF | RFLAGS_ZF);
    unsigned __int128 s = ((unsigned __int128)OPAQUE(0x1UL) << 64 | OPAQUE(~0UL)) + OPAQUE(1UL); /* add/adc */
    CHECK_EQ((uint64_t)(s >> 64), 2);
    CHECK_EQ((uint64_t)s, 0);
    s = ((unsigned __int128)OPAQUE(0x5UL) << 64) - OPAQUE(1UL); /* sub/sbb */
    CHECK_EQ((uint64_t)(s >> 64), 4);
    CHECK_EQ((uint64_t)s, ~0UL);

    /* Partial registers: 32-bit writes zero-extend (even cmov with a false condition), 16- and
     * 8-bit writes merge, AH addresses bits 15:8. */
    uint64_t r = ~0UL;
    __asm__("addl $1, %k0" : "+r"(r) : : "cc");
    CHECK_EQ(r, 0);
    r = ~0UL;
    __asm__("movw $0, %w0" : "+r"(r));
    CHECK_EQ(r, 0xffffffffffff0000UL);
    r = ~0UL;
    __asm__("movb $0x12, %b0" : "+q"(r));
    CHECK_EQ(r, 0xffffffffffffff12UL);
    r = ~0UL;
    __asm__("movb $0x34, %%ah" : "+a"(r));
    CHECK_EQ(r, 0xffffffffffff34ffUL);
    r = ~0UL;
    __asm__("cmpl %k0, %k0\n\tcmovnel %k1, %k0" : "+r"(r) : "r"(0UL) : "cc");
    CHECK_EQ(r, 0xffffffffUL);
    r = 0xffffffff80000000UL;
    __asm__("movslq %k0, %0" : "+r"(r));
    CHECK_EQ(r, 0xffffffff80000000UL);
    r = 0x1234567890abcdefUL;
    __asm__("movzbl %b0, %k0" : "+q"(r));
    CHECK_EQ(r, 0xef);
    /* xchg/cmpxchg/xadd through the atomic builtins (lock-prefixed). */
    static uint64_t cell = 5;
    uint64_t expected = 5;
    CHECK(__atomic_compare_exchange_n(&cell, &expected, 9, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    expected = 5;
    CHECK(!__atomic_compare_exchange_n(&cell, &expected, 11, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    CHECK_EQ(expected, 9);
    CHECK_EQ(__atomic_fetch_add(&cell, 100, __ATOMIC_SEQ_CST), 9);
    CHECK_EQ(__atomic_exchange_n(&cell, 7, __ATOMIC_SEQ_CST), 109);
    CHECK_EQ(cell, 7);
    printf("arith: flags and partial registers ok\n");
}

static uint8_t buf[8192];

static void test_hashes(void)
{
    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(OPAQUE(i) * 131 + (i >> 8));
    uint32_t crc = ~0U;
    for (unsigned i = 0; i < sizeof(buf); i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320U & -(crc & 1));
    }
    crc = ~crc;
    uint64_t fnv = 0xcbf29ce484222325UL;
    for (unsigned i = 0; i < sizeof(buf); i++)
        fnv = (fnv ^ buf[i]) * 0x100000001b3UL;
    printf("arith: crc32 %#x fnv1a64 %#lx over %u bytes\n", crc, fnv, (unsigned)sizeof(buf));
    CHECK_EQ(crc, 0x768c1fd9); /* zlib.crc32 on the host */
    CHECK_EQ(fnv, 0x4c377e6d1c0cc325UL);

    /* A long loop mixing xorshift, mul (128-bit), div, idiv, rotates, sar, popcount, ctz. */
    uint64_t x = OPAQUE(0x9E3779B97F4A7C15UL), acc = 0;
    for (int i = 0; i < 5000; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t r = x * 0x2545F4914F6CDD1DUL;
        uint64_t hi = (uint64_t)(((unsigned __int128)r * (x | 1)) >> 64);
        uint64_t q = r / ((x >> 45) | 1);
        int64_t d = ((int64_t)(x >> 50) - 8192) | 1;
        int64_t sq = (int64_t)r / d, sm = (int64_t)r % d;
        unsigned rot = x & 63;
        acc = rotl64(acc, 7) ^ r;
        acc += hi ^ q;
        acc ^= (uint64_t)sq + (uint64_t)__builtin_popcountll(r) + (uint64_t)__builtin_ctzll(x | (1UL << 63));
        acc -= rotr64(x, rot);
        acc ^= (uint64_t)((int64_t)x >> rot);
        acc += (uint64_t)sm * 3;
    }
    printf("arith: mix loop x %#lx acc %#lx\n", x, acc);
    CHECK_EQ(x, 0x265be31c6c39a04eUL);
    CHECK_EQ(acc, 0x045d3f192cd6b7aaUL);
}

static uint8_t s1[256], s2[256];

static void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static void test_strings(void)
{
    uint8_t *src, *dst;
    uint64_t rcx;

    /* Forward rep movsb. */
    fill_pattern(s1, sizeof(s1), 1);
    memset(s2, 0, sizeof(s2));
    src = s1 + 3;
    dst = s2 + 5;
    rcx = 200;
    __asm__ volatile("cld; rep movsb" : "+S"(src), "+D"(dst), "+c"(rcx) : : "memory");
    CHECK(src == s1 + 203 && dst == s2 + 205 && rcx == 0);
    CHECK(memcmp(s2 + 5, s1 + 3, 200) == 0);
    CHECK(s2[4] == 0 && s2[205] == 0);

    /* Overlapping forward copy one byte up: byte-at-a-time semantics replicate s1[0]. */
    fill_pattern(s1, sizeof(s1), 9);
    src = s1;
    dst = s1 + 1;
    rcx = 100;
    __asm__ volatile("cld; rep movsb" : "+S"(src), "+D"(dst), "+c"(rcx) : : "memory");
    for (int i = 0; i <= 100; i++)
        CHECK_EQ(s1[i], 9);
    CHECK_EQ(s1[101], (uint8_t)(9 + 101 * 7));

    /* Backwards (DF=1) overlapping copy up by 3 bytes: memmove semantics. */
    fill_pattern(s1, sizeof(s1), 0x40);
    fill_pattern(s2, sizeof(s2), 0x40);
    memmove(s2 + 3, s2, 150);
    src = s1 + 149;
    dst = s1 + 152;
    rcx = 150;
    __asm__ volatile("std; rep movsb; cld" : "+S"(src), "+D"(dst), "+c"(rcx) : : "memory");
    CHECK((uintptr_t)src == (uintptr_t)s1 - 1 && dst == s1 + 2 && rcx == 0);
    CHECK(memcmp(s1, s2, sizeof(s1)) == 0);

    /* rep stosq forwards, then backwards over part of it; rep stosb with RCX = 0 does nothing. */
    static uint64_t q[64];
    uint64_t *qd = q;
    rcx = 64;
    __asm__ volatile("cld; rep stosq" : "+D"(qd), "+c"(rcx) : "a"(0x1122334455667788UL) : "memory");
    CHECK(qd == q + 64 && rcx == 0);
    qd = q + 40;
    rcx = 8;
    __asm__ volatile("std; rep stosq; cld" : "+D"(qd), "+c"(rcx) : "a"(0xaaaaaaaaaaaaaaaaUL) : "memory");
    CHECK(qd == q + 32 && rcx == 0);
    for (int i = 0; i < 64; i++)
        CHECK_EQ(q[i], (i >= 33 && i <= 40) ? 0xaaaaaaaaaaaaaaaaUL : 0x1122334455667788UL);
    dst = s1 + 10;
    rcx = 0;
    uint8_t before = s1[10];
    __asm__ volatile("cld; rep stosb" : "+D"(dst), "+c"(rcx) : "a"(0xee) : "memory");
    CHECK(dst == s1 + 10 && s1[10] == before);

    /* repe cmpsb stops after the first difference. */
    fill_pattern(s1, sizeof(s1), 3);
    fill_pattern(s2, sizeof(s2), 3);
    s2[37] ^= 0x80;
    src = s1;
    dst = s2;
    rcx = 100;
    uint8_t zf;
    __asm__ volatile("cld; repe cmpsb; setz %3" : "+S"(src), "+D"(dst), "+c"(rcx), "=r"(zf) : : "memory", "cc");
    CHECK(src == s1 + 38 && dst == s2 + 38 && rcx == 62 && zf == 0);

    /* repne scasb as strlen. */
    static const char text[] = "the quick brown fox jumps over the lazy dog";
    const char *sp = text;
    rcx = ~0UL;
    __asm__ volatile("cld; repne scasb" : "+D"(sp), "+c"(rcx) : "a"(0) : "memory", "cc");
    CHECK_EQ(~rcx - 1, sizeof(text) - 1);
    CHECK(sp == text + sizeof(text));

    /* lodsq backwards. */
    static const uint64_t words[3] = {0x1111, 0x2222, 0x3333};
    const uint64_t *wp = &words[2];
    uint64_t w1, w2;
    __asm__ volatile("std; lodsq; mov %%rax, %1; lodsq; cld" : "+S"(wp), "=r"(w1), "=a"(w2) : : "memory");
    CHECK(w1 == 0x3333 && w2 == 0x2222 && wp == &words[0]);

    /* The library's memcpy/memset/memcmp, which gcc also calls behind our back. */
    struct big { uint64_t v[40]; } b1, b2;
    memset(&b1, 0x5a, sizeof(b1));
    b2 = b1;
    CHECK(memcmp(&b1, &b2, sizeof(b1)) == 0);
    b2.v[39] ^= 1;
    CHECK(memcmp(&b1, &b2, sizeof(b1)) < 0);
    printf("arith: string instructions ok\n");
}

int main(void)
{
    test_muldiv();
    test_shifts_bits();
    test_flags_and_partial_regs();
    test_hashes();
    test_strings();
    pass();
}
