package org.jvisor.testing;

import java.nio.ByteBuffer;
import java.util.Arrays;

import org.jvisor.backend.block.BlockBackend;

/**
 * A disk image in a byte array, for fuzz targets and device tests: any request that reaches past
 * its end, or a write to it while read-only, fails the run (an AssertionError, which a fuzzer
 * reports), so a device that lets a guest's numbers through to its backend unchecked is found.
 */
public final class BoundedDisk implements BlockBackend {
    private final byte[] image;
    private final boolean readOnly;

    public BoundedDisk(int bytes, boolean readOnly) {
        this(new byte[bytes], readOnly);
    }

    /** A disk whose image is {@code image} itself (the test sees every write in it). */
    public BoundedDisk(byte[] image, boolean readOnly) {
        this.image = image;
        this.readOnly = readOnly;
    }

    private void check(long offset, long length, boolean write) {
        if (offset < 0 || length < 0 || offset + length > image.length || offset + length < 0) {
            throw new AssertionError(String.format("the backend was asked for [%d, +%d) of a %d-byte disk",
                offset, length, image.length));
        }
        if (write && readOnly) {
            throw new AssertionError("a write to a read-only disk");
        }
    }

    @Override
    public long size() {
        return image.length;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        check(offset, dst.remaining(), false);
        dst.put(image, (int) offset, dst.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer src) {
        check(offset, src.remaining(), true);
        src.get(image, (int) offset, src.remaining());
    }

    @Override
    public void flush() {
    }

    @Override
    public void discard(long offset, long length) {
        check(offset, length, true);
        Arrays.fill(image, (int) offset, (int) (offset + length), (byte) 0);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayUnmap) {
        discard(offset, length);
    }

    @Override
    public String describe() {
        return "memory disk";
    }

    @Override
    public void close() {
    }
}
