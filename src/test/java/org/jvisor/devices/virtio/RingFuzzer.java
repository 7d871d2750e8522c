package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;

import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;
import org.jvisor.memory.IrqLine;
import org.jvisor.testing.RamWriteCheck;

/**
 * A hostile virtio driver for fuzz targets: it brings a device up on virtio-mmio with features
 * and queue sizes the fuzzer picks, then offers descriptor chains built from the fuzzer's bytes
 * (direct and indirect, readable and writable, addresses in RAM, at its end or beyond it, any
 * length, loops) and notifies. After every notification it checks the invariants every device
 * must keep against any guest:
 * <ul>
 *   <li>no exception leaves the transport's register write (the vCPU thread's call);</li>
 *   <li>the device either completed requests or set DEVICE_NEEDS_RESET for a reason of its own,
 *       never because its model threw ("device model failed");</li>
 *   <li>each used element names a chain that was offered, once, and counts no more bytes than
 *       the chain had writable;</li>
 *   <li>guest RAM changed only inside the writable buffers of the offered chains and the used
 *       rings (a device writes nowhere else); checked once per session, as the allowed ranges
 *       only grow within one.</li>
 * </ul>
 * Half the chains follow the device's driver (its request layouts and header fields, given by
 * the target): a refused chain ends a session with NEEDS_RESET, so without them the device's own
 * request handling is rarely reached (a planted missing end-of-disk check in virtio-blk went
 * unnoticed for a minute without, and was found in 13 s with them).
 * The rings of queue q lie at 64 KiB + 16 KiB * q; indirect tables at 256 KiB + 4 KiB * n; data
 * buffers from 1 MiB to the end of the 2 MiB of RAM. Descriptors never point into the ring area,
 * so what the device reads there is exactly what this driver wrote.
 */
final class RingFuzzer implements AutoCloseable {
    static final long RINGS = 0x10000;
    static final long RING_STRIDE = 0x4000;
    static final long INDIRECT = 0x40000;
    static final long DATA = 0x100000;
    static final long RAM = GuestMemory.MIN_SIZE;
    static final int MAX_DESCS = 12;

    final GuestMemory ram = GuestMemory.allocate(RAM);
    final VirtioMmioTransport mmio;
    final VirtioDevice device;
    private final RamWriteCheck writes = new RamWriteCheck(ram);
    private final List<String> log = new ArrayList<>();
    private final int[] sizes;
    private final int[] availIdx;
    private final int[] usedSeen;
    /** Per queue, per head: how many times the head was offered and not yet used. */
    private final int[][] inFlight;
    /**
     * Writable ranges of every descriptor written this session, as {addr, len} pairs: a chain
     * may be served long after it was offered, and its descriptors may link to older ones.
     */
    private final List<long[]> writable = new ArrayList<>();
    private long writableTotal;
    private int indirectTables;
    private boolean running;
    /** False once the driver lied about its available index: stale ring entries may then be served. */
    private boolean honest;
    /** The chain being written has reached its writable part. */
    private boolean writableStarted;

    /** What a driver puts at the start of a request for this device (header fields), from the fuzzer. */
    @FunctionalInterface
    interface Header {
        byte[] make(FuzzedDataProvider data);

        Header RAW = data -> data.consumeBytes(16);
    }

    private Header header = Header.RAW;
    /**
     * Chains as the device's driver builds them, one length per descriptor, negative for a
     * device-writable one (e.g. virtio-blk: {16, 512, -1}); an offer follows one half the time.
     */
    private int[][] layouts = {};
    private boolean firstOfChain;

    RingFuzzer(VirtioDevice device) {
        this.device = device;
        this.mmio = new VirtioMmioTransport(device, new IdentityDma(ram), IrqLine.NONE, log::add);
        int n = device.queueCount();
        sizes = new int[n];
        availIdx = new int[n];
        usedSeen = new int[n];
        inFlight = new int[n][];
    }

    private int r(int reg) {
        return (int) mmio.read(reg, 4);
    }

