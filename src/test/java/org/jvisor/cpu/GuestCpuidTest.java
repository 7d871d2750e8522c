package org.jvisor.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig.CpuConfig;
import org.jvisor.config.MachineConfig.CpuConfig.Setting;
import org.jvisor.tcg.TcgCpuid;

/** -cpu's choice applied to an engine's offer: what the guest's CPUID becomes, and what is reported. */
class GuestCpuidTest {
    /** tcg's offer on a PC: what the interpreter implements, a local APIC, no x2APIC. */
    private static final CpuidModel TCG = TcgCpuid.model(true, false);

    /** A KVM-like offer: a PMU leaf, an L3 cache, the invariant TSC, the XSAVE variants, AVX. */
    private static final CpuidModel KVM = new CpuidModel(List.of(
        new CpuidEntry(0, 0, false, 0xD, 0, 0, 0),
        new CpuidEntry(1, 0, false, 0x306A9, 0, CpuFeature.AVX.mask() | CpuFeature.POPCNT.mask() | CpuFeature.PDCM.mask()
            | CpuFeature.X2APIC.mask() | CpuidModel.ECX_HYPERVISOR, CpuFeature.SSE2.mask()),
        new CpuidEntry(4, 0, true, 1 << 5 | 1, 1, 2, 3),
        new CpuidEntry(4, 1, true, 2 << 5 | 3, 1, 2, 3),
        new CpuidEntry(4, 2, true, 3 << 5 | 3, 1, 2, 3),
        new CpuidEntry(7, 0, true, 0, CpuFeature.FSGSBASE.mask() | CpuFeature.AVX2.mask(), 0, 0),
        new CpuidEntry(0xA, 0, false, 0x0730_0805, 0, 0, 0x603),
        new CpuidEntry(0xD, 1, true, CpuFeature.XSAVEOPT.mask() | CpuFeature.XSAVES.mask(), 0, 0, 0),
        CpuidModel.kvmSignature(),
        new CpuidEntry(CpuidModel.KVM_FEATURES_LEAF, 0, false, CpuFeature.KVMCLOCK.mask() | CpuFeature.KVMCLOCK2.mask(), 0, 0, 0),
        new CpuidEntry(0x8000_0000, 0, false, 0x8000_0008, 0, 0, 0),
        new CpuidEntry(0x8000_0001, 0, false, 0, 0, CpuFeature.LAHF_LM.mask(), CpuFeature.LM.mask() | CpuFeature.NX.mask()),
        new CpuidEntry(0x8000_0006, 0, false, 0, 0, 0x0200_6140, 0x0100_9140),
        new CpuidEntry(0x8000_0007, 0, false, 0, 0, 0, CpuFeature.INVTSC.mask())));

    private static CpuConfig cpu(String model, Setting... settings) {
        return new CpuConfig(model, List.of(settings));
    }

    private static Setting off(String name) {
        return new Setting(name, false, true);
    }

    private static Setting on(String name) {
        return new Setting(name, true, true);
    }

    @Test
    void qemu64AndMaxPresentTheOfferUnchanged() throws CpuModelException {
        for (String m : List.of("qemu64", "max")) {
            GuestCpuid.Result r = GuestCpuid.apply(TCG, cpu(m), "tcg");
            assertEquals(TCG.entries(), r.cpuid().entries(), m);
            assertEquals(List.of(), r.warnings());
        }
        assertEquals(KVM.entries(), GuestCpuid.apply(KVM, cpu("qemu64"), "kvm").cpuid().entries());
    }

    @Test
    void minusClearsTheFlagOnEitherEngine() throws CpuModelException {
        GuestCpuid.Result t = GuestCpuid.apply(TCG, cpu("qemu64", off("popcnt"), off("sse4.2"), off("hypervisor")), "tcg");
        assertFalse(CpuFeature.POPCNT.in(t.cpuid()));
        assertFalse(CpuFeature.HYPERVISOR.in(t.cpuid()));
        assertTrue(CpuFeature.SSSE3.in(t.cpuid()), "the others stay");
        assertEquals(List.of(), t.warnings(), "clearing a flag the engine lacks is no news");
        GuestCpuid.Result k = GuestCpuid.apply(KVM, cpu("host", off("avx"), new Setting("fsgsbase", false, false),
            off("xsaves")), "kvm");
        assertFalse(CpuFeature.AVX.in(k.cpuid()) || CpuFeature.FSGSBASE.in(k.cpuid()) || CpuFeature.XSAVES.in(k.cpuid()));
        assertTrue(CpuFeature.AVX2.in(k.cpuid()) && CpuFeature.XSAVEOPT.in(k.cpuid()));
    }

