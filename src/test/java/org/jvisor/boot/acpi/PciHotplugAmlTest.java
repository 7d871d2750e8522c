package org.jvisor.boot.acpi;

import org.junit.jupiter.api.Test;

import static org.jvisor.boot.acpi.AmlWriterTest.b;
import static org.jvisor.boot.acpi.AmlWriterTest.cat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Byte-level checks of the hot-plug AML (ACPI 6.5 ch. 20); IaslTest has ACPICA read and run it. */
class PciHotplugAmlTest {

    private static byte[] ascii(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static byte[] rootBus(int slots) {
        AmlWriter w = new AmlWriter();
        PciHotplugAml.writeRootBus(w, slots);
        return w.toByteArray();
    }

    @Test
    void slotNamesAreQemusDevfnNames() {
        assertEquals("S08", PciHotplugAml.slotName(1));
        assertEquals("S10", PciHotplugAml.slotName(2));
        assertEquals("S18", PciHotplugAml.slotName(3));
        assertEquals("SF8", PciHotplugAml.slotName(31));
        assertEquals("_E01", PciHotplugAml.GPE_METHOD);
    }

    @Test
    void aSlotDeviceHasSunAdrAndEj0CallingPcej() {
        byte[] expected = cat(
            b(0x5B, 0x82, 0x29), ascii("S10_"),                 // Device (S10), PkgLength 41
            b(0x08), ascii("_SUN"), b(0x0A, 0x02),               // Name (_SUN, 2)
            b(0x08), ascii("_ADR"), b(0x0C, 0x00, 0x00, 0x02, 0x00), // Name (_ADR, 0x00020000)
            b(0x14, 0x12), ascii("_EJ0"), b(0x01),               // Method (_EJ0, 1, NotSerialized)
            ascii("PCEJBSEL_SUN"));                              // PCEJ (BSEL, _SUN)
        byte[] aml = rootBus(1 << 2);
        assertTrue(indexOf(aml, expected) >= 0, "Device (S10) as encoded by hand");
        assertEquals(-1, indexOf(aml, ascii("S18_")), "one slot, one device");
    }

    @Test
    void dvntTestsEachSlotBitAndNotifiesWithArg1() {
        // If (And (Arg0, 0x80000000, Zero)) { Notify (SF8, Arg1) }
        byte[] expected = cat(b(0xA0, 0x0F, 0x7B, 0x68, 0x0C, 0x00, 0x00, 0x00, 0x80, 0x00, 0x86), ascii("SF8_"), b(0x69));
        assertTrue(indexOf(rootBus(1 << 31), expected) >= 0);
    }

    @Test
    void pcntSelectsTheRootBusAndReadsEachRegisterOnce() {
        byte[] expected = cat(
            b(0x14, 0x1F), ascii("PCNT"), b(0x00),   // Method (PCNT, 0, NotSerialized), PkgLength 31
            b(0x70, 0x00), ascii("BNUM"),            // Store (Zero, BNUM)
            ascii("DVNTPCIU"), b(0x01),              // DVNT (PCIU, One)
            ascii("DVNTPCID"), b(0x0A, 0x03));       // DVNT (PCID, 3)
        byte[] aml = rootBus(1 << 5);
        int at = indexOf(aml, expected);
        assertEquals(aml.length - expected.length, at, "PCNT, last");
    }

    @Test
    void pcejTakesTheMutexAndWritesTheSlotBit() {
        byte[] expected = cat(
            b(0x5B, 0x01), ascii("BLCK"), b(0x00),                       // Mutex (BLCK, 0)
            b(0x14, 0x25), ascii("PCEJ"), b(0x02),                       // Method (PCEJ, 2, NotSerialized)
            b(0x5B, 0x23), ascii("BLCK"), b(0xFF, 0xFF),                 // Acquire (BLCK, 0xFFFF)
            b(0x70, 0x68), ascii("BNUM"),                                // Store (Arg0, BNUM)
            b(0x70, 0x79, 0x01, 0x69, 0x00), ascii("B0EJ"),              // Store (ShiftLeft (One, Arg1), B0EJ)
            b(0x5B, 0x27), ascii("BLCK"),                                // Release (BLCK)
            b(0xA4, 0x00));                                              // Return (Zero)
        assertTrue(indexOf(rootBus(1 << 5), expected) >= 0);
    }

    @Test
    void registersAreDwordFieldsOverQemusPorts() {
        byte[] expected = cat(
            b(0x5B, 0x80), ascii("PCST"), b(0x01, 0x0B, 0x00, 0xAE, 0x0A, 0x08), // OperationRegion (PCST, SystemIO, 0xAE00, 8)
            b(0x5B, 0x81, 0x10), ascii("PCST"), b(0x43),                        // Field (PCST, DWordAcc, NoLock, WriteAsZeros)
            ascii("PCIU"), b(0x20), ascii("PCID"), b(0x20));
        byte[] aml = rootBus(1 << 5);
        assertTrue(indexOf(aml, expected) > 0);
        assertTrue(indexOf(aml, cat(b(0x5B, 0x80), ascii("SEJ_"), b(0x01, 0x0B, 0x08, 0xAE, 0x0A, 0x04))) > 0);
        assertTrue(indexOf(aml, cat(b(0x5B, 0x80), ascii("BNMR"), b(0x01, 0x0B, 0x10, 0xAE, 0x0A, 0x08))) > 0);
    }

    @Test
    void gpeMethodCallsPcntUnderTheLock() {
        AmlWriter w = new AmlWriter();
        PciHotplugAml.writeGpeScope(w);
        byte[] lock = cat(b(0x5C, 0x2F, 0x03), ascii("_SB_PCI0BLCK"));
        byte[] expected = cat(
            b(0x10, 0x41, 0x04, 0x5C), ascii("_GPE"),                  // Scope (\_GPE), PkgLength 64 in 2 bytes
            b(0x14, 0x39), ascii("_E01"), b(0x00),                     // Method (_E01, 0, NotSerialized), 57
            b(0x5B, 0x23), lock, b(0xFF, 0xFF),                        // Acquire (\_SB.PCI0.BLCK, 0xFFFF)
            b(0x5C, 0x2F, 0x03), ascii("_SB_PCI0PCNT"),                // \_SB.PCI0.PCNT ()
            b(0x5B, 0x27), lock);                                      // Release (\_SB.PCI0.BLCK)
        assertArrayEquals(expected, w.toByteArray());
    }

    @Test
    void thePortRangesAreReservedAsQemusAre() {
        byte[] aml = rootBus(1 << 5);
        // IO (Decode16, min, max, 1, length)
        assertTrue(indexOf(aml, b(0x47, 0x01, 0xE0, 0xAF, 0xE0, 0xAF, 0x01, 0x04)) > 0, "GPE0: 0xAFE0, 4 ports");
        assertTrue(indexOf(aml, b(0x47, 0x01, 0x00, 0xAE, 0x00, 0xAE, 0x01, 0x18)) > 0, "PHPR: 0xAE00, 0x18 ports");
        assertEquals(0, indexOf(aml, b(0x5B, 0x82)), "Device (GPE0) first");
        assertEquals(4, indexOf(aml, ascii("GPE0")), "after its 2-byte PkgLength");
        assertTrue(indexOf(aml, ascii("GPE0 resources")) > 0);
        assertTrue(indexOf(aml, ascii("PCI Hotplug resources")) > 0);
    }
}
