package org.jvisor.devices.ahci;

import java.util.List;

import org.jvisor.devices.state.DeviceState;

/** The AHCI HBA's model state beyond configuration space: GHC, the index/data pair's index, each port. */
public record AhciState(int globalControl, int dataPairIndex, List<AhciPortState> ports) implements DeviceState {
    public static final int VERSION = 1;

    public AhciState {
        ports = List.copyOf(ports);
    }

    @Override
    public int version() {
        return VERSION;
    }
}
