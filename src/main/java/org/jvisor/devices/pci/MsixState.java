package org.jvisor.devices.pci;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;

/**
 * The part of an MSI-X capability that lives in BAR memory (PCI Local Bus spec 3.0, 6.8.2): the
 * vector table and the Pending Bit Array, as the guest reads them. Enable and Function Mask are in
 * configuration space.
 *
 * @param table       16 bytes per vector: address, upper address, data, vector control
 * @param pendingBits the PBA, one bit per vector, in whole qwords
 */
public record MsixState(Bytes table, Bytes pendingBits) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
