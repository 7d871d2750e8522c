package org.jvisor.cpu;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import static org.jvisor.cpu.CpuidWord.LEAF_1_ECX;
import static org.jvisor.cpu.CpuidWord.LEAF_1_EDX;
import static org.jvisor.cpu.CpuidWord.LEAF_40000001_EAX;
import static org.jvisor.cpu.CpuidWord.LEAF_6_EAX;
import static org.jvisor.cpu.CpuidWord.LEAF_7_1_EAX;
import static org.jvisor.cpu.CpuidWord.LEAF_80000008_EBX;
import static org.jvisor.cpu.CpuidWord.LEAF_7_0_EBX;
import static org.jvisor.cpu.CpuidWord.LEAF_7_0_ECX;
import static org.jvisor.cpu.CpuidWord.LEAF_7_0_EDX;
import static org.jvisor.cpu.CpuidWord.LEAF_80000001_ECX;
import static org.jvisor.cpu.CpuidWord.LEAF_80000001_EDX;
import static org.jvisor.cpu.CpuidWord.LEAF_80000007_EDX;
import static org.jvisor.cpu.CpuidWord.LEAF_D_1_EAX;

/**
 * The CPUID feature flags {@code -cpu} can turn on and off: the one table of their names. Names
 * and aliases are QEMU 7.2's (target/i386/cpu.c: feature_word_info's feat_names, and the aliases
 * x86_cpu_initfn adds: sse3, pclmuldq, sse4_1, lahf_lm...), as its {@code -cpu help} lists them,
 * so a QEMU or libvirt command line means the same here; the bits are the SDM's (see
 * {@link CpuidWord}). QEMU turns '_' into '-' in a {@code name=on} property; {@link #named}
 * accepts either spelling everywhere.
 */
public enum CpuFeature {
    // CPUID.01H:EDX (SDM vol. 2A, table 3-11)
    FPU("fpu", LEAF_1_EDX, 0), VME("vme", LEAF_1_EDX, 1), DE("de", LEAF_1_EDX, 2), PSE("pse", LEAF_1_EDX, 3),
    TSC("tsc", LEAF_1_EDX, 4), MSR("msr", LEAF_1_EDX, 5), PAE("pae", LEAF_1_EDX, 6), MCE("mce", LEAF_1_EDX, 7),
    CX8("cx8", LEAF_1_EDX, 8), APIC("apic", LEAF_1_EDX, 9), SEP("sep", LEAF_1_EDX, 11), MTRR("mtrr", LEAF_1_EDX, 12),
    PGE("pge", LEAF_1_EDX, 13), MCA("mca", LEAF_1_EDX, 14), CMOV("cmov", LEAF_1_EDX, 15), PAT("pat", LEAF_1_EDX, 16),
    PSE36("pse36", LEAF_1_EDX, 17), PN("pn", LEAF_1_EDX, 18), CLFLUSH("clflush", LEAF_1_EDX, 19),
    DS("ds", LEAF_1_EDX, 21), ACPI("acpi", LEAF_1_EDX, 22), MMX("mmx", LEAF_1_EDX, 23), FXSR("fxsr", LEAF_1_EDX, 24),
    SSE("sse", LEAF_1_EDX, 25), SSE2("sse2", LEAF_1_EDX, 26), SS("ss", LEAF_1_EDX, 27), HT("ht", LEAF_1_EDX, 28),
    TM("tm", LEAF_1_EDX, 29), IA64("ia64", LEAF_1_EDX, 30), PBE("pbe", LEAF_1_EDX, 31),

