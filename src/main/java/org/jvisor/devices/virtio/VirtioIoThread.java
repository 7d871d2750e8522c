package org.jvisor.devices.virtio;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;

/**
 * One thread that processes virtqueues (an "iothread"): {@link VirtioCore#notifyQueue} hands it a
 * preallocated task per queue, coalesced while pending, so the notify path allocates nothing.
 */
public final class VirtioIoThread implements Executor, AutoCloseable {
    private static final Runnable STOP = () -> { };
    private final ArrayBlockingQueue<Runnable> work = new ArrayBlockingQueue<>(1024);
    private final Thread thread;

    public VirtioIoThread(String name) {
        thread = Thread.ofPlatform().daemon().name(name).unstarted(this::loop);
        thread.start();
    }

    private void loop() {
        while (true) {
            Runnable r;
            try {
                r = work.take();
            } catch (InterruptedException e) {
                return;
            }
            if (r == STOP) {
                return;
            }
            try {
                r.run();
            } catch (RuntimeException e) {
                System.err.println("jvisor: " + thread.getName() + ": " + e);
            }
        }
    }

    @Override
    public void execute(Runnable task) {
        try {
            work.put(task);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits until the work handed in before this call has run (queue processing the guest asked for
     * is complete: a snapshot saves the queues after it), at most {@code timeoutMillis}; false if
     * the thread is still busy then (blocked writing to a chardev whose peer does not read).
     */
    public boolean drain(long timeoutMillis) throws InterruptedException {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        if (!work.offer(done::countDown, timeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS)) {
            return false;
        }
        return done.await(timeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** The thread's name (the device's). */
    public String name() {
        return thread.getName();
    }

    /** Stops after the work already handed in. */
    @Override
    public void close() {
        execute(STOP);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
