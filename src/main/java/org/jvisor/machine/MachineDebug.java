package org.jvisor.machine;

import java.util.List;

import org.jvisor.cpu.DebugControl;
import org.jvisor.cpu.DebugTranslation;
import org.jvisor.cpu.X86State;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;

/**
 * What a debugger (the gdbstub) does to a stopped machine: read and write a vCPU's registers on
 * its own thread, read and write guest memory at linear addresses through that vCPU's paging,
 * and set each vCPU's breakpoints and single step before the machine runs again. Every method
 * but {@link #supported} and {@link #vcpuCount} needs the machine paused (the caller's lifecycle
 * stopped it).
 */
public final class MachineDebug {
    private final Machine machine;
    private final GuestMemory ram;
    private final DebugTranslation paging;
    /** Drops decoded code and translations where the debugger wrote (tcg), as for DMA. */
    private final IdentityDma.WriteListener codeWrites;

    MachineDebug(Machine machine, GuestMemory ram) {
        this.machine = machine;
        this.ram = ram;
        this.paging = new DebugTranslation(ram);
        this.codeWrites = TcgEngine.dmaListener(machine.accelerator());
    }

    /** Whether the engine's vCPUs take breakpoints and single steps (tcg; not kvm). */
    public boolean supported() {
        List<VcpuRunner> rs = machine.runners();
        return !rs.isEmpty() && rs.stream().allMatch(r -> r.vcpu().supportsDebugControl());
    }

    public int vcpuCount() {
        return machine.runners().size();
    }

    /** A copy of vCPU {@code index}'s registers (the boot state already, before the first run). */
    public X86State readState(int index) throws InterruptedException {
        VcpuRunner r = runner(index);
        X86State st = new X86State();
        onVcpu(index, () -> {
            r.applyPendingNow();
            r.vcpu().saveState(st);
            return null;
        });
        return st;
    }

    /** Puts registers changed from a {@link #readState} copy into vCPU {@code index}. */
    public void writeState(int index, X86State st) throws InterruptedException {
        VcpuRunner r = runner(index);
        onVcpu(index, () -> {
            r.applyPendingNow();
            r.vcpu().writeRegisters(st);
            return null;
        });
    }

    /** Whether vCPU {@code index} waits in HLT for an interrupt (its MP state). */
    public boolean halted(int index) throws InterruptedException {
        VcpuRunner r = runner(index);
        boolean[] halted = new boolean[1];
        onVcpu(index, () -> {
            r.applyPendingNow();
            halted[0] = r.vcpu().saveVcpuState().mpState() == org.jvisor.cpu.VcpuState.MpState.HALTED;
            return null;
        });
        return halted[0];
    }

    /**
     * Reads {@code into.length} bytes at linear {@code address} as vCPU {@code index} maps it now;
     * returns how many bytes could be read before the first unmapped (or not-RAM) byte.
     */
    public int readMemory(int index, long address, byte[] into) throws InterruptedException {
        return eachPage(index, address, into.length, (pa, at, n) -> ram.read(pa, into, at, n));
    }

    /**
     * Writes {@code data} at linear {@code address} as vCPU {@code index} maps it now; returns how
     * many bytes were written before the first unmapped (or not-RAM) byte. Decoded and translated
     * code of the pages written is dropped on every vCPU.
     */
    public int writeMemory(int index, long address, byte[] data) throws InterruptedException {
        return eachPage(index, address, data.length, (pa, at, n) -> {
            ram.write(pa, data, at, n);
            codeWrites.written(pa, n);
        });
    }

    /** One page's part of a linear range: {@code n} bytes at {@code pa}, the range's bytes from {@code at}. */
    private interface PagePart {
        void access(long pa, int at, int n);
    }

    /**
     * Calls {@code part} for each page of {@code length} bytes at linear {@code address} as vCPU
     * {@code index} maps them, in order, up to the first page that is not mapped to RAM; returns
     * how many bytes were covered.
     */
    private int eachPage(int index, long address, int length, PagePart part) throws InterruptedException {
        X86State st = readState(index);
        int done = 0;
        while (done < length) {
            long pa = paging.toPhysical(st, address + done);
            int n = (int) Math.min(length - done, 0x1000 - ((address + done) & 0xFFF));
            if (pa < 0 || !ram.isRam(pa, n)) {
                return done;
            }
            part.access(pa, done, n);
            done += n;
        }
        return done;
    }

    /** What vCPU {@code index} does under the debugger from its next run on. */
    public void setControl(int index, DebugControl control) {
        runner(index).vcpu().setDebugControl(control);
    }

    private VcpuRunner runner(int index) {
        List<VcpuRunner> rs = machine.runners();
        if (index < 0 || index >= rs.size()) {
            throw new IllegalArgumentException("no vCPU " + index + " (the machine has " + rs.size() + ")");
        }
        return rs.get(index);
    }

    private void onVcpu(int index, RunControl.VcpuWork<Void> work) throws InterruptedException {
        try {
            machine.runControl().callOnVcpu(index, work);
        } catch (DeviceStateException e) {
            throw new IllegalStateException("vCPU " + index + ": " + e.getMessage(), e);
        }
    }
}
