package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvisor.machine.CountingGuest.COUNTER;
import static org.jvisor.machine.CountingGuest.TICKS;
import static org.jvisor.machine.CountingGuest.awaitAtLeast;
import static org.jvisor.machine.CountingGuest.awaitCount;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.config.MachineConfig;
import org.jvisor.cpu.VcpuState;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.kvm.KvmVcpuState;
import org.jvisor.testing.GuestTest;
import org.jvisor.testing.JvisorProcess;
import org.jvisor.testing.KvmAvailability;

/**
 * Snapshots on the kvm engine: a guest counting in RAM is paused, saved with KVM's in-kernel
 * state (PICs, IOAPIC, PIT, kvmclock, each vCPU's XSAVE, XCRS, debug registers, events, MP state
 * and LAPIC), restored into a second machine in this process, and counts on; saving the restored
 * machine gives the same records; corrupt KVM records are refused by name.
 */
@GuestTest
class KvmSnapshotTest {
    /** Records holding host or guest time that moves between two saves: compared by kind only. */
    private static final Set<String> CLOCKED = Set.of("rtc", "kvm-pit", "kvm-clock", "acpi-pm");

    @TempDir
    Path dir;

    @BeforeEach
    void needKvm() {
        KvmAvailability.assumeKvm();
    }

    private static MachineConfig config(MachineConfig.Accel accel) {
        return config(accel, "spin.elf");
    }

    private static MachineConfig config(MachineConfig.Accel accel, String guest) {
        return MachineConfig.builder().accel(accel).memory(64L << 20).machineType(MachineConfig.MachineType.PC)
            .kernel(JvisorProcess.guest(guest)).build();
    }

    /** kvm-vcpu0's record without what moves on its own: the LAPIC's current count and its IRR (a tick due). */
    private static KvmVcpuState withoutTimer(KvmVcpuState k) {
        byte[] lapic = k.lapic().toArray();
        java.util.Arrays.fill(lapic, 0x390, 0x394, (byte) 0);    // TMCCT
        java.util.Arrays.fill(lapic, 0x200, 0x280, (byte) 0);    // IRR
        return new KvmVcpuState(k.mpState(), k.xsave(), k.xcrs(), k.debugRegisters(), k.events(), Bytes.copyOf(lapic));
    }

    /**
     * An interrupt controller's record without its request latches: the in-kernel PIT goes on
     * ticking while the vCPUs are paused, so IRQ 0 may be latched between two saves (an 8259 sets
     * IRR whatever its mask; kvm_pic_state's last_irr and irr are bytes 0 and 1, kvm_ioapic_state's
     * irr bytes 16-19).
     */
    private static Object withoutLatches(org.jvisor.devices.state.DeviceState d) {
        if (!(d instanceof org.jvisor.kvm.KvmIrqchipState c)) {
            return d;
        }
        byte[] b = c.state().toArray();
        if (c.chip() == org.jvisor.kvm.KvmIrqchipState.IOAPIC) {
            java.util.Arrays.fill(b, 16, 20, (byte) 0);
        } else {
            java.util.Arrays.fill(b, 0, 2, (byte) 0);
        }
        return new org.jvisor.kvm.KvmIrqchipState(c.chip(), Bytes.copyOf(b));
    }

    private static VcpuState vcpu0(Machine m) throws Exception {
        VcpuRunner r = m.runners().get(0);
        return m.runControl().callOnVcpu(0, () -> r.vcpu().saveVcpuState());
    }

    /** The state without what runs on while paused: the TSC and kvmclock. */
    private static VcpuState timeless(VcpuState s) {
        List<VcpuState.Msr> msrs = s.msrs().stream().filter(x -> x.index() != VcpuState.MSR_TSC).toList();
        return new VcpuState(s.gprs(), s.rip(), s.rflags(), s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
            s.ldtr(), s.gdtr(), s.idtr(), s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.xcr0(),
            s.debugRegisters(), msrs, s.fpu(), s.mpState(), s.events(), 0);
    }

