package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.jvisor.backend.chr.CharBackend;

/**
 * virtio-serial driven through hand-built rings the way Linux's virtio_console does: the
 * multiport handshake on the control queues, output, input with flow control, and bad requests.
 */
class VirtioConsoleTest {
    static final int W = SplitVirtqueue.DESC_F_WRITE;
    static final int N = SplitVirtqueue.DESC_F_NEXT;
    static final int RING_SIZE = 8;
    static final long RINGS = 0x20000;
    static final long BUFFERS = 0x100000;
    static final int NO_PORT = 0xFFFF_FFFF;

    // Control events (virtio 1.2, 5.3.6.2)
    static final int DEVICE_READY = 0;
    static final int DEVICE_ADD = 1;
    static final int PORT_READY = 3;
    static final int CONSOLE_PORT = 4;
    static final int PORT_OPEN = 6;
    static final int PORT_NAME = 7;

    final List<String> deviceLog = new ArrayList<>();
    final TestBackend console = new TestBackend(true);
    final TestBackend named = new TestBackend(false);
    Driver drv;
    VirtioConsole dev;
    Ring[] rings;
    Ring controlRx;
    Ring controlTx;

    /** A chardev for tests: records output; the test pushes input through the sink. */
    static final class TestBackend implements CharBackend {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        volatile Sink sink;
        volatile boolean peer;

        TestBackend(boolean peer) {
            this.peer = peer;
        }

        /** Bytes the backend takes before it is full (a peer that stopped reading). */
        private long room = Long.MAX_VALUE;
        private Runnable writable;

        @Override
        public synchronized void write(int b) {
            out.write(b);
        }

        @Override
        public boolean offer(int b) {
            synchronized (this) {
                if (room == 0) {
                    return false;
                }
                room--;
                out.write(b);
            }
            return true;
        }

        /** Byte by byte, as far as the room goes (a backend with a limit overrides both offers). */
        @Override
        public int offer(byte[] data, int offset, int length) {
            int n = 0;
            while (n < length && offer(data[offset + n] & 0xFF)) {
                n++;
            }
            return n;
        }

        @Override
        public void whenWritable(Runnable callback) {
            synchronized (this) {
                if (room == 0) {
                    writable = callback;
                    return;
                }
            }
            callback.run();
        }

        /** The peer reads: {@code bytes} more fit, and a waiting device is called back. */
        void release(long bytes) {
            Runnable w;
            synchronized (this) {
                room += bytes;
                w = writable;
                writable = null;
            }
            if (w != null) {
                w.run();
            }
        }

        synchronized void limit(long bytes) {
            room = bytes;
        }

        synchronized boolean waiting() {
            return writable != null;
        }

        synchronized String output() {
            return out.toString(StandardCharsets.ISO_8859_1);
        }

        @Override
        public boolean connected() {
            return peer;
        }

        @Override
        public void start(Sink s) {
            sink = s;
        }

        @Override
        public void close() {
        }
    }

    /** A control message as the driver receives it. */
    record Msg(int id, int event, int value, String data) {
        static Msg of(int id, int event, int value) {
            return new Msg(id, event, value, "");
        }
    }

    /** One split ring at addresses of its own, with single-descriptor chains in slot = index mod size. */
    final class Ring {
        final int queue;
        final long desc;
        final long avail;
        final long used;
        final long data;
        int availIdx;
        int seenUsed;

        Ring(int queue) {
            this.queue = queue;
            long base = RINGS + 0x2000L * queue;
            desc = base;
            avail = base + 0x800;
            used = base + 0x1000;
            data = BUFFERS + 0x4000L * queue;
            drv.ram.write(base, new byte[0x2000]); // a fresh ring is zeroed, as Linux allocates it
            drv.w(VirtioMmioTransport.QUEUE_SEL, queue);
            drv.w(VirtioMmioTransport.QUEUE_NUM, RING_SIZE);
            drv.w(VirtioMmioTransport.QUEUE_DESC_LOW, (int) desc);
            drv.w(VirtioMmioTransport.QUEUE_DESC_HIGH, 0);
            drv.w(VirtioMmioTransport.QUEUE_DRIVER_LOW, (int) avail);
            drv.w(VirtioMmioTransport.QUEUE_DRIVER_HIGH, 0);
            drv.w(VirtioMmioTransport.QUEUE_DEVICE_LOW, (int) used);
            drv.w(VirtioMmioTransport.QUEUE_DEVICE_HIGH, 0);
            drv.w(VirtioMmioTransport.QUEUE_READY, 1);
        }

