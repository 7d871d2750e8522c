package org.jvisor.backend.block.qcow2;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes qcow2 header and table parsing, and requests on what parsed: a small valid image
 * (version 3 or 2, 512-byte or 4 KiB clusters, some clusters allocated, a backing file or not)
 * whose header fields, extensions, L1/L2 entries and refcounts the fuzzer bends, then reads,
 * writes, discards, zero-writes and flushes at offsets it picks. The only failure allowed out
 * is an {@link IOException} with a message (an error at open, or an I/O error for the guest);
 * anything else (an index out of bounds, an endless loop, an OutOfMemoryError) is a bug.
 */
class Qcow2FuzzTest {
    private static final long FILE_CAP = 8 << 20;
    private static final byte[][] SEEDS = {seed(9, false, 3), seed(12, true, 3), seed(9, true, 2)};

    private static byte[] seed(int clusterBits, boolean backing, int version) {
        try {
            Path tmp = Files.createTempFile("qcow2-fuzz", ".qcow2");
            try {
                Qcow2Creator.create(tmp, 1 << 20, clusterBits, backing ? "base.raw" : null, backing ? "raw" : null);
                byte[] bytes = Files.readAllBytes(tmp);
                if (version == 2) {
                    ByteBuffer.wrap(bytes).putInt(4, 2);   // a version 2 header is the v3 one up to byte 72
                }
                MemoryFile f = new MemoryFile(bytes, FILE_CAP);
                try (Qcow2Backend q = Qcow2Backend.open(f, false, (n, fmt) -> new MemoryFile(new byte[1 << 20], 1 << 20)
                        .asBacking(), m -> { })) {
                    for (int i = 0; i < 8; i++) {
                        q.write(i * 70_000L, ByteBuffer.wrap(new byte[3000]).put(0, (byte) i));
                    }
                }
                return f.bytes();
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "10s")
    void images(FuzzedDataProvider data) {
        byte[] image = SEEDS[data.consumeInt(0, SEEDS.length - 1)].clone();
        ByteBuffer b = ByteBuffer.wrap(image);
        int bends = data.consumeInt(0, 8);
        for (int i = 0; i < bends; i++) {
            // mostly the header and first table clusters, where the parser looks
            int at = data.consumeBoolean() ? data.consumeInt(0, 127) : data.consumeInt(0, image.length - 1);
            int width = 1 << data.consumeInt(0, 3);
            if (at + width > image.length) {
                continue;
            }
            switch (width) {
                case 1 -> b.put(at, data.consumeByte());
                case 2 -> b.putShort(at, data.consumeShort());
                case 4 -> b.putInt(at, data.consumeInt());
                default -> b.putLong(at, data.consumeLong());
            }
        }
        if (data.consumeBoolean()) {
            image = java.util.Arrays.copyOf(image, data.consumeInt(0, image.length));
        }
        boolean readOnly = data.consumeBoolean();
        MemoryFile file = new MemoryFile(image, FILE_CAP);
        Qcow2Backend q;
        try {
            q = Qcow2Backend.open(file, readOnly, (n, fmt) -> new MemoryFile(new byte[64 << 10], 64 << 10).asBacking(),
                m -> { });
        } catch (IOException e) {
            assertMessage(e);
            return;
        }
        ByteBuffer buf = ByteBuffer.allocate(16 << 10);
        int ops = data.consumeInt(1, 12);
        for (int i = 0; i < ops; i++) {
            long size = q.size();
            long off = size == 0 ? 0 : data.consumeLong(0, size - 1) & ~511L;
            int len = Math.min(buf.capacity(), (int) Math.min(512L * data.consumeInt(1, 32), Math.max(0, size - off)));
            try {
                switch (data.consumeInt(0, 4)) {
                    case 0 -> q.read(off, buf.clear().limit(len));
                    case 1 -> q.write(off, buf.clear().limit(len));
                    case 2 -> q.discard(off, len);
                    case 3 -> q.writeZeroes(off, len, data.consumeBoolean());
                    default -> q.flush();
                }
            } catch (IOException e) {
                assertMessage(e);
            }
        }
        try {
            q.close();
        } catch (IOException e) {
            assertMessage(e);
        }
    }

    private static void assertMessage(IOException e) {
        assertNotNull(e.getMessage());
        assertFalse(e.getMessage().isBlank());
        if (e.getMessage().contains("internal error")) {
            throw new AssertionError(e.getMessage(), e);   // with the bug's stack trace in the report
        }
    }
}
