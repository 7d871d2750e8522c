package org.jvisor.backend.block.qcow2;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads and checks a qcow2 header and its extensions (QEMU docs/interop/qcow2.txt) from the start
 * of the file. Everything a later table lookup trusts is checked here, against the spec's limits
 * and QEMU's (block/qcow2.c qcow2_do_open): the version, cluster_bits (9 to 21), the header
 * length, refcount_order (at most 6), the L1 table and refcount table (cluster-aligned, inside the
 * file, not larger than QEMU's 32 MiB and 8 MiB), the virtual size against what the L1 table can
 * map, the snapshot table, the backing file name and the header extensions. Each failure is a
 * {@link Qcow2FormatException} whose message names the file and the field.
 */
public final class Qcow2HeaderParser {
    public static final int V2_HEADER_LENGTH = 72;
    public static final int V3_HEADER_LENGTH = 104;
    public static final int MIN_CLUSTER_BITS = 9;
    public static final int MAX_CLUSTER_BITS = 21;
    /** QEMU's QCOW_MAX_L1_SIZE and QCOW_MAX_REFTABLE_SIZE. */
    public static final long MAX_L1_BYTES = 32L << 20;
    public static final long MAX_REFTABLE_BYTES = 8L << 20;
    public static final int MAX_SNAPSHOTS = 65536;
    public static final int MAX_BACKING_NAME = 1023;
    /** How much of the file the parser needs: the largest first cluster. */
    public static final int MAX_HEADER_READ = 1 << MAX_CLUSTER_BITS;

    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xE2792ACA;
    static final int EXT_FEATURE_NAMES = 0x6803F857;
    static final int EXT_BITMAPS = 0x23852875;
    static final int EXT_ENCRYPTION = 0x0537BE77;
    static final int EXT_DATA_FILE = 0x44415441;

    private Qcow2HeaderParser() {
    }

    /** True if {@code head} starts with the qcow2 magic. */
    public static boolean hasMagic(byte[] head, int length) {
        return length >= 4 && ByteBuffer.wrap(head).getInt(0) == Qcow2Header.MAGIC;
    }

    /**
     * Parses the header of image {@code name} from {@code head}, which holds the first
     * {@code length} bytes of the file (at least its first cluster, or the whole file if shorter).
     */
    public static Qcow2Header parse(String name, byte[] head, int length, long fileSize) throws Qcow2FormatException {
        ByteBuffer b = ByteBuffer.wrap(head, 0, length).slice();
        if (length < V2_HEADER_LENGTH) {
            throw bad(name, "truncated: the file is " + fileSize + " bytes, shorter than a qcow2 header ("
                + V2_HEADER_LENGTH + " bytes)");
        }
        if (b.getInt(0) != Qcow2Header.MAGIC) {
            throw bad(name, String.format("bad magic %#010x (a qcow2 image starts with QFI\\xfb)", b.getInt(0)));
        }
        int version = b.getInt(4);
        if (version != 2 && version != 3) {
            throw bad(name, "unsupported qcow2 version " + Integer.toUnsignedString(version) + " (2 and 3 are supported)");
        }
        long backingOffset = b.getLong(8);
        int backingSize = b.getInt(16);
        int clusterBits = b.getInt(20);
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw bad(name, "cluster_bits " + Integer.toUnsignedString(clusterBits) + " is out of range ("
                + MIN_CLUSTER_BITS + " to " + MAX_CLUSTER_BITS + ")");
        }
        long clusterSize = 1L << clusterBits;
        long size = b.getLong(24);
        int cryptMethod = b.getInt(32);
        int l1Size = b.getInt(36);
        long l1Offset = b.getLong(40);
        long refcountTableOffset = b.getLong(48);
        int refcountTableClusters = b.getInt(56);
        int nbSnapshots = b.getInt(60);
        long snapshotsOffset = b.getLong(64);

        long incompatible = 0;
        long compatible = 0;
        long autoclear = 0;
        int refcountOrder = 4;
        int headerLength = V2_HEADER_LENGTH;
        int compressionType = 0;
        if (version == 3) {
            if (length < V3_HEADER_LENGTH) {
                throw bad(name, "truncated: the file is " + fileSize + " bytes, shorter than a version 3 header ("
                    + V3_HEADER_LENGTH + " bytes)");
            }
            incompatible = b.getLong(72);
            compatible = b.getLong(80);
            autoclear = b.getLong(88);
            refcountOrder = b.getInt(96);
            headerLength = b.getInt(100);
            if (headerLength < V3_HEADER_LENGTH || Integer.toUnsignedLong(headerLength) > clusterSize) {
                throw bad(name, "header_length " + Integer.toUnsignedString(headerLength) + " is out of range ("
                    + V3_HEADER_LENGTH + " to the cluster size " + clusterSize + ")");
            }
            if (headerLength > length) {
                throw bad(name, "truncated: the header (" + headerLength + " bytes) runs past the end of the file ("
                    + fileSize + " bytes)");
            }
            if (headerLength > V3_HEADER_LENGTH) {
                compressionType = b.get(104) & 0xFF;
            }
        }
        if (fileSize < clusterSize) {
            throw bad(name, "truncated: the file is " + fileSize + " bytes, shorter than its first cluster ("
                + clusterSize + " bytes)");
        }
        if (refcountOrder < 0 || refcountOrder > 6) {
            throw bad(name, "refcount_order " + Integer.toUnsignedString(refcountOrder)
                + " is out of range (0 to 6: refcounts of 1 to 64 bits)");
        }
        if (cryptMethod != 0) {
            throw bad(name, "encrypted images (crypt_method " + Integer.toUnsignedString(cryptMethod)
                + ") are not supported");
        }

        Map<String, String> featureNames = new HashMap<>();
        String backingFormat = null;
        boolean hasBacking = backingOffset != 0;
        if (hasBacking) {
            if (backingOffset < 0 || backingOffset >= clusterSize) {
                throw bad(name, "backing file name offset " + Long.toUnsignedString(backingOffset)
                    + " is outside the first cluster");
            }
            if (Integer.toUnsignedLong(backingSize) > MAX_BACKING_NAME
                    || backingOffset + Integer.toUnsignedLong(backingSize) > clusterSize) {
                throw bad(name, "backing file name of " + Integer.toUnsignedString(backingSize) + " bytes is too long");
            }
        }
        long extEnd = Math.min(hasBacking ? backingOffset : clusterSize, length);
        long pos = headerLength;
        while (pos + 8 <= extEnd) {
            int type = b.getInt((int) pos);
            long len = Integer.toUnsignedLong(b.getInt((int) pos + 4));
            if (type == EXT_END) {
                break;
            }
            long data = pos + 8;
            if (len > extEnd - data) {
                throw bad(name, String.format("header extension %#010x of %d bytes runs past the end of the header area",
                    type, len));
            }
            switch (type) {
                case EXT_BACKING_FORMAT -> backingFormat = ascii(b, (int) data, (int) len);
                case EXT_FEATURE_NAMES -> {
                    for (long e = data; e + 48 <= data + len; e += 48) {
                        int ftype = b.get((int) e) & 0xFF;
                        int bit = b.get((int) e + 1) & 0xFF;
                        featureNames.put(ftype + ":" + bit, ascii(b, (int) e + 2, 46));
                    }
                }
                default -> {
                    // bitmaps, encryption and data-file extensions belong to features refused below
                    // or cleared as autoclear; unknown extensions are ignored (spec: "may be ignored")
                }
            }
            pos = data + ((len + 7) & ~7L);
        }

        Qcow2Header h = new Qcow2Header(version, clusterBits, size, l1Size, l1Offset, refcountTableOffset,
            refcountTableClusters, nbSnapshots, snapshotsOffset, incompatible, compatible, autoclear, refcountOrder,
            headerLength, compressionType, null, backingFormat, Map.copyOf(featureNames));

        long known = (1L << Qcow2Header.INCOMPAT_DIRTY) | (1L << Qcow2Header.INCOMPAT_CORRUPT)
            | (1L << Qcow2Header.INCOMPAT_COMPRESSION);
        long unknown = incompatible & ~known;
        if (unknown != 0) {
            StringBuilder sb = new StringBuilder();
            for (int bit = 0; bit < 64; bit++) {
                if ((unknown & (1L << bit)) != 0) {
                    sb.append(sb.isEmpty() ? "" : ", ").append("bit ").append(bit).append(" (")
                        .append(h.featureName(0, bit)).append(')');
                }
            }
            throw bad(name, "unsupported incompatible feature " + sb);
        }
        if (h.hasIncompatible(Qcow2Header.INCOMPAT_COMPRESSION) && compressionType != 0) {
            throw bad(name, "compression type " + compressionType + (compressionType == 1 ? " (zstd)" : "")
                + " is not supported (only zlib)");
        }

        // Tables: cluster-aligned, inside the file, no larger than QEMU accepts.
        long maxL1Entries = MAX_L1_BYTES / 8;
        if (Integer.toUnsignedLong(l1Size) > maxL1Entries) {
            throw bad(name, "L1 table of " + Integer.toUnsignedString(l1Size) + " entries is too large (at most "
                + maxL1Entries + ")");
        }
        if (size < 0) {
            throw bad(name, "virtual size " + Long.toUnsignedString(size) + " is too large (at most 2^63-1 bytes)");
        }
        int l2Bits = clusterBits - 3;
        long bytesPerL1 = 1L << (clusterBits + l2Bits);
        long neededL1 = (size >>> (clusterBits + l2Bits)) + ((size & (bytesPerL1 - 1)) != 0 ? 1 : 0);
        if (neededL1 > maxL1Entries) {
            throw bad(name, "virtual size " + size + " is too large for " + clusterSize
                + "-byte clusters (the L1 table would exceed 32 MiB)");
        }
        if (l1Size < neededL1) {
            throw bad(name, "L1 table of " + l1Size + " entries is too small for the virtual size " + size);
        }
        if (l1Size != 0) {
            table(name, "L1 table", l1Offset, (long) l1Size * 8, clusterSize, fileSize);
        }
        long reftableBytes = Integer.toUnsignedLong(refcountTableClusters) << clusterBits;
        if (refcountTableClusters == 0) {
            throw bad(name, "refcount table has no clusters");
        }
        if (reftableBytes > MAX_REFTABLE_BYTES) {
            throw bad(name, "refcount table of " + Integer.toUnsignedString(refcountTableClusters)
                + " clusters is too large (at most " + (MAX_REFTABLE_BYTES >> clusterBits) + ")");
        }
        table(name, "refcount table", refcountTableOffset, reftableBytes, clusterSize, fileSize);
        if (Integer.toUnsignedLong(nbSnapshots) > MAX_SNAPSHOTS) {
            throw bad(name, "snapshot count " + Integer.toUnsignedString(nbSnapshots) + " is too large");
        }
        if (nbSnapshots != 0) {
            table(name, "snapshot table", snapshotsOffset, 40, clusterSize, fileSize);
        }
        String backingFile = null;
        if (hasBacking) {
            if (backingOffset + backingSize > length) {
                throw bad(name, "truncated: the backing file name runs past the end of the file");
            }
            backingFile = new String(head, (int) backingOffset, backingSize, StandardCharsets.UTF_8);
            if (backingFile.isEmpty() || backingFile.indexOf('\0') >= 0) {
                throw bad(name, "backing file name is empty or holds a NUL byte");
            }
        }
        return new Qcow2Header(version, clusterBits, size, l1Size, l1Offset, refcountTableOffset,
            refcountTableClusters, nbSnapshots, snapshotsOffset, incompatible, compatible, autoclear, refcountOrder,
            headerLength, compressionType, backingFile, backingFormat, Map.copyOf(featureNames));
    }

    private static void table(String name, String what, long offset, long bytes, long clusterSize, long fileSize)
            throws Qcow2FormatException {
        if (offset <= 0 || (offset & (clusterSize - 1)) != 0) {
            throw bad(name, String.format("%s offset %#x is not a cluster-aligned offset after the header", what, offset));
        }
        if (offset > fileSize || bytes > fileSize - offset) {
            throw bad(name, String.format("%s [%#x, +%d) is outside the file (%d bytes)", what, offset, bytes, fileSize));
        }
    }

    private static String ascii(ByteBuffer b, int at, int len) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < len; i++) {
            int c = b.get(at + i) & 0xFF;
            if (c == 0) {
                break;
            }
            sb.append(c >= 0x20 && c < 0x7F ? (char) c : '?');
        }
        return sb.toString();
    }

    private static Qcow2FormatException bad(String name, String what) {
        return new Qcow2FormatException(name + ": " + what);
    }
}
