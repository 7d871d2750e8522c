package org.jvisor.devices.virtio;

import static org.jvisor.devices.virtio.VirtioBlk.ID_BYTES;
import static org.jvisor.devices.virtio.VirtioBlk.MAX_DISCARD_SECTORS;
import static org.jvisor.devices.virtio.VirtioBlk.MAX_DISCARD_SEG;
import static org.jvisor.devices.virtio.VirtioBlk.MAX_WRITE_ZEROES_SECTORS;
import static org.jvisor.devices.virtio.VirtioBlk.MAX_WRITE_ZEROES_SEG;
import static org.jvisor.devices.virtio.VirtioBlk.SECTOR;
import static org.jvisor.devices.virtio.VirtioBlk.S_IOERR;
import static org.jvisor.devices.virtio.VirtioBlk.S_OK;
import static org.jvisor.devices.virtio.VirtioBlk.S_UNSUPP;
import static org.jvisor.devices.virtio.VirtioBlk.T_DISCARD;
import static org.jvisor.devices.virtio.VirtioBlk.T_FLUSH;
import static org.jvisor.devices.virtio.VirtioBlk.T_GET_ID;
import static org.jvisor.devices.virtio.VirtioBlk.T_IN;
import static org.jvisor.devices.virtio.VirtioBlk.T_OUT;
import static org.jvisor.devices.virtio.VirtioBlk.T_WRITE_ZEROES;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

import org.jvisor.backend.block.BlockBackend;
import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.SegmentDma;

/**
 * The virtio-blk request logic (virtio 1.2, 5.2.6): one request chain in, its status and data out,
 * on a {@link BlockBackend}. Shared by the VMM's {@link VirtioBlk} and jvisor's vhost-user-blk
 * backend, which serve the same requests from different rings. With a {@link SegmentDma} the data
 * moves between the file and guest RAM through direct views, with no copy in Java. Not
 * thread-safe (a bounce buffer): one instance per queue.
 */
public final class VirtioBlkRequests implements SplitVirtqueue.RequestHandler {
    private static final int BOUNCE = 64 * 1024;

    private final BlockBackend backend;
    private final String name;
    private final byte[] id = new byte[ID_BYTES];
    private final long capacity;
    private final BlockStats stats;
    private final Consumer<String> log;
    private final byte[] bounce = new byte[BOUNCE];
    private final ByteBuffer bounceBuf = ByteBuffer.wrap(bounce);
    private int loggedErrors;

    /**
     * @param name   the device as I/O error messages name it
     * @param serial what GET_ID returns (at most 20 bytes are used)
     */
    public VirtioBlkRequests(BlockBackend backend, String name, String serial, BlockStats stats, Consumer<String> log) {
        this.backend = backend;
        this.name = name;
        this.stats = stats;
        this.log = log;
        this.capacity = backend.size() / SECTOR;
        byte[] s = serial.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(s, 0, id, 0, Math.min(s.length, ID_BYTES));
    }

    /**
     * The device features a disk on {@code backend} offers: the ring features this queue
     * implements, SEG_MAX, BLK_SIZE, FLUSH, and RO or DISCARD/WRITE_ZEROES by writability.
     */
    public static long deviceFeatures(BlockBackend backend) {
        long f = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_RING_INDIRECT_DESC)
            | Virtio.bit(Virtio.F_RING_EVENT_IDX) | Virtio.bit(VirtioBlk.F_SEG_MAX) | Virtio.bit(VirtioBlk.F_BLK_SIZE)
            | Virtio.bit(VirtioBlk.F_FLUSH);
        if (backend.readOnly()) {
            f |= Virtio.bit(VirtioBlk.F_RO);
        } else {
            f |= Virtio.bit(VirtioBlk.F_DISCARD) | Virtio.bit(VirtioBlk.F_WRITE_ZEROES);
        }
        return f;
    }

    /**
     * struct virtio_blk_config (virtio 1.2, 5.2.4) for a disk of {@code capacity} sectors behind
     * queues of {@code queueSize} entries, {@code numQueues} of them (read with VIRTIO_BLK_F_MQ).
     */
    public static byte[] config(long capacity, int queueSize, int numQueues) {
        ConfigSpace c = new ConfigSpace(VirtioBlk.CONFIG_SIZE);
        c.put64(0, capacity);
        c.put32(8, 0);                  // size_max (not offered)
        c.put32(12, queueSize - 2);     // seg_max: room for header and status
        c.put32(20, SECTOR);            // blk_size
        c.put16(34, numQueues);         // num_queues
        c.put32(36, MAX_DISCARD_SECTORS);
        c.put32(40, MAX_DISCARD_SEG);
        c.put32(44, 1);                 // discard_sector_alignment
        c.put32(48, MAX_WRITE_ZEROES_SECTORS);
        c.put32(52, MAX_WRITE_ZEROES_SEG);
        c.put8(56, 1);                  // write_zeroes_may_unmap
        return c.bytes();
    }

    /** Executes one request; returns the bytes written into its writable buffers. */
    @Override
    public int handle(DescriptorChain c) throws VirtqueueException {
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
                log.accept(name + ": I/O error on request type " + type + " sector " + sector + ": " + e.getMessage());
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
