package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.jvisor.memory.AddressSpace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A root port as Linux's PCI core meets it: enumerated through ECAM, numbered (pci_scan_bridge),
 * its windows sized (pci_bridge_check_ranges) and the function behind it reached at the bus number
 * the guest chose; INTx through the port's slot, secondary bus reset.
 */
class PcieRootPortTest {
    private static final long ECAM = 0xE000_0000L;

    private final AddressSpace io = new AddressSpace("io", 0x10000);
    private final AddressSpace mmio = new AddressSpace("memory", 1L << 52);
    private final Map<Integer, List<Boolean>> gsis = new HashMap<>();
    private final PciHostBridge bridge = new PciHostBridge(io, mmio, MsiSink.NONE, PciIrqRouting.swizzled(16),
        gsi -> level -> gsis.computeIfAbsent(gsi, g -> new ArrayList<>()).add(level));
    private final PcieRootPort port = new PcieRootPort(8, 3, true);
    private final TestFunction disk = new TestFunction(0x1AF4, 0x1042, 0x010000).pin(1);

    PcieRootPortTest() {
        bridge.registerEcam(ECAM, 256);
        bridge.add(1, 0, port);
        bridge.add(port, 0, disk);
    }

    private int read(int bus, int slot, int fn, int reg, int size) {
        return (int) mmio.read(ECAM + ((long) bus << 20 | slot << 15 | fn << 12 | reg), size);
    }

    private void write(int bus, int slot, int fn, int reg, int size, int value) {
        mmio.write(ECAM + ((long) bus << 20 | slot << 15 | fn << 12 | reg), size, value & 0xFFFF_FFFFL);
    }

    @Test
    void typeOneHeaderWithARootPortCapability() {
        assertEquals(0x000C_1B36, read(0, 1, 0, 0, 4));
        assertEquals(0x0604_00, read(0, 1, 0, 0x08, 4) >>> 8);
        assertEquals(0x81, read(0, 1, 0, 0x0E, 1), "type 1, multi-function as multifunction=on asked");
        int cap = read(0, 1, 0, 0x34, 1);
        assertEquals(PciCapability.ID_PCIE, read(0, 1, 0, cap, 1));
        assertEquals(PcieCapability.TYPE_ROOT_PORT, read(0, 1, 0, cap + 2, 2) >>> 4 & 0xF);
        assertEquals(8, read(0, 1, 0, cap + 0x0C, 4) >>> 24, "port number");
        assertEquals(3, read(0, 1, 0, cap + 0x14, 4) >>> 19, "physical slot number");
        assertEquals(1 << 6, read(0, 1, 0, cap + 0x1A, 2) & 1 << 6, "a function is present");
        assertEquals(0, read(0, 1, 0, 0x3D, 1), "no interrupt pin: the port raises no events");
    }

    @Test
    void theFunctionBehindAnswersAtTheBusTheGuestAssigns() {
        assertEquals(-1, read(1, 0, 0, 0, 4), "unnumbered: nothing below");
        // pci_scan_bridge: primary 0, secondary 5, subordinate 5
        write(0, 1, 0, 0x18, 4, 0x00_05_05_00);
        assertEquals(0x05_05_00, read(0, 1, 0, 0x18, 4) & 0xFF_FFFF);
        assertEquals(0x1042_1AF4, read(5, 0, 0, 0, 4));
        assertEquals(-1, read(5, 1, 0, 0, 4), "a link has device 0 only");
        assertEquals(-1, read(1, 0, 0, 0, 4));
        assertEquals(0x1042_1AF4, bridge.readConfig(5, 0, 0, 0, 4), "through mechanism #1 too");
        write(5, 0, 0, 0x3C, 1, 0x11);
        assertEquals(0x11, read(5, 0, 0, 0x3C, 1));
        write(0, 1, 0, 0x18, 4, 0x00_06_06_00);
        assertEquals(-1, read(5, 0, 0, 0, 4), "renumbered");
        assertEquals(0x11, read(6, 0, 0, 0x3C, 1));
    }