    @Test
    void plusOfAnOfferedFlagKeepsItAndPlusOfAnotherWarnsAsQemu() throws CpuModelException {
        GuestCpuid.Result r = GuestCpuid.apply(TCG, cpu("qemu64", on("popcnt"), on("avx"), new Setting("xsaves", true, false),
            on("pcid")), "tcg");
        assertTrue(CpuFeature.POPCNT.in(r.cpuid()));
        assertFalse(CpuFeature.AVX.in(r.cpuid()) || CpuFeature.XSAVES.in(r.cpuid()) || CpuFeature.PCID.in(r.cpuid()));
        assertEquals(List.of(CpuFeature.PCID, CpuFeature.AVX, CpuFeature.XSAVES), r.notOffered(), "in table order");
        assertEquals(List.of("TCG doesn't support requested feature: CPUID.01H:ECX.pcid [bit 17]",
            "TCG doesn't support requested feature: CPUID.01H:ECX.avx [bit 28]",
            "TCG doesn't support requested feature: CPUID.0DH:EAX.xsaves [bit 3]"), r.warnings());
        assertEquals(List.of("host doesn't support requested feature: CPUID.80000001H:ECX.svm [bit 2]"),
            GuestCpuid.apply(KVM, cpu("host", on("svm")), "kvm").warnings());
        assertEquals(List.of(), GuestCpuid.apply(TCG, cpu("qemu64", on("avx"), new Setting("check", false, false)), "tcg")
            .warnings(), "check=off: silent");
    }

    @Test
    void enforceRefusesNamingEveryMissingFlag() {
        CpuModelException e = assertThrows(CpuModelException.class, () -> GuestCpuid.apply(TCG,
            cpu("qemu64", on("avx512f"), on("pcid"), on("popcnt"), new Setting("enforce", true, false)), "tcg"));
        assertEquals("TCG doesn't support requested features: CPUID.01H:ECX.pcid [bit 17], CPUID.07H:EBX.avx512f [bit 16]",
            e.getMessage());
        assertThrows(CpuModelException.class, () -> GuestCpuid.apply(KVM, cpu("host", on("svm"), new Setting("enforce", true, false)), "kvm"));
    }

    @Test
    void enforceWithEverythingOfferedRuns() throws CpuModelException {
        assertEquals(List.of(), GuestCpuid.apply(TCG, cpu("max", on("popcnt"), new Setting("enforce", true, false)), "tcg").notOffered());
    }

    @Test
    void hostNeedsKvm() throws CpuModelException {
        CpuModelException e = assertThrows(CpuModelException.class, () -> GuestCpuid.apply(TCG, cpu("host"), "tcg"));
        assertEquals("CPU model 'host' requires KVM or HVF", e.getMessage());
        assertTrue(CpuFeature.AVX.in(GuestCpuid.apply(KVM, cpu("host", new Setting("migratable", true, false)), "kvm").cpuid()));
    }

    @Test
    void kvmOffHidesTheSignatureLeavesOnEitherEngine() throws CpuModelException {
        for (CpuidModel offer : List.of(TCG, KVM)) {
            CpuidModel c = GuestCpuid.apply(offer, cpu("max", new Setting("kvm", false, false)), offer == TCG ? "tcg" : "kvm").cpuid();
            assertEquals(new CpuidEntry(0x4000_0000, 0, false, 0, 0, 0, 0), c.lookup(0x4000_0000, 0));
            assertEquals(0, c.lookup(0x4000_0001, 0).eax());
            assertTrue(CpuFeature.HYPERVISOR.in(c), "kvm=off hides KVM, not the hypervisor bit (QEMU's too)");
        }
    }

    @Test
    void pmuOffZeroesLeafAAndPdcm() throws CpuModelException {
        CpuidModel c = GuestCpuid.apply(KVM, cpu("host", new Setting("pmu", false, false)), "kvm").cpuid();
        CpuidEntry a = c.lookup(0xA, 0);
        assertEquals(List.of(0, 0, 0, 0), List.of(a.eax(), a.ebx(), a.ecx(), a.edx()));
        assertFalse(CpuFeature.PDCM.in(c));
        assertEquals(TCG.entries(), GuestCpuid.apply(TCG, cpu("qemu64", new Setting("pmu", false, false)), "tcg").cpuid().entries(),
            "tcg has no PMU leaf to hide");
    }

    @Test
    void l3CacheOffHidesTheLevel3Cache() throws CpuModelException {
        CpuidModel c = GuestCpuid.apply(KVM, cpu("host", new Setting("l3-cache", false, false)), "kvm").cpuid();
        assertEquals(0, c.lookup(4, 2).eax(), "the L3 subleaf");
        assertEquals(2 << 5 | 3, c.lookup(4, 1).eax(), "L2 stays");
        assertEquals(0, c.lookup(0x8000_0006, 0).edx());
        assertEquals(0x0200_6140, c.lookup(0x8000_0006, 0).ecx());
    }

