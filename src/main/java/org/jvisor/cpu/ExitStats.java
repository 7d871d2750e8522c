package org.jvisor.cpu;

/**
 * Counts exits and the time spent handling them, per reason. One instance per vCPU thread, so
 * recording is a plain array update; the machine merges them for the report.
 */
public final class ExitStats {
    private static final ExitReason[] REASONS = ExitReason.values();

    private final boolean timed;
    private final long[] count = new long[REASONS.length];
    private final long[] nanos = new long[REASONS.length];

    public ExitStats(boolean timed) {
        this.timed = timed;
    }

    /** Whether handlers should measure time (System.nanoTime costs ~25 ns, so only when asked). */
    public boolean timed() {
        return timed;
    }

    public void record(ExitReason reason, long handlingNanos) {
        count[reason.ordinal()]++;
        nanos[reason.ordinal()] += handlingNanos;
    }

    public void count(ExitReason reason) {
        count[reason.ordinal()]++;
    }

    public long countOf(ExitReason reason) {
        return count[reason.ordinal()];
    }

    public long nanosOf(ExitReason reason) {
        return nanos[reason.ordinal()];
    }

    public long total() {
        long t = 0;
        for (long c : count) {
            t += c;
        }
        return t;
    }

    public void addTo(ExitStats sum) {
        for (int i = 0; i < count.length; i++) {
            sum.count[i] += count[i];
            sum.nanos[i] += nanos[i];
        }
    }
}
