package org.jvisor.api;

/**
 * What a disk's device has completed since the machine was built, as QMP's query-blockstats
 * reports it.
 *
 * @param id                 the drive's id, as in {@link BlockDeviceInfo#id()}
 * @param readBytes          bytes read by the guest
 * @param writtenBytes       bytes written by the guest
 * @param readOps            read requests
 * @param writeOps           write requests
 * @param flushOps           flush requests
 * @param readNanos          time spent on reads
 * @param writeNanos         time spent on writes
 * @param flushNanos         time spent on flushes
 * @param failedOps          requests that failed with an I/O error
 * @param highestWriteOffset the end of the highest write, in bytes
 */
public record BlockDeviceStats(String id, long readBytes, long writtenBytes, long readOps, long writeOps, long flushOps,
                               long readNanos, long writeNanos, long flushNanos, long failedOps, long highestWriteOffset) {
}