    @Test
    void aRestoredKvmMachineHoldsTheSameStateAndCountsOn() throws Exception {
        Path file = dir.resolve("kvm.jvsnap");
        List<MachineEvent> events = new CopyOnWriteArrayList<>();
        List<DeviceRegistry.Saved> before;
        VcpuState cpuBefore;
        long counter;
        byte[] ramBefore = new byte[1 << 22];
        long ticks;
        try (Machine m = Machine.create(config(MachineConfig.Accel.KVM, "ticks.elf"), System.err, events::add)) {
            m.resume();
            awaitAtLeast(m, 1000, 5, () -> events);
            m.pause();
            counter = m.ram().readU64(COUNTER);
            ticks = m.ram().readU64(TICKS);
            m.saveSnapshot(new MigrationEndpoint.File(file), "paused");
            before = m.devices().save();
            cpuBefore = vcpu0(m);
            m.ram().read(0, ramBefore, 0, ramBefore.length);
        }
        assertEquals(List.of("kvm-pic-master", "kvm-pic-slave", "kvm-ioapic", "kvm-pit", "kvm-clock", "kvm-vcpu0"),
            before.stream().map(DeviceRegistry.Saved::id).limit(6).toList(), "KVM's records come first, in this order");
        try (Machine m = Machine.create(config(MachineConfig.Accel.KVM, "ticks.elf"), System.err, events::add,
                new MigrationEndpoint.File(file))) {
            assertEquals("paused", m.incomingRunState());
            byte[] ramAfter = new byte[1 << 22];
            m.ram().read(0, ramAfter, 0, ramAfter.length);
            assertTrue(java.util.Arrays.equals(ramBefore, ramAfter), "RAM");
            List<DeviceRegistry.Saved> after = m.devices().save();
            assertEquals(before.stream().map(DeviceRegistry.Saved::id).toList(),
                after.stream().map(DeviceRegistry.Saved::id).toList());
            for (int i = 0; i < before.size(); i++) {
                String id = before.get(i).id();
                if (CLOCKED.contains(id)) {
                    assertEquals(before.get(i).state().getClass(), after.get(i).state().getClass(), id);
                } else if (id.equals("kvm-vcpu0")) {
                    assertEquals(withoutTimer((KvmVcpuState) before.get(i).state()),
                        withoutTimer((KvmVcpuState) after.get(i).state()), id);
                } else {
                    assertEquals(withoutLatches(before.get(i).state()), withoutLatches(after.get(i).state()), id);
                }
            }
            VcpuState cpuAfter = vcpu0(m);
            assertEquals(timeless(cpuBefore), timeless(cpuAfter), "vCPU 0 saved, restored and saved again");
            assertEquals(0x1234000L, cpuAfter.debugRegisters().get(0), "DR0 (KVM_SET_DEBUGREGS)");
            assertEquals(0xef, cpuAfter.fpu().xmm().get(0) & 0xFF, "XMM0's low byte (KVM_SET_XSAVE)");
            assertEquals(1, cpuAfter.xcr0(), "XCR0 from KVM_GET_XCRS: x87 only, the guest left OSXSAVE off");
            assertEquals(0x2e9c, ((org.jvisor.kvm.KvmPitState) after.get(3).state()).state().get(0) & 0xFF
                | (((org.jvisor.kvm.KvmPitState) after.get(3).state()).state().get(1) & 0xFF) << 8,
                "PIT channel 0's reload value (KVM_SET_PIT2)");
            assertTrue(Long.compareUnsigned(cpuAfter.msr(VcpuState.MSR_TSC, 0), cpuBefore.msr(VcpuState.MSR_TSC, 0)) >= 0,
                "the TSC goes on from the saved value");
            assertEquals(counter, m.ram().readU64(COUNTER), "nothing ran before resume");
            m.resume();
            // the LAPIC timer goes on interrupting (KVM_SET_LAPIC; a fresh LAPIC is disabled)
            awaitAtLeast(m, counter + 1000, ticks + 5, () -> events);
            m.pause();
        }
        assertEquals(List.of(), events, "the guest asked for nothing");

        // another machine configuration is refused by name (the other engine is not: CrossEngineSnapshotTest)
        MachineConfig bigger = MachineConfig.builder().accel(MachineConfig.Accel.KVM).memory(128L << 20)
            .machineType(MachineConfig.MachineType.PC).kernel(JvisorProcess.guest("ticks.elf")).build();
        MachineException e = assertThrows(MachineException.class, () -> Machine.create(
            bigger, System.err, events::add, new MigrationEndpoint.File(file)).close());
        assertTrue(e.getMessage().contains("was saved from a machine with 64 MiB of RAM; this one has 128 MiB"),
            e.getMessage());
    }

