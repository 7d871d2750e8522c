package org.jvisor.backend.vhost;

import java.nio.file.Path;
import java.util.List;

import org.jvisor.sys.Fd;
import org.jvisor.sys.Sockets;
import org.jvisor.sys.SysException;

/**
 * The frontend of one vhost-user connection, speaking the protocol in QEMU 7.2's order
 * (hw/virtio/vhost-user.c, vhost.c): {@link #handshake} at realize (GET_FEATURES,
 * GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_OWNER, GET_CONFIG),
 * {@link #start} when the driver sets DRIVER_OK (SET_FEATURES, SET_MEM_TABLE, per ring
 * SET_VRING_NUM/BASE/ADDR/CALL/KICK, then SET_VRING_ENABLE), {@link #stopRing} (GET_VRING_BASE) at
 * reset. With REPLY_ACK negotiated every request without a reply of its own asks for one, so a
 * backend that refuses a request is caught at that request. Not thread-safe: the device serializes calls.
 */
public final class VhostUserFrontend implements AutoCloseable {
    /** Virtio feature bit 30: the backend speaks GET/SET_PROTOCOL_FEATURES. */
    public static final int F_PROTOCOL_FEATURES = 30;
    public static final int PROTOCOL_F_MQ = 0;
    public static final int PROTOCOL_F_REPLY_ACK = 3;
    public static final int PROTOCOL_F_CONFIG = 9;
    /** The protocol features jvisor uses, asked for when the backend offers them (QEMU 7.2 asks blk for these). */
    public static final long WANTED_PROTOCOL_FEATURES = (1L << PROTOCOL_F_MQ) | (1L << PROTOCOL_F_REPLY_ACK)
        | (1L << PROTOCOL_F_CONFIG);
    /** A reply may take this long before the backend counts as hung. */
    public static final int DEFAULT_REPLY_TIMEOUT_MILLIS = 30_000;

    private final VhostUserChannel channel;
    private long backendFeatures;
    private long protocolFeatures;
    private boolean replyAck;

    /** What the backend offered at the handshake. */
    public record Handshake(long features, long protocolFeatures, int queueNum, byte[] config) {
        public Handshake {
            config = config.clone();
        }

        @Override
        public byte[] config() {
            return config.clone();
        }
    }

    /**
     * One ring to start: its index and size, its areas as frontend virtual addresses, the index
     * of the next available entry for the backend to read, and the kick and call eventfds.
     */
    public record Ring(int index, int size, long desc, long used, long avail, int base, int kickFd, int callFd) {
    }

    public VhostUserFrontend(VhostUserChannel channel) {
        this.channel = channel;
    }

    /** Connects to the backend listening at {@code path}; the error names the socket as QEMU's does. */
    public static VhostUserFrontend connect(Path path, int replyTimeoutMillis) throws VhostUserException {
        Fd socket;
        try {
            socket = Sockets.connect(path.toString());
        } catch (SysException e) {
            throw new VhostUserException("Failed to connect to '" + path + "': " + e.getMessage(), e);
        }
        return new VhostUserFrontend(new VhostUserChannel(socket, "vhost-user backend at " + path, replyTimeoutMillis));
    }

    public VhostUserChannel channel() {
        return channel;
    }

    /**
     * The realize sequence: features, protocol features, the queue count, ownership, and
     * {@code configSize} bytes of config space (0: the device makes its own, as vhost-user-fs;
     * otherwise CONFIG is required, as vhost-user-blk requires it).
     */
    public Handshake handshake(int configSize) throws VhostUserException {
        backendFeatures = call(VhostUserRequest.GET_FEATURES, new byte[0]).asU64();
        if ((backendFeatures & (1L << F_PROTOCOL_FEATURES)) == 0) {
            throw new VhostUserException(channel.name() + ": the backend does not offer VHOST_USER_F_PROTOCOL_FEATURES "
                + "(features " + hex(backendFeatures) + ")");
        }
        long offered = call(VhostUserRequest.GET_PROTOCOL_FEATURES, new byte[0]).asU64();
        if (configSize > 0 && (offered & (1L << PROTOCOL_F_CONFIG)) == 0) {
            throw new VhostUserException(channel.name() + ": vhost-user device expecting VHOST_USER_PROTOCOL_F_CONFIG "
                + "but the vhost-user backend does not support it (protocol features " + hex(offered) + ")");
        }
        protocolFeatures = offered & WANTED_PROTOCOL_FEATURES;
        call(VhostUserRequest.SET_PROTOCOL_FEATURES, VhostUserMessage.u64(protocolFeatures));
        replyAck = (protocolFeatures & (1L << PROTOCOL_F_REPLY_ACK)) != 0;
        int queueNum = 1;
        if ((protocolFeatures & (1L << PROTOCOL_F_MQ)) != 0) {
            long n = call(VhostUserRequest.GET_QUEUE_NUM, new byte[0]).asU64();
            if (n < 1 || n > 1024) {
                throw new VhostUserException(channel.name() + ": GET_QUEUE_NUM says " + Long.toUnsignedString(n)
                    + " queues (1-1024 expected)");
            }
            queueNum = (int) n;
        }
        call(VhostUserRequest.SET_OWNER, new byte[0]);
        byte[] config = configSize > 0 ? getConfig(configSize) : new byte[0];
        return new Handshake(backendFeatures, protocolFeatures, queueNum, config);
    }

