package org.jvisor.tcg.diff;

/**
 * tcg bugs the fuzzer found that are not fixed yet. Generators leave these forms out so the suite
 * stays green for everything else; {@code -Djvisor.fuzz.knownBugs=true} puts them back (to check a
 * fix; bench/tcg-fuzz.sh passes it through as its fourth argument). Remove an entry once tcg
 * passes with it enabled.
 */
final class KnownBugs {
    private KnownBugs() {
    }

    static final boolean INCLUDE = Boolean.getBoolean("jvisor.fuzz.knownBugs");

    /**
     * SSE arithmetic with a NaN in both operands of a lane: x86 returns the first (destination)
     * operand's NaN (quieted), tcg the second's. Repro: {@code 66 0f 59 f4 mulpd xmm6,xmm4} with
     * xmm6.low = ffffffffffffffff, xmm4.low = 7ffffffc00bffd7f: host ffffffffffffffff, tcg
     * 7ffffffc00bffd7f.
     */
    static boolean nanPair() {
        return !INCLUDE;
    }
}
