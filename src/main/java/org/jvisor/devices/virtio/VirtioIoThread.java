package org.jvisor.devices.virtio;

import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * One thread that processes virtqueues (an "iothread"): {@link VirtioCore#notifyQueue} hands it a
 * preallocated task per queue, coalesced while pending, so the notify path allocates nothing.
 *
 * <p>With a {@link PollWindow} that can poll (QEMU's {@code -object iothread,poll-max-ns=N}), the
 * queues of the devices given to {@link #poll} are served as QEMU's adaptive polling serves them
 * (util/aio-posix.c): once idle, the thread reads their available rings for up to the window,
 * with the driver's notifications suppressed, so a guest that submits within the window never
 * exits to notify. When the window ends idle it enables notifications, looks at the rings once
 * more (a buffer may have come in between) and blocks until the next notify. The window adapts to
 * how long the thread waited ({@link PollWindow#adjust}). The spin is bounded by the window and
 * yields the CPU every {@value #SPINS_PER_YIELD} looks.
 */
public final class VirtioIoThread implements Executor, AutoCloseable {
    private static final Runnable STOP = () -> { };
    /** Looks at the rings between yields of the CPU while polling (the host may have few cores). */
    static final int SPINS_PER_YIELD = 64;
    private final ArrayBlockingQueue<Runnable> work = new ArrayBlockingQueue<>(1024);
    private final Thread thread;
    private final PollWindow window;
    private final LongSupplier hostThreadIdProbe;
    private volatile VirtioCore[] polled = new VirtioCore[0];
    private volatile long hostThreadId;
    private boolean stopping;

    /** A thread that never polls. */
    public VirtioIoThread(String name) {
        this(name, new PollWindow(0, 0, 0), () -> 0);
    }

    /**
     * A thread named {@code name} polling within {@code window}; it reads its own host thread id
     * with {@code hostThreadIdProbe} when it starts (for QMP's query-iothreads).
     */
    public VirtioIoThread(String name, PollWindow window, LongSupplier hostThreadIdProbe) {
        this.window = window;
        this.hostThreadIdProbe = hostThreadIdProbe;
        thread = Thread.ofPlatform().daemon().name(name).unstarted(this::loop);
        thread.start();
    }

    /**
     * Serves {@code core}'s queues from now on; they are polled when the window allows (several
     * devices may share one thread, as in QEMU). Call while the machine is built, before the
     * driver runs.
     */
    public synchronized void poll(VirtioCore core) {
        core.setExecutor(this);
        if (window.enabled()) {
            core.setPolled(true);
            VirtioCore[] next = Arrays.copyOf(polled, polled.length + 1);
            next[polled.length] = core;
            polled = next;
        }
    }

    private void loop() {
        hostThreadId = hostThreadIdProbe.getAsLong();
        long idleSince = System.nanoTime();
        while (true) {
            Runnable r = work.poll();
            if (r == null) {
                if (polled.length > 0) {
                    int found = pollRings(idleSince);
                    if (found != IDLE) {
                        window.adjust(System.nanoTime() - idleSince);
                        if (found == FOUND_RING) {
                            idleSince = System.nanoTime();
                        }
                        continue;
                    }
                    if (endPolls()) {      // the race: a buffer came while notifications were off
                        window.adjust(System.nanoTime() - idleSince);
                        idleSince = System.nanoTime();
                        continue;
                    }
                }
                try {
                    r = work.take();
                } catch (InterruptedException e) {
                    return;
                }
                window.adjust(System.nanoTime() - idleSince);
            }
            if (r == STOP) {
                return;
            }
            try {
                r.run();
            } catch (RuntimeException e) {
                System.err.println("jvisor: " + thread.getName() + ": " + e);
            }
            idleSince = System.nanoTime();
        }
    }

    private static final int IDLE = 0;
    private static final int FOUND_RING = 1;
    private static final int FOUND_TASK = 2;

    /** Polls the rings until the window, counted from {@code idleSince}, has passed. */
    private int pollRings(long idleSince) {
        long windowNs = window.ns();
        int spins = 0;
        while (System.nanoTime() - idleSince < windowNs) {
            if (work.peek() != null) {
                return FOUND_TASK;
            }
            if (pollOnce()) {
                return FOUND_RING;
            }
            Thread.onSpinWait();
            if (++spins % SPINS_PER_YIELD == 0) {
                Thread.yield();
            }
        }
        return IDLE;
    }

    /** One look at every polled queue; processes those with buffers. */
    private boolean pollOnce() {
        boolean found = false;
        for (VirtioCore c : polled) {
            for (int q = 0; q < c.queueCount(); q++) {
                found |= c.pollQueue(q);
            }
        }
        return found;
    }

    /** Notifications back on for every polled queue; processes those that got buffers meanwhile. */
    private boolean endPolls() {
        boolean found = false;
        for (VirtioCore c : polled) {
            for (int q = 0; q < c.queueCount(); q++) {
                if (c.endPoll(q)) {
                    c.pollQueue(q);
                    found = true;
                }
            }
        }
        return found;
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
        CountDownLatch done = new CountDownLatch(1);
        if (!work.offer(done::countDown, timeoutMillis, TimeUnit.MILLISECONDS)) {
            return false;
        }
        return done.await(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    /** The thread's name (the device's, or the -object iothread's id). */
    public String name() {
        return thread.getName();
    }

    /** The Linux thread id of the thread (QMP's thread-id), 0 until it started or where unknown. */
    public long hostThreadId() {
        return hostThreadId;
    }

    /** The polling window now (0 when the thread does not poll). */
    public long pollNs() {
        return window.ns();
    }

    /** Stops after the work already handed in; a second call does nothing. */
    @Override
    public synchronized void close() {
        if (stopping) {
            return;
        }
        stopping = true;
        execute(STOP);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
