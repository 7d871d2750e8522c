package org.jvisor.cpu;

/**
 * Whether a vCPU state can run on a CPU that presents a given CPUID: every CR4 bit, EFER bit,
 * XCR0 component and IA32_APIC_BASE mode the guest turned on needs the CPUID feature that makes
 * it legal (Intel SDM vol. 3, 2.5, 2.6 and 10.12.1; vol. 1, 13.3). A snapshot moving to another engine is checked with it,
 * so a guest that enabled something the new engine's CPU lacks is refused naming the feature,
 * rather than faulting or misbehaving after the restore.
 */
public final class CpuFeatureCheck {
    private CpuFeatureCheck() {
    }

    /** A state bit and the CPUID bit that must be set for it: leaf, subleaf, register (0 EAX .. 3 EDX), bit. */
    private enum Requirement {
        CR4_VME(Reg.CR4, 0, 1, 0, 3, 1, "VME"),
        CR4_DE(Reg.CR4, 3, 1, 0, 3, 2, "DE"),
        CR4_PSE(Reg.CR4, 4, 1, 0, 3, 3, "PSE"),
        CR4_PAE(Reg.CR4, 5, 1, 0, 3, 6, "PAE"),
        CR4_MCE(Reg.CR4, 6, 1, 0, 3, 7, "MCE"),
        CR4_PGE(Reg.CR4, 7, 1, 0, 3, 13, "PGE"),
        CR4_OSFXSR(Reg.CR4, 9, 1, 0, 3, 24, "FXSR"),
        CR4_OSXMMEXCPT(Reg.CR4, 10, 1, 0, 3, 25, "SSE"),
        CR4_UMIP(Reg.CR4, 11, 7, 0, 2, 2, "UMIP"),
        CR4_LA57(Reg.CR4, 12, 7, 0, 2, 16, "LA57"),
        CR4_VMXE(Reg.CR4, 13, 1, 0, 2, 5, "VMX"),
        CR4_FSGSBASE(Reg.CR4, 16, 7, 0, 1, 0, "FSGSBASE"),
        CR4_PCIDE(Reg.CR4, 17, 1, 0, 2, 17, "PCID"),
        CR4_OSXSAVE(Reg.CR4, 18, 1, 0, 2, 26, "XSAVE"),
        CR4_SMEP(Reg.CR4, 20, 7, 0, 1, 7, "SMEP"),
        CR4_SMAP(Reg.CR4, 21, 7, 0, 1, 20, "SMAP"),
        CR4_PKE(Reg.CR4, 22, 7, 0, 2, 3, "PKU"),
        EFER_SCE(Reg.EFER, 0, 0x8000_0001, 0, 3, 11, "SYSCALL"),
        EFER_LME(Reg.EFER, 8, 0x8000_0001, 0, 3, 29, "LM"),
        EFER_NXE(Reg.EFER, 11, 0x8000_0001, 0, 3, 20, "NX"),
        XCR0_AVX(Reg.XCR0, 2, 1, 0, 2, 28, "AVX"),
        XCR0_AVX512(Reg.XCR0, 5, 7, 0, 1, 16, "AVX512F"),
        APICBASE_EXTD(Reg.APIC_BASE, 10, 1, 0, 2, 21, "x2APIC");

        final Reg reg;
        final int bit;
        final int leaf;
        final int subleaf;
        final int register;
        final int cpuidBit;
        final String feature;

        Requirement(Reg reg, int bit, int leaf, int subleaf, int register, int cpuidBit, String feature) {
            this.reg = reg;
            this.bit = bit;
            this.leaf = leaf;
            this.subleaf = subleaf;
            this.register = register;
            this.cpuidBit = cpuidBit;
            this.feature = feature;
        }
    }

    private enum Reg { CR4, EFER, XCR0, APIC_BASE }

    /**
     * The first feature {@code state} uses that {@code cpuid} lacks, as a sentence naming the
     * register bit and the CPUID bit; null when it has them all.
     */
    public static String missing(VcpuState state, CpuidModel cpuid) {
        for (Requirement r : Requirement.values()) {
            long value = switch (r.reg) {
                case CR4 -> state.cr4();
                case EFER -> state.efer();
                case XCR0 -> state.xcr0();
                case APIC_BASE -> state.msr(VcpuState.MSR_APIC_BASE, 0);
            };
            if ((value >>> r.bit & 1) == 0) {
                continue;
            }
            CpuidEntry e = cpuid.lookup(r.leaf, r.subleaf);
            int regs = e == null ? 0 : switch (r.register) {
                case 0 -> e.eax();
                case 1 -> e.ebx();
                case 2 -> e.ecx();
                default -> e.edx();
            };
            if ((regs >>> r.cpuidBit & 1) == 0) {
                return String.format("%s.%s is set, and this CPU lacks %s (CPUID.%#x%s:%s[%d])",
                    r.reg == Reg.APIC_BASE ? "IA32_APIC_BASE" : r.reg, r.name()
                    .substring(r.name().indexOf('_') + 1), r.feature, r.leaf, r.leaf == 7 ? ".0" : "",
                    "EAX EBX ECX EDX".split(" ")[r.register], r.cpuidBit);
            }
        }
        return null;
    }
}
