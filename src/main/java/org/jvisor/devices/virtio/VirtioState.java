package org.jvisor.devices.virtio;

import java.util.List;

import org.jvisor.devices.state.DeviceState;

/**
 * The transport-neutral state of a virtio device ({@link VirtioCore}): the status byte, the
 * features the driver accepted, whether the device runs, DEVICE_NEEDS_RESET with its reason, the
 * config generation, every queue, and the device type's own state.
 *
 * @param status           the device status byte (DEVICE_NEEDS_RESET is {@code needsReset})
 * @param driverFeatures   the features the driver accepted
 * @param activated        the device was started at DRIVER_OK
 * @param needsReset       DEVICE_NEEDS_RESET
 * @param needsResetReason why, or null
 * @param configGeneration the config generation counter
 * @param queues           every queue, in index order
 * @param device           the device type's state ({@link VirtioDevice#saveState()})
 */
public record VirtioState(int status, long driverFeatures, boolean activated, boolean needsReset,
                          String needsResetReason, int configGeneration, List<VirtqueueState> queues,
                          DeviceState device) implements DeviceState {
    public static final int VERSION = 1;

    public VirtioState {
        queues = List.copyOf(queues);
    }

    @Override
    public int version() {
        return VERSION;
    }
}
