package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.cpu.CpuFeatureCheck;
import org.jvisor.cpu.CpuidEntry;
import org.jvisor.cpu.CpuidModel;
import org.jvisor.cpu.VcpuState;
import org.jvisor.cpu.X86State;
import org.jvisor.devices.intc.IoApicState;
import org.jvisor.devices.intc.LocalApicState;
import org.jvisor.devices.legacy.PicState;
import org.jvisor.devices.legacy.PitState;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.kvm.KvmIrqchipState;
import org.jvisor.kvm.KvmVcpuState;

/**
 * The conversions between KVM's in-kernel controller structs and jvisor's records, one way and
 * back (what KVM models survives both), and what a snapshot crossing engines refuses, by name.
 */
class EngineCrossingTest {

    @Test
    void picsSurviveTheRoundTripThroughKvmsStructs() {
        PicState.Chip master = new PicState.Chip(0x05, 0x01, 0xF8, 0x04, 0x08, 0x20, 3, 0, true, false, false, false,
            false, true, false, true, false);
        PicState.Chip slave = new PicState.Chip(0x00, 0x10, 0xFF, 0x00, 0x0C, 0x28, 0, 3, true, false, false, true,
            true, false, true, false, true);
        KvmIrqchipState m = KvmControllerConversion.picChip(master, true);
        KvmIrqchipState s = KvmControllerConversion.picChip(slave, false);
        assertEquals(KvmIrqchipState.PIC_MASTER, m.chip());
        assertEquals(0x20, m.state().get(5), "irq_base");
        assertEquals(2, s.state().get(9), "init_state: KVM's 2 is jvisor's step 3 (ICW3 next)");
        assertEquals(new PicState(master, slave), KvmControllerConversion.pic(m, s));
    }

    @Test
    void anIoapicSurvivesTheRoundTripWithItsLevelPinsHigh() {
        List<Long> entries = new ArrayList<>(Collections.nCopies(24, 1L << 16));
        entries.set(2, 0x30L);                               // edge, vector 0x30
        entries.set(9, 0x39L | 1L << 15 | 1L << 14);         // level, remote IRR
        IoApicState s = new IoApicState(0, 0x12, entries, 1 << 9, 1 << 9 | 1 << 4);
        KvmIrqchipState k = KvmControllerConversion.ioapic(s);
        assertEquals(KvmIrqchipState.IOAPIC, k.chip());
        assertEquals(s, KvmControllerConversion.ioapic(k));
    }

    @Test
    void aPitSurvivesTheRoundTripWithItsPeriodsRestarted() {
        PitState.Channel c0 = new PitState.Channel(2, 3, false, 0x2e9c, 0x2e9c, 0, true, false, true, false, 0, false,
            false, 0, true, true, 0x1234, true, true, 0x34);
        PitState.Channel idle = new PitState.Channel(0, 3, false, 0, 0x10000, 0, false, false, true, false, 0, true,
            false, 0, false, false, 0, false, false, 0);
        PitState.Channel c2 = new PitState.Channel(3, 1, true, 0x99, 0x99, 0, true, false, false, false, 0, false,
            false, 0, false, false, 0, false, false, 0);
        PitState s = new PitState(List.of(c0, idle, c2), true);
        assertEquals(s, KvmControllerConversion.pit(KvmControllerConversion.pit(s)));
    }

    private static LocalApicState lapic(long apicBase, boolean tscDeadline) {
        List<Integer> lvt = List.of(0x20040, 0x10000, 0x10000, 0x700, 0x400, 0x10000);
        byte[] irr = new byte[32];
        irr[0x41 / 8] = 1 << (0x41 % 8);
        return new LocalApicState(0, apicBase, 0x20, 0x01000000, 0xFFFFFFFF, 0x1FF, 0, 0, 0x4041, 0x01000000, lvt,
            Bytes.copyOf(irr), Bytes.copyOf(new byte[32]), Bytes.copyOf(new byte[32]), 0xB, 1000, true, -600, 400,
            tscDeadline, tscDeadline ? 5000 : 0, false, false, false, false);
    }

    @Test
    void aLocalApicSurvivesTheRoundTripWithItsTimerWhereItWas() throws Exception {
        LocalApicState s = lapic(0xFEE00900L, false);
        Bytes page = KvmLapicConversion.toKvm(s);
        assertEquals(s, KvmLapicConversion.fromKvm(page, 0xFEE00900L, 0, 0));
    }

