package org.jvisor.devices.pci;

import org.jvisor.devices.state.Bytes;
import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of one PCI function ({@link PciDevice}): its 4 KiB configuration space
 * (COMMAND, STATUS, the BARs as programmed, capability registers such as MSI's), its MSI-X table
 * and PBA, and the state of the device model behind it. BAR mappings, MSI/MSI-X enables and the
 * INTx line are derived from these.
 *
 * @param config the configuration space bytes
 * @param msix   the MSI-X table and PBA, or null for a function without MSI-X
 * @param model  the device model's own state, or null for a function without any (a host bridge)
 */
public record PciFunctionState(Bytes config, MsixState msix, DeviceState model) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
