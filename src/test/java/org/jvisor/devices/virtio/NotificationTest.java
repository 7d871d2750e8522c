package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Notification suppression both ways, with and without VIRTIO_F_RING_EVENT_IDX, on virtio-rng. */
class NotificationTest {
    static final int SIZE = 8;
    static final long USED_EVENT = Driver.AVAIL + 4 + 2 * SIZE;
    static final long AVAIL_EVENT = Driver.USED + 4 + 8 * SIZE;
    Driver drv;

    @AfterEach
    void tearDown() {
        if (drv != null) {
            drv.close();
        }
    }

    /** One 64-byte writable buffer per request, descriptor i. */
    void request(int i) {
        drv.desc(i, Driver.DATA + 0x100L * i, 64, SplitVirtqueue.DESC_F_WRITE, 0);
        drv.offer(i);
        drv.kick(0);
    }

    @Test
    void needEventMatchesVringNeedEvent() {
        assertTrue(SplitVirtqueue.needEvent(0, 1, 0));
        assertFalse(SplitVirtqueue.needEvent(1, 1, 0));
        assertTrue(SplitVirtqueue.needEvent(4, 6, 2));
        assertFalse(SplitVirtqueue.needEvent(6, 6, 2));
        assertTrue(SplitVirtqueue.needEvent(0xFFFF, 1, 0xFFFE)); // wrap-around
        assertFalse(SplitVirtqueue.needEvent(5, 3, 3));
    }

    @Test
    void eventIdxSuppressesInterruptsUntilUsedEvent() {
        drv = new Driver(new VirtioRng(), SIZE).start();
        assertTrue(Virtio.has(drv.mmio.core().driverFeatures(), Virtio.F_RING_EVENT_IDX));
        drv.ram.writeU16(USED_EVENT, (short) 0);
        request(0); // used 0 -> 1 crosses used_event 0
        assertEquals(1, drv.usedIdx());
        assertEquals(64, drv.usedLen(0));
        assertEquals(1, drv.irq.raises);
        assertEquals(Virtio.INT_VRING, drv.ackInterrupt());
        assertFalse(drv.irq.level);
        // the device asks to be notified at the next available entry
        assertEquals(1, drv.ram.readU16(AVAIL_EVENT));

        drv.ram.writeU16(USED_EVENT, (short) 3); // interrupt me once entry 3 is used (used idx 3 -> 4)
        request(1);
        request(2);
        assertEquals(3, drv.usedIdx());
        assertEquals(1, drv.irq.raises, "no interrupt before used_event");
        request(3);
        assertEquals(4, drv.usedIdx());
        assertEquals(2, drv.irq.raises);
        drv.ackInterrupt();
        request(4); // used_event already passed: quiet
        assertEquals(5, drv.usedIdx());
        assertEquals(2, drv.irq.raises);
        drv.ackInterrupt();
        assertEquals(5, drv.ram.readU16(AVAIL_EVENT));
        // used flags stay 0 with EVENT_IDX: suppression is by index only
        assertEquals(0, drv.ram.readU16(Driver.USED));
    }

    @Test
    void eventIdxWrapsAround() {
        drv = new Driver(new VirtioRng(), SIZE).start();
        drv.ram.writeU16(USED_EVENT, (short) 0xFFFF);
        int raises = 0;
        for (int i = 0; i < 0x10002; i++) {
            drv.desc(0, Driver.DATA, 1, SplitVirtqueue.DESC_F_WRITE, 0);
            drv.offer(0);
            drv.kick(0);
            if (drv.irq.level) {
                raises++;
                drv.ackInterrupt();
                assertEquals(0, (drv.usedIdx()) & 0xFFFF, "interrupt when used idx passes 0xFFFF");
            }
        }
        assertEquals(1, raises);
    }

