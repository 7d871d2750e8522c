package org.jvisor.devices.virtio;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/** Fuzzes virtio-rng's requests (any chain, readable parts included) through {@link RingFuzzer}. */
class VirtioRngFuzzTest {
    @FuzzTest(maxDuration = "60s")
    void requests(FuzzedDataProvider data) {
        try (RingFuzzer f = new RingFuzzer(new VirtioRng()).withLayouts(new int[] {-64}, new int[] {-4096},
                 new int[] {-16, -16}, new int[] {16, -16})) {
            f.session(data, d -> { });
        }
    }
}
