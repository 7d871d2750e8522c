package org.jvisor.backend.chr;

/**
 * The host side of a character device (a UART, a virtio-console port): bytes the guest sends go
 * to {@link #write}; bytes from the host are pushed to the sink given to {@link #start}.
 */
public interface CharBackend extends AutoCloseable {

    /** Receives host input; the receiver buffers what the guest has not read yet. */
    interface Sink {
        /**
         * Host input. A receiver with flow control may block here until the guest has room: the
         * backend's reader thread then stops reading its source, so nothing is lost.
         */
        void receive(byte[] data, int length);

        /** The host side connected or disconnected (a socket client came or went). */
        default void connectionChanged(boolean connected) {
        }
    }

    void write(int b);

    /** Writes {@code length} bytes of {@code data} from {@code offset}. */
    default void write(byte[] data, int offset, int length) {
        for (int i = 0; i < length; i++) {
            write(data[offset + i] & 0xFF);
        }
    }

    /**
     * Takes {@code b} if the backend has room for it now, without waiting; false if not, and then
     * {@link #whenWritable} tells when to try again. A UART keeps the byte in its transmitter
     * meanwhile (THR not empty), so the guest waits as it would for a slow line, while the vCPU
     * thread itself never blocks. Backends without a limit take every byte.
     */
    default boolean offer(int b) {
        write(b);
        return true;
    }

    /**
     * Takes as many of {@code length} bytes of {@code data} from {@code offset} as the backend has
     * room for now, without waiting, and returns how many (the rest waits in the device, which
     * asks {@link #whenWritable} when to try again). Backends without a limit take all of it in
     * one {@link #write(byte[], int, int)} (a pty: one write(2), not one per byte); a backend
     * with a limit overrides this and {@link #offer(int)} both.
     */
    default int offer(byte[] data, int offset, int length) {
        write(data, offset, length);
        return length;
    }

    /**
     * Runs {@code writable} once, from the backend's own thread, when an {@link #offer} refused
     * for lack of room may succeed again (the peer read, went away, or the backend closed); at
     * once if there is room now. Only one callback is kept; a later call replaces it.
     */
    default void whenWritable(Runnable writable) {
        writable.run();
    }

    /** Whether a host peer is there to read output (false for a socket server with no client). */
    default boolean connected() {
        return true;
    }

    /** Starts delivering host input to {@code sink} (from a thread of the backend's own). */
    void start(Sink sink);

    @Override
    void close();
}
