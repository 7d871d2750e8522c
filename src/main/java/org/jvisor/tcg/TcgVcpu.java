package org.jvisor.tcg;

import org.jvisor.config.JitOptions;
import java.util.concurrent.locks.LockSupport;
import org.jvisor.cpu.CpuidModel;
import org.jvisor.cpu.DebugControl;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.Vcpu;
import org.jvisor.cpu.VcpuExit;
import org.jvisor.cpu.X86State;
import org.jvisor.cpu.VcpuState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * A tcg vCPU: runs the interpreter in slices of a few thousand instructions, looking at kicks
 * and pending interrupts between slices. HLT parks the thread until an interrupt is pending or a
 * kick arrives; it never spins.
 */
public final class TcgVcpu implements Vcpu {
    private static final long SLICE = 4096;
    /** How long a halted vCPU waits between hang checks under jvisor.tcg.debugHalt. */
    private static final long DEBUG_PARK_NANOS = 50_000_000L;

    private final int index;
    private final X86State state = new X86State();
    private final TcgCpu cpu;
    private volatile boolean kicked;
    /** INIT / startup IPI requests from other threads (the LAPIC's listener), handled on the vCPU thread. */
    private volatile boolean initRequested;
    private volatile int sipiVector = -1;
    /** After INIT: waiting for a startup IPI (SDM vol. 3, 10.4.7.3). */
    private boolean waitForSipi;
    /** jvisor.tcg.debugHalt=true: dump the state once when HLT has waited for 5 s (a hung guest). */
    private final boolean debugHalt = Boolean.getBoolean("jvisor.tcg.debugHalt");
    private volatile Thread runner;
    /** The debugger's wishes ({@link #setDebugControl}); read once per {@link #run()}. */
    private volatile DebugControl debug = DebugControl.NONE;
    /**
     * An event another engine had begun to deliver when it saved the vCPU (restored from its
     * {@link VcpuState.Events}), delivered before the first instruction of the next run; null
     * when there is none.
     */
    private InFlight inFlight;

    /** An external interrupt, an NMI or a hardware exception to deliver first (see {@link TcgCpu#deliverInFlight}). */
    record InFlight(int vector, int errorCode, int kind) {
    }

    TcgVcpu(int index, MachineBus bus, CpuidModel cpuid, ExitStats stats, Object atomicLock, InterruptSource irq,
            SharedCode sharedCode, JitOptions jit) {
        this.index = index;
        this.cpu = new TcgCpu(state, bus, cpuid, stats, atomicLock, irq, sharedCode, jit);
        this.cpu.apicId = index;
        if (index != 0) {
            // an application processor starts as after INIT, waiting for a startup IPI (as KVM's APs do)
            resetToInitState();
            waitForSipi = true;
        }
        irq.onPending(this::wake);
    }

    private void wake() {
        cpu.requestInterruptCheck();
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
        waitForSipi = false;
        initRequested = false;
        inFlight = null;
        cpu.halted = false;
        cpu.nmiBlocked = false;
        cpu.syncFromState();
    }

    @Override
    public void writeRegisters(X86State from) {
        cpu.syncToState();
        state.copyFrom(from);
        cpu.syncFromState();   // mode, lazy flags, TLB and fetch caches follow the new registers
    }

    /**
     * The state for a snapshot: the register file, the MSRs {@link Msrs} keeps, the MP state
     * (halted, waiting for SIPI), the interrupt shadow and NMI masking. tcg delivers exceptions
     * and interrupts inside an instruction, so none is in flight between runs, except one
     * restored from another engine that has not run yet; XCR0 is 1 (no XSAVE in tcg's CPUID).
     */
    @Override
    public VcpuState saveVcpuState() {
        cpu.syncToState();
        VcpuState.MpState mp = waitForSipi || initRequested ? VcpuState.MpState.INIT_RECEIVED
            : cpu.halted ? VcpuState.MpState.HALTED : VcpuState.MpState.RUNNABLE;
        InFlight e = inFlight;   // restored from another engine and not yet run: it stays in flight
        boolean nmi = e != null && e.kind() == Exceptions.EXTERNAL && e.vector() == CpuFault.NMI;
        boolean exception = e != null && e.kind() == Exceptions.HARDWARE;
        VcpuState.Events events = new VcpuState.Events(cpu.retired < cpu.shadowEnd, cpu.nmiBlocked, nmi,
            exception ? e.vector() : -1, exception ? e.errorCode() : -1, e != null && !nmi && !exception ? e.vector() : -1);
        return VcpuState.of(state, cpu.msrs.save(), XCR0_X87, mp, events, cpu.msrs.kvmClockNs());
    }

    /** XCR0 with only x87 enabled: what a CPU without XSAVE behaves as. */
    private static final long XCR0_X87 = 1;

