package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** QEMU's adjust_polling_time: grow from 4 µs by poll-grow, shrink past poll-max-ns, cap, never with 0. */
class PollWindowTest {
    @Test
    void growsFromFourMicrosecondsDoublingUpToTheMaximum() {
        PollWindow w = new PollWindow(32768, 0, 0);
        assertTrue(w.enabled());
        assertEquals(0, w.ns());
        w.adjust(10_000);           // waited 10 µs, under the maximum: start polling
        assertEquals(4000, w.ns());
        w.adjust(10_000);
        assertEquals(8000, w.ns());
        w.adjust(10_000);
        assertEquals(16000, w.ns());
        w.adjust(20_000);
        assertEquals(32000, w.ns());
        w.adjust(32_500);
        assertEquals(32768, w.ns(), "capped at poll-max-ns");
        w.adjust(32_700);
        assertEquals(32768, w.ns());
    }

    @Test
    void anEventWithinTheWindowLeavesItAlone() {
        PollWindow w = new PollWindow(1_000_000, 0, 0);
        w.adjust(5000);
        w.adjust(5000);
        assertEquals(8000, w.ns());
        w.adjust(8000);
        w.adjust(1);
        assertEquals(8000, w.ns(), "the sweet spot");
    }

    @Test
    void aWaitLongerThanTheMaximumShrinks() {
        PollWindow reset = new PollWindow(100_000, 0, 0);
        reset.adjust(50_000);
        reset.adjust(50_000);
        assertEquals(8000, reset.ns());
        reset.adjust(100_001);
        assertEquals(0, reset.ns(), "poll-shrink 0: back to 0");

        PollWindow halving = new PollWindow(100_000, 4, 2);
        halving.adjust(50_000);
        halving.adjust(50_000);
        halving.adjust(50_000);
        assertEquals(64_000, halving.ns(), "poll-grow 4");
        halving.adjust(1_000_000);
        assertEquals(32_000, halving.ns(), "poll-shrink 2");
        halving.adjust(1_000_000);
        assertEquals(16_000, halving.ns());
    }

    @Test
    void aZeroMaximumNeverPolls() {
        PollWindow w = new PollWindow(0, 0, 0);
        assertFalse(w.enabled());
        for (long block : new long[] {0, 1, 4000, 1_000_000_000}) {
            w.adjust(block);
            assertEquals(0, w.ns());
        }
    }

    @Test
    void aHugeGrowFactorCapsWithoutOverflow() {
        PollWindow w = new PollWindow(Long.MAX_VALUE / 2, Long.MAX_VALUE, 0);
        w.adjust(10_000);
        w.adjust(10_000);
        assertEquals(Long.MAX_VALUE / 2, w.ns());
    }

    @Test
    void negativeSettingsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new PollWindow(-1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new PollWindow(1, -1, 0));
        assertThrows(IllegalArgumentException.class, () -> new PollWindow(1, 0, -1));
    }
}
