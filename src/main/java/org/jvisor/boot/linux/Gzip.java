package org.jvisor.boot.linux;

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

    /** The reusable output buffer of {@link #stream}: big enough that the per-piece work is noise. */
    static final int CHUNK = 1 << 20;
    /** Deflate's largest compression ratio (a 258-byte match per ~2 bits, RFC 1951). */
    private static final long MAX_RATIO = 1032;

    private Gzip() {
    }

    public static boolean hasMagic(byte[] in, int off, int len) {
        return len >= 2 && (in[off] & 0xFF) == 0x1F && (in[off + 1] & 0xFF) == 0x8B;
    }

    /** Decodes the gzip member(s) in {@code in[off, off + len)} into one array; {@code what} names it in errors. */
    public static byte[] decompress(byte[] in, int off, int len, String what) throws BootException {
        Collected out = new Collected(Math.max(1 << 16, initialCapacity(in, off, len)));
        stream(in, off, len, what, out);
        return out.bytes();
    }

    /**
     * Inflates the gzip member(s) in {@code in[off, off + len)} through one reusable buffer of
     * {@link #CHUNK} bytes, handing each filled piece to {@code sink}; checks every member's CRC-32
     * and ISIZE (RFC 1952 section 2.3.1) and returns the number of bytes decoded.
     */
    static long stream(byte[] in, int off, int len, String what, PayloadSink sink) throws BootException {
        int end = off + len;
        int p = off;
        byte[] buf = new byte[CHUNK];
        long outLen = 0;
        int members = 0;
        Inflater inf = new Inflater(true);
        try {
            while (members == 0 || (end - p >= 10 && hasMagic(in, p, end - p) && in[p + 2] == 8)) {
                p = skipHeader(in, p, end, what);
                inf.reset();
                inf.setInput(in, p, end - p);
                CRC32 crc = new CRC32();
                long memberLen = 0;
                int fill = 0;
                while (!inf.finished()) {
                    fill += inflate(inf, buf, fill, buf.length - fill, what);
                    if (fill == buf.length || inf.finished()) {
                        if (outLen + fill > Lz4Legacy.MAX_OUTPUT) {
                            throw new BootException(what + ": gzip stream decompresses to more than "
                                + (Lz4Legacy.MAX_OUTPUT >> 20) + " MiB");
                        }
                        crc.update(buf, 0, fill);
                        sink.accept(buf, 0, fill, outLen);
                        outLen += fill;
                        memberLen += fill;
                        fill = 0;
                    }
                }
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
                if ((memberLen & 0xFFFF_FFFFL) != wantSize) {
                    throw new BootException(String.format("%s: gzip ISIZE says %d bytes, decoded %d",
                        what, wantSize, memberLen));
                }
                p += 8;
                members++;
            }
        } finally {
            inf.end();
        }
        return outLen;
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
        // It is believed only up to deflate's largest ratio (1032:1): a few garbage bytes must not
        // make us allocate a gigabyte before decoding anything.
        long plausible = Math.min(Lz4Legacy.MAX_OUTPUT, MAX_RATIO * len);
        for (int back : new int[] {4, 8}) {
            if (len >= 18 + back) {
                long isize = SetupHeader.u32(in, off + len - back);
                if (isize >= len && isize <= plausible) {
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
