package org.jvisor.devices.ide;

import java.util.Optional;

/**
 * One IDE channel's state: device control, the selected drive, whether its interrupt is pending,
 * the bus master registers, and each drive's state (empty where no drive is attached).
 */
public record IdeChannelState(int deviceControl, int selected, boolean interruptPending, int bmCommand, int bmStatus,
                              int bmPrdAddress, Optional<IdeDriveState> master, Optional<IdeDriveState> slave) {
}
