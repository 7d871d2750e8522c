package org.jvisor.devices.timer;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TimerQueueTest {
    private final ManualClock clock = new ManualClock();
    private final TimerQueue queue = new TimerQueue(clock);
    private final List<String> log = new ArrayList<>();

    private VirtualTimer timer(String name) {
        return queue.newTimer(name, d -> log.add(name + "@" + d + "/" + clock.nanos()));
    }

    @Test
    void firesInDeadlineOrderWithTheClockAtEachDeadline() {
        VirtualTimer a = timer("a");
        VirtualTimer b = timer("b");
        VirtualTimer c = timer("c");
        c.arm(300);
        a.arm(100);
        b.arm(200);
        assertEquals(100, queue.nextDeadline());
        assertEquals(2, queue.advanceTo(250));
        assertEquals(List.of("a@100/100", "b@200/200"), log);
        assertEquals(250, clock.nanos());
        assertTrue(c.isArmed());
        assertFalse(a.isArmed());
    }

    @Test
    void cancelAndRearmMoveATimer() {
        VirtualTimer a = timer("a");
        VirtualTimer b = timer("b");
        a.arm(100);
        b.arm(200);
        a.cancel();
        a.cancel(); // idempotent
        b.arm(50); // earlier
        queue.advanceTo(1000);
        assertEquals(List.of("b@50/50"), log);
        assertEquals(Long.MAX_VALUE, queue.nextDeadline());
        assertEquals(0, queue.armedCount());
    }

    @Test
    void aCallbackCanRearmItselfForPeriodicTimers() {
        long[] fires = new long[1];
        VirtualTimer[] self = new VirtualTimer[1];
        self[0] = queue.newTimer("periodic", d -> {
            fires[0]++;
            self[0].arm(d + 1_000);
        });
        self[0].arm(1_000);
        assertEquals(10, queue.advanceTo(10_500));
        assertEquals(10, fires[0]);
        assertEquals(11_000, self[0].deadline());
    }

    @Test
    void runDueUsesTheClockAsItIs() {
        VirtualTimer a = timer("a");
        a.arm(100);
        assertEquals(0, queue.runDue());
        clock.set(150);
        assertEquals(1, queue.runDue());
        assertEquals(List.of("a@100/150"), log);
    }

    @Test
    void manyTimersKeepHeapOrder() {
        List<Long> fired = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            long d = (i * 7919L) % 1000;
            queue.newTimer("t" + i, fired::add).arm(d);
        }
        queue.advanceTo(2000);
        assertEquals(100, fired.size());
        for (int i = 1; i < fired.size(); i++) {
            assertTrue(fired.get(i - 1) <= fired.get(i));
        }
    }

    @Test
    void advanceToNeedsAManualClock() {
        TimerQueue q = new TimerQueue(Clock.host());
        assertThrows(IllegalStateException.class, () -> q.advanceTo(1));
    }

    @Test
    void backgroundThreadFiresADueTimer() throws InterruptedException {
        CountDownLatch fired = new CountDownLatch(2);
        try (TimerQueue q = new TimerQueue(clock)) {
            q.start();
            q.newTimer("due", d -> fired.countDown()).arm(0);
            q.newTimer("due2", d -> fired.countDown()).arm(0);
            assertTrue(fired.await(10, TimeUnit.SECONDS), "the timer thread ran the callbacks");
        }
    }

    @Test
    void anEarlierTimerWakesTheThreadButALaterRearmDoesNot() throws InterruptedException {
        CountDownLatch fired = new CountDownLatch(1);
        try (TimerQueue q = new TimerQueue(Clock.host())) {
            q.start();
            long hour = TimeUnit.HOURS.toNanos(1);
            VirtualTimer idle = q.newTimer("idle", d -> { });
            idle.arm(q.clock().nanos() + hour);
            while (!q.waiting()) {
                Thread.onSpinWait();
            }
            // a NOHZ guest re-arms its one-shot timer, later each time, whenever it goes idle
            for (int i = 1; i <= 1000; i++) {
                idle.arm(q.clock().nanos() + hour + i);
            }
            long before = q.wakeUps();
            q.newTimer("soon", d -> fired.countDown()).arm(q.clock().nanos() + 1_000_000);
            assertTrue(fired.await(10, TimeUnit.SECONDS), "an earlier timer woke the sleeping thread");
            assertTrue(before <= 1, "re-arming the sleeping deadline later woke the thread " + before + " times");
        }
    }
}
