package org.jvisor.devices.virtio;

import java.io.IOException;
import java.util.function.Consumer;
import org.jvisor.config.MacAddress;
import org.jvisor.backend.net.NetBackend;
import org.jvisor.backend.net.Offloads;
import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;

/**
 * virtio-net (virtio 1.2, 5.1): one receive and one transmit queue on a {@link NetBackend}. Frames
 * keep their 12-byte virtio-net header (with num_buffers) end to end, so the checksum and
 * segmentation offloads the guest negotiates are done by the host kernel's tap; a backend that
 * carries no offloads (a stream peer) is offered to the guest without them. Received frames go
 * into merged receive buffers (VIRTIO_NET_F_MRG_RXBUF) when the driver accepts them. With no
 * receive buffers the device stops reading the backend until the driver adds some: the host queues
 * (or drops) and nothing spins. Transmit runs on the queue's processing thread. Frames are copied
 * through two preallocated buffers: nothing is allocated per frame.
 */
public final class VirtioNet implements VirtioDevice {
    // Feature bits (5.1.3)
    public static final int F_CSUM = 0;
    public static final int F_GUEST_CSUM = 1;
    public static final int F_MAC = 5;
    public static final int F_GUEST_TSO4 = 7;
    public static final int F_GUEST_TSO6 = 8;
    public static final int F_GUEST_ECN = 9;
    public static final int F_HOST_TSO4 = 11;
    public static final int F_HOST_TSO6 = 12;
    public static final int F_HOST_ECN = 13;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;

    /** virtio_net_config.status (5.1.4). */
    public static final int S_LINK_UP = 1;
    /** struct virtio_net_hdr flags (5.1.6). */
    public static final int HDR_F_NEEDS_CSUM = 1;
    public static final int HDR_F_DATA_VALID = 2;
    /** struct virtio_net_hdr with num_buffers: its size whenever VIRTIO_F_VERSION_1 is negotiated (5.1.6). */
    public static final int HDR_SIZE = 12;
    public static final int NUM_BUFFERS_OFFSET = 10;

    public static final int RX = 0;
    public static final int TX = 1;
    public static final int DEFAULT_QUEUE_SIZE = 256;
    /** The header and the largest frame a tap hands over with segmentation offloads (64 KiB + Ethernet + VLAN). */
    public static final int MAX_FRAME = HDR_SIZE + 65536 + 18;
    private static final int CONFIG_SIZE = 10;

    private final NetBackend backend;
    private final MacAddress mac;
    private final int queueSize;
    private final long features;
    private final ConfigSpace config = new ConfigSpace(CONFIG_SIZE);
    private final Consumer<String> log;
    private final byte[] rxBuf = new byte[MAX_FRAME];
    private final byte[] txBuf = new byte[MAX_FRAME];
    private final byte[] numBuffers = new byte[2];
    private final int[] heads;
    private final int[] lens;
    private final SplitVirtqueue.RequestHandler transmit = this::transmit;
    private final Runnable frameWaiting = this::frameWaiting;

    private volatile SplitVirtqueue rxq;
    private volatile SplitVirtqueue txq;
    private volatile VirtioInterrupt interrupt;
    private boolean mergeable;
    private boolean guestCsum;
    /** Length of the frame in rxBuf still waiting for receive buffers, or 0. */
    private int pending;
    private int popped;
    private int loggedErrors;

    // Counters (read by tests and the monitor; each written by one processing thread)
    private volatile long rxFrames;
    private volatile long txFrames;
    private volatile long rxDropped;
    private volatile long txDropped;

    public VirtioNet(NetBackend backend, MacAddress mac) {
        this(backend, mac, DEFAULT_QUEUE_SIZE, msg -> System.err.println("jvisor: " + msg));
    }

