package org.jvisor.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The one-shot delayed action on a delay the test ends itself: nothing here depends on how fast
 * the host is, only on the order of events.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)   // a hang guard only
class DelayedActionTest {

    /** One action waiting out its delay: what it asked for, on which thread. */
    private record Wait(long nanos, Thread thread) {
    }

    /** A delay that ends when the test says so, one permit a waiting action. */
    private static final class ManualDelay implements DelayedAction.Delay {
        final BlockingQueue<Wait> waits = new LinkedBlockingQueue<>();
        private final Semaphore ends = new Semaphore(0);

        @Override
        public void await(long nanos) throws InterruptedException {
            waits.add(new Wait(nanos, Thread.currentThread()));
            ends.acquire();
        }

        void end() {
            ends.release();
        }
    }

    private final ManualDelay delay = new ManualDelay();
    private final BlockingQueue<Thread> ran = new LinkedBlockingQueue<>();

    @Test
    void runsOnceAfterItsDelayAndCanBeArmedAgain() throws Exception {
        try (DelayedAction a = new DelayedAction("test", () -> ran.add(Thread.currentThread()), delay)) {
            assertTrue(a.schedule(5));
            Wait w = delay.waits.take();
            assertEquals(5, w.nanos());
            assertTrue(a.pending());
            assertFalse(a.schedule(1), "one pending at a time: the earlier stays");
            delay.end();
            assertEquals(w.thread(), ran.take(), "run by the thread that waited");
            w.thread().join();
            assertFalse(a.pending());

            assertTrue(a.schedule(7), "armed again once it has run");
            assertEquals(7, delay.waits.take().nanos());
            delay.end();
            ran.take();
        }
        assertTrue(ran.isEmpty(), "each arming ran the action once");
    }

    @Test
    void theActionMayArmItselfAgain() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        AtomicBoolean rearmed = new AtomicBoolean();
        DelayedAction[] self = new DelayedAction[1];
        try (DelayedAction a = new DelayedAction("test", () -> {
            if (runs.incrementAndGet() == 1) {
                rearmed.set(self[0].schedule(3));
            }
            ran.add(Thread.currentThread());
        }, delay)) {
            self[0] = a;
            a.schedule(2);
            delay.waits.take();
            delay.end();
            ran.take();
            assertTrue(rearmed.get(), "nothing pending while the action runs");
            assertEquals(3, delay.waits.take().nanos(), "re-armed from within the action");
            delay.end();
            ran.take();
        }
        assertEquals(2, runs.get());
    }

    @Test
    void cancelDropsThePendingActionAndAllowsANewOne() throws Exception {
        try (DelayedAction a = new DelayedAction("test", () -> ran.add(Thread.currentThread()), delay)) {
            a.schedule(5);
            Wait cancelled = delay.waits.take();
            a.cancel();
            assertFalse(a.pending());
            cancelled.thread().join();
            assertTrue(ran.isEmpty(), "the cancelled action did not run");

            assertTrue(a.schedule(6));
            Wait next = delay.waits.take();
            delay.end();
            assertEquals(next.thread(), ran.take());
        }
    }

    @Test
    void closeCancelsThePendingActionAndTakesNoMore() throws Exception {
        DelayedAction a = new DelayedAction("test", () -> ran.add(Thread.currentThread()), delay);
        a.schedule(5);
        Wait w = delay.waits.take();
        a.close();
        w.thread().join();
        assertTrue(ran.isEmpty());
        assertFalse(a.schedule(5), "closed");
        assertFalse(a.pending());
        a.close();      // again: nothing to do, and it returns
        assertTrue(delay.waits.isEmpty(), "no thread was started after close");
    }

    @Test
    void closeWaitsForARunningAction() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean finished = new AtomicBoolean();
        DelayedAction a = new DelayedAction("test", () -> {
            started.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException("the running action was interrupted", e);
            }
            finished.set(true);
        }, delay);
        a.schedule(1);
        delay.waits.take();
        delay.end();
        started.await();

        AtomicBoolean finishedWhenClosed = new AtomicBoolean();
        Thread closer = Thread.ofPlatform().start(() -> {
            a.close();
            finishedWhenClosed.set(finished.get());
        });
        while (closer.getState() != Thread.State.WAITING) {    // close() is waiting for the action
            Thread.sleep(1);
        }
        assertTrue(closer.isAlive(), "close waits while the action runs");
        release.countDown();
        closer.join();
        assertTrue(finishedWhenClosed.get(), "close returned after the action had ended");
        a.close();
    }

    @Test
    void anActionClosingItsOwnTimerDoesNotWaitForItself() throws Exception {
        DelayedAction[] self = new DelayedAction[1];
        DelayedAction a = new DelayedAction("test", () -> {
            self[0].close();
            ran.add(Thread.currentThread());
        }, delay);
        self[0] = a;
        a.schedule(1);
        delay.waits.take();
        delay.end();
        ran.take();
        assertFalse(a.schedule(1), "closed by its action");
        a.close();
    }
}
