package org.jvisor.devices.virtio;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;

/**
 * What a virtio-net device holds beyond its queues: the MAC the driver read from configuration
 * space, and a received frame (with its virtio-net header) that is waiting for receive buffers,
 * which would otherwise be lost. Offload settings follow from the negotiated features.
 *
 * @param mac          the 6-byte MAC address
 * @param pendingFrame the frame in hand, or empty
 */
public record VirtioNetState(Bytes mac, Bytes pendingFrame) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