    public VirtioNet(NetBackend backend, MacAddress mac, int queueSize, Consumer<String> log) {
        if (backend.vnetHeaderSize() != HDR_SIZE) {
            throw new IllegalArgumentException(backend.describe() + " uses a " + backend.vnetHeaderSize()
                + "-byte virtio-net header; virtio-net 1.x needs " + HDR_SIZE);
        }
        this.backend = backend;
        this.mac = mac;
        this.queueSize = queueSize;
        this.log = log;
        this.heads = new int[queueSize];
        this.lens = new int[queueSize];
        long offloads = Virtio.bit(F_CSUM) | Virtio.bit(F_GUEST_CSUM)
            | Virtio.bit(F_GUEST_TSO4) | Virtio.bit(F_GUEST_TSO6) | Virtio.bit(F_GUEST_ECN)
            | Virtio.bit(F_HOST_TSO4) | Virtio.bit(F_HOST_TSO6) | Virtio.bit(F_HOST_ECN);
        // A backend of plain frames cannot complete a checksum or split a segment: offer none
        // (QEMU's virtio_net_get_features without peer_has_vnet_hdr).
        this.features = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_RING_INDIRECT_DESC)
            | Virtio.bit(Virtio.F_RING_EVENT_IDX) | Virtio.bit(F_MAC) | Virtio.bit(F_MRG_RXBUF) | Virtio.bit(F_STATUS)
            | (backend.carriesOffloads() ? offloads : 0);
        for (int i = 0; i < 6; i++) {
            config.put8(i, mac.octet(i));
        }
        config.put16(6, S_LINK_UP);
        config.put16(8, 1);     // max_virtqueue_pairs (meaningful only with VIRTIO_NET_F_MQ)
        backend.setReceiveListener(frameWaiting);
    }

    public NetBackend backend() {
        return backend;
    }

    public MacAddress mac() {
        return mac;
    }

    public long rxFrames() {
        return rxFrames;
    }

    public long txFrames() {
        return txFrames;
    }

    public long rxDropped() {
        return rxDropped;
    }

    public long txDropped() {
        return txDropped;
    }

    @Override
    public int deviceType() {
        return Virtio.ID_NET;
    }

    @Override
    public String name() {
        return "virtio-net(" + backend.describe() + ")";
    }

    @Override
    public long deviceFeatures() {
        return features;
    }

    @Override
    public int queueCount() {
        return 2;
    }

    @Override
    public int queueMaxSize(int queue) {
        return queueSize;
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public long readConfig(int offset, int size) {
        return config.read(offset, size);
    }

    @Override
    public void writeConfig(int offset, int size, long value) {
        // Read-only for a 1.x driver: the MAC is changed through the control queue, which is not offered.
    }

    @Override
    public void activate(SplitVirtqueue[] queues, long negotiated, VirtioInterrupt interrupt) {
        this.mergeable = Virtio.has(negotiated, F_MRG_RXBUF);
        this.guestCsum = Virtio.has(negotiated, F_GUEST_CSUM);
        Offloads offloads = new Offloads(guestCsum, Virtio.has(negotiated, F_GUEST_TSO4),
            Virtio.has(negotiated, F_GUEST_TSO6), Virtio.has(negotiated, F_GUEST_ECN));
        try {
            backend.setOffloads(offloads);
        } catch (IOException e) {
            log.accept(name() + ": " + e.getMessage() + "; receiving without offloads");
            try {
                backend.setOffloads(Offloads.NONE);
            } catch (IOException e2) {
                log.accept(name() + ": " + e2.getMessage());
            }
        }
        this.pending = 0;
        this.rxq = queues[RX];
        this.txq = queues[TX];
        this.interrupt = interrupt;
        backend.armReceive();
    }

    @Override
    public void reset() {
        backend.disarmReceive();
        rxq = null;
        txq = null;
        interrupt = null;
        pending = 0;
        try {
            backend.setOffloads(Offloads.NONE);
        } catch (IOException e) {
            log.accept(name() + ": " + e.getMessage());
        }
    }

    @Override
    public DeviceState saveState() {
        return new VirtioNetState(macBytes(), Bytes.copyOf(rxBuf, 0, pending));
    }

    private Bytes macBytes() {
        byte[] m = new byte[6];
        for (int i = 0; i < 6; i++) {
            m[i] = (byte) mac.octet(i);
        }
        return Bytes.copyOf(m);
    }

    /** Checks the MAC; takes back the frame that was waiting for receive buffers. */
    @Override
    public void restoreState(DeviceState state) throws DeviceStateException {
        if (!(state instanceof VirtioNetState s)) {
            throw DeviceStateException.wrongKind(name(), VirtioNetState.class, state);
        }
        Bytes m = macBytes();
        if (!s.mac().equals(m)) {
            throw new DeviceStateException(name() + ": MAC " + s.mac() + " in the state, " + m + " here");
        }
        int len = s.pendingFrame().length();
        if (len != 0 && (len < HDR_SIZE || len > MAX_FRAME)) {
            throw new DeviceStateException(String.format("%s: the pending frame has %d bytes (a header of %d up to %d)",
                name(), len, HDR_SIZE, MAX_FRAME));
        }
        s.pendingFrame().copyTo(rxBuf, 0);
        pending = len;
    }

    /** The backend has a frame (its thread): receive on the receive queue's processing thread. */
    private void frameWaiting() {
        VirtioInterrupt i = interrupt;
        if (i != null) {
            i.backendReady(RX);
        }
    }

    @Override
    public void processQueue(int index) throws VirtqueueException {
        if (index == RX) {
            SplitVirtqueue q = rxq;
            if (q != null) {
                receive(q);
            }
        } else if (index == TX) {
            SplitVirtqueue q = txq;
            if (q != null && q.drain(transmit)) {
                interrupt.usedBuffer(TX);
            }
        }
    }

    /**
     * Moves frames from the backend into receive buffers until the backend is empty (then asks it
     * for the next frame) or the buffers run out (then asks the driver to notify the queue when it
     * adds some; the frame in hand waits for them).
     */
    private void receive(SplitVirtqueue q) throws VirtqueueException {
        try {
            q.setNotification(false);
            while (true) {
                if (pending == 0) {
                    int n;
                    try {
                        n = backend.receive(rxBuf);
                    } catch (IOException e) {
                        logError(e.getMessage() + "; receiving stops");
                        return;
                    }
                    if (n == 0) {
                        backend.armReceive();
                        return;
                    }
                    if (n < HDR_SIZE) {
                        rxDropped++;
                        continue;
                    }
                    pending = n;
                }
                if (deliver(q, pending)) {
                    pending = 0;
                    continue;
                }
                if (popped >= q.size()) {
                    // The ring is full of buffers (one per descriptor, as Linux posts them) and the
                    // frame still does not fit: the driver cannot add more, so waiting would never end.
                    q.unpop(popped);
                    rxDropped++;
                    logError(String.format("a %d-byte frame does not fit in all %d receive buffers; frame dropped",
                        pending, popped));
                    pending = 0;
                    continue;
                }
                // Out of buffers: every available one was popped and is still held. Ask for a
                // notification past them, look once more (the driver may have added some in
                // between), and give them back.
                q.setNotification(true);
                boolean more = q.hasAvailable();
                q.unpop(popped);
                if (!more) {
                    return;
                }
            }
        } finally {
            if (q.needsNotification()) {
                interrupt.usedBuffer(RX);
            }
        }
    }

    /**
     * Writes the {@code len}-byte frame in rxBuf into as many receive buffers as it needs (one
     * without MRG_RXBUF) and publishes them together. False if the available buffers are too few
     * ({@link #popped} of them were popped and are held).
     */
    private boolean deliver(SplitVirtqueue q, int len) throws VirtqueueException {
        if (!guestCsum) {
            rxBuf[0] = 0;   // flags: no partial checksum, nothing claimed valid (5.1.6.4.1)
        }
        int k = 0;
        int off = 0;
        long nb0 = 0;
        long nb1 = 0;
        DescriptorChain first = null;
        while (off < len) {
            DescriptorChain c = q.pop();
            if (c == null) {
                popped = k;
                return false;
            }
            if (c.readableCount() != 0) {
                throw new VirtqueueException(String.format(
                    "virtio-net receive buffer %d has device-readable descriptors", c.head()));
            }
            long room = c.writableBytes();
            if ((k == 0 || mergeable) && room < HDR_SIZE) {
                throw new VirtqueueException(String.format(
                    "virtio-net receive buffer %d has %d bytes, less than the %d-byte header", c.head(), room, HDR_SIZE));
            }
            if (!mergeable && room < len) {
                // Too small for this frame without merged buffers (5.1.6.3.1): drop the frame, keep the buffer.
                q.unpop(1);
                rxDropped++;
                logError(String.format("receive buffer %d of %d bytes is too small for a %d-byte frame; frame dropped",
                    c.head(), room, len));
                return true;
            }
            int n = (int) Math.min(room, len - off);
            c.write(0, rxBuf, off, n);
            if (k == 0) {
                first = c;
                nb0 = writableAddress(c, NUM_BUFFERS_OFFSET);
                nb1 = writableAddress(c, NUM_BUFFERS_OFFSET + 1);
            }
            heads[k] = c.head();
            lens[k] = n;
            k++;
            off += n;
        }
        numBuffers[0] = (byte) k;
        numBuffers[1] = (byte) (k >>> 8);
        first.dma().write(nb0, numBuffers, 0, 1);
        first.dma().write(nb1, numBuffers, 1, 1);
        q.pushAll(heads, lens, k);
        rxFrames++;
        return true;
    }

    /** Guest address of byte {@code offset} of the chain's writable buffers. */
    private static long writableAddress(DescriptorChain c, int offset) {
        long pos = 0;
        for (int i = 0; i < c.writableCount(); i++) {
            long len = c.writableLength(i) & 0xFFFF_FFFFL;
            if (offset < pos + len) {
                return c.writableAddress(i) + (offset - pos);
            }
            pos += len;
        }
        throw new IllegalStateException("offset " + offset + " beyond the chain");
    }

    /** Sends one transmit chain (header and frame, device-readable only); completes it with 0 bytes written. */
    private int transmit(DescriptorChain c) throws VirtqueueException {
        if (c.writableCount() != 0) {
            throw new VirtqueueException(String.format(
                "virtio-net transmit chain %d has device-writable descriptors", c.head()));
        }
        long len = c.readableBytes();
        if (len < HDR_SIZE) {
            throw new VirtqueueException(String.format(
                "virtio-net transmit chain %d has %d bytes, less than the %d-byte header", c.head(), len, HDR_SIZE));
        }
        if (len > MAX_FRAME) {
            txDropped++;
            logError(String.format("transmit chain %d of %d bytes is larger than %d; frame dropped", c.head(), len, MAX_FRAME));
            return 0;
        }
        c.read(0, txBuf, 0, (int) len);
        try {
            backend.send(txBuf, (int) len);
            txFrames++;
        } catch (IOException e) {
            txDropped++;
            logError(e.getMessage());
        }
        return 0;
    }

    private void logError(String msg) {
        if (loggedErrors < 10) {
            loggedErrors++;
            log.accept(name() + ": " + msg + (loggedErrors == 10 ? " (further errors are not logged)" : ""));
        }
    }
}