    @Override
    public void restoreVcpuState(VcpuState st) throws DeviceStateException {
        st.checkShape();
        String me = "vCPU " + index;
        if (st.xcr0() != XCR0_X87) {
            throw new DeviceStateException(String.format("%s: xcr0 %#x enables state tcg has no XSAVE for (it runs x87/SSE"
                + " without XSAVE: xcr0 must be 1)", me, st.xcr0()));
        }
        for (VcpuState.Msr m : st.msrs()) {
            if (!Msrs.restorable(m.index())) {
                throw new DeviceStateException(String.format("%s: MSR %#x is not one tcg implements", me, m.index()));
            }
        }
        VcpuState.Events ev = st.events();
        InFlight event = inFlight(me, ev);
        st.into(state);
        LocalApicPort apic = cpu.irq.localApic();
        if (apic != null) {
            // the LAPIC was restored from its own record before the vCPUs: it is the one truth
            state.apicBase = apic.apicBase();
        }
        sipiVector = -1;
        initRequested = false;
        waitForSipi = st.mpState() == VcpuState.MpState.INIT_RECEIVED;
        cpu.halted = st.mpState() == VcpuState.MpState.HALTED;
        cpu.nmiBlocked = ev.nmiMasked();
        cpu.syncFromState();
        cpu.flushDerivedState();
        cpu.shadowEnd = ev.interruptShadow() ? cpu.retired + 1 : 0;
        cpu.msrs.restore(st);
        inFlight = event;
    }

    /**
     * The event in flight in a state another engine saved (KVM stops a vCPU between acknowledging
     * an interrupt or raising an exception and the guest's first handler instruction; tcg never
     * does). An external interrupt was already taken from the interrupt controller (its ISR bit
     * is set), so it is delivered as it is, whatever RFLAGS.IF says now; an NMI unless one is
     * being handled; a hardware exception with its error code (CR2 of a page fault is already in
     * the state: jvisor does not enable KVM_CAP_EXCEPTION_PAYLOAD). The rest is refused by name:
     * #DB, #BP and #OF carry trap semantics (a RIP past the instruction, DR6) that the record
     * does not hold, and an NMI that waits behind a running NMI handler has nowhere to wait on tcg.
     */
    private static InFlight inFlight(String me, VcpuState.Events ev) throws DeviceStateException {
        int events = (ev.exception() >= 0 ? 1 : 0) + (ev.interrupt() >= 0 ? 1 : 0) + (ev.nmiPending() ? 1 : 0);
        if (events > 1) {
            throw new DeviceStateException(String.format("%s: more than one event in flight (exception %d, interrupt %d,"
                + " NMI %b)", me, ev.exception(), ev.interrupt(), ev.nmiPending()));
        }
        if (ev.interrupt() >= 0) {
            DeviceStateException.checkRange(me, "the interrupt in flight", ev.interrupt(), 16, 255);
            return new InFlight(ev.interrupt(), -1, Exceptions.EXTERNAL);
        }
        if (ev.nmiPending()) {
            if (ev.nmiMasked()) {
                throw new DeviceStateException(me + ": an NMI waits behind the NMI handler that runs (saved by another"
                    + " engine); tcg cannot hold it");
            }
            return new InFlight(CpuFault.NMI, -1, Exceptions.EXTERNAL);
        }
        int x = ev.exception();
        if (x < 0) {
            return null;
        }
        DeviceStateException.checkRange(me, "the exception in flight", x, 0, 31);
        if (x == CpuFault.DB || x == CpuFault.BP || x == CpuFault.OF || x == CpuFault.NMI) {
            throw new DeviceStateException(String.format("%s: exception %d in flight (saved by another engine) cannot be"
                + " restored on tcg: its trap state is not in the record", me, x));
        }
        return new InFlight(x, ev.errorCode(), Exceptions.HARDWARE);
    }

    @Override
    public boolean supportsDebugControl() {
        return true;
    }

    @Override
    public void setDebugControl(DebugControl control) {
        debug = java.util.Objects.requireNonNull(control, "control");
    }