    /** With -smp 2 the AP, still waiting for INIT/SIPI, comes back waiting; the BSP counts on. */
    @Test
    void twoVcpusRestoreWithTheApStillWaitingForStartup() throws Exception {
        Path file = dir.resolve("smp.jvsnap");
        MachineConfig two = MachineConfig.builder().accel(MachineConfig.Accel.KVM).memory(64L << 20).cpus(2)
            .machineType(MachineConfig.MachineType.PC).kernel(JvisorProcess.guest("spin.elf")).build();
        List<MachineEvent> events = new CopyOnWriteArrayList<>();
        long counter;
        try (Machine m = Machine.create(two, System.err, events::add)) {
            m.resume();
            awaitCount(m, 1000);
            m.pause();
            counter = m.ram().readU64(COUNTER);
            m.saveSnapshot(new MigrationEndpoint.File(file), "paused");
        }
        try (Machine m = Machine.create(two, System.err, events::add, new MigrationEndpoint.File(file))) {
            VcpuRunner ap = m.runners().get(1);
            VcpuState st = m.runControl().callOnVcpu(1, () -> ap.vcpu().saveVcpuState());
            assertEquals(VcpuState.MpState.INIT_RECEIVED, st.mpState(), "the AP waits for INIT/SIPI as saved");
            m.resume();
            awaitCount(m, counter + 1001);
            m.pause();
        }
        assertEquals(List.of(), events);
    }

    @Test
    void corruptKvmRecordsAreRefusedByName() throws Exception {
        try (Machine m = Machine.create(config(MachineConfig.Accel.KVM), System.err, ev -> { })) {
            m.resume();
            awaitCount(m, 10);
            m.pause();
            List<DeviceRegistry.Saved> good = m.devices().save();
            int at = good.stream().map(DeviceRegistry.Saved::id).toList().indexOf("kvm-vcpu0");
            KvmVcpuState k = (KvmVcpuState) good.get(at).state();

            KvmVcpuState shortXsave = new KvmVcpuState(k.mpState(), Bytes.copyOf(new byte[100]), k.xcrs(),
                k.debugRegisters(), k.events(), k.lapic());
            DeviceStateException e = assertThrows(DeviceStateException.class,
                () -> m.devices().restore(with(good, at, shortXsave)));
            assertEquals("kvm-vcpu0: KVM vCPU state: xsave has 100 bytes, not 4096 (KVM's struct size)", e.getMessage());

            KvmVcpuState badMp = new KvmVcpuState(7, k.xsave(), k.xcrs(), k.debugRegisters(), k.events(), k.lapic());
            e = assertThrows(DeviceStateException.class, () -> m.devices().restore(with(good, at, badMp)));
            assertTrue(e.getMessage().contains("mpState 0x7 is outside [0x0, 0x4]"), e.getMessage());

            // a wrong record kind in the PIC's place
            e = assertThrows(DeviceStateException.class, () -> m.devices().restore(with(good, 0, k)));
            assertTrue(e.getMessage().startsWith("kvm-pic-master: "), e.getMessage());

            // a record KVM itself refuses (XSTATE_BV with every feature bit): an error, the VMM lives on
            byte[] xsave = k.xsave().toArray();
            java.util.Arrays.fill(xsave, 512, 520, (byte) 0xFF);
            KvmVcpuState badXsave = new KvmVcpuState(k.mpState(), Bytes.copyOf(xsave), k.xcrs(), k.debugRegisters(),
                k.events(), k.lapic());
            m.devices().restore(with(good, at, badXsave));
            VcpuState cpu = vcpu0(m);
            VcpuRunner r = m.runners().get(0);
            e = assertThrows(DeviceStateException.class, () -> m.runControl().callOnVcpu(0, () -> {
                r.vcpu().restoreVcpuState(cpu);
                return null;
            }));
            assertTrue(e.getMessage().startsWith("vCPU 0: KVM refused the state: ")
                && e.getMessage().contains("KVM_SET_XSAVE"), e.getMessage());
            // without its kvm-vcpu0 record (taken by the attempt above) a vCPU state is refused
            e = assertThrows(DeviceStateException.class, () -> m.runControl().callOnVcpu(0, () -> {
                r.vcpu().restoreVcpuState(cpu);
                return null;
            }));
            assertTrue(e.getMessage().contains("holds no kvm-vcpu0 record"), e.getMessage());

            // the good records still restore, and the guest counts on
            m.devices().restore(good);
            m.runControl().callOnVcpu(0, () -> {
                r.vcpu().restoreVcpuState(cpu);
                return null;
            });
            long c = m.ram().readU64(COUNTER);
            m.resume();
            awaitCount(m, c + 11);
            m.pause();
        }
    }

    private static List<DeviceRegistry.Saved> with(List<DeviceRegistry.Saved> all, int at,
                                                   org.jvisor.devices.state.DeviceState s) {
        List<DeviceRegistry.Saved> copy = new ArrayList<>(all);
        copy.set(at, new DeviceRegistry.Saved(all.get(at).id(), s));
        return copy;
    }
}
