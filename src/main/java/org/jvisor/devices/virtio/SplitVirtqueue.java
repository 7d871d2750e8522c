package org.jvisor.devices.virtio;

import java.lang.invoke.VarHandle;

import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.SegmentDma;
import org.jvisor.memory.DmaSpace;

/**
 * A split virtqueue (virtio 1.2, 2.7): descriptor table, available (driver) ring and used (device)
 * ring in guest memory, every access through a {@link DmaSpace}. The transport fills in the
 * addresses and size; the device pops chains and pushes used elements. Not thread-safe: one thread
 * processes a queue at a time (the transport serialises it).
 */
public final class SplitVirtqueue {
    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;
    public static final int DESC_F_INDIRECT = 4;
    /** avail.flags: the driver does not want used buffer notifications. */
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    /** used.flags: the device does not want available buffer notifications. */
    public static final int USED_F_NO_NOTIFY = 1;
    /** Largest indirect table accepted (descriptors), as QEMU's VIRTQUEUE_MAX_SIZE. */
    public static final int MAX_INDIRECT = 1024;

    private final int index;
    private final int maxSize;
    private final DescriptorChain chain;

    // Transport-visible configuration
    private int size;
    private boolean ready;
    private long descTable;
    private long driverArea;
    private long deviceArea;
    private int msixVector = 0xFFFF;

    // Run state
    private DmaSpace dma;
    private boolean eventIdx;
    /** An iothread polls this queue: {@link #drain} leaves notifications off for the poller to end. */
    private boolean polled;
    private boolean indirect;
    private boolean active;
    private int lastAvail;
    private int availIdxCache;
    private int usedIdx;
    private int signalledUsed;
    private boolean usedSinceSignal;

    public SplitVirtqueue(int index, int maxSize) {
        if (maxSize <= 0 || maxSize > 32768 || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue size must be a power of 2 up to 32768: " + maxSize);
        }
        this.index = index;
        this.maxSize = maxSize;
        this.size = maxSize;
        this.chain = new DescriptorChain(Math.max(maxSize, MAX_INDIRECT));
    }

    public int index() {
        return index;
    }

    public int maxSize() {
        return maxSize;
    }

    public int size() {
        return size;
    }

    /** Sets the queue size the driver chose; false (and unchanged) if it is not a power of 2 up to the maximum. */
    public boolean setSize(int size) {
        if (size <= 0 || size > maxSize || Integer.bitCount(size) != 1) {
            return false;
        }
        this.size = size;
        return true;
    }

    public boolean ready() {
        return ready;
    }

    public void setReady(boolean ready) {
        this.ready = ready;
    }

    public long descTable() {
        return descTable;
    }

    public void setDescTable(long a) {
        descTable = a;
    }

    public long driverArea() {
        return driverArea;
    }

    public void setDriverArea(long a) {
        driverArea = a;
    }

    public long deviceArea() {
        return deviceArea;
    }

    public void setDeviceArea(long a) {
        deviceArea = a;
    }

    public int msixVector() {
        return msixVector;
    }

    public void setMsixVector(int v) {
        msixVector = v;
    }

    public boolean active() {
        return active;
    }

    /**
     * Starts using the rings (at DRIVER_OK, or when the queue becomes ready after it) with the
     * negotiated features. Checks that the three areas lie in guest memory and are aligned.
     */
    public void activate(DmaSpace dma, long features) throws VirtqueueException {
        this.dma = dma;
        this.eventIdx = Virtio.has(features, Virtio.F_RING_EVENT_IDX);
        this.indirect = Virtio.has(features, Virtio.F_RING_INDIRECT_DESC);
        if ((descTable & 15) != 0 || (driverArea & 1) != 0 || (deviceArea & 3) != 0) {
            throw new VirtqueueException(String.format(
                "queue %d: misaligned rings (desc %#x, driver %#x, device %#x)", index, descTable, driverArea, deviceArea));
        }
        checkRange(descTable, 16L * size, "descriptor table");
        checkRange(driverArea, 6 + 2L * size, "available ring");
        checkRange(deviceArea, 6 + 8L * size, "used ring");
        lastAvail = 0;
        availIdxCache = 0;
        usedIdx = 0;
        signalledUsed = 0;
        usedSinceSignal = false;
        active = true;
    }

    /** Back to the state after reset: not ready, no addresses, maximum size. */
    public void reset() {
        active = false;
        ready = false;
        size = maxSize;
        descTable = 0;
        driverArea = 0;
        deviceArea = 0;
        msixVector = 0xFFFF;
        dma = null;
        lastAvail = 0;
        availIdxCache = 0;
        usedIdx = 0;
        signalledUsed = 0;
        usedSinceSignal = false;
    }

