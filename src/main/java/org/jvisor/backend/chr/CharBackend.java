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

    /** Whether a host peer is there to read output (false for a socket server with no client). */
    default boolean connected() {
        return true;
    }

    /** Starts delivering host input to {@code sink} (from a thread of the backend's own). */
    void start(Sink sink);

    @Override
    void close();
}
