package org.jvisor.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.backend.vhost.VhostUserFrontend;
import org.jvisor.backend.vhost.VhostUserChannel;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Sockets;

/** The backend program's socket conventions: --fd with a connected socket, a stale socket replaced, SIGTERM's stop. */
class VhostUserServerTest {
    /** A hang guard, not a performance limit. */
    private static final long GUARD_SECONDS = 60;

    @TempDir
    Path dir;
    private final List<String> log = new CopyOnWriteArrayList<>();
    private BlockBackend disk;
    private VhostUserBlkDevice device;

    @BeforeEach
    void open() throws Exception {
        Path image = dir.resolve("disk.raw");
        Files.write(image, new byte[64 * 512]);
        disk = BlockImages.open(image, "raw", true, CacheMode.WRITEBACK, false, log::add);
        device = new VhostUserBlkDevice(disk, 1, "s", log::add);
    }

    @AfterEach
    void close() throws Exception {
        disk.close();
    }

    private static CompletableFuture<Void> run(VhostUserServer server) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                server.run();
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        return done;
    }

    @Test
    void anInheritedConnectedSocketIsServedOnce() throws Exception {
        Sockets.Pair pair = Sockets.socketPair(Sockets.SOCK_STREAM);
        // the server owns the second end from here, as a backend started with --fd=N does
        try (VhostUserServer server = VhostUserServer.inherit(pair.second().fd(), device, log::add)) {
            CompletableFuture<Void> done = run(server);
            try (VhostUserFrontend f = new VhostUserFrontend(new VhostUserChannel(pair.first(), "test", 60_000))) {
                VhostUserFrontend.Handshake hs = f.handshake(60);
                assertTrue((hs.features() & (1L << 5)) != 0, "a read-only image offers VIRTIO_BLK_F_RO");
                assertEquals(64, java.nio.ByteBuffer.wrap(hs.config()).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0));
            }
            done.get(GUARD_SECONDS, TimeUnit.SECONDS);
            assertEquals(1, server.connections());
            assertTrue(log.stream().anyMatch(l -> l.endsWith("descriptor " + pair.second().fd() + ": disconnected")), log.toString());
        }
    }

    @Test
    void aStaleSocketIsReplacedAndAnyOtherFileIsNot() throws Exception {
        Path sock = dir.resolve("vu.sock");
        Fd stale = Sockets.listen(sock.toString(), 1);
        stale.close(); // a backend that died leaves its socket file behind
        try (VhostUserServer server = VhostUserServer.listen(sock, device, log::add)) {
            CompletableFuture<Void> done = run(server);
            try (Fd c = Sockets.connect(sock.toString())) {
                assertTrue(c.fd() >= 0);
            }
            server.stop();
            done.get(GUARD_SECONDS, TimeUnit.SECONDS);
        }
        assertFalse(Files.exists(sock), "removed at the end");
        Path file = dir.resolve("not-a-socket");
        Files.writeString(file, "data");
        IOException e = assertThrows(IOException.class, () -> VhostUserServer.listen(file, device, log::add));
        assertTrue(e.getMessage().contains("exists and is not a socket"), e.getMessage());
        assertEquals("data", Files.readString(file));
    }
}
