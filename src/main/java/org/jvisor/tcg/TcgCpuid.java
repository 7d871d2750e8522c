package org.jvisor.tcg;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.jvisor.cpu.CpuidEntry;
import org.jvisor.cpu.CpuidModel;

/**
 * The CPUID leaves tcg presents: exactly the features the interpreter implements (SDM vol. 2,
 * CPUID, tables 3-8 to 3-11), plus the hypervisor bit and the KVM signature leaves.
 */
public final class TcgCpuid {
    /** CPUID.7.0:EDX[29]: IA32_ARCH_CAPABILITIES exists (see Msrs.ARCH_CAPABILITIES_VALUE). */
    static final int EDX7_ARCH_CAPABILITIES = 1 << 29;
    // CPUID.1:EDX
    static final int EDX_FPU = 1, EDX_MMX = 1 << 23, EDX_FXSR = 1 << 24, EDX_SSE = 1 << 25, EDX_SSE2 = 1 << 26;
    static final int EDX_DE = 1 << 2, EDX_PSE = 1 << 3, EDX_TSC = 1 << 4, EDX_MSR = 1 << 5, EDX_PAE = 1 << 6,
        EDX_CX8 = 1 << 8, EDX_APIC = 1 << 9, EDX_SEP = 1 << 11, EDX_MTRR = 1 << 12, EDX_PGE = 1 << 13, EDX_CMOV = 1 << 15,
        EDX_PAT = 1 << 16, EDX_CLFSH = 1 << 19;
    // CPUID.1:ECX
    static final int ECX_SSE3 = 1, ECX_SSSE3 = 1 << 9, ECX_CX16 = 1 << 13, ECX_X2APIC = 1 << 21, ECX_POPCNT = 1 << 23,
        ECX_TSC_DEADLINE = 1 << 24;
    // CPUID.40000001h:EAX (Linux Documentation/virt/kvm/x86/cpuid.rst)
    static final int KVM_FEATURE_CLOCKSOURCE2 = 1 << 3, KVM_FEATURE_CLOCKSOURCE_STABLE_BIT = 1 << 24;
    // CPUID.7.0:EBX
    static final int EBX7_FSGSBASE = 1;
    // CPUID.80000001h
    static final int ECX81_LAHF = 1, ECX81_ABM = 1 << 5;
    static final int EDX81_SYSCALL = 1 << 11, EDX81_NX = 1 << 20, EDX81_PDPE1GB = 1 << 26, EDX81_RDTSCP = 1 << 27,
        EDX81_LM = 1 << 29;

    private TcgCpuid() {
    }

    /** The leaves without a local APIC (as before the platform has one). */
    public static CpuidModel model() {
        return model(false);
    }

    /** The leaves; {@code localApic} sets CPUID.1:EDX.APIC for a platform that attaches a LAPIC. */
    public static CpuidModel model(boolean localApic) {
        return model(localApic, false);
    }

    /**
     * The leaves; {@code x2Apic} also offers the LAPIC's x2APIC mode (CPUID.1:ECX[21]). Off by
     * default, as QEMU 7.2's tcg CPUs have it: Linux on a KVM-signed CPU enables x2APIC without
     * interrupt remapping, which would change every guest's interrupt path.
     */
    public static CpuidModel model(boolean localApic, boolean x2Apic) {
        List<CpuidEntry> e = new ArrayList<>();
        byte[] vendor = "GenuineIntel".getBytes(StandardCharsets.US_ASCII);
        e.add(new CpuidEntry(0, 0, false, 7, le32(vendor, 0), le32(vendor, 8), le32(vendor, 4)));
        int family6 = 0x0003_06A9; // family 6, model 0x3A, stepping 9
        int edx1 = EDX_DE | EDX_PSE | EDX_TSC | EDX_MSR | EDX_PAE | EDX_CX8 | EDX_SEP | EDX_MTRR | EDX_PGE
            | EDX_CMOV | EDX_PAT | EDX_CLFSH | EDX_FPU | EDX_MMX | EDX_FXSR | EDX_SSE | EDX_SSE2;
        if (localApic) {
            edx1 |= EDX_APIC;
        }
        int ecx1 = CpuidModel.ECX_HYPERVISOR | ECX_SSE3 | ECX_SSSE3 | ECX_CX16 | ECX_POPCNT;
        if (localApic) {
            // The TSC-deadline timer lives in the LAPIC (SDM vol. 3, 10.5.4.1).
            ecx1 |= ECX_TSC_DEADLINE;
            if (x2Apic) {
                ecx1 |= ECX_X2APIC;
            }
        }
        e.add(new CpuidEntry(1, 0, false, family6, 0x0001_0800, ecx1, edx1));
        e.add(new CpuidEntry(2, 0, false, 1, 0, 0, 0));
        e.add(new CpuidEntry(4, 0, true, 0, 0, 0, 0));
        e.add(new CpuidEntry(5, 0, false, 0, 0, 0, 0));
        e.add(new CpuidEntry(6, 0, false, 0, 0, 0, 0));
        e.add(new CpuidEntry(7, 0, true, 0, EBX7_FSGSBASE, 0, EDX7_ARCH_CAPABILITIES));
        e.add(CpuidModel.kvmSignature());
        e.add(new CpuidEntry(CpuidModel.KVM_FEATURES_LEAF, 0, false,
            KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT, 0, 0, 0));
        e.add(new CpuidEntry(0x8000_0000, 0, false, 0x8000_0008, 0, 0, 0));
        e.add(new CpuidEntry(0x8000_0001, 0, false, 0, 0, ECX81_LAHF | ECX81_ABM,
            EDX81_SYSCALL | EDX81_NX | EDX81_PDPE1GB | EDX81_RDTSCP | EDX81_LM));
        byte[] brand = String.format("%-47s", "jvisor tcg x86-64 CPU").getBytes(StandardCharsets.US_ASCII);
        byte[] b48 = new byte[48];
        System.arraycopy(brand, 0, b48, 0, 47);
        for (int i = 0; i < 3; i++) {
            int o = i * 16;
            e.add(new CpuidEntry(0x8000_0002 + i, 0, false, le32(b48, o), le32(b48, o + 4), le32(b48, o + 8), le32(b48, o + 12)));
        }
        e.add(new CpuidEntry(0x8000_0006, 0, false, 0, 0, 0, 0));
        e.add(new CpuidEntry(0x8000_0008, 0, false, 0x3000 | Mmu.PHYS_BITS, 0, 0, 0));
        return new CpuidModel(e);
    }

    private static int le32(byte[] b, int o) {
        return (b[o] & 0xFF) | (b[o + 1] & 0xFF) << 8 | (b[o + 2] & 0xFF) << 16 | (b[o + 3] & 0xFF) << 24;
    }
}
