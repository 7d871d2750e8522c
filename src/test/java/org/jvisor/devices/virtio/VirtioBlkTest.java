package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.RawFileBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VirtioBlkTest {
    static final long HDR = Driver.DATA;
    static final long STATUS = Driver.DATA + 0x100;
    static final long BUF = Driver.DATA + 0x1000;
    static final long SEGS = Driver.DATA + 0x200;
    static final int W = SplitVirtqueue.DESC_F_WRITE;
    static final int N = SplitVirtqueue.DESC_F_NEXT;

    @TempDir
    Path dir;
    Driver drv;
    RawFileBackend backend;

    @AfterEach
    void tearDown() throws IOException {
        if (drv != null) {
            drv.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    Path image(int bytes, long seed) throws IOException {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        Path p = dir.resolve("disk.img");
        Files.write(p, b);
        return p;
    }

    final BlockStats stats = new BlockStats();

    Driver blk(Path p, boolean readOnly) throws IOException {
        backend = RawFileBackend.open(p, readOnly, CacheMode.WRITEBACK, msg -> { });
        drv = new Driver(new VirtioBlk(backend, "jvisor-disk-0", 16, msg -> { }, stats), 16);
        return drv.start();
    }

    @Test
    void completedRequestsAreCountedAsQemuAccountsThem() throws IOException {
        blk(image(64 * 1024, 7), false);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_IN, 3, 2048, true));
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_OUT, 8, 4096, false));
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_FLUSH, 0, 0, false));
        assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_IN, 127, 1024, true));   // past the end: not a completed read
        BlockStats.Counters c = stats.counters();
        assertEquals(2048, c.readBytes());
        assertEquals(4096, c.writtenBytes());
        assertEquals(1, c.readOps());
        assertEquals(1, c.writeOps());
        assertEquals(1, c.flushOps());
        assertEquals(8 * 512 + 4096, c.highestWriteOffset());
        assertTrue(c.readNanos() > 0 && c.writeNanos() > 0, c.toString());
    }

    void header(int type, long sector) {
        drv.ram.writeU32(HDR, type);
        drv.ram.writeU32(HDR + 4, 0);
        drv.ram.writeU64(HDR + 8, sector);
        drv.ram.writeU8(STATUS, (byte) 0x55);
    }

    /** header, data (readable for OUT, writable for IN), status: three descriptors like Linux without indirect. */
    int request(int type, long sector, int dataLen, boolean dataWritable) {
        header(type, sector);
        drv.desc(0, HDR, 16, N, 1);
        if (dataLen > 0) {
            drv.desc(1, BUF, dataLen, N | (dataWritable ? W : 0), 2);
            drv.desc(2, STATUS, 1, W, 0);
        } else {
            drv.desc(1, STATUS, 1, W, 0);
        }
        int before = drv.usedIdx();
        drv.offer(0);
        drv.kick(0);
        assertEquals(before + 1, drv.usedIdx(), "request completed");
        return drv.ram.readU8(STATUS) & 0xFF;
    }

    byte[] fileBytes(Path p, long off, int len) throws IOException {
        byte[] all = Files.readAllBytes(p);
        return Arrays.copyOfRange(all, (int) off, (int) off + len);
    }

    @Test
    void configSpaceHasCapacityAndLimits() throws IOException {
        blk(image(8192 + 100, 1), false);
        assertEquals(16, drv.mmio.read(VirtioMmioTransport.CONFIG, 8)); // floor(8292 / 512)
        assertEquals(16, drv.mmio.read(VirtioMmioTransport.CONFIG, 4));
        assertEquals(0, drv.mmio.read(VirtioMmioTransport.CONFIG + 4, 4));
        assertEquals(14, drv.mmio.read(VirtioMmioTransport.CONFIG + 12, 4)); // seg_max
        assertEquals(512, drv.mmio.read(VirtioMmioTransport.CONFIG + 20, 4)); // blk_size
        long f = drv.deviceFeatures();
        assertTrue(Virtio.has(f, VirtioBlk.F_FLUSH) && Virtio.has(f, VirtioBlk.F_DISCARD)
            && Virtio.has(f, VirtioBlk.F_WRITE_ZEROES) && !Virtio.has(f, VirtioBlk.F_RO));
    }

    @Test
    void readsSectorsIntoGuestMemory() throws IOException {
        Path p = image(64 * 1024, 2);
        blk(p, false);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_IN, 3, 2048, true));
        byte[] got = new byte[2048];
        drv.ram.read(BUF, got, 0, got.length);
        assertArrayEquals(fileBytes(p, 3 * 512, 2048), got);
        assertEquals(2049, drv.usedLen(0), "data plus status byte written");
        assertEquals(0, drv.usedId(0));
    }

    @Test
    void writeThenFlushReachesTheFile() throws IOException {
        Path p = image(64 * 1024, 3);
        blk(p, false);
        byte[] pattern = new byte[4096];
        new Random(99).nextBytes(pattern);
        drv.ram.write(BUF, pattern);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_OUT, 8, 4096, false));
        assertEquals(1, drv.usedLen(0));
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_FLUSH, 0, 0, false));
        assertArrayEquals(pattern, fileBytes(p, 8 * 512, 4096));
    }

    @Test
    void requestSplitAcrossOddDescriptors() throws IOException {
        // No framing assumptions: header in two pieces, data in three, status glued to the last data piece.
        Path p = image(16 * 1024, 4);
        blk(p, false);
        header(VirtioBlk.T_IN, 1);
        drv.desc(0, HDR, 5, N, 1);
        drv.desc(1, HDR + 5, 11, N, 2);
        drv.desc(2, BUF, 100, N | W, 3);
        drv.desc(3, BUF + 0x400, 400, N | W, 4);
        drv.desc(4, BUF + 0x800, 13, W, 0); // 12 data bytes + status
        drv.offer(0);
        drv.kick(0);
        assertEquals(1, drv.usedIdx());
        byte[] want = fileBytes(p, 512, 512);
        byte[] got = new byte[512];
        drv.ram.read(BUF, got, 0, 100);
        drv.ram.read(BUF + 0x400, got, 100, 400);
        drv.ram.read(BUF + 0x800, got, 500, 12);
        assertArrayEquals(want, got);
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(BUF + 0x800 + 12));
    }

    @Test
    void getIdReturnsTheSerial() throws IOException {
        blk(image(4096, 5), false);
        drv.ram.fill(BUF, 20, (byte) 0x7F);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_GET_ID, 0, 20, true));
        byte[] got = new byte[20];
        drv.ram.read(BUF, got, 0, 20);
        byte[] want = Arrays.copyOf("jvisor-disk-0".getBytes(), 20);
        assertArrayEquals(want, got);
        assertEquals(21, drv.usedLen(0));
    }

    @Test
    void writeZeroesAndDiscard() throws IOException {
        Path p = image(64 * 1024, 6);
        blk(p, false);
        // write-zeroes sectors 4..11 without unmap
        drv.ram.writeU64(SEGS, 4);
        drv.ram.writeU32(SEGS + 8, 8);
        drv.ram.writeU32(SEGS + 12, 0);
        header(VirtioBlk.T_WRITE_ZEROES, 0);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, SEGS, 16, N, 2);
        drv.desc(2, STATUS, 1, W, 0);
        drv.offer(0);
        drv.kick(0);
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS));
        assertArrayEquals(new byte[8 * 512], fileBytes(p, 4 * 512, 8 * 512));
        assertFalse(Arrays.equals(new byte[512], fileBytes(p, 3 * 512, 512)), "neighbours untouched");
        assertFalse(Arrays.equals(new byte[512], fileBytes(p, 12 * 512, 512)), "neighbours untouched");
        // write-zeroes with unmap: reads back as zeros as well
        drv.ram.writeU64(SEGS, 20);
        drv.ram.writeU32(SEGS + 8, 16);
        drv.ram.writeU32(SEGS + 12, 1);
        drv.offer(0);
        drv.kick(0);
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS));
        assertArrayEquals(new byte[16 * 512], fileBytes(p, 20 * 512, 16 * 512));
        // discard of two ranges: succeeds, image keeps its size
        drv.ram.writeU64(SEGS, 0);
        drv.ram.writeU32(SEGS + 8, 8);
        drv.ram.writeU32(SEGS + 12, 0);
        drv.ram.writeU64(SEGS + 16, 64);
        drv.ram.writeU32(SEGS + 24, 8);
        drv.ram.writeU32(SEGS + 28, 0);
        header(VirtioBlk.T_DISCARD, 0);
        drv.desc(1, SEGS, 32, N, 2);
        drv.offer(0);
        drv.kick(0);
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS));
        assertEquals(64 * 1024, Files.size(p));
        // discard with the unmap flag is unsupported; out of range is an I/O error
        drv.ram.writeU32(SEGS + 12, 1);
        drv.offer(0);
        drv.kick(0);
        assertEquals(VirtioBlk.S_UNSUPP, drv.ram.readU8(STATUS));
        drv.ram.writeU32(SEGS + 12, 0);
        drv.ram.writeU64(SEGS + 16, 127);
        drv.offer(0);
        drv.kick(0);
        assertEquals(VirtioBlk.S_IOERR, drv.ram.readU8(STATUS));
        assertEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
    }

    @Test
    void corruptionInAQcow2ImageIsAnIoErrorForTheGuest() throws IOException {
        Path p = dir.resolve("disk.qcow2");
        org.jvisor.backend.block.qcow2.Qcow2Creator.create(p, 1 << 20, 16, null, null);
        try (org.jvisor.backend.block.BlockBackend q = org.jvisor.backend.block.BlockImages.open(p, "qcow2", false,
                CacheMode.WRITEBACK, false, msg -> { })) {
            q.write(0, ByteBuffer.wrap(new byte[65536]));
        }
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer e = ByteBuffer.allocate(8);
            ch.read(e, 0x30000);                                   // L1[0]: the L2 table
            long l2 = e.getLong(0) & 0x00FF_FFFF_FFFF_FE00L;
            ch.read(e.clear(), l2);                                // L2[0]: the data cluster, made unaligned
            ch.write(ByteBuffer.allocate(8).putLong(0, e.getLong(0) + 512), l2);
        }
        java.util.List<String> log = new java.util.ArrayList<>();
        org.jvisor.backend.block.BlockBackend q = org.jvisor.backend.block.BlockImages.open(p, "qcow2", false,
            CacheMode.WRITEBACK, false, log::add);
        try {
            drv = new Driver(new VirtioBlk(q, "jvisor-disk-0", 16, log::add), 16);
            drv.start();
            assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_IN, 0, 512, true));
            assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_OUT, 1024, 512, false));   // now read-only
            assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_IN, 1024, 512, true));        // elsewhere reads work
            assertEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
            assertTrue(log.stream().anyMatch(l -> l.contains("corrupt qcow2 image: data cluster offset 0x50200")), log.toString());
        } finally {
            q.close();
        }
    }

    @Test
    void outOfRangeAndUnknownRequests() throws IOException {
        blk(image(8192, 7), false);
        assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_IN, 15, 1024, true)); // crosses the end
        assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_IN, 0, 100, true)); // not whole sectors
        assertEquals(VirtioBlk.S_UNSUPP, request(42, 0, 0, false));
        assertEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
    }

    @Test
    void readOnlyDiskRefusesWritesWithIoError() throws IOException {
        Path p = image(16 * 1024, 8);
        byte[] before = Files.readAllBytes(p);
        blk(p, true);
        long f = drv.deviceFeatures();
        assertTrue(Virtio.has(f, VirtioBlk.F_RO));
        assertFalse(Virtio.has(f, VirtioBlk.F_DISCARD));
        drv.ram.fill(BUF, 512, (byte) 0xAB);
        assertEquals(VirtioBlk.S_IOERR, request(VirtioBlk.T_OUT, 0, 512, false));
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_IN, 0, 512, true));
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_FLUSH, 0, 0, false));
        assertArrayEquals(before, Files.readAllBytes(p));
    }

    @Test
    void indirectDescriptors() throws IOException {
        Path p = image(64 * 1024, 9);
        blk(p, false);
        long table = Driver.DATA + 0x8000;
        byte[] pattern = new byte[1024];
        new Random(5).nextBytes(pattern);
        drv.ram.write(BUF, pattern, 0, 512);
        drv.ram.write(BUF + 0x2000, pattern, 512, 512);
        header(VirtioBlk.T_OUT, 2);
        drv.desc(table, 0, HDR, 16, N, 1);
        drv.desc(table, 1, BUF, 512, N, 2);
        drv.desc(table, 2, BUF + 0x2000, 512, N, 3);
        drv.desc(table, 3, STATUS, 1, W, 0);
        drv.desc(5, table, 64, SplitVirtqueue.DESC_F_INDIRECT, 0);
        drv.offer(5);
        drv.kick(0);
        assertEquals(1, drv.usedIdx());
        assertEquals(5, drv.usedId(0));
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS));
        assertArrayEquals(pattern, fileBytes(p, 1024, 1024));
    }

    @Test
    void copiesThroughAPlainDmaSpaceToo() throws IOException {
        // Without SegmentDma (e.g. behind an IOMMU), data goes through the bounce buffer.
        Path p = image(256 * 1024, 10);
        backend = RawFileBackend.open(p, false, CacheMode.WRITEBACK, msg -> { });
        drv = new Driver(new VirtioBlk(backend, "x", 16, msg -> { }), 16, ram -> new PlainDma(new org.jvisor.memory.IdentityDma(ram)));
        Driver d2 = drv.start();
        header(VirtioBlk.T_IN, 0);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, BUF, 128 * 1024, N | W, 2);
        drv.desc(2, STATUS, 1, W, 0);
        d2.offer(0);
        d2.kick(0);
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS));
        byte[] got = new byte[128 * 1024];
        drv.ram.read(BUF, got, 0, got.length);
        assertArrayEquals(fileBytes(p, 0, got.length), got);
        // and back out at another place
        drv.desc(1, BUF, 128 * 1024, N, 2);
        header(VirtioBlk.T_OUT, 256);
        d2.offer(0);
        d2.kick(0);
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS));
        assertArrayEquals(fileBytes(p, 0, got.length), fileBytes(p, 128 * 1024, got.length));
    }

    @Test
    void cacheNoneWorksOrFallsBack() throws IOException {
        Path p = image(64 * 1024, 11);
        StringBuilder warn = new StringBuilder();
        backend = RawFileBackend.open(p, false, CacheMode.NONE, warn::append);
        assertTrue(backend.direct() || warn.toString().contains("O_DIRECT"), warn.toString());
        drv = new Driver(new VirtioBlk(backend, "x", 16, msg -> { }), 16).start();
        byte[] pattern = new byte[1536];
        new Random(12).nextBytes(pattern);
        drv.ram.write(BUF + 512, pattern); // 512-aligned only: bounce path when O_DIRECT
        header(VirtioBlk.T_OUT, 1);
        drv.desc(0, HDR, 16, N, 1);
        drv.desc(1, BUF + 512, 1536, N, 2);
        drv.desc(2, STATUS, 1, W, 0);
        drv.offer(0);
        drv.kick(0);
        assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS));
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_FLUSH, 0, 0, false));
        byte[] onDisk = new byte[1536];
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ch.read(ByteBuffer.wrap(onDisk), 512);
        }
        assertArrayEquals(pattern, onDisk);
        assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_IN, 1, 1536, true));
        byte[] back = new byte[1536];
        drv.ram.read(BUF, back, 0, back.length);
        assertArrayEquals(pattern, back);
        assertEquals(64 * 1024, Files.size(p));
    }

    /** A DmaSpace without direct views, as one behind an IOMMU may be. */
    private record PlainDma(org.jvisor.memory.DmaSpace d) implements org.jvisor.memory.DmaSpace {
        @Override
        public void read(long a, byte[] dst, int from, int length) {
            d.read(a, dst, from, length);
        }

        @Override
        public void write(long a, byte[] src, int from, int length) {
            d.write(a, src, from, length);
        }

        @Override
        public short readU16(long a) {
            return d.readU16(a);
        }

        @Override
        public int readU32(long a) {
            return d.readU32(a);
        }

        @Override
        public long readU64(long a) {
            return d.readU64(a);
        }

        @Override
        public void writeU16(long a, short v) {
            d.writeU16(a, v);
        }

        @Override
        public void writeU32(long a, int v) {
            d.writeU32(a, v);
        }

        @Override
        public void writeU64(long a, long v) {
            d.writeU64(a, v);
        }
    }

    private static String qemuImg(String... args) throws IOException, InterruptedException {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("qemu-img"));
        cmd.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), cmd + ":\n" + out);
        return out;
    }

    /**
     * What {@code qemu-img map} says of [from, to): each byte "data" (allocated with contents),
     * "zero-alloc" (reads as zeros, space kept), or "free" (a hole, or unallocated). One word for the range.
     */
    private static String mapped(Path p, String format, long from, long to) throws IOException, InterruptedException {
        String json = qemuImg("map", "-f", format, "--output=json", p.toString());
        java.util.Set<String> kinds = new java.util.TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\{[^}]*\"start\": (\\d+), \"length\": (\\d+)[^}]*\\}")
            .matcher(json);
        while (m.find()) {
            long start = Long.parseLong(m.group(1));
            long end = start + Long.parseLong(m.group(2));
            if (end <= from || start >= to) {
                continue;
            }
            String e = m.group();
            boolean data = e.contains("\"data\": true");
            boolean zero = e.contains("\"zero\": true");
            // raw: a hole is zero without data; qcow2: a freed cluster has no offset, a kept zero cluster has one
            kinds.add(data ? "data" : format.equals("qcow2") && e.contains("\"offset\"") ? "zero-alloc"
                : zero ? "free" : "free");
        }
        assertEquals(1, kinds.size(), "one kind over [" + from + ", " + to + "): " + json);
        return kinds.iterator().next();
    }

    /**
     * -drive discard=: with ignore (QEMU's default) the device still offers DISCARD and completes
     * it with OK, and a may-unmap write-zeroes reads back as zeros, but the image keeps its space;
     * with unmap the space is given back. Driven through the virtqueue; qemu-img map and check on
     * the image afterwards, for raw (holes) and qcow2 (clusters).
     */
    @Test
    void discardIgnoreCompletesAndKeepsTheSpaceUnmapGivesItBack() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-img not installed");
        int cluster = 64 << 10;
        for (String format : java.util.List.of("raw", "qcow2")) {
            for (org.jvisor.backend.block.DiscardMode mode : org.jvisor.backend.block.DiscardMode.values()) {
                Path p = dir.resolve(mode + "." + format);
                qemuImg("create", "-f", format, p.toString(), "4M");
                try (org.jvisor.backend.block.BlockBackend b = org.jvisor.backend.block.BlockImages.open(p, format, false,
                        CacheMode.WRITEBACK, false, mode, msg -> { })) {
                    drv = new Driver(new VirtioBlk(b, "d", 16, msg -> { }, stats), 16);
                    drv.start();
                    assertTrue(Virtio.has(drv.deviceFeatures(), VirtioBlk.F_DISCARD), "offered with " + mode);
                    byte[] pattern = new byte[4 * cluster];
                    Arrays.fill(pattern, (byte) 0xAB);
                    drv.ram.write(BUF, pattern);
                    assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_OUT, 0, pattern.length, false));
                    // discard clusters 1 and 2, may-unmap write-zeroes of cluster 3
                    drv.ram.writeU64(SEGS, cluster / 512);
                    drv.ram.writeU32(SEGS + 8, 2 * cluster / 512);
                    drv.ram.writeU32(SEGS + 12, 0);
                    header(VirtioBlk.T_DISCARD, 0);
                    drv.desc(0, HDR, 16, N, 1);
                    drv.desc(1, SEGS, 16, N, 2);
                    drv.desc(2, STATUS, 1, W, 0);
                    drv.offer(0);
                    drv.kick(0);
                    assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS), mode + " " + format + ": discard completes");
                    drv.ram.writeU64(SEGS, 3 * cluster / 512);
                    drv.ram.writeU32(SEGS + 8, cluster / 512);
                    drv.ram.writeU32(SEGS + 12, 1);
                    header(VirtioBlk.T_WRITE_ZEROES, 0);
                    drv.offer(0);
                    drv.kick(0);
                    assertEquals(VirtioBlk.S_OK, drv.ram.readU8(STATUS));
                    assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_FLUSH, 0, 0, false));
                    assertEquals(VirtioBlk.S_OK, request(VirtioBlk.T_IN, 0, 4 * cluster, true));
                    byte[] read = new byte[4 * cluster];
                    drv.ram.read(BUF, read, 0, read.length);
                    assertArrayEquals(new byte[cluster], Arrays.copyOfRange(read, 3 * cluster, 4 * cluster), "zeroed");
                    assertArrayEquals(Arrays.copyOf(pattern, cluster), Arrays.copyOf(read, cluster), "cluster 0 untouched");
                    if (mode == org.jvisor.backend.block.DiscardMode.IGNORE) {
                        assertArrayEquals(Arrays.copyOf(pattern, 2 * cluster), Arrays.copyOfRange(read, cluster, 3 * cluster),
                            "discard=ignore changes nothing");
                    }
                    drv.close();
                    drv = null;
                }
                String where = mode + " " + format;
                assertEquals("data", mapped(p, format, 0, cluster), where);
                if (mode == org.jvisor.backend.block.DiscardMode.IGNORE) {
                    assertEquals("data", mapped(p, format, cluster, 3 * cluster), where + ": discarded clusters kept");
                    // the zeros are written (raw: FALLOC_FL_ZERO_RANGE keeps the blocks) or flagged (qcow2: the cluster kept)
                    assertEquals(format.equals("raw") ? "data" : "zero-alloc", mapped(p, format, 3 * cluster, 4 * cluster), where);
                } else {
                    assertEquals("free", mapped(p, format, cluster, 3 * cluster), where + ": discarded clusters freed");
                    assertEquals("free", mapped(p, format, 3 * cluster, 4 * cluster), where + ": zeroed with unmap: freed");
                }
                if (format.equals("qcow2")) {
                    assertTrue(qemuImg("check", p.toString()).contains("No errors were found on the image."), where);
                }
            }
        }
    }
}
