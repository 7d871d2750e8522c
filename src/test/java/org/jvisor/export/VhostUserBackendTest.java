package org.jvisor.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.vhost.VhostUserChannel;
import org.jvisor.backend.vhost.VhostUserException;
import org.jvisor.backend.vhost.VhostUserFrontend;
import org.jvisor.backend.vhost.VhostUserMessage;
import org.jvisor.backend.vhost.VhostUserRequest;
import org.jvisor.devices.virtio.SplitVirtqueue;
import org.jvisor.devices.virtio.Virtio;
import org.jvisor.devices.virtio.VirtioBlk;
import org.jvisor.sys.EventFd;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Mman;
import org.jvisor.sys.Poll;
import org.jvisor.sys.ScmRights;
import org.jvisor.sys.Sockets;

/**
 * The backend driven message by message over a socketpair: jvisor's own frontend sets it up as
 * QEMU 7.2 does and a request on a ring built by hand reaches the image; every malformed request
 * ends the connection with a reason naming it, without touching memory outside the table.
 */
class VhostUserBackendTest {
    /** A hang guard, not a performance limit. */
    private static final long GUARD_SECONDS = 60;
    static final long RAM = 1 << 20;
    /** The frontend's virtual address of guest-physical 0 (any value: the backend only translates it). */
    static final long QVA = 0x7f00_0000_0000L;
    static final long DESC = 0x1000;
    static final long AVAIL = 0x2000;
    static final long USED = 0x3000;
    static final long HEADER = 0x10000;
    static final long DATA = 0x11000;
    static final long STATUS = 0x20000;
    static final int SIZE = 8;

    @TempDir
    Path dir;
    private final List<String> log = new CopyOnWriteArrayList<>();
    private Path image;
    private BlockBackend disk;
    private Fd memfd;
    private MemorySegment ram;
    private Sockets.Pair pair;
    private EventFd stop;
    private CompletableFuture<VhostUserBackend.Ending> served;
    private VhostUserChannel frontend;

