package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The 440FX's PAM registers as SeaBIOS's make_bios_writable and make_bios_readonly drive them
 * (dword read-modify-writes at 0x58 and 0x5C): the write enables decide which 16 KiB segments of
 * 0xC0000-0xFFFFF are read-only, reset makes them all read-only again, SMRAM keeps its fixed bits.
 */
class I440fxHostBridgeTest {
    private final List<Integer> heard = new ArrayList<>();
    private final I440fxHostBridge host = new I440fxHostBridge(heard::add);

    private int last() {
        return heard.get(heard.size() - 1);
    }

    @Test
    void pamWriteEnablesMakeSegmentsWritableAndResetClosesThemAgain() {
        assertEquals(0x8086, host.readConfig(PciDevice.VENDOR_ID, 2));
        assertEquals(0x1237, host.readConfig(PciDevice.DEVICE_ID, 2));
        assertEquals(I440fxHostBridge.ALL_READ_ONLY, last(), "PAM 0 at power-on: nothing writable");
        // make_bios_writable: PAM1-6 = 0x33, PAM0 = 0x30 (F segment: read ROM, write RAM)
        int d0 = host.readConfig(0x58, 4);
        host.writeConfig(0x58, 4, (d0 & 0x00FF_FFFF & 0xFF) | 0x30 << 8 | 0x33 << 16 | 0x33 << 24);
        host.writeConfig(0x5C, 4, 0x3333_3333);
        assertEquals(0, last(), "every segment writable");
        assertEquals(0x30, host.readConfig(I440fxHostBridge.PAM0, 1));
        // make_bios_readonly: 0x11 everywhere, PAM0 0x10
        host.writeConfig(0x58, 4, 0x1111_1000);
        host.writeConfig(0x5C, 4, 0x1111_1111);
        assertEquals(I440fxHostBridge.ALL_READ_ONLY, last());
        // one nibble: PAM5's high nibble is 0xE4000-0xE7FFF, segment 9; reserved bits stay 0
        host.writeConfig(I440fxHostBridge.PAM0 + 5, 1, 0xFF);
        assertEquals(0x33, host.readConfig(I440fxHostBridge.PAM0 + 5, 1));
        assertEquals(I440fxHostBridge.ALL_READ_ONLY & ~(1 << 8 | 1 << 9), last());
        host.reset();
        assertEquals(I440fxHostBridge.ALL_READ_ONLY, last());
        assertEquals(0, host.readConfig(I440fxHostBridge.PAM0 + 5, 1));
    }

    @Test
    void smramKeepsItsBaseSegmentBits() {
        assertEquals(0x02, host.readConfig(I440fxHostBridge.SMRAM, 1));
        host.writeConfig(I440fxHostBridge.SMRAM, 1, 0xFF);
        assertEquals(0x7A, host.readConfig(I440fxHostBridge.SMRAM, 1));
        host.reset();
        assertEquals(0x02, host.readConfig(I440fxHostBridge.SMRAM, 1));
    }
}
