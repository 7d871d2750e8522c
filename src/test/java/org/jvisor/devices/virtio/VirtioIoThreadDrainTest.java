package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.junit.jupiter.api.Test;

/**
 * A snapshot drains the virtio I/O threads: drain returns once the work handed in before it has
 * run, and says so when a thread stays blocked (a chardev peer that does not read) rather than
 * waiting forever.
 */
class VirtioIoThreadDrainTest {

    @Test
    void drainWaitsForEarlierWorkAndGivesUpOnABlockedThread() throws InterruptedException {
        VirtioIoThread t = new VirtioIoThread("virtio-test");
        try {
            List<Integer> done = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                int n = i;
                t.execute(() -> {
                    synchronized (done) {
                        done.add(n);
                    }
                });
            }
            assertTrue(t.drain(60_000));
            synchronized (done) {
                assertEquals(100, done.size(), "every earlier task ran before drain returned");
            }

            CountDownLatch release = new CountDownLatch(1);
            t.execute(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertFalse(t.drain(100), "a blocked thread is reported, not waited for forever");
            release.countDown();
            assertTrue(t.drain(60_000));
        } finally {
            t.close();
        }
    }
}
