package org.jvisor.machine;

import java.io.PrintStream;
import java.time.Instant;

/**
 * {@code -trace migration}: how long each phase of a migration took, on the source (the passes,
 * then each step of the stop) and on the destination (receiving, then each step of the restore
 * up to the guest's resume), printed as one line when it ends. The stop's and the resume's wall
 * clock times are printed too, so that the guest's pause between two processes on one host can
 * be read off both lines. Off (the default) it records nothing.
 */
final class MigrationTrace {
    private final PrintStream log;
    private final StringBuilder line;
    private long last;

    private MigrationTrace(PrintStream log, String side) {
        this.log = log;
        this.line = log == null ? null : new StringBuilder("jvisor: migration (" + side + "):");
        this.last = System.nanoTime();
    }

    /** A trace of one migration's {@code side} ("source", "destination") to {@code log}, or one that records nothing. */
    static MigrationTrace of(boolean on, PrintStream log, String side) {
        return new MigrationTrace(on ? log : null, side);
    }

    boolean on() {
        return log != null;
    }

    /** The phase that ends now, named {@code name}: the time since the last mark. */
    void phase(String name) {
        phase(name, null);
    }

    /** {@link #phase(String)} with what it did ({@code detail}, e.g. a page count). */
    void phase(String name, String detail) {
        if (log == null) {
            return;
        }
        long now = System.nanoTime();
        line.append(' ').append(name).append(' ').append(millis(now - last)).append(" ms");
        if (detail != null) {
            line.append(" (").append(detail).append(')');
        }
        line.append(',');
        last = now;
    }

    /** A moment of the migration ({@code name}: "stop", "resume") in wall-clock time, comparable across processes. */
    void moment(String name) {
        if (log == null) {
            return;
        }
        Instant t = Instant.now();
        line.append(' ').append(name).append(" at ").append(t.getEpochSecond()).append('.')
            .append(String.format("%06d", t.getNano() / 1000)).append(',');
    }

    /** Restarts the clock of the next phase without recording the time gone (a wait that is no phase). */
    void skip() {
        last = System.nanoTime();
    }

    /** Prints the line (once). */
    void print() {
        if (log == null || line.isEmpty()) {
            return;
        }
        if (line.charAt(line.length() - 1) == ',') {
            line.setLength(line.length() - 1);
        }
        log.println(line);
        line.setLength(0);
    }

    private static String millis(long nanos) {
        return String.format("%.1f", nanos / 1e6);
    }
}
