package org.jvisor.export;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import org.jvisor.backend.vhost.VhostUserChannel;
import org.jvisor.backend.vhost.VhostUserException;
import org.jvisor.backend.vhost.VhostUserMessage;
import org.jvisor.backend.vhost.VhostUserRequest;
import org.jvisor.sys.EventFd;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Mman;
import org.jvisor.sys.Sockets;
import org.jvisor.sys.SysException;

/**
 * Fuzzes the backend's message handling as a hostile frontend would drive it: a sequence of
 * requests (known and unknown numbers, well-formed payloads with fuzzed values or raw bytes),
 * memory tables over a 64 KiB memfd whose contents (rings, descriptors, requests) are fuzzed too,
 * kick/call/err eventfds, and kicks in between. A protocol error must be a
 * {@link VhostUserException} (the connection dropped); anything else is a finding: an access out
 * of bounds, a disk access past its end (the disk checks), a hang.
 */
class VhostUserBackendFuzzTest {
    private static final long RAM = 64 * 1024;
    private static final long QVA = 0x7f00_0000_0000L;
    private static final VhostUserRequest[] REQUESTS = VhostUserRequest.values();


    private static final Fd MEMFD;
    private static final MemorySegment RAM_VIEW;

    static {
        try {
            MEMFD = Mman.memfdCreate("fuzz-guest", Mman.MFD_CLOEXEC);
            MEMFD.ftruncate(RAM);
            RAM_VIEW = Mman.map(RAM, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, MEMFD, 0);
        } catch (SysException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @FuzzTest(maxDuration = "60s")
    void messages(FuzzedDataProvider data) throws Exception {
        RAM_VIEW.fill((byte) 0);
        boolean setUp = data.consumeBoolean();
        if (setUp) {
            // rings where the well-formed set-up below puts ring 0, and a request area: as raw bytes,
            // or as chains of fuzzed descriptors (to reach the request logic through the backend)
            if (data.consumeBoolean()) {
                put(DESC, data.consumeBytes(16 * RING));
                put(AVAIL, data.consumeBytes(6 + 2 * RING));
                put(REQUEST, data.consumeBytes(256));
            } else {
                chains(data);
            }
        } else {
            byte[] contents = data.consumeBytes(data.consumeInt(0, 4096));
            put(data.consumeLong(0, RAM - contents.length), contents);
        }
        Sockets.Pair pair = Sockets.socketPair(Sockets.SOCK_STREAM);
        List<EventFd> eventFds = new ArrayList<>();
        try (VhostUserChannel frontend = new VhostUserChannel(pair.first(), "fuzz backend", 1000);
             VhostUserBackend backend = new VhostUserBackend(pair.second(), "fuzz frontend",
                 new VhostUserBlkDevice(new org.jvisor.testing.BoundedDisk(64 * 512, false), 2, "fuzz", msg -> { }), msg -> { })) {
            if (setUp) {
                try (EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
                    setUp(frontend, backend, pair.first(), kick, call, data.consumeBoolean());
                    kick.signal(1);
                    backend.kicked(0);
                } catch (VhostUserException e) {
                    throw new AssertionError("the well-formed set-up was refused", e);
                }
            }
            for (int n = 0; n < 24 && data.remainingBytes() > 0; n++) {
                if (data.consumeInt(0, 3) == 0) {
                    backend.kicked(data.consumeInt(0, 1));
                    continue;
                }
                int code = data.consumeBoolean() ? REQUESTS[data.consumeInt(0, REQUESTS.length - 1)].code() : data.consumeInt();
                int flags = data.consumeInt(0, 7) == 0 ? data.consumeInt() : VhostUserMessage.VERSION
                    | (data.consumeBoolean() ? VhostUserMessage.FLAG_NEED_REPLY : 0);
                byte[] payload = payload(VhostUserRequest.of(code), data);
                int[] fds = new int[data.consumeInt(0, 2)];
                for (int i = 0; i < fds.length; i++) {
                    if (code == VhostUserRequest.SET_MEM_TABLE.code() || data.consumeInt(0, 3) == 0) {
                        fds[i] = MEMFD.fd();
                    } else {
                        EventFd e = EventFd.createNonBlocking();
                        eventFds.add(e);
                        if (data.consumeBoolean()) {
                            e.signal(1);
                        }
                        fds[i] = e.fd();
                    }
                }
                frontend.send(new VhostUserMessage(code, flags, payload), fds);
                try {
                    if (!backend.receiveOne()) {
                        return;
                    }
                } catch (VhostUserException e) {
                    return; // the connection is dropped by name: the expected end of bad input
                }
                drainReplies(pair.first());
            }
        } finally {
            eventFds.forEach(EventFd::close);
        }
    }

    private static final int RING = 8;
    private static final long DESC = 0x1000;
    private static final long AVAIL = 0x2000;
    private static final long USED = 0x3000;
    private static final long REQUEST = 0x4000;

    private static final int[] TYPES = {0, 1, 4, 8, 11, 13, 99};
    /** Descriptor lengths a driver uses: the header, the status byte, sectors, segments; and odd ones. */
    private static final int[] LENGTHS = {16, 1, 512, 1024, 32, 0, 17, 513, 4096};

    /** 1-3 chains of 1-4 descriptors in the request area, a virtio-blk header in each, made available. */
    private static void chains(FuzzedDataProvider data) {
        int chains = data.consumeInt(1, 3);
        int d = 0;
        for (int c = 0; c < chains && d < RING; c++) {
            int head = d;
            long at = REQUEST + 0x1000L * c;
            RAM_VIEW.set(ValueLayout.JAVA_INT_UNALIGNED, at, TYPES[data.consumeInt(0, TYPES.length - 1)]);
            RAM_VIEW.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 8, data.consumeBoolean() ? data.consumeLong() : data.consumeLong(0, 80));
            put(at + 16, data.consumeBytes(48));
            int n = data.consumeInt(1, 4);
            for (int i = 0; i < n && d < RING; i++, d++) {
                long desc = DESC + 16L * d;
                boolean last = i == n - 1 || d == RING - 1;
                RAM_VIEW.set(ValueLayout.JAVA_LONG_UNALIGNED, desc, data.consumeInt(0, 9) == 0 ? data.consumeLong()
                    : at + (data.consumeBoolean() ? 0 : data.consumeInt(0, 0xFFF)));
                RAM_VIEW.set(ValueLayout.JAVA_INT_UNALIGNED, desc + 8, data.consumeInt(0, 9) == 0 ? data.consumeInt()
                    : LENGTHS[data.consumeInt(0, LENGTHS.length - 1)]);
                int flags = (last ? 0 : 1) | (data.consumeBoolean() ? 2 : 0) | (data.consumeInt(0, 15) == 0 ? 4 : 0);
                RAM_VIEW.set(ValueLayout.JAVA_SHORT_UNALIGNED, desc + 12, (short) flags);
                RAM_VIEW.set(ValueLayout.JAVA_SHORT_UNALIGNED, desc + 14, (short) (data.consumeInt(0, 15) == 0
                    ? data.consumeInt(0, 0xFFFF) : d + 1));
            }
            RAM_VIEW.set(ValueLayout.JAVA_SHORT_UNALIGNED, AVAIL + 4 + 2L * c, (short) head);
            RAM_VIEW.set(ValueLayout.JAVA_SHORT_UNALIGNED, AVAIL + 2, (short) (c + 1));
        }
    }

    private static void put(long at, byte[] bytes) {
        MemorySegment.copy(bytes, 0, RAM_VIEW, ValueLayout.JAVA_BYTE, at, bytes.length);
    }

    /** What a frontend sends to start ring 0 over the whole memfd (with or without EVENT_IDX and INDIRECT_DESC). */
    private static void setUp(VhostUserChannel frontend, VhostUserBackend backend, Fd socket, EventFd kick, EventFd call,
                              boolean ringFeatures) throws Exception {
        long features = (1L << 32) | (ringFeatures ? (1L << 29) | (1L << 28) : 0);
        step(frontend, backend, socket, VhostUserRequest.SET_FEATURES, VhostUserMessage.u64(features));
        step(frontend, backend, socket, VhostUserRequest.SET_MEM_TABLE,
            VhostUserMessage.memoryTable(List.of(new VhostUserMessage.MemoryRegion(0, RAM, QVA, 0))), MEMFD.fd());
        step(frontend, backend, socket, VhostUserRequest.SET_VRING_NUM, new VhostUserMessage.VringState(0, RING).encode());
        step(frontend, backend, socket, VhostUserRequest.SET_VRING_ADDR,
            new VhostUserMessage.VringAddress(0, 0, QVA + DESC, QVA + USED, QVA + AVAIL, 0).encode());
        step(frontend, backend, socket, VhostUserRequest.SET_VRING_CALL, VhostUserMessage.u64(0), call.fd());
        step(frontend, backend, socket, VhostUserRequest.SET_VRING_KICK, VhostUserMessage.u64(0), kick.fd());
    }

    private static void step(VhostUserChannel frontend, VhostUserBackend backend, Fd socket, VhostUserRequest r,
                             byte[] payload, int... fds) throws Exception {
        frontend.send(VhostUserMessage.request(r, payload), fds);
        backend.receiveOne();
        drainReplies(socket);
    }

    /** A payload for {@code r}: its layout with fuzzed values (small ones mostly, to reach the rings), or raw bytes. */
    private static byte[] payload(VhostUserRequest r, FuzzedDataProvider data) {
        if (r == null || data.consumeInt(0, 5) == 0) {
            return data.consumeBytes(data.consumeInt(0, 300));
        }
        return switch (r) {
            case SET_FEATURES, SET_PROTOCOL_FEATURES -> VhostUserMessage.u64(data.consumeBoolean() ? data.consumeLong()
                : (1L << 32) | (1L << 30) | (data.consumeBoolean() ? 0x209 : (1L << 29) | (1L << 28)));
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> VhostUserMessage.u64(data.consumeInt(0, 0x1FF));
            case SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ENABLE, GET_VRING_BASE -> new VhostUserMessage.VringState(
                data.consumeInt(0, 2), data.consumeBoolean() ? data.consumeInt() : data.consumeInt(0, 16)).encode();
            case SET_VRING_ADDR -> new VhostUserMessage.VringAddress(data.consumeInt(0, 2), 0, QVA + data.consumeLong(0, RAM),
                QVA + data.consumeLong(0, RAM), QVA + data.consumeLong(0, RAM), 0).encode();
            case SET_MEM_TABLE -> {
                List<VhostUserMessage.MemoryRegion> regions = new ArrayList<>();
                int count = data.consumeInt(1, 2);
                for (int i = 0; i < count; i++) {
                    regions.add(new VhostUserMessage.MemoryRegion(data.consumeLong(0, 2 * RAM), data.consumeLong(0, RAM + 1),
                        QVA + data.consumeLong(0, 2 * RAM), data.consumeLong(0, RAM)));
                }
                yield VhostUserMessage.memoryTable(regions);
            }
            case GET_CONFIG, SET_CONFIG -> {
                byte[] bytes = new byte[data.consumeInt(0, 256)];
                yield ByteBuffer.allocate(12 + bytes.length).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .putInt(data.consumeInt(0, 300)).putInt(bytes.length).putInt(0).put(bytes).array();
            }
            default -> new byte[0];
        };
    }

    /** Reads and drops what the backend replied, so its socket never fills. */
    private static void drainReplies(Fd socket) throws SysException {
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined();
             org.jvisor.sys.Poll p = new org.jvisor.sys.Poll(1)) {
            MemorySegment buf = a.allocate(4096);
            p.watch(0, socket.fd(), org.jvisor.sys.Poll.POLLIN);
            while (p.await(0) > 0) {
                if (socket.read(buf) <= 0) {
                    return;
                }
            }
        }
    }
}