    @Test
    void noInterruptFlagWithoutEventIdx() {
        drv = new Driver(new VirtioRng(), SIZE).start(~Virtio.bit(Virtio.F_RING_EVENT_IDX));
        assertFalse(Virtio.has(drv.mmio.core().driverFeatures(), Virtio.F_RING_EVENT_IDX));
        drv.ram.writeU16(Driver.AVAIL, (short) SplitVirtqueue.AVAIL_F_NO_INTERRUPT);
        request(0);
        request(1);
        assertEquals(2, drv.usedIdx());
        assertEquals(0, drv.irq.raises);
        drv.ram.writeU16(Driver.AVAIL, (short) 0);
        request(2);
        assertEquals(1, drv.irq.raises);
        // between batches the device wants notifications: used.flags clear
        assertEquals(0, drv.ram.readU16(Driver.USED));
    }

    @Test
    void batchedRequestsGetOneInterrupt() {
        drv = new Driver(new VirtioRng(), SIZE).start();
        drv.ram.writeU16(USED_EVENT, (short) 0);
        for (int i = 0; i < 5; i++) {
            drv.desc(i, Driver.DATA + 0x100L * i, 32, SplitVirtqueue.DESC_F_WRITE, 0);
            drv.offer(i);
        }
        drv.kick(0);
        assertEquals(5, drv.usedIdx());
        assertEquals(1, drv.irq.raises);
        for (int i = 0; i < 5; i++) {
            assertEquals(i, drv.usedId(i));
            assertEquals(32, drv.usedLen(i));
        }
    }

    @Test
    void rngFillsBuffersWithEntropy() {
        drv = new Driver(new VirtioRng(), SIZE).start();
        long table = Driver.DATA + 0x8000;
        drv.desc(table, 0, Driver.DATA + 0x1000, 3000, SplitVirtqueue.DESC_F_WRITE | SplitVirtqueue.DESC_F_NEXT, 1);
        drv.desc(table, 1, Driver.DATA + 0x3000, 5000, SplitVirtqueue.DESC_F_WRITE, 0);
        drv.desc(0, table, 32, SplitVirtqueue.DESC_F_INDIRECT, 0);
        drv.offer(0);
        drv.kick(0);
        assertEquals(8000, drv.usedLen(0));
        byte[] got = new byte[5000];
        drv.ram.read(Driver.DATA + 0x3000, got, 0, got.length);
        int zeros = 0;
        for (byte b : got) {
            zeros += b == 0 ? 1 : 0;
        }
        assertTrue(zeros < 100, "random bytes, not zeros: " + zeros);
    }

    @Test
    void resetWhileTheIoThreadIsBusy() throws Exception {
        drv = new Driver(new VirtioRng(), SIZE).start();
        try (VirtioIoThread io = new VirtioIoThread("virtio-test-io")) {
            drv.mmio.core().setExecutor(io);
            for (int round = 0; round < 20; round++) {
                for (int i = 0; i < SIZE; i++) {
                    drv.desc(i, Driver.DATA + 0x1000L * i, 4096, SplitVirtqueue.DESC_F_WRITE, 0);
                    drv.offer(i);
                }
                drv.kick(0);
                drv.w(VirtioMmioTransport.STATUS, 0); // waits for the request in flight, if any
                assertEquals(0, drv.status());
                drv.availIdx = 0;
                drv.ram.fill(Driver.AVAIL, 0x1000, (byte) 0);
                drv.ram.fill(Driver.USED, 0x1000, (byte) 0);
                drv.start();
            }
        }
        assertEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
    }

    @Test
    void processingOnAnIoThread() throws Exception {
        drv = new Driver(new VirtioRng(), SIZE).start();
        try (VirtioIoThread io = new VirtioIoThread("virtio-test-io")) {
            drv.mmio.core().setExecutor(io);
            for (int i = 0; i < 50; i++) {
                drv.desc(i % SIZE, Driver.DATA, 16, SplitVirtqueue.DESC_F_WRITE, 0);
                drv.offer(i % SIZE);
                drv.kick(0);
                for (int n = 0; drv.usedIdx() != i + 1; n++) {
                    assertTrue(n < 100_000, "the io thread never completed request " + i);
                    Thread.sleep(1);
                }
            }
        }
        assertEquals(50, drv.usedIdx());
    }
}
