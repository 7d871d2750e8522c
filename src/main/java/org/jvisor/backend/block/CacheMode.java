package org.jvisor.backend.block;

/** How the image is opened, QEMU's {@code cache=} spelling. */
public enum CacheMode {
    /** Through the host page cache; a guest flush is an fsync. */
    WRITEBACK,
    /** O_DIRECT: bypass the host page cache (needs aligned buffers; some filesystems refuse it). */
    NONE;

    /** Parses {@code writeback} or {@code none}. */
    public static CacheMode parse(String s) {
        return switch (s) {
            case "writeback" -> WRITEBACK;
            case "none" -> NONE;
            default -> throw new IllegalArgumentException("cache=" + s + " is not supported (use none or writeback)");
        };
    }
}
