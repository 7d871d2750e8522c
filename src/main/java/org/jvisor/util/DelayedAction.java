package org.jvisor.util;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * An action run once after a delay, on a virtual thread of its own; one is pending at a time, and
 * it can be armed again once it has started (also by the action itself). {@link #cancel} drops the
 * pending one; {@link #close} drops it too, waits for a running one and takes no more, so whatever
 * the action touches (guest RAM a machine unmaps next, a monitor's connection) is not touched once
 * close has returned.
 */
public final class DelayedAction implements AutoCloseable {

    /** How an armed action waits out its delay; interrupted when the action is cancelled. */
    @FunctionalInterface
    public interface Delay {
        void await(long nanos) throws InterruptedException;
    }

    /** Host time: sleeps (a sleep, unlike a park, does not end early by itself). */
    public static final Delay SLEEP = TimeUnit.NANOSECONDS::sleep;

    private final String threadName;
    private final Runnable action;
    private final Delay delay;
    /** The thread waiting to run the action, or null: only it may run it, so clearing it cancels. */
    private Thread sleeper;
    /** Threads running the action now: more than one when one re-armed it and the next began first. */
    private final Set<Thread> running = new HashSet<>();
    private boolean closed;

    public DelayedAction(String threadName, Runnable action) {
        this(threadName, action, SLEEP);
    }

    /** An action whose delays {@code delay} waits out (tests: a delay they end themselves). */
    public DelayedAction(String threadName, Runnable action, Delay delay) {
        this.threadName = threadName;
        this.action = action;
        this.delay = delay;
    }

    /**
     * Runs the action in {@code nanos}; false, and nothing changes, when one is pending already
     * (the earlier stays) or this is closed.
     */
    public synchronized boolean schedule(long nanos) {
        if (closed || sleeper != null) {
            return false;
        }
        sleeper = Thread.ofVirtual().name(threadName).start(() -> sleepThenRun(nanos));
        return true;
    }

    /** Whether an action waits for its delay to end. */
    public synchronized boolean pending() {
        return sleeper != null;
    }

    /** Drops the pending action, if any; a running one goes on. */
    public synchronized void cancel() {
        if (sleeper != null) {
            // only a sleeper is interrupted: a running action may be on an interruptible channel
            sleeper.interrupt();
            sleeper = null;
        }
    }

    /**
     * Cancels what is pending, waits for a running action (not for itself when the action closes
     * this), and takes no more; again, it does nothing.
     */
    @Override
    public synchronized void close() {
        closed = true;
        cancel();
        boolean interrupted = false;
        while (othersRunning()) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true;     // the action must end first: wait on, and keep the request
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private boolean othersRunning() {
        return running.size() > (running.contains(Thread.currentThread()) ? 1 : 0);
    }

    private void sleepThenRun(long nanos) {
        Thread self = Thread.currentThread();
        try {
            delay.await(nanos);
        } catch (InterruptedException e) {
            // cancelled: cancel() has cleared sleeper, which the check below sees
        }
        synchronized (this) {
            if (sleeper != self) {
                return;
            }
            sleeper = null;
            running.add(self);
        }
        try {
            action.run();
        } finally {
            synchronized (this) {
                running.remove(self);
                notifyAll();
            }
        }
    }
}
