package org.jvisor.backend.block;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The host side of a disk: byte-addressed positional I/O on an image. Buffers are usually direct
 * views of guest memory, so data moves between the file and guest RAM without a Java copy.
 * Implementations are safe for concurrent use.
 */
public interface BlockBackend extends AutoCloseable {

    /** Size of the image in bytes. */
    long size();

    boolean readOnly();

    /** Fills {@code dst} (position to limit) from {@code offset}; reading past the end is an error. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes {@code src} (position to limit) at {@code offset}. */
    void write(long offset, ByteBuffer src) throws IOException;

    /** Makes every completed write durable (returns after it reached the disk). */
    void flush() throws IOException;

    /** A hint that [offset, +length) is no longer needed; contents afterwards are unspecified. */
    void discard(long offset, long length) throws IOException;

    /** Makes [offset, +length) read as zeros; {@code mayUnmap} allows freeing the space. */
    void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException;

    /**
     * Whether every request is a system call on a file served by the host's page cache (no
     * O_DIRECT, no format metadata to allocate or decompress): it returns in microseconds, so a
     * device may serve it on the vCPU thread that asked (samecore). A flush is still an fsync.
     */
    default boolean synchronousOnPageCache() {
        return false;
    }

    /** A short description for messages (the path). */
    String describe();

    @Override
    void close() throws IOException;
}
