package org.jvisor.devices.virtio;

import org.jvisor.devices.state.DeviceState;

/**
 * What a virtio-blk driver has seen of the disk beyond the queue: its capacity and whether it is
 * read-only (configuration space and VIRTIO_BLK_F_RO). Requests complete within one queue
 * processing pass, so none is in flight at a save. The image itself is the user's, as with QEMU
 * and Firecracker snapshots: a restore checks that the disk it gets has the same shape.
 *
 * @param capacitySectors capacity in 512-byte sectors
 * @param readOnly        the device offers VIRTIO_BLK_F_RO
 */
public record VirtioBlkState(long capacitySectors, boolean readOnly) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
