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
     * PUNPCKLQDQ (66 0F 6C) computes PUNPCKHQDQ in tcg. Repro: {@code 66 0f 6c fe punpcklqdq xmm7,xmm6}
     * with xmm6 = c58c07d7e9075224_fff10421363d0001, xmm7 = 7efb080008002c50_e4e6f4e400800000:
     * host xmm7 = fff10421363d0001_e4e6f4e400800000, tcg c58c07d7e9075224_7efb080008002c50.
     */
    static boolean punpcklqdq() {
        return !INCLUDE;
    }

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
