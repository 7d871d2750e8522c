package org.jvisor.export;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.function.Consumer;

import org.jvisor.backend.vhost.VhostUserChannel;
import org.jvisor.backend.vhost.VhostUserException;
import org.jvisor.backend.vhost.VhostUserMemoryMap;
import org.jvisor.backend.vhost.VhostUserMessage;
import org.jvisor.backend.vhost.VhostUserRequest;
import org.jvisor.devices.virtio.VirtqueueException;
import org.jvisor.memory.GuestMemoryException;
import org.jvisor.sys.Epoll;
import org.jvisor.sys.Fd;
import org.jvisor.sys.SysException;

/**
 * The backend side of one vhost-user connection (vhost-user.rst): answers the frontend's
 * requests (features, protocol features MQ/REPLY_ACK/CONFIG, the memory table, ring setup, config
 * space) and serves the rings. One thread does everything in one epoll loop ({@link #serve}): the
 * socket and every ring's kick descriptor, so the memory table never changes under a request
 * being served and a stopped ring is never touched again.
 *
 * <p>Anything the frontend gets wrong (a malformed, over-sized or truncated message, the wrong
 * number of descriptors, a ring outside the memory it mapped, a request this backend does not
 * know) is a {@link VhostUserException} that ends the connection; a malformed chain in a ring,
 * which is the guest's doing, stops that ring and signals its err descriptor. Neither can make
 * the backend touch memory outside the mapped regions: every access goes through
 * {@link VhostUserMemoryMap}'s checks.
 */
public final class VhostUserBackend implements AutoCloseable {
    public static final int PROTOCOL_F_MQ = 0;
    public static final int PROTOCOL_F_REPLY_ACK = 3;
    public static final int PROTOCOL_F_CONFIG = 9;
    /** The protocol features implemented here. */
    public static final long PROTOCOL_FEATURES = (1L << PROTOCOL_F_MQ) | (1L << PROTOCOL_F_REPLY_ACK)
        | (1L << PROTOCOL_F_CONFIG);
    /** Virtio feature bit 30: the backend speaks GET/SET_PROTOCOL_FEATURES. */
    public static final int F_PROTOCOL_FEATURES = 30;
    /** How long the rest of a message may take once its first byte came. */
    public static final int MESSAGE_TIMEOUT_MILLIS = 10_000;

    private static final long DATA_SOCKET = -1;
    private static final long DATA_STOP = -2;

    /** How {@link #serve} ended. */
    public enum Ending {
        /** The frontend closed the connection between messages. */
        DISCONNECTED,
        /** The stop descriptor became readable (SIGTERM). */
        STOPPED
    }

    private final VhostUserChannel channel;
    private final VhostUserBackendDevice device;
    private final Consumer<String> log;
    private final BackendRing[] rings;
    private final Epoll epoll;
    private final Arena arena = Arena.ofShared();
    /** The 8 bytes read from a kick or written to a call descriptor. */
    private final MemorySegment word = arena.allocate(8, 8);
    private VhostUserMemoryMap memory;
    private long ackedFeatures;
    private long protocolFeatures;

    /**
     * @param socket the connected frontend, now owned by this backend
     * @param name   the connection as log lines and errors name it
     */
    public VhostUserBackend(Fd socket, String name, VhostUserBackendDevice device, Consumer<String> log) throws SysException {
        this.channel = new VhostUserChannel(socket, name, MESSAGE_TIMEOUT_MILLIS, "frontend");
        this.device = device;
        this.log = log;
        this.rings = new BackendRing[device.queueCount()];
        for (int i = 0; i < rings.length; i++) {
            rings[i] = new BackendRing(i, device.handler(i));
        }
        Epoll e = null;
        try {
            e = Epoll.create(rings.length + 2);
            e.add(socket.fd(), Epoll.EPOLLIN, DATA_SOCKET);
        } catch (SysException ex) {
            if (e != null) {
                e.close();
            }
            channel.close();
            arena.close();
            throw ex;
        }
        this.epoll = e;
    }

    public String name() {
        return channel.name();
    }