    private void w(int reg, long v) {
        mmio.write(reg, 4, v & 0xFFFF_FFFFL);
    }

    /**
     * Resets the device and brings it up as Linux would, with the features and queue sizes the
     * fuzzer chooses (VERSION_1 always, so FEATURES_OK holds). Returns whether it is running.
     */
    boolean start(FuzzedDataProvider data) {
        w(VirtioMmioTransport.STATUS, 0);
        w(VirtioMmioTransport.STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        long offered = device.deviceFeatures();
        long features = (data.consumeLong() & offered) | Virtio.bit(Virtio.F_VERSION_1);
        w(VirtioMmioTransport.DRIVER_FEATURES_SEL, 0);
        w(VirtioMmioTransport.DRIVER_FEATURES, features);
        w(VirtioMmioTransport.DRIVER_FEATURES_SEL, 1);
        w(VirtioMmioTransport.DRIVER_FEATURES, features >>> 32);
        w(VirtioMmioTransport.STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK);
        assertTrue((r(VirtioMmioTransport.STATUS) & Virtio.STATUS_FEATURES_OK) != 0, "offered features refused");
        zero(RINGS, RING_STRIDE * sizes.length);
        for (int q = 0; q < sizes.length; q++) {
            int max = device.queueMaxSize(q);
            int size = 1 << data.consumeInt(0, Math.min(8, Integer.numberOfTrailingZeros(max)));
            sizes[q] = size;
            availIdx[q] = 0;
            usedSeen[q] = 0;
            inFlight[q] = new int[size];
            long base = RINGS + RING_STRIDE * q;
            w(VirtioMmioTransport.QUEUE_SEL, q);
            w(VirtioMmioTransport.QUEUE_NUM, size);
            w(VirtioMmioTransport.QUEUE_DESC_LOW, base);
            w(VirtioMmioTransport.QUEUE_DESC_HIGH, 0);
            w(VirtioMmioTransport.QUEUE_DRIVER_LOW, base + 0x1000);
            w(VirtioMmioTransport.QUEUE_DRIVER_HIGH, 0);
            w(VirtioMmioTransport.QUEUE_DEVICE_LOW, base + 0x2000);
            w(VirtioMmioTransport.QUEUE_DEVICE_HIGH, 0);
            w(VirtioMmioTransport.QUEUE_READY, 1);
        }
        w(VirtioMmioTransport.STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK
            | Virtio.STATUS_DRIVER_OK);
        honest = true;
        running = (r(VirtioMmioTransport.STATUS) & Virtio.STATUS_DEVICE_NEEDS_RESET) == 0;
        indirectTables = 0;
        zero(INDIRECT, 0x1000L * 16);
        return running;
    }

    /** Request headers the device parses, so the fuzzer reaches its request handling early. */
    RingFuzzer withHeader(Header h) {
        this.header = h;
        return this;
    }

    /** Request layouts of the device's driver (see {@link #layouts}). */
    RingFuzzer withLayouts(int[]... l) {
        this.layouts = l;
        return this;
    }

    boolean running() {
        return running;
    }

    /** A buffer address: mostly in the data area, sometimes at the end of RAM, beyond it or wild. */
    private long address(FuzzedDataProvider data) {
        // bad ones rarely: one refused buffer ends the session (NEEDS_RESET), and the device's
        // own parsing is reached only through chains the queue accepts
        return switch (data.consumeInt(0, 15)) {
            case 0 -> RAM - data.consumeInt(0, 64);
            case 1 -> RAM + data.consumeInt(0, 1 << 20);
            case 2 -> data.consumeLong() & ~(RINGS * 4 - 1) | RAM; // never in the ring area
            case 3 -> GuestMemory.PCI_HOLE_START + data.consumeInt(0, 0x1000);
            default -> DATA + 0x1000L * data.consumeInt(0, 200) + (data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 0xFFF) : 0);
        };
    }

    /** Lengths drivers use: a status byte, request headers, sectors, pages, a virtio-net header. */
    private static final int[] TYPICAL_LENGTHS = {1, 8, 12, 16, 512, 1024, 4096, 1514, 1526, 64, 4095, 513};

