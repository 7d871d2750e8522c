package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.jvisor.config.MacAddress;
import org.jvisor.backend.net.Offloads;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * virtio-net driven through virtio-mmio registers and hand-built rings, as Linux's virtio_net
 * does: receive queue 0 and transmit queue 1, an in-memory backend.
 */
class VirtioNetTest {
    static final int W = SplitVirtqueue.DESC_F_WRITE;
    static final int N = SplitVirtqueue.DESC_F_NEXT;
    static final int SIZE = 16;
    static final long BUFS = 0x40000;
    static final long ALL = -1L;
    static final long NO_MRG = ~Virtio.bit(VirtioNet.F_MRG_RXBUF);
    static final long NO_EVENT_IDX = ~Virtio.bit(Virtio.F_RING_EVENT_IDX);

    final FakeNetBackend backend = new FakeNetBackend();
    final VirtioNet net = new VirtioNet(backend, MacAddress.parse("52:54:00:ab:cd:ef"), SIZE, msg -> { });
    final Driver drv = new Driver(net, SIZE);
    final int[] availIdx = new int[2];

    @AfterEach
    void tearDown() {
        drv.close();
    }

    static long desc(int q) {
        return 0x10000 + 0x4000L * q;
    }

    static long avail(int q) {
        return desc(q) + 0x1000;
    }

    static long used(int q) {
        return desc(q) + 0x2000;
    }