    /**
     * Serves the connection until the frontend closes it (DISCONNECTED) or {@code stopFd} (an
     * eventfd, or -1) becomes readable (STOPPED). A protocol error ends it with the reason.
     */
    public Ending serve(int stopFd) throws VhostUserException {
        try {
            if (stopFd >= 0) {
                epoll.add(stopFd, Epoll.EPOLLIN, DATA_STOP);
            }
            while (true) {
                int n = await();
                for (int i = 0; i < n; i++) {
                    long data = epoll.data(i);
                    if (data == DATA_STOP) {
                        return Ending.STOPPED;
                    }
                    if (data == DATA_SOCKET) {
                        if (!receiveOne()) {
                            return Ending.DISCONNECTED;
                        }
                        // the message may have changed the kick descriptors of events still in this batch
                        break;
                    }
                    kicked((int) data);
                }
            }
        } catch (SysException e) {
            throw new VhostUserException(channel.name() + ": " + e.getMessage(), e);
        } catch (InternalError e) {
            // SIGBUS on a mapping, turned into an error by the JVM: the frontend shrank a memory file
            throw new VhostUserException(channel.name() + ": a fault touching the frontend's memory (" + e.getMessage()
                + "; did it shrink a memory file after SET_MEM_TABLE?)", e);
        }
    }

    private int await() throws SysException {
        while (true) {
            try {
                return epoll.await(-1);
            } catch (SysException e) {
                if (e.errno() != org.jvisor.sys.Errno.EINTR) {
                    throw e;
                }
            }
        }
    }

    /** Reads and handles one request; false if the frontend closed the connection between messages. */
    boolean receiveOne() throws VhostUserException {
        try (VhostUserChannel.Incoming in = channel.receiveRequest()) {
            if (in == null) {
                return false;
            }
            handle(in);
            return true;
        }
    }

    /** A kick on ring {@code index}: clears the kick descriptor and serves the ring. */
    void kicked(int index) {
        BackendRing r = rings[index];
        if (r.kick == null) {
            return;
        }
        try {
            r.kick.read(word);
        } catch (SysException e) {
            log.accept(channel.name() + ": ring " + index + ": reading the kick: " + e.getMessage());
        }
        process(r);
    }

    /** Serves every request available on {@code r} and signals the call descriptor if the driver wants it. */
    private void process(BackendRing r) {
        if (!r.running()) {
            return;
        }
        try {
            if (r.queue.drain(r.handler)) {
                signal(r, r.call, "call");
            }
        } catch (VirtqueueException | GuestMemoryException e) {
            // the guest's driver broke the ring: this ring stops until the frontend restarts it
            r.broken = true;
            r.queue.deactivate();
            log.accept(channel.name() + ": ring " + r.index + ": " + e.getMessage() + "; the ring stops until it is set up again");
            signal(r, r.err, "err");
        }
        // an InternalError (SIGBUS: the frontend shrank its memory file) ends the connection in serve()
    }

    private void signal(BackendRing r, Fd fd, String which) {
        if (fd == null) {
            return;
        }
        word.set(ValueLayout.JAVA_LONG, 0, 1);
        try {
            fd.write(word);
        } catch (SysException e) {
            log.accept(channel.name() + ": ring " + r.index + ": signalling the " + which + " descriptor: " + e.getMessage());
        }
    }