    /**
     * KVM reads a periodic timer's current count as 0 between the end of a period and its
     * hrtimer moving on: the timer still runs, its tick due at once; a one-shot timer at 0 has
     * expired.
     */
    @Test
    void aPeriodicTimerAtCountZeroIsDueNotStopped() throws Exception {
        byte[] page = KvmLapicConversion.toKvm(lapic(0xFEE00900L, false)).toArray();
        java.nio.ByteBuffer k = java.nio.ByteBuffer.wrap(page).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        k.putInt(0x390, 0);   // TMCCT
        LocalApicState periodic = KvmLapicConversion.fromKvm(Bytes.copyOf(page), 0xFEE00900L, 0, 0);
        assertTrue(periodic.timerArmed(), "a periodic timer at count 0 keeps running");
        assertEquals(0, periodic.timerDeadlineNs(), "its tick is due now");
        assertEquals(-1000, periodic.timerStartNs(), "the period (1000 bus cycles, divide by 1) began one period ago");

        k.putInt(0x320, 0x00040);   // LVT timer: one-shot, vector 0x40
        LocalApicState oneShot = KvmLapicConversion.fromKvm(Bytes.copyOf(page), 0xFEE00900L, 0, 0);
        assertTrue(!oneShot.timerArmed(), "a one-shot timer at count 0 has expired");
    }

