package org.jvisor.devices.pci;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link PciHostBridge}: CONFIG_ADDRESS and the host bridge function
 * at 00.0. The other functions are devices of their own, each with its {@link PciFunctionState}.
 *
 * @param configAddress CONFIG_ADDRESS (port 0xCF8) as last written
 * @param hostBridge    the state of function 00.0
 */
public record PciHostState(int configAddress, PciFunctionState hostBridge) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
