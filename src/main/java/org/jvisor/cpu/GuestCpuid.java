package org.jvisor.cpu;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.jvisor.config.MachineConfig.CpuConfig;

/**
 * The CPUID a guest sees: the engine's offer ({@link Accelerator#offeredCpuid()}, what tcg's
 * interpreter implements or KVM's supported list) as {@code -cpu} edits it. The one place a
 * {@code -cpu} choice becomes CPUID, for both engines, as QEMU's x86_cpu_expand_features and
 * x86_cpu_filter_features do it (target/i386/cpu.c): the model's flags, then the user's
 * ({@link CpuConfig#setting} decides which value counts), and a flag asked for that the engine
 * cannot offer stays clear, with a warning ({@code check}, the default) or an error
 * ({@code enforce}) naming it as QEMU does: "TCG doesn't support requested feature:
 * CPUID.01H:ECX.avx [bit 28]" ("host doesn't support..." on kvm).
 *
 * <p>Clearing a flag hides it, nothing more: tcg's interpreter still executes the instructions
 * (it does not fault on a masked feature) and KVM runs them on the CPU, as on QEMU with KVM. A
 * guest that respects CPUID, as Linux does, does not use them.
 */
public final class GuestCpuid {
    /** The -cpu properties that are not CPUID flags. */
    public static final Set<String> PROPERTIES = Set.of("enforce", "check", "migratable", "kvm", "pmu", "l3-cache");

    /** CPUID leaf 0Ah: architectural performance monitoring (SDM vol. 2A, table 3-8). */
    static final int PMU_LEAF = 0xA;
    /** Deterministic cache parameters, Intel's (leaf 04H) and AMD's (8000001DH): EAX[7:5] is the cache level. */
    static final int CACHE_LEAF = 0x4, AMD_CACHE_LEAF = 0x8000_001D;
    /** L2/L3 cache information: EDX is AMD's L3 (AMD APM vol. 3, E.4.13; reserved on Intel). */
    static final int L2_L3_LEAF = 0x8000_0006;

    private GuestCpuid() {
    }

    /**
     * The guest's CPUID, the flags asked for that the engine does not offer (left clear, in table
     * order), and the warnings for jvisor's log (QEMU's words, without its "warning: " prefix).
     */
    public record Result(CpuidModel cpuid, List<CpuFeature> notOffered, List<String> warnings) {
        public Result {
            notOffered = List.copyOf(notOffered);
            warnings = List.copyOf(warnings);
        }
    }

    /**
     * Applies {@code choice} to {@code offered}, the CPUID of the engine called {@code engine}
     * ("kvm" or "tcg"). Refused: host on an engine other than kvm ("CPU model 'host' requires KVM
     * or HVF", QEMU's words), with enforce a flag the engine lacks, and a name that is neither a
     * flag nor a property of the model (QEMU's "Property '...' not found").
     */
    public static Result apply(CpuidModel offered, CpuConfig choice, String engine) throws CpuModelException {
        CpuModel model = CpuModel.named(choice.model());
        if (model == null) {
            throw new CpuModelException("unable to find CPU model '" + choice.model() + "'");
        }
        if (model.kvmOnly() && !engine.equals("kvm")) {
            throw new CpuModelException("CPU model '" + model.qemuName() + "' requires KVM or HVF");
        }
        CpuConfig canonical = canonical(choice, model);
        Editor e = new Editor(offered);
        if (model == CpuModel.BASE) {
            for (CpuFeature f : CpuFeature.values()) {
                e.set(f, false);
            }
        }
        if (model.hasMigratable() && canonical.migratable()) {
            // QEMU's only unmigratable CPUID flag (feature_word_info[FEAT_8000_0007_EDX].unmigratable_flags):
            // the invariant TSC promises a rate that another host's TSC need not have
            e.set(CpuFeature.INVTSC, false);
        }
        Set<CpuFeature> notOffered = EnumSet.noneOf(CpuFeature.class);
        for (String name : featureNames(canonical)) {
            boolean on = canonical.setting(name);
            for (CpuFeature f : CpuFeature.named(name)) {
                if (on && !f.in(offered)) {
                    notOffered.add(f);
                } else {
                    e.set(f, on);
                }
            }
        }
        if (!canonical.pmu()) {
            // QEMU 7.2, cpu_x86_cpuid: leaf 0Ah all zero and no PDCM (IA32_PERF_CAPABILITIES) without a PMU
            e.zeroLeaf(PMU_LEAF);
            e.set(CpuFeature.PDCM, false);
        }
        if (!canonical.l3Cache()) {
            e.zeroCacheLevel(CACHE_LEAF, 3);
            e.zeroCacheLevel(AMD_CACHE_LEAF, 3);
            e.zeroRegister(L2_L3_LEAF, CpuidRegister.EDX);
        }
        if (!canonical.kvmSignature()) {
            // QEMU's kvm=off (libvirt's <kvm><hidden state='on'/>): no KVM leaves at 0x40000000 at all
            e.removeHypervisorLeaves();
        }
        String prefix = (engine.equals("kvm") ? "host" : "TCG") + " doesn't support requested feature";
        List<CpuFeature> missing = List.copyOf(notOffered);
        if (canonical.enforce() && !missing.isEmpty()) {
            throw new CpuModelException(prefix + "s: " + String.join(", ", missing.stream().map(CpuFeature::description).toList()));
        }
        List<String> warnings = new ArrayList<>();
        for (String name : canonical.ambiguous()) {
            warnings.add(ambiguity(canonical, name));
        }
        if (canonical.check()) {
            missing.forEach(f -> warnings.add(prefix + ": " + f.description()));
        }
        return new Result(e.model(), missing, warnings);
    }

