package org.jvisor.api;

import java.util.Optional;

/**
 * Where the last outgoing migration (a snapshot to a file, or a stream to another VMM) stands, in
 * the shape of QMP's {@code query-migrate} answer (qapi/migration.json MigrationInfo): its status,
 * times and the RAM it carried. A migration runs beside the machine's other commands: while it is
 * {@link Status#ACTIVE} the RAM figures are those of its last pass, "remaining" what the guest
 * has written since.
 *
 * @param status             the MigrationStatus name
 * @param totalTimeMs        "total-time": from the request to the end (or to now, while active), ms
 * @param downtimeMs         "downtime": from the source's stop to the last byte sent, ms (QEMU's
 *                           definition, migration/migration.c: the destination's load and resume
 *                           are not in it; -trace migration shows the guest's whole pause)
 * @param ramTotal           "ram.total": guest RAM in bytes
 * @param ramTransferred     "ram.transferred": bytes of RAM sent (non-zero pages; a live migration's
 *                           passes send a page again when the guest wrote it again)
 * @param normalPages        "ram.normal": pages sent
 * @param duplicatePages     "ram.duplicate": all-zero pages, not sent
 * @param fileBytes          the snapshot stream's size in bytes (when done)
 * @param errorDesc          "error-desc": why it failed
 * @param dirtySyncCount     "ram.dirty-sync-count": passes over RAM (1 for a stopped machine; a live
 *                           migration's passes while the guest ran, plus the last)
 * @param ramRemaining       "ram.remaining": bytes the guest has written since the last pass (active only)
 * @param dirtyPagesRate     "ram.dirty-pages-rate": pages the guest writes per second (live, active only)
 * @param bytesPerSecond     the stream's throughput so far ("ram.mbps" is this in 10^6 bits per second)
 * @param expectedDowntimeMs "expected-downtime": what stopping now would take, at that throughput
 */
public record MigrationStatus(Status status, long totalTimeMs, long downtimeMs, long ramTotal, long ramTransferred,
                              long normalPages, long duplicatePages, long fileBytes, Optional<String> errorDesc,
                              int dirtySyncCount, long ramRemaining, long dirtyPagesRate, long bytesPerSecond,
                              long expectedDowntimeMs) {

    /** QEMU's MigrationStatus values that jvisor reaches. */
    public enum Status {
        NONE("none"), SETUP("setup"), ACTIVE("active"), CANCELLING("cancelling"), CANCELLED("cancelled"),
        COMPLETED("completed"), FAILED("failed");

        private final String qemuName;

        Status(String qemuName) {
            this.qemuName = qemuName;
        }

        /** The name query-migrate reports: "none", "setup", "active", "cancelling", "cancelled", "completed", "failed". */
        public String qemuName() {
            return qemuName;
        }

        /** Whether the migration has ended (or none began): another may start. */
        public boolean ended() {
            return this == NONE || this == CANCELLED || this == COMPLETED || this == FAILED;
        }
    }

    /** Before any migration: status "none". */
    public static final MigrationStatus NONE = of(Status.NONE, 0, Optional.empty());

    /** A status with nothing measured yet (setup), or an end without figures (failed, cancelled). */
    static MigrationStatus of(Status status, long totalTimeMs, Optional<String> why) {
        return new MigrationStatus(status, totalTimeMs, 0, 0, 0, 0, 0, 0, why, 0, 0, 0, 0, 0);
    }
}
