package org.jvisor.backend.block;

/**
 * What a guest's discard (virtio-blk DISCARD, ATA TRIM) and a may-unmap write-zeroes do to the
 * image, QEMU's {@code discard=} of -drive and -blockdev (qapi BlockdevDiscardOptions).
 */
public enum DiscardMode {
    /**
     * QEMU's default: the request completes and nothing changes (QEMU's bdrv_co_pdiscard returns
     * at once without BDRV_O_UNMAP, and drops BDRV_REQ_MAY_UNMAP from write-zeroes).
     */
    IGNORE,
    /** The space is given back: a hole punched in a raw file, qcow2 clusters freed. */
    UNMAP;

    /** QEMU's spellings: {@code ignore} or {@code off}, {@code unmap} or {@code on}; null for anything else. */
    public static DiscardMode byName(String s) {
        return switch (s) {
            case "ignore", "off" -> IGNORE;
            case "unmap", "on" -> UNMAP;
            default -> null;
        };
    }

    /** The canonical name: {@code ignore} or {@code unmap}. */
    public String qemuName() {
        return this == IGNORE ? "ignore" : "unmap";
    }
}
