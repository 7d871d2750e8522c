package org.jvisor.testing;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * A fuzz target with a planted condition that random inputs practically never meet: six bytes
 * compared one at a time, so only coverage feedback (each matching byte reaches a new branch)
 * leads the fuzzer there. {@link FuzzerCoverageTest} fuzzes it and expects the finding; with
 * instrumentation off (a class file version Jazzer cannot read, an instrumentation filter that
 * misses our classes) the magic is not found and that test fails.
 */
class PlantedMagicFuzzTest {
    /** What the fuzzer must find; the message {@link FuzzerCoverageTest} looks for. */
    static final class PlantedMagicFound extends RuntimeException {
        PlantedMagicFound() {
            super("planted magic found");
        }
    }

    @FuzzTest(maxDuration = "60s")
    void plantedMagic(byte[] data) {
        if (data.length >= 6 && data[0] == 'j') {
            if (data[1] == 'v') {
                if (data[2] == 'i') {
                    if (data[3] == 's') {
                        if (data[4] == 'o') {
                            if (data[5] == 'r') {
                                throw new PlantedMagicFound();
                            }
                        }
                    }
                }
            }
        }
    }
}
