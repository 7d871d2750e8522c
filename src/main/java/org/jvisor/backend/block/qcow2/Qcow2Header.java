package org.jvisor.backend.block.qcow2;

import java.util.Map;

/**
 * The fields of a qcow2 header and its extensions (QEMU docs/interop/qcow2.txt, "Header" and
 * "Header extensions"), as read and checked by {@link Qcow2HeaderParser}. Sizes and offsets are
 * in bytes; {@code featureNames} maps "type:bit" (type 0 incompatible, 1 compatible, 2 autoclear)
 * to the name the image's feature name table gives it.
 */
public record Qcow2Header(int version, int clusterBits, long virtualSize, int l1Size, long l1TableOffset,
                          long refcountTableOffset, int refcountTableClusters, int nbSnapshots, long snapshotsOffset,
                          long incompatibleFeatures, long compatibleFeatures, long autoclearFeatures, int refcountOrder,
                          int headerLength, int compressionType, String backingFile, String backingFormat,
                          Map<String, String> featureNames) {

    public static final int MAGIC = 0x514649FB;   // "QFI\xfb"

    // Byte offsets of the fields jvisor rewrites.
    public static final int OFF_REFCOUNT_TABLE_OFFSET = 48;
    public static final int OFF_INCOMPATIBLE_FEATURES = 72;
    public static final int OFF_AUTOCLEAR_FEATURES = 88;

    // Incompatible feature bits.
    public static final int INCOMPAT_DIRTY = 0;
    public static final int INCOMPAT_CORRUPT = 1;
    public static final int INCOMPAT_DATA_FILE = 2;
    public static final int INCOMPAT_COMPRESSION = 3;
    public static final int INCOMPAT_EXTL2 = 4;
    // Compatible feature bits.
    public static final int COMPAT_LAZY_REFCOUNTS = 0;

    public long clusterSize() {
        return 1L << clusterBits;
    }

    public boolean hasIncompatible(int bit) {
        return (incompatibleFeatures & (1L << bit)) != 0;
    }

    /** The name of feature bit {@code bit} of {@code type}, from the image's table or the spec. */
    public String featureName(int type, int bit) {
        String n = featureNames.get(type + ":" + bit);
        if (n != null) {
            return n;
        }
        if (type == 0) {
            return switch (bit) {
                case INCOMPAT_DIRTY -> "dirty bit";
                case INCOMPAT_CORRUPT -> "corrupt bit";
                case INCOMPAT_DATA_FILE -> "external data file";
                case INCOMPAT_COMPRESSION -> "compression type";
                case INCOMPAT_EXTL2 -> "extended L2 entries";
                default -> "unknown";
            };
        }
        return "unknown";
    }
}
