package org.jvisor.devices.virtio;

import org.jvisor.devices.state.DeviceState;

/**
 * The state of one split virtqueue (virtio 1.2, 2.7), as rust-vmm's {@code QueueState}: what the
 * driver configured and where the device is in the rings. Untrusted on restore: {@link
 * SplitVirtqueue#checkState} refuses a size that is not a power of two up to the maximum and, for
 * a queue in use, rings that are misaligned or outside guest RAM. Negotiated ring features
 * (EVENT_IDX, INDIRECT_DESC) come from the device's driver features.
 *
 * @param maxSize          the device's maximum size (must match the restoring device's)
 * @param size             the size the driver chose
 * @param ready            queue_enable / QueueReady
 * @param descTable        guest address of the descriptor table
 * @param driverArea       guest address of the available ring
 * @param deviceArea       guest address of the used ring
 * @param msixVector       the queue's MSI-X vector (virtio-pci), 0xFFFF for none
 * @param active           the device is using the rings (activated at DRIVER_OK)
 * @param nextAvail        the next available-ring entry the device will read
 * @param nextUsed         the used index the device last published
 * @param signalledUsed    the used index at the last notification decision (EVENT_IDX)
 * @param usedSinceSignal  buffers were used since that decision
 */
public record VirtqueueState(int maxSize, int size, boolean ready, long descTable, long driverArea, long deviceArea,
                             int msixVector, boolean active, int nextAvail, int nextUsed, int signalledUsed,
                             boolean usedSinceSignal) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
