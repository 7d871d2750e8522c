package org.jvisor.cpu;

/**
 * A CPUID register that holds feature flags: leaf, subleaf and register, as QEMU's feature words
 * (target/i386/cpu.c, feature_word_info). The bits are the SDM's (vol. 2A, CPUID: tables 3-8
 * "Information Returned by CPUID", 3-10 and 3-11 "Feature Information" for leaf 1) and AMD's for
 * the AMD-defined bits of 80000001h (AMD64 APM vol. 3, appendix E.4.2); the KVM leaf is Linux's
 * Documentation/virt/kvm/x86/cpuid.rst.
 */
public enum CpuidWord {
    LEAF_1_EDX(0x1, 0, CpuidRegister.EDX),
    LEAF_1_ECX(0x1, 0, CpuidRegister.ECX),
    /** Thermal and power management: ARAT, the APIC timer that always runs. */
    LEAF_6_EAX(0x6, 0, CpuidRegister.EAX),
    LEAF_7_0_EBX(0x7, 0, CpuidRegister.EBX),
    LEAF_7_0_ECX(0x7, 0, CpuidRegister.ECX),
    LEAF_7_0_EDX(0x7, 0, CpuidRegister.EDX),
    LEAF_7_1_EAX(0x7, 1, CpuidRegister.EAX),
    /** Processor extended state enumeration, subleaf 1: the XSAVE variants. */
    LEAF_D_1_EAX(0xD, 1, CpuidRegister.EAX),
    LEAF_80000001_EDX(0x8000_0001, 0, CpuidRegister.EDX),
    LEAF_80000001_ECX(0x8000_0001, 0, CpuidRegister.ECX),
    /** Advanced power management: the invariant TSC. */
    LEAF_80000007_EDX(0x8000_0007, 0, CpuidRegister.EDX),
    /** AMD's extended features (AMD APM vol. 3, E.4.17): CLZERO, speculation controls. */
    LEAF_80000008_EBX(0x8000_0008, 0, CpuidRegister.EBX),
    /** KVM's paravirtual features (KVM_CPUID_FEATURES). */
    LEAF_40000001_EAX(CpuidModel.KVM_FEATURES_LEAF, 0, CpuidRegister.EAX);

    private final int leaf;
    private final int subleaf;
    private final CpuidRegister register;

    CpuidWord(int leaf, int subleaf, CpuidRegister register) {
        this.leaf = leaf;
        this.subleaf = subleaf;
        this.register = register;
    }

    public int leaf() {
        return leaf;
    }

    public int subleaf() {
        return subleaf;
    }

    public CpuidRegister register() {
        return register;
    }

    /** QEMU's name for it in messages: "CPUID.01H:ECX", "CPUID.80000001H:EDX" (no subleaf, as QEMU writes it). */
    public String description() {
        return String.format("CPUID.%02XH:%s", leaf, register);
    }

    /**
     * This register of {@code model}'s entry for exactly this leaf and subleaf, 0 when the model
     * has none. Not {@link CpuidModel#lookup}: a leaf above the highest basic one would read as
     * that leaf's data there, which says nothing about whether the engine has this one.
     */
    public int valueIn(CpuidModel model) {
        for (CpuidEntry e : model.entries()) {
            if (e.function() == leaf && (!e.indexed() || e.index() == subleaf)) {
                return register.of(e);
            }
        }
        return 0;
    }
}
