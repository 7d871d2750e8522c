package org.jvisor.machine;

import java.util.Optional;
import java.util.Set;

import org.jvisor.config.MachineConfig;

/**
 * Which slots of bus 0 ACPI PCI hot-plug leaves out, in one place for the DSDT
 * ({@link KernelLoader}) and the device ({@link PcPlatform}). Only the pc machine has it, as
 * QEMU's PIIX4 does; q35 hot-plugs natively on PCIe root ports, microvm has no PCI.
 *
 * <p>QEMU makes every slot of the root bus hot-pluggable except those holding functions that
 * cannot be unplugged: on pc the host bridge (00.0) and the PIIX3 at 01 (ISA bridge, IDE). jvisor
 * has the PIIX3 only with IDE drives ({@code Machine.wireIde}); without them slot 1 is an ordinary
 * slot, so a device placed there can be unplugged.
 */
final class PcHotplugSlots {
    /** The host bridge's slot. */
    static final int HOST_BRIDGE_SLOT = 0;

    private PcHotplugSlots() {
    }

    /**
     * Whether the OS hot-plugs natively on the PCI Express root ports (q35), which the DSDT's
     * {@code _OSC} on the PCI host grants it: Linux's pciehp binds only then. Not on pc, whose
     * slots ACPI hot-plugs ({@link #notHotpluggable}), nor on microvm, which has no PCI.
     */
    static boolean nativePcieHotplug(MachineConfig config) {
        return config.machineType() == MachineConfig.MachineType.Q35;
    }

    /** The slots of bus 0 that are not hot-pluggable; empty for a machine without ACPI PCI hot-plug. */
    static Optional<Set<Integer>> notHotpluggable(MachineConfig config) {
        if (config.machineType() != MachineConfig.MachineType.PC) {
            return Optional.empty();
        }
        return Optional.of(config.ideDrives().isEmpty() ? Set.of(HOST_BRIDGE_SLOT)
            : Set.of(HOST_BRIDGE_SLOT, Machine.IDE_SLOT));
    }
}