    /**
     * Handles one request: its reply (a GET, or a REPLY_ACK when asked for) is sent. The
     * descriptors kept (kick, call, err) are taken from {@code in}; the caller closes the rest.
     */
    public void handle(VhostUserChannel.Incoming in) throws VhostUserException {
        VhostUserMessage m = in.message();
        List<Fd> fds = in.fds();
        VhostUserRequest r = VhostUserRequest.of(m.request());
        if (r == null) {
            throw error("unsupported request " + Integer.toUnsignedString(m.request()));
        }
        VhostUserMessage reply = switch (r) {
            case GET_FEATURES -> {
                noFds(r, fds);
                yield u64(r, offeredFeatures());
            }
            case SET_FEATURES -> {
                noFds(r, fds);
                long f = m.asU64();
                if ((f & ~offeredFeatures()) != 0) {
                    throw error(String.format("SET_FEATURES %#x acks features never offered (%#x)", f, f & ~offeredFeatures()));
                }
                ackedFeatures = f;
                yield null;
            }
            case GET_PROTOCOL_FEATURES -> {
                noFds(r, fds);
                yield u64(r, PROTOCOL_FEATURES);
            }
            case SET_PROTOCOL_FEATURES -> {
                noFds(r, fds);
                long f = m.asU64();
                if ((f & ~PROTOCOL_FEATURES) != 0) {
                    throw error(String.format("SET_PROTOCOL_FEATURES %#x asks for protocol features never offered (%#x)",
                        f, f & ~PROTOCOL_FEATURES));
                }
                protocolFeatures = f;
                yield null;
            }
            case SET_OWNER -> {
                noFds(r, fds);
                yield null;
            }
            case RESET_OWNER -> {
                noFds(r, fds);
                reset();
                yield null;
            }
            case GET_QUEUE_NUM -> {
                noFds(r, fds);
                yield u64(r, rings.length);
            }
            case SET_MEM_TABLE -> {
                setMemTable(m.asMemoryTable(), fds);
                yield null;
            }
            case SET_VRING_NUM -> {
                noFds(r, fds);
                VhostUserMessage.VringState s = m.asVringState();
                BackendRing ring = stoppedRing(r, s.index());
                if (!ring.queue.setSize(s.num())) {
                    throw error("SET_VRING_NUM: ring " + s.index() + " of " + Integer.toUnsignedString(s.num())
                        + " entries (a power of 2 up to " + BackendRing.MAX_SIZE + ")");
                }
                yield null;
            }
            case SET_VRING_ADDR -> {
                noFds(r, fds);
                VhostUserMessage.VringAddress a = m.asVringAddress();
                BackendRing ring = ring(r, a.index());
                ring.address = a;
                if (ring.started) {
                    start(ring);
                }
                yield null;
            }
            case SET_VRING_BASE -> {
                noFds(r, fds);
                VhostUserMessage.VringState s = m.asVringState();
                BackendRing ring = stoppedRing(r, s.index());
                if ((s.num() & ~0xFFFF) != 0) {
                    throw error("SET_VRING_BASE: ring " + s.index() + " base " + Integer.toUnsignedString(s.num())
                        + " is not a 16-bit index");
                }
                ring.base = s.num();
                yield null;
            }
            case GET_VRING_BASE -> {
                noFds(r, fds);
                VhostUserMessage.VringState s = m.asVringState();
                BackendRing ring = ring(r, s.index());
                dropKick(ring);
                ring.stop();
                yield VhostUserMessage.reply(r.code(), new VhostUserMessage.VringState(ring.index, ring.base).encode());
            }
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> {
                setVringFd(r, m.asU64(), in);
                yield null;
            }
            case SET_VRING_ENABLE -> {
                noFds(r, fds);
                VhostUserMessage.VringState s = m.asVringState();
                BackendRing ring = ring(r, s.index());
                if (s.num() != 0 && s.num() != 1) {
                    throw error("SET_VRING_ENABLE: ring " + s.index() + " state " + Integer.toUnsignedString(s.num())
                        + " (0 or 1)");
                }
                ring.enabled = s.num() == 1;
                process(ring);
                yield null;
            }
            case GET_CONFIG -> {
                noFds(r, fds);
                requireProtocol(r, PROTOCOL_F_CONFIG);
                VhostUserMessage.Config c = m.asConfig();
                yield VhostUserMessage.reply(r.code(), new VhostUserMessage.Config(c.offset(), c.flags(),
                    configBytes(c.offset(), c.data().length)).encode());
            }
            case SET_CONFIG -> {
                noFds(r, fds);
                requireProtocol(r, PROTOCOL_F_CONFIG);
                m.asConfig(); // well-formed; nothing in virtio-blk's config is writable without CONFIG_WCE
                yield null;
            }
            default -> throw error("unsupported request " + VhostUserRequest.describe(m.request()));
        };
        if (reply != null) {
            send(reply);
        } else if (m.needsReply() && (protocolFeatures & (1L << PROTOCOL_F_REPLY_ACK)) != 0) {
            send(u64(r, 0));
        }
    }

    private long offeredFeatures() {
        return device.features() | (1L << F_PROTOCOL_FEATURES);
    }

