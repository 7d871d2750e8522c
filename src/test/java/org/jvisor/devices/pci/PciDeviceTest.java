package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.jvisor.memory.AddressSpace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PciDeviceTest {
    private final AddressSpace io = new AddressSpace("io", 0x10000);
    private final AddressSpace mmio = new AddressSpace("memory", 1L << 52);
    private final List<Boolean> intx = new ArrayList<>();

    private TestFunction attach(TestFunction f) {
        f.attach("00:03.0", io, mmio, intx::add, MsiSink.NONE);
        return f;
    }

    @Test
    void headerIdentificationIsReadOnly() {
        TestFunction f = attach(new TestFunction(0x1AF4, 0x1042, 0x010000).subsystem(0x1AF4, 0x0002).pin(1));
        assertEquals(0x10421AF4, f.readConfig(0x00, 4));
        assertEquals(0x01000001, f.readConfig(0x08, 4));
        assertEquals(0x00021AF4, f.readConfig(0x2C, 4));
        assertEquals(0x01, f.readConfig(PciDevice.INTERRUPT_PIN, 1));
        f.writeConfig(0x00, 4, 0x12345678);
        f.writeConfig(0x08, 4, -1);
        f.writeConfig(0x2C, 4, -1);
        f.writeConfig(PciDevice.INTERRUPT_PIN, 1, 3);
        f.writeConfig(PciDevice.HEADER_TYPE, 1, 0x7F);
        assertEquals(0x10421AF4, f.readConfig(0x00, 4));
        assertEquals(0x01000001, f.readConfig(0x08, 4));
        assertEquals(0x00021AF4, f.readConfig(0x2C, 4));
        assertEquals(0x01, f.readConfig(PciDevice.INTERRUPT_PIN, 1));
        assertEquals(0, f.readConfig(PciDevice.HEADER_TYPE, 1));
        assertEquals(0x1AF4, f.vendorId());
        assertEquals(0x010000, f.classCode());
        // Byte and word reads at any offset of a dword.
        assertEquals(0x42, f.readConfig(0x02, 1));
        assertEquals(0x1042, f.readConfig(0x02, 2));
    }

    /** Extended capabilities from 0x100, each header linking the next (PCIe base spec 7.6.2); hooks as for the others. */
    @Test
    void extendedCapabilitiesAreLinkedFrom0x100() {
        TestFunction f = attach(new TestFunction(0x1AF4, 0x1042, 0x010000));
        f.cap(new PcieCapability());
        List<String> control = new ArrayList<>();
        f.extendedCap(new AtsCapability((enabled, stu) -> control.add(enabled + "/" + stu)));
        f.extendedCap(new PciExtendedCapability(0x0B, 2, 12) { });   // a vendor-specific one after it
        assertEquals(0x0001_000F | 0x108 << 20, f.readConfig(0x100, 4), "ATS, version 1, next at 0x108");
        assertEquals(0x0002_000B, f.readConfig(0x108, 4), "version 2, the last one");
        f.writeConfig(0x100, 4, 0);
        assertEquals(0x0001_000F | 0x108 << 20, f.readConfig(0x100, 4), "headers are read-only");
        f.writeConfig(0x106, 2, 0x8003);
        f.reset();
        assertEquals(List.of("false/0", "true/3", "false/0"), control);
    }

    @Test
    void commandStatusAndWritableRegisters() {
        TestFunction f = attach(new TestFunction(0x1234, 0x1111, 0xFF0000));
        f.writeConfig(PciDevice.COMMAND, 2, 0xFFFF);
        assertEquals(0x0547, f.readConfig(PciDevice.COMMAND, 2));
        f.writeConfig(PciDevice.CACHE_LINE_SIZE, 1, 0x10);
        f.writeConfig(PciDevice.LATENCY_TIMER, 1, 0x40);
        f.writeConfig(PciDevice.INTERRUPT_LINE, 1, 11);
        assertEquals(0x4010, f.readConfig(PciDevice.CACHE_LINE_SIZE, 2));
        assertEquals(11, f.readConfig(PciDevice.INTERRUPT_LINE, 1));
        assertEquals(0, f.readConfig(PciDevice.ROM_ADDRESS, 4), "no expansion ROM");
        f.writeConfig(PciDevice.ROM_ADDRESS, 4, -1);
        assertEquals(0, f.readConfig(PciDevice.ROM_ADDRESS, 4));
        // A write-1-to-clear status bit: set by the device, cleared by writing 1, untouched by 0.
        f.config().set16(PciDevice.STATUS, 0x2000 | 0x0100);
        f.writeConfig(PciDevice.STATUS, 2, 0);
        assertEquals(0x2100, f.readConfig(PciDevice.STATUS, 2));
        f.writeConfig(PciDevice.STATUS, 2, 0x2000);
        assertEquals(0x0100, f.readConfig(PciDevice.STATUS, 2));
        // Reset clears writable and W1C bits, keeps read-only ones.
        f.reset();
        assertEquals(0, f.readConfig(PciDevice.COMMAND, 2));
        assertEquals(0, f.readConfig(PciDevice.STATUS, 2));
        assertEquals(0, f.readConfig(PciDevice.INTERRUPT_LINE, 1));
        assertEquals(0x11111234, f.readConfig(0, 4));
    }

    @Test
    void barSizingProtocol() {
        TestFunction f = attach(new TestFunction(0x1234, 0x1111, 0xFF0000)
            .bar(0, PciBarRegion.memory32("regs", 0x1000, false, new TestFunction.Memory(0)))
            .bar(1, PciBarRegion.io("ports", 0x20, new TestFunction.Memory(1)))
            .bar(2, PciBarRegion.memory64("big", 0x2_0000_0000L, true, new TestFunction.Memory(2)))
            .bar(4, PciBarRegion.memory32("pref", 0x10, true, new TestFunction.Memory(3))));
        // Type bits read before any write.
        assertEquals(0x0, f.readConfig(0x10, 4));
        assertEquals(0x1, f.readConfig(0x14, 4));
        assertEquals(0xC, f.readConfig(0x18, 4));
        assertEquals(0x0, f.readConfig(0x1C, 4));
        assertEquals(0x8, f.readConfig(0x20, 4));
        assertEquals(0x0, f.readConfig(0x24, 4), "unimplemented BAR reads 0");
        int[] expect = {0xFFFFF000, 0xFFFFFFE1, 0x0000000C, 0xFFFFFFFE, 0xFFFFFFF8, 0};
        for (int i = 0; i < 6; i++) {
            int reg = 0x10 + 4 * i;
            int orig = f.readConfig(reg, 4);
            f.writeConfig(reg, 4, -1);
            assertEquals(expect[i], f.readConfig(reg, 4), "BAR " + i);
            f.writeConfig(reg, 4, orig);
            assertEquals(orig, f.readConfig(reg, 4));
        }
        assertNull(f.bar(3), "upper half of a 64-bit BAR");
        assertTrue(f.bar(2).is64Bit());
    }

    @Test
    void badBarsAreRefused() {
        TestFunction f = new TestFunction(0x1234, 0x1111, 0xFF0000);
        assertThrows(IllegalArgumentException.class, () -> PciBarRegion.memory32("x", 0x3000, false, null));
        assertThrows(IllegalArgumentException.class, () -> PciBarRegion.memory32("x", 8, false, null));
        assertThrows(IllegalArgumentException.class, () -> PciBarRegion.io("x", 0x200, null));
        f.bar(4, PciBarRegion.memory64("a", 0x1000, false, null));
        assertThrows(IllegalArgumentException.class, () -> f.bar(5, PciBarRegion.io("b", 4, null)));
        assertThrows(IllegalArgumentException.class, () -> f.bar(3, PciBarRegion.memory64("c", 0x1000, false, null)));
        assertThrows(IllegalArgumentException.class, () -> f.bar(5, PciBarRegion.memory64("d", 0x1000, false, null)));
    }

    @Test
    void decodeBitsRegisterAndUnregisterRegions() {
        TestFunction.Memory regs = new TestFunction.Memory(0x77);
        TestFunction.Memory ports = new TestFunction.Memory(0x55);
        TestFunction f = attach(new TestFunction(0x1234, 0x1111, 0xFF0000)
            .bar(0, PciBarRegion.memory32("regs", 0x1000, false, regs))
            .bar(1, PciBarRegion.io("ports", 0x20, ports)));
        f.writeConfig(0x10, 4, 0xC000_0000);
        f.writeConfig(0x14, 4, 0xC040);
        assertEquals(-1L & 0xFFFFFFFFL, mmio.read(0xC000_0000L, 4), "memory decode is off");
        assertEquals(0xFFFF, io.read(0xC040, 2));
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY);
        assertEquals(0x77, mmio.read(0xC000_0000L, 4));
        assertEquals(0xFFFF, io.read(0xC040, 2), "I/O decode is still off");
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_IO);
        assertEquals(0x55, io.read(0xC040, 2));
        io.write(0xC044, 4, 0xABCD);
        assertEquals(0xABCD, ports.regs[1]);
        assertEquals(0xC000_0000L, f.bar(0).mappedAddress());
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_IO);
        assertFalse(f.bar(0).mapped());
        assertEquals(0xFFFFFFFFL, mmio.read(0xC000_0000L, 4));
        f.writeConfig(PciDevice.COMMAND, 2, 0);
        assertEquals(0, io.regions().size() + mmio.regions().size());
        assertEquals(List.of("map 0 0xc0000000", "map 1 0xc040", "unmap 0 0xc0000000", "unmap 1 0xc040"), f.events);
    }

    @Test
    void reprogrammingAnEnabledBarMovesTheRegion() {
        TestFunction f = attach(new TestFunction(0x1234, 0x1111, 0xFF0000)
            .bar(0, PciBarRegion.memory32("regs", 0x1000, false, new TestFunction.Memory(0x77))));
        f.writeConfig(0x10, 4, 0xC000_0000);
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY);
        f.writeConfig(0x10, 4, 0xD000_0000);
        assertEquals(0xFFFFFFFFL, mmio.read(0xC000_0000L, 4));
        assertEquals(0x77, mmio.read(0xD000_0000L, 4));
        // Byte writes to the address bytes work too.
        f.writeConfig(0x13, 1, 0xE0);
        assertEquals(0x77, mmio.read(0xE000_0000L, 4));
        // Sizing with decoding left on maps nothing at the top of 4 GiB, and restoring maps it back.
        f.writeConfig(0x10, 4, -1);
        assertFalse(f.bar(0).mapped());
        assertEquals(0, mmio.regions().size());
        f.writeConfig(0x10, 4, 0xE000_0000);
        assertEquals(0xE000_0000L, f.bar(0).mappedAddress());
        assertEquals(List.of("map 0 0xc0000000", "unmap 0 0xc0000000", "map 0 0xd0000000", "unmap 0 0xd0000000",
            "map 0 0xe0000000", "unmap 0 0xe0000000", "map 0 0xe0000000"), f.events);
        // Address 0 does not decode.
        f.writeConfig(0x10, 4, 0);
        assertFalse(f.bar(0).mapped());
    }

    @Test
    void sixtyFourBitBarMapsAboveFourGiB() {
        TestFunction f = attach(new TestFunction(0x1234, 0x1111, 0xFF0000)
            .bar(2, PciBarRegion.memory64("big", 0x4000, true, new TestFunction.Memory(0x64))));
        f.writeConfig(0x18, 4, 0x8000_0000);
        f.writeConfig(0x1C, 4, 0x1);
        assertEquals(0x1_8000_0000L, f.barAddress(2));
        assertEquals(0x1_8000_000CL & 0xFFFFFFFFL, f.readConfig(0x18, 4) & 0xFFFFFFFFL);
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY);
        assertEquals(0x64, mmio.read(0x1_8000_0000L, 4));
        // Sizing the upper half while decoding: beyond the address space, so unmapped.
        f.writeConfig(0x1C, 4, -1);
        assertEquals(-1, f.readConfig(0x1C, 4));
        assertFalse(f.bar(2).mapped());
        f.writeConfig(0x1C, 4, 0x1);
        assertTrue(f.bar(2).mapped());
    }

    @Test
    void conflictingBarDecodesNothing() {
        mmio.register("ram", 0, 0x1000_0000L, new TestFunction.Memory(0));
        TestFunction f = attach(new TestFunction(0x1234, 0x1111, 0xFF0000)
            .bar(0, PciBarRegion.memory32("regs", 0x1000, false, new TestFunction.Memory(0x77))));
        f.writeConfig(0x10, 4, 0x0800_0000);
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY);
        assertFalse(f.bar(0).mapped());
        f.writeConfig(0x10, 4, 0x1000_0000);
        assertTrue(f.bar(0).mapped());
    }

    @Test
    void intxFollowsInterruptDisableAndShowsInStatus() {
        TestFunction f = attach(new TestFunction(0x1234, 0x1111, 0xFF0000).pin(1));
        f.intx().set(true);
        assertEquals(List.of(true), intx);
        assertEquals(PciDevice.STATUS_INTERRUPT, f.readConfig(PciDevice.STATUS, 2) & PciDevice.STATUS_INTERRUPT);
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_INTX_DISABLE);
        assertEquals(List.of(true, false), intx);
        assertEquals(PciDevice.STATUS_INTERRUPT, f.readConfig(PciDevice.STATUS, 2) & PciDevice.STATUS_INTERRUPT,
            "status shows the pending interrupt even when disabled");
        f.writeConfig(PciDevice.COMMAND, 2, 0);
        assertEquals(List.of(true, false, true), intx);
        f.intx().set(true);
        assertEquals(3, intx.size(), "only transitions reach the line");
        f.intx().set(false);
        assertEquals(List.of(true, false, true, false), intx);
        assertEquals(0, f.readConfig(PciDevice.STATUS, 2) & PciDevice.STATUS_INTERRUPT);
    }
}