    /**
     * A buffer length: often one drivers use (so the request layouts a device checks come up),
     * else small, zero, large or the whole 32 bits.
     */
    private int length(FuzzedDataProvider data) {
        return switch (data.consumeInt(0, 15)) {
            case 0 -> 0;
            case 1 -> data.consumeInt();
            case 2 -> data.consumeInt(0, 1 << 20);
            case 3, 4, 5 -> data.consumeInt(1, 4096);
            default -> TYPICAL_LENGTHS[data.consumeInt(0, TYPICAL_LENGTHS.length - 1)];
        };
    }

    /**
     * Flags for the next descriptor of a chain: mostly a well-formed chain (NEXT while more
     * follow, readable buffers before writable ones, INDIRECT rare), sometimes anything, so the
     * device's own request parsing is reached as often as the queue's refusals.
     */
    private int flags(FuzzedDataProvider data, boolean more) {
        if (data.consumeInt(0, 7) == 0) {
            return data.consumeInt(0, 7);
        }
        int f = more ? SplitVirtqueue.DESC_F_NEXT : 0;
        if (writableStarted || data.consumeInt(0, 2) == 0) {
            writableStarted = data.consumeInt(0, 15) != 0;
            f |= writableStarted ? SplitVirtqueue.DESC_F_WRITE : 0;
        }
        if (data.consumeInt(0, 15) == 0) {
            f |= SplitVirtqueue.DESC_F_INDIRECT;
        }
        if (!more) {
            writableStarted = false;
        }
        return f;
    }

    /**
     * Writes one descriptor table of {@code n} entries at {@code table} from the fuzzer's choices:
     * flags (NEXT/WRITE/INDIRECT in any mix), next indexes anywhere (loops included), and for a
     * readable buffer in RAM, its bytes. The data lands in guest RAM before the device looks.
     */
    private void table(FuzzedDataProvider data, long table, int n, int queueSize, boolean allowIndirect) {
        for (int i = 0; i < n; i++) {
            long addr = address(data);
            int len = length(data);
            int flags = flags(data, i + 1 < n);
            int next = data.consumeInt(0, 7) != 0 ? i + 1 : data.consumeInt(0, 0xFFFF);
            if ((flags & SplitVirtqueue.DESC_F_INDIRECT) != 0 && allowIndirect && indirectTables < 16) {
                long t = INDIRECT + 0x1000L * indirectTables++;
                int entries = data.consumeInt(0, 8);
                addr = data.consumeBoolean() ? t : addr;
                if (data.consumeBoolean()) {
                    len = 16 * entries;
                }
                if (addr == t) {
                    table(data, t, entries, queueSize, data.consumeBoolean());
                }
            }
            long d = table + 16L * i;
            put64(d, addr);
            put32(d + 8, len);
            put16(d + 12, flags);
            put16(d + 14, next);
            long ulen = len & 0xFFFF_FFFFL;
            if ((flags & SplitVirtqueue.DESC_F_WRITE) != 0) {
                addWritable(addr, ulen);
            } else if (ulen > 0 && ram.isRam(addr, Math.min(ulen, 256)) && addr >= DATA) {
                byte[] b = data.consumeBytes((int) Math.min(ulen, 256));
                putBytes(addr, b);
            }
        }
    }

