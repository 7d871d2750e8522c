package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.BlockImages;
import org.jvisor.backend.block.CacheMode;
import org.jvisor.export.VhostUserBlkDevice;
import org.jvisor.export.VhostUserServer;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;
import org.jvisor.memory.RamBacking;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Sockets;

/**
 * jvisor's vhost-user-blk device (the VMM side) against jvisor's own backend on a real Unix
 * socket: the driver's writes reach the image through the backend and its reads come back; a
 * frontend that goes away mid-run, or breaks the protocol, leaves the backend serving the next.
 */
class VhostUserOwnBackendTest {
    /** A hang guard for what other threads do, not a performance limit. */
    private static final long GUARD_MILLIS = 60_000;
    private static final long HEADER = Driver.DATA;
    private static final long BUFFER = Driver.DATA + 0x1000;
    private static final long STATUS = Driver.DATA + 0x2000;

    @TempDir
    Path dir;
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final List<String> backendLog = new CopyOnWriteArrayList<>();
    private Path image;
    private Path socket;
    private BlockBackend disk;
    private VhostUserServer server;
    private Thread serving;

    @BeforeEach
    void startBackend() throws Exception {
        image = dir.resolve("disk.raw");
        byte[] bytes = new byte[1 << 20];
        System.arraycopy("MAGIC-FROM-THE-HOST".getBytes(StandardCharsets.US_ASCII), 0, bytes, 0, 19);
        Files.write(image, bytes);
        disk = BlockImages.open(image, "raw", false, CacheMode.WRITEBACK, false, backendLog::add);
        socket = dir.resolve("vu.sock");
        server = VhostUserServer.listen(socket, new VhostUserBlkDevice(disk, 1, "own", backendLog::add), backendLog::add);
        serving = Thread.ofPlatform().daemon().start(() -> {
            try {
                server.run();
            } catch (Exception e) {
                backendLog.add("server failed: " + e);
            }
        });
    }

    @AfterEach
    void stopBackend() throws Exception {
        server.stop();
        serving.join(GUARD_MILLIS);
        server.close();
        disk.close();
        assertTrue(!Files.exists(socket), "the socket is removed at the end");
    }

    private VhostUserDevice open(GuestMemory ram) throws Exception {
        return VhostUserDevice.open(new VhostUserDevice.Options(new VhostUserKind.Blk(1, false), socket, 0, 8), ram, log::add,
            "vhost-user-blk0");
    }

    private static GuestMemory memfdRam() {
        return GuestMemory.allocate(2L << 20, new RamBacking.Memfd("test", true, false));
    }

    private static void await(BooleanSupplier condition, String what, List<String> log) throws InterruptedException {
        long end = System.currentTimeMillis() + GUARD_MILLIS;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > end) {
                throw new AssertionError("hang guard: " + what + "; log " + log);
            }
            Thread.sleep(5);
        }
    }

    /** One request of {@code type} at {@code sector} over {@code len} bytes at BUFFER, completed. */
    private void io(Driver d, int type, long sector, int len) throws InterruptedException {
        d.ram.writeU32(HEADER, type);
        d.ram.writeU32(HEADER + 4, 0);
        d.ram.writeU64(HEADER + 8, sector);
        d.ram.writeU8(STATUS, (byte) 0xFF);
        d.desc(0, HEADER, 16, SplitVirtqueue.DESC_F_NEXT, 1);
        d.desc(1, BUFFER, len, SplitVirtqueue.DESC_F_NEXT | (type == VirtioBlk.T_IN ? SplitVirtqueue.DESC_F_WRITE : 0), 2);
        d.desc(2, STATUS, 1, SplitVirtqueue.DESC_F_WRITE, 0);
        int before = d.usedIdx();
        d.offer(0);
        d.kick(0);
        await(() -> d.usedIdx() == before + 1, "request type " + type + " completes", backendLog);
        assertEquals(VirtioBlk.S_OK, d.ram.readU8(STATUS), "status; log " + backendLog);
    }

    private static byte[] pattern() {
        StringBuilder s = new StringBuilder();
        for (int i = 0; s.length() < 1024; i++) {
            s.append(String.format("jvisor-pattern-%04d", i));
        }
        return Arrays.copyOf(s.toString().getBytes(StandardCharsets.US_ASCII), 1024);
    }

    @Test
    void jvisorsDeviceReadsAndWritesThroughJvisorsBackend() throws Exception {
        GuestMemory ram = memfdRam();
        try (VhostUserDevice dev = open(ram); Driver d = new Driver(ram, dev, 8, IdentityDma::new)) {
            assertEquals(2048, d.mmio.read(VirtioMmioTransport.CONFIG, 8), "capacity from the backend's GET_CONFIG");
            d.start();
            io(d, VirtioBlk.T_IN, 0, 512);
            byte[] b = new byte[19];
            d.ram.read(BUFFER, b, 0, 19);
            assertEquals("MAGIC-FROM-THE-HOST", new String(b, StandardCharsets.US_ASCII));
            d.ram.write(BUFFER, pattern());
            io(d, VirtioBlk.T_OUT, 100, 1024);
            io(d, VirtioBlk.T_FLUSH, 0, 0);
            assertTrue(Arrays.equals(pattern(), Arrays.copyOfRange(Files.readAllBytes(image), 100 * 512, 100 * 512 + 1024)),
                "the bytes reached the image file");
        }
    }

    @Test
    void theNextFrontendIsServedAfterOneGoesAwayMidRunOrBreaksTheProtocol() throws Exception {
        GuestMemory ram = memfdRam();
        try (VhostUserDevice dev = open(ram); Driver d = new Driver(ram, dev, 8, IdentityDma::new)) {
            d.start();
            d.ram.write(BUFFER, pattern());
            io(d, VirtioBlk.T_OUT, 200, 1024);
            // the frontend dies with its rings running: no GET_VRING_BASE, the socket just closes
        }
        await(() -> backendLog.stream().anyMatch(l -> l.contains("frontend 1") && l.contains("disconnected; waiting for the next")),
            "the backend notices", backendLog);

        try (Fd garbage = Sockets.connect(socket.toString())) {
            byte[] junk = {1, 0, 0, 0, 1, 0, 0, 0, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x7F};
            java.lang.foreign.MemorySegment m = java.lang.foreign.Arena.global().allocate(junk.length);
            java.lang.foreign.MemorySegment.copy(junk, 0, m, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, junk.length);
            garbage.write(m);
            await(() -> backendLog.stream().anyMatch(l -> l.contains("frontend 2") && l.contains("exceeds the maximum")
                && l.contains("connection dropped")), "the malformed frontend is dropped", backendLog);
        }

        GuestMemory ram2 = memfdRam();
        try (VhostUserDevice dev = open(ram2); Driver d = new Driver(ram2, dev, 8, IdentityDma::new)) {
            d.start();
            io(d, VirtioBlk.T_IN, 200, 1024);
            byte[] back = new byte[1024];
            d.ram.read(BUFFER, back, 0, back.length);
            assertTrue(Arrays.equals(pattern(), back), "the third frontend reads what the first wrote");
        }
        assertEquals(3, server.connections());
    }
}
