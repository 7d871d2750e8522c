package org.jvisor.devices.state;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.chr.CharBackend;

/** In-memory host sides for the virtio devices under test (the network's is the virtio tests' FakeNetBackend). */
final class TestBackends {
    private TestBackends() {
    }

    /** A disk image in a byte array (the world's). */
    static final class MemoryDisk implements BlockBackend {
        private final byte[] image;

        MemoryDisk(byte[] image) {
            this.image = image;
        }

        @Override
        public long size() {
            return image.length;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            int n = dst.remaining();
            dst.put(image, (int) offset, n);
        }

        @Override
        public void write(long offset, ByteBuffer src) {
            int n = src.remaining();
            src.get(image, (int) offset, n);
        }

        @Override
        public void flush() {
        }

        @Override
        public void discard(long offset, long length) {
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
