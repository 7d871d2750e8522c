package org.jvisor.boot.linux;

import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import org.jvisor.boot.BootException;

/**
 * A gzip decoder (RFC 1952) over java.util.zip's raw inflater, so that the member header, the CRC-32
 * and ISIZE are checked here and whatever follows the last member (the kernel build may append a
 * 4-byte size) is ignored rather than mistaken for another member.
 */
public final class Gzip {
    private static final int FTEXT = 1;
    private static final int FHCRC = 2;
    private static final int FEXTRA = 4;
    private static final int FNAME = 8;
    private static final int FCOMMENT = 16;

    private Gzip() {
    }

    public static boolean hasMagic(byte[] in, int off, int len) {
        return len >= 2 && (in[off] & 0xFF) == 0x1F && (in[off + 1] & 0xFF) == 0x8B;
    }

    public static byte[] decompress(byte[] in, int off, int len, String what) throws BootException {
        int end = off + len;
        int p = off;
        byte[] out = new byte[Math.max(1 << 16, initialCapacity(in, off, len))];
        int outLen = 0;
        int members = 0;
        Inflater inf = new Inflater(true);
        try {
            while (members == 0 || (end - p >= 10 && hasMagic(in, p, end - p) && in[p + 2] == 8)) {
                p = skipHeader(in, p, end, what);
                inf.reset();
                inf.setInput(in, p, end - p);
                CRC32 crc = new CRC32();
                int memberStart = outLen;
                byte[] probe = new byte[1];
                while (!inf.finished()) {
                    if (outLen == out.length) {
                        // Full: often exactly (ISIZE was the capacity) with only the end-of-block code left.
                        int got = inflate(inf, probe, 0, 1, what);
                        if (got == 0) {
                            continue;
                        }
                        if (out.length >= Lz4Legacy.MAX_OUTPUT) {
                            throw new BootException(what + ": gzip stream decompresses to more than "
                                + (Lz4Legacy.MAX_OUTPUT >> 20) + " MiB");
                        }
                        out = Arrays.copyOf(out, (int) Math.min(Lz4Legacy.MAX_OUTPUT, 2L * out.length));
                        out[outLen++] = probe[0];
                        continue;
                    }
                    outLen += inflate(inf, out, outLen, out.length - outLen, what);
                }
                crc.update(out, memberStart, outLen - memberStart);
                p = end - inf.getRemaining();
                if (end - p < 8) {
                    throw new BootException(what + ": truncated gzip stream (no CRC-32/ISIZE trailer)");
                }
                long wantCrc = SetupHeader.u32(in, p);
                long wantSize = SetupHeader.u32(in, p + 4);
                if (crc.getValue() != wantCrc) {
                    throw new BootException(String.format("%s: gzip CRC-32 mismatch (stored %08x, computed %08x)",
                        what, wantCrc, crc.getValue()));
                }
                if (((outLen - memberStart) & 0xFFFF_FFFFL) != wantSize) {
                    throw new BootException(String.format("%s: gzip ISIZE says %d bytes, decoded %d",
                        what, wantSize, outLen - memberStart));
                }
                p += 8;
                members++;
            }
        } finally {
            inf.end();
        }
        return outLen == out.length ? out : Arrays.copyOf(out, outLen);
    }

    private static int inflate(Inflater inf, byte[] out, int off, int len, String what) throws BootException {
        int n;
        try {
            n = inf.inflate(out, off, len);
        } catch (DataFormatException e) {
            throw new BootException(what + ": corrupt gzip data: " + e.getMessage());
        }
        if (n == 0 && !inf.finished() && (inf.needsInput() || inf.needsDictionary())) {
            throw new BootException(what + ": truncated gzip stream (the deflate data ends early)");
        }
        return n;
    }

    private static int initialCapacity(byte[] in, int off, int len) {
        // ISIZE of a single member sits 8..4 bytes before the end, or 12..8 with the kernel's size appended.
        for (int back : new int[] {4, 8}) {
            if (len >= 18 + back) {
                long isize = SetupHeader.u32(in, off + len - back);
                if (isize >= len && isize <= Lz4Legacy.MAX_OUTPUT) {
                    return (int) isize;
                }
            }
        }
        return (int) Math.min(Lz4Legacy.MAX_OUTPUT, 4L * len);
    }

    private static int skipHeader(byte[] in, int p, int end, String what) throws BootException {
        if (end - p < 10 || !hasMagic(in, p, end - p)) {
            throw new BootException(what + ": not a gzip stream (no magic 1f 8b)");
        }
        if (in[p + 2] != 8) {
            throw new BootException(what + ": gzip compression method " + (in[p + 2] & 0xFF) + " is not deflate (8)");
        }
        int flags = in[p + 3] & 0xFF;
        if ((flags & ~(FTEXT | FHCRC | FEXTRA | FNAME | FCOMMENT)) != 0) {
            throw new BootException(String.format("%s: gzip header has reserved flag bits set (%#04x)", what, flags));
        }
        int q = p + 10;
        if ((flags & FEXTRA) != 0) {
            if (end - q < 2) {
                throw new BootException(what + ": truncated gzip header");
            }
            q += 2 + SetupHeader.le16(in, q);
        }
        for (int f : new int[] {FNAME, FCOMMENT}) {
            if ((flags & f) != 0) {
                while (q < end && in[q] != 0) {
                    q++;
                }
                q++;
            }
        }
        if ((flags & FHCRC) != 0) {
            q += 2;
        }
        if (q >= end) {
            throw new BootException(what + ": truncated gzip header");
        }
        return q;
    }
}
