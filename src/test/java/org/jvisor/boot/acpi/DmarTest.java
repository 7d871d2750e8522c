package org.jvisor.boot.acpi;

import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The DMAR laid out as QEMU 7.2's build_dmar_q35. */
class DmarTest {

    @Test
    void oneUnitWithTheIoapicAndEveryFunctionInScope() {
        byte[] t = Dmar.build(new Dmar.Unit(0xFED9_0000L, 39, true, false, 0, List.of(0x00, 0x08, 0x10)));
        assertEquals(48 + 16 + 8 + 3 * 8, t.length);
        assertEquals(0, SdtWriter.sum(t, 0, t.length) & 0xFF, "checksum");
        assertEquals("DMAR", new String(t, 0, 4, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(38, t[36], "HAW = aw-bits - 1");
        assertEquals(Dmar.FLAG_INTR_REMAP, t[37]);
        // DRHD: type 0, length, flags 0 (scoped), segment 0, base
        assertArrayEquals(new byte[] {0, 0, 48, 0, 0, 0, 0, 0, 0, 0, (byte) 0xD9, (byte) 0xFE, 0, 0, 0, 0},
            java.util.Arrays.copyOfRange(t, 48, 64));
        // IOAPIC scope: type 3, length 8, id 0, bus 0xFF, path 00.0
        assertArrayEquals(new byte[] {3, 8, 0, 0, 0, (byte) 0xFF, 0, 0}, java.util.Arrays.copyOfRange(t, 64, 72));
        // endpoints 00.0, 01.0, 02.0 on bus 0
        assertArrayEquals(new byte[] {1, 8, 0, 0, 0, 0, 1, 0}, java.util.Arrays.copyOfRange(t, 80, 88));
        assertArrayEquals(new byte[] {1, 8, 0, 0, 0, 0, 2, 0}, java.util.Arrays.copyOfRange(t, 88, 96));
    }

    @Test
    void deviceIotlbAddsAnAtsrForAllPortsAndIntremapOffClearsTheFlag() {
        byte[] t = Dmar.build(new Dmar.Unit(0xFED9_0000L, 48, false, true, 0, List.of(0x00)));
        assertEquals(48 + 16 + 8 + 8 + 8, t.length);
        assertEquals(47, t[36]);
        assertEquals(0, t[37]);
        assertArrayEquals(new byte[] {2, 0, 8, 0, 1, 0, 0, 0}, java.util.Arrays.copyOfRange(t, t.length - 8, t.length));
    }

    @Test
    void theTablesListTheDmarWhenThereIsOne() {
        AcpiTables tables = new AcpiTables(1).dmar(new Dmar.Unit(0xFED9_0000L, 39, true, false, 0, List.of(0)));
        AcpiTables.Image image = tables.build(AcpiTables.DEFAULT_BASE, AcpiTables.DEFAULT_SIZE);
        assertEquals(48 + 16 + 8 + 8, image.table("DMAR").length);
    }
}
