package org.jvisor.backend.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Frames bound for a -netdev stream peer, each after its 4-byte big-endian length (QEMU 7.2
 * net/stream.c), queued in one bounded native buffer that the socket is written from
 * ({@link #pendingOffset()}, {@link #pendingBytes()}, {@link #written}). A peer that reads slowly
 * leaves frames here; when the next does not fit it is refused (the caller drops it, as a NIC
 * drops on a full link), so a stalled peer never blocks the guest's transmit queue.
 */
public final class StreamFrameEncoder {
    private static final ValueLayout.OfInt BIG_ENDIAN_INT = JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final MemorySegment buf;
    private long start;
    private long end;

    public StreamFrameEncoder(int capacity) {
        this.buf = Arena.ofAuto().allocate(capacity, 8);
    }

    /**
     * Queues the {@code length}-byte frame at {@code src[offset]} after its length; false (nothing
     * queued) when the buffer has no room for it.
     */
    public boolean offer(byte[] src, int offset, int length) {
        long need = StreamFrameDecoder.LENGTH_BYTES + length;
        if (buf.byteSize() - end < need) {
            if (buf.byteSize() - (end - start) < need) {
                return false;
            }
            MemorySegment.copy(buf, start, buf, 0, end - start);
            end -= start;
            start = 0;
        }
        buf.set(BIG_ENDIAN_INT, end, length);
        MemorySegment.copy(src, offset, buf, JAVA_BYTE, end + StreamFrameDecoder.LENGTH_BYTES, length);
        end += need;
        return true;
    }

    /** The buffer the socket is written from, at {@link #pendingOffset()}. */
    public MemorySegment buffer() {
        return buf;
    }

    public long pendingOffset() {
        return start;
    }

    public long pendingBytes() {
        return end - start;
    }

    /** {@code n} bytes from {@link #pendingOffset()} reached the socket. */
    public void written(long n) {
        if (n < 0 || n > end - start) {
            throw new IllegalArgumentException("wrote " + n + " of " + (end - start) + " bytes");
        }
        start += n;
        if (start == end) {
            start = 0;
            end = 0;
        }
    }

    /** Forgets the queued frames (the peer went away). */
    public void reset() {
        start = 0;
        end = 0;
    }
}
