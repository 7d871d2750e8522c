package org.jvisor.devices.state;

import java.util.Arrays;

/**
 * An immutable string of bytes for device-state records: FIFO contents, register files, bitmaps.
 * Equal when the contents are (a record's generated equals compares arrays by identity, so records
 * hold this instead of {@code byte[]}). Multi-byte values are little-endian, as the guest sees them.
 */
public final class Bytes {
    public static final Bytes EMPTY = new Bytes(new byte[0]);

    private final byte[] data;

    private Bytes(byte[] data) {
        this.data = data;
    }

    /** A copy of {@code length} bytes of {@code src} from {@code from}. */
    public static Bytes copyOf(byte[] src, int from, int length) {
        return length == 0 ? EMPTY : new Bytes(Arrays.copyOfRange(src, from, from + length));
    }

    public static Bytes copyOf(byte[] src) {
        return copyOf(src, 0, src.length);
    }

    /** {@code src} as 4 little-endian bytes per int (a 256-bit APIC register file is 8 ints, 32 bytes). */
    public static Bytes ofInts(int[] src) {
        byte[] b = new byte[src.length * 4];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (src[i >> 2] >>> (8 * (i & 3)));
        }
        return new Bytes(b);
    }

    /** {@code src} as 8 little-endian bytes per long. */
    public static Bytes ofLongs(long[] src) {
        byte[] b = new byte[src.length * 8];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (src[i >> 3] >>> (8 * (i & 7)));
        }
        return new Bytes(b);
    }

    public int length() {
        return data.length;
    }

    /** Byte {@code i}, 0-255. */
    public int get(int i) {
        return data[i] & 0xFF;
    }

    public byte[] toArray() {
        return data.clone();
    }

    /** Copies everything into {@code dst} from {@code at}. */
    public void copyTo(byte[] dst, int at) {
        System.arraycopy(data, 0, dst, at, data.length);
    }

    /** The little-endian ints of these bytes into {@code dst}, whose length must be {@link #length()} / 4. */
    public void intsInto(int[] dst) {
        requireLength(dst.length * 4);
        Arrays.fill(dst, 0);
        for (int i = 0; i < data.length; i++) {
            dst[i >> 2] |= (data[i] & 0xFF) << (8 * (i & 3));
        }
    }

    /** The little-endian longs of these bytes into {@code dst}, whose length must be {@link #length()} / 8. */
    public void longsInto(long[] dst) {
        requireLength(dst.length * 8);
        Arrays.fill(dst, 0);
        for (int i = 0; i < data.length; i++) {
            dst[i >> 3] |= (data[i] & 0xFFL) << (8 * (i & 7));
        }
    }

    private void requireLength(int expected) {
        if (data.length != expected) {
            throw new IllegalArgumentException(data.length + " bytes, expected " + expected);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Bytes b && Arrays.equals(data, b.data);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(data);
    }

    /** The length and the first 32 bytes in hex, enough to tell two states apart in a test failure. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("Bytes[").append(data.length).append("]");
        for (int i = 0; i < Math.min(32, data.length); i++) {
            s.append(i == 0 ? " " : "").append(String.format("%02x", data[i] & 0xFF));
        }
        return data.length > 32 ? s.append("...").toString() : s.toString();
    }
}