    /**
     * Continues from what the guest sees in the used ring: the next available entry to read is
     * used->idx (every request not yet completed is read again). For a device whose rings were
     * processed elsewhere (a vhost-user backend that went away), as QEMU does for backends
     * without in-flight tracking.
     */
    public void resumeFromUsedRing() {
        int used = dma.readU16(deviceArea + 2) & 0xFFFF;
        lastAvail = used;
        availIdxCache = used;
        usedIdx = used;
        signalledUsed = used;
        usedSinceSignal = false;
    }

    /**
     * Continues at available entry {@code nextAvail} (a vhost-user frontend's SET_VRING_BASE) with
     * the used index the ring holds now, as libvhost-user does when a ring starts: every request
     * before {@code nextAvail} was completed by whoever served the ring before.
     */
    public void resumeAt(int nextAvail) {
        int used = dma.readU16(deviceArea + 2) & 0xFFFF;
        lastAvail = nextAvail & 0xFFFF;
        availIdxCache = lastAvail;
        usedIdx = used;
        signalledUsed = used;
        usedSinceSignal = false;
    }

    /** Stops processing (the device is being reset or needs a reset) but keeps the configuration. */
    public void deactivate() {
        active = false;
    }

    // ---- state ----

    public VirtqueueState saveState() {
        return new VirtqueueState(maxSize, size, ready, descTable, driverArea, deviceArea, msixVector, active, lastAvail,
            usedIdx, signalledUsed, usedSinceSignal);
    }

    /**
     * Validates a state before {@link #restoreState} (rust-vmm's {@code QueueState} rules): the
     * same maximum size; a size that is a power of two up to it; 16-bit indexes; and for a queue in
     * use, that it is ready and its descriptor table (16-byte aligned), available ring (2-byte
     * aligned) and used ring (4-byte aligned) lie in guest RAM as {@code dma} sees it.
     */
    public void checkState(VirtqueueState s, DmaSpace dma) throws DeviceStateException {
        String q = "virtqueue " + index;
        if (s.maxSize() != maxSize) {
            throw new DeviceStateException(String.format("%s: max_size is %d in the state but %d here", q, s.maxSize(),
                maxSize));
        }
        if (s.size() <= 0 || s.size() > maxSize || Integer.bitCount(s.size()) != 1) {
            throw new DeviceStateException(String.format("%s: size %d is not a power of two up to max_size %d", q,
                s.size(), maxSize));
        }
        DeviceStateException.checkRange(q, "msix_vector", s.msixVector(), 0, 0xFFFF);
        DeviceStateException.checkRange(q, "next_avail", s.nextAvail(), 0, 0xFFFF);
        DeviceStateException.checkRange(q, "next_used", s.nextUsed(), 0, 0xFFFF);
        DeviceStateException.checkRange(q, "signalled used index", s.signalledUsed(), 0, 0xFFFF);
        if (!s.active()) {
            return;
        }
        if (!s.ready()) {
            throw new DeviceStateException(q + ": in use but not ready");
        }
        checkRing(q, "desc_table", s.descTable(), 16, 16L * s.size(), dma);
        checkRing(q, "avail_ring", s.driverArea(), 2, 6 + 2L * s.size(), dma);
        checkRing(q, "used_ring", s.deviceArea(), 4, 6 + 8L * s.size(), dma);
    }

    private static void checkRing(String q, String field, long addr, int align, long len, DmaSpace dma)
            throws DeviceStateException {
        if ((addr & (align - 1)) != 0) {
            throw new DeviceStateException(String.format("%s: %s %#x is not %d-byte aligned", q, field, addr, align));
        }
        if (addr + len < addr || (dma instanceof SegmentDma s && !s.valid(addr, len))) {
            throw new DeviceStateException(String.format("%s: %s [%#x, +%#x) is outside guest RAM", q, field, addr, len));
        }
    }

    /**
     * Takes a state that passed {@link #checkState}; a queue in use resumes on {@code dma} with
     * the ring features of the negotiated {@code features}.
     */
    public void restoreState(VirtqueueState s, DmaSpace dma, long features) throws DeviceStateException {
        checkState(s, dma);
        size = s.size();
        ready = s.ready();
        descTable = s.descTable();
        driverArea = s.driverArea();
        deviceArea = s.deviceArea();
        msixVector = s.msixVector();
        active = s.active();
        this.dma = active ? dma : null;
        eventIdx = Virtio.has(features, Virtio.F_RING_EVENT_IDX);
        indirect = Virtio.has(features, Virtio.F_RING_INDIRECT_DESC);
        lastAvail = s.nextAvail();
        availIdxCache = lastAvail;
        usedIdx = s.nextUsed();
        signalledUsed = s.signalledUsed();
        usedSinceSignal = s.usedSinceSignal();
    }