    @Test
    void migratableHidesInvariantTscOnMaxAndHostUnlessAskedFor() throws CpuModelException {
        assertFalse(CpuFeature.INVTSC.in(GuestCpuid.apply(KVM, cpu("host"), "kvm").cpuid()));
        assertFalse(CpuFeature.INVTSC.in(GuestCpuid.apply(KVM, cpu("max"), "kvm").cpuid()));
        assertTrue(CpuFeature.INVTSC.in(GuestCpuid.apply(KVM, cpu("host", new Setting("migratable", false, false)), "kvm").cpuid()));
        assertTrue(CpuFeature.INVTSC.in(GuestCpuid.apply(KVM, cpu("host", on("invtsc")), "kvm").cpuid()));
        assertTrue(CpuFeature.INVTSC.in(GuestCpuid.apply(KVM, cpu("qemu64"), "kvm").cpuid()), "qemu64: the engine's set");
    }

    @Test
    void baseHasNoFlagsButThoseAskedFor() throws CpuModelException {
        CpuidModel c = GuestCpuid.apply(TCG, cpu("base", on("lm"), on("sse2"), on("avx")), "tcg").cpuid();
        List<CpuFeature> set = new ArrayList<>();
        for (CpuFeature f : CpuFeature.values()) {
            if (f.in(c)) {
                set.add(f);
            }
        }
        assertEquals(List.of(CpuFeature.SSE2, CpuFeature.LM), set);
        assertEquals(TCG.lookup(0, 0), c.lookup(0, 0), "the leaves themselves stay (vendor, highest leaf)");
    }

    @Test
    void aliasesAndLaterSettingsFollowQemu() throws CpuModelException {
        GuestCpuid.Result r = GuestCpuid.apply(TCG, cpu("qemu64", off("popcnt"), new Setting("popcnt", true, false),
            new Setting("sse3", false, false)), "tcg");
        assertFalse(CpuFeature.POPCNT.in(r.cpuid()), "-popcnt beats popcnt=on");
        assertFalse(CpuFeature.PNI.in(r.cpuid()), "sse3 is pni");
        assertEquals(List.of("Ambiguous CPU model string. Don't mix both \"-popcnt\" and \"popcnt=on\""), r.warnings());
    }

    @Test
    void kvmclockIsBothOfItsBits() throws CpuModelException {
        CpuidModel c = GuestCpuid.apply(KVM, cpu("host", off("kvmclock")), "kvm").cpuid();
        assertEquals(0, c.lookup(CpuidModel.KVM_FEATURES_LEAF, 0).eax());
    }

    @Test
    void anUnknownNameIsQemusPropertyNotFound() {
        CpuModelException e = assertThrows(CpuModelException.class, () -> GuestCpuid.apply(TCG, cpu("qemu64", on("avx3")), "tcg"));
        assertEquals("Property 'qemu64-x86_64-cpu.avx3' not found", e.getMessage());
        e = assertThrows(CpuModelException.class, () -> GuestCpuid.apply(TCG, cpu("qemu64", new Setting("migratable", true, false)), "tcg"));
        assertEquals("Property 'qemu64-x86_64-cpu.migratable' not found", e.getMessage());
    }

    @Test
    void theFlagTableMatchesQemusNamesAndTheSdmsBits() {
        assertEquals(List.of(CpuFeature.SSE4_2), CpuFeature.named("sse4_2"));
        assertEquals(List.of(CpuFeature.SSE4_2), CpuFeature.named("sse4-2"));
        assertEquals(List.of(CpuFeature.LAHF_LM), CpuFeature.named("lahf_lm"));
        assertEquals(List.of(CpuFeature.KVMCLOCK, CpuFeature.KVMCLOCK2), CpuFeature.named("kvmclock"));
        assertEquals(List.of(), CpuFeature.named("avx3"));
        assertEquals("CPUID.80000001H:EDX.lm [bit 29]", CpuFeature.LM.description());
        // no two flags share a bit
        java.util.Set<String> bits = new java.util.HashSet<>();
        for (CpuFeature f : CpuFeature.values()) {
            assertTrue(bits.add(f.word() + ":" + f.bit()), f.toString());
            assertTrue(f.bit() >= 0 && f.bit() < 32);
        }
        // the SDM's bits for a few well-known ones (vol. 2A, CPUID)
        assertEquals(20, CpuFeature.SSE4_2.bit());
        assertEquals(31, CpuFeature.HYPERVISOR.bit());
        assertEquals(21, CpuFeature.X2APIC.bit());
        assertEquals(7, CpuFeature.SMEP.bit());
        assertEquals(16, CpuFeature.LA57.bit());
        assertEquals(3, CpuFeature.XSAVES.bit());
    }
}
