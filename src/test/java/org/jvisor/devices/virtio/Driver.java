package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.jvisor.memory.IdentityDma;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IrqLine;

/**
 * A test driver: drives a {@link VirtioMmioTransport} the way Linux's virtio_mmio + virtio_ring do
 * (probe, feature negotiation, vring setup) and builds split rings by hand in guest memory.
 */
final class Driver implements AutoCloseable {
    static final long DESC = 0x10000;
    static final long AVAIL = 0x11000;
    static final long USED = 0x12000;
    static final long DATA = 0x100000;

    final GuestMemory ram;
    final List<String> log = new ArrayList<>();
    final IrqRecorder irq = new IrqRecorder();
    final VirtioMmioTransport mmio;
    final int size;
    int availIdx;
    int lastUsed;

    static final class IrqRecorder implements IrqLine {
        volatile boolean level;
        int raises;

        @Override
        public synchronized void set(boolean l) {
            if (l && !level) {
                raises++;
            }
            level = l;
        }
    }

    Driver(VirtioDevice dev, int size) {
        this(dev, size, IdentityDma::new);
    }

    Driver(VirtioDevice dev, int size, java.util.function.Function<GuestMemory, org.jvisor.memory.DmaSpace> dma) {
        this(GuestMemory.allocate(2L << 20), dev, size, dma);
    }

    /** A driver on {@code ram} (which it closes), for a device that needed RAM before the driver (vhost-user). */
    Driver(GuestMemory ram, VirtioDevice dev, int size, java.util.function.Function<GuestMemory, org.jvisor.memory.DmaSpace> dma) {
        this.ram = ram;
        this.mmio = new VirtioMmioTransport(dev, dma.apply(ram), irq, log::add);
        this.size = size;
    }

    int r(int reg) {
        return (int) mmio.read(reg, 4);
    }

    void w(int reg, int v) {
        mmio.write(reg, 4, v & 0xFFFF_FFFFL);
    }

    void addStatus(int bits) {
        w(VirtioMmioTransport.STATUS, r(VirtioMmioTransport.STATUS) | bits);
    }

    long deviceFeatures() {
        w(VirtioMmioTransport.DEVICE_FEATURES_SEL, 1);
        long hi = r(VirtioMmioTransport.DEVICE_FEATURES) & 0xFFFF_FFFFL;
        w(VirtioMmioTransport.DEVICE_FEATURES_SEL, 0);
        long lo = r(VirtioMmioTransport.DEVICE_FEATURES) & 0xFFFF_FFFFL;
        return hi << 32 | lo;
    }

    void writeDriverFeatures(long f) {
        w(VirtioMmioTransport.DRIVER_FEATURES_SEL, 1);
        w(VirtioMmioTransport.DRIVER_FEATURES, (int) (f >>> 32));
        w(VirtioMmioTransport.DRIVER_FEATURES_SEL, 0);
        w(VirtioMmioTransport.DRIVER_FEATURES, (int) f);
    }

    /** virtio_mmio probe + virtio_dev_probe up to FEATURES_OK; returns the status read back. */
    int negotiate(long wanted) {
        assertEquals(VirtioMmioTransport.MAGIC, r(VirtioMmioTransport.MAGIC_VALUE));
        assertEquals(2, r(VirtioMmioTransport.VERSION));
        assertTrue(r(VirtioMmioTransport.DEVICE_ID) != 0);
        w(VirtioMmioTransport.STATUS, 0);
        assertEquals(0, r(VirtioMmioTransport.STATUS));
        addStatus(Virtio.STATUS_ACKNOWLEDGE);
        addStatus(Virtio.STATUS_DRIVER);
        long f = deviceFeatures() & wanted;
        writeDriverFeatures(f);
        addStatus(Virtio.STATUS_FEATURES_OK);
        return r(VirtioMmioTransport.STATUS);
    }

    /** vm_setup_vq for queue 0 with the rings at DESC/AVAIL/USED. */
    void setupQueue(int q) {
        w(VirtioMmioTransport.QUEUE_SEL, q);
        assertEquals(0, r(VirtioMmioTransport.QUEUE_READY));
        assertTrue(r(VirtioMmioTransport.QUEUE_NUM_MAX) >= size);
        w(VirtioMmioTransport.QUEUE_NUM, size);
        w(VirtioMmioTransport.QUEUE_DESC_LOW, (int) DESC);
        w(VirtioMmioTransport.QUEUE_DESC_HIGH, 0);
        w(VirtioMmioTransport.QUEUE_DRIVER_LOW, (int) AVAIL);
        w(VirtioMmioTransport.QUEUE_DRIVER_HIGH, 0);
        w(VirtioMmioTransport.QUEUE_DEVICE_LOW, (int) USED);
        w(VirtioMmioTransport.QUEUE_DEVICE_HIGH, 0);
        w(VirtioMmioTransport.QUEUE_READY, 1);
    }

    /** The whole Linux bring-up: negotiation, queue 0, DRIVER_OK. */
    Driver start(long wanted) {
        int st = negotiate(wanted);
        assertTrue((st & Virtio.STATUS_FEATURES_OK) != 0, "FEATURES_OK refused");
        setupQueue(0);
        addStatus(Virtio.STATUS_DRIVER_OK);
        return this;
    }

    Driver start() {
        return start(-1L);
    }

    void desc(long table, int i, long addr, int len, int flags, int next) {
        long d = table + 16L * i;
        ram.writeU64(d, addr);
        ram.writeU32(d + 8, len);
        ram.writeU16(d + 12, (short) flags);
        ram.writeU16(d + 14, (short) next);
    }

    void desc(int i, long addr, int len, int flags, int next) {
        desc(DESC, i, addr, len, flags, next);
    }

    /** Makes chain {@code head} available (without notifying). */
    void offer(int head) {
        ram.writeU16(AVAIL + 4 + 2L * (availIdx % size), (short) head);
        availIdx++;
        ram.writeU16(AVAIL + 2, (short) availIdx);
    }

    void kick(int q) {
        w(VirtioMmioTransport.QUEUE_NOTIFY, q);
    }

    int usedIdx() {
        return ram.readU16(USED + 2) & 0xFFFF;
    }

    int usedId(int i) {
        return ram.readU32(USED + 4 + 8L * (i % size));
    }

    int usedLen(int i) {
        return ram.readU32(USED + 4 + 8L * (i % size) + 4);
    }

    /** Linux's interrupt handler: read InterruptStatus, ack it. */
    int ackInterrupt() {
        int s = r(VirtioMmioTransport.INTERRUPT_STATUS);
        w(VirtioMmioTransport.INTERRUPT_ACK, s);
        return s;
    }

    int status() {
        return r(VirtioMmioTransport.STATUS);
    }

    @Override
    public void close() {
        ram.close();
    }
}
