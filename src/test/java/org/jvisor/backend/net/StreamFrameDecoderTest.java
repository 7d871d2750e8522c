package org.jvisor.backend.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The -netdev stream framing (4-byte big-endian length, then the frame): frames split across reads
 * at every byte, many frames per read, 64 KiB frames, the encoder's output decoded back, and the
 * lengths that break the stream (0, beyond the largest frame) reported.
 */
class StreamFrameDecoderTest {
    private static final int MAX = StreamNetBackend.MAX_FRAME;

    private static byte[] framed(byte[]... frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] f : frames) {
            out.write(f.length >>> 24);
            out.write(f.length >>> 16);
            out.write(f.length >>> 8);
            out.write(f.length);
            out.writeBytes(f);
        }
        return out.toByteArray();
    }

    private static byte[] frame(int length, long seed) {
        byte[] f = new byte[length];
        new Random(seed).nextBytes(f);
        return f;
    }

    /** Feeds {@code bytes} in pieces of {@code piece} bytes, taking every frame that completes. */
    private static java.util.List<byte[]> decode(StreamFrameDecoder d, byte[] bytes, int piece) throws Exception {
        java.util.List<byte[]> got = new java.util.ArrayList<>();
        byte[] dst = new byte[12 + MAX];
        int at = 0;
        while (true) {
            int n;
            while ((n = d.next(dst, 12)) > 0) {
                got.add(Arrays.copyOfRange(dst, 12, 12 + n));
            }
            if (at == bytes.length) {
                return got;
            }
            int k = (int) Math.min(Math.min(piece, bytes.length - at), d.freeBytes());
            MemorySegment.copy(bytes, at, d.buffer(), JAVA_BYTE, d.freeOffset(), k);
            d.filled(k);
            at += k;
        }
    }

    @Test
    void framesSplitAtEveryByteComeOutWhole() throws Exception {
        byte[] a = frame(60, 1);
        byte[] b = frame(1514, 2);
        byte[] c = frame(1, 3);
        byte[] stream = framed(a, b, c);
        for (int piece = 1; piece <= 9; piece++) {
            var got = decode(new StreamFrameDecoder(MAX, 4 + MAX), stream, piece);
            assertEquals(3, got.size(), "piece " + piece);
            assertArrayEquals(a, got.get(0));
            assertArrayEquals(b, got.get(1));
            assertArrayEquals(c, got.get(2));
        }
    }

    @Test
    void largestFramesPassThroughASmallBufferAgainAndAgain() throws Exception {
        byte[][] frames = new byte[6][];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = frame(i % 2 == 0 ? MAX : 65520 + 14, i);
        }
        // A buffer of exactly one largest frame: each partial frame must move to the front.
        var got = decode(new StreamFrameDecoder(MAX, 4 + MAX), framed(frames), 40000);
        assertEquals(frames.length, got.size());
        for (int i = 0; i < frames.length; i++) {
            assertArrayEquals(frames[i], got.get(i), "frame " + i);
        }
    }

    @Test
    void whatTheEncoderQueuesDecodesToTheSameFrames() throws Exception {
        StreamFrameEncoder e = new StreamFrameEncoder(200_000);
        byte[] hdr = new byte[12];
        byte[][] frames = {frame(64, 7), frame(9000, 8), frame(MAX, 9)};
        for (byte[] f : frames) {
            byte[] withHeader = new byte[12 + f.length];
            System.arraycopy(f, 0, withHeader, 12, f.length);
            assertTrue(e.offer(withHeader, hdr.length, f.length));
        }
        byte[] wire = new byte[(int) e.pendingBytes()];
        MemorySegment.copy(e.buffer(), JAVA_BYTE, e.pendingOffset(), wire, 0, wire.length);
        assertArrayEquals(framed(frames), wire);
        var got = decode(new StreamFrameDecoder(MAX, 256 * 1024), wire, 3000);
        for (int i = 0; i < frames.length; i++) {
            assertArrayEquals(frames[i], got.get(i));
        }
    }

    @Test
    void aFullEncoderRefusesTheFrameAndTakesItOnceWritten() {
        StreamFrameEncoder e = new StreamFrameEncoder(1000);
        byte[] f = new byte[600];
        assertTrue(e.offer(f, 0, 500));
        assertEquals(504, e.pendingBytes());
        assertTrue(!e.offer(f, 0, 500), "504 + 504 bytes do not fit in 1000");
        e.written(300);
        assertTrue(e.offer(f, 0, 490), "room made at the front");
        assertEquals(204 + 494, e.pendingBytes());
    }

    @Test
    void aZeroLengthBreaksTheStream() {
        StreamFrameDecoder d = new StreamFrameDecoder(MAX, 4 + MAX);
        var e = assertThrows(StreamFrameDecoder.BogusLength.class, () -> decode(d, new byte[] {0, 0, 0, 0, 1, 2}, 64));
        assertEquals(0, e.length());
    }

    @Test
    void aLengthBeyondTheLargestFrameBreaksTheStreamBeforeItsBytesArrive() {
        for (long len : new long[] {MAX + 1, 0x10000_0L, 0xFFFF_FFFFL}) {
            StreamFrameDecoder d = new StreamFrameDecoder(MAX, 4 + MAX);
            byte[] head = {(byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len};
            var e = assertThrows(StreamFrameDecoder.BogusLength.class, () -> decode(d, head, 4));
            assertEquals(len, e.length());
            assertTrue(e.getMessage().contains(len + " bytes"), e.getMessage());
        }
    }

    @Test
    void aFrameLargerThanTheReceiversRoomIsBogusToo() throws Exception {
        StreamFrameDecoder d = new StreamFrameDecoder(MAX, 4 + MAX);
        byte[] wire = framed(frame(2000, 1));
        MemorySegment.copy(wire, 0, d.buffer(), JAVA_BYTE, 0, wire.length);
        d.filled(wire.length);
        assertThrows(StreamFrameDecoder.BogusLength.class, () -> d.next(new byte[12 + 1000], 12));
    }
}
