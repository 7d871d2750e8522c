package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvisor.machine.CountingGuest.COUNTER;
import static org.jvisor.machine.CountingGuest.TICKS;
import static org.jvisor.machine.CountingGuest.awaitAtLeast;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.config.MachineConfig;
import org.jvisor.cpu.VcpuState;
import org.jvisor.devices.intc.LocalApicState;
import org.jvisor.devices.legacy.PitState;
import org.jvisor.kvm.KvmPitState;
import org.jvisor.kvm.KvmVcpuState;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

/**
 * A snapshot crosses engines: ticks.elf (counting in RAM while its local APIC timer interrupts,
 * with DR0, XMM0 and PIT channel 0 set) is saved on one engine and restored on the other, where
 * it goes on counting from where it stopped and its timer goes on ticking: the vCPU, the LAPIC
 * (jvisor's model on tcg, KVM's page on kvm), the PICs, IOAPIC and PIT are converted on the way.
 */
@GuestTest
class CrossEngineSnapshotTest {

    @TempDir
    Path dir;

    @BeforeEach
    void needKvm() {
        KvmAvailability.assumeKvm();
    }

    private static MachineConfig config(MachineConfig.Accel accel) {
        return MachineConfig.builder().accel(accel).memory(64L << 20).machineType(MachineConfig.MachineType.PC)
            .kernel(JvisorProcess.guest("ticks.elf")).build();
    }

    private static VcpuState vcpu0(Machine m) throws Exception {
        VcpuRunner r = m.runners().get(0);
        return m.runControl().callOnVcpu(0, () -> r.vcpu().saveVcpuState());
    }

    private static org.jvisor.devices.state.DeviceState record(Machine m, String id) {
        return m.devices().save().stream().filter(s -> s.id().equals(id)).findFirst().orElseThrow().state();
    }

    /** Runs ticks.elf on {@code from}, saves it, restores it on {@code to}; returns the restored machine, paused. */
    private void crossesAndGoesOn(MachineConfig.Accel from, MachineConfig.Accel to) throws Exception {
        Path file = dir.resolve(from + "-to-" + to + ".jvsnap");
        List<MachineEvent> events = new CopyOnWriteArrayList<>();
        long counter;
        long ticks;
        byte[] ramBefore = new byte[8 << 20];
        VcpuState before;
        try (Machine m = Machine.create(config(from), System.err, events::add)) {
            m.resume();
            awaitAtLeast(m, 1000, 5, () -> events);
            m.pause();
            counter = m.ram().readU64(COUNTER);
            ticks = m.ram().readU64(TICKS);
            before = vcpu0(m);
            m.ram().read(0, ramBefore, 0, ramBefore.length);
            m.saveSnapshot(new MigrationEndpoint.File(file), "paused");
        }
        try (Machine m = Machine.create(config(to), System.err, events::add, new MigrationEndpoint.File(file))) {
            byte[] ramAfter = new byte[ramBefore.length];
            m.ram().read(0, ramAfter, 0, ramAfter.length);
            assertTrue(Arrays.equals(ramBefore, ramAfter), "RAM");
            assertEquals(counter, m.ram().readU64(COUNTER), "nothing ran before resume");
            VcpuState after = vcpu0(m);
            assertEquals(before.rip(), after.rip(), "RIP");
            assertEquals(before.gprs(), after.gprs(), "the general registers");
            assertEquals(before.cr3(), after.cr3(), "CR3");
            assertEquals(before.cs(), after.cs(), "CS with its hidden part");
            assertEquals(0x1234000L, after.debugRegisters().get(0), "DR0");
            assertEquals(before.fpu().xmm(), after.fpu().xmm(), "XMM registers");
            assertEquals(before.fpu().mxcsr(), after.fpu().mxcsr(), "MXCSR");
            if (to == MachineConfig.Accel.KVM) {
                KvmVcpuState k = (KvmVcpuState) record(m, "kvm-vcpu0");
                int lvtTimer = u32(k.lapic().toArray(), 0x320);
                assertEquals(0x20040, lvtTimer, "LVT timer: periodic, vector 0x40");
                assertEquals(1000000, u32(k.lapic().toArray(), 0x380), "the LAPIC timer's initial count");
                byte[] pit = ((KvmPitState) record(m, "kvm-pit")).state().toArray();
                assertEquals(0x2e9c, u32(pit, 0), "PIT channel 0's count");
                assertEquals(2, pit[13], "PIT channel 0's mode");
            } else {
                LocalApicState l = (LocalApicState) record(m, "lapic0");
                assertEquals(0x20040, l.lvt().get(0), "LVT timer: periodic, vector 0x40");
                assertEquals(1000000, l.initialCount(), "the LAPIC timer's initial count");
                assertTrue(l.timerArmed(), "the LAPIC timer is armed");
                PitState.Channel c0 = ((PitState) record(m, "pit")).channels().get(0);
                assertEquals(0x2e9c, c0.initial(), "PIT channel 0's count");
                assertEquals(2, c0.mode(), "PIT channel 0's mode");
            }
            m.resume();
            // counting on, and the LAPIC timer interrupting (an unconverted LAPIC would be off)
            awaitAtLeast(m, counter + 1000, ticks + 5, () -> events);
            m.pause();
        }
        assertEquals(List.of(), events, "the guest asked for nothing");
    }

