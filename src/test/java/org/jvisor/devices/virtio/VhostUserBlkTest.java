package org.jvisor.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.jvisor.backend.vhost.VhostUserMessage;
import org.jvisor.backend.vhost.VhostUserRequest;
import org.jvisor.memory.GuestMemory;
import org.jvisor.memory.IdentityDma;
import org.jvisor.memory.RamBacking;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Sockets;
import org.jvisor.testing.ScriptedVhostUserBackend;

/**
 * The vhost-user-blk device against scripted backends on a real Unix socket: a backend that
 * refuses the rings or goes away leaves a disk whose requests complete with VIRTIO_BLK_S_IOERR
 * (the test, the VMM, runs on), and one that comes back gets the rings again from the used index.
 */
class VhostUserBlkTest {
    private static final long STATUS = Driver.DATA + 0x2000;
    /** A hang guard for what other threads do, not a performance limit. */
    private static final long GUARD_MILLIS = 60_000;

    @TempDir
    Path dir;
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final BlockingQueue<ScriptedVhostUserBackend> backends = new LinkedBlockingQueue<>();
    private Fd listener;
    private Thread acceptor;

    /** Listens at dir/vu.sock; each connection is served by {@code script}. */
    private Path listen(Function<VhostUserMessage, byte[]> script) throws Exception {
        Path sock = dir.resolve("vu.sock");
        listener = Sockets.listen(sock.toString(), 4);
        acceptor = Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    backends.add(new ScriptedVhostUserBackend(Sockets.accept(listener), script));
                }
            } catch (Exception e) {
                // listener closed
            }
        });
        return sock;
    }

    @AfterEach
    void stop() throws Exception {
        if (listener != null) {
            listener.close();
        }
        for (ScriptedVhostUserBackend b : backends) {
            b.close();
        }
    }

    private VhostUserDevice open(Path sock, int reconnect, GuestMemory ram) throws Exception {
        return VhostUserDevice.open(new VhostUserDevice.Options(new VhostUserKind.Blk(1, true), sock, reconnect, 8), ram, log::add,
            "vhost-user-blk0");
    }

    private static GuestMemory memfdRam() {
        return GuestMemory.allocate(2L << 20, new RamBacking.Memfd("test", true, false));
    }

    /** A read of sector 0: header, 512 bytes to fill, the status byte (preset to 0xFF). */
    private static void offerRead(Driver d) {
        d.desc(0, Driver.DATA, 16, SplitVirtqueue.DESC_F_NEXT, 1);
        d.desc(1, Driver.DATA + 0x1000, 512, SplitVirtqueue.DESC_F_NEXT | SplitVirtqueue.DESC_F_WRITE, 2);
        d.desc(2, STATUS, 1, SplitVirtqueue.DESC_F_WRITE, 0);
        d.ram.writeU8(STATUS, (byte) 0xFF);
        d.offer(0);
        d.kick(0);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.currentTimeMillis() + GUARD_MILLIS;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > end) {
                throw new AssertionError("hang guard: " + what);
            }
            Thread.sleep(5);
        }
    }

    @Test
    void theConfigSpaceIsTheBackendsAndTheRingsGoToItAtDriverOk() throws Exception {
        Path sock = listen(ScriptedVhostUserBackend::wellBehaved);
        GuestMemory ram = memfdRam();
        try (VhostUserDevice dev = open(sock, 0, ram); Driver d = new Driver(ram, dev, 8, IdentityDma::new)) {
            assertEquals(2048, d.mmio.read(VirtioMmioTransport.CONFIG, 8), "capacity from GET_CONFIG");
            assertEquals(512, d.mmio.read(VirtioMmioTransport.CONFIG + 20, 4), "blk_size");
            assertEquals(1, d.mmio.read(VirtioMmioTransport.CONFIG + 34, 2), "num_queues is the device's");
            d.start();
            ScriptedVhostUserBackend b = backends.poll(GUARD_MILLIS, TimeUnit.MILLISECONDS);
            List<Integer> r = b.requests;
            assertTrue(r.contains(VhostUserRequest.SET_MEM_TABLE.code()) && r.contains(VhostUserRequest.SET_VRING_KICK.code()), r.toString());
            VhostUserMessage addr = b.messages.stream().filter(m -> m.request() == VhostUserRequest.SET_VRING_ADDR.code())
                .findFirst().orElseThrow();
            ByteBuffer a = ByteBuffer.wrap(addr.payload()).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(ram.segment().address() + Driver.DESC, a.getLong(8), "ring addresses are jvisor's own mapping");
            assertEquals(ram.segment().address() + Driver.USED, a.getLong(16));
            assertEquals(ram.segment().address() + Driver.AVAIL, a.getLong(24));
            d.w(VirtioMmioTransport.STATUS, 0);
            assertTrue(b.requests.contains(VhostUserRequest.GET_VRING_BASE.code()), "a reset stops the ring: " + b.requests);
            assertTrue(dev.connected());
        }
    }

    @Test
    void aBackendThatRefusesTheRingsLeavesADiskThatFailsIo() throws Exception {
        Path sock = listen(m -> m.request() == VhostUserRequest.SET_MEM_TABLE.code()
            ? ScriptedVhostUserBackend.reply(m.request(), VhostUserMessage.u64(1)) : ScriptedVhostUserBackend.wellBehaved(m));
        GuestMemory ram = memfdRam();
        try (VhostUserDevice dev = open(sock, 0, ram); Driver d = new Driver(ram, dev, 8, IdentityDma::new)) {
            d.start();
            assertTrue(log.stream().anyMatch(l -> l.contains("refused SET_MEM_TABLE (status 1)")), log.toString());
            assertTrue(dev.failed());
            offerRead(d);
            assertEquals(1, d.usedIdx(), "the request completed");
            assertEquals(VirtioBlk.S_IOERR, d.ram.readU8(STATUS), "with an I/O error");
        }
    }

    @Test
    void aBackendThatGoesAwayWithoutReconnectFailsWhatIsQueued() throws Exception {
        Path sock = listen(ScriptedVhostUserBackend::wellBehaved);
        GuestMemory ram = memfdRam();
        try (VhostUserDevice dev = open(sock, 0, ram); Driver d = new Driver(ram, dev, 8, IdentityDma::new)) {
            d.start();
            backends.poll(GUARD_MILLIS, TimeUnit.MILLISECONDS).close();
            await(dev::failed, "the device notices the backend is gone");
            offerRead(d);
            assertEquals(1, d.usedIdx());
            assertEquals(VirtioBlk.S_IOERR, d.ram.readU8(STATUS));
            assertTrue(log.stream().anyMatch(l -> l.contains("closed the connection") && l.contains("fails every request")),
                log.toString());
        }
    }

    @Test
    void aBackendThatComesBackGetsTheRingsFromTheUsedIndex() throws Exception {
        Path sock = listen(ScriptedVhostUserBackend::wellBehaved);
        GuestMemory ram = memfdRam();
        try (VhostUserDevice dev = open(sock, 1, ram); Driver d = new Driver(ram, dev, 8, IdentityDma::new)) {
            d.start();
            ScriptedVhostUserBackend first = backends.poll(GUARD_MILLIS, TimeUnit.MILLISECONDS);
            ram.writeU16(Driver.USED + 2, (short) 3);   // the first backend completed three requests
            first.close();
            ScriptedVhostUserBackend second = backends.poll(GUARD_MILLIS, TimeUnit.MILLISECONDS);
            assertTrue(second != null, "the device connected again");
            await(() -> second.requests.contains(VhostUserRequest.SET_VRING_ENABLE.code()), "the rings are started again");
            VhostUserMessage base = second.messages.stream().filter(m -> m.request() == VhostUserRequest.SET_VRING_BASE.code())
                .findFirst().orElseThrow();
            assertEquals(3, ByteBuffer.wrap(base.payload()).order(ByteOrder.LITTLE_ENDIAN).getInt(4), "base = used->idx");
            await(dev::connected, "connected");
            assertFalse(dev.failed());
        }
    }

    /**
     * A backend that comes back is handed the same call eventfd (the one that on kvm is bound in
     * the kernel to the queue's MSI-X vector): its signal reaches the device as before.
     */
    @Test
    void aBackendThatComesBackSignalsTheSameCallEventfd() throws Exception {
        Path sock = listen(ScriptedVhostUserBackend::wellBehaved);
        GuestMemory ram = memfdRam();
        try (VhostUserDevice dev = open(sock, 1, ram); Driver d = new Driver(ram, dev, 8, IdentityDma::new);
             Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(8);
            one.set(ValueLayout.JAVA_LONG, 0, 1);
            d.start();
            ScriptedVhostUserBackend first = backends.poll(GUARD_MILLIS, TimeUnit.MILLISECONDS);
            await(() -> first.requests.contains(VhostUserRequest.SET_VRING_ENABLE.code()), "the rings are started");
            first.callFds.getLast().write(one);
            await(() -> dev.relayedCalls() == 1, "the first backend's call reaches the device");
            first.close();
            ScriptedVhostUserBackend second = backends.poll(GUARD_MILLIS, TimeUnit.MILLISECONDS);
            assertTrue(second != null, "the device connected again");
            await(() -> second.requests.contains(VhostUserRequest.SET_VRING_ENABLE.code()), "the rings are started again");
            second.callFds.getLast().write(one);
            await(() -> dev.relayedCalls() == 2, "the second backend's call reaches the device");
        }
    }

    @Test
    void withReconnectTheDeviceWaitsForABackendThatIsNotThereYet() throws Exception {
        Path sock = dir.resolve("vu.sock");
        GuestMemory ram = memfdRam();
        Thread late = Thread.ofPlatform().daemon().start(() -> {
            try {
                while (log.isEmpty()) {
                    Thread.sleep(5);
                }
                listen(ScriptedVhostUserBackend::wellBehaved);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try (VhostUserDevice dev = open(sock, 1, ram)) {
            assertTrue(dev.connected());
            assertTrue(log.get(0).contains("waiting for the backend (reconnect=1)"), log.toString());
        } finally {
            late.join();
            ram.close();
        }
        try (GuestMemory other = memfdRam()) {
            assertTrue(assertThrowsVhostUser(() -> open(dir.resolve("none.sock"), 0, other)).contains("Failed to connect"),
                "without reconnect a missing backend is an error at once");
        }
    }

    private static String assertThrowsVhostUser(org.junit.jupiter.api.function.Executable e) {
        return org.junit.jupiter.api.Assertions.assertThrows(org.jvisor.backend.vhost.VhostUserException.class, e).getMessage();
    }
}
