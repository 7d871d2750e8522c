package org.jvisor.devices.acpi;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link Gpe0Block}. The SCI level is derived.
 *
 * @param status GPE0_STS, one bit per event (16 on pc, 64 on q35)
 * @param enable GPE0_EN
 */
public record Gpe0BlockState(long status, long enable) implements DeviceState {
    /** 2: 64-bit registers (q35's ICH9 block). */
    public static final int VERSION = 2;

    @Override
    public int version() {
        return VERSION;
    }
}