    private byte[] configBytes(int offset, int size) throws VhostUserException {
        byte[] config = device.config();
        if (offset < 0 || offset > VhostUserMessage.MAX_CONFIG_SIZE - size) {
            throw error("GET_CONFIG: offset " + Integer.toUnsignedString(offset) + " and size " + size
                + " reach past the " + VhostUserMessage.MAX_CONFIG_SIZE + " bytes of config space");
        }
        byte[] out = new byte[size];
        if (offset < config.length) {
            System.arraycopy(config, offset, out, 0, Math.min(size, config.length - offset));
        }
        return out;
    }

    private void setMemTable(List<VhostUserMessage.MemoryRegion> table, List<Fd> fds) throws VhostUserException {
        VhostUserMemoryMap fresh;
        try {
            fresh = VhostUserMemoryMap.map(table, fds);
        } catch (VhostUserException e) {
            throw error(e.getMessage());
        }
        VhostUserMemoryMap old = memory;
        memory = fresh;
        // rings in use move to the new table (as after memory hot-plug); the old one goes only then
        VhostUserException failed = null;
        for (BackendRing r : rings) {
            if (r.started) {
                try {
                    start(r);
                } catch (VhostUserException e) {
                    failed = e;
                }
            }
        }
        if (old != null) {
            old.close();
        }
        if (failed != null) {
            throw failed;
        }
    }

    /** SET_VRING_KICK/CALL/ERR: the ring in bits 0-7, bit 8 for "no descriptor" (polling), nothing else. */
    private void setVringFd(VhostUserRequest r, long v, VhostUserChannel.Incoming in) throws VhostUserException {
        if ((v & ~(VhostUserMessage.VRING_IDX_MASK | VhostUserMessage.VRING_NOFD_MASK)) != 0) {
            throw error(String.format("%s: payload %#x has bits beyond the ring index and the no-descriptor flag", r.name(), v));
        }
        boolean noFd = (v & VhostUserMessage.VRING_NOFD_MASK) != 0;
        if (in.fdCount() != (noFd ? 0 : 1)) {
            throw error(r.name() + ": " + in.fdCount() + " descriptors (" + (noFd ? "none" : "one") + " expected)");
        }
        BackendRing ring = ring(r, (int) (v & VhostUserMessage.VRING_IDX_MASK));
        Fd fd = noFd ? null : in.take(0);
        switch (r) {
            case SET_VRING_KICK -> {
                if (fd == null) {
                    throw error("SET_VRING_KICK: ring " + ring.index + " without a descriptor (polling) is not supported");
                }
                dropKick(ring);
                ring.kick = fd;
                try {
                    fd.setNonBlocking();
                    epoll.add(fd.fd(), Epoll.EPOLLIN, ring.index);
                } catch (SysException e) {
                    throw error("SET_VRING_KICK: ring " + ring.index + ": " + e.getMessage());
                }
                if ((ackedFeatures & (1L << F_PROTOCOL_FEATURES)) == 0) {
                    ring.enabled = true; // without PROTOCOL_FEATURES a ring starts enabled
                }
                start(ring);
                process(ring);
            }
            case SET_VRING_CALL -> {
                nonBlocking(r, ring, fd);
                if (ring.call != null) {
                    ring.call.close();
                }
                ring.call = fd;
            }
            default -> {
                nonBlocking(r, ring, fd);
                if (ring.err != null) {
                    ring.err.close();
                }
                ring.err = fd;
            }
        }
    }

    /**
     * A call or err descriptor never blocks the loop: a signal that does not fit (a full pipe
     * passed instead of an eventfd) is dropped with a log line. Eventfds are non-blocking in
     * QEMU already, so setting the flag on the shared description changes nothing for it.
     */
    private void nonBlocking(VhostUserRequest r, BackendRing ring, Fd fd) throws VhostUserException {
        if (fd == null) {
            return;
        }
        try {
            fd.setNonBlocking();
        } catch (SysException e) {
            fd.close();
            throw error(r.name() + ": ring " + ring.index + ": " + e.getMessage());
        }
    }