    private static int u32(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    @Test
    void aTcgSnapshotRestoresOnKvm() throws Exception {
        crossesAndGoesOn(MachineConfig.Accel.TCG, MachineConfig.Accel.KVM);
    }

    @Test
    void aKvmSnapshotRestoresOnTcg() throws Exception {
        crossesAndGoesOn(MachineConfig.Accel.KVM, MachineConfig.Accel.TCG);
    }

    private static MachineConfig x2apicConfig(MachineConfig.Accel accel, Boolean x2apic) {
        return MachineConfig.builder().accel(accel).memory(64L << 20).machineType(MachineConfig.MachineType.PC)
            .cpu(new MachineConfig.CpuConfig("qemu64", x2apic)).kernel(JvisorProcess.guest("x2ticks.elf")).build();
    }

    /**
     * x2ticks.elf switches its LAPIC to x2APIC mode and drives the timer through the x2APIC MSRs:
     * saved on kvm it restores on tcg with -cpu qemu64,+x2apic and takes its timer interrupts
     * there (EOI by WRMSR), and saved again on tcg it goes back to kvm and goes on; to a tcg
     * machine whose vCPUs lack x2APIC it is refused, naming the CPUID bit, from either engine.
     */
    @Test
    void anX2ApicModeGuestCrossesBothWays() throws Exception {
        Path onKvm = dir.resolve("x2-kvm.jvsnap");
        Path onTcg = dir.resolve("x2-tcg.jvsnap");
        List<MachineEvent> events = new CopyOnWriteArrayList<>();
        long counter;
        long ticks;
        try (Machine m = Machine.create(x2apicConfig(MachineConfig.Accel.KVM, null), System.err, events::add)) {
            m.resume();
            awaitAtLeast(m, 1000, 5, () -> events);
            m.pause();
            assertEquals(0, m.ram().readU64(0x300010), "the x2APIC ID the guest read (MSR 0x802)");
            assertEquals(0xC00, vcpu0(m).msr(VcpuState.MSR_APIC_BASE, 0) & 0xC00, "IA32_APIC_BASE: EN and EXTD");
            counter = m.ram().readU64(COUNTER);
            m.saveSnapshot(new MigrationEndpoint.File(onKvm), "paused");
        }
        MachineException refused = org.junit.jupiter.api.Assertions.assertThrows(MachineException.class,
            () -> Machine.create(x2apicConfig(MachineConfig.Accel.TCG, false), System.err, events::add,
                new MigrationEndpoint.File(onKvm)).close());
        assertTrue(refused.getMessage().contains("IA32_APIC_BASE.EXTD is set, and this CPU lacks x2APIC"),
            refused.getMessage());
        try (Machine m = Machine.create(x2apicConfig(MachineConfig.Accel.TCG, true), System.err, events::add,
                new MigrationEndpoint.File(onKvm))) {
            LocalApicState l = (LocalApicState) record(m, "lapic0");
            assertEquals(0xC00, l.apicBase() & 0xC00, "x2APIC mode");
            assertEquals(0x20040, l.lvt().get(0), "LVT timer: periodic, vector 0x40");
            assertEquals(1, l.ldr(), "the x2APIC LDR of APIC ID 0 (cluster 0, bit 0)");
            ticks = m.ram().readU64(TICKS);
            m.resume();
            awaitAtLeast(m, counter + 1000, ticks + 5, () -> events);
            m.pause();
            counter = m.ram().readU64(COUNTER);
            ticks = m.ram().readU64(TICKS);
            m.saveSnapshot(new MigrationEndpoint.File(onTcg), "paused");
        }
        // the same engine, but vCPUs without x2APIC: refused too
        refused = org.junit.jupiter.api.Assertions.assertThrows(MachineException.class,
            () -> Machine.create(x2apicConfig(MachineConfig.Accel.TCG, null), System.err, events::add,
                new MigrationEndpoint.File(onTcg)).close());
        assertTrue(refused.getMessage().contains("vCPU 0 cannot run on this machine's vCPUs: IA32_APIC_BASE.EXTD is set"),
            refused.getMessage());
        try (Machine m = Machine.create(x2apicConfig(MachineConfig.Accel.KVM, null), System.err, events::add,
                new MigrationEndpoint.File(onTcg))) {
            assertEquals(0xC00, vcpu0(m).msr(VcpuState.MSR_APIC_BASE, 0) & 0xC00, "still in x2APIC mode on kvm");
            m.resume();
            awaitAtLeast(m, counter + 1000, ticks + 5, () -> events);
            m.pause();
        }
        assertEquals(List.of(), events, "the guest asked for nothing");
    }

    /** With -smp 2 the AP, still waiting for INIT/SIPI, crosses waiting; the BSP counts on. */
    @Test
    void twoVcpusCrossWithTheApStillWaitingForStartup() throws Exception {
        for (MachineConfig.Accel[] way : new MachineConfig.Accel[][] {{MachineConfig.Accel.TCG, MachineConfig.Accel.KVM},
                {MachineConfig.Accel.KVM, MachineConfig.Accel.TCG}}) {
            Path file = dir.resolve("smp-" + way[0] + ".jvsnap");
            List<MachineEvent> events = new CopyOnWriteArrayList<>();
            long counter;
            try (Machine m = Machine.create(smp2(way[0]), System.err, events::add)) {
                m.resume();
                awaitAtLeast(m, 1000, 0, () -> events);
                m.pause();
                counter = m.ram().readU64(COUNTER);
                m.saveSnapshot(new MigrationEndpoint.File(file), "paused");
            }
            try (Machine m = Machine.create(smp2(way[1]), System.err, events::add, new MigrationEndpoint.File(file))) {
                VcpuRunner ap = m.runners().get(1);
                VcpuState st = m.runControl().callOnVcpu(1, () -> ap.vcpu().saveVcpuState());
                assertEquals(VcpuState.MpState.INIT_RECEIVED, st.mpState(), way[0] + " to " + way[1] + ": the AP waits");
                m.resume();
                awaitAtLeast(m, counter + 1000, 0, () -> events);
                m.pause();
            }
            assertEquals(List.of(), events);
        }
    }

    private static MachineConfig smp2(MachineConfig.Accel accel) {
        return MachineConfig.builder().accel(accel).memory(64L << 20).cpus(2).machineType(MachineConfig.MachineType.PC)
            .kernel(JvisorProcess.guest("spin.elf")).build();
    }
}
