package org.jvisor.devices.virtio;

import java.io.ByteArrayOutputStream;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.backend.chr.CharBackend;

/**
 * Fuzzes virtio-console (virtio 1.2, 5.3.6): control messages from the guest (any port id,
 * event and value: DEVICE_READY, PORT_READY, PORT_OPEN for ports that exist or not), port data
 * in any chain shape, with MULTIPORT negotiated or not, and host input arriving between moves.
 */
class VirtioConsoleFuzzTest {
    /** A character backend that keeps nothing and types what the fuzzer gives. */
    static final class FuzzChar implements CharBackend {
        final ByteArrayOutputStream output = new ByteArrayOutputStream();
        Sink sink;

        @Override
        public void write(int b) {
            if (output.size() < 1 << 20) {
                output.write(b);
            }
        }

        @Override
        public void start(Sink sink) {
            this.sink = sink;
        }

        @Override
        public void close() {
        }
    }

    /** struct virtio_console_control (5.3.6.2): port id, event (DEVICE_READY ... PORT_NAME), value. */
    static byte[] control(FuzzedDataProvider data) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(data.consumeInt(0, 3) == 0 ? data.consumeInt() : data.consumeInt(-1, 4));
        b.putShort((short) (data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 0xFFFF) : data.consumeInt(0, 8)));
        b.putShort((short) data.consumeInt(0, 2));
        return b.array();
    }

    @FuzzTest(maxDuration = "60s")
    void requests(FuzzedDataProvider data) {
        FuzzChar[] chars = {new FuzzChar(), new FuzzChar()};
        VirtioConsole console = new VirtioConsole(data.consumeInt(2, 4), List.of(
            new VirtioConsole.PortSpec(0, null, true, chars[0]),
            new VirtioConsole.PortSpec(1, "org.jvisor.fuzz", false, chars[1])), msg -> { });
        console.start();
        try (RingFuzzer f = new RingFuzzer(console).withHeader(VirtioConsoleFuzzTest::control)
                 .withLayouts(new int[] {8}, new int[] {-64}, new int[] {-8}, new int[] {32}, new int[] {8, 8})) {
            f.session(data, d -> {
                int port = d.consumeInt(0, 1);
                // never more than the port buffers: a full port blocks the host's reader thread
                int room = ConsolePort.INPUT_BUFFER - console.pendingInput(port);
                byte[] in = d.consumeBytes(Math.min(room, 256));
                if (in.length > 0) {
                    chars[port].sink.receive(in, in.length);
                }
            });
        } finally {
            console.close();
        }
    }
}
