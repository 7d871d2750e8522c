package org.jvisor.backend.block.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.jvisor.backend.block.BlockBackend;

/**
 * A host file with a volatile write cache, for power-cut tests: writes stay in memory (visible to
 * reads) until {@link #flush}, which writes them through; {@link #powerCut} then keeps a random
 * subset of the unflushed writes, cut into 512-byte pieces (a disk may persist any of them, in
 * any order, and tear a large write) and drops the rest.
 */
final class PowerCutFile implements BlockBackend {
    private record Pending(long offset, byte[] data) {
    }

    /** Thrown by the flush the power cut interrupts. */
    static final class PowerCut extends java.io.IOException {
        PowerCut() {
            super("power cut");
        }
    }

    private final BlockBackend file;
    private final List<Pending> pending = new ArrayList<>();
    private final int cutAtFlush;
    private final Random random;
    private long size;
    private int flushes;

    /** The power fails during flush number {@code cutAtFlush} (1 is the first), before it completes. */
    PowerCutFile(BlockBackend file, int cutAtFlush, Random random) {
        this.file = file;
        this.size = file.size();
        this.cutAtFlush = cutAtFlush;
        this.random = random;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return file.readOnly();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int n = dst.remaining();
        byte[] b = new byte[n];
        long onDisk = Math.max(0, Math.min(n, file.size() - offset));
        if (onDisk > 0) {
            file.read(offset, ByteBuffer.wrap(b, 0, (int) onDisk));
        }
        if (offset + n > size) {
            throw new IOException("read past the end");
        }
        for (Pending p : pending) {
            long from = Math.max(offset, p.offset);
            long to = Math.min(offset + n, p.offset + p.data.length);
            if (from < to) {
                System.arraycopy(p.data, (int) (from - p.offset), b, (int) (from - offset), (int) (to - from));
            }
        }
        dst.put(b);
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        byte[] b = new byte[src.remaining()];
        src.get(b);
        pending.add(new Pending(offset, b));
        size = Math.max(size, offset + b.length);
    }

    @Override
    public void flush() throws IOException {
        if (++flushes == cutAtFlush) {
            powerCut(random);
            throw new PowerCut();
        }
        for (Pending p : pending) {
            file.write(p.offset, ByteBuffer.wrap(p.data));
        }
        pending.clear();
        file.flush();
    }

    /** Keeps a random subset of the unflushed 512-byte pieces, then closes the file. */
    void powerCut(Random r) throws IOException {
        List<Pending> pieces = new ArrayList<>();
        for (Pending p : pending) {
            for (int i = 0; i < p.data.length; i += 512) {
                int n = Math.min(512, p.data.length - i);
                byte[] piece = new byte[n];
                System.arraycopy(p.data, i, piece, 0, n);
                pieces.add(new Pending(p.offset + i, piece));
            }
        }
        // pieces may land in any order; later writes to the same place may lose to earlier ones
        Collections.shuffle(pieces, r);
        double keep = r.nextDouble();
        for (Pending p : pieces) {
            if (r.nextDouble() < keep) {
                file.write(p.offset, ByteBuffer.wrap(p.data));
            }
        }
        pending.clear();
        file.flush();
        file.close();
    }

    @Override
    public void discard(long offset, long length) {
        // a hint: keeping the data is always allowed
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        write(offset, ByteBuffer.allocate((int) length));
    }

    @Override
    public String describe() {
        return file.describe();
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
