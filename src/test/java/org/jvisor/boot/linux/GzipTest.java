package org.jvisor.boot.linux;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import org.junit.jupiter.api.Test;
import org.jvisor.boot.BootException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvisor.boot.linux.TestImages.concat;
import static org.jvisor.boot.linux.TestImages.le32;

class GzipTest {

    private static byte[] decode(byte[] f) throws BootException {
        return Gzip.decompress(f, 0, f.length, "payload");
    }

    /**
     * Found by KernelLoaderFuzzTest (its gzip target ran at 100 executions/s): a garbage member
     * whose trailer claims 1 GiB made decompress allocate 1 GiB before decoding a byte.
     */
    @Test
    void aLyingSizeTrailerAllocatesNothingLarge() {
        byte[] garbage = concat(new byte[] {0x1F, (byte) 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 7, 7, 7, 7, 7, 7}, le32(0),
            le32(1 << 30));
        // the tests run inside module org.jvisor, which does not read jdk.management by itself
        ModuleLayer.boot().findModule("jdk.management").ifPresent(GzipTest.class.getModule()::addReads);
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        assertThrows(BootException.class, () -> Gzip.decompress(garbage, 0, garbage.length, "payload"));
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < 16 << 20, allocated + " bytes allocated for a " + garbage.length + "-byte input");
    }

    @Test
    void roundTripsWithAndWithoutTheKernelsSizeTrailer() throws BootException {
        byte[] data = TestImages.pattern(3 << 20, 11);
        Arrays.fill(data, 1000, 900_000, (byte) 'k'); // compressible part
        byte[] gz = TestImages.gzip(data);
        assertArrayEquals(data, decode(gz));
        assertArrayEquals(data, decode(concat(gz, le32(data.length))));
    }

    @Test
    void decodesConcatenatedMembersAndEmptyInput() throws BootException {
        assertArrayEquals("onetwo".getBytes(), decode(concat(TestImages.gzip("one".getBytes()), TestImages.gzip("two".getBytes()))));
        assertArrayEquals(new byte[0], decode(TestImages.gzip(new byte[0])));
    }

    @Test
    void skipsOptionalHeaderFields() throws BootException {
        byte[] data = "vmlinux with a named gzip header".getBytes();
        Deflater d = new Deflater(9, true);
        d.setInput(data);
        d.finish();
        byte[] buf = new byte[1024];
        int n = d.deflate(buf);
        d.end();
        CRC32 crc = new CRC32();
        crc.update(data);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(new byte[] {0x1F, (byte) 0x8B, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3});
        o.writeBytes(new byte[] {3, 0, 'x', 'y', 'z'});  // FEXTRA
        o.writeBytes("vmlinux.bin\0".getBytes());        // FNAME
        o.writeBytes("a comment\0".getBytes());          // FCOMMENT
        o.writeBytes(new byte[] {0, 0});                 // FHCRC
        o.write(buf, 0, n);
        o.writeBytes(le32((int) crc.getValue()));
        o.writeBytes(le32(data.length));
        assertArrayEquals(data, decode(o.toByteArray()));
    }

    @Test
    void rejectsCorruptStreamsWithTheReason() {
        byte[] gz = TestImages.gzip(TestImages.pattern(100_000, 5));
        byte[] badCrc = gz.clone();
        badCrc[gz.length - 8] ^= 1;
        assertMessage(badCrc, "CRC-32 mismatch");
        byte[] badSize = gz.clone();
        badSize[gz.length - 4] ^= 1;
        assertMessage(badSize, "ISIZE says");
        assertMessage(Arrays.copyOf(gz, gz.length / 2), "truncated gzip stream");
        assertMessage(Arrays.copyOf(gz, gz.length - 3), "no CRC-32/ISIZE trailer");
        byte[] badMethod = gz.clone();
        badMethod[2] = 7;
        assertMessage(badMethod, "not deflate");
        byte[] corrupt = gz.clone();
        corrupt[10] = (byte) 0xFF; // block type 3 is invalid
        assertMessage(corrupt, "corrupt gzip data");
        assertMessage(new byte[] {0x1F, (byte) 0x8B, 8, 0}, "not a gzip stream");
    }

    private static void assertMessage(byte[] f, String fragment) {
        String m = assertThrows(BootException.class, () -> decode(f)).getMessage();
        assertTrue(m.contains(fragment) && m.startsWith("payload: "), m);
    }
}