    // CPUID.01H:ECX (SDM vol. 2A, table 3-10); bit 27 OSXSAVE mirrors CR4 and is no flag
    PNI("pni", LEAF_1_ECX, 0, "sse3"), PCLMULQDQ("pclmulqdq", LEAF_1_ECX, 1, "pclmuldq"),
    DTES64("dtes64", LEAF_1_ECX, 2), MONITOR("monitor", LEAF_1_ECX, 3), DS_CPL("ds-cpl", LEAF_1_ECX, 4, "ds_cpl"),
    VMX("vmx", LEAF_1_ECX, 5), SMX("smx", LEAF_1_ECX, 6), EST("est", LEAF_1_ECX, 7), TM2("tm2", LEAF_1_ECX, 8),
    SSSE3("ssse3", LEAF_1_ECX, 9), CID("cid", LEAF_1_ECX, 10), FMA("fma", LEAF_1_ECX, 12),
    CX16("cx16", LEAF_1_ECX, 13), XTPR("xtpr", LEAF_1_ECX, 14), PDCM("pdcm", LEAF_1_ECX, 15),
    PCID("pcid", LEAF_1_ECX, 17), DCA("dca", LEAF_1_ECX, 18), SSE4_1("sse4.1", LEAF_1_ECX, 19, "sse4-1", "sse4_1"),
    SSE4_2("sse4.2", LEAF_1_ECX, 20, "sse4-2", "sse4_2"), X2APIC("x2apic", LEAF_1_ECX, 21),
    MOVBE("movbe", LEAF_1_ECX, 22), POPCNT("popcnt", LEAF_1_ECX, 23), TSC_DEADLINE("tsc-deadline", LEAF_1_ECX, 24),
    AES("aes", LEAF_1_ECX, 25), XSAVE("xsave", LEAF_1_ECX, 26), AVX("avx", LEAF_1_ECX, 28),
    F16C("f16c", LEAF_1_ECX, 29), RDRAND("rdrand", LEAF_1_ECX, 30), HYPERVISOR("hypervisor", LEAF_1_ECX, 31),

    // CPUID.06H:EAX (SDM vol. 2A, table 3-8, leaf 06H)
    ARAT("arat", LEAF_6_EAX, 2),

    // CPUID.07H.0:EBX (SDM vol. 2A, table 3-8, leaf 07H)
    FSGSBASE("fsgsbase", LEAF_7_0_EBX, 0), TSC_ADJUST("tsc-adjust", LEAF_7_0_EBX, 1, "tsc_adjust"),
    SGX("sgx", LEAF_7_0_EBX, 2), BMI1("bmi1", LEAF_7_0_EBX, 3), HLE("hle", LEAF_7_0_EBX, 4),
    AVX2("avx2", LEAF_7_0_EBX, 5), SMEP("smep", LEAF_7_0_EBX, 7), BMI2("bmi2", LEAF_7_0_EBX, 8),
    ERMS("erms", LEAF_7_0_EBX, 9), INVPCID("invpcid", LEAF_7_0_EBX, 10), RTM("rtm", LEAF_7_0_EBX, 11),
    MPX("mpx", LEAF_7_0_EBX, 14), AVX512F("avx512f", LEAF_7_0_EBX, 16), AVX512DQ("avx512dq", LEAF_7_0_EBX, 17),
    RDSEED("rdseed", LEAF_7_0_EBX, 18), ADX("adx", LEAF_7_0_EBX, 19), SMAP("smap", LEAF_7_0_EBX, 20),
    AVX512IFMA("avx512ifma", LEAF_7_0_EBX, 21), PCOMMIT("pcommit", LEAF_7_0_EBX, 22),
    CLFLUSHOPT("clflushopt", LEAF_7_0_EBX, 23), CLWB("clwb", LEAF_7_0_EBX, 24), INTEL_PT("intel-pt", LEAF_7_0_EBX, 25),
    AVX512PF("avx512pf", LEAF_7_0_EBX, 26), AVX512ER("avx512er", LEAF_7_0_EBX, 27),
    AVX512CD("avx512cd", LEAF_7_0_EBX, 28), SHA_NI("sha-ni", LEAF_7_0_EBX, 29),
    AVX512BW("avx512bw", LEAF_7_0_EBX, 30), AVX512VL("avx512vl", LEAF_7_0_EBX, 31),

