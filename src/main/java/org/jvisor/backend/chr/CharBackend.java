package org.jvisor.backend.chr;

/**
 * The host side of a character device (a UART, later virtio-console): bytes the guest sends go
 * to {@link #write}; bytes from the host are pushed to the sink given to {@link #start}.
 */
public interface CharBackend extends AutoCloseable {

    /** Receives host input; the receiver buffers what the guest has not read yet. */
    interface Sink {
        void receive(byte[] data, int length);
    }

    void write(int b);

    /** Starts delivering host input to {@code sink} (from a thread of the backend's own). */
    void start(Sink sink);

    @Override
    void close();
}
