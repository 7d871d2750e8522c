package org.jvisor.machine;

/**
 * Where a live migration stands after a pass over RAM, as QMP's query-migrate reports it while
 * the migration is active (qapi/migration.json MigrationStats).
 *
 * @param passes              passes over RAM so far ("dirty-sync-count")
 * @param ramBytesSent        bytes of RAM pages sent so far ("transferred")
 * @param dirtyPages          pages written since the last pass, still to send ("remaining" / 4 KiB)
 * @param dirtyPagesPerSecond pages the guest wrote per second during the last pass ("dirty-pages-rate")
 * @param bytesPerSecond      what the destination has taken per second so far ("mbps" × 10^6 / 8)
 */
public record MigrationProgress(int passes, long ramBytesSent, long dirtyPages, long dirtyPagesPerSecond,
                                long bytesPerSecond) {
}
