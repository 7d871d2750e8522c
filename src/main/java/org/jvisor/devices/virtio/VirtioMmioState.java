package org.jvisor.devices.virtio;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link VirtioMmioTransport}: its selectors and InterruptStatus,
 * and the device behind it. The interrupt line's level is derived (InterruptStatus non-zero).
 *
 * @param interruptStatus   InterruptStatus (used buffer, configuration change)
 * @param deviceFeaturesSel DeviceFeaturesSel
 * @param driverFeaturesSel DriverFeaturesSel
 * @param queueSel          QueueSel
 * @param virtio            the device: status, features, queues, device type state
 */
public record VirtioMmioState(int interruptStatus, int deviceFeaturesSel, int driverFeaturesSel, int queueSel,
                              VirtioState virtio) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
