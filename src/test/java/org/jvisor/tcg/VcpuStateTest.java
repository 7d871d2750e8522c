package org.jvisor.tcg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvisor.config.JitOptions;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.VcpuState;
import org.jvisor.cpu.X86State;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.devices.state.StateDecoder;
import org.jvisor.devices.state.StateEncoder;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;

/**
 * A tcg vCPU's {@link VcpuState}: every register, MSR and latch it saves comes back in a vCPU of a
 * fresh machine (through the snapshot encoding), the TSC and kvmclock go on from their saved
 * values, and states no CPU can hold or tcg cannot run are refused by name.
 */
class VcpuStateTest {
    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    private TcgVcpu vcpu(int index) {
        return vcpu(index, GuestMemory.allocate(4L << 20));
    }

    private TcgVcpu vcpu(int index, GuestMemory ram) {
        open.add(ram);
        TcgAccelerator accel = new TcgAccelerator(new MachineBus(ram, new AddressSpace("io", 0x10000),
            new AddressSpace("memory", 1L << 52)), JitOptions.fromSystemProperties());
        open.add(accel);
        TcgVcpu v = (TcgVcpu) accel.createVcpu(index, new ExitStats(false));
        open.add(v);
        return v;
    }

    /** A long-mode state with something in every field the record holds. */
    private static X86State busy() {
        X86State s = new X86State();
        for (int i = 0; i < 16; i++) {
            s.gpr[i] = 0x1111_0000_0000_0000L * (i + 1) + i;
        }
        s.rip = 0xFFFF_FFFF_8100_0123L;
        s.rflags = X86State.FIXED1 | X86State.IF | X86State.ZF | X86State.CF;
        s.cr0 = X86State.CR0_PE | X86State.CR0_PG | X86State.CR0_WP | X86State.CR0_ET | X86State.CR0_NE;
        s.cr2 = 0x7FFF_1234_5000L;
        s.cr3 = 0x0010_3000L;
        s.cr4 = X86State.CR4_PAE | X86State.CR4_PGE | X86State.CR4_OSFXSR | X86State.CR4_OSXMMEXCPT;
        s.cr8 = 3;
        s.efer = X86State.EFER_SCE | X86State.EFER_LME | X86State.EFER_LMA | X86State.EFER_NXE;
        s.cs.set(0x10, 0, 0xFFFF_FFFF, 0xB, true, 0, true, true, false, true);
        s.ss.set(0x18, 0, 0xFFFF_FFFF, 3, true, 0, true, false, true, true);
        s.gs.set(0, 0xFFFF_8880_1F00_0000L, 0xFFFF_FFFF, 3, true, 0, true, false, false, true);
        s.tr.set(0x40, 0xFFFF_FE00_0000_3000L, 0x4087, 0xB, false, 0, true, false, false, false);
        s.gdtr.base = 0xFFFF_FE00_0000_1000L;
        s.gdtr.limit = 0x7F;
        s.idtr.base = 0xFFFF_FE00_0000_0000L;
        s.idtr.limit = 0xFFF;
        s.dr[0] = 0x1000;
        s.dr[7] = 0x401;
        s.star = 0x0023_0010_0000_0000L;
        s.lstar = 0xFFFF_FFFF_8160_0000L;
        s.sfmask = 0x47700;
        s.kernelGsBase = 0x7F00_0000_1000L;
        s.sysenterCs = 0x10;
        s.tscAux = 5;
        s.fcw = 0x27F;
        s.fsw = 0x3800;
        s.ftw = 0x80;
        s.fpMantissa[7] = 0xC90F_DAA2_2168_C235L;
        s.fpExponent[7] = 0x4000;
        s.xmm[3] = 0x0123_4567_89AB_CDEFL;
        s.mxcsr = 0x9FC0;
        return s;
    }

    /** The state with TSC and kvmclock replaced: they move on between two saves. */
    private static VcpuState withoutClocks(VcpuState s) {
        List<VcpuState.Msr> msrs = s.msrs().stream().map(m -> m.index() == VcpuState.MSR_TSC
            ? new VcpuState.Msr(m.index(), 0) : m).toList();
        return new VcpuState(s.gprs(), s.rip(), s.rflags(), s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
            s.ldtr(), s.gdtr(), s.idtr(), s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.xcr0(),
            s.debugRegisters(), msrs, s.fpu(), s.mpState(), s.events(), 0);
    }

