package org.jvisor.boot.linux;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

import org.jvisor.boot.BootException;

/**
 * Decoder for the LZ4 "legacy" frame the kernel build uses for CONFIG_KERNEL_LZ4 (lib/decompress_unlz4.c,
 * and lz4's doc/lz4_Frame_format.md "Legacy frame"): the magic 0x184C2102 (bytes 02 21 4C 18), then
 * blocks of [u32 LE compressed size][LZ4 block], each decompressing to at most 8 MiB on its own. The
 * magic may appear again between blocks (concatenated frames). The kernel's build appends the
 * uncompressed size as one more u32 (scripts/Makefile.lib, size_append): a u32 with nothing after it
 * is taken as that trailer and checked against what was decoded.
 *
 * <p>Blocks are decoded as LZ4_decompress_safe does (lz4's doc/lz4_Block_format.md): sequences of
 * a token, literals and a match (offset u16 LE, never reaching before the block's own output), the
 * last sequence literals only; every length and offset is bounds-checked.
 */
public final class Lz4Legacy {
    public static final int MAGIC = 0x184C_2102;
    /** Uncompressed size of a legacy block (LEGACY_BLOCKSIZE). */
    public static final int BLOCK_SIZE = 8 << 20;
    /** LZ4_compressBound(8 MiB): no legacy block's compressed size can exceed it. */
    public static final int MAX_COMPRESSED_BLOCK = BLOCK_SIZE + BLOCK_SIZE / 255 + 16;
    /** Decoding stops with an error past this: no kernel is this large. */
    public static final long MAX_OUTPUT = 1L << 30;

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private Lz4Legacy() {
    }

    public static boolean hasMagic(byte[] in, int off, int len) {
        return len >= 4 && SetupHeader.le32(in, off) == MAGIC;
    }

    /** Decodes the frame in {@code in[off, off + len)} into one array; {@code what} names it in errors. */
    public static byte[] decompress(byte[] in, int off, int len, String what) throws BootException {
        if (!hasMagic(in, off, len)) {
            throw new BootException(what + ": not an LZ4 legacy frame (no magic 02 21 4c 18)");
        }
        Collected out = new Collected(initialCapacity(in, off, len));
        stream(in, off, len, what, out);
        return out.bytes();
    }

    /**
     * Decodes the frame in {@code in[off, off + len)} block by block into one reusable buffer (at
     * most {@link #BLOCK_SIZE}: a legacy block never refers to an earlier block's output) and hands
     * each decoded block to {@code sink}; returns the number of bytes decoded. Nothing proportional
     * to the whole output is allocated.
     */
    static long stream(byte[] in, int off, int len, String what, PayloadSink sink) throws BootException {
        if (!hasMagic(in, off, len)) {
            throw new BootException(what + ": not an LZ4 legacy frame (no magic 02 21 4c 18)");
        }
        int end = off + len;
        int p = off + 4;
        // A small kernel-built frame says its size in the trailer: no need for a full block's room then.
        byte[] block = new byte[(int) Math.min(BLOCK_SIZE, initialCapacity(in, off, len))];
        long outLen = 0;
        int blocks = 0;
        while (p < end) {
            if (end - p < 4) {
                throw new BootException(String.format(
                    "%s: %d stray bytes at the end of the LZ4 stream (offset %#x), not a block header", what, end - p, p - off));
            }
            long size = SetupHeader.u32(in, p);
            if (size == MAGIC) {
                p += 4;
                continue;
            }
            if (end - p == 4) {
                // The kernel's size trailer: nothing follows it, so it cannot be a block header.
                if (size != (outLen & 0xFFFF_FFFFL)) {
                    throw new BootException(String.format(
                        "%s: LZ4 stream decoded to %d bytes, but its size trailer says %d", what, outLen, size));
                }
                break;
            }
            if (size == 0 || size > MAX_COMPRESSED_BLOCK) {
                throw new BootException(String.format(
                    "%s: LZ4 block %d at offset %#x has impossible compressed size %d (a legacy block is 1..%d bytes)",
                    what, blocks, p - off, size, MAX_COMPRESSED_BLOCK));
            }
            if (size > end - p - 4) {
                throw new BootException(String.format(
                    "%s: truncated LZ4 stream: block %d at offset %#x needs %d bytes, only %d remain",
                    what, blocks, p - off, size, end - p - 4));
            }
            int n;
            try {
                // Decode into the room there is; only if the block needs more, grow to a full block's room and redo it.
                n = decode(in, p + 4, p + 4 + (int) size, block, 0, block.length, block.length < BLOCK_SIZE);
                if (n < 0) {
                    block = new byte[BLOCK_SIZE];
                    n = decode(in, p + 4, p + 4 + (int) size, block, 0, BLOCK_SIZE, false);
                }
            } catch (BootException e) {
                throw new BootException(String.format("%s: LZ4 block %d at offset %#x: %s", what, blocks, p - off, e.getMessage()));
            }
            if (outLen + n > MAX_OUTPUT) {
                throw new BootException(String.format("%s: LZ4 block %d at offset %#x: the stream decompresses to more than %d MiB",
                    what, blocks, p - off, MAX_OUTPUT >> 20));
            }
            sink.accept(block, 0, n, outLen);
            outLen += n;
            p += 4 + (int) size;
            blocks++;
        }
        if (blocks == 0) {
            throw new BootException(what + ": LZ4 stream holds no blocks");
        }
        return outLen;
    }

