package org.jvisor.devices.ahci;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.memory.DmaSpace;

/** The ICH9 SATA function's configuration space, as QEMU's ich9-ahci shows it. */
class Ich9AhciTest {
    @Test
    void configurationSpaceIsQemusIch9Ahci() {
        Ich9Ahci f = new Ich9Ahci("ahci0", (DmaSpace) null, msg -> { });
        assertEquals(0x2922_8086, f.readConfig(PciDevice.VENDOR_ID, 4));
        assertEquals(0x0106_0102, f.readConfig(PciDevice.REVISION_ID, 4));
        assertEquals(1, f.readConfig(PciDevice.INTERRUPT_PIN, 1));
        assertEquals(0x1100_1AF4, f.readConfig(PciDevice.SUBSYSTEM_VENDOR_ID, 4));
        assertEquals(Ich9Ahci.MAP_AHCI, f.readConfig(Ich9Ahci.MAP, 1));
        // BAR5 sizes to 4 KiB of memory, BAR4 to 32 bytes of I/O
        f.writeConfig(PciDevice.BAR0 + 4 * Ich9Ahci.ABAR, 4, -1);
        assertEquals(0xFFFF_F000, f.readConfig(PciDevice.BAR0 + 4 * Ich9Ahci.ABAR, 4));
        f.writeConfig(PciDevice.BAR0 + 4 * Ich9Ahci.INDEX_DATA_BAR, 4, -1);
        assertEquals(0xFFFF_FFE1, f.readConfig(PciDevice.BAR0 + 4 * Ich9Ahci.INDEX_DATA_BAR, 4));
        // capabilities: MSI, then SATA pointing at BAR4 offset 0x10
        int msi = f.readConfig(PciDevice.CAPABILITIES_POINTER, 1);
        assertEquals(0x05, f.readConfig(msi, 1));
        int sata = f.readConfig(msi + 1, 1);
        assertEquals(0x12, f.readConfig(sata, 1));
        assertEquals(0x10, f.readConfig(sata + 2, 2));
        assertEquals(0x48, f.readConfig(sata + 4, 4));
        // the index/data pair reaches ABAR: CAP through index 0
        var idp = f.bar(Ich9Ahci.INDEX_DATA_BAR).device();
        idp.write(Ich9Ahci.INDEX, 4, 0);
        assertEquals(0xC014_1F05L, idp.read(Ich9Ahci.DATA, 4));
    }
}
