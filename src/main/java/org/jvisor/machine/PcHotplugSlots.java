package org.jvisor.machine;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.jvisor.config.MachineConfig;

/**
 * Which PCI slots hot-plug how, in one place for the DSDT ({@link KernelLoader}, {@link Machine})
 * and the devices ({@link PcPlatform}): on pc, ACPI PCI hot-plug of bus 0 as QEMU's PIIX4; on q35,
 * the pcie-root-ports' slots, through ACPI PCI hot-plug as QEMU 7.2's ICH9 by default
 * ({@code acpi-pci-hotplug-with-bridge-support=on}) or natively with it off; microvm has no PCI.
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
        return config.machineType() == MachineConfig.MachineType.Q35 && !config.acpiPcieHotplug();
    }

    /**
     * Whether the PCI Express root ports hot-plug through ACPI (q35 with
     * acpi-pci-hotplug-with-bridge-support=on, QEMU 7.2's default): ICH9's GPE0 block and
     * register block, the root ports in the DSDT, an {@code _OSC} that keeps native hot-plug.
     */
    static boolean acpiPcieHotplug(MachineConfig config) {
        return config.machineType() == MachineConfig.MachineType.Q35 && config.acpiPcieHotplug();
    }

    /**
     * The BSEL of each root port of {@code ports} (the command line's order) that has hot-plug,
     * by its index in {@code ports}, as QEMU 7.2 numbers them (acpi_set_bsel walks the root bus's
     * child buses, and a new bridge's bus goes to the head of that list): the port created last
     * gets 0. Checked on QEMU 7.2 q35 with ports created at 5, 3, 6 (hotplug=off), 4: BSEL 0 for
     * 4, 1 for 3, 2 for 5, none for 6.
     */
    static Map<Integer, Integer> rootPortBsels(List<MachineConfig.PcieRootPortConfig> ports) {
        Map<Integer, Integer> bsels = new HashMap<>();
        for (int i = ports.size() - 1; i >= 0; i--) {
            if (ports.get(i).hotplug()) {
                bsels.put(i, bsels.size());
            }
        }
        return bsels;
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
