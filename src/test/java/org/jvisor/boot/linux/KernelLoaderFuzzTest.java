package org.jvisor.boot.linux;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.boot.BootException;
import org.jvisor.boot.ElfImage;
import org.jvisor.boot.TestGuestBoot;
import org.jvisor.memory.GuestMemory;

/**
 * Fuzzes the kernel loaders with malformed kernels, as a user's -kernel/-initrd files: bzImage
 * setup headers (every field, from a valid image the fuzzer then bends), payloads in gzip, LZ4
 * legacy, raw or garbage, ELF vmlinux program headers and PVH notes, the flat test-guest ELF
 * loader, initrds and command lines of any size, RAM of a few sizes, decompression on the host
 * or by the kernel. The only failure allowed out is {@link BootException} with a message (the
 * one-line error a user sees); anything else (an index out of bounds, a NegativeArraySize, a
 * write outside RAM, an OutOfMemoryError) is a loader bug.
 */
class KernelLoaderFuzzTest {
    private static final long MIB = 1 << 20;

    private static void boot(GuestMemory ram, byte[] kernel, byte[] initrd, String cmdline, boolean host) {
        try {
            LinuxBootResult r = LinuxBoot.load(ram, kernel, initrd, cmdline, 0, List.of(), host);
            assertNotNull(r.description());
        } catch (BootException e) {
            assertNotNull(e.getMessage());
            assertFalse(e.getMessage().isBlank());
        }
    }

    /** Overwrites a few little-endian fields of {@code f} at offsets the fuzzer picks. */
    private static void bend(FuzzedDataProvider data, byte[] f, int[] hot) {
        ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        int n = data.consumeInt(0, 6);
        for (int i = 0; i < n && f.length > 0; i++) {
            int at = data.consumeBoolean() && hot.length > 0 ? hot[data.consumeInt(0, hot.length - 1)]
                : data.consumeInt(0, f.length - 1);
            int width = 1 << data.consumeInt(0, 3);
            if (at < 0 || at + width > f.length) {
                continue;
            }
            switch (width) {
                case 1 -> f[at] = data.consumeByte();
                case 2 -> b.putShort(at, data.consumeShort());
                case 4 -> b.putInt(at, data.consumeInt());
                default -> b.putLong(at, data.consumeLong());
            }
        }
    }

    private static byte[] payload(FuzzedDataProvider data) {
        byte[] vmlinux = data.consumeBoolean()
            ? TestImages.elf(0x100_0000, data.consumeBoolean(), new TestImages.Seg(0xFFFF_FFFF_8100_0000L, 0x100_0000,
                data.consumeBytes(data.consumeInt(0, 512)), data.consumeLong(0, 64 * MIB)))
            : data.consumeBytes(data.consumeInt(0, 512));
        if (data.consumeBoolean() && vmlinux.length >= 64) {
            bend(data, vmlinux, new int[] {16, 18, 24, 32, 52, 54, 56, 64, 72, 80, 88, 96, 104});
        }
        byte[] p = switch (data.consumeInt(0, 3)) {
            case 0 -> TestImages.gzip(vmlinux);
            case 1 -> TestImages.lz4LiteralsOnly(vmlinux, data.consumeBoolean());
            case 2 -> vmlinux;
            default -> data.consumeBytes(data.consumeInt(0, 1024));
        };
        if (data.consumeBoolean() && p.length > 0) {
            bend(data, p, new int[] {0, 4, 8, 10, p.length - 4});
        }
        return p;
    }

    @FuzzTest(maxDuration = "60s")
    void bzImage(FuzzedDataProvider data) {
        TestImages.BzImage bz = new TestImages.BzImage();
        bz.setupSects = data.consumeInt(1, 8); // the builder needs room for the header; 0x1F1 itself is bent below
        bz.codeSize = data.consumeInt(0, 0x800);
        bz.payload = payload(data);
        byte[] kernel = bz.build();
        bend(data, kernel, new int[] {0x1F1, 0x1F4, 0x1FE, 0x201, 0x202, 0x206, 0x211, 0x214, 0x218, 0x21C, 0x228,
            0x22C, 0x230, 0x234, 0x235, 0x236, 0x238, 0x248, 0x24C, 0x258, 0x260});
        byte[] initrd = data.consumeBoolean() ? null : new byte[data.consumeInt(0, 64 * 1024)];
        String cmdline = data.consumeString(data.consumeInt(0, 4096));
        try (GuestMemory ram = GuestMemory.allocate((long) data.consumeInt(2, 64) * MIB)) {
            boot(ram, kernel, initrd, cmdline, data.consumeBoolean());
        }
    }

