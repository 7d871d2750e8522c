package org.jvisor.api;

import java.util.Optional;

/**
 * Where the last outgoing migration (a snapshot to a file) stands, in the shape of QMP's
 * {@code query-migrate} answer (qapi/migration.json MigrationInfo): its status, times and the RAM
 * it carried. jvisor's migrations finish inside {@link VirtualMachine#migrate}, so a caller sees {@link Status#NONE}, {@link Status#COMPLETED}
 * or {@link Status#FAILED}.
 *
 * @param status          the MigrationStatus name
 * @param totalTimeMs     "total-time": from the request to the end, ms (0 before any)
 * @param downtimeMs      "downtime": how long the guest was stopped for it, ms
 * @param ramTotal        "ram.total": guest RAM in bytes
 * @param ramTransferred  "ram.transferred": bytes of RAM written (non-zero pages)
 * @param normalPages     "ram.normal": pages written
 * @param duplicatePages  "ram.duplicate": all-zero pages, not written
 * @param fileBytes       the snapshot file's size in bytes
 * @param errorDesc       "error-desc": why it failed
 * @param dirtySyncCount  "ram.dirty-sync-count": passes over RAM (1 for a stopped machine; a live
 *                        migration's passes while the guest ran, plus the last)
 */
public record MigrationStatus(Status status, long totalTimeMs, long downtimeMs, long ramTotal, long ramTransferred,
                              long normalPages, long duplicatePages, long fileBytes, Optional<String> errorDesc,
                              int dirtySyncCount) {

    /** QEMU's MigrationStatus values that jvisor reaches. */
    public enum Status {
        NONE("none"), ACTIVE("active"), COMPLETED("completed"), FAILED("failed");

        private final String qemuName;

        Status(String qemuName) {
            this.qemuName = qemuName;
        }

        /** The name query-migrate reports: "none", "active", "completed", "failed". */
        public String qemuName() {
            return qemuName;
        }
    }

    /** Before any migration: status "none". */
    public static final MigrationStatus NONE = new MigrationStatus(Status.NONE, 0, 0, 0, 0, 0, 0, 0, Optional.empty(), 0);

    static MigrationStatus failed(long totalTimeMs, String why) {
        return new MigrationStatus(Status.FAILED, totalTimeMs, 0, 0, 0, 0, 0, 0, Optional.of(why), 0);
    }
}
