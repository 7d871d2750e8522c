package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.RawFileBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A guest that breaks the ring protocol gets DEVICE_NEEDS_RESET; the VMM carries on. */
class BadRingTest {
    static final long HDR = Driver.DATA;
    static final long STATUS = Driver.DATA + 0x100;
    static final long BUF = Driver.DATA + 0x1000;
    static final int W = SplitVirtqueue.DESC_F_WRITE;
    static final int N = SplitVirtqueue.DESC_F_NEXT;

    @TempDir
    Path dir;
    RawFileBackend backend;
    Driver drv;

    @BeforeEach
    void setUp() throws IOException {
        Path p = dir.resolve("d.img");
        Files.write(p, new byte[16 * 1024]);
        backend = RawFileBackend.open(p, false, CacheMode.WRITEBACK, msg -> { });
        drv = new Driver(new VirtioBlk(backend, "bad", 8, msg -> { }), 8).start();
    }

    @AfterEach
    void tearDown() throws IOException {
        drv.close();
        backend.close();
    }

    void header(int type) {
        drv.ram.writeU32(HDR, type);
        drv.ram.writeU64(HDR + 8, 0);
    }

    /** Asserts NEEDS_RESET with a reason mentioning {@code what}, a config interrupt, then recovers. */
    void assertNeedsResetAndRecovers(String what) {
        drv.offer(0);
        drv.kick(0);
        assertTrue((drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0, "NEEDS_RESET set");
        assertTrue(drv.irq.level, "config change interrupt");
        assertEquals(Virtio.INT_CONFIG, drv.ackInterrupt() & Virtio.INT_CONFIG);
        assertTrue(drv.mmio.core().needsResetReason().contains(what), drv.mmio.core().needsResetReason());
        assertEquals(1, drv.log.size(), "logged once: " + drv.log);
        // further notifications are ignored, nothing is completed
        int used = drv.usedIdx();
        drv.offer(0);
        drv.kick(0);
        assertEquals(used, drv.usedIdx());
        // the driver resets the device and starts over; a good request works
        drv.availIdx = 0;
        drv.ram.fill(Driver.AVAIL, 0x1000, (byte) 0);
        drv.ram.fill(Driver.USED, 0x1000, (byte) 0);
        drv.start();
        assertEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
        header(VirtioBlk.T_IN);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, BUF, 512, N | W, 2);
        drv.desc(2, STATUS, 1, W, 0);
        drv.offer(0);
        drv.kick(0);
        assertEquals(1, drv.usedIdx());
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS));
    }

    @Test
    void descriptorLoop() {
        header(VirtioBlk.T_IN);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, BUF, 512, N | W, 2);
        drv.desc(2, BUF, 512, N | W, 1);
        assertNeedsResetAndRecovers("loop");
    }

    @Test
    void loopInsideIndirectTable() {
        long table = Driver.DATA + 0x8000;
        header(VirtioBlk.T_IN);
        drv.desc(table, 0, HDR, 16, N, 1);
        drv.desc(table, 1, BUF, 16, N | W, 0);
        drv.desc(0, table, 32, SplitVirtqueue.DESC_F_INDIRECT, 0);
        assertNeedsResetAndRecovers("loop");
    }

    @Test
    void bufferOutsideRam() {
        header(VirtioBlk.T_IN);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, (2L << 20) - 256, 512, N | W, 2); // crosses the end of the 2 MiB of RAM
        drv.desc(2, STATUS, 1, W, 0);
        assertNeedsResetAndRecovers("outside guest memory");
    }

    @Test
    void bufferAtAbsurdAddress() {
        header(VirtioBlk.T_IN);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, 0xFFFF_FFFF_FFFF_FF00L, 512, N | W, 2);
        drv.desc(2, STATUS, 1, W, 0);
        assertNeedsResetAndRecovers("outside guest memory");
    }

    @Test
    void readRequestIntoReadOnlyBuffer() {
        header(VirtioBlk.T_IN);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, BUF, 512, N, 2); // data the device would have to write, marked device-readable
        drv.desc(2, STATUS, 1, W, 0);
        assertNeedsResetAndRecovers("device-readable");
    }

    @Test
    void statusByteInReadOnlyBuffer() {
        header(VirtioBlk.T_FLUSH);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, STATUS, 1, 0, 0);
        assertNeedsResetAndRecovers("status needs 1");
    }

    @Test
    void readableAfterWritable() {
        header(VirtioBlk.T_IN);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, BUF, 512, N | W, 2);
        drv.desc(2, STATUS, 1, 0, 0);
        assertNeedsResetAndRecovers("readable descriptor after a writable");
    }

    @Test
    void indirectTableOfBadLength() {
        long table = Driver.DATA + 0x8000;
        header(VirtioBlk.T_FLUSH);
        drv.desc(table, 0, HDR, 16, N, 1);
        drv.desc(table, 1, STATUS, 1, W, 0);
        drv.desc(0, table, 24, SplitVirtqueue.DESC_F_INDIRECT, 0);
        assertNeedsResetAndRecovers("bad length");
    }

    @Test
    void nestedIndirect() {
        long table = Driver.DATA + 0x8000;
        drv.desc(table, 0, table, 16, SplitVirtqueue.DESC_F_INDIRECT, 0);
        drv.desc(0, table, 16, SplitVirtqueue.DESC_F_INDIRECT, 0);
        assertNeedsResetAndRecovers("inside an indirect table");
    }

    @Test
    void headBeyondQueueSize() {
        drv.ram.writeU16(Driver.AVAIL + 4, (short) 9);
        drv.availIdx++;
        drv.ram.writeU16(Driver.AVAIL + 2, (short) drv.availIdx);
        drv.kick(0);
        assertNotEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
        assertTrue(drv.mmio.core().needsResetReason().contains("beyond the queue size"));
    }

    @Test
    void availableIndexRunningAhead() {
        drv.ram.writeU16(Driver.AVAIL + 2, (short) 100);
        drv.kick(0);
        assertNotEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
    }

    @Test
    void ringsOutsideRamAtDriverOk() {
        drv.w(VirtioMmioTransport.STATUS, 0);
        drv.negotiate(-1L);
        drv.w(VirtioMmioTransport.QUEUE_SEL, 0);
        drv.w(VirtioMmioTransport.QUEUE_NUM, 8);
        drv.w(VirtioMmioTransport.QUEUE_DESC_LOW, 0x10000);
        drv.w(VirtioMmioTransport.QUEUE_DESC_HIGH, 0x10); // 64 GiB: not RAM
        drv.w(VirtioMmioTransport.QUEUE_DRIVER_LOW, (int) Driver.AVAIL);
        drv.w(VirtioMmioTransport.QUEUE_DEVICE_LOW, (int) Driver.USED);
        drv.w(VirtioMmioTransport.QUEUE_READY, 1);
        drv.addStatus(Virtio.STATUS_DRIVER_OK);
        assertNotEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
        assertTrue(drv.mmio.core().needsResetReason().contains("descriptor table"));
    }
}