        /** The buffer of slot {@code slot} (1 KiB each). */
        long buffer(int slot) {
            return data + 1024L * slot;
        }

        /** Makes a one-descriptor chain available in the next slot; returns its head. */
        int add(int len, int flags) {
            int slot = availIdx % RING_SIZE;
            drv.desc(desc, slot, buffer(slot), len, flags, 0);
            offerHead(slot);
            return slot;
        }

        void offerHead(int head) {
            drv.ram.writeU16(avail + 4 + 2L * (availIdx % RING_SIZE), (short) head);
            availIdx++;
            drv.ram.writeU16(avail + 2, (short) availIdx);
        }

        int send(byte[] bytes) {
            int slot = availIdx % RING_SIZE;
            drv.ram.write(buffer(slot), bytes);
            int head = add(bytes.length, 0);
            kick();
            return head;
        }

        void kick() {
            drv.kick(queue);
        }

        int usedIdx() {
            return drv.ram.readU16(used + 2) & 0xFFFF;
        }

        int usedId(int i) {
            return drv.ram.readU32(used + 4 + 8L * (i % RING_SIZE));
        }

        int usedLen(int i) {
            return drv.ram.readU32(used + 4 + 8L * (i % RING_SIZE) + 4);
        }

        /** avail_event (VIRTIO_F_EVENT_IDX): the available index at which the device wants a notification. */
        int availEvent() {
            return drv.ram.readU16(used + 4 + 8L * RING_SIZE) & 0xFFFF;
        }

        /** The bytes of the used buffers not seen yet (each re-offered when {@code refill}). */
        byte[] takeUsed(boolean refill) {
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            while (seenUsed != usedIdx()) {
                int head = usedId(seenUsed);
                byte[] b = new byte[usedLen(seenUsed)];
                drv.ram.read(buffer(head), b, 0, b.length);
                got.writeBytes(b);
                seenUsed++;
                if (refill) {
                    offerHead(head);
                }
            }
            if (refill) {
                kick();
            }
            return got.toByteArray();
        }
    }

    @AfterEach
    void tearDown() {
        if (dev != null) {
            dev.close();
        }
        if (drv != null) {
            drv.close();
        }
    }

    /** Port 0: a console on {@link #console}; port 1: "org.jvisor.test" on {@link #named}. */
    void create(int maxPorts) {
        dev = new VirtioConsole(maxPorts, List.of(
            new VirtioConsole.PortSpec(0, null, true, console),
            new VirtioConsole.PortSpec(1, "org.jvisor.test", false, named)), deviceLog::add);
        drv = new Driver(dev, RING_SIZE);
        dev.start();
    }

    /** Linux's probe: negotiation, every queue, DRIVER_OK, control receive buffers. */
    void bringUp(long wanted) {
        int st = drv.negotiate(wanted);
        assertTrue((st & Virtio.STATUS_FEATURES_OK) != 0, "FEATURES_OK refused");
        int queues = drv.r(VirtioMmioTransport.CONFIG + VirtioConsole.CONFIG_MAX_NR_PORTS) * 2 + 2;
        if (!Virtio.has(wanted, VirtioConsole.F_MULTIPORT)) {
            queues = 2;
        }
        rings = new Ring[queues];
        for (int q = 0; q < queues; q++) {
            rings[q] = new Ring(q);
        }
        drv.addStatus(Virtio.STATUS_DRIVER_OK);
        if (queues > 2) {
            controlRx = rings[VirtioConsole.CONTROL_RECEIVEQ];
            controlTx = rings[VirtioConsole.CONTROL_TRANSMITQ];
            for (int i = 0; i < RING_SIZE; i++) {
                controlRx.add(1024, W);
            }
            controlRx.kick();
        }
    }

    void sendControl(int id, int event, int value) {
        byte[] m = new byte[8];
        for (int i = 0; i < 4; i++) {
            m[i] = (byte) (id >>> (8 * i));
        }
        m[4] = (byte) event;
        m[5] = (byte) (event >>> 8);
        m[6] = (byte) value;
        m[7] = (byte) (value >>> 8);
        int before = controlTx.usedIdx();
        controlTx.send(m);
        assertEquals(before + 1, controlTx.usedIdx(), "control message consumed");
    }

