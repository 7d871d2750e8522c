package org.jvisor.tcg;

import java.util.concurrent.locks.LockSupport;
import org.jvisor.cpu.CpuidModel;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.Vcpu;
import org.jvisor.cpu.VcpuExit;
import org.jvisor.cpu.X86State;

/**
 * A tcg vCPU: runs the interpreter in slices of a few thousand instructions, looking at kicks
 * and pending interrupts between slices. HLT parks the thread until an interrupt is pending or a
 * kick arrives; it never spins.
 */
public final class TcgVcpu implements Vcpu {
    private static final long SLICE = 4096;
    private static final long PARK_NANOS = 50_000_000L;

    private final int index;
    private final X86State state = new X86State();
    private final TcgCpu cpu;
    private volatile boolean kicked;
    /** jvisor.tcg.debugHalt=true: dump the state once when HLT has waited for 5 s (a hung guest). */
    private final boolean debugHalt = Boolean.getBoolean("jvisor.tcg.debugHalt");
    private volatile Thread runner;

    TcgVcpu(int index, MachineBus bus, CpuidModel cpuid, ExitStats stats, Object atomicLock, InterruptSource irq,
            SharedCode sharedCode) {
        this.index = index;
        this.cpu = new TcgCpu(state, bus, cpuid, stats, atomicLock, irq, sharedCode);
        this.cpu.apicId = index;
        irq.onPending(this::wake);
    }

    private void wake() {
        Thread t = runner;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    @Override
    public int index() {
        return index;
    }

    /** The interpreter behind this vCPU (for tests, MIPS measurement and code invalidation). */
    public TcgCpu cpu() {
        return cpu;
    }

    @Override
    public void saveState(X86State into) {
        cpu.syncToState();
        into.copyFrom(state);
    }

    @Override
    public void loadState(X86State from) {
        state.copyFrom(from);
        cpu.halted = false;
        cpu.nmiBlocked = false;
        cpu.syncFromState();
    }

    @Override
    public VcpuExit run() {
        runner = Thread.currentThread();
        long haltedSince = 0;
        boolean dumped = false;
        try {
            while (true) {
                if (kicked) {
                    kicked = false;
                    return new VcpuExit.Kicked();
                }
                if (cpu.halted) {
                    if (!cpu.nmiBlocked && cpu.deliverNmi()) {
                        continue;
                    }
                    if ((state.rflags & X86State.IF) != 0 && cpu.irq.hasPendingInterrupt()) {
                        cpu.deliverPendingInterrupt();
                        continue;
                    }
                    if (debugHalt) {
                        long now = System.nanoTime();
                        if (haltedSince == 0) {
                            haltedSince = now;
                        } else if (!dumped && now - haltedSince > 5_000_000_000L) {
                            dumped = true;
                            cpu.syncToState();
                            System.err.println("tcg: vCPU " + index + " halted for 5 s, IF="
                                + ((state.rflags & X86State.IF) != 0 ? 1 : 0) + "\n" + state.dump());
                        }
                    }
                    LockSupport.parkNanos(this, PARK_NANOS);
                    continue;
                }
                haltedSince = 0;
                cpu.runSlice(SLICE);
            }
        } catch (TripleFaultException e) {
            return new VcpuExit.TripleFault(e.getMessage());
        } catch (RuntimeException e) {
            cpu.syncToState();
            X86State copy = new X86State();
            copy.copyFrom(state);
            return new VcpuExit.Failed("tcg: " + e.getMessage() + " at RIP " + Long.toHexString(state.rip), copy);
        } finally {
            cpu.syncToState();
            runner = null;
        }
    }

    @Override
    public void kick() {
        kicked = true;
        wake();
    }

    @Override
    public void close() {
        cpu.detach();
    }
}
