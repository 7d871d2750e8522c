package org.jvisor.devices.state;

import java.io.ByteArrayOutputStream;

import org.jvisor.backend.chr.CharBackend;

/**
 * In-memory host sides for the virtio devices under test (the disk's is {@link org.jvisor.testing.BoundedDisk},
 * the network's the virtio tests' FakeNetBackend).
 */
final class TestBackends {
    private TestBackends() {
    }

    /** A character backend whose output is collected and whose input the test pushes. */
    static final class Pipe implements CharBackend {
        final ByteArrayOutputStream output = new ByteArrayOutputStream();
        Sink sink;

        void type(String text) {
            byte[] b = text.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            sink.receive(b, b.length);
        }

        @Override
        public void write(int b) {
            output.write(b);
        }

        @Override
        public void start(Sink sink) {
            this.sink = sink;
        }

        @Override
        public void close() {
        }
    }
}
