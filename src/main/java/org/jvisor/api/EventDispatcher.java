package org.jvisor.api;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;

/**
 * Delivers a machine's events to its listeners, one at a time and in order, on a thread of its own
 * ("jvisor-events"), so that a listener may call back into the machine (pause it on a RESET, say)
 * without holding up the lifecycle. A listener that throws is reported on the log and the others
 * still get the event.
 */
final class EventDispatcher {
    private static final Runnable FINISH = () -> { };

    private final List<Consumer<? super VmEvent>> listeners = new CopyOnWriteArrayList<>();
    private final LinkedBlockingQueue<Runnable> queue = new LinkedBlockingQueue<>();
    private final PrintStream log;
    private final Thread thread;
    private final Object finishLock = new Object();
    private boolean finished;           // guarded by finishLock: FINISH is queued

    EventDispatcher(PrintStream log, ThreadGroup group) {
        this.log = log;
        this.thread = Thread.ofPlatform().group(group).name("jvisor-events").start(this::loop);
    }

    VirtualMachine.Subscription add(Consumer<? super VmEvent> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    void publish(VmEvent event) {
        queue.add(() -> deliver(event));
    }

    /** No more events: the thread ends once it has delivered those already published. */
    void finish() {
        synchronized (finishLock) {
            finished = true;
            queue.add(FINISH);
        }
    }

    /**
     * Waits until every event published so far has reached the listeners (so a command's events
     * come before its caller carries on, as QEMU emits STOP before stop's reply). Returns at once
     * on the dispatch thread, which would wait for itself.
     */
    void awaitPublished() throws InterruptedException {
        if (isDispatchThread()) {
            return;
        }
        CountDownLatch delivered = new CountDownLatch(1);
        boolean queued;
        synchronized (finishLock) {
            queued = !finished;
            if (queued) {
                queue.add(delivered::countDown);    // ahead of FINISH, so it runs
            }
        }
        if (queued) {
            delivered.await();
        } else {
            thread.join();                          // it ends once everything before FINISH is delivered
        }
    }

    /** Waits until every event published before {@link #finish()} was delivered. */
    void awaitDelivered() throws InterruptedException {
        thread.join();
    }

    boolean isDispatchThread() {
        return Thread.currentThread() == thread;
    }

    private void loop() {
        while (true) {
            Runnable task;
            try {
                task = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            if (task == FINISH) {
                return;
            }
            task.run();
        }
    }

    private void deliver(VmEvent event) {
        for (Consumer<? super VmEvent> l : listeners) {
            try {
                l.accept(event);
            } catch (RuntimeException e) {
                log.println("jvisor: an event listener failed on " + event.qmpName() + ": " + e);
            }
        }
    }
}