    /**
     * Room for the whole output when the kernel's trailer tells the size, else a guess; grown as
     * needed. Never more than {@code len} bytes can decode to: a damaged or hostile frame's last
     * four bytes must not make a few bytes of input allocate a gigabyte.
     */
    static int initialCapacity(byte[] in, int off, int len) {
        long possible = Math.min(MAX_OUTPUT, maxOutput(len));
        if (len >= 8) {
            long trailer = SetupHeader.u32(in, off + len - 4);
            if (trailer >= len / 2 && trailer <= possible) {
                return (int) trailer; // exactly right for a kernel payload: no copy at the end
            }
        }
        return (int) Math.min(possible, Math.max(4L * len, BLOCK_SIZE));
    }

    /**
     * The most {@code len} bytes of LZ4 can decode to: each input byte adds at most 255 to a
     * literal or match length (the 0xFF extension bytes), plus one minimal sequence per token.
     */
    static long maxOutput(long len) {
        return 255L * len + 64;
    }

    /**
     * Decodes one LZ4 block {@code src[sp, send)} into {@code dst} from {@code dstart}, writing below
     * {@code dlimit}; returns the end of the output. Matches never reach before {@code dstart}.
     */
    public static int decodeBlock(byte[] src, int sp, int send, byte[] dst, int dstart, int dlimit) throws BootException {
        return decode(src, sp, send, dst, dstart, dlimit, false);
    }

    /** As {@link #decodeBlock}; with {@code soft}, running out of output room returns -1 instead of failing. */
    private static int decode(byte[] src, int sp, int send, byte[] dst, int dstart, int dlimit, boolean soft)
            throws BootException {
        int dp = dstart;
        while (true) {
            if (sp >= send) {
                throw new BootException("block ends where a sequence token should be");
            }
            int token = src[sp++] & 0xFF;
            int lit = token >>> 4;
            if (lit == 15) {
                int b;
                do {
                    if (sp >= send) {
                        throw new BootException("block ends inside a literal length");
                    }
                    b = src[sp++] & 0xFF;
                    lit += b;
                    if (lit > BLOCK_SIZE) {
                        throw new BootException("literal length over the 8 MiB block size");
                    }
                } while (b == 255);
            }
            if (lit > send - sp) {
                throw new BootException(String.format("a %d-byte literal run overruns the block (%d bytes left)", lit, send - sp));
            }
            if (lit > dlimit - dp) {
                if (soft) {
                    return -1;
                }
                throw new BootException("literals overrun the 8 MiB output of the block");
            }
            if (lit <= 16 && src.length - sp >= 16 && dlimit - dp >= 16) {
                // Short run (the common case): two 8-byte moves, writing past the run into room not yet decoded.
                LONGS.set(dst, dp, (long) LONGS.get(src, sp));
                LONGS.set(dst, dp + 8, (long) LONGS.get(src, sp + 8));
            } else {
                System.arraycopy(src, sp, dst, dp, lit);
            }
            sp += lit;
            dp += lit;
            if (sp == send) {
                return dp; // the last sequence has literals only
            }
            if (send - sp < 2) {
                throw new BootException("block ends inside a match offset");
            }
            int offset = (src[sp] & 0xFF) | (src[sp + 1] & 0xFF) << 8;
            sp += 2;
            if (offset == 0 || offset > dp - dstart) {
                throw new BootException(String.format(
                    "match offset %d reaches before the start of the block's output (%d bytes decoded)", offset, dp - dstart));
            }
            int match = token & 15;
            if (match == 15) {
                int b;
                do {
                    if (sp >= send) {
                        throw new BootException("block ends inside a match length");
                    }
                    b = src[sp++] & 0xFF;
                    match += b;
                    if (match > BLOCK_SIZE) {
                        throw new BootException("match length over the 8 MiB block size");
                    }
                } while (b == 255);
            }
            match += 4;
            if (match > dlimit - dp) {
                if (soft) {
                    return -1;
                }
                throw new BootException("a match overruns the 8 MiB output of the block");
            }
            int from = dp - offset;
            if (offset >= 8 && match <= 32 && dlimit - dp >= match + 8) {
                // Short match at a distance of 8 or more: 8-byte moves, each reading only bytes already written.
                for (int i = 0; i < match; i += 8) {
                    LONGS.set(dst, dp + i, (long) LONGS.get(dst, from + i));
                }
                dp += match;
            } else if (offset >= match) {
                System.arraycopy(dst, from, dst, dp, match);
                dp += match;
            } else {
                // Overlapping match: a repeating pattern of period `offset`; copy in growing chunks.
                int done = 0;
                while (done < match) {
                    int chunk = Math.min(match - done, offset + done);
                    System.arraycopy(dst, from, dst, dp + done, chunk);
                    done += chunk;
                }
                dp += match;
            }
        }
    }
}