    /**
     * Starts (or restarts on a new memory table) ring {@code r}: its addresses, frontend virtual
     * addresses, translated to guest-physical ones through the memory table and checked to lie in
     * it, then the virtqueue activated at the base index with the acked ring features.
     */
    private void start(BackendRing r) throws VhostUserException {
        if (memory == null) {
            throw error("ring " + r.index + " started before SET_MEM_TABLE");
        }
        VhostUserMessage.VringAddress a = r.address;
        if (a == null) {
            throw error("ring " + r.index + " started before SET_VRING_ADDR");
        }
        int size = r.queue.size();
        long desc = translate(r, "descriptor table", a.desc(), 16L * size);
        long avail = translate(r, "available ring", a.avail(), 6 + 2L * size);
        long used = translate(r, "used ring", a.used(), 6 + 8L * size);
        int base = r.started ? r.queue.lastAvailIndex() : r.base;
        r.queue.setDescTable(desc);
        r.queue.setDriverArea(avail);
        r.queue.setDeviceArea(used);
        try {
            r.queue.activate(memory, ackedFeatures);
        } catch (VirtqueueException e) {
            throw error("ring " + r.index + ": " + e.getMessage());
        }
        r.queue.resumeAt(base);
        r.started = true;
        r.broken = false;
    }

    private long translate(BackendRing r, String what, long userAddress, long length) throws VhostUserException {
        long gpa = memory.guestAddressOf(userAddress, length);
        if (gpa < 0) {
            throw error(String.format("ring %d: the %s at %#x (+%#x) is outside the memory table", r.index, what,
                userAddress, length));
        }
        return gpa;
    }

    private void dropKick(BackendRing r) {
        if (r.kick != null) {
            try {
                epoll.delete(r.kick.fd());
            } catch (SysException e) {
                // not registered (it failed to be): nothing to undo
            }
            r.kick.close();
            r.kick = null;
        }
    }

    /** RESET_OWNER: back to the state of a fresh connection. */
    private void reset() {
        for (BackendRing r : rings) {
            dropKick(r);
            r.stop();
            r.base = 0;
            r.address = null;
            r.queue.reset();
        }
        if (memory != null) {
            memory.close();
            memory = null;
        }
        ackedFeatures = 0;
        protocolFeatures = 0;
    }

    private BackendRing ring(VhostUserRequest r, int index) throws VhostUserException {
        if (index < 0 || index >= rings.length) {
            throw error(r.name() + ": ring " + Integer.toUnsignedString(index) + " (the device has " + rings.length + ")");
        }
        return rings[index];
    }

    private BackendRing stoppedRing(VhostUserRequest r, int index) throws VhostUserException {
        BackendRing ring = ring(r, index);
        if (ring.started) {
            throw error(r.name() + ": ring " + index + " is running (GET_VRING_BASE stops it first)");
        }
        return ring;
    }

    private void requireProtocol(VhostUserRequest r, int feature) throws VhostUserException {
        if ((protocolFeatures & (1L << feature)) == 0) {
            throw error(r.name() + " without its protocol feature negotiated");
        }
    }

    private void noFds(VhostUserRequest r, List<Fd> fds) throws VhostUserException {
        if (!fds.isEmpty()) {
            throw error(r.name() + " came with " + fds.size() + " descriptors (none expected)");
        }
    }

    private static VhostUserMessage u64(VhostUserRequest r, long v) {
        return VhostUserMessage.reply(r.code(), VhostUserMessage.u64(v));
    }

    private void send(VhostUserMessage m) throws VhostUserException {
        channel.send(m);
    }

    private VhostUserException error(String message) {
        return new VhostUserException(channel.name() + ": " + message);
    }

    /** The rings' state, for tests: started and enabled, and the next available index. */
    public record RingStatus(boolean started, boolean enabled, int nextAvail) {
    }

    public RingStatus ringStatus(int index) {
        BackendRing r = rings[index];
        return new RingStatus(r.started, r.enabled, r.started ? r.queue.lastAvailIndex() : r.base);
    }

    /** Closes the connection, the rings' descriptors and the memory mappings. */
    @Override
    public void close() {
        for (BackendRing r : rings) {
            dropKick(r);
            r.stop();
        }
        if (memory != null) {
            memory.close();
            memory = null;
        }
        epoll.close();
        channel.close();
        arena.close();
    }
}
