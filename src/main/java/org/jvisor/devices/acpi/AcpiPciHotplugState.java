package org.jvisor.devices.acpi;

import java.util.List;
import java.util.Objects;

import org.jvisor.devices.state.DeviceState;

/**
 * The architectural state of an {@link AcpiPciHotplug}, as QEMU migrates it (the up and down
 * bitmaps of each bus, the bus selector). The {@code ejected} callbacks of pending unplugs are
 * the machine's, not state.
 *
 * @param buses     per BSEL (the list index), that bus's bitmaps: one on pc (the root bus), one
 *                  per hot-pluggable root port on q35
 * @param busSelect BNUM as the guest last wrote it
 */
public record AcpiPciHotplugState(List<Bus> buses, int busSelect) implements DeviceState {
    /** 2: a list of buses (q35's root ports) instead of the root bus's bitmaps. */
    public static final int VERSION = 2;

    /**
     * One bus's bitmaps, bit s for slot s.
     *
     * @param up   PCIU: slots plugged that the guest has not read yet
     * @param down PCID: slots whose unplug waits for the guest's eject
     */
    public record Bus(int up, int down) {
    }

    public AcpiPciHotplugState {
        buses = List.copyOf(Objects.requireNonNull(buses, "buses"));
    }

    @Override
    public int version() {
        return VERSION;
    }
}
