package org.jvisor.machine;

/**
 * The run/pause/stop phase shared by the machine and its vCPU threads. A vCPU thread waits here
 * while the machine is paused or while it is parked (halted with nothing to do, or after reporting
 * a fatal event); the machine waits here until every vCPU has acknowledged a pause.
 */
final class RunControl {
    enum Phase { RUNNING, PAUSED, STOPPED }

    private final boolean[] parked;
    private final boolean[] idle;
    private Phase phase = Phase.PAUSED;

    RunControl(int vcpus) {
        this.parked = new boolean[vcpus];
        this.idle = new boolean[vcpus];
    }

    /** On a vCPU thread: waits until it may run; false when the machine stopped. Caller holds the lock. */
    boolean awaitRunnable(int vcpu) {
        while (phase == Phase.PAUSED || (phase == Phase.RUNNING && parked[vcpu])) {
            idle[vcpu] = true;
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

    /** Asks for a pause; the caller then kicks the vCPUs and calls {@link #awaitAllIdle}. */
    synchronized void requestPause() {
        if (phase == Phase.RUNNING) {
            phase = Phase.PAUSED;
        }
    }

    synchronized void awaitAllIdle() throws InterruptedException {
        while (phase == Phase.PAUSED && !allIdle()) {
            wait();
        }
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
