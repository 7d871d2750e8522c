package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PciHostBridgeTest {
    private static final long ECAM = 0xE000_0000L;

    private final AddressSpace io = new AddressSpace("io", 0x10000);
    private final AddressSpace mmio = new AddressSpace("memory", 1L << 52);
    private final Map<Integer, List<Boolean>> gsis = new HashMap<>();
    private final PciHostBridge bridge = new PciHostBridge(io, mmio, MsiSink.NONE, PciIrqRouting.swizzled(16),
        gsi -> level -> gsis.computeIfAbsent(gsi, g -> new ArrayList<>()).add(level));
    private final ResetRegister cf9 = new ResetRegister();

    /** Stands in for the reset control register: remembers the byte. */
    static final class ResetRegister implements BusDevice {
        final List<String> log = new ArrayList<>();
        int value;

        @Override
        public long read(long offset, int size) {
            log.add("read " + offset + "/" + size);
            return value;
        }

        @Override
        public void write(long offset, int size, long v) {
            log.add("write " + offset + "/" + size + " " + v);
            value = (int) v;
        }
    }

    PciHostBridgeTest() {
        bridge.registerPorts(cf9);
        bridge.registerEcam(ECAM, 256);
    }

    // Linux's pci_conf1_read/write (arch/x86/pci/direct.c), through the port space.
    private static int conf1Address(int bus, int devfn, int reg) {
        return 0x8000_0000 | (bus << 16) | (devfn << 8) | (reg & 0xFC);
    }

    private int conf1Read(int bus, int devfn, int reg, int len) {
        io.write(0xCF8, 4, conf1Address(bus, devfn, reg) & 0xFFFFFFFFL);
        return (int) switch (len) {
            case 1 -> io.read(0xCFC + (reg & 3), 1);
            case 2 -> io.read(0xCFC + (reg & 2), 2);
            default -> io.read(0xCFC, 4);
        };
    }

    private void conf1Write(int bus, int devfn, int reg, int len, int value) {
        io.write(0xCF8, 4, conf1Address(bus, devfn, reg) & 0xFFFFFFFFL);
        switch (len) {
            case 1 -> io.write(0xCFC + (reg & 3), 1, value & 0xFF);
            case 2 -> io.write(0xCFC + (reg & 2), 2, value & 0xFFFF);
            default -> io.write(0xCFC, 4, value & 0xFFFFFFFFL);
        }
    }

    private long ecamAddress(int bus, int devfn, int reg) {
        return ECAM + ((long) bus << 20) + ((long) devfn << 12) + reg;
    }

    @Test
    void linuxType1ProbeAndBusScan() {
        TestFunction f = new TestFunction(0x1AF4, 0x1041, 0x020000);
        bridge.add(3, f);
        // pci_check_type1()
        io.write(0xCFB, 1, 0x01);
        long tmp = io.read(0xCF8, 4);
        io.write(0xCF8, 4, 0x8000_0000L);
        assertEquals(0x8000_0000L, io.read(0xCF8, 4));
        // pci_sanity_check(): a host bridge class or an Intel vendor ID somewhere on bus 0.
        boolean sane = false;
        for (int devfn = 0; devfn < 0x100 && !sane; devfn++) {
            int cls = conf1Read(0, devfn, 0x0A, 2);
            int vendor = conf1Read(0, devfn, 0x00, 2);
            sane = cls == 0x0600 || cls == 0x0300 || vendor == 0x8086 || vendor == 0x0E11;
        }
        assertTrue(sane);
        io.write(0xCF8, 4, tmp);
        assertEquals(0, io.read(0xCF8, 4));
        assertEquals(List.of(), cf9.log, "no probe access reached the reset control register");
        // pci_scan_slot over bus 0: vendor/device dword, class, header type.
        for (int slot = 0; slot < 32; slot++) {
            int id = conf1Read(0, slot << 3, 0x00, 4);
            int classRev = conf1Read(0, slot << 3, 0x08, 4);
            switch (slot) {
                case 0 -> {
                    assertEquals(0x0D578086, id);
                    assertEquals(0x06000000, classRev);
                    assertEquals(0, conf1Read(0, 0, 0x0E, 1));
                }
                case 3 -> {
                    assertEquals(0x10411AF4, id);
                    assertEquals(0x02000001, classRev);
                }
                default -> {
                    assertEquals(0xFFFFFFFF, id, "slot " + slot);
                    assertEquals(0xFFFFFFFF, classRev);
                    assertEquals(0xFFFF, conf1Read(0, slot << 3, 0x00, 2));
                    assertEquals(0xFF, conf1Read(0, slot << 3, 0x0E, 1));
                }
            }
        }
        // Other buses and functions are empty.
        assertEquals(0xFFFFFFFF, conf1Read(1, 0, 0, 4));
        assertEquals(0xFFFFFFFF, conf1Read(0, 3 << 3 | 1, 0, 4));
        // Byte and word reads at offsets inside CONFIG_DATA.
        assertEquals(0xF4, conf1Read(0, 3 << 3, 0x00, 1));
        assertEquals(0x1A, conf1Read(0, 3 << 3, 0x01, 1));
        assertEquals(0x10, conf1Read(0, 3 << 3, 0x03, 1));
        assertEquals(0x1041, conf1Read(0, 3 << 3, 0x02, 2));
        // Writes through CONFIG_DATA.
        conf1Write(0, 3 << 3, 0x3C, 1, 10);
        assertEquals(10, f.readConfig(0x3C, 1));
        conf1Write(0, 3 << 3, 0x04, 2, 0x0006);
        assertEquals(0x0006, f.command());
    }

    @Test
    void configAddressRegisterIsDwordOnlyAndLeavesCf9ToResetControl() {
        io.write(0xCF8, 4, 0xFFFF_FFFFL);
        assertEquals(0x80FF_FFFCL, io.read(0xCF8, 4), "reserved bits read 0");
        io.write(0xCF8, 2, 0x1234);
        io.write(0xCFA, 2, 0x1234);
        io.write(0xCFB, 1, 0x01);
        assertEquals(0x80FF_FFFCL, io.read(0xCF8, 4), "partial writes do not change CONFIG_ADDRESS");
        assertEquals(0xFFFF, io.read(0xCFA, 2));
        assertEquals(0xFF, io.read(0xCF8, 1));
        // Linux's cf9 reboot: read the byte, write SYS_RST, then SYS_RST | RST_CPU.
        cf9.value = 0;
        int v = (int) io.read(0xCF9, 1);
        io.write(0xCF9, 1, v | 0x02);
        io.write(0xCF9, 1, v | 0x06);
        assertEquals(List.of("read 0/1", "write 0/1 2", "write 0/1 6"), cf9.log);
        assertEquals(0x80FF_FFFCL, io.read(0xCF8, 4));
        // With the enable bit clear, CONFIG_DATA decodes nothing.
        io.write(0xCF8, 4, 0);
        assertEquals(0xFFFFFFFFL, io.read(0xCFC, 4));
        io.write(0xCFC, 4, 0x6);
        assertEquals(0, bridge.hostBridge().command());
    }

    @Test
    void ecamAndType1SeeTheSameConfigurationSpace() {
        TestFunction f = new TestFunction(0x1AF4, 0x1042, 0x010000).pin(2)
            .bar(0, PciBarRegion.memory32("regs", 0x1000, false, new TestFunction.Memory(0)));
        f.cap(new PciVendorCapability(new byte[] {6, 1, 2, 3}));
        bridge.add(5, f);
        int devfn = 5 << 3;
        for (int reg = 0; reg < 0x100; reg += 4) {
            assertEquals(conf1Read(0, devfn, reg, 4) & 0xFFFFFFFFL, mmio.read(ecamAddress(0, devfn, reg), 4), "reg " + reg);
            assertEquals(conf1Read(0, devfn, reg + 1, 1), mmio.read(ecamAddress(0, devfn, reg + 1), 1));
            assertEquals(conf1Read(0, devfn, reg + 2, 2), mmio.read(ecamAddress(0, devfn, reg + 2), 2));
        }
        for (int d = 0; d < 256; d++) {
            assertEquals(conf1Read(0, d, 0, 4) & 0xFFFFFFFFL, mmio.read(ecamAddress(0, d, 0), 4));
        }
        assertEquals(0xFFFFFFFFL, mmio.read(ecamAddress(7, 0, 0), 4), "bus 7 is empty");
        // Write through ECAM, read through ports, and back.
        mmio.write(ecamAddress(0, devfn, 0x10), 4, 0xFFFF_FFFFL);
        assertEquals(0xFFFFF000, conf1Read(0, devfn, 0x10, 4));
        conf1Write(0, devfn, 0x10, 4, 0xC000_0000);
        assertEquals(0xC000_0000L, mmio.read(ecamAddress(0, devfn, 0x10), 4));
        mmio.write(ecamAddress(0, devfn, 0x3C), 1, 9);
        assertEquals(9, conf1Read(0, devfn, 0x3C, 1));
        // QWORD ECAM access is two DWORDs.
        assertEquals(0x1042_1AF4L | (mmio.read(ecamAddress(0, devfn, 4), 4) << 32), mmio.read(ecamAddress(0, devfn, 0), 8));
        // Extended configuration space is reachable through ECAM only; nothing there reads 0.
        assertEquals(0, mmio.read(ecamAddress(0, devfn, 0x100), 4));
        assertEquals(0xFFFFFFFFL, mmio.read(ecamAddress(0, 0x30, 0x100), 4));
    }

    @Test
    void capabilityListWalk() {
        assertThrows(IllegalArgumentException.class, () -> PciVendorCapability.fromBytes(new byte[] {0x05, 0, 4, 7}));
        TestFunction f = new TestFunction(0x1AF4, 0x1042, 0x010000)
            .bar(0, PciBarRegion.memory32("msix", 0x1000, false, new TestFunction.Memory(0)));
        f.cap(new PciVendorCapability(new byte[] {16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
        f.cap(new MsixCapability(4, 0, 0));
        f.cap(new MsiCapability(1, true));
        f.cap(PciVendorCapability.fromBytes(new byte[] {0x09, 0x55, 4, 7}));
        bridge.add(2, f);
        int devfn = 2 << 3;
        assertEquals(PciDevice.STATUS_CAP_LIST, conf1Read(0, devfn, 0x06, 2) & PciDevice.STATUS_CAP_LIST);
        // pci_find_capability(): follow the list from 0x34, masking the low two bits.
        List<Integer> ids = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        int pos = conf1Read(0, devfn, 0x34, 1);
        for (int ttl = 48; pos >= 0x40 && ttl > 0; ttl--) {
            pos &= ~3;
            int ent = conf1Read(0, devfn, pos, 2);
            offsets.add(pos);
            ids.add(ent & 0xFF);
            pos = ent >> 8;
        }
        assertEquals(List.of(0x09, 0x11, 0x05, 0x09), ids);
        assertEquals(List.of(0x40, 0x50, 0x5C, 0x74), offsets);
        assertEquals(16, conf1Read(0, devfn, 0x42, 1), "vendor capability length byte");
        assertEquals(7, conf1Read(0, devfn, 0x77, 1));
        // The host bridge has no capabilities.
        assertEquals(0, conf1Read(0, 0, 0x06, 2) & PciDevice.STATUS_CAP_LIST);
    }

    @Test
    void assignResourcesPlacesBarsEnablesDecodingAndSetsInterruptLines() {
        TestFunction a = new TestFunction(0x1AF4, 0x1000, 0x020000).pin(1)
            .bar(0, PciBarRegion.io("ports", 0x20, new TestFunction.Memory(0xA0)))
            .bar(1, PciBarRegion.memory32("regs", 0x1000, false, new TestFunction.Memory(0xA1)))
            .bar(4, PciBarRegion.memory64("notify", 0x4000, true, new TestFunction.Memory(0xA4)));
        TestFunction b = new TestFunction(0x1AF4, 0x1001, 0x010000).pin(1)
            .bar(0, PciBarRegion.memory32("small", 0x100, false, new TestFunction.Memory(0xB0)))
            .bar(2, PciBarRegion.memory64("np64", 0x10_0000, false, new TestFunction.Memory(0xB2)));
        TestFunction c = new TestFunction(0x1AF4, 0x1005, 0xFF0000).pin(2);
        assertEquals(1, bridge.add(a));
        assertEquals(2, bridge.add(b));
        bridge.add(7, c);
        PciHostBridge.Windows w = PciHostBridge.Windows.pc(0xE000_0000L, 0x1_0000_0000L * 4, 1L << 36);
        bridge.assignResources(w);

        for (TestFunction f : List.of(a, b)) {
            for (int i = 0; i < 6; i++) {
                PciBarRegion r = f.bar(i);
                if (r == null) {
                    continue;
                }
                long at = r.mappedAddress();
                assertEquals(0, at & (r.size() - 1), r + " aligned");
                assertEquals(at, f.barAddress(i));
                if (r.isIo()) {
                    assertTrue(at >= 0xC000 && at + r.size() <= 0x10000, r.toString());
                } else if (r.is64Bit() && r.prefetchable()) {
                    assertTrue(at >= w.mmio64Base() && at + r.size() <= w.mmio64Base() + w.mmio64Size(), r.toString());
                } else {
                    assertTrue(at >= 0xC000_0000L && at + r.size() <= 0xE000_0000L, r.toString());
                }
                long id = ((TestFunction.Memory) r.device()).id;
                assertEquals(id, (r.isIo() ? io : mmio).read(at, 4), r.toString());
            }
        }
        assertEquals(PciDevice.COMMAND_IO | PciDevice.COMMAND_MEMORY, a.command());
        assertEquals(PciDevice.COMMAND_MEMORY, b.command());
        assertEquals(0, c.command());
        // Swizzle: slot s pin p -> 16 + (s + p) % 4.
        assertEquals(17, a.readConfig(PciDevice.INTERRUPT_LINE, 1));
        assertEquals(18, b.readConfig(PciDevice.INTERRUPT_LINE, 1));
        assertEquals(16, c.readConfig(PciDevice.INTERRUPT_LINE, 1));
        assertEquals(16, bridge.gsi(7, 0));
        assertEquals(0, bridge.hostBridge().readConfig(PciDevice.INTERRUPT_LINE, 1));
        // Largest first, no gaps: the 1 MiB BAR at the start of the 32-bit window.
        assertEquals(0xC000_0000L, b.bar(2).mappedAddress());

        // A bus reset clears everything, then the layout is applied again.
        a.writeConfig(PciDevice.COMMAND, 2, 0);
        bridge.reset();
        assertEquals(PciDevice.COMMAND_IO | PciDevice.COMMAND_MEMORY, a.command());
        assertEquals(17, a.readConfig(PciDevice.INTERRUPT_LINE, 1));
        assertTrue(a.bar(4).mapped());
    }

    @Test
    void assignResourcesFailsLoudlyWhenAWindowIsTooSmall() {
        bridge.add(new TestFunction(0x1AF4, 0x1000, 0x020000)
            .bar(0, PciBarRegion.memory32("huge", 0x1000_0000L, false, new TestFunction.Memory(0))));
        assertThrows(IllegalStateException.class,
            () -> bridge.assignResources(new PciHostBridge.Windows(0xC000_0000L, 0x0800_0000L, 0, 0, 0xC000, 0x4000)));
    }

    @Test
    void sixtyFourBitPrefetchableBarFallsBackToThe32BitWindowWithoutA64BitOne() {
        TestFunction a = new TestFunction(0x1AF4, 0x1000, 0x020000)
            .bar(4, PciBarRegion.memory64("notify", 0x4000, true, new TestFunction.Memory(0xA4)));
        bridge.add(a);
        bridge.assignResources(PciHostBridge.Windows.pc(0xE000_0000L, 0, 0));
        assertEquals(0xC000_0000L, a.bar(4).mappedAddress());
    }

    @Test
    void intxPinsSharingAGsiAreWireOred() {
        // Slots 1 pin A and 4 pin B... both: 16 + (1 + 0) % 4 = 17 and 16 + (4 + 1) % 4 = 17.
        TestFunction a = new TestFunction(0x1AF4, 0x1000, 0x020000).pin(1);
        TestFunction b = new TestFunction(0x1AF4, 0x1001, 0x020000).pin(2);
        bridge.add(1, a);
        bridge.add(4, b);
        assertEquals(17, bridge.gsi(1, 0));
        assertEquals(17, bridge.gsi(4, 0));
        a.intx().set(true);
        b.intx().set(true);
        a.intx().set(false);
        assertEquals(List.of(true), gsis.get(17), "still asserted by b");
        b.intx().set(false);
        assertEquals(List.of(true, false), gsis.get(17));
    }

    @Test
    void multiFunctionBitAndSlotConflicts() {
        TestFunction f0 = new TestFunction(0x1AF4, 0x1000, 0x020000);
        TestFunction f1 = new TestFunction(0x1AF4, 0x1001, 0x020000);
        bridge.add(6, 0, f0);
        assertEquals(0, conf1Read(0, 6 << 3, 0x0E, 1));
        bridge.add(6, 1, f1);
        assertEquals(0x80, conf1Read(0, 6 << 3, 0x0E, 1));
        assertEquals(0x10011AF4, conf1Read(0, 6 << 3 | 1, 0, 4));
        assertEquals("00:06.1", f1.label());
        assertThrows(IllegalArgumentException.class, () -> bridge.add(6, new TestFunction(1, 2, 3)));
        assertThrows(IllegalArgumentException.class, () -> bridge.add(32, new TestFunction(1, 2, 3)));
        assertThrows(IllegalStateException.class, () -> bridge.add(7, f0), "a function is on one bus only");
        assertEquals(3, bridge.devices().size());
    }

    /** ACPI hot-unplug of a function on bus 0: unwired from every space, line and configuration access. */
    @Test
    void removeUnwiresAFunctionOnTheRootBus() {
        TestFunction f = new TestFunction(0x1AF4, 0x1041, 0x020000).pin(1)
            .bar(0, PciBarRegion.memory32("regs", 0x1000, false, new TestFunction.Memory(0x77)))
            .bar(1, PciBarRegion.io("ports", 0x20, new TestFunction.Memory(0x78)));
        TestFunction sharer = new TestFunction(0x1AF4, 0x1000, 0x020000).pin(1);
        bridge.add(5, 0, f);
        bridge.add(1, 0, sharer);            // slot 1 pin A and slot 5 pin A share GSI 17
        conf1Write(0, 5 << 3, 0x10, 4, 0xC000_0000);
        conf1Write(0, 5 << 3, 0x14, 4, 0xC100);
        conf1Write(0, 5 << 3, 0x04, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_IO);
        assertEquals(0x77, mmio.read(0xC000_0000L, 4));
        assertEquals(0x78, io.read(0xC100, 4));
        f.intx().set(true);
        sharer.intx().set(true);
        assertEquals(List.of(true), gsis.get(17));

        bridge.remove(5, 0);
        assertEquals(0xFFFF_FFFFL, mmio.read(0xC000_0000L, 4), "the memory BAR's old address reaches nothing");
        assertEquals(0xFFFF_FFFFL, io.read(0xC100, 4), "nor the I/O BAR's");
        assertEquals(List.of("map 0 0xc0000000", "map 1 0xc100", "unmap 0 0xc0000000", "unmap 1 0xc100"), f.events);
        assertEquals(-1, conf1Read(0, 5 << 3, 0, 4), "00:05.0 reads all-ones");
        assertEquals(null, bridge.device(5, 0));
        assertEquals(List.of(true), gsis.get(17), "still asserted by the other function on the line");
        sharer.intx().set(false);
        assertEquals(List.of(true, false), gsis.get(17), "the removed function no longer holds it");
        f.intx().set(true);
        assertEquals(List.of(true, false), gsis.get(17), "nor drives it again");

        bridge.add(5, 0, f);                 // the same function can come back
        assertEquals(List.of(true, false, true), gsis.get(17), "its pin still asserted");
        assertEquals(0x1041_1AF4, conf1Read(0, 5 << 3, 0, 4));
    }

    @Test
    void removeUpdatesTheMultiFunctionBitAndRefusesWhatItCannotRemove() {
        TestFunction f0 = new TestFunction(0x1AF4, 0x1000, 0x020000);
        TestFunction f1 = new TestFunction(0x1AF4, 0x1001, 0x020000);
        bridge.add(6, 0, f0);
        bridge.add(6, 1, f1);
        assertEquals(0x80, conf1Read(0, 6 << 3, 0x0E, 1));
        bridge.remove(6, 1);
        assertEquals(0, conf1Read(0, 6 << 3, 0x0E, 1), "function 0 is alone again");
        assertEquals(-1, conf1Read(0, 6 << 3 | 1, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> bridge.remove(6, 1), "nothing there");
        assertThrows(IllegalArgumentException.class, () -> bridge.remove(0, 0), "the host bridge stays");
        assertThrows(IllegalArgumentException.class, () -> bridge.remove(32, 0));

        PcieRootPort port = new PcieRootPort(8, 0, false);
        bridge.add(7, 0, port);
        bridge.add(port, 0, new TestFunction(0x1AF4, 0x1042, 0x010000));
        assertThrows(IllegalArgumentException.class, () -> bridge.remove(7, 0), "a port with a card behind it");
        conf1Write(0, 7 << 3, 0x18, 4, 0x00_03_03_00);
        assertEquals(0x1042_1AF4, conf1Read(3, 0, 0, 4));
        bridge.remove(port, 0);
        bridge.remove(7, 0);
        assertEquals(-1, conf1Read(0, 7 << 3, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> bridge.remove(port, 0), "the port is gone from the bus");
        assertEquals(List.of(bridge.hostBridge(), f0), bridge.devices());
    }
}
