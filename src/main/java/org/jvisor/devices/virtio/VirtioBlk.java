package org.jvisor.devices.virtio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.devices.state.DeviceState;
import org.jvisor.devices.state.DeviceStateException;
import org.jvisor.memory.SegmentDma;
import org.jvisor.memory.DmaSpace;

/**
 * virtio-blk (virtio 1.2, 5.2): one request queue; read, write, flush, get-id, discard and
 * write-zeroes on a {@link BlockBackend}. With a {@link SegmentDma} the data moves between the file
 * and guest RAM through direct views, with no copy in Java. A flush completes only after the
 * backend's flush returned (the data reached the disk).
 */
public final class VirtioBlk implements VirtioDevice {
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_GEOMETRY = 4;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_TOPOLOGY = 10;
    public static final int F_CONFIG_WCE = 11;
    public static final int F_MQ = 12;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;

    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int T_DISCARD = 11;
    public static final int T_WRITE_ZEROES = 13;

    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;

    public static final int SECTOR = 512;
    public static final int ID_BYTES = 20;
    public static final int DEFAULT_QUEUE_SIZE = 256;
    public static final int MAX_DISCARD_SECTORS = 0x3F_FFFF;
    public static final int MAX_DISCARD_SEG = 32;
    public static final int MAX_WRITE_ZEROES_SECTORS = 0x3F_FFFF;
    public static final int MAX_WRITE_ZEROES_SEG = 1;
    private static final int CONFIG_SIZE = 60;
    private static final int BOUNCE = 64 * 1024;

    private final BlockStats stats;
    private final BlockBackend backend;
    private final byte[] id = new byte[ID_BYTES];
    private final int queueSize;
    private final long capacity;
    private final long features;
    private final ConfigSpace config = new ConfigSpace(CONFIG_SIZE);
    private final Consumer<String> log;
    private final byte[] bounce = new byte[BOUNCE];
    private final ByteBuffer bounceBuf = ByteBuffer.wrap(bounce);
    private int loggedErrors;

    private volatile SplitVirtqueue queue;
    private volatile VirtioInterrupt interrupt;

    public VirtioBlk(BlockBackend backend, String serial) {
        this(backend, serial, DEFAULT_QUEUE_SIZE, msg -> System.err.println("jvisor: " + msg));
    }

    /**
     * @param serial what GET_ID returns (at most 20 bytes are used; the image name is a good default)
     */
    public VirtioBlk(BlockBackend backend, String serial, int queueSize, Consumer<String> log) {
        this(backend, serial, queueSize, log, new BlockStats());
    }

