package org.jvisor.machine;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.jvisor.boot.acpi.Dsdt;
import org.jvisor.config.MachineConfig;
import org.jvisor.devices.acpi.AcpiPciHotplug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which machines have ACPI PCI hot-plug, and on which slots; which hot-plug natively on PCI Express. */
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

    @Test
    void onlyQ35HotplugsNativelyOnPciExpress() {
        assertTrue(PcHotplugSlots.nativePcieHotplug(machine(MachineConfig.MachineType.Q35).build()));
        for (MachineConfig.MachineType t : new MachineConfig.MachineType[] {MachineConfig.MachineType.PC,
            MachineConfig.MachineType.MICROVM, MachineConfig.MachineType.NONE}) {
            assertFalse(PcHotplugSlots.nativePcieHotplug(machine(t).build()), t.qemuName());
        }
    }

    /** The machine's DSDT: q35's PCI0 has the _OSC that grants native hot-plug, pc's has ACPI hot-plug slots. */
    @Test
    void theDsdtFollowsTheMachine() throws Exception {
        Dsdt.Config q35 = KernelLoader.acpiTables(machine(MachineConfig.MachineType.Q35).build()).dsdtConfig();
        assertTrue(q35.nativePcieHotplug());
        assertEquals(0, q35.pciHotplugSlots());
        assertTrue(ascii(Dsdt.build(q35)).contains("_OSC"));
        Dsdt.Config pc = KernelLoader.acpiTables(machine(MachineConfig.MachineType.PC).build()).dsdtConfig();
        assertFalse(pc.nativePcieHotplug());
        assertEquals(0xFFFF_FFFE, pc.pciHotplugSlots());
        assertFalse(ascii(Dsdt.build(pc)).contains("_OSC"));
        Dsdt.Config microvm = KernelLoader.acpiTables(machine(MachineConfig.MachineType.MICROVM).build()).dsdtConfig();
        assertFalse(microvm.nativePcieHotplug());
        assertFalse(ascii(Dsdt.build(microvm)).contains("_OSC"));
    }

    private static String ascii(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }
}