    @BeforeEach
    void start() throws Exception {
        image = dir.resolve("disk.raw");
        byte[] bytes = new byte[1 << 20];
        System.arraycopy("MAGIC".getBytes(StandardCharsets.US_ASCII), 0, bytes, 0, 5);
        Files.write(image, bytes);
        disk = BlockImages.open(image, "raw", false, CacheMode.WRITEBACK, false, log::add);
        memfd = Mman.memfdCreate("guest", Mman.MFD_CLOEXEC);
        memfd.ftruncate(RAM);
        ram = Mman.map(RAM, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, memfd, 0);
        pair = Sockets.socketPair(Sockets.SOCK_STREAM);
        stop = EventFd.createNonBlocking();
        VhostUserBackend backend = new VhostUserBackend(pair.second(), "test frontend",
            new VhostUserBlkDevice(disk, 2, "serial-1", log::add), log::add);
        served = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try (backend) {
                served.complete(backend.serve(stop.fd()));
            } catch (Throwable t) {
                served.completeExceptionally(t);
            }
        });
        frontend = new VhostUserChannel(pair.first(), "test backend", (int) (GUARD_SECONDS * 1000));
    }

    @AfterEach
    void end() throws Exception {
        stop.signal(1);
        try {
            served.get(GUARD_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            // the test looked at it
        }
        frontend.close();
        stop.close();
        Mman.unmap(ram);
        memfd.close();
        disk.close();
    }

    /** What ended the connection: the backend's exception. */
    private VhostUserException dropped() throws Exception {
        try {
            VhostUserBackend.Ending e = served.get(GUARD_SECONDS, TimeUnit.SECONDS);
            throw new AssertionError("the connection ended normally (" + e + "), not dropped; log " + log);
        } catch (ExecutionException e) {
            return assertInstanceOf(VhostUserException.class, e.getCause());
        }
    }

    private void send(VhostUserRequest r, byte[] payload, int... fds) throws Exception {
        frontend.send(VhostUserMessage.request(r, payload), fds);
    }

    private VhostUserMessage call(VhostUserRequest r, byte[] payload, int... fds) throws Exception {
        send(r, payload, fds);
        return frontend.receive(r.name());
    }

    private static long le64(byte[] b, int at) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(at);
    }

    // ---- a split ring built by hand in the memfd ----

    private void desc(int i, long addr, int len, int flags, int next) {
        long d = DESC + 16L * i;
        ram.set(ValueLayout.JAVA_LONG_UNALIGNED, d, addr);
        ram.set(ValueLayout.JAVA_INT_UNALIGNED, d + 8, len);
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, d + 12, (short) flags);
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, d + 14, (short) next);
    }

    private int availIdx;

    private void offer(int head) {
        // used_event (VIRTIO_F_EVENT_IDX): a notification for the next completion, as Linux asks
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, AVAIL + 4 + 2L * SIZE, (short) usedIdx());
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, AVAIL + 4 + 2L * (availIdx % SIZE), (short) head);
        availIdx++;
        ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, AVAIL + 2, (short) availIdx);
    }

    private int usedIdx() {
        return ram.get(ValueLayout.JAVA_SHORT_UNALIGNED, USED + 2) & 0xFFFF;
    }

    /** A virtio-blk request of {@code type} at {@code sector} with one data buffer of {@code len} bytes. */
    private void request(int type, long sector, int len, boolean deviceWrites) {
        ram.set(ValueLayout.JAVA_INT_UNALIGNED, HEADER, type);
        ram.set(ValueLayout.JAVA_LONG_UNALIGNED, HEADER + 8, sector);
        ram.set(ValueLayout.JAVA_BYTE, STATUS, (byte) 0xFF);
        desc(0, HEADER, 16, SplitVirtqueue.DESC_F_NEXT, 1);
        desc(1, DATA, len, SplitVirtqueue.DESC_F_NEXT | (deviceWrites ? SplitVirtqueue.DESC_F_WRITE : 0), 2);
        desc(2, STATUS, 1, SplitVirtqueue.DESC_F_WRITE, 0);
        offer(0);
    }

    private void awaitSignal(EventFd fd) throws Exception {
        try (Poll p = new Poll(1)) {
            p.watch(0, fd.fd(), Poll.POLLIN);
            if (p.await((int) (GUARD_SECONDS * 1000)) != 1) {
                String how = "";
                if (served.isDone()) {
                    try {
                        how = "; the backend ended: " + served.get();
                    } catch (ExecutionException e) {
                        java.io.StringWriter w = new java.io.StringWriter();
                        e.getCause().printStackTrace(new java.io.PrintWriter(w));
                        how = "; the backend failed: " + w;
                    }
                }
                throw new AssertionError("hang guard: no signal; log " + log + how);
            }
        }
        fd.drain();
    }

    private List<VhostUserFrontend.Ring> ring0(EventFd kick, EventFd call) {
        return List.of(new VhostUserFrontend.Ring(0, SIZE, QVA + DESC, QVA + USED, QVA + AVAIL, 0, kick.fd(), call.fd()));
    }

    private static List<VhostUserMessage.MemoryRegion> table() {
        return List.of(new VhostUserMessage.MemoryRegion(0, RAM, QVA, 0));
    }

    @Test
    void jvisorsFrontendSetsItUpAndARequestReachesTheImage() throws Exception {
        VhostUserFrontend f = new VhostUserFrontend(frontend);
        VhostUserFrontend.Handshake hs = f.handshake(60);
        assertTrue(Virtio.has(hs.features(), Virtio.F_VERSION_1) && Virtio.has(hs.features(), VirtioBlk.F_FLUSH)
            && Virtio.has(hs.features(), VirtioBlk.F_MQ) && Virtio.has(hs.features(), VirtioBlk.F_DISCARD)
            && !Virtio.has(hs.features(), VirtioBlk.F_RO), Long.toHexString(hs.features()));
        assertEquals(0x209, hs.protocolFeatures(), "MQ, REPLY_ACK, CONFIG");
        assertEquals(2, hs.queueNum());
        byte[] config = hs.config();
        assertEquals(60, config.length, "the size asked for");
        assertEquals(2048, le64(config, 0), "capacity in sectors");
        assertEquals(2, ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN).getShort(34), "num_queues");
        try (EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            f.start(hs.features() & ~(1L << VhostUserBackend.F_PROTOCOL_FEATURES), table(), new int[] {memfd.fd()},
                ring0(kick, call));
            byte[] pattern = "jvisor-backend-pattern".getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(pattern, 0, ram, ValueLayout.JAVA_BYTE, DATA, pattern.length);
            request(VirtioBlk.T_OUT, 4, 512, false);
            kick.signal(1);
            awaitSignal(call);
            assertEquals(1, usedIdx());
            assertEquals(VirtioBlk.S_OK, ram.get(ValueLayout.JAVA_BYTE, STATUS));
            byte[] onDisk = Arrays.copyOfRange(Files.readAllBytes(image), 4 * 512, 4 * 512 + pattern.length);
            assertArrayEquals(pattern, onDisk, "the write reached the image file");

            ram.asSlice(DATA, 512).fill((byte) 0);
            request(VirtioBlk.T_IN, 0, 512, true);
            kick.signal(1);
            awaitSignal(call);
            assertEquals(2, usedIdx());
            assertEquals("MAGIC", new String(ram.asSlice(DATA, 5).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII));
            assertEquals(2, f.stopRing(0), "GET_VRING_BASE: the next available index");
        }
    }

    @Test
    void aRingRestartsWhereGetVringBaseLeftIt() throws Exception {
        VhostUserFrontend f = new VhostUserFrontend(frontend);
        VhostUserFrontend.Handshake hs = f.handshake(60);
        try (EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            f.start(hs.features(), table(), new int[] {memfd.fd()}, ring0(kick, call));
            request(VirtioBlk.T_FLUSH, 0, 0, false);
            kick.signal(1);
            awaitSignal(call);
            assertEquals(1, f.stopRing(0));
            request(VirtioBlk.T_FLUSH, 0, 0, false);
            kick.signal(1); // the ring is stopped: nothing is served
            f.start(hs.features(), table(), new int[] {memfd.fd()},
                List.of(new VhostUserFrontend.Ring(0, SIZE, QVA + DESC, QVA + USED, QVA + AVAIL, 1, kick.fd(), call.fd())));
            awaitSignal(call);
            assertEquals(2, usedIdx(), "the request offered while stopped is served after the restart");
        }
    }

    @Test
    void aBrokenChainStopsTheRingAndSignalsErrNotTheConnection() throws Exception {
        VhostUserFrontend f = new VhostUserFrontend(frontend);
        VhostUserFrontend.Handshake hs = f.handshake(60);
        try (EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking();
             EventFd err = EventFd.createNonBlocking()) {
            send(VhostUserRequest.SET_VRING_ERR, VhostUserMessage.u64(0), err.fd());
            f.start(hs.features(), table(), new int[] {memfd.fd()}, ring0(kick, call));
            byte[] before = Files.readAllBytes(image);
            request(VirtioBlk.T_OUT, 0, 512, false);
            desc(1, RAM - 256, 512, SplitVirtqueue.DESC_F_NEXT, 2); // past the end of the region
            kick.signal(1);
            awaitSignal(err);
            assertEquals(0, usedIdx(), "nothing completed");
            assertTrue(log.stream().anyMatch(l -> l.contains("ring 0") && l.contains("outside guest memory")), log.toString());
            assertArrayEquals(before, Files.readAllBytes(image), "the image is untouched");
            assertEquals(1, f.stopRing(0), "the connection still answers");
        }
    }

    @Test
    void aFrontendThatShrinksItsMemoryFileIsDroppedNotACrash() throws Exception {
        VhostUserFrontend f = new VhostUserFrontend(frontend);
        VhostUserFrontend.Handshake hs = f.handshake(60);
        try (EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            f.start(hs.features(), table(), new int[] {memfd.fd()}, ring0(kick, call));
            request(VirtioBlk.T_FLUSH, 0, 0, false);
            memfd.ftruncate(0); // the backend's mapping now faults (SIGBUS)
            kick.signal(1);
            String m = dropped().getMessage();
            assertTrue(m.contains("a fault touching the frontend's memory"), m);
            memfd.ftruncate(RAM);
        }
    }

    @Test
    void aDisconnectBetweenMessagesIsANormalEnd() throws Exception {
        call(VhostUserRequest.GET_FEATURES, new byte[0]);
        frontend.close();
        assertEquals(VhostUserBackend.Ending.DISCONNECTED, served.get(GUARD_SECONDS, TimeUnit.SECONDS));
    }

    // ---- bad input: each drops the connection with the reason ----

    @Test
    void anOversizedMessageIsRefusedBeforeItIsRead() throws Exception {
        ByteBuffer h = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(5).putInt(1).putInt(1 << 30);
        raw(h.array());
        assertTrue(dropped().getMessage().contains("exceeds the maximum"), log.toString());
    }

    @Test
    void aFrontendClosingMidMessageIsNamed() throws Exception {
        ByteBuffer h = ByteBuffer.allocate(15).order(ByteOrder.LITTLE_ENDIAN).putInt(2).putInt(1).putInt(8).put(new byte[3]);
        raw(h.array());
        frontend.close();
        String m = dropped().getMessage();
        assertTrue(m.contains("closed the connection in the middle of a message (3 of 8 bytes of SET_FEATURES"), m);
    }

    @Test
    void aTruncatedHeaderIsNamed() throws Exception {
        raw(new byte[] {1, 0, 0, 0, 1});
        frontend.close();
        assertTrue(dropped().getMessage().contains("(5 of 12 bytes of a request)"));
    }

    @Test
    void anotherProtocolVersionIsRefused() throws Exception {
        frontend.send(new VhostUserMessage(VhostUserRequest.GET_FEATURES.code(), 2, new byte[0]));
        assertTrue(dropped().getMessage().contains("protocol version 2"));
    }

    @Test
    void anUnknownRequestIsRefusedByNumber() throws Exception {
        frontend.send(new VhostUserMessage(99, 1, new byte[0]));
        assertTrue(dropped().getMessage().contains("unsupported request 99"));
    }

    @Test
    void aPayloadOfTheWrongSizeIsRefused() throws Exception {
        send(VhostUserRequest.SET_FEATURES, new byte[4]);
        assertTrue(dropped().getMessage().contains("payload of 4 bytes (8 expected)"));
    }

    @Test
    void aCallWithoutItsDescriptorIsRefused() throws Exception {
        send(VhostUserRequest.SET_VRING_CALL, VhostUserMessage.u64(0));
        assertTrue(dropped().getMessage().contains("SET_VRING_CALL: 0 descriptors (one expected)"));
    }

    @Test
    void aDescriptorOnARequestThatTakesNoneIsRefused() throws Exception {
        try (EventFd e = EventFd.createNonBlocking()) {
            send(VhostUserRequest.GET_FEATURES, new byte[0], e.fd());
        }
        assertTrue(dropped().getMessage().contains("GET_FEATURES came with 1 descriptors (none expected)"));
    }

    @Test
    void aMemoryTableWithFewerDescriptorsThanRegionsIsRefused() throws Exception {
        send(VhostUserRequest.SET_MEM_TABLE, VhostUserMessage.memoryTable(List.of(
            new VhostUserMessage.MemoryRegion(0, RAM / 2, QVA, 0),
            new VhostUserMessage.MemoryRegion(RAM / 2, RAM / 2, QVA + RAM / 2, RAM / 2))), memfd.fd());
        assertTrue(dropped().getMessage().contains("2 regions but 1 descriptors"));
    }

    @Test
    void aRegionLargerThanItsFileIsRefused() throws Exception {
        send(VhostUserRequest.SET_MEM_TABLE, VhostUserMessage.memoryTable(List.of(
            new VhostUserMessage.MemoryRegion(0, RAM, QVA, 4096))), memfd.fd());
        assertTrue(dropped().getMessage().contains("which has only 0x100000 bytes"));
    }

    @Test
    void overlappingRegionsAreRefused() throws Exception {
        send(VhostUserRequest.SET_MEM_TABLE, VhostUserMessage.memoryTable(List.of(
            new VhostUserMessage.MemoryRegion(0, RAM / 2, QVA, 0),
            new VhostUserMessage.MemoryRegion(RAM / 4, RAM / 2, QVA + RAM, 0))), memfd.fd(), memfd.fd());
        assertTrue(dropped().getMessage().contains("regions 0 and 1 overlap"));
    }

    @Test
    void aRingOutsideTheMemoryTableIsRefused() throws Exception {
        try (EventFd kick = EventFd.createNonBlocking()) {
            send(VhostUserRequest.SET_MEM_TABLE, VhostUserMessage.memoryTable(table()), memfd.fd());
            send(VhostUserRequest.SET_VRING_NUM, new VhostUserMessage.VringState(0, SIZE).encode());
            send(VhostUserRequest.SET_VRING_ADDR, new VhostUserMessage.VringAddress(0, 0, QVA + DESC, QVA + RAM - 8,
                QVA + AVAIL, 0).encode());
            send(VhostUserRequest.SET_VRING_KICK, VhostUserMessage.u64(0), kick.fd());
        }
        String m = dropped().getMessage();
        assertTrue(m.contains("the used ring at 0x7f00000ffff8 (+0x46) is outside the memory table"), m);
    }

    @Test
    void aRingIndexBeyondTheQueuesIsRefused() throws Exception {
        send(VhostUserRequest.SET_VRING_NUM, new VhostUserMessage.VringState(2, SIZE).encode());
        assertTrue(dropped().getMessage().contains("SET_VRING_NUM: ring 2 (the device has 2)"));
    }

    @Test
    void aRingSizeThatIsNotAPowerOfTwoIsRefused() throws Exception {
        send(VhostUserRequest.SET_VRING_NUM, new VhostUserMessage.VringState(0, 100).encode());
        assertTrue(dropped().getMessage().contains("ring 0 of 100 entries"));
    }

    @Test
    void featuresNeverOfferedAreRefused() throws Exception {
        send(VhostUserRequest.SET_FEATURES, VhostUserMessage.u64(1L << 63));
        assertTrue(dropped().getMessage().contains("acks features never offered"));
    }

    @Test
    void aConfigReadPastTheConfigSpaceIsRefused() throws Exception {
        call(VhostUserRequest.GET_PROTOCOL_FEATURES, new byte[0]);
        send(VhostUserRequest.SET_PROTOCOL_FEATURES, VhostUserMessage.u64(VhostUserBackend.PROTOCOL_FEATURES));
        ByteBuffer c = ByteBuffer.allocate(12 + 16).order(ByteOrder.LITTLE_ENDIAN).putInt(250).putInt(16).putInt(0);
        send(VhostUserRequest.GET_CONFIG, c.array());
        assertTrue(dropped().getMessage().contains("reach past the 256 bytes"));
    }

    @Test
    void theReplyAckIsSentWhenAskedFor() throws Exception {
        call(VhostUserRequest.GET_PROTOCOL_FEATURES, new byte[0]);
        send(VhostUserRequest.SET_PROTOCOL_FEATURES, VhostUserMessage.u64(1L << VhostUserBackend.PROTOCOL_F_REPLY_ACK));
        frontend.send(new VhostUserMessage(VhostUserRequest.SET_OWNER.code(), 1 | VhostUserMessage.FLAG_NEED_REPLY, new byte[0]));
        VhostUserMessage ack = frontend.receive("SET_OWNER");
        assertTrue(ack.isReply());
        assertEquals(VhostUserRequest.SET_OWNER.code(), ack.request());
        assertEquals(0, ack.asU64());
    }

    /** Bytes straight onto the socket, for messages the codec would never make. */
    private void raw(byte[] bytes) throws Exception {
        MemorySegment seg = MemorySegment.ofArray(new byte[0]);
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            seg = a.allocate(bytes.length);
            MemorySegment.copy(bytes, 0, seg, ValueLayout.JAVA_BYTE, 0, bytes.length);
            assertEquals(bytes.length, ScmRights.send(frontend.socket(), seg));
        }
        assertNotNull(seg);
    }
}
