package org.jvisor.devices.acpi;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of an {@link AcpiPciHotplug}, as QEMU migrates it (the up and down
 * bitmaps of each bus, the bus selector). The {@code ejected} callbacks of pending unplugs are
 * the machine's, not state.
 *
 * @param up        PCIU of the root bus: slots plugged that the guest has not read yet
 * @param down      PCID of the root bus: slots whose unplug waits for the guest's eject
 * @param busSelect BNUM as the guest last wrote it
 */
public record AcpiPciHotplugState(int up, int down, int busSelect) implements DeviceState {
    public static final int VERSION = 1;

    @Override
    public int version() {
        return VERSION;
    }
}
