package org.jvisor.devices.ide;

import org.jvisor.devices.state.Bytes;

/**
 * A disk's SMART settings and self-test log (ATA/ATAPI-6, 8.41).
 *
 * @param enabled   SMART ENABLE OPERATIONS is in effect
 * @param autosave  attribute autosave is on
 * @param selfTests self-tests run so far, 0 to {@link Smart#LOG_ENTRIES} (the log wraps)
 * @param log       the self-test log's descriptor bytes (a 512-byte log page)
 */
public record SmartState(boolean enabled, boolean autosave, int selfTests, Bytes log) {
}
