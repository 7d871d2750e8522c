package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.security.SecureRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

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
    private final Driver drv = new Driver(new VirtioRng(source), 8).start();

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
}
