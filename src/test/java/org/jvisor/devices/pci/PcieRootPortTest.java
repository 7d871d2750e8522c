package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.jvisor.memory.AddressSpace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.jvisor.devices.pci.PcieSlot.LNKCAP_DLLLARC;
import static org.jvisor.devices.pci.PcieSlot.LNKSTA_DLLLA;
import static org.jvisor.devices.pci.PcieSlot.PIC_BLINK;
import static org.jvisor.devices.pci.PcieSlot.PIC_OFF;
import static org.jvisor.devices.pci.PcieSlot.PIC_ON;
import static org.jvisor.devices.pci.PcieSlot.SLTCTL_ABPE;
import static org.jvisor.devices.pci.PcieSlot.SLTCTL_CCIE;
import static org.jvisor.devices.pci.PcieSlot.SLTCTL_DLLSCE;
import static org.jvisor.devices.pci.PcieSlot.SLTCTL_EIC;
import static org.jvisor.devices.pci.PcieSlot.SLTCTL_HPIE;
import static org.jvisor.devices.pci.PcieSlot.SLTCTL_PCC;
import static org.jvisor.devices.pci.PcieSlot.SLTCTL_PDCE;
import static org.jvisor.devices.pci.PcieSlot.SLTCTL_PIC;
import static org.jvisor.devices.pci.PcieSlot.SLTSTA_ABP;
import static org.jvisor.devices.pci.PcieSlot.SLTSTA_CC;
import static org.jvisor.devices.pci.PcieSlot.SLTSTA_DLLSC;
import static org.jvisor.devices.pci.PcieSlot.SLTSTA_EIS;
import static org.jvisor.devices.pci.PcieSlot.SLTSTA_PDC;
import static org.jvisor.devices.pci.PcieSlot.SLTSTA_PDS;

/**
 * A root port as Linux's PCI core meets it: enumerated through ECAM, numbered (pci_scan_bridge),
 * its windows sized (pci_bridge_check_ranges) and the function behind it reached at the bus number
 * the guest chose; INTx through the port's slot, secondary bus reset. Then native hot-plug as
 * Linux's pciehp drives the slot (drivers/pci/hotplug/pciehp_hpc.c, pciehp_ctrl.c), every step a
 * configuration access, with QMP's device_add and device_del standing in for the machine.
 */
class PcieRootPortTest {
    private static final long ECAM = 0xE000_0000L;
    private static final long MSI_ADDRESS = 0xFEE0_0000L;
    private static final int MSI_DATA = 0x4041;

