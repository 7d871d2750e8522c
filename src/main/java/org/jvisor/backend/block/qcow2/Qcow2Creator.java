package org.jvisor.backend.block.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes a new, empty qcow2 version 3 image as {@code qemu-img create -f qcow2} lays it out
 * (QEMU docs/interop/qcow2.txt): the header with a backing format extension and the backing
 * file name in cluster 0, the refcount table in cluster 1, the first refcount block in cluster 2,
 * the L1 table after it. Used for -snapshot's temporary overlay.
 */
public final class Qcow2Creator {
    public static final int DEFAULT_CLUSTER_BITS = 16;
    private static final int HEADER_LENGTH = 112;

    private Qcow2Creator() {
    }

    /**
     * Creates {@code path} (which must not exist, or is truncated if it does) of {@code virtualSize}
     * bytes; {@code backingFile} and {@code backingFormat} may be null.
     */
    public static void create(Path path, long virtualSize, int clusterBits, String backingFile, String backingFormat)
            throws IOException {
        if (clusterBits < Qcow2HeaderParser.MIN_CLUSTER_BITS || clusterBits > Qcow2HeaderParser.MAX_CLUSTER_BITS) {
            throw new IllegalArgumentException("cluster_bits " + clusterBits);
        }
        long cs = 1L << clusterBits;
        long perL1 = 1L << (clusterBits + clusterBits - 3);
        long l1Size = (virtualSize + perL1 - 1) / perL1;
        if (virtualSize < 0 || l1Size * 8 > Qcow2HeaderParser.MAX_L1_BYTES) {
            throw new IOException(path + ": virtual size " + virtualSize + " is too large for a qcow2 image");
        }
        long l1Clusters = Math.max(1, (l1Size * 8 + cs - 1) / cs);
        long refTable = cs;
        long refBlock = 2 * cs;
        long l1Offset = 3 * cs;
        long used = 3 + l1Clusters;
        long blockEntries = cs * 8 / 16;
        if (used > blockEntries) {
            throw new IOException(path + ": virtual size " + virtualSize + " needs a larger cluster size");
        }
        ByteBuffer h = ByteBuffer.allocate((int) cs);
        byte[] backing = backingFile == null ? new byte[0] : backingFile.getBytes(StandardCharsets.UTF_8);
        h.putInt(0, Qcow2Header.MAGIC);
        h.putInt(4, 3);
        h.putInt(20, clusterBits);
        h.putLong(24, virtualSize);
        h.putInt(36, (int) l1Size);
        h.putLong(40, l1Offset);
        h.putLong(48, refTable);
        h.putInt(56, 1);
        h.putInt(96, 4);                     // refcount_order: 16-bit refcounts
        h.putInt(100, HEADER_LENGTH);        // compression_type 0 (zlib) at 104, padded
        int pos = HEADER_LENGTH;
        if (backingFormat != null) {
            byte[] fmt = backingFormat.getBytes(StandardCharsets.US_ASCII);
            h.putInt(pos, Qcow2HeaderParser.EXT_BACKING_FORMAT);
            h.putInt(pos + 4, fmt.length);
            h.put(pos + 8, fmt);
            pos += 8 + ((fmt.length + 7) & ~7);
        }
        pos += 8;                            // end-of-extensions marker (zeros)
        if (backing.length > 0) {
            if (backing.length > Qcow2HeaderParser.MAX_BACKING_NAME || pos + backing.length > cs) {
                throw new IOException(path + ": backing file name too long: " + backingFile);
            }
            h.putLong(8, pos);
            h.putInt(16, backing.length);
            h.put(pos, backing);
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            write(ch, h, 0);
            ByteBuffer t = ByteBuffer.allocate((int) cs).putLong(0, refBlock);
            write(ch, t, refTable);
            ByteBuffer b = ByteBuffer.allocate((int) cs);
            for (int i = 0; i < used; i++) {
                b.putShort(i * 2, (short) 1);
            }
            write(ch, b, refBlock);
            write(ch, ByteBuffer.allocate((int) (l1Clusters * cs)), l1Offset);
            ch.force(true);
        }
    }

    private static void write(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        b.clear();
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
    }
}
