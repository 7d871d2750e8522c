package org.jvisor.devices.state;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.chr.CharBackend;
import org.jvisor.backend.net.NetBackend;
import org.jvisor.backend.net.Offloads;

/** In-memory host sides for the virtio devices under test. */
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

    /** A network backend: frames the test injects, frames the device sent, the arming protocol of a tap. */
    static final class LoopNet implements NetBackend {
        final Deque<byte[]> inbound = new ArrayDeque<>();
        final List<String> sent = new ArrayList<>();
        private Runnable listener = () -> { };
        private boolean armed;

        void inject(byte[] frame) {
            inbound.add(frame);
            fireIfArmed();
        }

        private void fireIfArmed() {
            if (armed && !inbound.isEmpty()) {
                armed = false;
                listener.run();
            }
        }

        @Override
        public String describe() {
            return "loop";
        }

        @Override
        public int vnetHeaderSize() {
            return 12;
        }

        @Override
        public void setOffloads(Offloads offloads) {
        }

        @Override
        public void send(byte[] buf, int length) {
            sent.add(Arrays.toString(Arrays.copyOf(buf, length)));
        }

        @Override
        public int receive(byte[] buf) {
            byte[] f = inbound.poll();
            if (f == null) {
                return 0;
            }
            System.arraycopy(f, 0, buf, 0, f.length);
            return f.length;
        }

        @Override
        public void setReceiveListener(Runnable listener) {
            this.listener = listener;
        }

        @Override
        public void armReceive() {
            armed = true;
            fireIfArmed();
        }

        @Override
        public void disarmReceive() {
            armed = false;
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