    /** The control messages the device sent since the last call. */
    List<Msg> received() {
        List<Msg> out = new ArrayList<>();
        while (controlRx.seenUsed != controlRx.usedIdx()) {
            int i = controlRx.seenUsed++;
            int head = controlRx.usedId(i);
            int len = controlRx.usedLen(i);
            long b = controlRx.buffer(head);
            assertTrue(len >= 8, "a control message has a header");
            byte[] data = new byte[len - 8];
            drv.ram.read(b + 8, data, 0, data.length);
            out.add(new Msg(drv.ram.readU32(b), drv.ram.readU16(b + 4) & 0xFFFF, drv.ram.readU16(b + 6) & 0xFFFF,
                new String(data, StandardCharsets.ISO_8859_1)));
            controlRx.offerHead(head);
        }
        controlRx.kick();
        return out;
    }

    /** The whole multiport handshake for both ports, checking every message. */
    void handshake() {
        bringUp(-1L);
        sendControl(NO_PORT, DEVICE_READY, 1);
        assertEquals(List.of(Msg.of(0, DEVICE_ADD, 1), Msg.of(1, DEVICE_ADD, 1)), received());
        sendControl(0, PORT_READY, 1);
        assertEquals(List.of(Msg.of(0, CONSOLE_PORT, 1), Msg.of(0, PORT_OPEN, 1)), received(),
            "a console port with a peer");
        sendControl(0, PORT_OPEN, 1); // Linux's init_port_console opens the console port itself
        assertEquals(List.of(), received());
        sendControl(1, PORT_READY, 1);
        assertEquals(List.of(new Msg(1, PORT_NAME, 1, "org.jvisor.test\0")), received(),
            "a named port whose backend has no peer yet: no PORT_OPEN");
    }

