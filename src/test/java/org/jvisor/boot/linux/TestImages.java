package org.jvisor.boot.linux;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.GZIPOutputStream;

/** Synthetic kernels for the tests: bzImages with a header we write, vmlinux ELF files, LZ4 frames. */
final class TestImages {
    private TestImages() {
    }

    /** A bzImage under construction: every header field is settable, {@link #build()} lays the file out. */
    static final class BzImage {
        int setupSects = 4;
        int rawSetupSects = -1;
        int bootFlag = 0xAA55;
        int magic = SetupHeader.HDRS_MAGIC;
        int version = 0x020F;
        int jumpLength = 0x6A;
        int loadflags = SetupHeader.LOADED_HIGH;
        long kernelAlignment = 0x20_0000;
        boolean relocatable = true;
        int xloadflags = SetupHeader.XLF_KERNEL_64 | SetupHeader.XLF_CAN_BE_LOADED_ABOVE_4G;
        long cmdlineSize = 0x7FF;
        long initrdAddrMax = 0x7FFF_FFFFL;
        long prefAddress = 0x100_0000;
        long initSize = 0x80_0000;
        /** Bytes of the protected-mode part before the payload ("code": startup_64 lives at +0x200). */
        int codeSize = 0x400;
        byte[] payload = new byte[0x100];
        Long syssizeOverride;
        Long payloadLengthOverride;

        byte[] build() {
            int pmOffset = (setupSects + 1) * 512;
            int pmSize = codeSize + payload.length;
            byte[] f = new byte[pmOffset + pmSize];
            ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
            f[0x1F1] = (byte) (rawSetupSects >= 0 ? rawSetupSects : setupSects);
            b.putInt(0x1F4, (int) (syssizeOverride != null ? syssizeOverride : pmSize / 16));
            b.putShort(0x1FE, (short) bootFlag);
            f[0x200] = (byte) 0xEB;
            f[0x201] = (byte) jumpLength;
            b.putInt(0x202, magic);
            b.putShort(0x206, (short) version);
            f[0x211] = (byte) loadflags;
            b.putInt(0x214, 0x100000);
            b.putInt(0x22C, (int) initrdAddrMax);
            b.putInt(0x230, (int) kernelAlignment);
            f[0x234] = (byte) (relocatable ? 1 : 0);
            f[0x235] = 0x15;
            b.putShort(0x236, (short) xloadflags);
            b.putInt(0x238, (int) cmdlineSize);
            b.putInt(0x248, codeSize);
            b.putInt(0x24C, payloadLengthOverride != null ? payloadLengthOverride.intValue() : payload.length);
            b.putLong(0x258, prefAddress);
            b.putInt(0x260, (int) initSize);
            for (int i = 0; i < codeSize; i++) {
                f[pmOffset + i] = (byte) (0x90 + i); // recognisable "code"
            }
            System.arraycopy(payload, 0, f, pmOffset + codeSize, payload.length);
            return f;
        }
    }

    /** One PT_LOAD for {@link #elf}: {@code data} at physical {@code paddr}, zero-filled to {@code memSize}. */
    record Seg(long vaddr, long paddr, byte[] data, long memSize) {
    }

    /** An ELF64 x86-64 ET_EXEC with the given PT_LOAD segments and, optionally, a Xen PVH note. */
    static byte[] elf(long entry, boolean pvhNote, Seg... segs) {
        int phnum = segs.length + (pvhNote ? 1 : 0);
        int dataStart = 64 + phnum * 56;
        int noteSize = pvhNote ? 12 + 4 + 4 : 0;
        int total = dataStart + noteSize;
        for (Seg s : segs) {
            total += s.data().length;
        }
        byte[] f = new byte[total];
        ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        f[0] = 0x7F;
        f[1] = 'E';
        f[2] = 'L';
        f[3] = 'F';
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        b.putShort(16, (short) 2);
        b.putShort(18, (short) 62);
        b.putInt(20, 1);
        b.putLong(24, entry);
        b.putLong(32, 64);
        b.putShort(52, (short) 64);
        b.putShort(54, (short) 56);
        b.putShort(56, (short) phnum);
        int data = dataStart;
        for (int i = 0; i < segs.length; i++) {
            Seg s = segs[i];
            int p = 64 + i * 56;
            b.putInt(p, 1);
            b.putInt(p + 4, 7);
            b.putLong(p + 8, data);
            b.putLong(p + 16, s.vaddr());
            b.putLong(p + 24, s.paddr());
            b.putLong(p + 32, s.data().length);
            b.putLong(p + 40, s.memSize());
            System.arraycopy(s.data(), 0, f, data, s.data().length);
            data += s.data().length;
        }
        if (pvhNote) {
            int p = 64 + segs.length * 56;
            b.putInt(p, 4);
            b.putLong(p + 8, data);
            b.putLong(p + 32, noteSize);
            b.putInt(data, 4);      // namesz "Xen\0"
            b.putInt(data + 4, 4);  // descsz
            b.putInt(data + 8, 18); // XEN_ELFNOTE_PHYS32_ENTRY
            f[data + 12] = 'X';
            f[data + 13] = 'e';
            f[data + 14] = 'n';
            b.putInt(data + 16, 0x100_0000);
        }
        return f;
    }

    static byte[] pattern(int n, int seed) {
        byte[] d = new byte[n];
        int x = seed;
        for (int i = 0; i < n; i++) {
            x = x * 1103515245 + 12345;
            d[i] = (byte) (x >>> 16);
        }
        return d;
    }

    static byte[] gzip(byte[] data) {
        try {
            ByteArrayOutputStream bo = new ByteArrayOutputStream();
            try (GZIPOutputStream g = new GZIPOutputStream(bo)) {
                g.write(data);
            }
            return bo.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An LZ4 legacy frame whose blocks are literal runs only (valid LZ4 that needs no compressor), with the kernel's size trailer. */
    static byte[] lz4LiteralsOnly(byte[] data, boolean sizeTrailer) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        writeLe32(o, Lz4Legacy.MAGIC);
        for (int off = 0; off < data.length || off == 0; off += Lz4Legacy.BLOCK_SIZE) {
            int n = Math.min(Lz4Legacy.BLOCK_SIZE, data.length - off);
            ByteArrayOutputStream blk = new ByteArrayOutputStream();
            if (n < 15) {
                blk.write(n << 4);
            } else {
                blk.write(0xF0);
                int rest = n - 15;
                while (rest >= 255) {
                    blk.write(255);
                    rest -= 255;
                }
                blk.write(rest);
            }
            blk.write(data, off, n);
            writeLe32(o, blk.size());
            o.writeBytes(blk.toByteArray());
            if (data.length == 0) {
                break;
            }
        }
        if (sizeTrailer) {
            writeLe32(o, data.length);
        }
        return o.toByteArray();
    }

    static void writeLe32(ByteArrayOutputStream o, int v) {
        o.write(v);
        o.write(v >>> 8);
        o.write(v >>> 16);
        o.write(v >>> 24);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            o.writeBytes(p);
        }
        return o.toByteArray();
    }

    static byte[] le32(int v) {
        return new byte[] {(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)};
    }
}
