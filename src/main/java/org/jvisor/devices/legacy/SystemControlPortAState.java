package org.jvisor.devices.legacy;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link SystemControlPortA}.
 *
 * @param value the port as it reads back (the A20 bit)
 */
public record SystemControlPortAState(int value) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