    private byte[] getConfig(int size) throws VhostUserException {
        VhostUserMessage reply = call(VhostUserRequest.GET_CONFIG, new VhostUserMessage.Config(0, 0, new byte[size]).encode());
        VhostUserMessage.Config c = reply.asConfig();
        if (c.data().length != size) {
            throw new VhostUserException(channel.name() + ": GET_CONFIG returned " + c.data().length + " bytes of config "
                + "space (" + size + " asked for)");
        }
        return c.data();
    }

    /** SET_CONFIG: the driver changed {@code data.length} bytes of config space at {@code offset}. */
    public void setConfig(int offset, byte[] data) throws VhostUserException {
        call(VhostUserRequest.SET_CONFIG, new VhostUserMessage.Config(offset, 0, data).encode());
    }

    /**
     * Starts the device: the features the driver accepted (plus PROTOCOL_FEATURES, which keeps
     * rings disabled until SET_VRING_ENABLE), guest RAM ({@code regions}, one descriptor each),
     * then each ring.
     */
    public void start(long driverFeatures, List<VhostUserMessage.MemoryRegion> regions, int[] regionFds, List<Ring> rings)
            throws VhostUserException {
        if (regions.size() != regionFds.length) {
            throw new IllegalArgumentException(regions.size() + " regions, " + regionFds.length + " descriptors");
        }
        call(VhostUserRequest.SET_FEATURES, VhostUserMessage.u64(driverFeatures | (1L << F_PROTOCOL_FEATURES)));
        call(VhostUserRequest.SET_MEM_TABLE, VhostUserMessage.memoryTable(regions), regionFds);
        for (Ring r : rings) {
            call(VhostUserRequest.SET_VRING_NUM, new VhostUserMessage.VringState(r.index(), r.size()).encode());
            call(VhostUserRequest.SET_VRING_BASE, new VhostUserMessage.VringState(r.index(), r.base()).encode());
            call(VhostUserRequest.SET_VRING_ADDR,
                new VhostUserMessage.VringAddress(r.index(), 0, r.desc(), r.used(), r.avail(), 0).encode());
            // The call descriptor first: a backend starts the ring when the kick descriptor
            // arrives and may complete a pending request (and signal) at once (libvhost-user does).
            call(VhostUserRequest.SET_VRING_CALL, VhostUserMessage.u64(r.index()), r.callFd());
            call(VhostUserRequest.SET_VRING_KICK, VhostUserMessage.u64(r.index()), r.kickFd());
        }
        for (Ring r : rings) {
            call(VhostUserRequest.SET_VRING_ENABLE, new VhostUserMessage.VringState(r.index(), 1).encode());
        }
    }

    /** GET_VRING_BASE: the backend stops ring {@code index} and says where it stopped (the next available index). */
    public int stopRing(int index) throws VhostUserException {
        VhostUserMessage.VringState s = call(VhostUserRequest.GET_VRING_BASE,
            new VhostUserMessage.VringState(index, 0).encode()).asVringState();
        if (s.index() != index) {
            throw new VhostUserException(channel.name() + ": GET_VRING_BASE for ring " + index + " answered for ring " + s.index());
        }
        return s.num() & 0xFFFF;
    }

    public long backendFeatures() {
        return backendFeatures;
    }

    public long protocolFeatures() {
        return protocolFeatures;
    }

    /**
     * Sends {@code r} and, when it has a reply (a GET, or REPLY_ACK asked for), reads and checks
     * it: the reply flag, the same request number, and for an ack a zero status.
     */
    private VhostUserMessage call(VhostUserRequest r, byte[] payload, int... fds) throws VhostUserException {
        boolean ack = !r.hasReply() && replyAck;
        channel.send(new VhostUserMessage(r.code(), VhostUserMessage.VERSION | (ack ? VhostUserMessage.FLAG_NEED_REPLY : 0),
            payload), fds);
        if (!r.hasReply() && !ack) {
            return null;
        }
        VhostUserMessage reply = channel.receive(r.name());
        if (!reply.isReply()) {
            throw new VhostUserException(channel.name() + ": the answer to " + r.name() + " is not marked as a reply (flags "
                + hex(reply.flags()) + ")");
        }
        if (reply.request() != r.code()) {
            throw new VhostUserException(channel.name() + ": asked " + VhostUserRequest.describe(r.code()) + ", the reply is to "
                + VhostUserRequest.describe(reply.request()));
        }
        if (ack) {
            long status = reply.asU64();
            if (status != 0) {
                throw new VhostUserException(channel.name() + ": the backend refused " + r.name() + " (status " + status + ")");
            }
        }
        return reply;
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    @Override
    public void close() {
        channel.close();
    }
}
