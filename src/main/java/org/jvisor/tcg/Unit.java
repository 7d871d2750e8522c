package org.jvisor.tcg;

/**
 * Translated guest code: a {@link Region} compiled to the {@link #run} method of a hidden class
 * (one class per unit, so HotSpot compiles, inlines and unloads each on its own). The method works
 * on the guest registers in X86State and keeps the lazy-flags record in JVM locals; it runs until
 * the region exits, then stores the flags record, the next RIP and the retired-instruction count.
 * (Registers in locals made C2's register allocation the dominant cost of compiling large units.)
 * <p>
 * A guest exception inside the unit leaves the state the interpreter would: the registers are in
 * X86State, as they were before the faulting instruction (instructions do every access that can
 * fault before they write anything); the method catches the exception, stores the flags record
 * from its locals (unless the instruction was interpreted, which keeps LazyFlags itself), sets RIP
 * to that instruction and the retired count to the instructions completed, and rethrows.
 */
abstract class Unit {
    /** Linear RIP of the entry; the unit covers [{@link #minRip}, {@link #maxEnd}) of one page. */
    final long rip;
    final long minRip;
    final long maxEnd;
    /** Host offset of the code page the unit was translated from. */
    final long hostPage;
    /** Per instruction index: its RIP, for faults. */
    final long[] faultRip;
    /** Per instruction index: retired-count adjustment to add to the block counter on a fault. */
    final int[] faultAdj;
    /** Per instruction index: interpreted (it keeps LazyFlags exact itself, also when it faults part-way). */
    final boolean[] interpreted;
    /** Instructions the unit hands to the interpreter, indexed by the generated code. */
    final Insn[] helpers;
    final int insnCount;
    /** Times run and instructions retired in it (for -d jit; racy between vCPUs, which is fine for a report). */
    long runs;
    long retired;
    final int nativeCount;
    /** False once the page was written or the unit evicted; the dispatcher then drops it. */
    volatile boolean valid = true;
    /**
     * The unit the dispatcher last found where this one exited (QEMU's direct jump, kept out of
     * the generated code): tried before the lookup, and trusted only after checking the target's
     * own final fields against the running vCPU, never anything stored with the link, so vCPUs
     * (with their own page tables) share it, and a racing write only costs a lookup.
     */
    Unit next;

    /** Everything a generated constructor passes to its superclass. */
    record Info(long rip, long minRip, long maxEnd, long hostPage, long[] faultRip, int[] faultAdj,
                boolean[] interpreted, Insn[] helpers, int nativeCount) {
    }

    protected Unit(Info info) {
        this.rip = info.rip();
        this.minRip = info.minRip();
        this.maxEnd = info.maxEnd();
        this.hostPage = info.hostPage();
        this.faultRip = info.faultRip();
        this.faultAdj = info.faultAdj();
        this.interpreted = info.interpreted();
        this.helpers = info.helpers();
        this.insnCount = faultRip.length;
        this.nativeCount = info.nativeCount();
    }

    /**
     * Runs from the entry until the region exits, or until a backward branch finds that
     * {@code budget} instructions have retired. On return s.rip is the next instruction. A
     * negative budget is a warm-up call: it returns at once and {@code c} may be null.
     */
    abstract void run(TcgCpu c, int budget);

    /** Whether {@code lin} lies inside the code this unit covers (a stop address must not). */
    final boolean covers(long lin) {
        return lin >= minRip && lin < maxEnd && lin != rip;
    }
}
