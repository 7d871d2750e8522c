package org.jvisor.config;

/**
 * Settings of the tcg engine's bytecode translator ({@code -accel tcg,jit=on|off,jit-threshold=N}):
 * guest code the interpreter enters often is compiled to JVM bytecode.
 *
 * @param enabled   translate hot code (off: every instruction is interpreted)
 * @param threshold times the interpreter enters a block before it is translated; 0 translates
 *                  every block the first time it runs (for tests)
 * @param maxInsns  instructions per translation unit at most
 */
public record JitOptions(boolean enabled, int threshold, int maxInsns) {
    /** Block entries before translation: enough that the unit's JIT warm-up pays off. */
    public static final int DEFAULT_THRESHOLD = 20_000;
    public static final int DEFAULT_MAX_INSNS = 384;

    public JitOptions {
        if (threshold < 0) {
            throw new IllegalArgumentException("jit-threshold must be 0 or more, not " + threshold);
        }
        if (maxInsns < 1) {
            throw new IllegalArgumentException("the unit size must be at least one instruction");
        }
    }

    /** Translation off: every instruction is interpreted. */
    public static final JitOptions OFF = new JitOptions(false, DEFAULT_THRESHOLD, DEFAULT_MAX_INSNS);

    /**
     * The defaults, overridden by system properties (so test JVMs can force a mode on every
     * engine they build): {@code jvisor.tcg.jit=on|off|always} (always = threshold 0),
     * {@code jvisor.tcg.jitThreshold=N}, {@code jvisor.tcg.jitMaxInsns=N}.
     */
    public static JitOptions fromSystemProperties() {
        String mode = System.getProperty("jvisor.tcg.jit", "on");
        int threshold = Integer.getInteger("jvisor.tcg.jitThreshold", DEFAULT_THRESHOLD);
        int maxInsns = Integer.getInteger("jvisor.tcg.jitMaxInsns", DEFAULT_MAX_INSNS);
        return switch (mode) {
            case "off" -> new JitOptions(false, threshold, maxInsns);
            case "always" -> new JitOptions(true, 0, maxInsns);
            case "on" -> new JitOptions(true, threshold, maxInsns);
            default -> throw new IllegalArgumentException("jvisor.tcg.jit: on, off or always, not " + mode);
        };
    }

    /** These settings with translation on or off. */
    public JitOptions withEnabled(boolean on) {
        return new JitOptions(on, threshold, maxInsns);
    }

    /** These settings with another threshold (0: translate every block at once). */
    public JitOptions withThreshold(int n) {
        return new JitOptions(enabled, n, maxInsns);
    }
}
