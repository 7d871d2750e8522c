package org.jvisor.cli;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * A machine's log inside a server: each of its lines goes to the server's log with the machine's
 * name in front, whole (lines of machines logging at once do not interleave within a line).
 */
final class PrefixedLog extends OutputStream {
    /** A line longer than this is passed on in pieces rather than held. */
    private static final int MAX_LINE = 8192;

    private final PrintStream target;
    private final String prefix;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    private PrefixedLog(PrintStream target, String prefix) {
        this.target = target;
        this.prefix = prefix;
    }

    /** A stream whose lines appear on {@code target} as "[name] line". */
    static PrintStream of(PrintStream target, String name) {
        return new PrintStream(new PrefixedLog(target, "[" + name + "] "), true, StandardCharsets.UTF_8);
    }

    @Override
    public synchronized void write(int b) {
        if (b == '\n') {
            emit();
        } else {
            line.write(b);
            if (line.size() >= MAX_LINE) {
                emit();
            }
        }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        for (int i = off; i < off + len; i++) {
            write(b[i]);
        }
    }

    @Override
    public synchronized void close() {
        if (line.size() > 0) {
            emit();
        }
    }

    private void emit() {
        target.println(prefix + line.toString(StandardCharsets.UTF_8));
        line.reset();
    }
}
