package org.jvisor.backend.block.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.jvisor.backend.block.BlockBackend;

/**
 * The host file under a qcow2 image (QEMU's "file" child): positional I/O that grows the file
 * when written past its end, and the one place flushes are issued, so the write ordering of
 * {@link Qcow2Backend} is visible in one spot.
 */
final class Qcow2File {
    private final BlockBackend file;

    Qcow2File(BlockBackend file) {
        this.file = file;
    }

    BlockBackend backend() {
        return file;
    }

    String name() {
        return file.describe();
    }

    long size() {
        return file.size();
    }

    void read(long offset, ByteBuffer dst) throws IOException {
        checkOffset(offset);
        file.read(offset, dst);
    }

    void write(long offset, ByteBuffer src) throws IOException {
        checkOffset(offset);
        file.write(offset, src);
    }

    /**
     * Every host offset comes from the image's own metadata; one below zero (an entry whose
     * arithmetic wrapped, found by fuzzing) is damage, reported as an I/O error naming the file.
     */
    private void checkOffset(long offset) throws IOException {
        if (offset < 0) {
            throw new IOException(file.describe() + ": host offset " + offset + " is outside the image file: the image is corrupt");
        }
    }

    /** A write barrier: everything written before is durable when this returns. */
    void flush() throws IOException {
        file.flush();
    }

    void writeZeroes(long offset, long length) throws IOException {
        checkOffset(offset);
        file.writeZeroes(offset, length, false);
    }

    void close() throws IOException {
        file.close();
    }
}
