package org.jvisor.backend.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Fuzzes the -netdev stream receiver: any bytes from a peer, arriving in reads of any size, into
 * a decoder of any frame limit and buffer size. Its frames must be exactly those a plain reading
 * of the stream gives (length, frame, length, frame...), and it must report a bogus length exactly
 * where that reading meets one (0, beyond the limit), never fail otherwise.
 */
class StreamFramingFuzzTest {
    private static final int HDR = 12;

    @FuzzTest(maxDuration = "60s")
    void stream(FuzzedDataProvider data) {
        int maxFrame = data.consumeInt(1, 400);
        int capacity = 4 + maxFrame + data.consumeInt(0, 200);
        int[] reads = new int[8];
        for (int i = 0; i < reads.length; i++) {
            reads[i] = data.consumeInt(1, 600);
        }
        byte[] peer = data.consumeRemainingAsBytes();

        List<byte[]> expected = new ArrayList<>();
        boolean expectBogus = false;
        int at = 0;
        while (peer.length - at >= 4) {
            long len = Integer.toUnsignedLong((peer[at] & 0xff) << 24 | (peer[at + 1] & 0xff) << 16
                | (peer[at + 2] & 0xff) << 8 | (peer[at + 3] & 0xff));
            if (len == 0 || len > maxFrame) {
                expectBogus = true;
                break;
            }
            if (peer.length - at - 4 < len) {
                break;
            }
            expected.add(Arrays.copyOfRange(peer, at + 4, at + 4 + (int) len));
            at += 4 + (int) len;
        }

        StreamFrameDecoder d = new StreamFrameDecoder(maxFrame, capacity);
        byte[] dst = new byte[HDR + maxFrame];
        List<byte[]> got = new ArrayList<>();
        boolean bogus = false;
        int fed = 0;
        int r = 0;

        while (true) {
            try {
                int n;
                while ((n = d.next(dst, HDR)) > 0) {
                    got.add(Arrays.copyOfRange(dst, HDR, HDR + n));
                }
            } catch (StreamFrameDecoder.BogusLength e) {
                bogus = true;
                break;
            }
            if (fed == peer.length) {
                break;
            }
            if (d.freeBytes() == 0) {
                throw new AssertionError("no room to read with " + d.buffered() + " bytes buffered");
            }
            int k = (int) Math.min(Math.min(reads[r++ % reads.length], peer.length - fed), d.freeBytes());
            MemorySegment.copy(peer, fed, d.buffer(), JAVA_BYTE, d.freeOffset(), k);
            d.filled(k);
            fed += k;

        }
        if (bogus != expectBogus) {
            throw new AssertionError("bogus length reported: " + bogus + ", expected: " + expectBogus);
        }
        if (got.size() != expected.size()) {
            throw new AssertionError(got.size() + " frames, expected " + expected.size());
        }
        for (int i = 0; i < got.size(); i++) {
            if (!Arrays.equals(got.get(i), expected.get(i))) {
                throw new AssertionError("frame " + i + " differs");
            }
        }
    }
}
