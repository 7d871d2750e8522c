package org.jvisor.devices.virtio;

import org.jvisor.memory.DmaSpace;

/**
 * One request popped from a virtqueue: the device-readable buffers, then the device-writable ones,
 * as scatter-gather arrays. Each queue owns one instance, refilled by every
 * {@link SplitVirtqueue#pop()}: no allocation per request. Offsets below are byte offsets into the
 * concatenation of the readable (or the writable) buffers, so a device never depends on how the
 * driver split a request into descriptors.
 */
public final class DescriptorChain {
    private final long[] readAddr;
    private final int[] readLen;
    private final long[] writeAddr;
    private final int[] writeLen;
    private final byte[] scratch = new byte[8];
    int head;
    int readCount;
    int writeCount;
    long readTotal;
    long writeTotal;
    DmaSpace dma;

    DescriptorChain(int capacity) {
        readAddr = new long[capacity];
        readLen = new int[capacity];
        writeAddr = new long[capacity];
        writeLen = new int[capacity];
    }

    void clear(DmaSpace dma) {
        this.dma = dma;
        readCount = 0;
        writeCount = 0;
        readTotal = 0;
        writeTotal = 0;
    }

    void addReadable(long addr, int len) {
        readAddr[readCount] = addr;
        readLen[readCount++] = len;
        readTotal += len & 0xFFFF_FFFFL;
    }

    void addWritable(long addr, int len) {
        writeAddr[writeCount] = addr;
        writeLen[writeCount++] = len;
        writeTotal += len & 0xFFFF_FFFFL;
    }

    /** Head descriptor index: the id that goes into the used ring. */
    public int head() {
        return head;
    }

    public int readableCount() {
        return readCount;
    }

    public long readableAddress(int i) {
        return readAddr[i];
    }

    /** Length of readable buffer {@code i} (unsigned 32-bit in an int). */
    public int readableLength(int i) {
        return readLen[i];
    }

    public long readableBytes() {
        return readTotal;
    }

    public int writableCount() {
        return writeCount;
    }

    public long writableAddress(int i) {
        return writeAddr[i];
    }

    public int writableLength(int i) {
        return writeLen[i];
    }

    public long writableBytes() {
        return writeTotal;
    }

    public DmaSpace dma() {
        return dma;
    }

    /** Copies {@code length} bytes from readable offset {@code offset} into {@code dst}; returns how many there were. */
    public int read(long offset, byte[] dst, int from, int length) {
        int done = 0;
        long pos = 0;
        for (int i = 0; i < readCount && done < length; i++) {
            long len = readLen[i] & 0xFFFF_FFFFL;
            if (offset < pos + len) {
                long in = Math.max(0, offset - pos);
                int n = (int) Math.min(len - in, length - done);
                dma.read(readAddr[i] + in, dst, from + done, n);
                done += n;
                offset += n;
            }
            pos += len;
        }
        return done;
    }

    /** Copies {@code length} bytes to writable offset {@code offset}; returns how many fit. */
    public int write(long offset, byte[] src, int from, int length) {
        int done = 0;
        long pos = 0;
        for (int i = 0; i < writeCount && done < length; i++) {
            long len = writeLen[i] & 0xFFFF_FFFFL;
            if (offset < pos + len) {
                long in = Math.max(0, offset - pos);
                int n = (int) Math.min(len - in, length - done);
                dma.write(writeAddr[i] + in, src, from + done, n);
                done += n;
                offset += n;
            }
            pos += len;
        }
        return done;
    }

    /** Little-endian 32-bit value at readable offset {@code offset}. */
    public int readU32(long offset) {
        read(offset, scratch, 0, 4);
        return (scratch[0] & 0xFF) | (scratch[1] & 0xFF) << 8 | (scratch[2] & 0xFF) << 16 | (scratch[3] & 0xFF) << 24;
    }

    /** Little-endian 64-bit value at readable offset {@code offset}. */
    public long readU64(long offset) {
        long lo = readU32(offset) & 0xFFFF_FFFFL;
        long hi = readU32(offset + 4) & 0xFFFF_FFFFL;
        return lo | hi << 32;
    }

    public void writeU8(long offset, int value) {
        scratch[0] = (byte) value;
        write(offset, scratch, 0, 1);
    }
}
