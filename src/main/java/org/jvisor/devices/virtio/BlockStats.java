package org.jvisor.devices.virtio;

/**
 * What a virtio-blk device has done, as QEMU's block accounting counts it (QMP query-blockstats):
 * completed reads, writes and flushes, their bytes and the time they took. Written only by the
 * device's queue thread (single writer, so plain read-modify-write of volatile fields is exact),
 * read by any thread; nothing is allocated on the request path.
 */
public final class BlockStats {
    private volatile long readBytes;
    private volatile long writtenBytes;
    private volatile long readOps;
    private volatile long writeOps;
    private volatile long flushOps;
    private volatile long readNanos;
    private volatile long writeNanos;
    private volatile long flushNanos;
    private volatile long failedOps;
    private volatile long highestWriteOffset;

    /** A snapshot of the counters. */
    public record Counters(long readBytes, long writtenBytes, long readOps, long writeOps, long flushOps,
                           long readNanos, long writeNanos, long flushNanos, long failedOps, long highestWriteOffset) {
    }

    public void read(long bytes, long nanos) {
        readBytes += bytes;
        readOps++;
        readNanos += nanos;
    }

    public void write(long offset, long bytes, long nanos) {
        writtenBytes += bytes;
        writeOps++;
        writeNanos += nanos;
        if (offset + bytes > highestWriteOffset) {
            highestWriteOffset = offset + bytes;
        }
    }

    public void flush(long nanos) {
        flushOps++;
        flushNanos += nanos;
    }

    public void failed() {
        failedOps++;
    }

    public Counters counters() {
        return new Counters(readBytes, writtenBytes, readOps, writeOps, flushOps, readNanos, writeNanos, flushNanos,
            failedOps, highestWriteOffset);
    }
}