    /**
     * Offers one chain on queue {@code q}: a head index the fuzzer picks (sometimes beyond the
     * queue), descriptors written into the table. Does not notify.
     */
    void offer(FuzzedDataProvider data, int q) {
        int size = sizes[q];
        long base = RINGS + RING_STRIDE * q;
        int n = data.consumeInt(1, Math.min(MAX_DESCS, size));
        int head = data.consumeInt(0, 15) == 0 ? data.consumeInt(0, 0xFFFF) : data.consumeInt(0, size - n);
        // the chain's descriptors at head..head+n-1 (when in range)
        int[] layout = layouts.length > 0 && data.consumeBoolean() ? layouts[data.consumeInt(0, layouts.length - 1)] : null;
        if (layout != null && layout.length <= size) {
            n = layout.length;
            head = data.consumeInt(0, size - n);
            long at = DATA + 0x1000L * data.consumeInt(0, 127);
            firstOfChain = true;
            for (int i = 0; i < n; i++) {
                long d = base + 16L * (head + i);
                int len = Math.abs(layout[i]) * (Math.abs(layout[i]) == 512 ? data.consumeInt(1, 8) : 1);
                int flags = (i + 1 < n ? SplitVirtqueue.DESC_F_NEXT : 0) | (layout[i] < 0 ? SplitVirtqueue.DESC_F_WRITE : 0);
                put64(d, at);
                put32(d + 8, len);
                put16(d + 12, flags);
                put16(d + 14, head + i + 1);
                if (layout[i] < 0) {
                    addWritable(at, len);
                } else {
                    byte[] b = firstOfChain ? header.make(data) : data.consumeBytes(Math.min(len, 512));
                    putBytes(at, java.util.Arrays.copyOf(b, Math.min(b.length, len)));
                }
                firstOfChain = false;
                at = (at + len + 0xFFF) & ~0xFFFL;
                if (at + 0x1000 * 8 >= RAM) {
                    at = DATA;
                }
            }
        } else if (head + n <= size) {
            firstOfChain = true;
            int firstFree = head;
            for (int i = 0; i < n; i++) {
                long d = base + 16L * (firstFree + i);
                writeDescFrom(data, d, i + 1 < n ? firstFree + i + 1 : 0, size);
            }
        }
        put16(base + 0x1000 + 4 + 2L * (availIdx[q] % size), head);
        availIdx[q] = (availIdx[q] + 1) & 0xFFFF;
        // sometimes a driver that lies about how far its index is
        int idx = data.consumeInt(0, 31) == 0 ? data.consumeInt(0, 0xFFFF) : availIdx[q];
        put16(base + 0x1000 + 2, idx);
        if (idx != availIdx[q]) {
            honest = false;
        }
        if (head < size) {
            inFlight[q][head]++;
        }
    }

    private void writeDescFrom(FuzzedDataProvider data, long d, int next, int size) {
        long addr = address(data);
        int len = length(data);
        int flags = flags(data, next != 0);
        if (data.consumeInt(0, 7) == 0) {
            next = data.consumeInt(0, 0xFFFF);
        }
        if ((flags & SplitVirtqueue.DESC_F_INDIRECT) != 0 && indirectTables < 16) {
            long t = INDIRECT + 0x1000L * indirectTables++;
            int entries = data.consumeInt(0, 8);
            if (data.consumeBoolean()) {
                addr = t;
                len = data.consumeBoolean() ? 16 * entries : len;
                table(data, t, entries, size, data.consumeBoolean());
            }
        }
        put64(d, addr);
        put32(d + 8, len);
        put16(d + 12, flags);
        put16(d + 14, next);
        long ulen = len & 0xFFFF_FFFFL;
        if ((flags & SplitVirtqueue.DESC_F_WRITE) != 0) {
            addWritable(addr, ulen);
        } else if (ulen > 0 && addr >= DATA && ram.isRam(addr, Math.min(ulen, 512))) {
            byte[] b = firstOfChain && data.consumeInt(0, 3) != 0 ? header.make(data)
                : data.consumeBytes((int) Math.min(ulen, 512));
            putBytes(addr, java.util.Arrays.copyOf(b, (int) Math.min(b.length, ulen)));
        }
        firstOfChain = false;
    }

    private void addWritable(long addr, long len) {
        if (len > 0 && writable.size() < 4096) {
            writable.add(new long[] {addr, len});
        }
        writableTotal += len;
    }

    /**
     * Notifies queue {@code q} as the guest's write to QueueNotify, then checks the invariants.
     * Returns whether the device still runs.
     */
    void kick(int q) {
        w(VirtioMmioTransport.QUEUE_NOTIFY, q);
        check();
    }

