package org.jvisor.devices.acpi;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of a {@link ResetControl}: the SYS_RST and FULL_RST bits the guest
 * wrote (RST_CPU acts at once and is not kept).
 *
 * @param rcr the reset control register as it reads back
 */
public record ResetControlState(int rcr) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
