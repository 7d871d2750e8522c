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

    /** q35's root ports hot-plug through ACPI by default, natively with -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off. */
    @Test
    void q35HotplugsItsRootPortsThroughAcpiUnlessTurnedOff() {
        MachineConfig q35 = machine(MachineConfig.MachineType.Q35).build();
        assertTrue(PcHotplugSlots.acpiPcieHotplug(q35));
        assertFalse(PcHotplugSlots.nativePcieHotplug(q35));
        MachineConfig off = machine(MachineConfig.MachineType.Q35).acpiPcieHotplug(false).build();
        assertFalse(PcHotplugSlots.acpiPcieHotplug(off));
        assertTrue(PcHotplugSlots.nativePcieHotplug(off));
        for (MachineConfig.MachineType t : new MachineConfig.MachineType[] {MachineConfig.MachineType.PC,
            MachineConfig.MachineType.MICROVM, MachineConfig.MachineType.NONE}) {
            assertFalse(PcHotplugSlots.nativePcieHotplug(machine(t).build()), t.qemuName());
            assertFalse(PcHotplugSlots.acpiPcieHotplug(machine(t).build()), t.qemuName());
        }
    }

    /** QEMU 7.2's BSELs: the hot-pluggable port created last gets 0 (a q35 guest's DSDT with ports at 5, 3, 6 off, 4). */
    @Test
    void rootPortBselsCountFromTheLastPort() {
        java.util.List<MachineConfig.PcieRootPortConfig> ports = java.util.List.of(
            new MachineConfig.PcieRootPortConfig("rp5", 5, 0, 5, 5, false, true),
            new MachineConfig.PcieRootPortConfig("rp3", 3, 0, 3, 3, false, true),
            new MachineConfig.PcieRootPortConfig("rp6", 6, 0, 6, 6, false, false),
            new MachineConfig.PcieRootPortConfig("rp4", 4, 0, 4, 4, false, true));
        assertEquals(java.util.Map.of(3, 0, 1, 1, 0, 2), PcHotplugSlots.rootPortBsels(ports));
    }

    /** The machine's DSDT: q35's PCI0 has the _OSC (keeping hot-plug by default), pc's has ACPI hot-plug slots. */
    @Test
    void theDsdtFollowsTheMachine() throws Exception {
        Dsdt.Config q35 = KernelLoader.acpiTables(machine(MachineConfig.MachineType.Q35).build()).dsdtConfig();
        assertEquals(Dsdt.PcieHotplug.ACPI, q35.pcieHotplug());
        assertEquals(0, q35.pciHotplugSlots());
        assertTrue(ascii(Dsdt.build(q35)).contains("_OSC"));
        assertTrue(ascii(Dsdt.build(q35)).contains("PCNT"));
        Dsdt.Config q35Native = KernelLoader.acpiTables(machine(MachineConfig.MachineType.Q35).acpiPcieHotplug(false).build())
            .dsdtConfig();
        assertTrue(q35Native.nativePcieHotplug());
        assertTrue(ascii(Dsdt.build(q35Native)).contains("_OSC"));
        assertFalse(ascii(Dsdt.build(q35Native)).contains("PCNT"));
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
