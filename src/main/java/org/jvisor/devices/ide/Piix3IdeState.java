package org.jvisor.devices.ide;

import org.jvisor.devices.state.DeviceState;

/** The PIIX3 IDE function's model state beyond configuration space: its two channels. */
public record Piix3IdeState(IdeChannelState primary, IdeChannelState secondary) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
