package org.jvisor.machine;

import org.jvisor.devices.state.DeviceStateException;

/**
 * The run/pause/stop phase shared by the machine and its vCPU threads. A vCPU thread waits here
 * while the machine is paused or while it is parked (halted with nothing to do, or after reporting
 * a fatal event); the machine waits here until every vCPU has acknowledged a pause.
 */
final class RunControl {
    enum Phase { RUNNING, PAUSED, STOPPED }

    private final boolean[] parked;
    private final boolean[] idle;
    /** Work for a waiting vCPU thread to do on itself (QEMU's run_on_cpu): snapshot save and restore. */
    private final Runnable[] tasks;
    private Phase phase = Phase.PAUSED;

    RunControl(int vcpus) {
        this.parked = new boolean[vcpus];
        this.idle = new boolean[vcpus];
        this.tasks = new Runnable[vcpus];
    }

    /** Work for {@link #callOnVcpu}: it may refuse a state. */
    @FunctionalInterface
    interface VcpuWork<T> {
        T run() throws DeviceStateException;
    }

    /**
     * {@link #runOnVcpu} for work with a result: what it returns, or its exception rethrown here
     * (on the calling thread).
     */
    <T> T callOnVcpu(int vcpu, VcpuWork<T> work) throws DeviceStateException,
            InterruptedException {
        Object[] result = new Object[1];
        Exception[] failure = new Exception[1];
        runOnVcpu(vcpu, () -> {
            try {
                result[0] = work.run();
            } catch (DeviceStateException | RuntimeException e) {
                failure[0] = e;
            }
        });
        if (failure[0] instanceof DeviceStateException e) {
            throw e;
        }
        if (failure[0] instanceof RuntimeException e) {
            throw e;
        }
        @SuppressWarnings("unchecked")
        T t = (T) result[0];
        return t;
    }

    /**
     * Runs {@code task} on the thread of vCPU {@code vcpu}, which must be waiting here (the machine
     * paused), and returns when it has run. The task runs with this monitor held: it must be short
     * and must not wait for other vCPUs.
     */
    synchronized void runOnVcpu(int vcpu, Runnable task) throws InterruptedException {
        if (phase != Phase.PAUSED) {
            throw new IllegalStateException("vCPU work needs a paused machine, not " + phase);
        }
        while (tasks[vcpu] != null) {
            wait();
        }
        tasks[vcpu] = task;
        notifyAll();
        while (tasks[vcpu] == task && phase == Phase.PAUSED) {
            wait();
        }
        if (tasks[vcpu] == task) {
            tasks[vcpu] = null;
            throw new IllegalStateException("the machine stopped before vCPU " + vcpu + " did its work");
        }
    }

    /** On a vCPU thread: waits until it may run; false when the machine stopped. Caller holds the lock. */
    boolean awaitRunnable(int vcpu) {
        while (phase == Phase.PAUSED || (phase == Phase.RUNNING && parked[vcpu])) {
            idle[vcpu] = true;
            Runnable task = tasks[vcpu];
            if (task != null) {
                try {
                    task.run();
                } finally {
                    tasks[vcpu] = null;
                }
            }
            notifyAll();
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                phase = Phase.STOPPED;
            }
        }
        idle[vcpu] = false;
        return phase != Phase.STOPPED;
    }

    /** On a vCPU thread: stop running until the machine resumes it (after a reset or a resume). */
    synchronized void park(int vcpu) {
        parked[vcpu] = true;
    }

    synchronized Phase phase() {
        return phase;
    }

    /** Lets every vCPU run; parked ones too (a resume after reset re-arms them). */
    synchronized void resumeAll() {
        if (phase == Phase.STOPPED) {
            return;
        }
        java.util.Arrays.fill(parked, false);
        phase = Phase.RUNNING;
        notifyAll();
    }

    /**
     * Lets the vCPUs run but those {@code hold} marks, which stay where they are until the next
     * resume (a debugger's single step of one vCPU while the others wait: gdb's vCont;s:TID).
     */
    synchronized void resumeAll(boolean[] hold) {
        if (phase == Phase.STOPPED) {
            return;
        }
        System.arraycopy(hold, 0, parked, 0, parked.length);
        phase = Phase.RUNNING;
        notifyAll();
    }

    /** Asks for a pause; the caller then kicks the vCPUs and calls {@link #awaitAllIdle}. */
    synchronized void requestPause() {
        if (phase == Phase.RUNNING) {
            phase = Phase.PAUSED;
        }
    }

    /**
     * {@link #requestPause()} with work each vCPU thread does on itself as it stops ({@code onStop}
     * by vCPU index): a snapshot's save of the vCPUs then costs no wake-up of their threads after
     * the pause. {@link #awaitAllIdle} returns once every vCPU has stopped and done it. Nothing is
     * queued unless the machine pauses (a stopped machine runs no vCPU work).
     */
    synchronized void requestPause(Runnable[] onStop) {
        requestPause();
        if (phase == Phase.PAUSED) {
            for (int i = 0; i < tasks.length; i++) {
                if (tasks[i] == null) {
                    tasks[i] = onStop[i];
                }
            }
            notifyAll();   // a vCPU already waiting (parked in HLT) does its work now
        }
    }

    synchronized void awaitAllIdle() throws InterruptedException {
        while (phase == Phase.PAUSED && (!allIdle() || anyTask())) {
            wait();
        }
    }

    private boolean anyTask() {
        for (Runnable t : tasks) {
            if (t != null) {
                return true;
            }
        }
        return false;
    }

    private boolean allIdle() {
        for (boolean b : idle) {
            if (!b) {
                return false;
            }
        }
        return true;
    }

    synchronized void stop() {
        phase = Phase.STOPPED;
        notifyAll();
    }
}