    @FuzzTest(maxDuration = "60s")
    void elf(FuzzedDataProvider data) {
        int segs = data.consumeInt(0, 3);
        TestImages.Seg[] s = new TestImages.Seg[segs];
        for (int i = 0; i < segs; i++) {
            long paddr = data.consumeBoolean() ? 0x100_0000 + 0x10_0000L * i : data.consumeLong();
            s[i] = new TestImages.Seg(data.consumeLong(), paddr, data.consumeBytes(data.consumeInt(0, 256)),
                data.consumeBoolean() ? data.consumeLong() : data.consumeLong(0, 4 * MIB));
        }
        byte[] kernel = TestImages.elf(data.consumeBoolean() ? 0x100_0000 : data.consumeLong(), data.consumeBoolean(), s);
        int[] hot = new int[4 * 14 + 13];
        int k = 0;
        for (int f : new int[] {4, 5, 6, 16, 18, 24, 32, 40, 48, 52, 54, 56, 58}) {
            hot[k++] = f;
        }
        for (int p = 0; p < 4; p++) {
            for (int f = 0; f < 56; f += 4) {
                hot[k++] = 64 + 56 * p + f;
            }
        }
        bend(data, kernel, hot);
        try (GuestMemory ram = GuestMemory.allocate((long) data.consumeInt(2, 64) * MIB)) {
            if (data.consumeBoolean()) {
                boot(ram, kernel, data.consumeBoolean() ? null : new byte[data.consumeInt(0, 4096)], "", false);
            } else {
                // the flat ELF loader of -kernel test guests
                try {
                    ElfImage elf = ElfImage.parse(kernel, "kernel");
                    assertNotNull(TestGuestBoot.load(elf, ram, kernel, "kernel"));
                } catch (BootException e) {
                    assertFalse(e.getMessage().isBlank());
                }
            }
        }
    }

    @FuzzTest(maxDuration = "60s")
    void gzip(byte[] data) {
        long before = allocated();
        try {
            Gzip.decompress(data, 0, data.length, "payload");
        } catch (BootException e) {
            assertFalse(e.getMessage().isBlank());
        }
        try {
            PayloadDecompressor.decompress(data, 0, data.length, "payload");
        } catch (BootException e) {
            assertFalse(e.getMessage().isBlank());
        }
        // Output is at most deflate's 1032:1 of the input (LZ4's 255:1 less); the buffers grow by
        // doubling and are copied once, and the decoders' own buffers (1 MiB, LZ4's 8 MiB) come on
        // top. A size trailer must not buy more: 30 bytes once allocated 1 GiB (ee1fce1).
        long bound = 32 * MIB + 4 * 1032L * data.length * 2;
        long used = allocated() - before;
        assertTrue(used <= bound, used + " bytes allocated for " + data.length + " bytes of input");
    }

    /** Bytes this thread has allocated so far (HotSpot counts them per thread). */
    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    @FuzzTest(maxDuration = "60s")
    void lz4(FuzzedDataProvider data) {
        byte[] in = data.consumeBytes(data.consumeInt(0, 8192));
        byte[] framed = data.consumeBoolean() ? TestImages.concat(TestImages.le32(Lz4Legacy.MAGIC), in) : in;
        try {
            Lz4Legacy.decompress(framed, 0, framed.length, "payload");
        } catch (BootException e) {
            assertFalse(e.getMessage().isBlank());
        }
        byte[] dst = new byte[data.consumeInt(0, 1 << 16)];
        int dstart = dst.length == 0 ? 0 : data.consumeInt(0, dst.length);
        try {
            Lz4Legacy.decodeBlock(in, 0, in.length, dst, dstart, dst.length);
        } catch (BootException e) {
            assertFalse(e.getMessage().isBlank());
        }
    }
}
