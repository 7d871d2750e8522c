package org.jvisor.boot.linux;

import java.util.Arrays;

/** A {@link PayloadSink} that keeps the whole stream in one array: the array path (tests, tools). */
final class Collected implements PayloadSink {
    private byte[] out;
    private int length;

    Collected(int initialCapacity) {
        out = new byte[Math.max(1, initialCapacity)];
    }

    @Override
    public void accept(byte[] b, int off, int len, long position) {
        if (length + len > out.length) {
            // The decoders stop at Lz4Legacy.MAX_OUTPUT (1 GiB), so this never overflows an int.
            out = Arrays.copyOf(out, (int) Math.min(Integer.MAX_VALUE - 8, Math.max(2L * out.length, (long) length + len)));
        }
        System.arraycopy(b, off, out, length, len);
        length += len;
    }

    byte[] bytes() {
        return length == out.length ? out : Arrays.copyOf(out, length);
    }
}
