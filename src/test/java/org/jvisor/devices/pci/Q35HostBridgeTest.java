package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.memory.AddressSpace;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The Q35 MCH as SeaBIOS programs it (mch_mmconfig_setup, make_bios_writable_intel at 0x90):
 * through port I/O at 0xCF8/0xCFC until PCIEXBAR places the ECAM window, then through the window
 * at the address written; clearing the enable, a reset or another length moves or removes it.
 */
class Q35HostBridgeTest {
    private final AddressSpace io = new AddressSpace("io", 0x10000);
    private final AddressSpace mmio = new AddressSpace("memory", 1L << 40);
    private final List<Integer> protection = new ArrayList<>();
    private PciHostBridge bridge;
    private final Q35HostBridge mch = Q35HostBridge.forFirmware(protection::add, new Q35HostBridge.EcamMapping() {
        @Override
        public void map(long base, int buses) {
            bridge.registerEcam(base, buses);
        }

        @Override
        public void unmap() {
            bridge.unregisterEcam();
        }
    });

    Q35HostBridgeTest() {
        bridge = new PciHostBridge(io, mmio, MsiSink.NONE, PciIrqRouting.swizzled(16), gsi -> level -> { }, mch);
        bridge.registerPorts(new PciHostBridgeTest.ResetRegister());
    }

    private void conf1Write(int reg, int value) {
        io.write(0xCF8, 4, (0x8000_0000L | reg) & 0xFFFF_FFFFL);
        io.write(0xCFC, 4, value & 0xFFFF_FFFFL);
    }

    private int conf1Read(int reg) {
        io.write(0xCF8, 4, (0x8000_0000L | reg) & 0xFFFF_FFFFL);
        return (int) io.read(0xCFC, 4);
    }

    /** The host bridge's vendor and device ID read through an ECAM window at {@code base}. */
    private int idAt(long base) {
        return (int) mmio.read(base, 4);
    }

    @Test
    void pciexbarPlacesMovesAndRemovesTheEcamWindow() {
        int id = 0x8086 | Q35HostBridge.DEVICE_ID << 16;
        assertEquals(id, conf1Read(0));
        assertEquals(0, conf1Read(Q35HostBridge.PCIEXBAR), "PCIEXBAR 0 after reset: no window");
        assertEquals(-1, idAt(0xB000_0000L));
        // mch_mmconfig_setup: 0, then the upper half, then the lower half with the enable
        conf1Write(Q35HostBridge.PCIEXBAR, 0);
        conf1Write(Q35HostBridge.PCIEXBAR + 4, 0);
        conf1Write(Q35HostBridge.PCIEXBAR, 0xB000_0000 | Q35HostBridge.PCIEXBAR_EN);
        assertEquals(id, idAt(0xB000_0000L), "256 buses at 0xB0000000");
        assertEquals(0xB000_0001, conf1Read(Q35HostBridge.PCIEXBAR));
        assertEquals(0xFFFF_FFFFL, mmio.read(0xB000_0000L + (255L << 20), 4), "bus 255: no function there, window there");
        // 64 MiB (LENGTH 10b): buses 0-63, the base aligned to 64 MiB
        conf1Write(Q35HostBridge.PCIEXBAR, 0xC400_0000 | 2 << 1 | Q35HostBridge.PCIEXBAR_EN);
        assertEquals(-1, idAt(0xB000_0000L), "moved away");
        assertEquals(id, idAt(0xC400_0000L));
        assertEquals(0xC400_0005, conf1Read(Q35HostBridge.PCIEXBAR));
        assertEquals(-1, (int) mmio.read(0xC400_0000L + (64L << 20), 4), "64 buses only");
        // the reserved length 11b and a clear enable: no window
        conf1Write(Q35HostBridge.PCIEXBAR, 0xC400_0000 | 3 << 1 | Q35HostBridge.PCIEXBAR_EN);
        assertEquals(-1, idAt(0xC400_0000L));
        conf1Write(Q35HostBridge.PCIEXBAR, 0xB000_0000 | Q35HostBridge.PCIEXBAR_EN);
        conf1Write(Q35HostBridge.PCIEXBAR, 0xB000_0000);
        assertEquals(-1, idAt(0xB000_0000L));
        // above 4 GiB (bits 35:32 in the upper half), then a reset removes it
        conf1Write(Q35HostBridge.PCIEXBAR + 4, 0x3);
        conf1Write(Q35HostBridge.PCIEXBAR, 0x1000_0000 | Q35HostBridge.PCIEXBAR_EN);
        assertEquals(id, idAt(0x3_1000_0000L));
        mch.reset();
        assertEquals(-1, idAt(0x3_1000_0000L), "reset: PCIEXBAR 0, no window");
        assertEquals(0, conf1Read(Q35HostBridge.PCIEXBAR + 4));
    }

    @Test
    void pamAtNinetyHexDecidesTheBiosAreasWriteEnables() {
        assertEquals(PamRegisters.ALL_READ_ONLY, (int) protection.getLast(), "PAM 0 at power-on");
        // make_bios_writable_intel(bdf, 0x90): PAM0 0x30 and PAM1-6 0x33 by dword read-modify-writes
        conf1Write(0x90, 0x30 | 0x33 << 8 | 0x33 << 16 | 0x33 << 24);
        conf1Write(0x94, 0x0033_3333);
        assertEquals(0, (int) protection.getLast(), "every segment writable");
        assertEquals(0x33, conf1Read(0x96) & 0xFF);
        conf1Write(0x90, 0x1111_1110);
        conf1Write(0x94, 0x0011_1111);
        assertEquals(PamRegisters.ALL_READ_ONLY, (int) protection.getLast());
        // SMRAM keeps C_BASE_SEG (0x9D)
        assertEquals(0x02, conf1Read(0x9C) >>> 8 & 0xFF);
        mch.reset();
        assertEquals(PamRegisters.ALL_READ_ONLY, (int) protection.getLast());
    }

    @Test
    void aDirectlyBootedLinuxSeesTheIdentityOnly() {
        Q35HostBridge plain = new Q35HostBridge();
        plain.writeConfig(Q35HostBridge.PCIEXBAR, 4, 0xB000_0001);
        assertEquals(0, plain.readConfig(Q35HostBridge.PCIEXBAR, 4));
        plain.writeConfig(Q35HostBridge.PAM0, 1, 0x30);
        assertEquals(0, plain.readConfig(Q35HostBridge.PAM0, 1));
        assertEquals(0x1AF4, plain.readConfig(PciDevice.SUBSYSTEM_VENDOR_ID, 2));
    }
}
