package org.jvisor.devices.acpi;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of an {@link AcpiPm}: PM1 status, enable and control as kept, and the
 * PM timer as "running for {@code timerRunningNs} guest ns at the save" (its count and TMR_STS
 * follow from that). The SCI level is derived.
 *
 * @param status          PM1_STS bits kept (power and sleep button, wake, global)
 * @param enable          PM1_EN
 * @param control         PM1_CNT bits kept (BM_RLD, SLP_TYP)
 * @param timerRunningNs  guest ns since the PM timer read 0, at least 0
 * @param timerEpoch      the timer's top-bit toggles counted when TMR_STS was last cleared
 */
public record AcpiPmState(int status, int enable, int control, long timerRunningNs, long timerEpoch)
        implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