    /** The choice with every flag under QEMU's name, so that "sse4_2" and "sse4.2" are one setting; unknown names refused. */
    private static CpuConfig canonical(CpuConfig choice, CpuModel model) throws CpuModelException {
        List<CpuConfig.Setting> out = new ArrayList<>();
        for (CpuConfig.Setting s : choice.settings()) {
            String name = s.name();
            if (PROPERTIES.contains(name) && (!name.equals("migratable") || model.hasMigratable())) {
                out.add(s);
                continue;
            }
            List<CpuFeature> f = CpuFeature.named(name);
            if (f.isEmpty()) {
                throw new CpuModelException("Property '" + model.typeName() + "." + name + "' not found");
            }
            out.add(new CpuConfig.Setting(f.getFirst().qemuName(), s.on(), s.plusMinus()));
        }
        return new CpuConfig(choice.model(), out);
    }

    private static Set<String> featureNames(CpuConfig c) {
        Set<String> names = new LinkedHashSet<>();
        for (CpuConfig.Setting s : c.settings()) {
            if (!PROPERTIES.contains(s.name())) {
                names.add(s.name());
            }
        }
        return names;
    }

    /** QEMU's warning for "+f" or "-f" mixed with "f=": the +/- one wins. */
    private static String ambiguity(CpuConfig c, String name) {
        String plusMinus = null;
        String property = null;
        for (CpuConfig.Setting s : c.settings()) {
            if (s.name().equals(name)) {
                if (s.plusMinus() && plusMinus == null) {
                    plusMinus = s.toString();
                } else if (!s.plusMinus() && plusMinus != null && property == null) {
                    property = s.toString();
                }
            }
        }
        return "Ambiguous CPU model string. Don't mix both \"" + plusMinus + "\" and \"" + property + "\"";
    }

    /** The leaves being edited, in the engine's order. */
    private static final class Editor {
        private final List<CpuidEntry> entries;

        Editor(CpuidModel offered) {
            this.entries = new ArrayList<>(offered.entries());
        }

        /** Sets or clears {@code f} where its leaf is; a leaf the engine lacks has no flag to clear. */
        void set(CpuFeature f, boolean on) {
            CpuidWord w = f.word();
            for (int i = 0; i < entries.size(); i++) {
                CpuidEntry e = entries.get(i);
                if (e.function() == w.leaf() && (!e.indexed() || e.index() == w.subleaf())) {
                    int v = w.register().of(e);
                    entries.set(i, w.register().with(e, on ? v | f.mask() : v & ~f.mask()));
                    return;
                }
            }
        }

        void zeroLeaf(int function) {
            entries.replaceAll(e -> e.function() == function ? e.withRegs(0, 0, 0, 0) : e);
        }

        void zeroRegister(int function, CpuidRegister r) {
            entries.replaceAll(e -> e.function() == function ? r.with(e, 0) : e);
        }

        /** Blanks the subleaves of a cache leaf that describe a cache of {@code level} (EAX[7:5]). */
        void zeroCacheLevel(int function, int level) {
            entries.replaceAll(e -> e.function() == function && (e.eax() >>> 5 & 7) == level ? e.withRegs(0, 0, 0, 0) : e);
        }

        void removeHypervisorLeaves() {
            entries.removeIf(e -> (e.function() & 0xFFFF_FF00) == CpuidModel.KVM_SIGNATURE_LEAF);
        }

        CpuidModel model() {
            return new CpuidModel(entries);
        }
    }
}
