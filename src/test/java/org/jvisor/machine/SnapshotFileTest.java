package org.jvisor.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The snapshot file's framing: sections come back as written, RAM skips zero pages and comes back
 * whole, and a file that is truncated anywhere, has a flipped bit, is not a snapshot or is of
 * another format version is refused by a message naming the file and the fault. A configuration
 * check names what differs.
 */
class SnapshotFileTest {
    private static final int PAGES = 64;

    @TempDir
    Path dir;

    private static MemorySegment ram(Arena arena) {
        MemorySegment ram = arena.allocate((long) PAGES * SnapshotFile.PAGE, 4096);
        ram.fill((byte) 0);
        ram.set(ValueLayout.JAVA_LONG, 3L * SnapshotFile.PAGE + 8, 0x1122_3344_5566_7788L);
        for (int p = 10; p < 13; p++) {
            ram.set(ValueLayout.JAVA_BYTE, (long) p * SnapshotFile.PAGE + 4095, (byte) p);
        }
        ram.set(ValueLayout.JAVA_BYTE, (long) (PAGES - 1) * SnapshotFile.PAGE, (byte) 0x5A);
        return ram;
    }

    private Path write(MemorySegment ram) throws IOException {
        Path file = dir.resolve("vm.jvsnap");
        try (SnapshotFile.Writer w = SnapshotFile.toFile(file)) {
            w.section(SnapshotFile.CONF, "config".getBytes(StandardCharsets.US_ASCII));
            assertEquals(5L * SnapshotFile.PAGE, w.ram(ram), "only the five non-zero pages are written");
            w.finish();
        }
        return file;
    }

    private static void readAll(Path file, MemorySegment into) throws SnapshotException {
        try (SnapshotFile.Reader r = SnapshotFile.fromFile(file)) {
            assertArrayEquals("config".getBytes(StandardCharsets.US_ASCII), r.section(SnapshotFile.CONF));
            r.ram(into);
            r.section(SnapshotFile.END);
        }
    }

