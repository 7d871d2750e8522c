package org.jvisor.boot.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.boot.BootException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
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

    @Test
    void roundTripsWhatTheLz4ToolWritesInLegacyFormat(@TempDir Path dir) throws Exception {
        assumeTrue(lz4Available(), "the lz4 command is not installed (apt-get install lz4)");
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
