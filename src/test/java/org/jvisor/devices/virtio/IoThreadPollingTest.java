package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvisor.testing.BoundedDisk;

/**
 * Sidecore polling on a virtio-blk queue: notifications stay suppressed while the iothread polls
 * (USED_F_NO_NOTIFY, or the avail_event index left behind with EVENT_IDX), a request made available
 * without a notify is served by the poll, the end of a poll enables notifications and finds a
 * buffer that came in between, and poll-max-ns=0 never suppresses.
 */
class IoThreadPollingTest {
    static final long HDR = Driver.DATA;
    static final long STATUS = Driver.DATA + 0x100;
    static final long BUF = Driver.DATA + 0x1000;
    static final int W = SplitVirtqueue.DESC_F_WRITE;
    static final int N = SplitVirtqueue.DESC_F_NEXT;
    /** Hang guard only: how long to wait for the iothread before failing. */
    static final long GUARD_NANOS = 60_000_000_000L;

    Driver drv;
    VirtioIoThread io;

    @AfterEach
    void tearDown() {
        if (io != null) {
            io.close();
        }
        if (drv != null) {
            drv.close();
        }
    }

    private Driver blk(long features) {
        drv = new Driver(new VirtioBlk(new BoundedDisk(64 * 1024, false), "d", 16, msg -> { }), 16);
        return drv.start(features);
    }

    private VirtioCore core() {
        return drv.mmio.core();
    }

    /** A 512-byte read of sector {@code sector} in descriptors 3i..3i+2, made available; not notified. */
    private void offerRead(int i, long sector) {
        long hdr = HDR + 0x20L * i;
        drv.ram.writeU32(hdr, VirtioBlk.T_IN);
        drv.ram.writeU32(hdr + 4, 0);
        drv.ram.writeU64(hdr + 8, sector);
        drv.ram.writeU8(STATUS + i, (byte) 0x55);
        int d = (3 * i) % 15;
        drv.desc(d, hdr, 16, N, d + 1);
        drv.desc(d + 1, BUF + 512L * i, 512, N | W, d + 2);
        drv.desc(d + 2, STATUS + i, 1, W, 0);
        drv.offer(d);
    }

    private int usedFlags() {
        return drv.ram.readU16(Driver.USED) & 0xFFFF;
    }

    /** avail_event (with EVENT_IDX): after the used ring's entries. */
    private int availEvent() {
        return drv.ram.readU16(Driver.USED + 4 + 8L * drv.size) & 0xFFFF;
    }

    private void awaitUsed(int n) throws InterruptedException {
        long start = System.nanoTime();
        while (drv.usedIdx() < n) {
            assertTrue(System.nanoTime() - start < GUARD_NANOS, "hang guard: used index " + drv.usedIdx() + ", wanted " + n);
            Thread.sleep(1);
        }
        assertEquals(0, drv.ram.readU8(STATUS + n - 1), "request " + n + " completed with S_OK");
    }

    @Test
    void endOfPollEnablesNotificationsAndFindsTheBufferThatCameMeanwhile() {
        blk(~(1L << Virtio.F_RING_EVENT_IDX));
        core().setPolled(true);
        offerRead(0, 1);
        assertTrue(core().pollQueue(0), "a buffer was available");
        assertEquals(1, drv.usedIdx());
        assertEquals(SplitVirtqueue.USED_F_NO_NOTIFY, usedFlags(), "left suppressed for the poller");
        assertFalse(core().pollQueue(0), "nothing more");
        offerRead(1, 2);                    // the driver saw NO_NOTIFY and did not notify
        assertTrue(core().endPoll(0), "the re-check after enabling finds it");
        assertEquals(0, usedFlags(), "notifications enabled again");
        assertTrue(core().pollQueue(0));
        assertEquals(2, drv.usedIdx());
        assertEquals(SplitVirtqueue.USED_F_NO_NOTIFY, usedFlags());
        assertFalse(core().endPoll(0), "nothing came: the thread may block");
        assertEquals(0, usedFlags());
    }

    @Test
    void withEventIdxPollingLeavesTheAvailEventBehind() {
        blk(-1L);
        core().setPolled(true);
        offerRead(0, 1);
        assertTrue(core().pollQueue(0));
        offerRead(1, 2);
        assertTrue(core().pollQueue(0));
        // the driver notifies only when its new index passes avail_event: left at 0, it does not
        assertFalse(SplitVirtqueue.needEvent(availEvent(), 2, 1), "suppressed while polling");
        assertFalse(core().endPoll(0));
        assertEquals(2, availEvent(), "enabled: avail_event is the next index");
        assertTrue(SplitVirtqueue.needEvent(availEvent(), 3, 2), "the next buffer is notified");
    }

    @Test
    void withoutPollingProcessingReenablesNotifications() {
        blk(~(1L << Virtio.F_RING_EVENT_IDX));
        offerRead(0, 1);
        drv.kick(0);
        assertEquals(1, drv.usedIdx());
        assertEquals(0, usedFlags());
    }

    @Test
    void aPollingIothreadServesABufferMadeAvailableWithoutNotify() throws InterruptedException {
        blk(~(1L << Virtio.F_RING_EVENT_IDX));
        // each wait of ~50 ms (under poll-max-ns, longer than the window) grows it: 0 -> 4 µs -> 60 s
        long max = 60_000_000_000L;
        io = new VirtioIoThread("io0", new PollWindow(max, 1_000_000_000L, 0), () -> 0);
        io.poll(core());
        int n = 0;
        while (io.pollNs() < max) {
            assertTrue(n < 10, "the window did not grow: " + io.pollNs());
            Thread.sleep(50);           // longer than a 4 µs window: the thread blocks, notifications on
            assertEquals(0, usedFlags(), "idle window ended: notifications enabled before blocking");
            offerRead(n, n + 1);
            drv.kick(0);
            awaitUsed(++n);
        }
        assertEquals(SplitVirtqueue.USED_F_NO_NOTIFY, usedFlags(), "suppressed while the thread polls");
        for (int i = 0; i < 3; i++) {
            offerRead(n, n + 1);        // no notify: the poll finds them
            awaitUsed(++n);
        }
        assertEquals(SplitVirtqueue.USED_F_NO_NOTIFY, usedFlags());
    }

    @Test
    void pollMaxNsZeroNeverSuppressesNotifications() throws InterruptedException {
        blk(~(1L << Virtio.F_RING_EVENT_IDX));
        io = new VirtioIoThread("io0", new PollWindow(0, 0, 0), () -> 0);
        io.poll(core());
        for (int i = 0; i < 3; i++) {
            offerRead(i, i + 1);
            drv.kick(0);
            awaitUsed(i + 1);
            assertEquals(0, usedFlags());
        }
        assertEquals(0, io.pollNs());
    }
}
