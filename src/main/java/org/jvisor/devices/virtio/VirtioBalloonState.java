package org.jvisor.devices.virtio;

import org.jvisor.devices.state.DeviceState;

/**
 * virtio-balloon's own state: the host's target ({@code numPages}, 4 KiB pages to take), what the
 * driver last said it gave ({@code actual}), and the head of the statistics buffer the device holds
 * until it wants new figures (-1 when it holds none), so a restored device can hand it back.
 */
public record VirtioBalloonState(int numPages, int actual, int statsHead) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
