package org.jvisor.backend.chr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** -chardev socket,server=on: one client at a time, reconnects, connection events, no output without a client. */
class UnixSocketServerBackendTest {
    /** A watchdog, not a performance limit. */
    private static final long WAIT_SECONDS = 60;

    @TempDir
    Path dir;

    /** Records what the backend delivers. */
    static final class Recorder implements CharBackend.Sink {
        final ByteArrayOutputStream input = new ByteArrayOutputStream();
        final LinkedBlockingQueue<Object> events = new LinkedBlockingQueue<>();

        @Override
        public void receive(byte[] data, int length) {
            synchronized (input) {
                input.write(data, 0, length);
            }
            events.add(new String(data, 0, length, StandardCharsets.ISO_8859_1));
        }

        @Override
        public void connectionChanged(boolean connected) {
            events.add(connected);
        }

        Object next() throws InterruptedException {
            Object e = events.poll(WAIT_SECONDS, TimeUnit.SECONDS);
            assertTrue(e != null, "watchdog: no event from the backend");
            return e;
        }
    }

    static SocketChannel connect(Path p) throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.connect(UnixDomainSocketAddress.of(p));
        return c;
    }

    static String read(SocketChannel c, int bytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(bytes);
        while (b.hasRemaining() && c.read(b) > 0) {
            // until all arrived
        }
        return new String(b.array(), 0, b.position(), StandardCharsets.ISO_8859_1);
    }

    @Test
    void clientsComeAndGoAndOutputReachesTheConnectedOne() throws Exception {
        Path p = dir.resolve("c.sock");
        List<String> log = new ArrayList<>();
        UnixSocketServerBackend b = UnixSocketServerBackend.listen(p, false, log::add);
        Recorder r = new Recorder();
        try {
            assertFalse(b.connected());
            b.start(r);
            b.write("dropped: nobody listens".getBytes(StandardCharsets.US_ASCII), 0, 23);

            try (SocketChannel c = connect(p)) {
                assertEquals(true, r.next());
                assertTrue(b.connected());
                c.write(ByteBuffer.wrap("ls\n".getBytes(StandardCharsets.US_ASCII)));
                assertEquals("ls\n", r.next());
                b.write("bin\n".getBytes(StandardCharsets.US_ASCII), 0, 4);
                b.write('$');
                assertEquals("bin\n$", read(c, 5), "only what was written while connected");
            }
            assertEquals(false, r.next());

            try (SocketChannel c = connect(p)) {
                assertEquals(true, r.next(), "the next client is accepted");
                c.write(ByteBuffer.wrap("again".getBytes(StandardCharsets.US_ASCII)));
                assertEquals("again", r.next());
            }
            assertEquals(false, r.next());
        } finally {
            b.close();
        }
        assertFalse(Files.exists(p), "the socket file is removed at close");
    }

    @Test
    void aStaleSocketIsReplacedAndOtherFilesAreRefused() throws Exception {
        Path p = dir.resolve("stale.sock");
        UnixSocketServerBackend first = UnixSocketServerBackend.listen(p, false, msg -> { });
        // A crashed jvisor leaves its socket behind: simulate by reusing the path without close().
        UnixSocketServerBackend second = UnixSocketServerBackend.listen(p, false, msg -> { });
        second.close();
        first.close();

        Path file = dir.resolve("notes.txt");
        Files.writeString(file, "keep me");
        IOException e = assertThrows(IOException.class, () -> UnixSocketServerBackend.listen(file, false, msg -> { }));
        assertTrue(e.getMessage().contains("is not a socket"), e.getMessage());
        assertEquals("keep me", Files.readString(file));
    }

    /**
     * A client that connects and never reads must not hold the writer (a vCPU writing the UART,
     * which must stay free to pause or quit): writes wait for room a bounded time, then output is
     * dropped and said so; close() still returns.
     */
    @Test
    void aClientThatStopsReadingCannotHoldTheWriter() throws Exception {
        Path p = dir.resolve("stuck.sock");
        List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
        UnixSocketServerBackend b = UnixSocketServerBackend.listen(p, false, log::add);
        Recorder r = new Recorder();
        b.start(r);
        try (SocketChannel c = connect(p)) {
            assertEquals(true, r.next());
            byte[] chunk = new byte[4096];
            Thread writer = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 1024; i++) {   // 4 MiB: far more than the buffer and the socket hold
                    b.write(chunk, 0, chunk.length);
                }
            });
            writer.join(java.time.Duration.ofMinutes(5));  // a hang guard, not a time limit
            assertFalse(writer.isAlive(), "the writer is held by a client that does not read");
            assertTrue(log.stream().anyMatch(m -> m.contains("the client does not read")), log.toString());
            b.close();
        }
    }

    /**
     * Offers bytes (0, 1, ... mod 251 from {@code offered}) until the buffer and the socket are
     * full: the writer thread keeps moving bytes to the socket while the kernel has room, so it
     * fills until a pause brings no more room. Returns the count offered.
     */
    private static long fillUntilStalled(UnixSocketServerBackend b, long offered) throws InterruptedException {
        long before = -1;
        while (before != offered) {
            before = offered;
            while (b.offer((int) (offered % 251))) {
                offered++;
            }
            Thread.sleep(200);
            if (b.offer((int) (offered % 251))) {
                offered++;
            }
        }
        return offered;
    }

    /**
     * A slow client: offer refuses a byte while the buffer is full (never blocking the caller),
     * the callback comes once the client reads, and every byte arrives in order.
     */
    @Test
    void offerRefusesWhileFullAndCallsBackWhenTheClientReads() throws Exception {
        Path p = dir.resolve("slow.sock");
        UnixSocketServerBackend b = UnixSocketServerBackend.listen(p, false, msg -> { });
        Recorder r = new Recorder();
        b.start(r);
        try (SocketChannel c = connect(p)) {
            assertEquals(true, r.next());
            long offered = 0;
            java.util.concurrent.CountDownLatch room = new java.util.concurrent.CountDownLatch(1);
            offered = fillUntilStalled(b, 0);
            assertTrue(offered >= 64 * 1024, "the buffer took " + offered);
            b.whenWritable(room::countDown);
            assertEquals(1, room.getCount(), "no room until the client reads");
            boolean inOrder = readInOrder(c, offered);
            assertTrue(room.await(60, java.util.concurrent.TimeUnit.SECONDS), "the callback came");
            assertTrue(inOrder, "every byte, in order");
            assertTrue(b.offer(7), "room again");
            b.close();
        }
    }

    /**
     * A client that reads nothing for many stall periods: offers stay refused and no callback
     * comes (nothing is dropped behind the device's back); when it reads at last, the callback
     * comes and every byte arrives, in order.
     */
    @Test
    void aStalledClientHoldsTheDeviceBackAndLosesNothing() throws Exception {
        Path p = dir.resolve("stalled.sock");
        List<String> log = java.util.Collections.synchronizedList(new ArrayList<>());
        UnixSocketServerBackend b = UnixSocketServerBackend.listen(p, false, log::add);
        Recorder r = new Recorder();
        b.start(r);
        try (SocketChannel c = connect(p)) {
            assertEquals(true, r.next());
            long offered = fillUntilStalled(b, 0);
            java.util.concurrent.CountDownLatch room = new java.util.concurrent.CountDownLatch(1);
            b.whenWritable(room::countDown);
            assertFalse(room.await(3 * UnixSocketServerBackend.STALL_NANOS, TimeUnit.NANOSECONDS),
                "no callback while the client reads nothing");
            byte[] more = {(byte) (offered % 251), (byte) ((offered + 1) % 251)};
            assertEquals(0, b.offer(more, 0, 2), "still full: nothing taken, nothing dropped");
            boolean inOrder = readInOrder(c, offered);
            assertTrue(room.await(WAIT_SECONDS, TimeUnit.SECONDS), "watchdog: the callback came once the client read");
            assertTrue(inOrder, "every byte, in order");
            assertEquals(2, b.offer(more, 0, 2), "room again");
            assertEquals(0, log.size(), log.toString());
            b.close();
        }
    }

    /** A client that goes away while the buffer is full: the waiting device is told, and output is dropped as with no client. */
    @Test
    void aClientThatLeavesWhileFullReleasesTheDevice() throws Exception {
        Path p = dir.resolve("gone.sock");
        UnixSocketServerBackend b = UnixSocketServerBackend.listen(p, false, msg -> { });
        Recorder r = new Recorder();
        b.start(r);
        try {
            java.util.concurrent.CountDownLatch room = new java.util.concurrent.CountDownLatch(1);
            try (SocketChannel c = connect(p)) {
                assertEquals(true, r.next());
                fillUntilStalled(b, 0);
                b.whenWritable(room::countDown);
                assertEquals(1, room.getCount());
            }
            assertEquals(false, r.next());
            assertTrue(room.await(WAIT_SECONDS, TimeUnit.SECONDS), "watchdog: the callback came when the client left");
            assertTrue(b.offer(1), "no client: taken and dropped");
        } finally {
            b.close();
        }
    }

    /** Reads {@code count} bytes from {@code c}: whether they are 0, 1, 2 ... modulo 251, in order. */
    private static boolean readInOrder(SocketChannel c, long count) throws IOException {
        ByteBuffer in = ByteBuffer.allocate(1 << 16);
        long got = 0;
        boolean inOrder = true;
        while (got < count) {
            in.clear();
            int n = c.read(in);
            if (n < 0) {
                return false;   // the server closed before all came
            }
            for (int i = 0; i < n; i++) {
                inOrder &= (in.get(i) & 0xFF) == (got + i) % 251;
            }
            got += n;
        }
        return inOrder && got == count;
    }
}
