package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes virtio-balloon's queues (inflate frame lists, deflate, the statistics buffer) through
 * {@link RingFuzzer}, with the host changing its target and asking for statistics between the
 * guest's requests: whatever the driver lists, the device gives back only whole pages, and the
 * configuration it reads is what the host set.
 */
class VirtioBalloonFuzzTest {
    private static final long RAM = 64L << 20;

    @FuzzTest(maxDuration = "60s")
    void requests(FuzzedDataProvider data) {
        VirtioBalloon[] device = new VirtioBalloon[1];
        device[0] = new VirtioBalloon(RAM, data.consumeBoolean(), (gpa, length) -> {
            assertEquals(0, (gpa | length) & 0xFFF, "whole pages");
            assertTrue(length > 0, "a run of at least one page");
            return gpa >= 0 && gpa + length <= RAM;
        }, actualBytes -> { }, msg -> { });
        try (VirtioBalloon b = device[0];
             RingFuzzer f = new RingFuzzer(b).withLayouts(new int[] {64}, new int[] {4096}, new int[] {20, -16},
                 new int[] {100})) {
            f.session(data, d -> {
                if (d.consumeBoolean()) {
                    long target = d.consumeLong(-1, 2 * RAM);
                    b.setTarget(target);
                    long keep = Math.min(Math.max(target, 0), RAM);
                    assertEquals((RAM - keep) >>> VirtioBalloon.PAGE_SHIFT, b.targetPages());
                    assertEquals(b.targetPages(), b.readConfig(0, 4), "num_pages as set");
                } else {
                    b.requestStats();
                }
            });
        }
    }
}
