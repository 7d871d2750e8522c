package org.jvisor.backend.block.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.RawFileBackend;

/**
 * qcow2 against the reference: images qemu-img made (versions 2 and 3, cluster sizes 4 KiB to
 * 2 MiB, backing chains, compressed clusters, internal snapshots) read back byte-equal, and images
 * jvisor wrote pass {@code qemu-img check} and {@code qemu-img compare} equal to a raw file given
 * the same writes.
 */
class Qcow2InteropTest {
    static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    final List<String> warnings = new ArrayList<>();

    @BeforeAll
    static void tools() {
        QemuImg.assumeInstalled();
    }

    /** A pattern with runs of zeros (so qemu-img leaves clusters unallocated) and of data. */
    static byte[] pattern(int size, long seed) {
        byte[] b = new byte[size];
        Random r = new Random(seed);
        for (int off = 0; off < size; off += 4096) {
            int kind = r.nextInt(4);
            if (kind == 0) {
                continue;
            }
            for (int i = off; i < Math.min(size, off + 4096); i++) {
                b[i] = kind == 1 ? (byte) (i >> 12) : (byte) r.nextInt();
            }
        }
        return b;
    }

    BlockBackend open(Path p, String format, boolean readOnly) throws IOException {
        return BlockImages.open(p, format, readOnly, CacheMode.WRITEBACK, false, warnings::add);
    }

    static byte[] readAll(BlockBackend b) throws IOException {
        byte[] all = new byte[(int) b.size()];
        // odd-sized pieces so reads cross cluster boundaries
        int chunk = 12345;
        for (int off = 0; off < all.length; off += chunk) {
            int n = Math.min(chunk, all.length - off);
            b.read(off, ByteBuffer.wrap(all, off, n));
        }
        return all;
    }

