package org.jvisor.tcg.diff;

/**
 * tcg bugs the fuzzer has found and that are not fixed yet. Generators leave these forms out so
 * the suite stays green for everything else; {@code -Djvisor.fuzz.knownBugs=true} puts them back
 * (to check a fix, or in the long fuzz run). Remove an entry once tcg passes with it enabled.
 */
final class KnownBugs {
    private KnownBugs() {
    }

    /** Include the known-bad forms anyway. */
    static final boolean INCLUDE = Boolean.getBoolean("jvisor.fuzz.knownBugs");

    // None at the moment. Fixed and removed: LOCK read-modify-write of a byte or word (now a CAS
    // on the containing dword) and 32-bit shifts with a masked count of 0 (now zero-extended like
    // every 32-bit register write); the generators produce those forms again.
}
