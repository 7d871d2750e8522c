package org.jvisor.boot.linux;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.boot.BootException;
import org.jvisor.memory.GuestMemory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A bzImage decompressed on the host is streamed into RAM at every load; what the guest sees must
 * be byte for byte what loading the same vmlinux from an array puts there.
 */
class StreamedVmlinuxLoadTest {
    private static final long MIB = 1L << 20;
    private static final byte STALE = 0x5A;

    /**
     * A vmlinux bigger than an LZ4 legacy block (8 MiB) and a gzip chunk, whose segments straddle
     * block boundaries and whose program headers are not in file order (the second one describes
     * the bytes that come first).
     */
    static byte[] bigVmlinux() {
        byte[] text = TestImages.pattern((int) (9 * MIB + 123), 7);
        byte[] data = TestImages.pattern((int) (3 * MIB + 5), 11);
        byte[] f = TestImages.elf(0x100_0000, false,
            new TestImages.Seg(0xFFFF_FFFF_8100_0000L, 0x100_0000, text, text.length),
            new TestImages.Seg(0xFFFF_FFFF_8200_0000L, 0x200_0000, data, data.length + 0x30_0000));
        byte[] first = Arrays.copyOfRange(f, 64, 64 + 56);
        System.arraycopy(f, 64 + 56, f, 64, 56);
        System.arraycopy(first, 0, f, 64 + 56, 56);
        return f;
    }

    @Test
    void streamedLoadPutsInRamExactlyWhatTheArrayLoadDoes() throws BootException {
        byte[] vmlinux = bigVmlinux();
        for (byte[] payload : List.of(TestImages.gzip(vmlinux), TestImages.lz4LiteralsOnly(vmlinux, true), vmlinux)) {
            TestImages.BzImage bz = new TestImages.BzImage();
            bz.payload = payload;
            bz.initSize = 0x200_0000;
            LinuxKernel streamed = LinuxKernel.prepare(bz.build(), true);
            assertEquals(LinuxBootResult.Kind.BZIMAGE_HOST_DECOMPRESSED, streamed.kind());
            assertNull(streamed.elfBytes(), "the decompressed vmlinux is not kept");
            assertEquals(vmlinux.length, streamed.vmlinuxSize());
            LinuxKernel array = LinuxKernel.prepare(vmlinux, false);
            assertSameKernelInRam(streamed, array, 64 * MIB);
        }
    }

    /** Loads both kernels (twice for the streamed one: a reboot) over stale RAM and compares RAM from 1 MiB up. */
    static void assertSameKernelInRam(LinuxKernel streamed, LinuxKernel array, long ramSize) throws BootException {
        try (GuestMemory a = GuestMemory.allocate(ramSize); GuestMemory b = GuestMemory.allocate(ramSize)) {
            a.fill(0, ramSize, STALE);
            b.fill(0, ramSize, STALE);
            LinuxBootResult ra = LinuxBoot.load(a, streamed, null, "", 0, List.of(), null);
            LinuxBootResult rb = LinuxBoot.load(b, array, null, "", 0, List.of(), null);
            assertEquals(rb.entryPoint(), ra.entryPoint());
            assertEquals(rb.kernelStart(), ra.kernelStart());
            assertEquals(rb.kernelEnd(), ra.kernelEnd());
            assertTrue(ra.decompressNanos() > 0, "each load measures its decompression");
            assertTrue(ra.description().contains("decompressed on the host into RAM"), ra.description());
            assertRamEqual(a, b, LinuxBoot.HIGH_LOAD_ADDR, ramSize);
            a.fill(ra.kernelStart(), ra.kernelEnd() - ra.kernelStart(), STALE);
            LinuxBoot.load(a, streamed, null, "", 0, List.of(), null);
            assertRamEqual(a, b, LinuxBoot.HIGH_LOAD_ADDR, ramSize);
        }
    }

    static void assertRamEqual(GuestMemory a, GuestMemory b, long from, long to) {
        byte[] x = new byte[1 << 20];
        byte[] y = new byte[1 << 20];
        for (long p = from; p < to; p += x.length) {
            int n = (int) Math.min(x.length, to - p);
            a.read(p, x, 0, n);
            b.read(p, y, 0, n);
            if (!Arrays.equals(x, 0, n, y, 0, n)) {
                int i = Arrays.mismatch(x, 0, n, y, 0, n);
                throw new AssertionError(String.format("guest RAM differs at %#x: streamed %02x, array %02x",
                    p + i, x[i] & 0xFF, y[i] & 0xFF));
            }
        }
    }

    @Test
    void badPayloadsStillFailWhenTheKernelIsPrepared() {
        byte[] vmlinux = TestImages.elf(0x100_0000, false, new TestImages.Seg(0x100_0000, 0x100_0000, new byte[64], 64));
        TestImages.BzImage bz = new TestImages.BzImage();
        byte[] gz = TestImages.gzip(vmlinux);
        gz[gz.length - 8] ^= 1;
        bz.payload = gz;
        String m = assertThrows(BootException.class, () -> LinuxKernel.prepare(bz.build(), true)).getMessage();
        assertTrue(m.contains("gzip CRC-32 mismatch"), m);

        bz.payload = TestImages.lz4LiteralsOnly("hello, not an ELF".getBytes(), true);
        m = assertThrows(BootException.class, () -> LinuxKernel.prepare(bz.build(), true)).getMessage();
        assertEquals("kernel payload: the LZ4 (legacy frame) payload decompressed to 17 bytes that are not an ELF file "
            + "(start 68 65 6c 6c 6f 2c 20 6e)", m);

        byte[] truncated = Arrays.copyOf(vmlinux, 64 + 56 + 10);
        bz.payload = TestImages.lz4LiteralsOnly(truncated, true);
        m = assertThrows(BootException.class, () -> LinuxKernel.prepare(bz.build(), true)).getMessage();
        assertTrue(m.contains("segment 0 (offset 0x78, size 0x40) lies outside the 130-byte file"), m);
    }
}
