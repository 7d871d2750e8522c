package org.jvisor.backend.block.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.jvisor.backend.block.BlockBackend;

/** A host file in memory that grows when written past its end, up to a cap (as a file system's limit). */
final class MemoryFile implements BlockBackend {
    private final long cap;
    private byte[] data;
    private int size;

    MemoryFile(byte[] initial, long cap) {
        this.data = initial.clone();
        this.size = initial.length;
        this.cap = cap;
    }

    byte[] bytes() {
        return Arrays.copyOf(data, size);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        if (offset < 0 || offset > size - dst.remaining()) {   // no offset + length: near 2^63 it wraps
            throw new IOException("read [" + offset + ", +" + dst.remaining() + ") beyond the file (" + size + ")");
        }
        dst.put(data, (int) offset, dst.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        if (offset < 0 || offset > cap - src.remaining()) {
            throw new IOException("File too large (EFBIG): write at " + offset);
        }
        long end = offset + src.remaining();
        if (end > cap) {
            throw new IOException("File too large (EFBIG): write at " + offset);
        }
        if (end > data.length) {
            data = Arrays.copyOf(data, (int) Math.max(end, data.length * 2L > cap ? end : data.length * 2L));
        }
        src.get(data, (int) offset, src.remaining());
        size = (int) Math.max(size, end);
    }

    @Override
    public void flush() {
    }

    @Override
    public void discard(long offset, long length) {
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IOException("zeroes beyond the file");
        }
        Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
    }

    @Override
    public String describe() {
        return "memory.qcow2";
    }

    @Override
    public void close() {
    }

    /** This file, read-only, as a backing file. */
    BlockBackend asBacking() {
        MemoryFile self = this;
        return new BlockBackend() {
            public long size() { return self.size(); }
            public boolean readOnly() { return true; }
            public void read(long o, ByteBuffer d) throws IOException { self.read(o, d); }
            public void write(long o, ByteBuffer s) throws IOException { throw new IOException("read-only"); }
            public void flush() { }
            public void discard(long o, long l) throws IOException { throw new IOException("read-only"); }
            public void writeZeroes(long o, long l, boolean u) throws IOException { throw new IOException("read-only"); }
            public String describe() { return "base.raw"; }
            public void close() { }
        };
    }
}
