package org.jvisor.backend.rng;

import java.io.IOException;

/**
 * Where a virtio-rng takes its bytes. A read never waits: it gives what the source has now,
 * possibly nothing, and the device asks again later (QEMU reads its rng backends from its main
 * loop in the same way, never blocking a vCPU or another device).
 */
public interface EntropySource extends AutoCloseable {

    /**
     * Up to {@code length} bytes into {@code buf} from {@code offset}; returns how many, 0 when the
     * source has none now. May be called from several devices' threads.
     */
    int read(byte[] buf, int offset, int length) throws IOException;

    /** Whether no byte will ever come again (a regular file read to its end). */
    default boolean exhausted() {
        return false;
    }

    /** For messages: e.g. "rng-random /dev/hwrng". */
    String describe();

    @Override
    default void close() {
    }
}