    // CPUID.07H.0:ECX; bit 4 OSPKE mirrors CR4 and is no flag
    AVX512VBMI("avx512vbmi", LEAF_7_0_ECX, 1), UMIP("umip", LEAF_7_0_ECX, 2), PKU("pku", LEAF_7_0_ECX, 3),
    WAITPKG("waitpkg", LEAF_7_0_ECX, 5), AVX512VBMI2("avx512vbmi2", LEAF_7_0_ECX, 6), GFNI("gfni", LEAF_7_0_ECX, 8),
    VAES("vaes", LEAF_7_0_ECX, 9), VPCLMULQDQ("vpclmulqdq", LEAF_7_0_ECX, 10),
    AVX512VNNI("avx512vnni", LEAF_7_0_ECX, 11), AVX512BITALG("avx512bitalg", LEAF_7_0_ECX, 12),
    AVX512_VPOPCNTDQ("avx512-vpopcntdq", LEAF_7_0_ECX, 14), LA57("la57", LEAF_7_0_ECX, 16),
    RDPID("rdpid", LEAF_7_0_ECX, 22), BUS_LOCK_DETECT("bus-lock-detect", LEAF_7_0_ECX, 24),
    CLDEMOTE("cldemote", LEAF_7_0_ECX, 25), MOVDIRI("movdiri", LEAF_7_0_ECX, 27),
    MOVDIR64B("movdir64b", LEAF_7_0_ECX, 28), SGXLC("sgxlc", LEAF_7_0_ECX, 30), PKS("pks", LEAF_7_0_ECX, 31),

    // CPUID.07H.0:EDX
    AVX512_4VNNIW("avx512-4vnniw", LEAF_7_0_EDX, 2), AVX512_4FMAPS("avx512-4fmaps", LEAF_7_0_EDX, 3),
    FSRM("fsrm", LEAF_7_0_EDX, 4), AVX512_VP2INTERSECT("avx512-vp2intersect", LEAF_7_0_EDX, 8),
    MD_CLEAR("md-clear", LEAF_7_0_EDX, 10), SERIALIZE("serialize", LEAF_7_0_EDX, 14),
    TSX_LDTRK("tsx-ldtrk", LEAF_7_0_EDX, 16), ARCH_LBR("arch-lbr", LEAF_7_0_EDX, 19),
    AMX_BF16("amx-bf16", LEAF_7_0_EDX, 22), AVX512_FP16("avx512-fp16", LEAF_7_0_EDX, 23),
    AMX_TILE("amx-tile", LEAF_7_0_EDX, 24), AMX_INT8("amx-int8", LEAF_7_0_EDX, 25),
    SPEC_CTRL("spec-ctrl", LEAF_7_0_EDX, 26), STIBP("stibp", LEAF_7_0_EDX, 27),
    ARCH_CAPABILITIES("arch-capabilities", LEAF_7_0_EDX, 29), CORE_CAPABILITY("core-capability", LEAF_7_0_EDX, 30),
    SSBD("ssbd", LEAF_7_0_EDX, 31),

    // CPUID.07H.1:EAX
    AVX_VNNI("avx-vnni", LEAF_7_1_EAX, 4), AVX512_BF16("avx512-bf16", LEAF_7_1_EAX, 5),

    // CPUID.0DH.1:EAX (SDM vol. 2A, table 3-8, leaf 0DH, sub-leaf 1)
    XSAVEOPT("xsaveopt", LEAF_D_1_EAX, 0), XSAVEC("xsavec", LEAF_D_1_EAX, 1), XGETBV1("xgetbv1", LEAF_D_1_EAX, 2),
    XSAVES("xsaves", LEAF_D_1_EAX, 3), XFD("xfd", LEAF_D_1_EAX, 4),