    boolean needsReset() {
        return (drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0;
    }

    @Test
    void configAndFeaturesAreQemusVirtioSerial() {
        create(4);
        assertEquals(Virtio.ID_CONSOLE, drv.r(VirtioMmioTransport.DEVICE_ID));
        long f = drv.deviceFeatures();
        assertTrue(Virtio.has(f, VirtioConsole.F_MULTIPORT));
        assertTrue(Virtio.has(f, VirtioConsole.F_EMERG_WRITE));
        assertFalse(Virtio.has(f, VirtioConsole.F_SIZE), "no console size: the host terminal size is not tracked");
        assertEquals(4, drv.r(VirtioMmioTransport.CONFIG + VirtioConsole.CONFIG_MAX_NR_PORTS));
        drv.w(VirtioMmioTransport.QUEUE_SEL, 9);
        assertEquals(VirtioConsole.QUEUE_SIZE, drv.r(VirtioMmioTransport.QUEUE_NUM_MAX), "10 queues for 4 ports");
        drv.w(VirtioMmioTransport.QUEUE_SEL, 10);
        assertEquals(0, drv.r(VirtioMmioTransport.QUEUE_NUM_MAX));
    }

    @Test
    void multiportHandshakeAnnouncesConsoleNameAndHostConnection() {
        create(2);
        handshake();
        named.sink.connectionChanged(true);
        assertEquals(List.of(Msg.of(1, PORT_OPEN, 1)), received(), "a client connected to the backend");
        named.sink.connectionChanged(false);
        assertEquals(List.of(Msg.of(1, PORT_OPEN, 0)), received(), "and went away");
        sendControl(7, PORT_OPEN, 1);
        assertTrue(deviceLog.stream().anyMatch(l -> l.contains("PORT_OPEN for port 7")), deviceLog.toString());
        assertFalse(needsReset(), "an unknown port id is ignored, as QEMU does");
    }

    @Test
    void controlMessagesWaitForReceiveBuffers() {
        create(2);
        bringUp(-1L);
        // Use up the control receive buffers: 8 buffers, then DEVICE_READY's 2 answers and more.
        for (int i = 0; i < 4; i++) {
            sendControl(NO_PORT, DEVICE_READY, 1);
        }
        assertEquals(8, controlRx.usedIdx(), "every buffer used");
        sendControl(NO_PORT, DEVICE_READY, 1);
        assertEquals(8, controlRx.usedIdx(), "no buffer, nothing lost: the messages wait");
        List<Msg> all = received();
        all.addAll(received());
        assertEquals(10, all.size(), "the waiting ones came when the buffers were given back: " + all);
    }

    @Test
    void outputGoesToThePortsBackend() {
        create(2);
        handshake();
        Ring tx0 = rings[1];
        tx0.send("hello from hvc0\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals(1, tx0.usedIdx());
        assertEquals(0, tx0.usedLen(0), "nothing written into a transmit buffer");
        assertEquals("hello from hvc0\n", console.output());

        Ring tx1 = rings[VirtioConsole.receiveq(1) + 1];
        drv.ram.write(tx1.buffer(0), "ab".getBytes(StandardCharsets.US_ASCII));
        drv.ram.write(tx1.buffer(1), "cd".getBytes(StandardCharsets.US_ASCII));
        drv.desc(tx1.desc, 0, tx1.buffer(0), 2, N, 1);
        drv.desc(tx1.desc, 1, tx1.buffer(1), 2, 0, 0);
        tx1.offerHead(0);
        tx1.kick();
        assertEquals("abcd", named.output(), "a chain of two buffers");
        assertEquals("hello from hvc0\n", console.output());
    }

    /**
     * A backend that stops taking bytes holds the transmit requests back: a request is used only
     * once all its bytes were taken, a kick meanwhile moves nothing and repeats nothing, and room
     * brings the queue back through the backend's callback, every byte in order.
     */
    @Test
    void aFullBackendHoldsTransmitRequestsUntilItTakesTheirBytes() {
        create(2);
        handshake();
        named.sink.connectionChanged(true);
        received();
        sendControl(1, PORT_OPEN, 1);
        named.limit(5);
        Ring tx1 = rings[VirtioConsole.receiveq(1) + 1];
        tx1.send("hello ".getBytes(StandardCharsets.US_ASCII));
        tx1.send("world".getBytes(StandardCharsets.US_ASCII));
        assertEquals(0, tx1.usedIdx(), "the first request is not done: one byte waits");
        assertEquals("hello", named.output());
        assertTrue(named.waiting(), "the device waits for room");
        tx1.kick();
        assertEquals(0, tx1.usedIdx(), "a kick while full moves nothing");
        assertEquals("hello", named.output(), "and repeats nothing");

        named.release(3);
        assertEquals(1, tx1.usedIdx(), "the first request is used once its last byte went");
        assertEquals(0, tx1.usedId(0));
        assertEquals("hello wo", named.output());
        assertTrue(named.waiting());

        named.release(Long.MAX_VALUE / 2);
        assertEquals(2, tx1.usedIdx(), "the second one follows");
        assertEquals("hello world", named.output());
        assertFalse(needsReset());
        assertEquals("", console.output(), "the other port is not involved");
    }

    /** The bytes of a held-back request already sent are in the saved state, so a restore sends only the rest. */
    @Test
    void aHeldBackRequestIsSavedWithWhatWasSent() throws Exception {
        create(2);
        handshake();
        console.limit(4);
        rings[1].send("abcdefgh".getBytes(StandardCharsets.US_ASCII));
        assertEquals(0, rings[1].usedIdx());
        VirtioConsoleState saved = (VirtioConsoleState) dev.saveState();
        assertEquals(4, saved.ports().get(0).transmitted());
        dev.restoreState(new VirtioConsoleState(List.of(
            new VirtioConsoleState.Port(0, true, true, saved.ports().get(0).input(), 6),
            saved.ports().get(1)), saved.controlMessages()));
        console.release(100);
        assertEquals("abcdgh", console.output(), "after the restore the request goes on from byte 6");
        assertEquals(1, rings[1].usedIdx());
    }

    @Test
    void emergencyWriteGoesToPortZero() {
        create(2);
        drv.w(VirtioMmioTransport.CONFIG + VirtioConsole.CONFIG_EMERG_WR, 'Z');
        assertEquals("Z", console.output());
    }

    @Test
    void inputWaitsUntilTheGuestOpensThePort() {
        create(2);
        handshake();
        sendControl(1, PORT_OPEN, 0);
        Ring rx1 = rings[VirtioConsole.receiveq(1)];
        rx1.add(1024, W);
        rx1.kick();
        named.sink.receive("early".getBytes(StandardCharsets.US_ASCII), 5);
        assertEquals(0, rx1.usedIdx(), "Linux drops input for a port nobody has open: held");
        assertEquals(5, dev.pendingInput(1));
        sendControl(1, PORT_OPEN, 1);
        assertEquals("early", new String(rx1.takeUsed(false), StandardCharsets.US_ASCII));
    }

    @Test
    void inputIsFlowControlledAndNothingIsLost() throws Exception {
        create(2);
        handshake();
        Ring rx0 = rings[0];
        rx0.add(1000, W);
        rx0.add(1000, W);
        rx0.kick();
        byte[] pattern = new byte[20_000];
        new Random(5).nextBytes(pattern);
        Thread reader = Thread.ofPlatform().start(() -> console.sink.receive(pattern, pattern.length));
        // Two guest buffers and the port's own buffer fill up; then the backend's reader must wait.
        long watchdog = System.currentTimeMillis() + 60_000;
        while (!(reader.getState() == Thread.State.WAITING && dev.pendingInput(0) == ConsolePort.INPUT_BUFFER)) {
            assertTrue(System.currentTimeMillis() < watchdog, "watchdog: the reader never blocked");
            Thread.sleep(1);
        }
        assertEquals(2, rx0.usedIdx(), "both buffers filled");
        assertEquals(rx0.availIdx, rx0.availEvent(), "out of buffers, the device asks to hear about the next one");

        ByteArrayOutputStream got = new ByteArrayOutputStream();
        got.writeBytes(rx0.takeUsed(false));
        while (got.size() < pattern.length) {
            assertTrue(System.currentTimeMillis() < watchdog, "watchdog: input stalled at " + got.size());
            if (rx0.availIdx - rx0.usedIdx() < RING_SIZE) {
                rx0.add(1000, W);
                rx0.kick();
            } else {
                Thread.sleep(1); // the ring is full of buffers: the reader has to catch up
            }
            got.writeBytes(rx0.takeUsed(false));
        }
        assertFalse(needsReset(), drv.log.toString());
        reader.join(60_000);
        assertFalse(reader.isAlive(), "the reader was released");
        assertArrayEquals(pattern, got.toByteArray(), "every byte, in order");
        assertEquals(0, dev.pendingInput(0));
    }

    @Test
    void withoutMultiportPortZeroIsAPlainConsole() {
        create(2);
        bringUp(-1L & ~Virtio.bit(VirtioConsole.F_MULTIPORT));
        rings[0].add(64, W);
        rings[0].kick();
        console.sink.receive("ls\n".getBytes(StandardCharsets.US_ASCII), 3);
        assertEquals("ls\n", new String(rings[0].takeUsed(false), StandardCharsets.US_ASCII));
        rings[1].send("bin\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals("bin\n", console.output());
    }

    @Test
    void deviceReadableReceiveBufferNeedsReset() {
        create(2);
        handshake();
        rings[0].add(64, 0);
        rings[0].kick();
        console.sink.receive("x".getBytes(StandardCharsets.US_ASCII), 1);
        assertTrue(needsReset());
        assertTrue(drv.mmio.core().needsResetReason().contains("receiveq: buffer 0 is device-readable"),
            drv.mmio.core().needsResetReason());
    }

    @Test
    void deviceWritableTransmitBufferNeedsReset() {
        create(2);
        handshake();
        rings[1].add(64, W);
        rings[1].kick();
        assertTrue(needsReset());
        assertTrue(drv.mmio.core().needsResetReason().contains("port 0 transmitq"), drv.mmio.core().needsResetReason());
        assertEquals("", console.output());
    }

    @Test
    void shortControlMessageNeedsResetAndTheDeviceRecovers() {
        create(2);
        handshake();
        controlTx.send(new byte[] {1, 2, 3, 4});
        assertTrue(needsReset());
        assertTrue(drv.mmio.core().needsResetReason().contains("control message"), drv.mmio.core().needsResetReason());

        drv.w(VirtioMmioTransport.STATUS, 0);
        assertFalse(needsReset());
        handshake();
        rings[1].send("again\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals("again\n", console.output(), "after the driver's reset the device works again");
    }

    @Test
    void transmitOnAPortNeverAddedNeedsReset() {
        create(3);
        handshake();
        rings[VirtioConsole.receiveq(2) + 1].send("?".getBytes(StandardCharsets.US_ASCII));
        assertTrue(needsReset());
        assertNotEquals(null, drv.mmio.core().needsResetReason());
        assertTrue(drv.mmio.core().needsResetReason().contains("never added"));
    }
}
