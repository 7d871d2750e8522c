package org.jvisor.boot.acpi;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.jvisor.boot.acpi.AmlWriterTest.b;
import static org.jvisor.boot.acpi.AmlWriterTest.cat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Byte-level checks of the PCI host bridge's {@code _OSC} and of which DSDTs have it; IaslTest
 * compiles the same ASL with iasl and runs the method in ACPICA's interpreter.
 */
class PciHostOscTest {

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] osc() {
        AmlWriter w = new AmlWriter();
        PciHostOsc.write(w);
        return w.toByteArray();
    }

    @Test
    void grantsNativeHotplugPmeAndTheCapabilityStructure() {
        assertEquals(0x15, PciHostOsc.GRANTED);
        assertEquals(PciHostOsc.PCIE_NATIVE_HOTPLUG, PciHostOsc.GRANTED & PciHostOsc.PCIE_NATIVE_HOTPLUG);
        assertEquals(PciHostOsc.PCIE_PME, PciHostOsc.GRANTED & PciHostOsc.PCIE_PME);
        assertEquals(PciHostOsc.PCIE_CAPABILITY, PciHostOsc.GRANTED & PciHostOsc.PCIE_CAPABILITY);
        for (int no : new int[] {PciHostOsc.SHPC_NATIVE_HOTPLUG, PciHostOsc.PCIE_AER, PciHostOsc.PCIE_LTR, PciHostOsc.PCIE_DPC}) {
            assertEquals(0, PciHostOsc.GRANTED & no, Integer.toHexString(no));
        }
    }

    /** The method as iasl 20200925 compiles PciHostOsc's ASL (the class comment), byte for byte. */
    @Test
    void theMethodAsIaslCompilesIt() {
        byte[] uuid = AmlWriter.uuidBytes(PciHostOsc.PCI_HOST_BRIDGE_UUID);
        byte[] expected = cat(
            b(0x14, 0x4C, 0x07), ascii("_OSC"), b(0x04),                     // Method (_OSC, 4, NotSerialized), 0x74
            b(0x8A, 0x6B, 0x00), ascii("CDW1"),                               // CreateDWordField (Arg3, Zero, CDW1)
            b(0xA0, 0x4E, 0x05, 0x93, 0x68, 0x11, 0x13, 0x0A, 0x10), uuid,    // If ((Arg0 == ToUUID (...))), 0x54
            b(0x8A, 0x6B, 0x0A, 0x04), ascii("CDW2"),                         //   CreateDWordField (Arg3, 0x04, CDW2)
            b(0x8A, 0x6B, 0x0A, 0x08), ascii("CDW3"),                         //   CreateDWordField (Arg3, 0x08, CDW3)
            b(0x70), ascii("CDW3"), b(0x60),                                  //   Local0 = CDW3
            b(0x7B, 0x60, 0x0A, 0x15, 0x60),                                  //   Local0 &= 0x15
            b(0xA0, 0x10, 0x92, 0x93, 0x69, 0x01),                            //   If ((Arg1 != One))
            b(0x7D), ascii("CDW1"), b(0x0A, 0x08), ascii("CDW1"),             //     CDW1 |= 0x08
            b(0xA0, 0x13, 0x92, 0x93), ascii("CDW3"), b(0x60),                //   If ((CDW3 != Local0))
            b(0x7D), ascii("CDW1"), b(0x0A, 0x10), ascii("CDW1"),             //     CDW1 |= 0x10
            b(0x70, 0x60), ascii("CDW3"),                                     //   CDW3 = Local0
            b(0xA1, 0x0C, 0x7D), ascii("CDW1"), b(0x0A, 0x04), ascii("CDW1"), // Else { CDW1 |= 0x04 }
            b(0xA4, 0x6B));                                                   // Return (Arg3)
        assertArrayEquals(expected, osc());
        assertArrayEquals(b(0x5B, 0x4D, 0xDB, 0x33, 0xF7, 0x1F, 0x1C, 0x40, 0x96, 0x57, 0x74, 0x41, 0xC0, 0x3D, 0xD7, 0x66), uuid);
    }

    static AcpiTables q35() {
        return new AcpiTables(2)
            .pciHost(new PciHost(0, 0, 255, 0xB000_0000L, 0xC000_0000L, 0x3EC0_0000L,
                0x80_0000_0000L, 0x80_0000_0000L, PciHost.swizzledRoutes(32, 16)))
            .nativePcieHotplug(true);
    }

    private static byte[] dsdt(AcpiTables t) {
        return t.build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE).table("DSDT");
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        return indexOf(hay, needle, 0);
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void q35sPci0HasItAfterUidAsQemusHas() {
        byte[] d = dsdt(q35());
        int pci0 = indexOf(d, ascii("PCI0"));
        int uid = indexOf(d, cat(b(0x08), ascii("_UID"), b(0x00)), pci0);
        int osc = indexOf(d, osc());
        int crs = indexOf(d, cat(b(0x08), ascii("_CRS")), pci0);
        assertTrue(pci0 > 0 && uid > pci0, "Device (PCI0) { ... Name (_UID, Zero)");
        assertEquals(uid + 6, osc, "_OSC right after _UID");
        assertEquals(osc + osc().length, crs, "then _CRS");
        assertEquals(osc + 3, indexOf(d, ascii("_OSC")), "the first _OSC");
        assertEquals(-1, indexOf(Arrays.copyOfRange(d, osc + 4, d.length), ascii("_OSC")), "and the only one");
    }

    @Test
    void pcAndMicrovmAndAPlainPciExpressHostHaveNone() {
        for (AcpiTables t : List.of(AcpiTablesTest.pcWithHotplug(), AcpiTablesTest.full(), new AcpiTables(1),
            new AcpiTables(1).addVirtioMmio(0xFEB00000L, 0x200, 16))) {
            assertEquals(-1, indexOf(dsdt(t), ascii("_OSC")));
            assertEquals(-1, indexOf(dsdt(t), ascii("CDW3")));
        }
        assertFalse(AcpiTablesTest.pcWithHotplug().dsdtConfig().nativePcieHotplug());
        assertTrue(q35().dsdtConfig().nativePcieHotplug());
    }

    @Test
    void needsAPciExpressHostAndNoAcpiHotplug() {
        assertThrows(IllegalArgumentException.class, () -> dsdt(new AcpiTables(1).nativePcieHotplug(true)), "no PCI host");
        assertThrows(IllegalArgumentException.class, () -> dsdt(new AcpiTables(1).nativePcieHotplug(true)
            .pciHost(PciHost.legacy(0xC000_0000L, 0x2000_0000L, List.of()))), "no ECAM: not PCI Express");
        assertThrows(IllegalArgumentException.class, () -> dsdt(q35().pciHotplug(1 << 2)), "ACPI hot-plug too");
    }
}
