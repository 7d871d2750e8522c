package org.jvisor.boot.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.boot.BootException;
import org.jvisor.testing.RequiredTools;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvisor.boot.linux.TestImages.concat;
import static org.jvisor.boot.linux.TestImages.le32;

class Lz4LegacyTest {
    private static final byte[] MAGIC = le32(Lz4Legacy.MAGIC);

    private static byte[] frame(byte[]... blocks) {
        byte[] f = MAGIC;
        for (byte[] b : blocks) {
            f = concat(f, le32(b.length), b);
        }
        return f;
    }

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    private static byte[] decode(byte[] f) throws BootException {
        return Lz4Legacy.decompress(f, 0, f.length, "payload");
    }

    private static String failure(byte[] f) {
        return assertThrows(BootException.class, () -> decode(f)).getMessage();
    }

    @Test
    void decodesLiteralsAndOverlappingMatches() throws BootException {
        // "abc" then a match of offset 3, length 4+5=9 -> "abcabcabcabc", then literals "XY".
        byte[] block = bytes(0x35, 'a', 'b', 'c', 3, 0, 0x20, 'X', 'Y');
        assertEquals("abcabcabcabcXY", new String(decode(frame(block))));
        // Run-length: one byte repeated through offset 1, with an extended match length (15 + 255 + 10 + 4 = 284).
        byte[] rle = bytes(0x1F, 'z', 1, 0, 255, 10, 0x10, '!');
        byte[] out = decode(frame(rle));
        assertEquals(286, out.length);
        for (int i = 0; i < 285; i++) {
            assertEquals('z', out[i]);
        }
        assertEquals('!', out[285]);
    }

    @Test
    void decodesLongLiteralRunsAcrossSeveralBlocksWithTheKernelsTrailer() throws BootException {
        byte[] data = TestImages.pattern(Lz4Legacy.BLOCK_SIZE * 2 + 12345, 7);
        assertArrayEquals(data, decode(TestImages.lz4LiteralsOnly(data, true)));
        assertArrayEquals(data, decode(TestImages.lz4LiteralsOnly(data, false)));
    }

    @Test
    void acceptsTheMagicAgainBetweenBlocks() throws BootException {
        byte[] f = concat(frame(bytes(0x20, 'h', 'i')), frame(bytes(0x10, '!')));
        assertEquals("hi!", new String(decode(f)));
    }

    @Test
    void decodesInsideALargerBuffer() throws BootException {
        byte[] f = concat(new byte[7], frame(bytes(0x20, 'o', 'k')), le32(2), new byte[5]);
        assertEquals("ok", new String(Lz4Legacy.decompress(f, 7, f.length - 12, "p")));
    }

    @Test
    void aFewBytesNeverReserveMoreThanTheyCanDecodeTo() {
        // The last four bytes read as the kernel's size trailer: here they claim 1 GiB.
        byte[] lying = concat(frame(bytes(0x10, 'a')), le32(1 << 30));
        int room = Lz4Legacy.initialCapacity(lying, 0, lying.length);
        assertTrue(room <= Lz4Legacy.maxOutput(lying.length), "reserved " + room + " bytes for " + lying.length);
        assertTrue(failure(lying).contains("trailer says " + (1 << 30)));
        byte[] honest = concat(frame(bytes(0x10, 'a')), le32(1));
        assertTrue(Lz4Legacy.initialCapacity(honest, 0, honest.length) <= Lz4Legacy.maxOutput(honest.length));
    }

    @Test
    void rejectsCorruptStreamsWithTheReason() {
        assertTrue(failure(bytes(1, 2, 3, 4)).contains("not an LZ4 legacy frame"));
        assertTrue(failure(MAGIC).contains("no blocks"));
        assertTrue(failure(frame(bytes(0x40, 'a'))).contains("literal run overruns the block"));
        assertTrue(failure(frame(bytes(0x14, 'a', 0, 0))).contains("match offset 0"));
        assertTrue(failure(frame(bytes(0x14, 'a', 2, 0))).contains("match offset 2 reaches before the start"));
        assertTrue(failure(frame(bytes(0x14, 'a', 1))).contains("inside a match offset"));
        assertTrue(failure(frame(bytes(0xF0))).contains("inside a literal length"));
        assertTrue(failure(frame(bytes(0x1F, 'a', 1, 0, 255))).contains("inside a match length"));
        assertTrue(failure(frame(bytes(0x14, 'a', 1, 0))).contains("where a sequence token should be"));
        assertTrue(failure(concat(frame(bytes(0x10, 'a')), le32(5))).contains("trailer says 5"));
        assertTrue(failure(concat(frame(bytes(0x10, 'a')), bytes(1, 2))).contains("2 stray bytes"));
        assertTrue(failure(concat(MAGIC, le32(100), bytes(0x10, 'a'), le32(0))).contains("truncated LZ4 stream"));
        assertTrue(failure(concat(MAGIC, le32(0x7FFF_0000), new byte[8])).contains("impossible compressed size"));
        assertTrue(failure(concat(MAGIC, le32(0), new byte[8])).contains("impossible compressed size 0"));
        // A match that would write past one block's 8 MiB of output.
        byte[] huge = new byte[3 + 2 + 33000];
        huge[0] = 0x1F;
        huge[1] = 'a';
        huge[2] = 1;
        Arrays.fill(huge, 4, huge.length - 1, (byte) 255);
        huge[huge.length - 1] = 0;
        String m = failure(frame(huge));
        assertTrue(m.contains("match length over the 8 MiB") || m.contains("overruns the 8 MiB output"), m);
        assertTrue(m.startsWith("payload: LZ4 block 0 at offset 0x4: "), m);
    }

