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
}
