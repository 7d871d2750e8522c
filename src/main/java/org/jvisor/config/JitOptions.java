package org.jvisor.config;

/**
 * Settings of the tcg engine's bytecode translator ({@code -accel
 * tcg,jit=on|off,jit-threshold=N,jit-burst=N,jit-steady=N}): guest code the interpreter enters
 * often is compiled to JVM bytecode.
 *
 * @param enabled   translate hot code (off: every instruction is interpreted)
 * @param threshold times the interpreter enters a block before it is translated; 0 translates
 *                  every block the first time it runs (for tests)
 * @param maxInsns  instructions per translation unit at most
 * @param burst     entries within one window of {@link #BURST_WINDOW} retired instructions that
 *                  make a block of user code hot before the threshold (0: the threshold alone)
 * @param steady    entries after which a block of kernel code entered at a steady rate (at most
 *                  2^{@link #STEADY_RATE_SHIFT} entries per window of {@link #BURST_WINDOW}
 *                  retired instructions, on average) is hot before the threshold (0: the threshold alone)
 */
public record JitOptions(boolean enabled, int threshold, int maxInsns, int burst, int steady) {
    /** Block entries before translation: enough that the unit's JIT warm-up pays off. */
    public static final int DEFAULT_THRESHOLD = 20_000;
    public static final int DEFAULT_MAX_INSNS = 384;
    /**
     * Entries in one window that make a block hot at once. The threshold counts for as long as
     * the VM runs, so it cannot tell a loop that is hot now (md5sum's rounds: 20000 entries are
     * 4% of hashing 32 MiB, interpreted) from code an idle guest enters once a second, which a
     * lower threshold would compile by the hundred (BENCHMARKS.md, "Translating sooner"). A burst
     * is a rate: such idle code never reaches 1000 entries in 2^20 instructions, a loop does
     * within its first few milliseconds. User code only (kernel code bursts by the hundred while
     * Linux boots, each for a moment: see TcgCpu#burstHot).
     */
    public static final int DEFAULT_BURST = 1000;
    /** The burst window, in retired instructions (a power of two: 2^20). */
    public static final long BURST_WINDOW = 1L << 20;
    /**
     * Entries that make kernel code hot when they came at a steady rate. Kernel code cannot use
     * bursts (a boot's initcalls burst by the hundred, each once), and the threshold alone leaves
     * code a workload runs at a steady rate interpreted for a long time: md5sum's read path,
     * entered once per 4 KiB read (~17 times per window), reached 20000 entries in the third
     * md5sum of 32 MiB only, so runs 2-3 took 0.63-0.69 s against 0.53 s once translated
     * (BENCHMARKS.md, "Steady kernel code").
     */
    public static final int DEFAULT_STEADY = 4096;
    /**
     * Busy windows a kernel entry must have been entered in to be steady whatever its rate, while
     * the guest runs mostly user code (TcgCpu#servingUser): the read path's system-call entry
     * runs ~37 times per window while md5sum reads, over the rate cap, and waited for the
     * threshold, to the end of the first md5sum (BENCHMARKS.md, "Crossing instructions, the
     * system-call path and a dispatcher deopt"). Not while Linux boots: its kernel code entered
     * in 128 windows made ~120 more units.
     */
    public static final int STEADY_WINDOWS = 128;
    /** At most 2^5 = 32 entries per window on average count as a steady rate. */
    public static final int STEADY_RATE_SHIFT = 5;
    /**
     * Instructions retired since the guest last halted before its windows count towards a steady
     * rate (16 windows): an idle guest's work between two halts is well under one window.
     */
    public static final long STEADY_BUSY = 16 * BURST_WINDOW;

    /**
     * Interpreted instructions that count as one more entry of the block they ran in (blocks of
     * at least this many instructions only): a block entered 20000 times is hot however long it
     * is, and straight-line code a page long was interpreted 20000 times over before it was
     * translated (BENCHMARKS.md, "Long blocks and warm units").
     */
    public static final int LONG_BLOCK = 16;

    /** The given settings with the default burst and steady count. */
    public JitOptions(boolean enabled, int threshold, int maxInsns) {
        this(enabled, threshold, maxInsns, DEFAULT_BURST, DEFAULT_STEADY);
    }

    public JitOptions {
        if (threshold < 0) {
            throw new IllegalArgumentException("jit-threshold must be 0 or more, not " + threshold);
        }
        if (burst < 0) {
            throw new IllegalArgumentException("jit-burst must be 0 or more, not " + burst);
        }
        if (steady < 0) {
            throw new IllegalArgumentException("jit-steady must be 0 or more, not " + steady);
        }
        if (maxInsns < 1) {
            throw new IllegalArgumentException("the unit size must be at least one instruction");
        }
    }

    /** Translation off: every instruction is interpreted. */
    public static final JitOptions OFF = new JitOptions(false, DEFAULT_THRESHOLD, DEFAULT_MAX_INSNS, DEFAULT_BURST, DEFAULT_STEADY);

    /**
     * The defaults, overridden by system properties (so test JVMs can force a mode on every
     * engine they build): {@code jvisor.tcg.jit=on|off|always} (always = threshold 0),
     * {@code jvisor.tcg.jitThreshold=N}, {@code jvisor.tcg.jitMaxInsns=N}, {@code jvisor.tcg.jitBurst=N},
     * {@code jvisor.tcg.jitSteady=N}.
     */
    public static JitOptions fromSystemProperties() {
        String mode = System.getProperty("jvisor.tcg.jit", "on");
        int threshold = Integer.getInteger("jvisor.tcg.jitThreshold", DEFAULT_THRESHOLD);
        int maxInsns = Integer.getInteger("jvisor.tcg.jitMaxInsns", DEFAULT_MAX_INSNS);
        int burst = Integer.getInteger("jvisor.tcg.jitBurst", DEFAULT_BURST);
        int steady = Integer.getInteger("jvisor.tcg.jitSteady", DEFAULT_STEADY);
        return switch (mode) {
            case "off" -> new JitOptions(false, threshold, maxInsns, burst, steady);
            case "always" -> new JitOptions(true, 0, maxInsns, burst, steady);
            case "on" -> new JitOptions(true, threshold, maxInsns, burst, steady);
            default -> throw new IllegalArgumentException("jvisor.tcg.jit: on, off or always, not " + mode);
        };
    }

    /** These settings with translation on or off. */
    public JitOptions withEnabled(boolean on) {
        return new JitOptions(on, threshold, maxInsns, burst, steady);
    }

    /** These settings with another threshold (0: translate every block at once). */
    public JitOptions withThreshold(int n) {
        return new JitOptions(enabled, n, maxInsns, burst, steady);
    }

    /** These settings with another burst (0: the threshold alone). */
    public JitOptions withBurst(int n) {
        return new JitOptions(enabled, threshold, maxInsns, n, steady);
    }

    /** These settings with another steady count (0: kernel code waits for the threshold). */
    public JitOptions withSteady(int n) {
        return new JitOptions(enabled, threshold, maxInsns, burst, n);
    }
}