    /**
     * A greedy LZ4 block compressor (4-byte hash, one candidate), enough to produce every kind of
     * sequence: short and long literal runs and matches, near and far offsets, overlapping copies.
     */
    static byte[] compressBlock(byte[] in, int from, int to) {
        java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
        int[] table = new int[1 << 14];
        java.util.Arrays.fill(table, -1);
        int anchor = from;
        int p = from;
        while (p + 12 < to) {
            int v = (in[p] & 0xFF) | (in[p + 1] & 0xFF) << 8 | (in[p + 2] & 0xFF) << 16 | (in[p + 3] & 0xFF) << 24;
            int h = (v * -1640531535) >>> 18;
            int cand = table[h];
            table[h] = p;
            if (cand < from || p - cand > 65535 || in[cand] != in[p] || in[cand + 1] != in[p + 1]
                || in[cand + 2] != in[p + 2] || in[cand + 3] != in[p + 3]) {
                p++;
                continue;
            }
            int len = 4;
            while (p + len < to - 5 && in[cand + len] == in[p + len]) {
                len++;
            }
            writeSequence(o, in, anchor, p - anchor, p - cand, len);
            p += len;
            anchor = p;
        }
        writeSequence(o, in, anchor, to - anchor, 0, 0);
        return o.toByteArray();
    }

    private static void writeSequence(java.io.ByteArrayOutputStream o, byte[] in, int lit, int litLen, int offset, int matchLen) {
        int m = matchLen == 0 ? 0 : matchLen - 4;
        o.write(Math.min(litLen, 15) << 4 | Math.min(m, 15));
        writeLength(o, litLen);
        o.write(in, lit, litLen);
        if (matchLen > 0) {
            o.write(offset);
            o.write(offset >>> 8);
            writeLength(o, m);
        }
    }

    private static void writeLength(java.io.ByteArrayOutputStream o, int n) {
        if (n >= 15) {
            n -= 15;
            while (n >= 255) {
                o.write(255);
                n -= 255;
            }
            o.write(n);
        }
    }

    @Test
    void roundTripsEveryKindOfSequenceFromOurOwnCompressor() throws BootException {
        java.util.Random rnd = new java.util.Random(42);
        byte[] data = new byte[Lz4Legacy.BLOCK_SIZE + 300_001];
        int i = 0;
        while (i < data.length) {
            int kind = rnd.nextInt(4);
            int n = Math.min(data.length - i, 1 + rnd.nextInt(kind == 0 ? 40 : 300));
            for (int k = 0; k < n; k++, i++) {
                data[i] = switch (kind) {
                    case 0 -> (byte) rnd.nextInt();                          // noise: literals
                    case 1 -> i >= 1 ? data[i - 1] : 0;                        // runs: offset 1
                    case 2 -> i >= 5 ? data[i - 5] : 1;                        // short period: overlapping offset 5
                    default -> i >= 3000 ? data[i - 1000 - (i % 7)] : 2;       // far copies
                };
            }
        }
        java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
        frame.writeBytes(MAGIC);
        for (int off = 0; off < data.length; off += Lz4Legacy.BLOCK_SIZE) {
            byte[] block = compressBlock(data, off, Math.min(data.length, off + Lz4Legacy.BLOCK_SIZE));
            frame.writeBytes(le32(block.length));
            frame.writeBytes(block);
        }
        byte[] withoutTrailer = frame.toByteArray();
        assertTrue(withoutTrailer.length < data.length * 0.9, "compressed to " + withoutTrailer.length);
        assertArrayEquals(data, decode(withoutTrailer));
        // With the trailer the output buffer is exactly the data's size: the fast copies must stop at its end.
        assertArrayEquals(data, decode(concat(withoutTrailer, le32(data.length))));
        for (int len : new int[] {1, 7, 8, 15, 16, 17, 31, 33, 100}) {
            byte[] small = java.util.Arrays.copyOf(data, len);
            byte[] f = concat(MAGIC, le32(compressBlock(small, 0, len).length), compressBlock(small, 0, len), le32(len));
            assertArrayEquals(small, decode(f), "length " + len);
        }
    }

    @Test
    void roundTripsWhatTheLz4ToolWritesInLegacyFormat(@TempDir Path dir) throws Exception {
        RequiredTools.assume(lz4Available(), "the lz4 command is not installed (apt-get install lz4)");
        // Compressible text with some noise, more than two 8 MiB blocks, like a kernel image.
        byte[] data = new byte[Lz4Legacy.BLOCK_SIZE * 2 + 777_777];
        byte[] noise = TestImages.pattern(data.length, 3);
        byte[] words = "startup_64 decompress_kernel early_printk e820 boot_params ".getBytes();
        for (int i = 0; i < data.length; i++) {
            data[i] = (i / 4096) % 3 == 0 ? noise[i] : words[(i * 7 / 5) % words.length];
        }
        Path in = dir.resolve("data");
        Path out = dir.resolve("data.lz4");
        Files.write(in, data);
        Process p = new ProcessBuilder("lz4", "-l", "-9", "-f", "-q", in.toString(), out.toString())
            .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), log);
        byte[] compressed = Files.readAllBytes(out);
        assertTrue(compressed.length < data.length / 2, "lz4 compressed " + data.length + " to " + compressed.length);
        assertArrayEquals(data, decode(compressed));
        // As the kernel build stores it: with the uncompressed size appended.
        assertArrayEquals(data, decode(concat(compressed, le32(data.length))));
    }

    static boolean lz4Available() {
        try {
            Process p = new ProcessBuilder("lz4", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
