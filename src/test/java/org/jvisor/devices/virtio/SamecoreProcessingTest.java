package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.RawFileBackend;

/**
 * Samecore processing ({@link VirtioCore#setProcessOnNotifyingThread}): a notify written through
 * the registers completes the request, interrupt included, before the write returns, on the
 * writing thread; doorbell notifications and the default still go to the executor.
 */
class SamecoreProcessingTest {
    static final long HDR = Driver.DATA;
    static final long STATUS = Driver.DATA + 0x100;
    static final long BUF = Driver.DATA + 0x1000;

    @TempDir
    Path dir;
    Driver drv;
    RawFileBackend backend;
    /** Tasks handed to the executor, held until the test runs them. */
    final List<Runnable> handedOff = new ArrayList<>();
    final Executor holding = handedOff::add;
    byte[] image;

    @AfterEach
    void tearDown() throws IOException {
        if (drv != null) {
            drv.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    Driver blk(boolean samecore) throws IOException {
        image = new byte[64 * 1024];
        new Random(5).nextBytes(image);
        Path p = dir.resolve("disk.img");
        Files.write(p, image);
        backend = RawFileBackend.open(p, false, CacheMode.WRITEBACK, msg -> { });
        drv = new Driver(new VirtioBlk(backend, "d0", 16, msg -> { }, new BlockStats()), 16);
        drv.mmio.core().setExecutor(holding);
        drv.mmio.core().setProcessOnNotifyingThread(samecore);
        return drv.start();
    }

    /** Offers a 4 KiB read of sector {@code sector} (header, data, status), without notifying. */
    void offerRead(long sector) {
        drv.ram.writeU32(HDR, VirtioBlk.T_IN);
        drv.ram.writeU32(HDR + 4, 0);
        drv.ram.writeU64(HDR + 8, sector);
        drv.ram.writeU8(STATUS, (byte) 0x55);
        drv.desc(0, HDR, 16, SplitVirtqueue.DESC_F_NEXT, 1);
        drv.desc(1, BUF, 4096, SplitVirtqueue.DESC_F_NEXT | SplitVirtqueue.DESC_F_WRITE, 2);
        drv.desc(2, STATUS, 1, SplitVirtqueue.DESC_F_WRITE, 0);
        drv.offer(0);
    }

    byte[] readBack() {
        byte[] got = new byte[4096];
        drv.ram.read(BUF, got, 0, got.length);
        return got;
    }

    @Test
    void aNotifyWriteCompletesTheRequestBeforeItReturns() throws IOException {
        blk(true);
        offerRead(8);
        drv.kick(0);
        assertEquals(1, drv.usedIdx(), "completed inside the notify write");
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS) & 0xFF);
        assertArrayEquals(Arrays.copyOfRange(image, 8 * 512, 8 * 512 + 4096), readBack());
        assertTrue(drv.irq.level, "the used buffer interrupt is raised before the write returns");
        assertEquals(0, handedOff.size(), "nothing handed to another thread");
        assertEquals(1, drv.mmio.core().driverNotifies());
        assertEquals(1, drv.mmio.core().notifiesServedInline());
    }

    @Test
    void withoutSamecoreTheNotifyIsHandedToTheExecutor() throws IOException {
        blk(false);
        offerRead(8);
        drv.kick(0);
        assertEquals(0, drv.usedIdx(), "not processed on the notifying thread");
        assertEquals(1, handedOff.size());
        handedOff.removeFirst().run();
        assertEquals(1, drv.usedIdx());
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS) & 0xFF);
        assertEquals(0, drv.mmio.core().notifiesServedInline());
    }

    @Test
    void doorbellNotificationsStillGoToTheExecutor() throws IOException {
        blk(true);
        offerRead(8);
        drv.mmio.core().doorbellNotify(0);   // kvm's ioeventfd thread serves every device: never block it
        assertEquals(0, drv.usedIdx());
        assertEquals(1, handedOff.size());
        handedOff.removeFirst().run();
        assertEquals(1, drv.usedIdx());
        assertEquals(1, drv.mmio.core().driverNotifies());
        assertEquals(0, drv.mmio.core().notifiesServedInline());
    }

    @Test
    void aBadRequestMarksTheDeviceAndTheWriteStillReturns() throws IOException {
        blk(true);
        drv.desc(0, HDR, 8, 0, 0);   // a header too short and no status byte
        drv.offer(0);
        drv.kick(0);
        assertTrue((drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET, not an exception");
        assertEquals(0, drv.usedIdx());
    }

    @Test
    void anIoErrorIsReportedInTheRequestStatus() throws IOException {
        blk(true);
        offerRead(127);   // 4 KiB from the last sector: past the end of the 64 KiB disk
        drv.kick(0);
        assertEquals(1, drv.usedIdx());
        assertEquals(VirtioBlk.S_IOERR, drv.ram.readU8(STATUS) & 0xFF);
    }

    @Test
    void onlyARawImageOnThePageCacheIsServedOnTheVcpuThread() throws IOException {
        Path p = dir.resolve("other.img");
        Files.write(p, new byte[64 * 1024]);
        try (RawFileBackend cached = RawFileBackend.open(p, false, CacheMode.WRITEBACK, msg -> { })) {
            assertTrue(cached.synchronousOnPageCache());
        }
        try (RawFileBackend direct = RawFileBackend.open(p, false, CacheMode.NONE, msg -> { })) {
            // O_DIRECT goes to the device (milliseconds), unless the filesystem refused it (tmpfs)
            assertEquals(!direct.direct(), direct.synchronousOnPageCache());
        }
    }
}
