package org.jvisor.api;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A guest's serial console captured in memory (SerialConfig.Streams), for tests: {@link #await}
 * waits (watchdog only) until a text has appeared after the previous match.
 */
final class ConsoleCapture extends OutputStream {
    private static final long WATCHDOG_MILLIS = 15 * 60 * 1000;

    private final StringBuilder text = new StringBuilder();
    private int searchFrom;

    @Override
    public synchronized void write(int b) {
        text.append((char) (b & 0xFF));
        notifyAll();
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        text.append(new String(b, off, len, StandardCharsets.ISO_8859_1));
        notifyAll();
    }

    @Override
    public synchronized String toString() {
        return text.toString();
    }

    /** Waits until {@code s} appears after the previous match. */
    synchronized void await(String s) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WATCHDOG_MILLIS;
        int at;
        while ((at = text.indexOf(s, searchFrom)) < 0) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                throw new AssertionError("watchdog: no '" + s + "' on the console:\n" + text);
            }
            wait(left);
        }
        searchFrom = at + s.length();
    }
}
