package org.jvisor.devices.virtio;

/**
 * A device configuration space as little-endian bytes, for devices whose config is mostly constant.
 * Not thread-safe: a device whose fields change while the driver reads them guards it itself.
 */
final class ConfigSpace {
    private final byte[] bytes;

    ConfigSpace(int size) {
        bytes = new byte[size];
    }

    int size() {
        return bytes.length;
    }

    /** A copy of the whole space. */
    byte[] bytes() {
        return bytes.clone();
    }

    /** A space holding {@code initial}. */
    static ConfigSpace of(byte[] initial) {
        ConfigSpace c = new ConfigSpace(initial.length);
        System.arraycopy(initial, 0, c.bytes, 0, initial.length);
        return c;
    }

    void put8(int off, int v) {
        bytes[off] = (byte) v;
    }

    void put16(int off, int v) {
        put8(off, v);
        put8(off + 1, v >>> 8);
    }

    void put32(int off, int v) {
        put16(off, v);
        put16(off + 2, v >>> 16);
    }

    void put64(int off, long v) {
        put32(off, (int) v);
        put32(off + 4, (int) (v >>> 32));
    }

    /**
     * Stores the low {@code size} bytes of {@code value} at {@code off}; an access not all inside
     * is ignored, as a read of one gives 0.
     */
    void write(int off, int size, long value) {
        if (off < 0 || size <= 0 || off + size > bytes.length) {
            return;
        }
        for (int i = 0; i < size; i++) {
            bytes[off + i] = (byte) (value >>> (8 * i));
        }
    }

    long read(int off, int size) {
        if (off < 0 || size <= 0 || off + size > bytes.length) {
            return 0;
        }
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (bytes[off + i] & 0xFF);
        }
        return v;
    }
}
