package org.jvisor.api;

import java.util.Map;

/**
 * The guest's balloon driver's last memory figures (virtio 1.2, 5.5.6.3), by QEMU's names as QMP's
 * guest-stats gives them ("stat-free-memory", "stat-total-memory"...; -1 for a figure the driver
 * did not report), and when they came.
 *
 * @param stats         figure name to value (bytes, or a count for faults)
 * @param updatedMillis epoch milliseconds of the last update, 0 if the driver has sent none
 */
public record BalloonStats(Map<String, Long> stats, long updatedMillis) {
    public BalloonStats {
        stats = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(stats));   // in tag order
    }
}
