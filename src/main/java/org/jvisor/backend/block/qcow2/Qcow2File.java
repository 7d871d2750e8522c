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
        file.read(offset, dst);
    }

    void write(long offset, ByteBuffer src) throws IOException {
        file.write(offset, src);
    }

    /** A write barrier: everything written before is durable when this returns. */
    void flush() throws IOException {
        file.flush();
    }

    void writeZeroes(long offset, long length) throws IOException {
        file.writeZeroes(offset, length, false);
    }

    void close() throws IOException {
        file.close();
    }
}