    private final AddressSpace io = new AddressSpace("io", 0x10000);
    private final AddressSpace mmio = new AddressSpace("memory", 1L << 52);
    private final Map<Integer, List<Boolean>> gsis = new HashMap<>();
    /** Every MSI sent, as "address/data". */
    private final List<String> msis = new ArrayList<>();
    private final PciHostBridge bridge = new PciHostBridge(io, mmio,
        (address, data) -> msis.add(String.format("%#x/%#x", address, data)), PciIrqRouting.swizzled(16),
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
        assertEquals(1, read(0, 1, 0, 0x3D, 1), "pin A for the slot's hot-plug events");
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

    // ---- native hot-plug --------------------------------------------------------------------

    /** The guest side of one port at 00:{@code dev}.0: what pciehp and the PCI core write. */
    private final class Pciehp {
        final int dev;
        final int cap;

        Pciehp(int dev) {
            this.dev = dev;
            this.cap = read(0, dev, 0, 0x34, 1);
        }

        int sltcap() {
            return read(0, dev, 0, cap + 0x14, 4);
        }

        int sltctl() {
            return read(0, dev, 0, cap + 0x18, 2);
        }

        int sltsta() {
            return read(0, dev, 0, cap + 0x1A, 2);
        }

        int lnksta() {
            return read(0, dev, 0, cap + 0x12, 2);
        }

        /** pcie_do_write_cmd: read Slot Control, replace the bits of {@code mask}, write it back. */
        void command(int cmd, int mask) {
            control(sltctl() & ~mask | cmd & mask);
        }

        void control(int value) {
            write(0, dev, 0, cap + 0x18, 2, value);
        }

        /** pciehp_isr: write the event bits it read back to clear them. */
        void clear(int events) {
            write(0, dev, 0, cap + 0x1A, 2, events);
        }

        /** pci_scan_bridge: primary 0, secondary = subordinate = {@code bus}. */
        void number(int bus) {
            write(0, dev, 0, 0x18, 4, bus << 16 | bus << 8);
        }

        /** The MSI capability, after the PCI Express one. */
        int msiCap() {
            return read(0, dev, 0, cap + 1, 1);
        }

        /** pcie_port_device_register: bus mastering, then one MSI vector (pci_alloc_irq_vectors). */
        void enableMsi() {
            write(0, dev, 0, 0x04, 2, read(0, dev, 0, 0x04, 2) | PciDevice.COMMAND_BUS_MASTER);
            int m = msiCap();
            write(0, dev, 0, m + 4, 4, (int) MSI_ADDRESS);
            write(0, dev, 0, m + 8, 4, 0);
            write(0, dev, 0, m + 12, 2, MSI_DATA);
            write(0, dev, 0, m + 2, 2, read(0, dev, 0, m + 2, 2) | MsiCapability.CONTROL_ENABLE);
        }

        /** pcie_enable_notification (HPIE, CCIE, DLLSCE, ABPE with an attention button), and PDCE too. */
        void enableNotification() {
            int enables = SLTCTL_HPIE | SLTCTL_PDCE | SLTCTL_ABPE | SLTCTL_CCIE | SLTCTL_DLLSCE;
            command(enables, enables);
        }
    }

    private static final String MSI = String.format("%#x/%#x", MSI_ADDRESS, MSI_DATA);

    private List<Boolean> gsi(int slot) {
        return gsis.getOrDefault(PciIrqRouting.swizzled(16).gsi(slot, 0), List.of());
    }

    private static boolean last(List<Boolean> levels) {
        return !levels.isEmpty() && levels.get(levels.size() - 1);
    }

    @Test
    void aHotPlugSlotAsQemuHasIt() {
        Pciehp g = new Pciehp(1);
        assertEquals(PcieSlot.SLTCAP_ABP | PcieSlot.SLTCAP_PCP | PcieSlot.SLTCAP_AIP | PcieSlot.SLTCAP_PIP
            | PcieSlot.SLTCAP_HPS | PcieSlot.SLTCAP_HPC | PcieSlot.SLTCAP_EIP | 3 << 19, g.sltcap(),
            "button, power controller, indicators, surprise, capable, interlock; no MRL sensor, no NCCS");
        assertEquals(LNKCAP_DLLLARC, read(0, 1, 0, g.cap + 0x0C, 4) & LNKCAP_DLLLARC);
        assertEquals(0, read(0, 1, 0, g.cap + 2, 2) >>> 9 & 0x1F, "interrupt message number 0");
        assertEquals(SLTSTA_PDS, g.sltsta(), "cold-plugged: present, no events");
        assertEquals(LNKSTA_DLLLA, g.lnksta() & LNKSTA_DLLLA, "and its link up");
        assertEquals(0, g.sltctl() & SLTCTL_PCC, "powered");
        int m = g.msiCap();
        assertEquals(PciCapability.ID_MSI, read(0, 1, 0, m, 1));
        assertEquals(MsiCapability.CONTROL_64BIT, read(0, 1, 0, m + 2, 2), "one vector, 64-bit, no masking");
        g.control(0xFFFF);
        assertEquals(0x17FF, g.sltctl(), "every control but EIC, which reads 0");
        assertEquals(SLTSTA_PDS | SLTSTA_CC | SLTSTA_EIS | SLTSTA_DLLSC, g.sltsta(),
            "the write completed, toggled the interlock and powered the slot off (link down)");
    }

    @Test
    void everySlotControlWriteCompletesWithAnMsi() {
        Pciehp g = new Pciehp(1);
        g.enableMsi();
        g.enableNotification();
        assertEquals(SLTSTA_PDS | SLTSTA_CC, g.sltsta());
        assertEquals(List.of(MSI), msis, "command completed, interrupt enabled");
        g.command(PIC_ON, SLTCTL_PIC);
        assertEquals(1, msis.size(), "edge: CC is still set, no new message");
        g.clear(SLTSTA_CC);
        assertEquals(SLTSTA_PDS, g.sltsta(), "write-1-to-clear");
        g.command(PIC_BLINK, SLTCTL_PIC);
        assertEquals(List.of(MSI, MSI), msis, "cleared, the next command interrupts again");
        assertFalse(last(gsi(1)), "no INTx while MSI is on");
        g.clear(SLTSTA_CC);
        g.command(0, SLTCTL_CCIE);
        assertEquals(SLTSTA_PDS | SLTSTA_CC, g.sltsta(), "still completed, for pcie_poll_cmd");
        assertEquals(2, msis.size(), "but no interrupt without CCIE");
    }

    @Test
    void withoutMsiTheEventsHoldIntxA() {
        PcieRootPort p2 = new PcieRootPort(9, 4, false);
        bridge.add(2, 0, p2);
        Pciehp g = new Pciehp(2);
        g.enableNotification();
        assertEquals(List.of(true), gsi(2), "pin A of slot 2 is asserted while CC is pending");
        g.command(PIC_OFF, SLTCTL_PIC);
        assertEquals(List.of(true), gsi(2), "a level: no second edge");
        g.clear(SLTSTA_CC);
        assertEquals(List.of(true, false), gsi(2));
        write(0, 2, 0, 0x04, 2, PciDevice.COMMAND_INTX_DISABLE);
        g.command(PIC_ON, SLTCTL_PIC);
        assertEquals(List.of(true, false), gsi(2), "Interrupt Disable keeps the pin quiet");
        write(0, 2, 0, 0x04, 2, 0);
        assertEquals(List.of(true, false, true), gsi(2));
        assertEquals(List.of(), msis);
    }

    @Test
    void writeOneToClearKeepsEventsTheGuestDidNotSee() {
        Pciehp g = new Pciehp(1);
        g.enableNotification();
        port.requestUnplug(() -> { });
        assertEquals(SLTSTA_PDS | SLTSTA_CC | SLTSTA_ABP, g.sltsta());
        g.clear(SLTSTA_CC);
        assertEquals(SLTSTA_PDS | SLTSTA_ABP, g.sltsta());
        // pcie_init clears every event blindly: QEMU keeps the ones set when a clear one is written.
        g.clear(SLTSTA_ABP | SLTSTA_PDC | SLTSTA_CC | SLTSTA_DLLSC);
        assertEquals(SLTSTA_PDS | SLTSTA_ABP, g.sltsta(), "the button press survives");
        g.clear(SLTSTA_ABP);
        assertEquals(SLTSTA_PDS, g.sltsta());
        g.clear(SLTSTA_PDS);
        assertEquals(SLTSTA_PDS, g.sltsta(), "presence is read-only");
    }

    @Test
    void deviceAddIntoAPoweredSlot() {
        PcieRootPort p2 = new PcieRootPort(9, 4, false);
        bridge.add(2, 0, p2);
        Pciehp g = new Pciehp(2);
        g.number(2);
        g.enableMsi();
        g.enableNotification();
        g.clear(SLTSTA_CC);
        msis.clear();
        assertEquals(0, g.sltsta());
        assertEquals(0, g.lnksta() & LNKSTA_DLLLA, "empty: link down");

        p2.checkHotPlug();
        bridge.add(p2, 0, new TestFunction(0x1AF4, 0x1041, 0x020000));
        p2.hotPlugged();
        assertEquals(SLTSTA_PDS | SLTSTA_PDC | SLTSTA_DLLSC | SLTSTA_ABP, g.sltsta());
        assertEquals(LNKSTA_DLLLA, g.lnksta() & LNKSTA_DLLLA);
        assertEquals(List.of(MSI), msis);
        assertEquals(0x1041_1AF4, read(2, 0, 0, 0, 4));
        g.clear(SLTSTA_PDC | SLTSTA_DLLSC | SLTSTA_ABP);
        assertEquals(SLTSTA_PDS, g.sltsta());
    }

    /**
     * After a reset an empty slot is off, as pciehp also leaves it: the card comes in unpowered,
     * its button press brings pciehp to power the slot on (board_added), and the link follows.
     */
    @Test
    void deviceAddIntoAPoweredOffSlotWaitsForTheGuest() {
        PcieRootPort p2 = new PcieRootPort(9, 4, false);
        bridge.add(2, 0, p2);
        bridge.reset();
        Pciehp g = new Pciehp(2);
        assertEquals(SLTCTL_PCC | PIC_OFF | PcieSlot.AIC_OFF, g.sltctl(), "empty after reset: off, indicators off");
        g.number(2);
        g.enableNotification();
        g.clear(SLTSTA_CC);

        bridge.add(p2, 0, new TestFunction(0x1AF4, 0x1041, 0x020000));
        p2.hotPlugged();
        assertEquals(SLTSTA_PDS | SLTSTA_PDC | SLTSTA_ABP, g.sltsta(), "no power, no link change");
        assertEquals(0, g.lnksta() & LNKSTA_DLLLA);
        assertEquals(-1, read(2, 0, 0, 0, 4), "an unpowered card does not answer");
        assertTrue(last(gsi(2)), "the button press interrupts");
        g.clear(SLTSTA_PDC | SLTSTA_ABP);

        g.command(0, SLTCTL_PCC);           // pciehp_power_on_slot
        assertEquals(SLTSTA_PDS | SLTSTA_CC | SLTSTA_DLLSC, g.sltsta());
        assertEquals(LNKSTA_DLLLA, g.lnksta() & LNKSTA_DLLLA);
        assertEquals(0x1041_1AF4, read(2, 0, 0, 0, 4));
    }

    /** device_del as pciehp answers it: button, 5 s of blinking, power off, a second later the indicator off. */
    @Test
    void deviceDelRemovesOnceTheGuestPowersTheSlotOff() {
        TestFunction nic = new TestFunction(0x1AF4, 0x1041, 0x020000)
            .bar(0, PciBarRegion.memory32("regs", 0x1000, false, new TestFunction.Memory(0x55)));
        PcieRootPort p2 = new PcieRootPort(9, 4, false);
        bridge.add(2, 0, p2);
        bridge.add(p2, 0, nic);
        Pciehp g = new Pciehp(2);
        g.number(2);
        write(0, 2, 0, 0x20, 4, 0xC010_C010);
        write(2, 0, 0, 0x10, 4, 0xC010_0000);
        write(2, 0, 0, 0x04, 2, PciDevice.COMMAND_MEMORY);
        g.enableMsi();                       // with the memory enable kept
        write(0, 2, 0, 0x04, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
        assertEquals(0x55, mmio.read(0xC010_0000L, 4));
        g.enableNotification();
        g.command(PIC_ON, SLTCTL_PIC);
        g.clear(SLTSTA_CC);
        msis.clear();

        int[] removals = new int[1];
        p2.requestUnplug(() -> {
            assertFalse(Thread.holdsLock(p2), "runs without the port's lock");
            removals[0]++;
            bridge.remove(p2, 0);
        });
        assertTrue(p2.unplugPending());
        assertEquals(SLTSTA_PDS | SLTSTA_ABP, g.sltsta());
        assertEquals(List.of(MSI), msis);
        IllegalStateException again = assertThrows(IllegalStateException.class, () -> p2.requestUnplug(() -> { }));
        assertTrue(again.getMessage().contains("already in the process of unplug"), again.getMessage());

        g.clear(SLTSTA_ABP);
        g.command(PIC_BLINK, SLTCTL_PIC);    // pciehp_handle_button_press
        g.clear(SLTSTA_CC);
        g.command(SLTCTL_PCC, SLTCTL_PCC);   // remove_board: pciehp_power_off_slot
        assertEquals(0, removals[0], "the indicator still blinks");
        assertEquals(SLTSTA_PDS | SLTSTA_CC | SLTSTA_DLLSC, g.sltsta(), "link down with the power");
        assertEquals(-1L, nic.bar(0).mappedAddress(), "the unpowered card decodes nothing");
        assertEquals(-1, read(2, 0, 0, 0, 4));
        g.clear(SLTSTA_CC | SLTSTA_DLLSC);
        g.command(PIC_OFF, SLTCTL_PIC);      // a second later: the power indicator off
        assertEquals(1, removals[0]);
        assertFalse(p2.unplugPending());
        assertEquals(SLTSTA_PDC | SLTSTA_CC, g.sltsta(), "the card left");
        assertEquals(List.of(), p2.downstreamFunctions());
        g.clear(SLTSTA_PDC | SLTSTA_CC);
        g.command(PIC_OFF, SLTCTL_PIC);
        g.command(0, SLTCTL_PCC);
        g.command(SLTCTL_PCC, SLTCTL_PCC);
        assertEquals(1, removals[0], "once");
        assertThrows(IllegalStateException.class, () -> p2.requestUnplug(() -> { }), "nothing left to unplug");
    }

    @Test
    void deviceDelOfAPoweredOffSlotRemovesAtOnce() {
        Pciehp g = new Pciehp(1);
        g.command(SLTCTL_PCC | PIC_OFF, SLTCTL_PCC | SLTCTL_PIC);
        assertEquals(List.of(disk), port.downstreamFunctions(), "a guest's power-off alone keeps the card");
        g.clear(SLTSTA_CC | SLTSTA_DLLSC);
        Thread caller = Thread.currentThread();
        int[] removals = new int[1];
        port.requestUnplug(() -> {
            assertEquals(caller, Thread.currentThread());
            assertFalse(Thread.holdsLock(port));
            removals[0]++;
            bridge.remove(port, 0);
        });
        assertEquals(1, removals[0]);
        assertFalse(port.unplugPending());
        assertEquals(SLTSTA_PDC, g.sltsta(), "no button press; the card left");
    }

    @Test
    void deviceDelRefusals() {
        Pciehp g = new Pciehp(1);
        g.command(PIC_BLINK, SLTCTL_PIC);
        IllegalStateException busy = assertThrows(IllegalStateException.class, () -> port.requestUnplug(() -> { }));
        assertTrue(busy.getMessage().contains("power indicator blinking"), busy.getMessage());
        g.command(PIC_ON | SLTCTL_EIC, SLTCTL_PIC | SLTCTL_EIC);
        assertEquals(SLTSTA_EIS, g.sltsta() & SLTSTA_EIS, "locked");
        assertThrows(IllegalStateException.class, () -> port.requestUnplug(() -> { }));
        assertThrows(IllegalStateException.class, port::checkHotPlug);
        g.command(SLTCTL_EIC, SLTCTL_EIC);
        assertEquals(0, g.sltsta() & SLTSTA_EIS, "unlocked");
        port.checkHotPlug();
        assertFalse(port.unplugPending(), "a refused request leaves nothing pending");

        PcieRootPort empty = new PcieRootPort(9, 4, false);
        bridge.add(2, 0, empty);
        assertThrows(IllegalStateException.class, () -> empty.requestUnplug(() -> { }));
        assertThrows(IllegalStateException.class, empty::hotPlugged);
    }

    @Test
    void withoutHotPlugTheSlotOnlyShowsPresence() {
        PcieRootPort off = new PcieRootPort(9, 4, false, false);
        TestFunction f = new TestFunction(0x1AF4, 0x1041, 0x020000);
        bridge.add(2, 0, off);
        bridge.add(off, 0, f);
        Pciehp g = new Pciehp(2);
        assertFalse(off.hotplugCapable());
        assertEquals(4 << 19, g.sltcap(), "the physical slot number only");
        assertEquals(0, read(0, 2, 0, g.cap + 0x0C, 4) & LNKCAP_DLLLARC);
        assertEquals(0, read(0, 2, 0, 0x3D, 1), "no interrupt pin");
        assertEquals(0, g.msiCap(), "no MSI");
        g.control(0xFFFF);
        assertEquals(0, g.sltctl());
        assertEquals(SLTSTA_PDS, g.sltsta(), "no command completed");
        assertThrows(IllegalStateException.class, off::checkHotPlug);
        assertThrows(IllegalStateException.class, off::hotPlugged);
        assertThrows(IllegalStateException.class, () -> off.requestUnplug(() -> { }));
        g.number(2);
        assertEquals(0x1041_1AF4, read(2, 0, 0, 0, 4));
        bridge.remove(off, 0);
        assertEquals(0, g.sltsta(), "gone, without events");
        assertEquals(-1, read(2, 0, 0, 0, 4));
        assertEquals(List.of(), gsi(2));
        assertEquals(List.of(), msis);
    }

    @Test
    void removeUnwiresTheFunctionBehindThePort() {
        TestFunction nic = new TestFunction(0x1AF4, 0x1041, 0x020000).pin(1)
            .bar(0, PciBarRegion.memory32("regs", 0x1000, false, new TestFunction.Memory(0x55)));
        PcieRootPort p2 = new PcieRootPort(9, 4, false);
        bridge.add(2, 0, p2);
        bridge.add(p2, 0, nic);
        Pciehp g = new Pciehp(2);
        g.number(2);
        write(0, 2, 0, 0x20, 4, 0xC010_C010);
        write(0, 2, 0, 0x04, 2, PciDevice.COMMAND_MEMORY);
        write(2, 0, 0, 0x10, 4, 0xC010_0000);
        write(2, 0, 0, 0x04, 2, PciDevice.COMMAND_MEMORY);
        assertEquals(0x55, mmio.read(0xC010_0000L, 4));
        nic.intx().set(true);
        assertEquals(List.of(true), gsi(2));
        g.enableNotification();
        g.clear(SLTSTA_CC);
        assertEquals(List.of(true), gsi(2), "the port's pin A shares the line: still asserted by the card");

        bridge.remove(p2, 0);
        assertEquals(0xFFFF_FFFFL, mmio.read(0xC010_0000L, 4), "the BAR's old address reaches nothing");
        assertEquals(List.of("map 0 0xc0100000", "unmap 0 0xc0100000"), nic.events);
        assertEquals(-1, read(2, 0, 0, 0, 4), "bus 2, 00.0 reads all-ones");
        assertEquals(SLTSTA_PDC | SLTSTA_DLLSC, g.sltsta(), "the card left: presence and link changed");
        assertEquals(0, g.lnksta() & LNKSTA_DLLLA);
        assertEquals(List.of(true), gsi(2), "the card's INTx gone, the port's own event holds the shared line");
        g.clear(SLTSTA_PDC | SLTSTA_DLLSC);
        assertEquals(List.of(true, false), gsi(2));
        write(2, 0, 0, 0x04, 2, PciDevice.COMMAND_MEMORY);
        assertEquals(-1L, nic.bar(0).mappedAddress(), "nothing reaches it any more");
        assertThrows(IllegalArgumentException.class, () -> bridge.remove(p2, 0));
    }

    /** A machine reset with a device_del pending completes it: the card goes, the slot comes up empty and off. */
    @Test
    void aResetCompletesAPendingUnplug() {
        Pciehp g = new Pciehp(1);
        g.enableNotification();
        int[] removals = new int[1];
        port.requestUnplug(() -> {
            assertFalse(Thread.holdsLock(port));
            removals[0]++;
            bridge.remove(port, 0);
        });
        bridge.reset();
        assertEquals(1, removals[0]);
        assertFalse(port.unplugPending());
        assertEquals(List.of(), port.downstreamFunctions());
        assertEquals(SLTCTL_PCC | PIC_OFF | PcieSlot.AIC_OFF, g.sltctl(), "empty after reset: off");
        assertEquals(SLTSTA_PDC, g.sltsta(), "no presence, no button press: only the card's leaving");
        assertEquals(0, g.lnksta() & LNKSTA_DLLLA);
        assertFalse(last(gsi(1)), "interrupts are off after reset");
        bridge.reset();
        assertEquals(1, removals[0], "once");
    }

    @Test
    void aResetKeepsAnOccupiedSlotOnAndClearsEvents() {
        Pciehp g = new Pciehp(1);
        g.command(SLTCTL_EIC | SLTCTL_HPIE | SLTCTL_CCIE, SLTCTL_EIC | SLTCTL_HPIE | SLTCTL_CCIE);
        assertEquals(SLTSTA_PDS | SLTSTA_CC | SLTSTA_EIS, g.sltsta());
        bridge.reset();
        assertEquals(PIC_ON | PcieSlot.AIC_OFF, g.sltctl(), "powered, power indicator on");
        assertEquals(SLTSTA_PDS, g.sltsta(), "events cleared, interlock released");
        assertEquals(LNKSTA_DLLLA, g.lnksta() & LNKSTA_DLLLA);
    }

    /** The slot's state is configuration space: a snapshot of the port carries it. */
    @Test
    void theSlotTravelsInTheSnapshot() throws Exception {
        Pciehp g = new Pciehp(1);
        g.enableNotification();
        g.command(SLTCTL_PCC | PIC_OFF | SLTCTL_EIC, SLTCTL_PCC | SLTCTL_PIC | SLTCTL_EIC);
        int sltctl = g.sltctl();
        int sltsta = g.sltsta();
        PciFunctionState saved = port.saveState();

        AddressSpace mmio2 = new AddressSpace("memory", 1L << 52);
        List<Boolean> levels = new ArrayList<>();
        PciHostBridge other = new PciHostBridge(new AddressSpace("io", 0x10000), mmio2, MsiSink.NONE,
            PciIrqRouting.swizzled(16), gsi -> levels::add);
        PcieRootPort copy = new PcieRootPort(8, 3, true);
        other.add(1, 0, copy);
        other.add(copy, 0, new TestFunction(0x1AF4, 0x1042, 0x010000).pin(1));
        copy.restoreState(saved);
        int cap = copy.readConfig(0x34, 1);
        assertEquals(sltctl, copy.readConfig(cap + 0x18, 2));
        assertEquals(sltsta, copy.readConfig(cap + 0x1A, 2));
        assertEquals(0, copy.readConfig(cap + 0x12, 2) & LNKSTA_DLLLA, "powered off: link down");
        assertEquals(List.of(true), levels, "the pending interrupt is driven again");
        copy.writeConfig(0x18, 4, 0x00_05_05_00);
        assertEquals(-1, other.readConfig(5, 0, 0, 0, 4), "the card behind stays unpowered");
    }
}
