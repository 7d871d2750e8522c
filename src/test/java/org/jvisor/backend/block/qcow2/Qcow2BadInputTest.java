package org.jvisor.backend.block.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.block.ProbedRawBackend;
import org.jvisor.backend.block.RawFileBackend;

/**
 * Damaged and hostile images: each is refused at open with one line naming the file and the
 * fault, or, for damage found at run time, fails the request with an I/O error, sets the
 * image's corrupt bit and refuses further writes, as QEMU does.
 */
class Qcow2BadInputTest {
    @TempDir
    Path dir;

    final List<String> warnings = new ArrayList<>();

    @BeforeAll
    static void tools() {
        QemuImg.assumeInstalled();
    }

    Path image(String... opts) throws Exception {
        Path p = dir.resolve("bad.qcow2");
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "create", "-f", "qcow2"));
        cmd.addAll(List.of(opts));
        cmd.add(p.toString());
        cmd.add("16M");
        QemuImg.ok(cmd.toArray(new String[0]));
        return p;
    }

    static void poke(Path p, long offset, ByteBuffer b) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.write(b.flip(), offset);
        }
    }

    static void poke32(Path p, long offset, int v) throws IOException {
        poke(p, offset, ByteBuffer.allocate(4).putInt(v));
    }

    static void poke64(Path p, long offset, long v) throws IOException {
        poke(p, offset, ByteBuffer.allocate(8).putLong(v));
    }

    static long peek64(Path p, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            ch.read(b, offset);
            return b.getLong(0);
        }
    }

    BlockBackend open(Path p, String format, boolean readOnly) throws IOException {
        return BlockImages.open(p, format, readOnly, CacheMode.WRITEBACK, false, warnings::add);
    }

    String refused(Path p, boolean readOnly) {
        IOException e = assertThrows(IOException.class, () -> open(p, "qcow2", readOnly).close());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void truncatedHeader() throws Exception {
        Path p = image();
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.truncate(50);
        }
        assertEquals(p + ": truncated: the file is 50 bytes, shorter than a qcow2 header (72 bytes)", refused(p, true));
    }

    @Test
    void truncatedTables() throws Exception {
        Path p = image();
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.truncate(70000);   // header cluster and part of the refcount table
        }
        assertEquals(p + ": L1 table [0x30000, +8) is outside the file (70000 bytes)", refused(p, true));
    }

    @Test
    void badMagicAndVersion() throws Exception {
        Path p = image();
        poke32(p, 0, 0x12345678);
        assertEquals(p + ": bad magic 0x12345678 (a qcow2 image starts with QFI\\xfb)", refused(p, true));
        Path q = dir.resolve("v4.qcow2");
        Files.delete(p);
        p = image();
        poke32(p, 4, 4);
        assertEquals(p + ": unsupported qcow2 version 4 (2 and 3 are supported)", refused(p, true));
        assertFalse(Files.exists(q));
    }

    @Test
    void clusterBitsOutOfRange() throws Exception {
        Path p = image();
        poke32(p, 20, 30);
        assertEquals(p + ": cluster_bits 30 is out of range (9 to 21)", refused(p, true));
        poke32(p, 20, 8);
        assertEquals(p + ": cluster_bits 8 is out of range (9 to 21)", refused(p, true));
    }

    @Test
    void l1TableUnalignedOrOutsideTheFile() throws Exception {
        Path p = image();
        poke64(p, 40, 0x30200);
        assertEquals(p + ": L1 table offset 0x30200 is not a cluster-aligned offset after the header", refused(p, true));
        poke64(p, 40, 1L << 40);
        assertEquals(p + ": L1 table [0x10000000000, +8) is outside the file (196616 bytes)", refused(p, true));
    }

    @Test
    void refcountTableUnaligned() throws Exception {
        Path p = image();
        poke64(p, 48, 0x10008);
        assertEquals(p + ": refcount table offset 0x10008 is not a cluster-aligned offset after the header",
            refused(p, true));
    }

    @Test
    void refcountOrderTooLarge() throws Exception {
        Path p = image();
        poke32(p, 96, 7);
        assertEquals(p + ": refcount_order 7 is out of range (0 to 6: refcounts of 1 to 64 bits)", refused(p, true));
    }

    @Test
    void refcountTableLargerThanQemuAllows() throws Exception {
        Path p = image();
        poke32(p, 56, 1000);
        assertEquals(p + ": refcount table of 1000 clusters is too large (at most 128)", refused(p, true));
    }

    @Test
    void enormousVirtualSize() throws Exception {
        Path p = image();
        poke64(p, 24, 1L << 60);
        assertEquals(p + ": virtual size 1152921504606846976 is too large for 65536-byte clusters "
            + "(the L1 table would exceed 32 MiB)", refused(p, true));
        poke64(p, 24, -512);
        assertEquals(p + ": virtual size 18446744073709551104 is too large (at most 2^63-1 bytes)", refused(p, true));
        poke64(p, 24, 1L << 40);   // 1 TiB: fine for the format, but the L1 table (1 entry) cannot map it
        assertEquals(p + ": L1 table of 1 entries is too small for the virtual size 1099511627776", refused(p, true));
    }

    @Test
    void unknownIncompatibleFeatureIsNamed() throws Exception {
        Path p = image();
        poke64(p, 72, 1L << 10);
        assertEquals(p + ": unsupported incompatible feature bit 10 (unknown)", refused(p, true));
        poke64(p, 72, 1L << 4);
        assertEquals(p + ": unsupported incompatible feature bit 4 (extended L2 entries)", refused(p, true));
        // the name comes from the image's own feature name table where it has one
        Path named = dir.resolve("named.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", named.toString(), "1M");
        poke64(named, 72, 1L << 2);
        IOException e = assertThrows(IOException.class, () -> open(named, "qcow2", true).close());
        assertEquals(named + ": unsupported incompatible feature bit 2 (external data file)", e.getMessage());
    }

    @Test
    void zstdIsRefused() throws Exception {
        Path p = image("-o", "compression_type=zstd");
        assertEquals(p + ": compression type 1 (zstd) is not supported (only zlib)", refused(p, true));
    }

    @Test
    void corruptImagesOpenOnlyReadOnlyAndDirtyOnesAreRepaired() throws Exception {
        Path p = image();
        poke64(p, 72, 1L << 1);
        assertEquals(p + ": the image is marked corrupt; open it read-only (readonly=on) or repair it with "
            + "'qemu-img check -r all'", refused(p, false));
        open(p, "qcow2", true).close();
        poke64(p, 72, 1L);
        open(p, "qcow2", true).close();
        assertEquals(1L, peek64(p, 72), "a read-only open leaves the dirty bit");
        open(p, "qcow2", false).close();
        assertEquals(0L, peek64(p, 72), "a writable open repairs, then clears the dirty bit");
        assertTrue(warnings.contains(p + ": the image was not closed cleanly while it used lazy refcounts (dirty bit); "
            + "repaired: 0 refcounts and 0 copied flags corrected"), warnings.toString());
        // a dirty image whose L2 table points past the end of the file cannot be repaired: it is refused
        Path q = image();
        poke64(q, 72, 1L);
        long l1 = peek64(q, 40);
        poke64(q, l1, 0x8000_0000_7FFF_0000L);
        assertEquals(q + ": cannot repair the image that was not closed cleanly (dirty bit): an L2 table at 0x7fff0000 "
            + "is outside the file; repair it with 'qemu-img check -r all'", refused(q, false));
        assertEquals(1L, peek64(q, 72), "nothing changed");
    }

    @Test
    void backingFileLoops() throws Exception {
        Path a = dir.resolve("a.qcow2");
        Path b = dir.resolve("b.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", a.toString(), "1M");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", b.toString());
        // make a's backing file b: rebase without checks (-u)
        QemuImg.ok("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", a.toString());
        byte[] aBefore = Files.readAllBytes(a);
        byte[] bBefore = Files.readAllBytes(b);
        IOException e = assertThrows(IOException.class, () -> open(b, null, false).close());
        assertEquals(b.toRealPath() + ": could not open backing file a.qcow2: " + a.toRealPath()
            + ": could not open backing file b.qcow2: backing file loop: " + b.toRealPath() + " -> " + a.toRealPath()
            + " -> " + b.toRealPath(), e.getMessage().replace(b.toString(), b.toRealPath().toString()));
        // nothing was written to either image
        assertArrayEquals(aBefore, Files.readAllBytes(a));
        assertArrayEquals(bBefore, Files.readAllBytes(b));
    }

    @Test
    void missingBackingFile() throws Exception {
        Path base = dir.resolve("base.raw");
        Files.write(base, new byte[1 << 20]);
        Path top = dir.resolve("top.qcow2");
        QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-b", "base.raw", "-F", "raw", top.toString());
        Files.delete(base);
        IOException e = assertThrows(IOException.class, () -> open(top, null, false).close());
        assertEquals(top + ": could not open backing file base.raw: " + base + ": disk image does not exist",
            e.getMessage());
        assertInstanceOf(IOException.class, e.getCause());
    }

    @Test
    void corruptionFoundAtRunTimeFailsTheRequestAndMarksTheImage() throws Exception {
        Path p = image();
        QemuImg.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 64k", p.toString());
        // L1 at 0x30000 -> L2 at 0x40000; first L2 entry -> data cluster 0x50000. Point it off-alignment.
        long l2 = peek64(p, 0x30000) & L2Entry.OFFSET_MASK;
        long e0 = peek64(p, l2);
        poke64(p, l2, e0 + 512);
        try (BlockBackend b = open(p, "qcow2", false)) {
            IOException e = assertThrows(IOException.class, () -> b.read(0, ByteBuffer.allocate(512)));
            assertEquals(p + ": corrupt qcow2 image: data cluster offset 0x50200 is not cluster-aligned", e.getMessage());
            IOException w = assertThrows(IOException.class, () -> b.write(1 << 20, ByteBuffer.allocate(512)));
            assertEquals(p + " is marked corrupt: writes are refused", w.getMessage());
        }
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(QemuImg.ok("qemu-img", "info", "-U", p.toString()).contains("corrupt: true"));
    }

    @Test
    void aDataClusterOverMetadataIsNeverWritten() throws Exception {
        Path p = image();
        QemuImg.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 64k", p.toString());
        long l2 = peek64(p, 0x30000) & L2Entry.OFFSET_MASK;
        long e0 = peek64(p, l2);
        poke64(p, l2, (e0 & ~L2Entry.OFFSET_MASK) | 0x30000);   // the data cluster is the L1 table
        byte[] before = Files.readAllBytes(p);
        try (BlockBackend b = open(p, "qcow2", false)) {
            IOException e = assertThrows(IOException.class, () -> b.write(0, ByteBuffer.allocate(4096)));
            assertEquals(p + ": corrupt qcow2 image: a data cluster at 0x30000 overlaps the L1 table (write prevented)",
                e.getMessage());
        }
        byte[] after = Files.readAllBytes(p);
        after[72 + 7] &= ~2;   // the corrupt bit is the one change
        assertArrayEquals(before, after);
    }

    @Test
    void aRefcountUnderflowIsCorruption() throws Exception {
        Path p = image();
        QemuImg.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 64k", p.toString());
        // the refcount block is cluster 2 (0x20000), 16-bit entries; the data cluster is cluster 5
        poke(p, 0x20000 + 5 * 2, ByteBuffer.allocate(2).putShort((short) 0));
        try (BlockBackend b = open(p, "qcow2", false)) {
            b.discard(0, 65536);
            IOException e = assertThrows(IOException.class, b::flush);
            assertEquals(p + ": corrupt qcow2 image: refcount of cluster 5 would drop below zero", e.getMessage());
        }
        assertTrue(QemuImg.ok("qemu-img", "info", "-U", p.toString()).contains("corrupt: true"));
    }

    /**
     * Clusters counted past the end of the file (a crash's leaks, or a damaged image's counts) are
     * skipped by allocation as QEMU skips them: taking one would add a reference a 1-bit refcount
     * cannot hold, or one the image does not have. Here they are at the largest count the entries
     * hold; the writes land elsewhere, and qemu-img check finds the two leaks QEMU's own write
     * leaves in the same image, and no corruption.
     */
    @Test
    void countedClustersPastTheEndAreNotAllocatedAgain() throws Exception {
        for (int bits : new int[] {1, 16}) {
            Path p = dir.resolve("past-end-" + bits + ".qcow2");
            QemuImg.ok("qemu-img", "create", "-f", "qcow2", "-o", "refcount_bits=" + bits, p.toString(), "16M");
            // header, refcount table, refcount block (0x20000), L1: the file ends in cluster 3; count clusters 4 and 5
            if (bits == 1) {
                poke(p, 0x20000, ByteBuffer.allocate(1).put((byte) 0x3F));        // LSB first: clusters 0-5
            } else {
                poke(p, 0x20000 + 8, ByteBuffer.allocate(4).putInt(0xFFFF_FFFF));  // clusters 4 and 5 at 65535
            }
            Path q = dir.resolve("qemu-" + bits + ".qcow2");
            Files.copy(p, q);
            QemuImg.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 128k", q.toString());
            try (BlockBackend b = open(p, "qcow2", false)) {
                byte[] data = new byte[128 << 10];
                java.util.Arrays.fill(data, (byte) 0x5A);
                b.write(0, ByteBuffer.wrap(data));
                b.flush();
            }
            QemuImg.Result mine = QemuImg.check(p);
            QemuImg.Result qemus = QemuImg.check(q);
            assertEquals(3, qemus.exit(), qemus.output());
            assertEquals(3, mine.exit(), "leaks only: " + mine.output());
            assertTrue(mine.output().contains("2 leaked clusters were found"), mine.output());
            assertTrue(mine.output().contains("Leaked cluster 4 refcount=" + (bits == 1 ? 1 : 65535) + " reference=0"),
                mine.output());
            QemuImg.ok("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", p.toString(), q.toString());
        }
    }

    /**
     * Refcount overflow: a dirty image (lazy refcounts, not closed) whose tables use a cluster twice
     * while its refcounts are 1 bit wide cannot be repaired by recounting; the writable open is
     * refused with one line, before anything is written, and the image stays as it was.
     */
    @Test
    void aRepairThatWouldOverflowARefcountIsRefusedAndChangesNothing() throws Exception {
        Path p = image("-o", "refcount_bits=1,lazy_refcounts=on");
        QemuImg.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 128k", p.toString());
        // the second L2 entry points at the first data cluster too; then mark the image dirty
        long l2 = peek64(p, 0x30000) & L2Entry.OFFSET_MASK;
        long e0 = peek64(p, l2);
        poke64(p, l2 + 8, e0);
        poke64(p, 72, peek64(p, 72) | 1);
        byte[] before = Files.readAllBytes(p);
        long cluster = (e0 & L2Entry.OFFSET_MASK) >>> 16;
        String e = refused(p, false);
        assertEquals(p + ": refcount overflow: cluster " + cluster + " is used 2 times, more than 1-bit refcounts can "
            + "count; widen them with 'qemu-img amend -o refcount_bits=16' or copy the image with 'qemu-img convert'", e);
        assertArrayEquals(before, Files.readAllBytes(p), "the refused repair wrote nothing");
        // read-only, as QEMU, it opens without a repair and reads both guest clusters
        try (BlockBackend b = open(p, "qcow2", true)) {
            ByteBuffer got = ByteBuffer.allocate(128 << 10);
            b.read(0, got);
            for (int i = 0; i < got.capacity(); i++) {
                assertEquals(0x11, got.get(i));
            }
        }
    }

    @Test
    void unsupportedFormatsAreRefusedByName() throws Exception {
        Path p = dir.resolve("d.vmdk");
        QemuImg.ok("qemu-img", "create", "-f", "vmdk", p.toString(), "1M");
        IOException e = assertThrows(IOException.class, () -> open(p, null, false).close());
        assertEquals(p + ": vmdk images are not supported (jvisor opens raw and qcow2; convert it with "
            + "'qemu-img convert -O qcow2')", e.getMessage());
    }

    @Test
    void aProbedRawImageWarnsAndGuardsItsFirstSector() throws Exception {
        Path p = dir.resolve("disk.img");
        Files.write(p, new byte[1 << 20]);
        try (BlockBackend b = open(p, null, false)) {
            assertInstanceOf(ProbedRawBackend.class, b);
            assertEquals(List.of("warning: Image format was not specified for '" + p + "' and probing guessed raw. "
                + "Automatically detecting the format is dangerous for raw images, write operations on block 0 will "
                + "be restricted. Specify the 'raw' format explicitly to remove the restrictions."), warnings);
            b.write(0, ByteBuffer.allocate(512).putInt(0, 0x12345678));   // any other first sector is fine
            ByteBuffer header = ByteBuffer.allocate(512).putInt(0, Qcow2Header.MAGIC).putInt(4, 3);
            IOException e = assertThrows(IOException.class, () -> b.write(0, header));
            assertEquals(p + ": write to the first sector refused: the image's format was probed and this write would "
                + "make it probe as qcow2 (give format=raw to allow it)", e.getMessage());
        }
        try (BlockBackend b = open(p, "raw", false)) {
            assertInstanceOf(RawFileBackend.class, b);
            b.write(0, ByteBuffer.allocate(512).putInt(0, Qcow2Header.MAGIC).putInt(4, 3));
        }
    }

    @Test
    void snapshotLeavesTheImageUntouched() throws Exception {
        Path p = image();
        QemuImg.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 1M", p.toString());
        byte[] before = Files.readAllBytes(p);
        try (BlockBackend b = BlockImages.open(p, null, false, CacheMode.WRITEBACK, true, warnings::add)) {
            assertFalse(b.readOnly());
            b.write(4096, ByteBuffer.wrap(new byte[8192]).put(0, (byte) 0x77));
            b.flush();
            ByteBuffer r = ByteBuffer.allocate(2);
            b.read(4095, r);
            assertEquals(0x11, r.get(0));
            assertEquals(0x77, r.get(1));
        }
        assertArrayEquals(before, Files.readAllBytes(p));
        assertTrue(warnings.isEmpty(), warnings.toString());
    }
}
