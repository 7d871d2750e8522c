/*
 * cpuid: what the vCPU says about itself.
 * Asserts: a sane basic and extended leaf range, the x86-64 baseline feature bits (we run in long
 * mode, so they must be there), the "KVMKVMKVM\0\0\0" signature at 0x40000000 when there are
 * hypervisor leaves (jvisor advertises them on both engines; -cpu ...,kvm=off hides them), that
 * CPUID writes all 64 bits of RAX/RBX/RCX/RDX (upper halves zeroed), and that it honours the
 * subleaf in ECX. It prints the hypervisor bit CPUID.1:ECX[31] and the feature registers: -cpu can
 * clear any flag (-hypervisor too), so the test that boots it checks the bits it expects.
 */
#include "lib.h"

#ifdef QEMU_REFERENCE
/* QEMU's TCG answers leaf 0x40000000 with its own signature; jvisor's is KVM's. */
#define HV_SIGNATURE "TCGTCGTCGTCG"
#else
#define HV_SIGNATURE "KVMKVMKVM\0\0\0"
#endif

static void regs_to_str(char *out, uint32_t a, uint32_t b, uint32_t c)
{
    memcpy(out, &a, 4);
    memcpy(out + 4, &b, 4);
    memcpy(out + 8, &c, 4);
    out[12] = '\0';
}

int main(void)
{
    uint32_t a, b, c, d;
    char vendor[13], sig[13];

    cpuid(0, 0, &a, &b, &c, &d);
    uint32_t max_basic = a;
    regs_to_str(vendor, b, d, c);
    printf("cpuid: vendor \"%s\", max basic leaf %#x\n", vendor, max_basic);
    CHECK(max_basic >= 1);
    for (int i = 0; i < 12; i++)
        CHECK(vendor[i] >= 0x20 && vendor[i] < 0x7f);

    cpuid(1, 0, &a, &b, &c, &d);
    unsigned stepping = a & 0xF, family = (a >> 8) & 0xF, model = (a >> 4) & 0xF;
    if (family == 0xF)
        family += (a >> 20) & 0xFF;
    if (family == 0x6 || family >= 0xF)
        model |= ((a >> 16) & 0xF) << 4;
    printf("cpuid: leaf 1 eax %08x ebx %08x ecx %08x edx %08x: family %u (%#x) model %u (%#x) stepping %u\n",
           a, b, c, d, family, family, model, model, stepping);
    CHECK(family != 0);
    printf("cpuid: hypervisor bit (1:ecx[31]) = %u, initial APIC id %u\n", c >> 31, b >> 24);
    CHECK_EQ(b >> 24, 0); /* the boot vCPU */
    static const struct { int bit; const char *name; } baseline[] = {
        {0, "fpu"}, {4, "tsc"}, {5, "msr"}, {6, "pae"}, {8, "cx8"}, {15, "cmov"},
        {23, "mmx"}, {24, "fxsr"}, {25, "sse"}, {26, "sse2"},
    };
    for (unsigned i = 0; i < sizeof(baseline) / sizeof(baseline[0]); i++) {
        if (!(d & (1U << baseline[i].bit)))
            failf("CPUID.1:EDX lacks x86-64 baseline feature %s (bit %d)", baseline[i].name, baseline[i].bit);
    }

    cpuid(0x40000000, 0, &a, &b, &c, &d);
    if ((a | b | c | d) == 0) {
        printf("cpuid: 0x40000000: no hypervisor leaves\n");
    } else {
        regs_to_str(sig, b, c, d);
        printf("cpuid: 0x40000000: max hypervisor leaf %#x, signature \"%s\"\n", a, sig);
        if (memcmp(sig, HV_SIGNATURE, 12) != 0)
            failf("hypervisor signature at 0x40000000 is %08x %08x %08x, expected \"%s\"", b, c, d, HV_SIGNATURE);
        CHECK(a >= 0x40000001 && a < 0x40000100);
        cpuid(0x40000001, 0, &a, &b, &c, &d);
        printf("cpuid: 0x40000001: features eax %08x edx %08x\n", a, d);
    }

    cpuid(0x80000000, 0, &a, &b, &c, &d);
    uint32_t max_ext = a;
    printf("cpuid: max extended leaf %#x\n", max_ext);
    CHECK(max_ext >= 0x80000001 && max_ext < 0x80000100);
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    printf("cpuid: 0x80000001: ecx %08x edx %08x (lm %u nx %u pdpe1gb %u syscall %u)\n", c, d, (d >> 29) & 1,
           (d >> 20) & 1, (d >> 26) & 1, (d >> 11) & 1);
    if (!(d & (1U << 29)))
        fail("CPUID.80000001:EDX[29] (long mode) is clear, yet we run in long mode");
    if (max_ext >= 0x80000004) {
        uint32_t brand[13];
        for (uint32_t i = 0; i < 3; i++)
            cpuid(0x80000002 + i, 0, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2], &brand[4 * i + 3]);
        brand[12] = 0;
        printf("cpuid: brand \"%s\"\n", (const char *)brand);
    }

    /* CPUID writes 32-bit results: the upper halves of RAX/RBX/RCX/RDX become zero. */
    uint64_t ra, rb, rc, rd;
    __asm__ volatile("mov $0xdeadbeef00000000, %%rbx\n\t"
                     "mov %%rbx, %%rdx\n\t"
                     "mov %%rbx, %%rcx\n\t"
                     "mov %%rbx, %%rax\n\t"
                     "cpuid"
                     : "=a"(ra), "=b"(rb), "=c"(rc), "=d"(rd));
    /* (leaf 0 with the low half of RAX/RCX zero) */
    CHECK_EQ(ra, max_basic);
    CHECK_EQ(rb >> 32, 0);
    CHECK_EQ(rc >> 32, 0);
    CHECK_EQ(rd >> 32, 0);

    /* The subleaf in ECX matters for leaf 7 (and 0xB/0xD where present): subleaf 0 of leaf 7
     * reports the number of subleaves in EAX; an out-of-range subleaf reads as all zero. */
    if (max_basic >= 7) {
        cpuid(7, 0, &a, &b, &c, &d);
        printf("cpuid: leaf 7.0: eax %08x ebx %08x ecx %08x edx %08x\n", a, b, c, d);
        cpuid(7, 0x100, &a, &b, &c, &d);
        CHECK(a == 0 && b == 0 && c == 0 && d == 0);
    }
    pass();
}
