package org.jvisor.devices.pci;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * PMBASE of the ICH9 LPC bridge: 0 with the enables clear for a directly booted Linux; for
 * firmware where jvisor's PM block answers, whatever is written (SeaBIOS writes the same 0x601).
 */
class Ich9LpcBridgeTest {
    @Test
    void pmBaseReadsWhereThePmBlockIs() {
        Ich9LpcBridge plain = new Ich9LpcBridge();
        assertEquals(0, plain.readConfig(Ich9LpcBridge.PMBASE, 4));
        Ich9LpcBridge firmware = Ich9LpcBridge.withPmBase(0x600);
        assertEquals(0x601, firmware.readConfig(Ich9LpcBridge.PMBASE, 4));
        firmware.writeConfig(Ich9LpcBridge.PMBASE, 4, 0xB001);
        assertEquals(0x601, firmware.readConfig(Ich9LpcBridge.PMBASE, 4), "hardwired to the PM block");
        firmware.writeConfig(0x44, 1, 0x80);   // ACPI_CNTL: plain read-write, as QEMU leaves it
        assertEquals(0x80, firmware.readConfig(0x44, 1));
        firmware.reset();
        assertEquals(0x601, firmware.readConfig(Ich9LpcBridge.PMBASE, 4), "a reset keeps it");
        assertThrows(IllegalArgumentException.class, () -> Ich9LpcBridge.withPmBase(0x610));
    }
}