    /** Linux's bring-up of both queues; returns the negotiated features. */
    long start(long wanted) {
        int st = drv.negotiate(wanted);
        assertTrue((st & Virtio.STATUS_FEATURES_OK) != 0);
        for (int q = 0; q < 2; q++) {
            drv.w(VirtioMmioTransport.QUEUE_SEL, q);
            drv.w(VirtioMmioTransport.QUEUE_NUM, SIZE);
            drv.w(VirtioMmioTransport.QUEUE_DESC_LOW, (int) desc(q));
            drv.w(VirtioMmioTransport.QUEUE_DRIVER_LOW, (int) avail(q));
            drv.w(VirtioMmioTransport.QUEUE_DEVICE_LOW, (int) used(q));
            drv.w(VirtioMmioTransport.QUEUE_READY, 1);
        }
        drv.addStatus(Virtio.STATUS_DRIVER_OK);
        assertEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET, drv.log.toString());
        return drv.deviceFeatures() & wanted;
    }

    void offer(int q, int head) {
        drv.ram.writeU16(avail(q) + 4 + 2L * (availIdx[q] % SIZE), (short) head);
        availIdx[q]++;
        drv.ram.writeU16(avail(q) + 2, (short) availIdx[q]);
    }

    int usedIdx(int q) {
        return drv.ram.readU16(used(q) + 2) & 0xFFFF;
    }

    int usedId(int q, int i) {
        return drv.ram.readU32(used(q) + 4 + 8L * (i % SIZE));
    }

    int usedLen(int q, int i) {
        return drv.ram.readU32(used(q) + 4 + 8L * (i % SIZE) + 4);
    }

    /** Posts receive buffer {@code i} (one writable descriptor of {@code len} bytes at BUFS + i * 0x1000). */
    void postRx(int i, int len) {
        drv.desc(desc(0), i, BUFS + 0x1000L * i, len, W, 0);
        offer(0, i);
    }

    static byte[] frame(int payload, long seed) {
        byte[] f = new byte[VirtioNet.HDR_SIZE + payload];
        new Random(seed).nextBytes(f);
        f[0] = VirtioNet.HDR_F_DATA_VALID;
        f[10] = 0;
        f[11] = 0;
        return f;
    }

    byte[] readRx(int i, int len) {
        byte[] b = new byte[len];
        drv.ram.read(BUFS + 0x1000L * i, b, 0, len);
        return b;
    }

    @Test
    void configHasTheMacAndLinkUp() {
        long f = start(ALL);
        assertTrue(Virtio.has(f, VirtioNet.F_MAC) && Virtio.has(f, VirtioNet.F_STATUS) && Virtio.has(f, VirtioNet.F_MRG_RXBUF));
        assertTrue(Virtio.has(f, VirtioNet.F_CSUM) && Virtio.has(f, VirtioNet.F_HOST_TSO4) && Virtio.has(f, VirtioNet.F_GUEST_TSO6));
        assertEquals(Virtio.ID_NET, drv.r(VirtioMmioTransport.DEVICE_ID));
        int[] mac = new int[6];
        for (int i = 0; i < 6; i++) {
            mac[i] = (int) drv.mmio.read(0x100 + i, 1);
        }
        assertArrayEquals(new int[] {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}, mac);
        assertEquals(VirtioNet.S_LINK_UP, drv.mmio.read(0x106, 2));
    }

    @Test
    void offloadsFollowWhatTheGuestAccepted() {
        start(ALL & ~Virtio.bit(VirtioNet.F_GUEST_TSO6) & ~Virtio.bit(VirtioNet.F_GUEST_ECN));
        assertEquals(new Offloads(true, true, false, false), backend.offloads);
        drv.w(VirtioMmioTransport.STATUS, 0);
        assertEquals(Offloads.NONE, backend.offloads, "a reset drops them");
        start(ALL & ~Virtio.bit(VirtioNet.F_GUEST_CSUM) & ~Virtio.bit(VirtioNet.F_GUEST_TSO4)
            & ~Virtio.bit(VirtioNet.F_GUEST_TSO6) & ~Virtio.bit(VirtioNet.F_GUEST_ECN));
        assertEquals(Offloads.NONE, backend.offloads);
    }

    @Test
    void transmitsHeaderAndFrameSplitOverDescriptors() {
        start(ALL);
        byte[] f = frame(1000, 1);
        f[0] = VirtioNet.HDR_F_NEEDS_CSUM;
        drv.ram.write(BUFS, f, 0, VirtioNet.HDR_SIZE);
        drv.ram.write(BUFS + 0x100, f, VirtioNet.HDR_SIZE, 300);
        drv.ram.write(BUFS + 0x1000, f, VirtioNet.HDR_SIZE + 300, 700);
        drv.desc(desc(1), 3, BUFS, VirtioNet.HDR_SIZE, N, 5);
        drv.desc(desc(1), 5, BUFS + 0x100, 300, N, 7);
        drv.desc(desc(1), 7, BUFS + 0x1000, 700, 0, 0);
        offer(1, 3);
        drv.kick(1);
        assertEquals(1, backend.sent.size());
        assertArrayEquals(f, backend.sent.get(0), "header (with its offload request) and frame, unchanged");
        assertEquals(1, usedIdx(1));
        assertEquals(3, usedId(1, 0));
        assertEquals(0, usedLen(1, 0));
        assertTrue(drv.irq.level);
        assertEquals(1, net.txFrames());
    }

    @Test
    void aFailedSendCompletesTheChainAndCounts() {
        start(ALL);
        backend.failSend = true;
        drv.desc(desc(1), 0, BUFS, 60, 0, 0);
        offer(1, 0);
        drv.kick(1);
        assertEquals(1, usedIdx(1));
        assertEquals(1, net.txDropped());
        assertEquals(0, drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
    }

    @Test
    void receivesIntoMergedBuffersPublishedTogether() {
        start(ALL);
        for (int i = 0; i < 4; i++) {
            postRx(i, 100);
        }
        drv.kick(0);
        assertTrue(backend.armed, "waiting for a frame");
        byte[] f = frame(250 - VirtioNet.HDR_SIZE, 2);
        backend.inject(f);
        assertEquals(3, usedIdx(0), "three buffers for 250 bytes");
        assertEquals(100, usedLen(0, 0));
        assertEquals(100, usedLen(0, 1));
        assertEquals(50, usedLen(0, 2));
        byte[] got = new byte[250];
        System.arraycopy(readRx(usedId(0, 0), 100), 0, got, 0, 100);
        System.arraycopy(readRx(usedId(0, 1), 100), 0, got, 100, 100);
        System.arraycopy(readRx(usedId(0, 2), 50), 0, got, 200, 50);
        assertEquals(3, got[10] | got[11] << 8, "num_buffers");
        byte[] want = f.clone();
        want[10] = 3;
        assertArrayEquals(want, got);
        assertTrue(drv.irq.level, "used buffer notification");
        assertTrue(backend.armed, "backend emptied: armed again");
        assertEquals(1, net.rxFrames());
    }

    @Test
    void withoutMergedBuffersOneBufferPerFrameAndTooSmallOnesDropTheFrame() {
        start(ALL & NO_MRG & ~Virtio.bit(VirtioNet.F_GUEST_CSUM) & ~Virtio.bit(VirtioNet.F_GUEST_TSO4)
            & ~Virtio.bit(VirtioNet.F_GUEST_TSO6) & ~Virtio.bit(VirtioNet.F_GUEST_ECN));
        postRx(0, 1526);
        postRx(1, 1526);
        drv.kick(0);
        byte[] f = frame(1000, 3);
        backend.inject(f);
        assertEquals(1, usedIdx(0));
        assertEquals(f.length, usedLen(0, 0));
        byte[] got = readRx(0, f.length);
        assertEquals(1, got[10], "num_buffers is 1");
        assertEquals(0, got[0], "no checksum flags for a guest without GUEST_CSUM");
        backend.inject(frame(1600, 4));
        assertEquals(1, usedIdx(0), "a frame larger than the buffer is dropped");
        assertEquals(1, net.rxDropped());
        backend.inject(frame(500, 5));
        assertEquals(2, usedIdx(0), "the buffer stays for the next frame");
        assertEquals(1, usedId(0, 1));
    }

    @Test
    void noReceiveBuffersStopsReadingUntilTheDriverAddsSome() {
        start(ALL & NO_EVENT_IDX);
        drv.kick(0);
        byte[] a = frame(300, 6);
        byte[] b = frame(300, 7);
        backend.inject(a);
        backend.inject(b);
        assertEquals(0, usedIdx(0));
        assertFalse(backend.armed, "not reading the backend");
        assertEquals(1, backend.inbound.size(), "one frame in hand, the other left in the backend");
        int receives = backend.receives;
        assertEquals(0, drv.ram.readU16(used(0)) & SplitVirtqueue.USED_F_NO_NOTIFY, "asks to be notified of new buffers");
        postRx(0, 100);
        drv.kick(0);
        assertEquals(0, usedIdx(0), "one 100-byte buffer is too few for 312 bytes");
        assertEquals(receives, backend.receives, "and the backend is not read meanwhile");
        postRx(1, 100);
        postRx(2, 100);
        postRx(3, 100);
        drv.kick(0);
        assertEquals(4, usedIdx(0), "the held frame went into the four buffers");
        assertEquals(0, usedId(0, 0));
        assertEquals(4, drv.ram.readU8(BUFS + 10), "num_buffers");
        assertFalse(backend.armed);
        for (int i = 4; i < 8; i++) {
            postRx(i, 100);
        }
        drv.kick(0);
        assertEquals(8, usedIdx(0), "the second frame");
        assertTrue(backend.armed, "backend empty: armed again");
        assertArrayEquals(Arrays.copyOfRange(b, 12, 100), Arrays.copyOfRange(readRx(usedId(0, 4), 100), 12, 100));
        assertEquals(2, net.rxFrames());
        assertEquals(0, net.rxDropped());
    }

    @Test
    void withEventIdxOutOfBuffersAsksForANotificationPastTheHeldOnes() {
        start(ALL);
        postRx(0, 100);
        drv.kick(0);
        backend.inject(frame(300, 8));
        assertEquals(0, usedIdx(0));
        int availEvent = drv.ram.readU16(used(0) + 4 + 8L * SIZE) & 0xFFFF;
        assertEquals(1, availEvent, "avail_event past the buffer already seen, so adding the next one notifies");
        postRx(1, 100);
        postRx(2, 100);
        postRx(3, 100);
        drv.kick(0);
        assertEquals(4, usedIdx(0));
    }

    @Test
    void aFrameLargerThanTheWholeRingIsDroppedNotWaitedFor() {
        start(ALL);
        for (int i = 0; i < SIZE; i++) {
            postRx(i, VirtioNet.HDR_SIZE);
        }
        drv.kick(0);
        backend.inject(frame(SIZE * VirtioNet.HDR_SIZE, 13));
        assertEquals(0, usedIdx(0), "17 buffers' worth cannot fit in 16");
        assertEquals(1, net.rxDropped());
        assertTrue(backend.armed, "and receiving goes on");
        backend.inject(frame(20, 14));
        assertEquals(3, usedIdx(0), "a 32-byte frame in three 12-byte buffers");
        assertEquals(3, drv.ram.readU8(BUFS + 10), "num_buffers");
    }

    /** Asserts NEEDS_RESET naming {@code what}, then a reset and a good frame each way. */
    void assertNeedsResetAndRecovers(int queue, String what) {
        drv.kick(queue);
        assertTrue((drv.status() & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0, "NEEDS_RESET set");
        assertTrue(drv.mmio.core().needsResetReason().contains(what), drv.mmio.core().needsResetReason());
        assertEquals(Virtio.INT_CONFIG, drv.ackInterrupt() & Virtio.INT_CONFIG);
        drv.w(VirtioMmioTransport.STATUS, 0);
        availIdx[0] = availIdx[1] = 0;
        drv.ram.fill(desc(0), 0x8000, (byte) 0);
        backend.inbound.clear();
        backend.sent.clear();
        start(ALL);
        postRx(0, 2048);
        drv.kick(0);
        backend.inject(frame(100, 9));
        assertEquals(1, usedIdx(0));
        drv.desc(desc(1), 0, BUFS + 0x8000, 60, 0, 0);
        offer(1, 0);
        drv.kick(1);
        assertEquals(1, backend.sent.size());
    }

    @Test
    void transmitChainWithAWritableDescriptor() {
        start(ALL);
        drv.desc(desc(1), 0, BUFS, 60, N, 1);
        drv.desc(desc(1), 1, BUFS + 0x100, 60, W, 0);
        offer(1, 0);
        assertNeedsResetAndRecovers(1, "device-writable");
    }

    @Test
    void transmitChainShorterThanTheHeader() {
        start(ALL);
        drv.desc(desc(1), 0, BUFS, 10, 0, 0);
        offer(1, 0);
        assertNeedsResetAndRecovers(1, "less than the 12-byte header");
    }

    @Test
    void receiveBufferThatIsDeviceReadable() {
        start(ALL);
        drv.desc(desc(0), 0, BUFS, 2048, 0, 0);
        offer(0, 0);
        backend.inject(frame(100, 10));
        assertNeedsResetAndRecovers(0, "device-readable");
    }

    @Test
    void mergedReceiveBufferSmallerThanTheHeader() {
        start(ALL);
        postRx(0, 8);
        backend.inject(frame(100, 11));
        assertNeedsResetAndRecovers(0, "less than the 12-byte header");
    }

    @Test
    void receiveBufferOutsideGuestMemory() {
        start(ALL);
        drv.desc(desc(0), 0, 0x7000_0000L, 2048, W, 0);
        offer(0, 0);
        backend.inject(frame(100, 12));
        assertNeedsResetAndRecovers(0, "outside guest memory");
    }
}
