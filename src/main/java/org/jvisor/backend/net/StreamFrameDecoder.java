package org.jvisor.backend.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Splits the byte stream of a -netdev stream peer into frames: each is a 4-byte big-endian length
 * and that many bytes of Ethernet frame (QEMU 7.2 net/stream.c, net_fill_rstate). The socket is
 * read into the free end of one native buffer ({@link #freeOffset()}, {@link #freeBytes()},
 * {@link #filled}), so many small frames come in one read and nothing is allocated per frame.
 * A length of 0 or above the largest frame is a broken peer: {@link #next} reports it, and the
 * stream cannot be resynchronised (the caller disconnects).
 */
public final class StreamFrameDecoder {
    /** Bytes of the length in front of each frame. */
    public static final int LENGTH_BYTES = 4;
    private static final ValueLayout.OfInt BIG_ENDIAN_INT = JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final MemorySegment buf;
    private final int maxFrame;
    private long start;
    private long end;

    /** A decoder for frames of 1 to {@code maxFrame} bytes, buffering up to {@code capacity} bytes (at least one frame). */
    public StreamFrameDecoder(int maxFrame, int capacity) {
        if (maxFrame < 1 || capacity < LENGTH_BYTES + maxFrame) {
            throw new IllegalArgumentException("capacity " + capacity + " cannot hold a frame of " + maxFrame + " bytes");
        }
        this.maxFrame = maxFrame;
        this.buf = Arena.ofAuto().allocate(capacity, 8);
    }

    /** The buffer the socket is read into, at {@link #freeOffset()}. */
    public MemorySegment buffer() {
        return buf;
    }

    public long freeOffset() {
        return end;
    }

    public long freeBytes() {
        return buf.byteSize() - end;
    }

    /** {@code n} bytes were read into the buffer at {@link #freeOffset()}. */
    public void filled(long n) {
        if (n < 0 || n > freeBytes()) {
            throw new IllegalArgumentException("filled " + n + " bytes with " + freeBytes() + " free");
        }
        end += n;
    }

    /** Bytes buffered and not yet returned as frames. */
    public long buffered() {
        return end - start;
    }

    /** Forgets what is buffered (a new peer starts a new stream). */
    public void reset() {
        start = 0;
        end = 0;
    }

    /**
     * The next whole frame copied to {@code dst} at {@code offset}: its length, or 0 when it has not
     * all arrived yet (then the buffer has room for the rest: the partial frame was moved to its
     * front if it had to be).
     *
     * @throws BogusLength if the peer announced a frame of 0 or more than the largest frame's bytes,
     *     or a frame larger than {@code dst} has room for
     */
    public int next(byte[] dst, int offset) throws BogusLength {
        long have = end - start;
        if (have >= LENGTH_BYTES) {
            long len = Integer.toUnsignedLong(buf.get(BIG_ENDIAN_INT, start));
            if (len == 0 || len > maxFrame || len > dst.length - offset) {
                throw new BogusLength(len, Math.min(maxFrame, dst.length - offset));
            }
            if (have >= LENGTH_BYTES + len) {
                MemorySegment.copy(buf, JAVA_BYTE, start + LENGTH_BYTES, dst, offset, (int) len);
                start += LENGTH_BYTES + len;
                if (start == end) {
                    start = 0;
                    end = 0;
                }
                return (int) len;
            }
            if (start + LENGTH_BYTES + len > buf.byteSize()) {
                compact();
            }
        } else if (start + LENGTH_BYTES > buf.byteSize()) {
            compact();
        }
        return 0;
    }

    /** Moves the partial frame to the buffer's front. */
    private void compact() {
        long have = end - start;
        MemorySegment.copy(buf, start, buf, 0, have);
        start = 0;
        end = have;
    }

    /** A peer announced a frame length no Ethernet frame has: the stream is broken. */
    public static final class BogusLength extends Exception {
        private final long length;

        BogusLength(long length, int max) {
            super("the peer announced a frame of " + length + " bytes (a frame has 1 to " + max + ")");
            this.length = length;
        }

        public long length() {
            return length;
        }
    }
}
