package org.jvisor.machine;

import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.jvisor.config.MachineConfig;
import org.jvisor.devices.acpi.AcpiPciHotplug;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which machines have ACPI PCI hot-plug, and on which slots. */
class PcHotplugSlotsTest {

    private static MachineConfig.Builder machine(MachineConfig.MachineType type) {
        return MachineConfig.builder().memory(64L << 20).machineType(type);
    }

    @Test
    void pcLeavesOutTheHostBridgeAndThePiix3WhenItIsThere() {
        assertEquals(Optional.of(Set.of(0)), PcHotplugSlots.notHotpluggable(machine(MachineConfig.MachineType.PC).build()));
        MachineConfig withIde = machine(MachineConfig.MachineType.PC)
            .ideDrive(new MachineConfig.IdeDriveConfig("hd0", 0, MachineConfig.IdeDriveConfig.Media.DISK)).build();
        assertEquals(Optional.of(Set.of(0, Machine.IDE_SLOT)), PcHotplugSlots.notHotpluggable(withIde));
        assertEquals(0xFFFF_FFFC, AcpiPciHotplug.hotpluggableMask(PcHotplugSlots.notHotpluggable(withIde).orElseThrow()));
    }

    @Test
    void otherMachinesHaveNone() {
        for (MachineConfig.MachineType t : new MachineConfig.MachineType[] {MachineConfig.MachineType.Q35,
            MachineConfig.MachineType.MICROVM, MachineConfig.MachineType.NONE}) {
            assertEquals(Optional.empty(), PcHotplugSlots.notHotpluggable(machine(t).build()), t.qemuName());
        }
    }
}