    Path raw(String name, byte[] data) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, data);
        return p;
    }

    @ParameterizedTest(name = "compat={0} cluster_size={1}")
    @CsvSource({"0.10,4096", "1.1,4096", "0.10,65536", "1.1,65536", "1.1,2097152", "1.1,512"})
    void readsWhatQemuImgConverted(String compat, int clusterSize) throws Exception {
        byte[] data = pattern(6 * MIB + 4096, clusterSize);
        Path src = raw("src.raw", data);
        Path img = dir.resolve("img.qcow2");
        QemuImg.ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "compat=" + compat + ",cluster_size="
            + clusterSize, src.toString(), img.toString());
        try (BlockBackend b = open(img, null, true)) {
            assertInstanceOf(Qcow2Backend.class, b);
            assertEquals(compat.equals("0.10") ? 2 : 3, ((Qcow2Backend) b).header().version());
            assertEquals(data.length, b.size());
            assertArrayEquals(data, readAll(b));
        }
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    @ParameterizedTest(name = "cluster_size={0}")
    @CsvSource({"4096", "65536", "2097152"})
    void readsCompressedClusters(int clusterSize) throws Exception {
        byte[] data = pattern(5 * MIB, 7);
        Path src = raw("src.raw", data);
        Path img = dir.resolve("c.qcow2");
        QemuImg.ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=" + clusterSize,
            src.toString(), img.toString());
        try (BlockBackend b = open(img, "qcow2", true)) {
            assertArrayEquals(data, readAll(b));
        }
    }

    @Test
    void writingIntoCompressedClustersCopiesThem() throws Exception {
        byte[] data = pattern(2 * MIB, 8);
        Path src = raw("src.raw", data);
        Path img = dir.resolve("c.qcow2");
        QemuImg.ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", src.toString(), img.toString());
        Random r = new Random(3);
        try (BlockBackend b = open(img, "qcow2", false)) {
            for (int i = 0; i < 40; i++) {
                int off = r.nextInt(data.length / 512 - 16) * 512;
                byte[] w = new byte[512 * (1 + r.nextInt(16))];
                r.nextBytes(w);
                b.write(off, ByteBuffer.wrap(w));
                System.arraycopy(w, 0, data, off, w.length);
            }
            assertArrayEquals(data, readAll(b));
        }
        assertClean(img);
        assertSameAs(img, data);
    }

    @ParameterizedTest(name = "base format {0}")
    @CsvSource({"raw", "qcow2"})
    void readsBackingChainsWithRelativeNames(String baseFormat) throws Exception {
        byte[] data = pattern(3 * MIB, 11);
        Path base = dir.resolve("base." + baseFormat);
        Path src = raw("src.raw", data);
        QemuImg.ok("qemu-img", "convert", "-f", "raw", "-O", baseFormat, src.toString(), base.toString());
        Files.createDirectories(dir.resolve("sub"));
        // mid names its backing file relative to its own directory, as QEMU resolves it
        Path mid = dir.resolve("sub/mid.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-b", "../base." + baseFormat, "-F", baseFormat, mid.toString());
        QemuImg.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 65536 131072", mid.toString());
        Path top = dir.resolve("top.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-o", "compat=0.10", "-b", "sub/mid.qcow2", "-F", "qcow2",
            top.toString());
        QemuImg.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0xa5 100000 5000", "-c", "write -z 1048576 65536",
            top.toString());
        Arrays.fill(data, 65536, 65536 + 131072, (byte) 0x5a);
        Arrays.fill(data, 100000, 105000, (byte) 0xa5);
        Arrays.fill(data, 1048576, 1048576 + 65536, (byte) 0);
        try (BlockBackend b = open(top, null, true)) {
            assertArrayEquals(data, readAll(b));
        }
    }

    /** A seeded random mix of writes, discards and zero-writes through jvisor and into a model. */
    static void randomOps(BlockBackend b, byte[] model, long seed, int ops) throws IOException {
        Random r = new Random(seed);
        int sectors = model.length / 512;
        for (int i = 0; i < ops; i++) {
            int op = r.nextInt(10);
            int len = 512 * (1 + (r.nextBoolean() ? r.nextInt(8) : r.nextInt(300)));
            int off = 512 * r.nextInt(sectors - len / 512);
            if (op < 6) {
                byte[] w = new byte[len];
                r.nextBytes(w);
                b.write(off, ByteBuffer.wrap(w));
                System.arraycopy(w, 0, model, off, len);
            } else if (op < 8) {
                b.writeZeroes(off, len, r.nextBoolean());
                Arrays.fill(model, off, off + len, (byte) 0);
            } else if (op < 9) {
                // a discard leaves unspecified contents; write-zero the model only where the qcow2
                // layer is known to zero: mirror it by reading back what jvisor now returns
                b.discard(off, len);
                b.read(off, ByteBuffer.wrap(model, off, len));
            } else {
                b.flush();
            }
        }
    }

    @ParameterizedTest(name = "compat={0} cluster_size={1} backing={2}")
    @CsvSource({"1.1,65536,false", "0.10,65536,false", "1.1,4096,true", "0.10,4096,true", "1.1,2097152,false",
        "1.1,512,false"})
    void randomWritesPassQemuImgCheckAndCompare(String compat, int clusterSize, boolean withBacking) throws Exception {
        int size = 8 * MIB;
        byte[] model = new byte[size];
        Path img = dir.resolve("w.qcow2");
        if (withBacking) {
            model = pattern(size, 5);
            Path base = raw("base.raw", model);
            QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-o", "compat=" + compat + ",cluster_size=" + clusterSize,
                "-b", base.toString(), "-F", "raw", img.toString());
        } else {
            QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-o", "compat=" + compat + ",cluster_size=" + clusterSize,
                img.toString(), String.valueOf(size));
        }
        try (BlockBackend b = open(img, null, false)) {
            randomOps(b, model, clusterSize, 400);
            assertArrayEquals(model, readAll(b));
        }
        assertClean(img);
        assertSameAs(img, model);
        try (BlockBackend b = open(img, "qcow2", true)) {
            assertArrayEquals(model, readAll(b));   // and jvisor reads back what it wrote, after a reopen
        }
    }

    @ParameterizedTest(name = "cluster_size={0}")
    @CsvSource({"512", "4096", "65536"})
    void tinyCachesEvictDirtyTablesInOrder(int clusterSize) throws Exception {
        int size = 8 * MIB;
        Path img = dir.resolve("t.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=" + clusterSize, img.toString(),
            String.valueOf(size));
        byte[] model = new byte[size];
        try (BlockBackend b = Qcow2Backend.open(RawFileBackend.openContainer(img, false, CacheMode.WRITEBACK, m -> { }),
                false, (n, f) -> null, warnings::add, 2, 2)) {
            randomOps(b, model, 17, 500);
            assertArrayEquals(model, readAll(b));
        }
        assertClean(img);
        assertSameAs(img, model);
    }

    @Test
    void cacheNoneAndLazyRefcountImages() throws Exception {
        // lazy_refcounts=on in the image: jvisor keeps refcounts exact all the same, never sets the dirty bit
        int size = 8 * MIB;
        Path img = dir.resolve("l.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-o", "lazy_refcounts=on", img.toString(), String.valueOf(size));
        byte[] model = new byte[size];
        try (BlockBackend b = BlockImages.open(img, "qcow2", false, CacheMode.NONE, false, warnings::add)) {
            randomOps(b, model, 23, 300);
            assertEquals(0, peekIncompatible(img) & 1, "dirty bit set while running");
        }
        assertClean(img);
        assertSameAs(img, model);
    }

    /**
     * QEMU with lazy refcounts, killed (qemu-io's abort) after writes that allocated clusters and,
     * with 512-byte clusters and 64-bit refcounts (64 clusters per refcount block), refcount blocks:
     * the image is left dirty, its refcounts short of what the tables use (qemu-img check finds
     * errors). jvisor's writable open repairs it as QEMU's would; then the image checks clean, holds
     * what QEMU wrote, an internal snapshot and compressed clusters included, and takes more writes.
     */
    @ParameterizedTest
    @ValueSource(strings = {"cluster_size=65536", "cluster_size=512,refcount_bits=64"})
    void anImageQemuLeftDirtyIsRepairedOnAWritableOpen(String options) throws Exception {
        int size = 4 * MIB;
        byte[] model = pattern(size, 41);
        Path src = raw("src.raw", model);
        Path img = dir.resolve("dirty.qcow2");
        // compressed clusters from convert -c, an internal snapshot, then lazy refcounts
        QemuImg.ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o", options, src.toString(), img.toString());
        QemuImg.ok("qemu-img", "snapshot", "-c", "s1", img.toString());
        QemuImg.ok("qemu-img", "amend", "-f", "qcow2", "-o", "lazy_refcounts=on", img.toString());
        QemuImg.Result crash = QemuImg.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 1M", "-c", "write -P 0x33 2M 1536k",
            "-c", "flush", "-c", "abort", img.toString());
        assertTrue(crash.exit() != 0, "qemu-io aborted: " + crash.output());
        Arrays.fill(model, 0, MIB, (byte) 0x5a);
        Arrays.fill(model, 2 * MIB, 2 * MIB + 1536 * 1024, (byte) 0x33);
        assertEquals(1, peekIncompatible(img) & 1, "QEMU left the dirty bit");
        assertTrue(QemuImg.check(img).exit() != 0, "QEMU left errors for a repair to find");

        try (BlockBackend b = open(img, "qcow2", false)) {
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.get(0).contains("repaired: ") && !warnings.get(0).contains("repaired: 0 refcounts"),
                warnings.toString());
            assertArrayEquals(model, readAll(b));
        }
        assertEquals(0, peekIncompatible(img) & 1, "the dirty bit is cleared");
        assertClean(img);
        assertSameAs(img, model);
        try (BlockBackend b = open(img, "qcow2", false)) {
            randomOps(b, model, 29, 200);
        }
        assertClean(img);
        assertSameAs(img, model);
        // the snapshot still holds the converted pattern
        Path s1 = dir.resolve("s1.raw");
        QemuImg.ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", "-l", "snapshot.name=s1", img.toString(), s1.toString());
        assertArrayEquals(pattern(size, 41), Files.readAllBytes(s1));
    }

    @Test
    void aWriterClearsAutoclearBitsItDoesNotMaintain() throws Exception {
        // a persistent dirty bitmap (autoclear bit 0): jvisor does not track it, so it must clear the bit
        Path img = dir.resolve("bm.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", img.toString(), "4M");
        QemuImg.ok("qemu-img", "bitmap", "--add", img.toString(), "b0");
        assertTrue(QemuImg.ok("qemu-img", "info", img.toString()).contains("b0"));
        byte[] model = new byte[4 * MIB];
        try (BlockBackend b = open(img, "qcow2", false)) {
            randomOps(b, model, 5, 50);
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(img)) {
            ByteBuffer a = ByteBuffer.allocate(8);
            ch.read(a, 88);
            assertEquals(0, a.getLong(0), "autoclear_features");
        }
        // QEMU then drops the bitmaps as inconsistent; their clusters count as leaks, no error
        QemuImg.Result r = QemuImg.check(img);
        assertEquals(3, r.exit(), r.output());
        assertTrue(r.output().contains("a program lacking bitmap support modified this file"), r.output());
        assertFalse(r.output().contains("ERROR"), r.output());
        assertSameAs(img, model);
    }

    static long peekIncompatible(Path img) throws IOException {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(img)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            ch.read(b, 72);
            return b.getLong(0);
        }
    }

    @Test
    void aFileThatCannotGrowFailsWritesAndStaysConsistent() throws Exception {
        // the host file system's limit (EFBIG) or a full disk: writes fail, metadata stays sound
        Path img = dir.resolve("f.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=4096", img.toString(), "64M");
        MemoryFile file = new MemoryFile(Files.readAllBytes(img), 2 * MIB);
        int failed = 0;
        try (Qcow2Backend b = Qcow2Backend.open(file, false, (n, f) -> null, warnings::add)) {
            byte[] w = new byte[65536];
            for (int i = 0; i < 64; i++) {
                try {
                    b.write((long) i * MIB, ByteBuffer.wrap(w));
                    if (i % 8 == 0) {
                        b.flush();
                    }
                } catch (IOException e) {
                    assertTrue(e.getMessage().contains("EFBIG"), e.getMessage());
                    failed++;
                }
            }
        } catch (IOException e) {
            assertTrue(e.getMessage().contains("EFBIG"), e.getMessage());   // the final flush may fail too
        }
        assertTrue(failed > 0, "the file hit its limit");
        Files.write(img, file.bytes());
        QemuImg.Result r = QemuImg.check(img);
        assertTrue(r.exit() == 0 || r.exit() == 3, r.output());
    }

    @Test
    void smallClustersGrowTheRefcountTable() throws Exception {
        // 512-byte clusters: one refcount table cluster covers 64 blocks of 256 clusters (8 MiB)
        int size = 24 * MIB;
        Path img = dir.resolve("g.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=512", img.toString(), String.valueOf(size));
        byte[] model = new byte[size];
        try (BlockBackend b = open(img, "qcow2", false)) {
            byte[] w = new byte[64 * 1024];
            for (int off = 0; off < size; off += 3 * w.length) {
                Arrays.fill(w, (byte) (off >> 16));
                b.write(off, ByteBuffer.wrap(w));
                System.arraycopy(w, 0, model, off, w.length);
            }
        }
        String info = QemuImg.ok("qemu-img", "check", img.toString());
        assertClean(img);
        assertSameAs(img, model);
        assertFalse(info.isEmpty());
    }

    @Test
    void writesCopyClustersSharedWithAnInternalSnapshot() throws Exception {
        byte[] data = pattern(4 * MIB, 21);
        Path src = raw("src.raw", data);
        Path img = dir.resolve("s.qcow2");
        QemuImg.ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", src.toString(), img.toString());
        QemuImg.ok("qemu-img", "snapshot", "-c", "before", img.toString());
        byte[] model = data.clone();
        try (BlockBackend b = open(img, "qcow2", false)) {
            randomOps(b, model, 99, 200);
        }
        assertClean(img);
        assertSameAs(img, model);
        // the snapshot still holds what it held
        QemuImg.ok("qemu-img", "snapshot", "-a", "before", img.toString());
        assertClean(img);
        assertSameAs(img, data);
    }

    static void assertClean(Path img) throws Exception {
        QemuImg.Result r = QemuImg.check(img);
        assertEquals(0, r.exit(), "qemu-img check " + img + ":\n" + r.output());
    }

    void assertSameAs(Path img, byte[] model) throws Exception {
        Path raw = raw("model.raw", model);
        QemuImg.Result r = QemuImg.run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", img.toString(), raw.toString());
        assertEquals(0, r.exit(), "qemu-img compare:\n" + r.output());
    }
}