    /**
     * x2APIC mode: KVM's page (without KVM_CAP_X2APIC_API) keeps the xAPIC layout, the ID in bits
     * 31:24 and the 32-bit destination in ICR2, so the x2APIC LDR and a destination above 255
     * come back as they were.
     */
    @Test
    void anX2ApicModeLocalApicSurvivesTheRoundTrip() throws Exception {
        int id = 3;
        int x2ldr = (id >> 4) << 16 | 1 << (id & 0xF);   // SDM vol. 3, 10.12.10.2
        List<Integer> lvt = List.of(0x20040, 0x10000, 0x10000, 0x700, 0x400, 0x10000);
        LocalApicState s = new LocalApicState(id, 0xFEE00C00L, 0x10, x2ldr, 0xFFFFFFFF, 0x1FF, 0, 0, 0x4041, 0x12345,
            lvt, Bytes.copyOf(new byte[32]), Bytes.copyOf(new byte[32]), Bytes.copyOf(new byte[32]), 0xB, 1000, true,
            -600, 400, false, 0, false, false, false, false);
        Bytes page = KvmLapicConversion.toKvm(s);
        assertEquals(id << 24, java.nio.ByteBuffer.wrap(page.toArray()).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0x20),
            "the ID as KVM takes it without X2APIC_API (it shifts it back)");
        assertEquals(0x12345, java.nio.ByteBuffer.wrap(page.toArray()).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0x310),
            "the 32-bit destination in ICR2");
        assertEquals(s, KvmLapicConversion.fromKvm(page, 0xFEE00C00L, 0, 0));
    }

    /** A vCPU in x2APIC mode goes only to vCPUs that offer it (CPUID.1:ECX[21]), named when refused. */
    @Test
    void x2ApicModeNeedsX2ApicOnTheOtherSide() {
        X86State x = new X86State();
        VcpuState s = VcpuState.of(x, List.of(new VcpuState.Msr(VcpuState.MSR_APIC_BASE, 0xFEE00D00L)), 1,
            VcpuState.MpState.RUNNABLE, new VcpuState.Events(false, false, false, -1, -1, -1), 0);
        assertEquals("IA32_APIC_BASE.EXTD is set, and this CPU lacks x2APIC (CPUID.0x1:ECX[21])",
            org.jvisor.cpu.CpuFeatureCheck.missing(s, org.jvisor.tcg.TcgCpuid.model(true, false)));
        assertNull(org.jvisor.cpu.CpuFeatureCheck.missing(s, org.jvisor.tcg.TcgCpuid.model(true, true)));
    }

    /**
     * A TSC deadline: from kvm, as far ahead in ns as it was in TSC ticks (tcg's TSC counts ns);
     * to kvm through IA32_TSC_DEADLINE, which is cleared when tcg's LAPIC has no deadline armed.
     */
    @Test
    void anArmedTscDeadlineCrossesBothWays() throws Exception {
        List<Integer> lvt = List.of(0x40040, 0x10000, 0x10000, 0x700, 0x400, 0x10000);   // TSC-deadline mode, vector 0x40
        LocalApicState deadline = new LocalApicState(0, 0xFEE00900L, 0, 0, 0xFFFFFFFF, 0x1FF, 0, 0, 0, 0, lvt,
            Bytes.copyOf(new byte[32]), Bytes.copyOf(new byte[32]), Bytes.copyOf(new byte[32]), 0, 0, true, 0, 5000,
            true, 5000, false, false, false, false);
        Bytes page = KvmLapicConversion.toKvm(deadline);
        long tsc = 1_000_000_000L;
        assertEquals(deadline, KvmLapicConversion.fromKvm(page, 0xFEE00900L, tsc + 5000, tsc));
        LocalApicState fired = KvmLapicConversion.fromKvm(page, 0xFEE00900L, 0, tsc);
        assertTrue(!fired.tscDeadlineSet() && !fired.timerArmed(), "KVM zeroes the MSR once the deadline fired");

        X86State x = new X86State();
        VcpuState stale = VcpuState.of(x, List.of(new VcpuState.Msr(VcpuState.MSR_TSC_DEADLINE, 777)), 1,
            VcpuState.MpState.RUNNABLE, new VcpuState.Events(false, false, false, -1, -1, -1), 0);
        EngineCrossing toKvm = EngineCrossing.between("tcg", "kvm", 1);
        List<DeviceRegistry.Saved> armed = List.of(new DeviceRegistry.Saved("lapic0", deadline));
        assertEquals(777, toKvm.vcpus(List.of(stale), armed).get(0).msr(VcpuState.MSR_TSC_DEADLINE, -1));
        List<DeviceRegistry.Saved> off = List.of(new DeviceRegistry.Saved("lapic0", fired));
        assertEquals(0, toKvm.vcpus(List.of(stale), off).get(0).msr(VcpuState.MSR_TSC_DEADLINE, -1),
            "a deadline tcg's LAPIC no longer has is not armed again on kvm");
    }

    @Test
    void whatCannotCrossIsRefusedByName() throws Exception {
        // a kvm guest that turned AVX state on cannot go to tcg
        X86State x = new X86State();
        VcpuState avx = VcpuState.of(x, List.of(), 7, VcpuState.MpState.RUNNABLE,
            new VcpuState.Events(false, false, false, -1, -1, -1), 0);
        EngineCrossing toTcg = EngineCrossing.between("kvm", "tcg", 1);
        List<DeviceRegistry.Saved> kvmRecords = new ArrayList<>();
        for (String id : List.of("kvm-pic-master", "kvm-pic-slave", "kvm-ioapic")) {
            int chip = id.equals("kvm-ioapic") ? KvmIrqchipState.IOAPIC : id.endsWith("slave") ? 1 : 0;
            kvmRecords.add(new DeviceRegistry.Saved(id, new KvmIrqchipState(chip, Bytes.copyOf(new byte[512]))));
        }
        kvmRecords.add(new DeviceRegistry.Saved("kvm-pit", new org.jvisor.kvm.KvmPitState(Bytes.copyOf(new byte[112]))));
        kvmRecords.add(new DeviceRegistry.Saved("kvm-clock", new org.jvisor.kvm.KvmClockState(0)));
        kvmRecords.add(new DeviceRegistry.Saved("kvm-vcpu0", KvmVcpuConversion.toKvm(avx,
            KvmLapicConversion.toKvm(lapic(0xFEE00900L, false)))));
        DeviceStateException e = assertThrows(DeviceStateException.class, () -> toTcg.devices(kvmRecords, List.of(avx)));
        assertTrue(e.getMessage().startsWith("vCPU 0 was saved on kvm with XCR0 0x7"), e.getMessage());

        // a record missing from the other engine's snapshot
        e = assertThrows(DeviceStateException.class, () -> toTcg.devices(kvmRecords.subList(1, kvmRecords.size()),
            List.of(avx)));
        assertEquals("the kvm snapshot holds no kvm-pic-master record to convert for tcg", e.getMessage());
        assertNull(EngineCrossing.between("tcg", "tcg", 1), "one engine: nothing to convert");

        // KVM's paravirtual MSRs: left off they are dropped for tcg, in use they are refused
        VcpuState off = VcpuState.of(x, List.of(new VcpuState.Msr(VcpuState.MSR_KVM_STEAL_TIME, 0)), 1,
            VcpuState.MpState.RUNNABLE, new VcpuState.Events(false, false, false, -1, -1, -1), 0);
        assertEquals(-1L, toTcg.vcpus(List.of(off), kvmRecords).get(0).msr(VcpuState.MSR_KVM_STEAL_TIME, -1));
        VcpuState used = VcpuState.of(x, List.of(new VcpuState.Msr(VcpuState.MSR_KVM_STEAL_TIME, 0x5001)), 1,
            VcpuState.MpState.RUNNABLE, new VcpuState.Events(false, false, false, -1, -1, -1), 0);
        e = assertThrows(DeviceStateException.class, () -> toTcg.vcpus(List.of(used), kvmRecords));
        assertEquals("vCPU 0 was saved on kvm using KVM steal time (MSR 0x4b564d03 = 0x5001), which tcg does not provide",
            e.getMessage());
    }

    @Test
    void aFeatureTheRestoringCpuLacksIsNamed() {
        X86State x = new X86State();
        x.cr4 = X86State.CR4_PAE | X86State.CR4_SMEP;
        VcpuState smep = VcpuState.of(x, List.of(), 1, VcpuState.MpState.RUNNABLE,
            new VcpuState.Events(false, false, false, -1, -1, -1), 0);
        CpuidModel noSmep = new CpuidModel(List.of(new CpuidEntry(1, 0, false, 0, 0, 0, 1 << 6),
            new CpuidEntry(7, 0, true, 0, 0, 0, 0)));
        assertEquals("CR4.SMEP is set, and this CPU lacks SMEP (CPUID.0x7.0:EBX[7])",
            CpuFeatureCheck.missing(smep, noSmep));
        CpuidModel withSmep = new CpuidModel(List.of(new CpuidEntry(1, 0, false, 0, 0, 0, 1 << 6),
            new CpuidEntry(7, 0, true, 0, 1 << 7, 0, 0)));
        assertNull(CpuFeatureCheck.missing(smep, withSmep));
    }
}