    @Test
    void aSavedVcpuComesBackWholeInAFreshMachine() throws DeviceStateException {
        TcgVcpu original = vcpu(0);
        original.loadState(busy());
        original.cpu().msrs.write(Msrs.MISC_ENABLE, 0x850089);
        original.cpu().msrs.write(0x200, 0x0000_0006L);   // MTRRphysBase0
        original.cpu().msrs.write(0x250, 0x0606_0606_0606_0606L);
        original.cpu().msrs.write(Msrs.TSC, 5_000_000_000_000L);
        original.cpu().halted = true;
        original.cpu().nmiBlocked = true;
        original.cpu().shadowEnd = original.cpu().retired + 1;
        VcpuState saved = original.saveVcpuState();
        assertEquals(VcpuState.MpState.HALTED, saved.mpState());
        assertTrue(saved.events().interruptShadow() && saved.events().nmiMasked(), saved.events().toString());
        assertEquals(0x850089, saved.msr(Msrs.MISC_ENABLE, -1));

        VcpuState read = (VcpuState) new StateDecoder(new StateEncoder().writeState(saved).toByteArray(), "test")
            .readState();
        TcgVcpu copy = vcpu(0);
        copy.restoreVcpuState(read);
        VcpuState again = copy.saveVcpuState();
        assertEquals(withoutClocks(saved), withoutClocks(again), "save -> encode -> restore -> save");
        long tsc = again.msr(VcpuState.MSR_TSC, -1);
        assertTrue(tsc >= saved.msr(VcpuState.MSR_TSC, -1), "the TSC goes on from its saved value, not the host's: " + tsc);
        assertTrue(again.kvmClockNs() >= saved.kvmClockNs(), "kvmclock goes on");
        assertEquals(0x0606_0606_0606_0606L, copy.cpu().msrs.read(0x250));
    }

    @Test
    void anApplicationProcessorWaitingForStartupStaysWaiting() throws DeviceStateException {
        TcgVcpu ap = vcpu(1);
        VcpuState saved = ap.saveVcpuState();
        assertEquals(VcpuState.MpState.INIT_RECEIVED, saved.mpState());
        TcgVcpu copy = vcpu(1);
        copy.loadState(busy()); // running, until the restore
        copy.restoreVcpuState(saved);
        assertTrue(copy.waitingForStartup());
    }