    // CPUID.80000001H:EDX (SDM table 3-8; AMD APM vol. 3, E.4.2 for mmxext, fxsr-opt, 3dnow)
    SYSCALL("syscall", LEAF_80000001_EDX, 11), NX("nx", LEAF_80000001_EDX, 20, "xd"),
    MMXEXT("mmxext", LEAF_80000001_EDX, 22), FXSR_OPT("fxsr-opt", LEAF_80000001_EDX, 25, "ffxsr", "fxsr_opt"),
    PDPE1GB("pdpe1gb", LEAF_80000001_EDX, 26), RDTSCP("rdtscp", LEAF_80000001_EDX, 27),
    LM("lm", LEAF_80000001_EDX, 29, "i64"), AMD_3DNOWEXT("3dnowext", LEAF_80000001_EDX, 30),
    AMD_3DNOW("3dnow", LEAF_80000001_EDX, 31),

    // CPUID.80000001H:ECX (SDM table 3-8; AMD APM vol. 3, E.4.2)
    LAHF_LM("lahf-lm", LEAF_80000001_ECX, 0, "lahf_lm"), CMP_LEGACY("cmp-legacy", LEAF_80000001_ECX, 1, "cmp_legacy"),
    SVM("svm", LEAF_80000001_ECX, 2), EXTAPIC("extapic", LEAF_80000001_ECX, 3),
    CR8LEGACY("cr8legacy", LEAF_80000001_ECX, 4), ABM("abm", LEAF_80000001_ECX, 5), SSE4A("sse4a", LEAF_80000001_ECX, 6),
    MISALIGNSSE("misalignsse", LEAF_80000001_ECX, 7), AMD_3DNOWPREFETCH("3dnowprefetch", LEAF_80000001_ECX, 8),
    OSVW("osvw", LEAF_80000001_ECX, 9), IBS("ibs", LEAF_80000001_ECX, 10), XOP("xop", LEAF_80000001_ECX, 11),
    SKINIT("skinit", LEAF_80000001_ECX, 12), WDT("wdt", LEAF_80000001_ECX, 13), LWP("lwp", LEAF_80000001_ECX, 15),
    FMA4("fma4", LEAF_80000001_ECX, 16), TCE("tce", LEAF_80000001_ECX, 17),
    NODEID_MSR("nodeid-msr", LEAF_80000001_ECX, 19, "nodeid_msr"), TBM("tbm", LEAF_80000001_ECX, 21),
    TOPOEXT("topoext", LEAF_80000001_ECX, 22), PERFCTR_CORE("perfctr-core", LEAF_80000001_ECX, 23, "perfctr_core"),
    PERFCTR_NB("perfctr-nb", LEAF_80000001_ECX, 24, "perfctr_nb"),

    // CPUID.80000007H:EDX (SDM table 3-8: invariant TSC)
    INVTSC("invtsc", LEAF_80000007_EDX, 8),

    // CPUID.80000008H:EBX (AMD APM vol. 3, E.4.17)
    CLZERO("clzero", LEAF_80000008_EBX, 0), XSAVEERPTR("xsaveerptr", LEAF_80000008_EBX, 2),
    WBNOINVD("wbnoinvd", LEAF_80000008_EBX, 9), IBPB("ibpb", LEAF_80000008_EBX, 12), IBRS("ibrs", LEAF_80000008_EBX, 14),
    AMD_STIBP("amd-stibp", LEAF_80000008_EBX, 15), AMD_SSBD("amd-ssbd", LEAF_80000008_EBX, 24),
    VIRT_SSBD("virt-ssbd", LEAF_80000008_EBX, 25), AMD_NO_SSB("amd-no-ssb", LEAF_80000008_EBX, 26),

