package org.jvisor.backend.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.jvisor.config.MacAddress;
import org.jvisor.devices.virtio.VirtioNet;

/**
 * -netdev stream on real unix sockets, with a Java peer speaking the framing: frames both ways
 * (a zero header in front of received ones), a server that takes the next peer when one goes, a
 * peer announcing a bogus length disconnected with a message while the backend goes on, a peer
 * that never reads costing dropped frames rather than a blocked sender, and no offloads offered.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)     // hang guard only
class StreamNetBackendTest {
    private static final int HDR = 12;
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final Semaphore frameWaiting = new Semaphore(0);
    private final Path dir;
    private StreamNetBackend backend;

    StreamNetBackendTest() throws IOException {
        dir = Files.createTempDirectory("jvisor-stream-test");
    }

    @AfterEach
    void close() throws IOException {
        if (backend != null) {
            backend.close();
        }
        Files.deleteIfExists(dir.resolve("s"));
        Files.delete(dir);
    }

    private StreamNetBackend server() throws IOException {
        backend = StreamNetBackend.open("-netdev stream,id=s", true, new StreamNetBackend.Address.Unix(dir.resolve("s")),
            HDR, log::add);
        backend.setReceiveListener(frameWaiting::release);
        return backend;
    }

    private SocketChannel peer() throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.connect(UnixDomainSocketAddress.of(dir.resolve("s")));
        return c;
    }

    private static void sendFramed(SocketChannel c, byte[] frame) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 + frame.length).putInt(frame.length).put(frame).flip();
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    private static byte[] readFramed(SocketChannel c) throws IOException {
        ByteBuffer len = ByteBuffer.allocate(4);
        while (len.hasRemaining()) {
            if (c.read(len) < 0) {
                throw new IOException("end of stream");
            }
        }
        ByteBuffer f = ByteBuffer.allocate(len.flip().getInt());
        while (f.hasRemaining()) {
            if (c.read(f) < 0) {
                throw new IOException("end of stream in a frame");
            }
        }
        return f.array();
    }

    /** The next frame as the device gets it: arm, wait for the call, receive (header included). */
    private byte[] receiveFrame() throws InterruptedException {
        byte[] buf = new byte[HDR + StreamNetBackend.MAX_FRAME];
        while (true) {
            int n = backend.receive(buf);
            if (n > 0) {
                return Arrays.copyOf(buf, n);
            }
            if (!backend.connected()) {
                return null;
            }
            backend.armReceive();
            frameWaiting.acquire();
        }
    }

    private static byte[] withHeader(byte[] frame) {
        byte[] b = new byte[HDR + frame.length];
        Arrays.fill(b, 0, HDR, (byte) 0x5a);
        System.arraycopy(frame, 0, b, HDR, frame.length);
        return b;
    }

    private static byte[] frame(int len, int seed) {
        byte[] f = new byte[len];
        new Random(seed).nextBytes(f);
        return f;
    }

    private void awaitConnected(boolean want) throws InterruptedException {
        while (backend.connected() != want) {
            Thread.sleep(5);
        }
    }

    @Test
    void framesCrossBothWaysAndTheServerTakesTheNextPeer() throws Exception {
        server();
        for (int round = 0; round < 2; round++) {
            try (SocketChannel p = peer()) {
                awaitConnected(true);
                byte[] out = frame(1514, round);
                backend.send(withHeader(out), HDR + out.length);
                assertArrayEquals(out, readFramed(p), "the peer gets the frame without the virtio-net header");
                byte[] in = frame(StreamNetBackend.MAX_FRAME, 10 + round);
                sendFramed(p, in);
                sendFramed(p, new byte[] {1, 2, 3});
                byte[] got = receiveFrame();
                assertArrayEquals(new byte[HDR], Arrays.copyOf(got, HDR), "a zero header: no offload");
                assertArrayEquals(in, Arrays.copyOfRange(got, HDR, got.length));
                assertArrayEquals(new byte[] {1, 2, 3}, Arrays.copyOfRange(receiveFrame(), HDR, HDR + 3));
            }
            assertEquals(null, receiveFrame(), "the peer left");
            awaitConnected(false);
        }
        assertEquals(2, backend.disconnects());
        assertTrue(log.stream().anyMatch(l -> l.contains("the peer closed the connection; waiting for a new peer")), log.toString());
    }

    @Test
    void aPeerAnnouncingABogusLengthIsDisconnectedAndTheNextIsServed() throws Exception {
        server();
        for (int bogus : new int[] {0, 0x7fff_ffff, StreamNetBackend.MAX_FRAME + 1}) {
            try (SocketChannel p = peer()) {
                awaitConnected(true);
                sendFramed(p, new byte[] {9, 9});
                p.write(ByteBuffer.allocate(8).putInt(bogus).putInt(0).flip());
                assertArrayEquals(new byte[] {9, 9}, Arrays.copyOfRange(receiveFrame(), HDR, HDR + 2), "frames before it arrive");
                assertEquals(null, receiveFrame());
                assertEquals(-1, p.read(ByteBuffer.allocate(1)), "the peer sees the connection closed");
            }
            String line = "-netdev stream,id=s: the peer announced a frame of " + Integer.toUnsignedLong(bogus) + " bytes";
            assertTrue(log.stream().anyMatch(l -> l.startsWith(line) && l.contains("disconnected")), log.toString());
        }
        try (SocketChannel p = peer()) {
            awaitConnected(true);
            sendFramed(p, new byte[] {4, 5, 6, 7});
            assertArrayEquals(new byte[] {4, 5, 6, 7}, Arrays.copyOfRange(receiveFrame(), HDR, HDR + 4));
        }
    }

    @Test
    void aPeerThatNeverReadsCostsDroppedFramesNotABlockedSender() throws Exception {
        server();
        try (SocketChannel p = peer()) {
            awaitConnected(true);
            byte[] big = withHeader(frame(StreamNetBackend.MAX_FRAME, 1));
            for (int i = 0; i < 200; i++) {     // 13 MB: far beyond the socket's and the queue's room
                backend.send(big, big.length);
            }
            assertTrue(backend.txDropped() > 0);
            assertTrue(log.stream().anyMatch(l -> l.contains("the peer is not reading")), log.toString());
            // What was queued still arrives in order once the peer reads.
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(Arrays.copyOfRange(big, HDR, big.length), readFramed(p));
            }
        }
    }

    @Test
    void aClientWithNoServerIsRefusedWithAHint() {
        var e = assertThrows(IOException.class, () -> StreamNetBackend.open("-netdev stream,id=c", false,
            new StreamNetBackend.Address.Unix(dir.resolve("s")), HDR, log::add));
        assertTrue(e.getMessage().startsWith("-netdev stream,id=c: connect(") && e.getMessage().contains("is the peer listening"),
            e.getMessage());
    }

    @Test
    void aServerReplacesAStaleSocketButNeverAnotherFile() throws Exception {
        Files.writeString(dir.resolve("s"), "data");
        var e = assertThrows(IOException.class, this::server);
        assertTrue(e.getMessage().contains("exists and is not a socket"), e.getMessage());
        Files.delete(dir.resolve("s"));
        server().close();
        backend = null;
        assertFalse(Files.exists(dir.resolve("s")), "the server removes its socket");
    }

    @Test
    void theDeviceOffersNoOffloadToAGuestOfAStreamPeer() throws Exception {
        long features = new VirtioNet(server(), MacAddress.parse("52:54:00:12:34:56")).deviceFeatures();
        for (int bit : new int[] {VirtioNet.F_CSUM, VirtioNet.F_GUEST_CSUM, VirtioNet.F_HOST_TSO4, VirtioNet.F_GUEST_TSO4}) {
            assertEquals(0, features & (1L << bit), "feature " + bit);
        }
        assertTrue((features & (1L << VirtioNet.F_MRG_RXBUF)) != 0);
    }

    @Test
    void sendingToAPeerThatLeftDisconnectsItAndNothingElse() throws Exception {
        server();
        try (SocketChannel p = peer()) {
            awaitConnected(true);
        }
        byte[] f = withHeader(frame(1000, 3));
        while (backend.connected()) {    // EPIPE (never SIGPIPE) once the kernel knows the peer is gone
            backend.send(f, f.length);
            Thread.sleep(1);
        }
        assertEquals(1, backend.disconnects());
        try (SocketChannel p = peer()) {
            awaitConnected(true);
            backend.send(f, f.length);
            assertArrayEquals(Arrays.copyOfRange(f, HDR, f.length), readFramed(p));
        }
    }

    @Test
    void twoBackendsOverTcpExchangeFrames() throws Exception {
        int port;
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        backend = StreamNetBackend.open("-netdev stream,id=s", true, new StreamNetBackend.Address.Inet("127.0.0.1", port),
            HDR, log::add);
        backend.setReceiveListener(frameWaiting::release);
        try (StreamNetBackend client = StreamNetBackend.open("-netdev stream,id=c", false,
                new StreamNetBackend.Address.Inet("127.0.0.1", port), HDR, log::add)) {
            awaitConnected(true);
            byte[] f = frame(9000, 5);
            client.send(withHeader(f), HDR + f.length);
            assertArrayEquals(f, Arrays.copyOfRange(receiveFrame(), HDR, HDR + f.length));
        }
        assertEquals(null, receiveFrame(), "the client closed");
    }

    @Test
    void anInheritedConnectedSocketIsAClientAndAListeningOneIsRefused() throws Exception {
        server();
        var pair = org.jvisor.sys.Sockets.socketPair(org.jvisor.sys.Sockets.SOCK_STREAM);
        // The backend takes ownership of the first descriptor, as of one passed by a parent process.
        try (StreamNetBackend c = StreamNetBackend.open("-netdev stream,id=fd", false,
                new StreamNetBackend.Address.Inherited(pair.first().fd()), HDR, log::add)) {
            byte[] f = frame(100, 6);
            c.send(withHeader(f), HDR + f.length);
            byte[] got = new byte[4 + f.length];
            assertEquals(got.length, pair.second().read(java.lang.foreign.Arena.ofAuto().allocate(got.length)));
        } finally {
            pair.second().close();
        }
        var e = assertThrows(IOException.class, () -> StreamNetBackend.open("-netdev stream,id=fd", false,
            new StreamNetBackend.Address.Inherited(999), HDR, log::add));
        assertTrue(e.getMessage().contains("no such descriptor"), e.getMessage());
    }
}