    private static void refused(TcgVcpu v, VcpuState s, String expected) {
        DeviceStateException e = assertThrows(DeviceStateException.class, () -> v.restoreVcpuState(s));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static VcpuState edit(VcpuState s, UnaryOperator<Object[]> change) {
        Object[] c = new Object[] {s.gprs(), s.rip(), s.rflags(), s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
            s.ldtr(), s.gdtr(), s.idtr(), s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.xcr0(),
            s.debugRegisters(), s.msrs(), s.fpu(), s.mpState(), s.events(), s.kvmClockNs()};
        c = change.apply(c);
        @SuppressWarnings("unchecked")
        VcpuState out = new VcpuState((List<Long>) c[0], (long) c[1], (long) c[2], (VcpuState.Segment) c[3],
            (VcpuState.Segment) c[4], (VcpuState.Segment) c[5], (VcpuState.Segment) c[6], (VcpuState.Segment) c[7],
            (VcpuState.Segment) c[8], (VcpuState.Segment) c[9], (VcpuState.Segment) c[10], (VcpuState.Table) c[11],
            (VcpuState.Table) c[12], (long) c[13], (long) c[14], (long) c[15], (long) c[16], (long) c[17],
            (long) c[18], (long) c[19], (List<Long>) c[20], (List<VcpuState.Msr>) c[21], (VcpuState.Fpu) c[22],
            (VcpuState.MpState) c[23], (VcpuState.Events) c[24], (long) c[25]);
        return out;
    }

    @Test
    void statesNoCpuHoldsOrTcgCannotRunAreRefusedByName() {
        TcgVcpu v = vcpu(0);
        v.loadState(busy());
        VcpuState good = v.saveVcpuState();
        refused(v, edit(good, c -> {
            c[0] = List.of(1L, 2L);
            return c;
        }), "gprs has 2 entries, not 16");
        refused(v, edit(good, c -> {
            c[19] = 7L;
            return c;
        }), "xcr0 0x7");
        refused(v, edit(good, c -> {
            c[16] = 0L; // CR4 without PAE, EFER.LMA kept
            return c;
        }), "LMA without paging and PAE");
        refused(v, edit(good, c -> {
            List<VcpuState.Msr> msrs = new ArrayList<>(good.msrs());
            msrs.add(new VcpuState.Msr(0xC001_0015, 1)); // AMD HWCR: not a tcg MSR
            c[21] = msrs;
            return c;
        }), "MSR 0xc0010015 is not one tcg implements");
        refused(v, edit(good, c -> {
            c[24] = new VcpuState.Events(false, false, false, 3, -1, -1);
            return c;
        }), "exception 3 in flight (saved by another engine) cannot be restored on tcg");
        refused(v, edit(good, c -> {
            c[24] = new VcpuState.Events(false, false, false, 14, 2, 0x40);
            return c;
        }), "more than one event in flight");
        refused(v, edit(good, c -> {
            c[24] = new VcpuState.Events(false, true, true, -1, -1, -1);
            return c;
        }), "an NMI waits behind the NMI handler that runs");
    }

    /** Real mode at 0:1000, IF set, a stack at 0:8000 and the IVT at 0. */
    private static X86State spinningInRealMode() {
        X86State s = new X86State();
        s.applyPowerOn();
        s.cs.selector = 0;
        s.cs.base = 0;
        s.rip = 0x1000;
        s.gpr[4] = 0x8000;
        s.rflags = X86State.FIXED1 | X86State.IF;
        return s;
    }

    /**
     * An interrupt KVM had taken from the interrupt controller but not yet delivered when it
     * saved the vCPU (KVM_GET_VCPU_EVENTS' interrupt.injected) reaches the guest's handler on tcg
     * before any other instruction: through the IVT, with the interrupted CS:IP and FLAGS (IF
     * set) on the stack and IF clear in the handler. Saved again before it ran, it is still in
     * flight.
     */
    @Test
    void anInterruptInFlightReachesItsHandlerFirst() throws Exception {
        GuestMemory ram = GuestMemory.allocate(4L << 20);
        ram.write(0x1000, new byte[] {(byte) 0xC6, 0x06, 0x00, 0x30, 0x77, (byte) 0xEB, (byte) 0xFE}); // mov byte [0x3000], 0x77; jmp $
        ram.writeU32(0x40 * 4, 0x0000_2000);                                              // IVT[0x40] = 0000:2000
        ram.write(0x2000, new byte[] {(byte) 0xC6, 0x06, 0x00, 0x30, 0x5A, (byte) 0xEB, (byte) 0xFE}); // mov byte [0x3000], 0x5a; jmp $
        TcgVcpu saver = vcpu(0);
        saver.loadState(spinningInRealMode());
        VcpuState saved = edit(saver.saveVcpuState(), c -> {
            c[24] = new VcpuState.Events(false, false, false, -1, -1, 0x40);
            return c;
        });
        TcgVcpu v = vcpu(0, ram);
        v.restoreVcpuState(saved);
        assertEquals(0x40, v.saveVcpuState().events().interrupt(), "restored and not yet run: still in flight");

        org.jvisor.cpu.VcpuExit[] exit = new org.jvisor.cpu.VcpuExit[1];
        Thread t = Thread.ofPlatform().start(() -> exit[0] = v.run());
        // the interrupted code marks 0x77, the handler 0x5a: whichever runs first ends the wait
        while (ram.readU8(0x3000) == 0 && t.isAlive()) {
            Thread.onSpinWait();
        }
        v.kick();
        t.join();
        assertEquals(0x5A, ram.readU8(0x3000), "the handler ran before the interrupted code");
        assertTrue(exit[0] instanceof org.jvisor.cpu.VcpuExit.Kicked, String.valueOf(exit[0]));
        X86State after = new X86State();
        v.saveState(after);
        assertEquals(0x2005, after.rip, "in the handler, at its jmp $");
        assertEquals(0, after.rflags & X86State.IF, "IF clear in the handler");
        assertEquals(0x8000 - 6, after.gpr[4], "IP, CS and FLAGS pushed");
        assertEquals(0x1000, ram.readU16(0x8000 - 6) & 0xFFFF, "the interrupted IP");
        assertEquals(0, ram.readU16(0x8000 - 4), "the interrupted CS");
        assertTrue((ram.readU16(0x8000 - 2) & X86State.IF) != 0, "the interrupted FLAGS, IF set");
        assertEquals(-1, v.saveVcpuState().events().interrupt(), "delivered: nothing in flight");
    }
}