    // CPUID.40000001H:EAX, KVM's paravirtual features (Linux Documentation/virt/kvm/x86/cpuid.rst).
    // "kvmclock" is two bits, KVM_FEATURE_CLOCKSOURCE and _CLOCKSOURCE2, as in QEMU.
    KVMCLOCK("kvmclock", LEAF_40000001_EAX, 0), KVM_NOPIODELAY("kvm-nopiodelay", LEAF_40000001_EAX, 1, "kvm_nopiodelay"),
    KVM_MMU("kvm-mmu", LEAF_40000001_EAX, 2, "kvm_mmu"), KVMCLOCK2("kvmclock", LEAF_40000001_EAX, 3),
    KVM_ASYNCPF("kvm-asyncpf", LEAF_40000001_EAX, 4, "kvm_asyncpf"),
    KVM_STEAL_TIME("kvm-steal-time", LEAF_40000001_EAX, 5, "kvm_steal_time"),
    KVM_PV_EOI("kvm-pv-eoi", LEAF_40000001_EAX, 6, "kvm_pv_eoi"),
    KVM_PV_UNHALT("kvm-pv-unhalt", LEAF_40000001_EAX, 7, "kvm_pv_unhalt"),
    KVM_PV_TLB_FLUSH("kvm-pv-tlb-flush", LEAF_40000001_EAX, 9), KVM_PV_IPI("kvm-pv-ipi", LEAF_40000001_EAX, 11),
    KVM_POLL_CONTROL("kvm-poll-control", LEAF_40000001_EAX, 12, "kvm_poll_control"),
    KVM_PV_SCHED_YIELD("kvm-pv-sched-yield", LEAF_40000001_EAX, 13),
    KVM_ASYNCPF_INT("kvm-asyncpf-int", LEAF_40000001_EAX, 14, "kvm_asyncpf_int"),
    KVM_MSI_EXT_DEST_ID("kvm-msi-ext-dest-id", LEAF_40000001_EAX, 15),
    KVMCLOCK_STABLE_BIT("kvmclock-stable-bit", LEAF_40000001_EAX, 24);

    private final String qemuName;
    private final CpuidWord word;
    private final int bit;
    private final List<String> aliases;

    CpuFeature(String qemuName, CpuidWord word, int bit, String... aliases) {
        this.qemuName = qemuName;
        this.word = word;
        this.bit = bit;
        this.aliases = List.of(aliases);
    }

    /** Name and alias to the features it names (two for "kvmclock"), built once from the table above. */
    private static final Map<String, List<CpuFeature>> BY_NAME;

    static {
        Map<String, List<CpuFeature>> m = new HashMap<>();
        for (CpuFeature f : values()) {
            m.computeIfAbsent(f.qemuName, k -> new ArrayList<>()).add(f);
            for (String a : f.aliases) {
                m.computeIfAbsent(a, k -> new ArrayList<>()).add(f);
            }
        }
        m.replaceAll((k, v) -> List.copyOf(v));
        BY_NAME = Collections.unmodifiableMap(m);
    }

    /** QEMU's name ("sse4.2"). */
    public String qemuName() {
        return qemuName;
    }

    public CpuidWord word() {
        return word;
    }

    public int bit() {
        return bit;
    }

    public int mask() {
        return 1 << bit;
    }

    public List<String> aliases() {
        return aliases;
    }

    /** Whether {@code model} has this flag set (in exactly this leaf and subleaf). */
    public boolean in(CpuidModel model) {
        return (word.valueIn(model) & mask()) != 0;
    }

    /** QEMU's description in its warnings: "CPUID.01H:ECX.avx [bit 28]". */
    public String description() {
        return word.description() + "." + qemuName + " [bit " + bit + "]";
    }

    /**
     * The features {@code name} stands for (a name or alias, '_' or '-' alike); empty when it
     * names none.
     */
    public static List<CpuFeature> named(String name) {
        List<CpuFeature> f = BY_NAME.get(name);
        if (f == null) {
            f = BY_NAME.get(name.replace('_', '-'));
        }
        return f == null ? List.of() : f;
    }

    /** The names {@code -cpu help} lists, sorted, each once (aliases are not listed, as in QEMU). */
    public static List<String> names() {
        TreeSet<String> names = new TreeSet<>();
        for (CpuFeature f : values()) {
            names.add(f.qemuName);
        }
        return List.copyOf(names);
    }
}
