package org.jvisor.devices.virtio;

import org.jvisor.devices.state.DeviceState;

/** virtio-rng has no state beyond its queue: entropy is not kept between requests. */
public record VirtioRngState() implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
