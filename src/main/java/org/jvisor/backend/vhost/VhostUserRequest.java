package org.jvisor.backend.vhost;

/** The frontend's requests (vhost-user.rst, "Front-end message types") jvisor sends, by number. */
public enum VhostUserRequest {
    GET_FEATURES(1, true),
    SET_FEATURES(2, false),
    SET_OWNER(3, false),
    RESET_OWNER(4, false),
    SET_MEM_TABLE(5, false),
    SET_LOG_BASE(6, false),
    SET_LOG_FD(7, false),
    SET_VRING_NUM(8, false),
    SET_VRING_ADDR(9, false),
    SET_VRING_BASE(10, false),
    GET_VRING_BASE(11, true),
    SET_VRING_KICK(12, false),
    SET_VRING_CALL(13, false),
    SET_VRING_ERR(14, false),
    GET_PROTOCOL_FEATURES(15, true),
    SET_PROTOCOL_FEATURES(16, false),
    GET_QUEUE_NUM(17, true),
    SET_VRING_ENABLE(18, false),
    GET_CONFIG(24, true),
    SET_CONFIG(25, false),
    GET_MAX_MEM_SLOTS(36, true);

    private final int code;
    private final boolean hasReply;

    VhostUserRequest(int code, boolean hasReply) {
        this.code = code;
        this.hasReply = hasReply;
    }

    /** The number on the wire. */
    public int code() {
        return code;
    }

    /** Whether the backend always replies (the GET_ requests); others reply only to NEED_REPLY with REPLY_ACK. */
    public boolean hasReply() {
        return hasReply;
    }

    /** The request with wire number {@code code}, or null. */
    public static VhostUserRequest of(int code) {
        for (VhostUserRequest r : values()) {
            if (r.code == code) {
                return r;
            }
        }
        return null;
    }

    /** "GET_FEATURES (1)", or "request 99" for a number jvisor does not know. */
    public static String describe(int code) {
        VhostUserRequest r = of(code);
        return r == null ? "request " + Integer.toUnsignedString(code) : r.name() + " (" + code + ")";
    }
}