    private void checkRange(long addr, long len, String what) throws VirtqueueException {
        if (addr + len < addr || (dma instanceof SegmentDma s && !s.valid(addr, len))) {
            throw new VirtqueueException(String.format(
                "queue %d: %s [%#x, +%#x) is outside guest memory", index, what, addr, len));
        }
    }

    /** Whether the driver has made buffers available that the device has not popped. */
    public boolean hasAvailable() {
        if (!active) {
            return false;
        }
        if (lastAvail != availIdxCache) {
            return true;
        }
        availIdxCache = dma.readU16(driverArea + 2) & 0xFFFF;
        VarHandle.acquireFence();
        return lastAvail != availIdxCache;
    }

    /**
     * The next available chain, or null if there is none. The returned object is reused by the next
     * call. Throws if the chain is malformed; the queue is then unusable until the device is reset.
     */
    public DescriptorChain pop() throws VirtqueueException {
        if (!hasAvailable()) {
            return null;
        }
        if (((availIdxCache - lastAvail) & 0xFFFF) > size) {
            throw new VirtqueueException(String.format(
                "queue %d: available index %d is more than the queue size ahead of %d", index, availIdxCache, lastAvail));
        }
        int head = dma.readU16(driverArea + 4 + 2L * (lastAvail & (size - 1))) & 0xFFFF;
        lastAvail = (lastAvail + 1) & 0xFFFF;
        if (head >= size) {
            throw new VirtqueueException(String.format("queue %d: head descriptor %d is beyond the queue size %d",
                index, head, size));
        }
        DescriptorChain c = chain;
        c.clear(dma);
        c.head = head;
        long table = descTable;
        int tableSize = size;
        boolean inIndirect = false;
        int idx = head;
        int count = 0;
        while (true) {
            long d = table + 16L * idx;
            long addr = dma.readU64(d);
            int len = dma.readU32(d + 8);
            int flags = dma.readU16(d + 12) & 0xFFFF;
            int next = dma.readU16(d + 14) & 0xFFFF;
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!indirect) {
                    throw new VirtqueueException(String.format(
                        "queue %d: indirect descriptor but VIRTIO_F_RING_INDIRECT_DESC was not negotiated", index));
                }
                if (inIndirect) {
                    throw new VirtqueueException(String.format("queue %d: indirect descriptor inside an indirect table", index));
                }
                if ((flags & DESC_F_NEXT) != 0 || count != 0) {
                    throw new VirtqueueException(String.format(
                        "queue %d: indirect descriptor %d is not alone in its chain", index, idx));
                }
                long tlen = len & 0xFFFF_FFFFL;
                if (tlen == 0 || (tlen & 15) != 0 || tlen / 16 > MAX_INDIRECT) {
                    throw new VirtqueueException(String.format(
                        "queue %d: indirect table of bad length %d (a non-zero multiple of 16 up to %d entries)",
                        index, tlen, MAX_INDIRECT));
                }
                checkBuffer(addr, tlen, "indirect table");
                table = addr;
                tableSize = (int) (tlen / 16);
                inIndirect = true;
                idx = 0;
                continue;
            }
            if (++count > tableSize) {
                throw new VirtqueueException(String.format(
                    "queue %d: descriptor chain from head %d is longer than %d (a loop)", index, head, tableSize));
            }
            long ulen = len & 0xFFFF_FFFFL;
            checkBuffer(addr, ulen, "buffer");
            if ((flags & DESC_F_WRITE) != 0) {
                c.addWritable(addr, len);
            } else {
                if (c.writeCount != 0) {
                    throw new VirtqueueException(String.format(
                        "queue %d: readable descriptor after a writable one in chain %d", index, head));
                }
                c.addReadable(addr, len);
            }
            if ((flags & DESC_F_NEXT) == 0) {
                break;
            }
            if (next >= tableSize) {
                throw new VirtqueueException(String.format(
                    "queue %d: next descriptor %d is beyond the table of %d", index, next, tableSize));
            }
            idx = next;
        }
        return c;
    }

    private void checkBuffer(long addr, long len, String what) throws VirtqueueException {
        if (addr + len < addr || (dma instanceof SegmentDma s && len != 0 && !s.valid(addr, len))) {
            throw new VirtqueueException(String.format(
                "queue %d: %s [%#x, +%#x) is outside guest memory", index, what, addr, len));
        }
    }

    /**
     * Puts chain {@code head} in the used ring with {@code written} bytes written into its writable
     * buffers, and publishes the new used index.
     */
    public void push(int head, int written) {
        long elem = deviceArea + 4 + 8L * (usedIdx & (size - 1));
        dma.writeU32(elem, head);
        dma.writeU32(elem + 4, written);
        usedIdx = (usedIdx + 1) & 0xFFFF;
        VarHandle.releaseFence();
        dma.writeU16(deviceArea + 2, (short) usedIdx);
        usedSinceSignal = true;
    }

    /**
     * Gives back the last {@code n} chains popped and not pushed: the next {@link #pop()} returns
     * them again (a device that found too few buffers for a packet waits for more).
     */
    public void unpop(int n) {
        lastAvail = (lastAvail - n) & 0xFFFF;
    }

    /**
     * Puts {@code count} chains in the used ring and publishes them with one used index update, so
     * the driver sees them together (merged receive buffers, virtio 1.2, 5.1.6.4).
     */
    public void pushAll(int[] heads, int[] written, int count) {
        int idx = usedIdx;
        for (int i = 0; i < count; i++) {
            long elem = deviceArea + 4 + 8L * (idx & (size - 1));
            dma.writeU32(elem, heads[i]);
            dma.writeU32(elem + 4, written[i]);
            idx = (idx + 1) & 0xFFFF;
        }
        usedIdx = idx;
        VarHandle.releaseFence();
        dma.writeU16(deviceArea + 2, (short) usedIdx);
        usedSinceSignal = true;
    }

    /**
     * Whether the driver wants a used buffer notification for what was pushed since the last call
     * (AVAIL_F_NO_INTERRUPT, or with EVENT_IDX the used_event rule {@code vring_need_event}).
     */
    public boolean needsNotification() {
        if (!usedSinceSignal) {
            return false;
        }
        usedSinceSignal = false;
        VarHandle.fullFence();
        if (eventIdx) {
            int usedEvent = dma.readU16(driverArea + 4 + 2L * size) & 0xFFFF;
            int old = signalledUsed;
            signalledUsed = usedIdx;
            return needEvent(usedEvent, usedIdx, old);
        }
        return (dma.readU16(driverArea) & AVAIL_F_NO_INTERRUPT) == 0;
    }

    /** Executes one request and returns the bytes it wrote into the chain's writable buffers. */
    @FunctionalInterface
    public interface RequestHandler {
        int handle(DescriptorChain chain) throws VirtqueueException;
    }

    /**
     * Serves every available request with notifications suppressed, then re-enables them and
     * looks again, so a buffer made available in between is not left waiting (virtio 1.2,
     * 2.7.10). Returns whether the driver wants a used buffer notification.
     */
    public boolean drain(RequestHandler handler) throws VirtqueueException {
        do {
            setNotification(false);
            DescriptorChain c;
            while ((c = pop()) != null) {
                push(c.head(), handler.handle(c));
            }
            if (polled) {
                return needsNotification();     // the poller looks again, and re-enables when it stops
            }
            setNotification(true);
        } while (hasAvailable());
        return needsNotification();
    }

    /** {@code vring_need_event}: whether {@code eventIdx} lies in (old, new]. */
    public static boolean needEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xFFFF) < ((newIdx - oldIdx) & 0xFFFF);
    }

    /**
     * Asks the driver for (or to stop sending) available buffer notifications: USED_F_NO_NOTIFY, or
     * with EVENT_IDX the avail_event index. After enabling, check {@link #hasAvailable()} again
     * before sleeping: a buffer may have arrived in between.
     */
    public void setNotification(boolean enable) {
        if (eventIdx) {
            if (enable) {
                dma.writeU16(deviceArea + 4 + 8L * size, (short) lastAvail);
            }
        } else {
            dma.writeU16(deviceArea, (short) (enable ? 0 : USED_F_NO_NOTIFY));
        }
        VarHandle.fullFence();
    }

    /**
     * Whether an iothread polls this queue (QEMU's aio_set_event_notifier_poll): then
     * {@link #drain} leaves available buffer notifications suppressed, and the poller enables them
     * when its window ends idle ({@link VirtioCore#endPoll}). Kept across resets: it is the
     * device's configuration, not the driver's.
     */
    public void setPolled(boolean polled) {
        this.polled = polled;
    }

    public boolean polled() {
        return polled;
    }

    /** Index of the next available entry the device will read. */
    public int lastAvailIndex() {
        return lastAvail;
    }

    public int usedIndex() {
        return usedIdx;
    }
}
