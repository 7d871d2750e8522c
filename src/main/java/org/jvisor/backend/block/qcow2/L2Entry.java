package org.jvisor.backend.block.qcow2;

/**
 * The bits of L1 and L2 table entries (QEMU docs/interop/qcow2.txt, "Cluster mapping"): an L1
 * entry holds an L2 table offset, an L2 entry a data cluster offset, each with bit 63 ("copied":
 * refcount exactly 1, writable in place); an L2 entry also has bit 62 (compressed) and bit 0
 * (reads as zeros, version 3). A compressed entry packs the host offset and the count of
 * 512-byte sectors differently, by cluster_bits.
 */
final class L2Entry {
    static final long COPIED = 1L << 63;
    static final long COMPRESSED = 1L << 62;
    static final long ZERO = 1L;
    static final long OFFSET_MASK = 0x00FF_FFFF_FFFF_FE00L;

    private L2Entry() {
    }

    static long offset(long entry) {
        return entry & OFFSET_MASK;
    }

    static boolean compressed(long entry) {
        return (entry & COMPRESSED) != 0;
    }

    static boolean zero(long entry) {
        return !compressed(entry) && (entry & ZERO) != 0;
    }

    static boolean copied(long entry) {
        return (entry & COPIED) != 0;
    }

    /** Bit where a compressed entry's sector count starts: 62 - (cluster_bits - 8). */
    static int csizeShift(int clusterBits) {
        return 62 - (clusterBits - 8);
    }

    static long compressedOffset(long entry, int clusterBits) {
        return entry & ((1L << csizeShift(clusterBits)) - 1);
    }

    /** Bytes from the compressed offset to the end of its last 512-byte sector. */
    static long compressedSize(long entry, int clusterBits) {
        long sectors = ((entry >>> csizeShift(clusterBits)) & ((1L << (clusterBits - 8)) - 1)) + 1;
        return sectors * 512 - (compressedOffset(entry, clusterBits) & 511);
    }
}