    /** The invariants after anything the guest or the host did. */
    void check() {
        VirtioCore core = mmio.core();
        if (core.isNeedsReset()) {
            String why = core.needsResetReason();
            assertFalse(why.contains("device model failed"), why);
            assertTrue((r(VirtioMmioTransport.STATUS) & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0);
            running = false;
        }
        for (int q = 0; q < sizes.length; q++) {
            long base = RINGS + RING_STRIDE * q;
            int used = ram.readU16(base + 0x2000 + 2) & 0xFFFF;
            int fresh = (used - usedSeen[q]) & 0xFFFF;
            assertTrue(fresh <= sizes[q], "queue " + q + ": used index ran " + fresh + " ahead");
            for (int i = 0; i < fresh; i++) {
                long elem = base + 0x2000 + 4 + 8L * ((usedSeen[q] + i) % sizes[q]);
                int id = ram.readU32(elem);
                long len = ram.readU32(elem + 4) & 0xFFFF_FFFFL;
                assertTrue(id >= 0 && id < sizes[q], "queue " + q + ": used id " + id + " beyond the queue");
                assertTrue(!honest || inFlight[q][id] > 0, "queue " + q + ": chain " + id + " used but not in flight");
                assertTrue(len <= writableTotal, "queue " + q + ": used length " + len + " > every writable byte "
                    + writableTotal);
                inFlight[q][id] = Math.max(0, inFlight[q][id] - 1);
            }
            usedSeen[q] = used;
        }
    }

    // ---- the driver's own stores: into RAM and into the shadow the device's writes are compared with ----

    private void put64(long a, long v) {
        writes.put64(a, v);
    }

    private void put32(long a, int v) {
        writes.put32(a, v);
    }

    private void put16(long a, int v) {
        writes.put16(a, v);
    }

    private void putBytes(long a, byte[] b) {
        writes.putBytes(a, b);
    }

    private void zero(long a, long len) {
        writes.zero(a, len);
    }

    /** Every byte of RAM that changed lies in an offered writable buffer or a used ring. */
    private void checkWrites() {
        writes.check(this::allowedEnd);
    }

    /** End of the allowed range holding {@code addr}, or {@code addr} if none does. */
    private long allowedEnd(long addr) {
        long end = addr;
        for (int q = 0; q < sizes.length; q++) {
            long used = RINGS + RING_STRIDE * q + 0x2000;
            if (addr >= used && addr < used + 6 + 8L * sizes[q] + 2) {
                end = Math.max(end, used + 8 + 8L * sizes[q]);
            }
        }
        for (long[] r : writable) {
            if (addr >= r[0] && addr - r[0] < r[1]) {
                end = Math.max(end, r[0] + r[1]);
            }
        }
        return Math.min(end, RAM);
    }

    /** Runs a whole session: bring-up, then requests, kicks and resets in the fuzzer's order. */
    void session(FuzzedDataProvider data, java.util.function.Consumer<FuzzedDataProvider> hostEvent) {
        if (!start(data)) {
            checkWrites();
            return;
        }
        for (int step = 0; step < 24 && data.remainingBytes() > 0; step++) {
            int q = data.consumeInt(0, sizes.length - 1);
            switch (data.consumeInt(0, 9)) {
                case 0 -> {
                    hostEvent.accept(data);
                    check();
                }
                case 1 -> {
                    if (!start(data)) {
                        checkWrites();
                        return;
                    }
                }
                case 2 -> kick(q);
                default -> {
                    offer(data, q);
                    kick(q);
                }
            }
        }
        // RAM is compared once per session: the allowed ranges only grow, and a full compare per
        // notification would cost most of the fuzzer's time
        checkWrites();
        // a reset always works and leaves nothing running
        w(VirtioMmioTransport.STATUS, 0);
        assertEquals(0, r(VirtioMmioTransport.STATUS));
    }

    @Override
    public void close() {
        // a device's own timers (virtio-rng's wait, the balloon's statistics) stop before RAM goes
        if (device instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        ram.close();
    }
}