    @Override
    public VcpuExit run() {
        runner = Thread.currentThread();
        try {
            // a debugged run is out of line: the loop without a debugger stays as it is
            return debug.active() ? debuggedLoop() : loop();
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

    private VcpuExit loop() {
        long haltedSince = 0;
        boolean dumped = false;
        while (true) {
            if (kicked) {
                kicked = false;
                return new VcpuExit.Kicked();
            }
            if (!readyToRun()) {
                continue;
            }
            if (cpu.halted) {
                if (wakeFromHalt()) {
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
                waitForWakeUp();
                continue;
            }
            haltedSince = 0;
            cpu.runSlice(SLICE);
        }
    }

    /**
     * {@link #loop()} under a debugger's breakpoints or single step, with the guest's instructions
     * run by {@link #debugSlice}. A step of a halted vCPU runs nothing (no interrupt wakes it
     * during a step). The control is read again at each slice, so a debugger that leaves while
     * the guest runs lets it go back to the loop without one.
     */
    private VcpuExit debuggedLoop() {
        boolean firstLook = true;
        while (true) {
            DebugControl dbg = debug;
            if (!dbg.active() || kicked) {
                kicked = false;
                return new VcpuExit.Kicked();   // the runner comes back to run()
            }
            if (!readyToRun()) {
                continue;
            }
            if (cpu.halted) {
                if (dbg.singleStep()) {
                    return new VcpuExit.DebugStop();
                }
                if (!wakeFromHalt()) {
                    waitForWakeUp();
                }
                continue;
            }
            if (debugSlice(dbg, firstLook)) {
                return new VcpuExit.DebugStop();
            }
            firstLook = false;
        }
    }

    /**
     * What comes before any instruction: an INIT, a startup IPI, an event another engine had
     * begun to deliver. False while an application processor waits for its SIPI (it parked until
     * {@code startup()} or {@code init()} unparks it: look again).
     */
    private boolean readyToRun() {
        if (initRequested) {
            initRequested = false;
            resetToInitState();
            waitForSipi = true;
        }
        if (waitForSipi) {
            int v = sipiVector;
            if (v < 0) {
                LockSupport.park(this);
                return false;
            }
            sipiVector = -1;
            waitForSipi = false;
            state.cs.selector = v << 8;
            state.cs.base = (long) v << 12;
            state.rip = 0;
            cpu.syncFromState();
        }
        if (inFlight != null) {
            InFlight e = inFlight;
            inFlight = null;
            cpu.deliverInFlight(e.vector(), e.errorCode(), e.kind());
        }
        return true;
    }

    /** A halted vCPU takes an NMI, or an external interrupt if RFLAGS.IF allows; true if one was delivered. */
    private boolean wakeFromHalt() {
        if (!cpu.nmiBlocked && cpu.deliverNmi()) {
            return true;
        }
        if ((state.rflags & X86State.IF) != 0 && cpu.irq.hasPendingInterrupt()) {
            cpu.deliverPendingInterrupt();
            return true;
        }
        return false;
    }

    /**
     * Up to a slice of instructions under a debugger, one at a time and interpreted, so that no
     * translated unit runs over a breakpoint (QEMU flushes its translation blocks for the same
     * reason when gdb inserts one). Returns true when the debugger must see the vCPU: before an
     * instruction at a breakpoint (also the first of an interrupt handler just entered), or after
     * the one instruction of a single step, which takes no interrupt first (QEMU's SSTEP_NOIRQ)
     * and executes nothing on a halted vCPU. False: kicked, halted, or the slice is done.
     */
    private boolean debugSlice(DebugControl dbg, boolean firstLook) {
        if (dbg.singleStep()) {
            cpu.stepOne();
            return true;
        }
        cpu.takeEventBetweenInstructions(firstLook);
        for (int i = 0; i < SLICE && !kicked; i++) {
            if (dbg.breaksAt(cpu.linearPc())) {
                return true;
            }
            cpu.stepOne();
            if (cpu.halted) {
                return false;
            }
            cpu.takeEventBetweenInstructions(false);
        }
        return false;
    }

    /**
     * Sleeps until something may have changed for a halted vCPU: the interrupt controller's
     * wake-up (an interrupt or NMI became pending, INIT, SIPI; its timers fire on their own
     * thread) or a kick. Every such path unparks after publishing, and an unpark that comes
     * before the park leaves a permit, so no wake-up is lost and no timeout is needed: a halted
     * vCPU costs no host CPU until its next interrupt (issue 13).
     */
    private void waitForWakeUp() {
        if (debugHalt) {
            LockSupport.parkNanos(this, DEBUG_PARK_NANOS);
        } else {
            LockSupport.park(this);
        }
    }

    @Override
    public void reset() {
        sipiVector = -1;
        initRequested = false;
        inFlight = null;
        state.applyPowerOn();
        cpu.halted = false;
        cpu.nmiBlocked = false;
        cpu.msrs.powerOnReset();
        cpu.syncFromState();
        cpu.flushDerivedState();
        waitForSipi = index != 0;
    }

    /** INIT (any thread): the vCPU resets to the INIT state and waits for a startup IPI. */
    public void init() {
        sipiVector = -1;
        initRequested = true;
        wake();
    }

    /** Startup IPI (any thread): a vCPU waiting after INIT starts in real mode at {@code vector << 12}. */
    public void startup(int vector) {
        sipiVector = vector & 0xFF;
        wake();
    }

    /** Whether the vCPU waits for a startup IPI (after INIT). */
    public boolean waitingForStartup() {
        return waitForSipi || initRequested;
    }

    /** The processor state after INIT (SDM vol. 3, 9.1.1, table 9-1); MSRs other than EFER keep their values. */
    private void resetToInitState() {
        state.applyInit();
        cpu.halted = false;
        cpu.nmiBlocked = false;
        cpu.syncFromState();
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
