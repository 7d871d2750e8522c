package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.backend.rng.BuiltinEntropy;
import org.jvisor.backend.rng.EntropySource;
import org.jvisor.backend.rng.FileEntropy;

/** virtio-rng through its queue: what the guest's buffers receive and what the source is asked for. */
class VirtioRngTest {
    /** A source that counts: byte k of its output is k mod 256, so reuse or skipping shows. */
    private static final class CountingSource extends SecureRandom {
        long drawn;

        @Override
        public void nextBytes(byte[] out) {
            for (int i = 0; i < out.length; i++) {
                out[i] = (byte) (drawn + i);
            }
            drawn += out.length;
        }
    }

    private final CountingSource source = new CountingSource();
    private final Driver drv = new Driver(new VirtioRng(new BuiltinEntropy(source)), 8).start();

    @AfterEach
    void tearDown() {
        drv.close();
    }

    private void request(int i, int length) {
        drv.desc(i, Driver.DATA + 0x2000L * i, length, SplitVirtqueue.DESC_F_WRITE, 0);
        drv.offer(i);
        drv.kick(0);
    }

    @Test
    void everyByteGoesToTheGuestOnceAndSmallRequestsCostLittle() {
        long expected = 0;
        int[] lengths = {64, 1, 4000, 300, 64};
        for (int i = 0; i < lengths.length; i++) {
            request(i, lengths[i]);
            assertEquals(i + 1, drv.usedIdx());
            assertEquals(lengths[i], drv.usedLen(i));
            for (int k = 0; k < lengths[i]; k++) {
                assertEquals((byte) expected, drv.ram.readU8(Driver.DATA + 0x2000L * i + k), "request " + i + " byte " + k);
                expected++;
            }
        }
        // 4429 bytes went to the guest: two 4 KiB draws from the source, not one per request
        assertEquals(8192, source.drawn);
    }

    /** A driver on a device of its own (the field's is on the counting source). */
    private static Driver driverFor(VirtioRng rng) {
        return new Driver(rng, 8).start();
    }

    private static void request(Driver d, int i, int length) {
        d.desc(i, Driver.DATA + 0x2000L * i, length, SplitVirtqueue.DESC_F_WRITE, 0);
        d.offer(i);
        d.kick(0);
    }

    @Test
    void maxBytesPerPeriodHoldsRequestsUntilThePeriodEnds() {
        long[] now = {1_000_000_000L};
        List<String> log = new ArrayList<>();
        // 100 bytes per second, QEMU's max-bytes=100,period=1000
        VirtioRng rng = new VirtioRng(new BuiltinEntropy(source), 100, 1000, () -> now[0], log::add);
        // the device closes first: its own later look at the queue must not outlive guest RAM
        try (Driver d = driverFor(rng); VirtioRng closedFirst = rng) {
            request(d, 0, 64);
            request(d, 1, 64);
            assertEquals(2, d.usedIdx());
            assertEquals(64, d.usedLen(0));
            assertEquals(36, d.usedLen(1), "the period's last 36 bytes");
            request(d, 2, 64);
            assertEquals(2, d.usedIdx(), "nothing more within the period, however often the driver kicks");
            d.kick(0);
            now[0] += 999_000_000L;
            d.kick(0);
            assertEquals(2, d.usedIdx(), "1 ms before the period ends");
            now[0] += 1_000_000L;
            d.kick(0);
            assertEquals(3, d.usedIdx(), "a new period: the waiting request is served");
            assertEquals(64, d.usedLen(2));
            assertEquals(List.of(), log);
        }
    }

    @Test
    void rngRandomGivesTheFilesBytesInOrderAndRequestsWaitAtItsEnd(@TempDir Path dir) throws Exception {
        byte[] content = new byte[100];
        new java.util.Random(7).nextBytes(content);
        Path file = Files.write(dir.resolve("entropy.bin"), content);
        List<String> log = new ArrayList<>();
        try (FileEntropy source = FileEntropy.open(file.toString());
             VirtioRng rng = new VirtioRng(source, Long.MAX_VALUE, 1000, System::nanoTime, log::add);
             Driver d = driverFor(rng);
             VirtioRng closedFirst = rng) {
            request(d, 0, 64);
            request(d, 1, 64);
            request(d, 2, 64);
            assertEquals(2, d.usedIdx(), "the third request waits: the file has ended");
            assertEquals(64, d.usedLen(0));
            assertEquals(36, d.usedLen(1));
            for (int k = 0; k < 100; k++) {
                long at = Driver.DATA + (k < 64 ? k : 0x2000L + k - 64);
                assertEquals(content[k], d.ram.readU8(at), "byte " + k);
            }
            assertTrue(source.exhausted());
            assertEquals(1, log.size(), log.toString());
            assertTrue(log.getFirst().contains("rng-random " + file) && log.getFirst().contains("no more bytes"), log.toString());
        }
    }

    @Test
    void aMissingFileIsAClearError(@TempDir Path dir) {
        IOException e = assertThrows(IOException.class, () -> FileEntropy.open(dir.resolve("none").toString()));
        assertTrue(e.getMessage().contains("could not open '" + dir.resolve("none") + "'"), e.getMessage());
    }

    /** Gives nothing until {@link #fill} is set, as a hardware generator that has not produced yet. */
    private static final class LateSource implements EntropySource {
        volatile boolean fill;
        volatile int asked;

        @Override
        public int read(byte[] buf, int offset, int length) {
            asked++;
            if (!fill) {
                return 0;
            }
            java.util.Arrays.fill(buf, offset, offset + length, (byte) 0x5A);
            return length;
        }

        @Override
        public String describe() {
            return "late";
        }
    }

    @Test
    void aRequestTheSourceCouldNotServeIsServedWhenItHasBytesWithoutAnotherKick() throws Exception {
        LateSource late = new LateSource();
        VirtioRng rng = new VirtioRng(late);
        try (Driver d = driverFor(rng); VirtioRng closedFirst = rng) {
            request(d, 0, 16);
            assertEquals(0, d.usedIdx());
            awaitTrue(() -> late.asked >= 3, "the device to ask the source again by itself");
            assertEquals(0, d.usedIdx());
            late.fill = true;
            awaitTrue(() -> d.usedIdx() == 1, "the waiting request to be served");
            assertEquals(16, d.usedLen(0));
            assertEquals(0x5A, d.ram.readU8(Driver.DATA) & 0xFF);
        }
    }

    /** Waits for {@code condition}; the minute is a hang guard, not a speed check. */
    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + 60_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                fail("gave up waiting for " + what);
            }
            Thread.sleep(5);
        }
    }
}