    @Test
    void windowsSizeAsTheBridgeSpecSays() {
        // pci_bridge_check_ranges: I/O 16-bit, memory, prefetchable 64-bit
        write(0, 1, 0, 0x1C, 2, 0xE0F0);
        assertEquals(0xE0F0, read(0, 1, 0, 0x1C, 2));
        write(0, 1, 0, 0x20, 4, 0xFFFF_FFFF);
        assertEquals(0xFFF0_FFF0, read(0, 1, 0, 0x20, 4));
        write(0, 1, 0, 0x24, 4, 0xFFFF_FFFF);
        assertEquals(0xFFF1_FFF1, read(0, 1, 0, 0x24, 4), "64-bit prefetchable");
        write(0, 1, 0, 0x28, 4, 0xFFFF_FFFF);
        assertEquals(0xFFFF_FFFF, read(0, 1, 0, 0x28, 4));
        assertEquals(0, read(0, 1, 0, 0x10, 4), "no BARs");
        assertEquals(0, read(0, 1, 0, 0x38, 4), "no expansion ROM");
    }

    @Test
    void intxGoesThroughThePortsSlotAndSecondaryResetResetsTheFunction() {
        disk.intx().set(true);
        assertEquals(List.of(true), gsis.get(PciIrqRouting.swizzled(16).gsi(1, 0)), "pin A of device 0 is the port's pin A");
        disk.intx().set(false);
        write(0, 1, 0, 0x18, 4, 0x00_01_01_00);
        write(1, 0, 0, 0x04, 2, PciDevice.COMMAND_MEMORY);
        assertEquals(PciDevice.COMMAND_MEMORY, read(1, 0, 0, 0x04, 2));
        write(0, 1, 0, 0x3E, 2, PcieRootPort.BRIDGE_CONTROL_SECONDARY_RESET);
        write(0, 1, 0, 0x3E, 2, 0);
        assertEquals(0, read(1, 0, 0, 0x04, 2), "reset by the secondary bus reset");
        assertEquals(0x01_01_00, read(0, 1, 0, 0x18, 4) & 0xFF_FFFF, "the port keeps its numbers");
        bridge.reset();
        assertEquals(0, read(0, 1, 0, 0x18, 4) & 0xFF_FFFF, "a bus reset clears them");
    }

    /** A BAR behind the port decodes only inside an open window of the port, with the port's enable on. */
    @Test
    void barsDecodeOnlyInsideThePortsWindows() {
        TestFunction nic = new TestFunction(0x1AF4, 0x1041, 0x020000)
            .bar(0, PciBarRegion.memory32("regs", 0x1000, false, new TestFunction.Memory(0)));
        PcieRootPort p2 = new PcieRootPort(9, 1, false);
        bridge.add(2, 0, p2);
        bridge.add(p2, 0, nic);
        write(0, 2, 0, 0x18, 4, 0x00_02_02_00);
        write(2, 0, 0, 0x10, 4, 0xC010_0000);
        write(2, 0, 0, 0x04, 2, PciDevice.COMMAND_MEMORY);
        assertEquals(-1L, nic.bar(0).mappedAddress(), "the port forwards nothing yet");
        write(0, 2, 0, 0x20, 4, 0xC010_C010);           // memory window 0xC0100000-0xC01FFFFF
        assertEquals(-1L, nic.bar(0).mappedAddress(), "memory enable still off at the port");
        write(0, 2, 0, 0x04, 2, PciDevice.COMMAND_MEMORY);
        assertEquals(0xC010_0000L, nic.bar(0).mappedAddress());
        write(2, 0, 0, 0x10, 4, 0xC020_0000);
        assertEquals(-1L, nic.bar(0).mappedAddress(), "outside the window");
        write(0, 2, 0, 0x24, 4, 0xC021_C021);           // the prefetchable window forwards it just the same
        assertEquals(0xC020_0000L, nic.bar(0).mappedAddress());
        write(0, 2, 0, 0x24, 4, 0x0001_FFF1);           // closed (base above limit)
        assertEquals(-1L, nic.bar(0).mappedAddress());
    }

    @Test
    void oneFunctionPerPlace() {
        assertThrows(IllegalArgumentException.class, () -> bridge.add(port, 0, new TestFunction(1, 2, 0)));
        assertThrows(IllegalArgumentException.class, () -> bridge.add(new PcieRootPort(0, 0, false), 0, new TestFunction(1, 2, 0)));
    }
}
