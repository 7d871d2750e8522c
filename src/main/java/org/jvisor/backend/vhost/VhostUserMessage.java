package org.jvisor.backend.vhost;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * One vhost-user message (vhost-user.rst, "Message Specification"): a 12-byte header of
 * little-endian (x86's native order) u32 request, u32 flags, u32 size, then {@code size} bytes of
 * payload. Flags bits 0-1 are the protocol version (1), bit 2 marks a reply, bit 3 asks for one
 * (NEED_REPLY, with REPLY_ACK). The payload layouts jvisor uses have records and codecs here.
 */
public record VhostUserMessage(int request, int flags, byte[] payload) {
    public static final int HEADER_SIZE = 12;
    public static final int VERSION = 0x1;
    public static final int VERSION_MASK = 0x3;
    public static final int FLAG_REPLY = 0x4;
    public static final int FLAG_NEED_REPLY = 0x8;
    /**
     * The largest payload accepted from a backend. The biggest message a frontend receives is a
     * GET_CONFIG reply (12 + at most 256 bytes of config space); anything above this page is a
     * broken or hostile peer, refused before reading it.
     */
    public static final int MAX_PAYLOAD = 4096;
    /** Descriptors one message may carry: one per memory region of a SET_MEM_TABLE. */
    public static final int MAX_FDS = 8;
    /** Regions in one SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS). */
    public static final int MAX_MEM_REGIONS = 8;
    /** Bytes of config space in GET_CONFIG/SET_CONFIG (VHOST_USER_MAX_CONFIG_SIZE). */
    public static final int MAX_CONFIG_SIZE = 256;
    /** In the u64 of SET_VRING_KICK/CALL/ERR: no descriptor follows (poll instead). */
    public static final long VRING_NOFD_MASK = 1L << 8;
    public static final long VRING_IDX_MASK = 0xFF;

    public VhostUserMessage {
        payload = payload.clone();
    }

    /** A request from the frontend (version 1, no reply flag) with {@code payload}. */
    public static VhostUserMessage request(VhostUserRequest r, byte[] payload) {
        return new VhostUserMessage(r.code(), VERSION, payload);
    }

    /** The backend's reply to {@code request} (version 1, the reply flag) with {@code payload}. */
    public static VhostUserMessage reply(int request, byte[] payload) {
        return new VhostUserMessage(request, VERSION | FLAG_REPLY, payload);
    }

    /** Whether the frontend asked for a REPLY_ACK status. */
    public boolean needsReply() {
        return (flags & FLAG_NEED_REPLY) != 0;
    }

    @Override
    public byte[] payload() {
        return payload.clone();
    }

    public int size() {
        return payload.length;
    }

    public boolean isReply() {
        return (flags & FLAG_REPLY) != 0;
    }

    /** Header and payload as sent on the socket. */
    public byte[] encode() {
        ByteBuffer b = le(HEADER_SIZE + payload.length);
        b.putInt(request).putInt(flags).putInt(payload.length).put(payload);
        return b.array();
    }

    /** A decoded header: what follows is {@code size} bytes of payload. */
    public record Header(int request, int flags, int size) {
    }

    /**
     * Decodes a header from {@code bytes[0..12)}, refusing another protocol version or a payload
     * larger than {@link #MAX_PAYLOAD} (so a bogus size never makes the frontend wait for or
     * allocate gigabytes).
     */
    public static Header decodeHeader(byte[] bytes) throws VhostUserException {
        if (bytes.length < HEADER_SIZE) {
            throw new VhostUserException("vhost-user header of " + bytes.length + " bytes (" + HEADER_SIZE + " expected)");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes, 0, HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int request = b.getInt();
        int flags = b.getInt();
        int size = b.getInt();
        if ((flags & VERSION_MASK) != VERSION) {
            throw new VhostUserException(VhostUserRequest.describe(request) + ": protocol version "
                + (flags & VERSION_MASK) + " (version " + VERSION + " expected)");
        }
        if (size < 0 || size > MAX_PAYLOAD) {
            throw new VhostUserException(VhostUserRequest.describe(request) + ": payload size "
                + Integer.toUnsignedString(size) + " exceeds the maximum " + MAX_PAYLOAD);
        }
        return new Header(request, flags, size);
    }

    /** Decodes a whole message (header and exactly its payload) from {@code bytes}. */
    public static VhostUserMessage decode(byte[] bytes) throws VhostUserException {
        Header h = decodeHeader(bytes);
        if (bytes.length - HEADER_SIZE != h.size()) {
            throw new VhostUserException(VhostUserRequest.describe(h.request()) + ": header says " + h.size()
                + " bytes of payload, " + (bytes.length - HEADER_SIZE) + " followed");
        }
        byte[] p = new byte[h.size()];
        System.arraycopy(bytes, HEADER_SIZE, p, 0, p.length);
        return new VhostUserMessage(h.request(), h.flags(), p);
    }

    // ---- payloads ----

    public static byte[] u64(long v) {
        return le(8).putLong(v).array();
    }

    /** The u64 payload (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, a REPLY_ACK; SET_FEATURES, SET_VRING_KICK...). */
    public long asU64() throws VhostUserException {
        requireSize(8);
        return ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** vhost_vring_state: a ring index and a number (size, base index, enable). */
    public record VringState(int index, int num) {
        public byte[] encode() {
            return le(8).putInt(index).putInt(num).array();
        }
    }

    public VringState asVringState() throws VhostUserException {
        requireSize(8);
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        return new VringState(b.getInt(), b.getInt());
    }

    /** vhost_vring_addr: the ring's areas as frontend virtual addresses (note: used before avail). */
    public record VringAddress(int index, int flags, long desc, long used, long avail, long log) {
        public byte[] encode() {
            return le(40).putInt(index).putInt(flags).putLong(desc).putLong(used).putLong(avail).putLong(log).array();
        }
    }

    /** vhost_vring_addr as a backend receives it. */
    public VringAddress asVringAddress() throws VhostUserException {
        requireSize(40);
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        return new VringAddress(b.getInt(), b.getInt(), b.getLong(), b.getLong(), b.getLong(), b.getLong());
    }

    /** One region of a memory table: guest-physical address, size, frontend virtual address, offset in its descriptor. */
    public record MemoryRegion(long guestAddress, long size, long userAddress, long mmapOffset) {
    }

    /**
     * The regions of a SET_MEM_TABLE: a count of 1 to {@link #MAX_MEM_REGIONS} and exactly that
     * many regions in the payload (QEMU sends no more than it counts).
     */
    public List<MemoryRegion> asMemoryTable() throws VhostUserException {
        if (payload.length < 8) {
            throw new VhostUserException(VhostUserRequest.describe(request) + ": memory table of " + payload.length
                + " bytes (at least 8 expected)");
        }
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        int n = b.getInt();
        b.getInt();
        if (n < 1 || n > MAX_MEM_REGIONS || payload.length != 8 + 32 * n) {
            throw new VhostUserException(VhostUserRequest.describe(request) + ": " + Integer.toUnsignedString(n)
                + " memory regions (1-" + MAX_MEM_REGIONS + ") in a payload of " + payload.length + " bytes");
        }
        List<MemoryRegion> regions = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            regions.add(new MemoryRegion(b.getLong(), b.getLong(), b.getLong(), b.getLong()));
        }
        return List.copyOf(regions);
    }

    /** VhostUserMemory: u32 count, u32 padding, the regions; each region's descriptor rides along. */
    public static byte[] memoryTable(List<MemoryRegion> regions) {
        if (regions.isEmpty() || regions.size() > MAX_MEM_REGIONS) {
            throw new IllegalArgumentException(regions.size() + " memory regions (1-" + MAX_MEM_REGIONS + ")");
        }
        ByteBuffer b = le(8 + 32 * regions.size());
        b.putInt(regions.size()).putInt(0);
        for (MemoryRegion r : regions) {
            b.putLong(r.guestAddress()).putLong(r.size()).putLong(r.userAddress()).putLong(r.mmapOffset());
        }
        return b.array();
    }

    /** VhostUserConfig: u32 offset, u32 size, u32 flags, then size bytes of the device's config space. */
    public record Config(int offset, int flags, byte[] data) {
        public Config {
            if (data.length > MAX_CONFIG_SIZE) {
                throw new IllegalArgumentException(data.length + " bytes of config space (at most " + MAX_CONFIG_SIZE + ")");
            }
            data = data.clone();
        }

        @Override
        public byte[] data() {
            return data.clone();
        }

        public byte[] encode() {
            return le(12 + data.length).putInt(offset).putInt(data.length).putInt(flags).put(data).array();
        }
    }

    /** The config payload of GET_CONFIG (either way) or SET_CONFIG; its size field must agree with the payload's. */
    public Config asConfig() throws VhostUserException {
        if (payload.length < 12) {
            throw new VhostUserException(VhostUserRequest.describe(request) + ": config payload of " + payload.length
                + " bytes (at least 12 expected)");
        }
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        int offset = b.getInt();
        int size = b.getInt();
        int flags = b.getInt();
        if (size < 0 || size > MAX_CONFIG_SIZE || size != payload.length - 12) {
            throw new VhostUserException(VhostUserRequest.describe(request) + ": config size field "
                + Integer.toUnsignedString(size) + " does not match the " + (payload.length - 12) + " bytes that follow");
        }
        byte[] data = new byte[size];
        b.get(data);
        return new Config(offset, flags, data);
    }

    private void requireSize(int n) throws VhostUserException {
        if (payload.length != n) {
            throw new VhostUserException(VhostUserRequest.describe(request) + ": payload of " + payload.length
                + " bytes (" + n + " expected)");
        }
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }
}
