package org.jvisor.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The dirty log with an engine that keeps its own record (a tracker, as KVM's dirty bitmap is merged in). */
class DirtyLogTest {

    /** A tracker that hands over the pages it is told to, at a page offset, as a KVM slot's bitmap. */
    private static final class FakeTracker implements DirtyLog.Tracker {
        final List<String> calls = new ArrayList<>();
        long first;
        long[] bitmap = new long[0];
        long count;

        @Override
        public void startTracking() {
            calls.add("start");
        }

        @Override
        public void collect(DirtyLog into) {
            calls.add("collect");
            into.markPages(first, bitmap, count);
            bitmap = new long[bitmap.length];
        }

        @Override
        public void stopTracking() {
            calls.add("stop");
        }
    }

    @Test
    void aTrackersPagesAreMergedAtTheirOffsetBeforeEachFetch() {
        DirtyLog log = new DirtyLog(1L << 20);   // 256 pages
        FakeTracker kvm = new FakeTracker();
        log.attach(kvm);
        log.start();
        log.markHost(0x1000, 1);                 // a device's write: page 1
        kvm.first = 70;                          // a slot starting at page 70, not word-aligned
        kvm.bitmap = new long[] {1L | 1L << 63, 1L << 1};   // slot pages 0, 63, 65
        kvm.count = 100;
        long[] got = log.fetchAndClear();
        long[] want = new long[4];
        for (long p : new long[] {1, 70, 133, 135}) {
            want[(int) (p >>> 6)] |= 1L << p;
        }
        assertArrayEquals(want, got);
        assertArrayEquals(new long[4], log.fetchAndClear(), "each fetch leaves every page clean");
        log.stop();
        assertEquals(List.of("start", "collect", "collect", "stop"), kvm.calls);
    }

    @Test
    void bitsBeyondTheSlotOrTheLogAreIgnored() {
        DirtyLog log = new DirtyLog(1L << 20);
        log.start();
        log.markPages(250, new long[] {-1L}, 3);      // pages 250-252 only: the slot has 3
        log.markPages(254, new long[] {-1L}, 64);     // pages 254-255: the log ends there
        long[] got = log.fetchAndClear();
        assertArrayEquals(new long[] {0, 0, 0, 7L << 58 | 3L << 62}, got);   // pages 250-252, 254, 255
    }

    @Test
    void nothingIsMarkedWhileInactiveAndOneTrackerOnly() {
        DirtyLog log = new DirtyLog(1L << 20);
        log.markPages(0, new long[] {-1L}, 64);
        log.start();
        assertArrayEquals(new long[4], log.fetchAndClear());
        log.attach(new FakeTracker());
        assertThrows(IllegalStateException.class, () -> log.attach(new FakeTracker()));
    }
}
