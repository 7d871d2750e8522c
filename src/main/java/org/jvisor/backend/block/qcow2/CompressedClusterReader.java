package org.jvisor.backend.block.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Reads compressed clusters (QEMU docs/interop/qcow2.txt, "Compressed Clusters Descriptor"): raw
 * deflate (zlib compression type 0, no zlib header) of one whole cluster. The last cluster
 * decompressed is kept, so a guest reading it in 4 KiB pieces inflates it once. The Inflater and
 * buffers are reused across requests.
 */
final class CompressedClusterReader {
    private final Qcow2File file;
    private final int clusterBits;
    private final int clusterSize;
    private Inflater inflater;
    private ByteBuffer input;
    private ByteBuffer output;
    private long cachedEntry;
    private boolean cached;

    CompressedClusterReader(Qcow2File file, int clusterBits) {
        this.file = file;
        this.clusterBits = clusterBits;
        this.clusterSize = 1 << clusterBits;
    }

    /** The decompressed cluster of L2 entry {@code entry}, positioned at 0, limit the cluster size. */
    ByteBuffer read(long entry) throws IOException {
        if (cached && entry == cachedEntry) {
            return output.clear();
        }
        if (inflater == null) {
            // Allocated at the first compressed cluster: most images have none. A compressed
            // cluster spans at most its nominal size plus one sector of slack.
            inflater = new Inflater(true);
            input = ByteBuffer.allocate(clusterSize + 1024);
            output = ByteBuffer.allocate(clusterSize);
        }
        cached = false;
        long offset = L2Entry.compressedOffset(entry, clusterBits);
        long size = L2Entry.compressedSize(entry, clusterBits);
        long avail = file.size() - offset;
        if (offset <= 0 || avail <= 0) {
            throw new IOException(String.format("%s: compressed cluster at %#x is beyond the end of the file",
                file.name(), offset));
        }
        int n = (int) Math.min(Math.min(size, avail), input.capacity());
        input.clear().limit(n);
        file.read(offset, input);
        input.flip();
        inflater.reset();
        inflater.setInput(input);
        output.clear();
        try {
            while (output.hasRemaining()) {
                int got = inflater.inflate(output);
                if (got == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
            }
        } catch (DataFormatException e) {
            throw new IOException(String.format("%s: compressed cluster at %#x is not valid deflate data: %s",
                file.name(), offset, e.getMessage()), e);
        }
        if (output.hasRemaining()) {
            throw new IOException(String.format("%s: compressed cluster at %#x inflates to %d bytes, not a cluster (%d)",
                file.name(), offset, output.position(), clusterSize));
        }
        cachedEntry = entry;
        cached = true;
        return output.clear();
    }

    /** Forgets the cached cluster (its host space may be reused). */
    void invalidate() {
        cached = false;
    }

    void close() {
        if (inflater != null) {
            inflater.end();
        }
    }
}