    @Test
    void sectionsAndSparseRamComeBack() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = ram(arena);
            Path file = write(ram);
            assertTrue(Files.size(file) < 6L * SnapshotFile.PAGE, "zero pages take no room: " + Files.size(file));
            MemorySegment back = arena.allocate(ram.byteSize(), 4096);
            back.fill((byte) 0);
            readAll(file, back);
            assertEquals(-1, ram.mismatch(back));
            try (var files = Files.list(dir)) {
                assertEquals(List.of(file), files.toList(), "no partial file is left");
            }
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(file)), "guest memory is for the owner only");
        }
    }

    @Test
    void nonZeroPagesFindsEveryNonZeroByteAcrossTheScansChunks() {
        long pages = 3 * 16 + 5;   // three 64 KiB comparisons and a short one
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = arena.allocate(pages * SnapshotFile.PAGE, 4096);
            ram.fill((byte) 0);
            long[] expected = new long[(int) ((pages + 63) >>> 6)];
            // first and last byte of RAM; a chunk's first and last page; runs of neighbours; the last page
            long[][] bytes = {{0, 0}, {15, 4095}, {16, 0}, {17, 100}, {18, 2048}, {31, 4095}, {40, 7}, {52, 4095}};
            for (long[] b : bytes) {
                ram.set(ValueLayout.JAVA_BYTE, b[0] * SnapshotFile.PAGE + b[1], (byte) 0x80);
                expected[(int) (b[0] >>> 6)] |= 1L << b[0];
            }
            assertArrayEquals(expected, SnapshotFile.nonZeroPages(ram));
            ram.fill((byte) 0);
            assertArrayEquals(new long[expected.length], SnapshotFile.nonZeroPages(ram));
        }
    }

    @Test
    void everyTruncationAndFlippedBitIsRefusedNamingTheFile() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = ram(arena);
            byte[] good = Files.readAllBytes(write(ram));
            Path bad = dir.resolve("bad.jvsnap");
            MemorySegment back = arena.allocate(ram.byteSize(), 4096);
            for (int n = 0; n < good.length; n += 97) {
                Files.write(bad, Arrays.copyOf(good, n));
                SnapshotException e = assertThrows(SnapshotException.class, () -> readAll(bad, back), "cut at " + n);
                assertTrue(e.getMessage().startsWith(bad.toString()), e.getMessage());
            }
            for (int at = 0; at < good.length; at += 61) {
                byte[] flipped = good.clone();
                flipped[at] ^= 0x10;
                Files.write(bad, flipped);
                SnapshotException e = assertThrows(SnapshotException.class, () -> readAll(bad, back), "flip at " + at);
                assertTrue(e.getMessage().startsWith(bad.toString()), e.getMessage());
            }
            byte[] inRam = good.clone();
            inRam[good.length - 100] ^= 1; // inside the last RAM page
            Files.write(bad, inRam);
            SnapshotException e = assertThrows(SnapshotException.class, () -> readAll(bad, back));
            assertTrue(e.getMessage().contains("section RAM  fails its CRC32C check"), e.getMessage());
        }
    }

    @Test
    void otherFilesAndFormatsAreRefusedByName() throws Exception {
        Path notOne = dir.resolve("kernel");
        Files.writeString(notOne, "MZ this is some other file");
        assertEquals(notOne + " is not a jvisor snapshot (no JVSNAPSH magic)",
            assertThrows(SnapshotException.class, () -> SnapshotFile.fromFile(notOne)).getMessage());
        Path later = dir.resolve("later");
        byte[] head = Arrays.copyOf(SnapshotFile.MAGIC, 12);
        head[11] = 9;
        Files.write(later, head);
        assertEquals(later + " is snapshot format version 9; this jvisor reads version 1",
            assertThrows(SnapshotException.class, () -> SnapshotFile.fromFile(later)).getMessage());
        Path missing = dir.resolve("missing");
        assertTrue(assertThrows(SnapshotException.class, () -> SnapshotFile.fromFile(missing)).getMessage()
            .startsWith(missing + ": cannot open"));
    }

    @Test
    void aFailedSaveLeavesNoFile() throws Exception {
        Path file = dir.resolve("never.jvsnap");
        try (SnapshotFile.Writer w = SnapshotFile.toFile(file)) {
            w.section(SnapshotFile.CONF, new byte[3]);
            // no finish(): the save failed half-way
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
        assertFalse(Files.exists(file));
    }

    @Test
    void aConfigurationMismatchNamesWhatDiffersAndTheOption() {
        SnapshotConfig saved = new SnapshotConfig("pc", 512L << 20, 1, "tcg",
            List.of("pic", "ioapic", "lapic0", "serial0", "virtio-blk0@pci.0:01.0"), "paused");
        assertNull(saved.mismatch(saved));
        assertEquals("was saved from a pc machine; this one is microvm (-M must match)",
            saved.mismatch(new SnapshotConfig("microvm", 512L << 20, 1, "tcg", saved.devices(), "paused")));
        assertEquals("was saved from a machine with 512 MiB of RAM; this one has 256 MiB (-m must match)",
            saved.mismatch(new SnapshotConfig("pc", 256L << 20, 1, "tcg", saved.devices(), "paused")));
        assertEquals("was saved from a machine with other devices: this one lacks virtio-blk0@pci.0:01.0; this one adds"
            + " virtio-rng0@pci.0:01.0 (-device, -drive and -netdev must match)",
            saved.mismatch(new SnapshotConfig("pc", 512L << 20, 1, "tcg",
                List.of("pic", "ioapic", "lapic0", "serial0", "virtio-rng0@pci.0:01.0"), "paused")));
    }

    /** An endpoint's incoming side over bytes in memory, of unknown length, as a socket or pipe is. */
    private static MigrationEndpoint.Incoming stream(byte[] bytes) {
        var ch = java.nio.channels.Channels.newChannel(new java.io.ByteArrayInputStream(bytes));
        return new MigrationEndpoint.Incoming() {
            @Override
            public java.nio.channels.ReadableByteChannel channel() {
                return ch;
            }

            @Override
            public long size() {
                return -1;
            }

            @Override
            public void close() {
            }
        };
    }

    @Test
    void aStreamOfUnknownLengthReadsBackAndItsTruncationsAreRefused() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = ram(arena);
            byte[] good = Files.readAllBytes(write(ram));
            MemorySegment back = arena.allocate(ram.byteSize(), 4096);
            try (SnapshotFile.Reader r = new SnapshotFile.Reader(stream(good), "tcp:127.0.0.1:4444")) {
                r.section(SnapshotFile.CONF);
                r.ram(back);
                r.section(SnapshotFile.END);
            }
            assertEquals(-1, ram.mismatch(back));
            for (int n = 0; n < good.length; n += 211) {
                byte[] cut = Arrays.copyOf(good, n);
                SnapshotException e = assertThrows(SnapshotException.class, () -> {
                    try (SnapshotFile.Reader r = new SnapshotFile.Reader(stream(cut), "tcp:127.0.0.1:4444")) {
                        r.section(SnapshotFile.CONF);
                        r.ram(back);
                        r.section(SnapshotFile.END);
                    }
                }, "cut at " + n);
                assertTrue(e.getMessage().startsWith("tcp:127.0.0.1:4444 "), e.getMessage());
            }
        }
    }

    @Test
    void aStreamCannotMakeTheReaderAllocateBeyondTheSectionLimit() {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(24);
        b.put(SnapshotFile.MAGIC).putInt(SnapshotFile.FORMAT_VERSION)
            .put(SnapshotFile.CONF.getBytes(StandardCharsets.US_ASCII)).putLong(1L << 40);
        SnapshotException e = assertThrows(SnapshotException.class, () -> {
            try (SnapshotFile.Reader r = new SnapshotFile.Reader(stream(Arrays.copyOf(b.array(), 24)), "exec:cat x")) {
                r.section(SnapshotFile.CONF);
            }
        });
        assertTrue(e.getMessage().contains("claims 1099511627776 bytes"), e.getMessage());
    }
}
