package org.jvisor.machine;

import java.util.concurrent.CountDownLatch;

import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.Vcpu;
import org.jvisor.cpu.VcpuExit;
import org.jvisor.cpu.X86State;

/**
 * The loop of one vCPU thread: run the engine, act on what it returns, park when the machine is
 * paused or the vCPU has nothing to do. State is loaded into the vCPU only on this thread.
 */
final class VcpuRunner implements Runnable {
    private final Vcpu vcpu;
    private final ExitStats stats;
    private final RunControl control;
    private final EventSink events;
    private final Runnable onThreadStart;
    private X86State pendingState;
    private volatile long hostThreadId;
    private final CountDownLatch threadStarted = new CountDownLatch(1);
    private boolean pendingReset;
    private Thread thread;

    interface EventSink {
        void post(MachineEvent event);
    }

    VcpuRunner(Vcpu vcpu, ExitStats stats, RunControl control, EventSink events, Runnable onThreadStart) {
        this.onThreadStart = onThreadStart;
        this.vcpu = vcpu;
        this.stats = stats;
        this.control = control;
        this.events = events;
    }

    Vcpu vcpu() {
        return vcpu;
    }

    ExitStats stats() {
        return stats;
    }

    /** Registers state to load before the next run; call while the machine is paused. */
    void setPendingState(X86State state) {
        synchronized (control) {
            pendingState = state;
        }
    }

    /** A system reset: the vCPU resets (on its own thread) before it runs again, before any pending state. */
    void requestReset() {
        synchronized (control) {
            pendingReset = true;
        }
    }

    /** The Linux thread id of this vCPU's thread (what QMP's query-cpus-fast reports), 0 before it started. */
    long hostThreadId() {
        return hostThreadId;
    }

    /** Starts the vCPU's thread and returns once it runs (its {@link #hostThreadId} known). */
    void start() {
        thread = Thread.ofPlatform().name(Machine.VCPU_THREAD_PREFIX + vcpu.index()).start(this);
        uninterruptibly(threadStarted::await);
    }

    /** Waits until the thread has ended, through interrupts: guest RAM must outlive it. */
    void join() {
        if (thread != null) {
            uninterruptibly(thread::join);
        }
    }

    private interface Wait {
        void await() throws InterruptedException;
    }

    /** Waits through interrupts, then keeps the interrupt status for the caller. */
    private static void uninterruptibly(Wait wait) {
        boolean interrupted = false;
        while (true) {
            try {
                wait.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void run() {
        try {
            hostThreadId = HostThreads.currentThreadId();
            threadStarted.countDown();
            onThreadStart.run();
            loop();
        } finally {
            vcpu.threadExiting();
        }
    }

    private void loop() {
        while (true) {
            X86State load;
            boolean reset;
            synchronized (control) {
                if (!control.awaitRunnable(vcpu.index())) {
                    return;
                }
                load = pendingState;
                pendingState = null;
                reset = pendingReset;
                pendingReset = false;
            }
            try {
                apply(reset, load);
            } catch (RuntimeException e) {
                events.post(new MachineEvent.Failure(vcpu.index(), "vCPU " + vcpu.index() + " could not be "
                    + (reset ? "reset" : "loaded") + ": " + e, null));
                control.park(vcpu.index());
                continue;
            }
            VcpuExit exit;
            try {
                exit = vcpu.run();
            } catch (RuntimeException e) {
                events.post(new MachineEvent.Failure(vcpu.index(), "vCPU " + vcpu.index() + ": " + e, null));
                control.park(vcpu.index());
                continue;
            }
            switch (exit) {
                case VcpuExit.Kicked k -> {
                    // the machine changed phase; awaitRunnable decides what next
                }
                case VcpuExit.Halted h -> control.park(vcpu.index());
                case VcpuExit.DebugStop d -> {
                    // parked first: the machine's pause for the debugger must find this vCPU idle
                    control.park(vcpu.index());
                    events.post(new MachineEvent.DebugStop(vcpu.index()));
                }
                case VcpuExit.TripleFault t -> {
                    events.post(new MachineEvent.TripleFault(vcpu.index(), t.detail(), saveQuietly()));
                    control.park(vcpu.index());
                }
                case VcpuExit.SystemEvent s -> {
                    switch (s.kind()) {
                        case SHUTDOWN -> events.post(new MachineEvent.PowerOff("guest powered off"));
                        case RESET -> events.post(new MachineEvent.Reset("guest requested a reset"));
                        case CRASH -> events.post(new MachineEvent.GuestPanic(vcpu.index(), saveQuietly()));
                    }
                    control.park(vcpu.index());
                }
                case VcpuExit.Failed f -> {
                    events.post(new MachineEvent.Failure(vcpu.index(), f.description(), f.state()));
                    control.park(vcpu.index());
                }
            }
        }
    }

    private void apply(boolean reset, X86State load) {
        if (reset) {
            vcpu.reset();
        }
        if (load != null) {
            vcpu.loadState(load);
        }
    }

    /**
     * On this vCPU's thread, the machine paused (work of {@link RunControl#runOnVcpu}): does the
     * reset and the state load the next run would do first, so that a debugger looking at a
     * machine that has not started yet (-S) sees the boot state the guest will start from.
     */
    void applyPendingNow() {
        boolean reset = pendingReset;
        X86State load = pendingState;
        pendingReset = false;
        pendingState = null;
        apply(reset, load);
    }

    private X86State saveQuietly() {
        X86State st = new X86State();
        try {
            vcpu.saveState(st);
            return st;
        } catch (RuntimeException e) {
            return null;
        }
    }
}
