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

    /**
     * LOCK-prefixed read-modify-write (and XCHG with memory, which is implicitly locked) of a byte
     * or word throws UnsupportedOperationException("compareAndSet") in tcg: Interpreter.cas uses
     * the MemorySegment byte/short VarHandles, which have no atomic access modes.
     * Repro: {@code f0 00 08  lock add [rax], cl} with rax = any RAM address.
     */
    static boolean lockedSubDword(int size) {
        return !INCLUDE && size < 32;
    }

    /**
     * A 32-bit shift, rotate, SHLD or SHRD whose masked count is 0 leaves bits 63:32 of the
     * destination register alone in tcg; the host CPU (and Bochs) zero-extends as for every 32-bit
     * register write. Repro: {@code c1 e0 00  shl eax, 0} with rax = 0xffffffff_00000001 gives
     * 0x00000000_00000001 on the host, 0xffffffff_00000001 in tcg.
     */
    static boolean shift32CountZero(int size, int maskedCount, Asm.Rm dest) {
        return !INCLUDE && size == 32 && maskedCount == 0 && dest instanceof Asm.Reg;
    }
}
