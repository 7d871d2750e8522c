package org.jvisor.boot.linux;

import java.util.Map;

import org.junit.jupiter.api.Test;
import org.jvisor.boot.BootException;
import org.jvisor.boot.linux.PayloadDecompressor.Format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PayloadDecompressorTest {

    private static byte[] b(int... v) {
        byte[] r = new byte[16];
        for (int i = 0; i < v.length; i++) {
            r[i] = (byte) v[i];
        }
        return r;
    }

    private static final Map<Format, byte[]> MAGICS = Map.of(
        Format.GZIP, b(0x1F, 0x8B, 8),
        Format.LZ4_LEGACY, b(0x02, 0x21, 0x4C, 0x18),
        Format.XZ, b(0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00),
        Format.LZMA, b(0x5D, 0x00, 0x00, 0x80),
        Format.BZIP2, b('B', 'Z', 'h', '9'),
        Format.ZSTD, b(0x28, 0xB5, 0x2F, 0xFD),
        Format.LZO, b(0x89, 0x4C, 0x5A, 0x4F, 0x00, 0x0D),
        Format.ELF, b(0x7F, 'E', 'L', 'F'),
        Format.UNKNOWN, b(0x12, 0x34));

    @Test
    void detectsEveryKernelCompressionByItsMagic() {
        MAGICS.forEach((f, magic) -> assertEquals(f, PayloadDecompressor.detect(magic, 0, magic.length), f.name()));
        assertEquals(Format.UNKNOWN, PayloadDecompressor.detect(b(0x1F, 0x9E), 0, 16), "old gzip");
        assertEquals(Format.UNKNOWN, PayloadDecompressor.detect(new byte[] {0x02, 0x21}, 0, 2), "too short for lz4");
        byte[] shifted = TestImages.concat(new byte[3], MAGICS.get(Format.ZSTD));
        assertEquals(Format.ZSTD, PayloadDecompressor.detect(shifted, 3, 16));
    }

    @Test
    void refusesFormatsItCannotDecodeAndSaysHowToBootAnyway() {
        for (Format f : new Format[] {Format.XZ, Format.LZMA, Format.BZIP2, Format.ZSTD, Format.LZO}) {
            byte[] m = MAGICS.get(f);
            String msg = assertThrows(BootException.class, () -> PayloadDecompressor.decompress(m, 0, m.length, "kernel payload"))
                .getMessage();
            assertEquals("kernel payload: payload compressed with " + f.label
                + ": host-side decompression not supported, boot with decompressOnHost=false", msg);
        }
        byte[] u = MAGICS.get(Format.UNKNOWN);
        String msg = assertThrows(BootException.class, () -> PayloadDecompressor.decompress(u, 0, 4, "kernel payload")).getMessage();
        assertTrue(msg.contains("not recognised (starts with 12 34 00 00)"), msg);
    }

    @Test
    void decodesGzipAndLz4ToAnElfAndInsistsOnTheElf() throws BootException {
        byte[] elf = TestImages.elf(0x100_0000, false, new TestImages.Seg(0x100_0000, 0x100_0000, TestImages.pattern(5000, 1), 8192));
        byte[] gz = TestImages.gzip(elf);
        PayloadDecompressor.Result r = PayloadDecompressor.decompress(gz, 0, gz.length, "p");
        assertEquals(Format.GZIP, r.format());
        assertArrayEquals(elf, r.vmlinux());
        assertEquals(gz.length, r.compressedSize());
        byte[] lz = TestImages.lz4LiteralsOnly(elf, true);
        assertArrayEquals(elf, PayloadDecompressor.decompress(lz, 0, lz.length, "p").vmlinux());
        assertArrayEquals(elf, PayloadDecompressor.decompress(elf, 0, elf.length, "p").vmlinux());
        byte[] notElf = TestImages.gzip("hello".getBytes());
        String msg = assertThrows(BootException.class, () -> PayloadDecompressor.decompress(notElf, 0, notElf.length, "p")).getMessage();
        assertTrue(msg.contains("not an ELF file (start 68 65 6c 6c 6f)"), msg);
    }
}
