package org.jvisor.devices.virtio;

import java.util.concurrent.locks.LockSupport;

/**
 * A device's own later look at a queue (a virtio-rng request waiting for its source or its rate
 * limit, the balloon's statistics timer): {@code action} runs once after a delay, on a virtual
 * thread; one is pending at a time. {@link #close} cancels a pending one and waits for a running
 * one, so nothing touches guest RAM after the device is closed and its machine unmaps it.
 */
final class QueueWakeup implements AutoCloseable {
    private final String name;
    private final Runnable action;
    private boolean pending;
    private boolean closed;
    private int running;
    private Thread sleeper;

    QueueWakeup(String name, Runnable action) {
        this.name = name;
        this.action = action;
    }

    /** Runs the action in {@code nanos} unless one is pending already (or the wakeup is closed). */
    synchronized void in(long nanos) {
        if (closed || pending) {
            return;
        }
        pending = true;
        sleeper = Thread.ofVirtual().name(name).start(() -> {
            LockSupport.parkNanos(Math.max(nanos, 1));
            synchronized (this) {
                pending = false;
                sleeper = null;
                if (closed) {
                    notifyAll();
                    return;
                }
                running++;
            }
            try {
                action.run();
            } finally {
                synchronized (this) {
                    running--;
                    notifyAll();
                }
            }
        });
    }

    /** Whether an action is pending (for a device deciding not to look again itself). */
    synchronized boolean pending() {
        return pending;
    }

    /** Cancels what is pending, waits for a running action, and takes no more. */
    @Override
    public synchronized void close() {
        closed = true;
        if (sleeper != null) {
            LockSupport.unpark(sleeper);
        }
        boolean interrupted = false;
        while (pending || running > 0) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