    /** As above, counting what the device does in {@code stats} (QMP query-blockstats). */
    public VirtioBlk(BlockBackend backend, String serial, int queueSize, Consumer<String> log, BlockStats stats) {
        this.stats = stats;
        this.backend = backend;
        this.queueSize = queueSize;
        this.log = log;
        byte[] s = serial.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(s, 0, id, 0, Math.min(s.length, ID_BYTES));
        this.capacity = backend.size() / SECTOR;
        long f = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_RING_INDIRECT_DESC)
            | Virtio.bit(Virtio.F_RING_EVENT_IDX) | Virtio.bit(F_SEG_MAX) | Virtio.bit(F_BLK_SIZE)
            | Virtio.bit(F_FLUSH);
        if (backend.readOnly()) {
            f |= Virtio.bit(F_RO);
        } else {
            f |= Virtio.bit(F_DISCARD) | Virtio.bit(F_WRITE_ZEROES);
        }
        this.features = f;
        config.put64(0, capacity);
        config.put32(8, 0);                  // size_max (not offered)
        config.put32(12, queueSize - 2);     // seg_max: room for header and status
        config.put32(20, SECTOR);            // blk_size
        config.put16(34, 1);                 // num_queues
        config.put32(36, MAX_DISCARD_SECTORS);
        config.put32(40, MAX_DISCARD_SEG);
        config.put32(44, 1);                 // discard_sector_alignment
        config.put32(48, MAX_WRITE_ZEROES_SECTORS);
        config.put32(52, MAX_WRITE_ZEROES_SEG);
        config.put8(56, 1);                  // write_zeroes_may_unmap
    }

    public BlockBackend backend() {
        return backend;
    }

    /** Capacity in 512-byte sectors. */
    public long capacity() {
        return capacity;
    }

    @Override
    public int deviceType() {
        return Virtio.ID_BLOCK;
    }

    @Override
    public String name() {
        return "virtio-blk(" + backend.describe() + ")";
    }

    @Override
    public long deviceFeatures() {
        return features;
    }

    @Override
    public int queueCount() {
        return 1;
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
        // writeback is writable only with VIRTIO_BLK_F_CONFIG_WCE, which is not offered
    }

    @Override
    public void activate(SplitVirtqueue[] queues, long negotiated, VirtioInterrupt interrupt) {
        this.queue = queues[0];
        this.interrupt = interrupt;
    }

    @Override
    public void reset() {
        queue = null;
        interrupt = null;
    }

    @Override
    public DeviceState saveState() {
        return new VirtioBlkState(capacity, backend.readOnly());
    }

    /** Checks that this disk looks as the driver saw it: same capacity, same read-only flag. */
    @Override
    public void restoreState(DeviceState state) throws DeviceStateException {
        if (!(state instanceof VirtioBlkState s)) {
            throw DeviceStateException.wrongKind(name(), VirtioBlkState.class, state);
        }
        if (s.capacitySectors() != capacity) {
            throw new DeviceStateException(String.format("%s: capacity is %d sectors in the state but the disk has %d",
                name(), s.capacitySectors(), capacity));
        }
        if (s.readOnly() != backend.readOnly()) {
            throw new DeviceStateException(name() + ": the disk is " + (s.readOnly() ? "read-only" : "writable")
                + " in the state but " + (backend.readOnly() ? "read-only" : "writable") + " here");
        }
    }

    /** Bound once: processQueue runs per notification and must not allocate. */
    private final SplitVirtqueue.RequestHandler handler = this::handle;

    @Override
    public void processQueue(int index) throws VirtqueueException {
        SplitVirtqueue q = queue;
        if (q == null || index != 0) {
            return;
        }
        if (q.drain(handler)) {
            interrupt.usedBuffer(0);
        }
    }

    /** Executes one request; returns the bytes written into its writable buffers. */
    private int handle(DescriptorChain c) throws VirtqueueException {
        if (c.readableBytes() < 16 || c.writableBytes() < 1) {
            throw new VirtqueueException(String.format(
                "virtio-blk request %d has %d readable bytes (header needs 16) and %d writable (status needs 1)",
                c.head(), c.readableBytes(), c.writableBytes()));
        }
        int type = c.readU32(0);
        long sector = c.readU64(8);
        long start = System.nanoTime();
        long statusOff = c.writableBytes() - 1;
        long written = 0;
        int status;
        try {
            switch (type) {
                case T_IN -> {
                    if (c.readableBytes() != 16) {
                        throw new VirtqueueException(String.format(
                            "virtio-blk read request %d: its data buffers are device-readable (%d bytes after the header)",
                            c.head(), c.readableBytes() - 16));
                    }
                    long len = statusOff;
                    status = checkData(sector, len);
                    if (status == S_OK) {
                        transferIn(c, sector * SECTOR, len);
                        written = len;
                        stats.read(len, System.nanoTime() - start);
                    }
                }
                case T_OUT -> {
                    long len = c.readableBytes() - 16;
                    status = backend.readOnly() ? S_IOERR : checkData(sector, len);
                    if (status == S_OK) {
                        transferOut(c, sector * SECTOR, len);
                        stats.write(sector * SECTOR, len, System.nanoTime() - start);
                    }
                }
                case T_FLUSH -> {
                    backend.flush();
                    status = S_OK;
                    stats.flush(System.nanoTime() - start);
                }
                case T_GET_ID -> {
                    int n = (int) Math.min(ID_BYTES, statusOff);
                    c.write(0, id, 0, n);
                    written = n;
                    status = S_OK;
                }
                case T_DISCARD, T_WRITE_ZEROES -> status = discardOrZero(c, type);
                default -> status = S_UNSUPP;
            }
        } catch (IOException e) {
            status = S_IOERR;
            stats.failed();
            if (loggedErrors < 10) {
                loggedErrors++;
                log.accept(name() + ": I/O error on request type " + type + " sector " + sector + ": " + e.getMessage());
            }
        }
        c.writeU8(statusOff, status);
        return (int) (written + 1);
    }

    private int checkData(long sector, long len) {
        if (len % SECTOR != 0 || sector < 0 || sector > capacity || len / SECTOR > capacity - sector) {
            return S_IOERR;
        }
        return S_OK;
    }

    private int discardOrZero(DescriptorChain c, int type) throws IOException {
        if (backend.readOnly()) {
            return S_IOERR;
        }
        long payload = c.readableBytes() - 16;
        if (payload == 0 || payload % 16 != 0) {
            return S_IOERR;
        }
        long segs = payload / 16;
        boolean discard = type == T_DISCARD;
        if (segs > (discard ? MAX_DISCARD_SEG : MAX_WRITE_ZEROES_SEG)) {
            return S_IOERR;
        }
        for (int i = 0; i < segs; i++) {
            long off = 16 + 16L * i;
            long sector = c.readU64(off);
            long num = c.readU32(off + 8) & 0xFFFF_FFFFL;
            int flags = c.readU32(off + 12);
            if ((flags & ~1) != 0 || (discard && flags != 0)) {
                return S_UNSUPP;
            }
            if (num > (discard ? MAX_DISCARD_SECTORS : MAX_WRITE_ZEROES_SECTORS)
                || checkData(sector, num * SECTOR) != S_OK) {
                return S_IOERR;
            }
        }
        for (int i = 0; i < segs; i++) {
            long off = 16 + 16L * i;
            long sector = c.readU64(off);
            long num = c.readU32(off + 8) & 0xFFFF_FFFFL;
            int flags = c.readU32(off + 12);
            if (discard) {
                backend.discard(sector * SECTOR, num * SECTOR);
            } else {
                backend.writeZeroes(sector * SECTOR, num * SECTOR, (flags & 1) != 0);
            }
        }
        return S_OK;
    }

    /** Disk [pos, +len) into the writable buffers from their start. */
    private void transferIn(DescriptorChain c, long pos, long len) throws IOException {
        DmaSpace dma = c.dma();
        for (int i = 0; i < c.writableCount() && len > 0; i++) {
            long addr = c.writableAddress(i);
            int n = (int) Math.min(c.writableLength(i) & 0xFFFF_FFFFL, len);
            if (dma instanceof SegmentDma s) {
                backend.read(pos, s.segment(addr, n).asByteBuffer());
                s.written(addr, n);
            } else {
                for (int done = 0; done < n; ) {
                    int k = Math.min(BOUNCE, n - done);
                    bounceBuf.clear().limit(k);
                    backend.read(pos + done, bounceBuf);
                    dma.write(addr + done, bounce, 0, k);
                    done += k;
                }
            }
            pos += n;
            len -= n;
        }
    }

    /** The readable buffers after the 16-byte header to disk [pos, +len). */
    private void transferOut(DescriptorChain c, long pos, long len) throws IOException {
        DmaSpace dma = c.dma();
        long skip = 16;
        for (int i = 0; i < c.readableCount() && len > 0; i++) {
            long l = c.readableLength(i) & 0xFFFF_FFFFL;
            if (skip >= l) {
                skip -= l;
                continue;
            }
            long addr = c.readableAddress(i) + skip;
            int n = (int) Math.min(l - skip, len);
            skip = 0;
            if (dma instanceof SegmentDma s) {
                backend.write(pos, s.segment(addr, n).asByteBuffer());
            } else {
                for (int done = 0; done < n; ) {
                    int k = Math.min(BOUNCE, n - done);
                    dma.read(addr + done, bounce, 0, k);
                    bounceBuf.clear().limit(k);
                    backend.write(pos + done, bounceBuf);
                    done += k;
                }
            }
            pos += n;
            len -= n;
        }
    }
}
