package org.jvisor.devices.acpi;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link Gpe0Block}. The SCI level is derived.
 *
 * @param status GPE0_STS, one bit per event (16)
 * @param enable GPE0_EN
 */
public record Gpe0BlockState(int status, int enable) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
