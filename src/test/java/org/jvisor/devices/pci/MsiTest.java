package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** MSI-X and MSI, driven as Linux's drivers/pci/msi code drives them: config writes and table writes. */
class MsiTest {
    private final AddressSpace io = new AddressSpace("io", 0x10000);
    private final AddressSpace mmio = new AddressSpace("memory", 1L << 52);
    private final List<String> messages = new ArrayList<>();
    private final Map<Integer, List<Boolean>> gsis = new HashMap<>();
    private final PciHostBridge bridge = new PciHostBridge(io, mmio,
        (address, data) -> messages.add(String.format("%x:%x", address, data)), PciIrqRouting.swizzled(16),
        gsi -> level -> gsis.computeIfAbsent(gsi, g -> new ArrayList<>()).add(level));

    /** A function with MSI-X in BAR 1: table at 0, PBA at 0x800 (the virtio-pci layout of QEMU). */
    static final class MsixFunction extends PciDevice {
        final MsixCapability msix;

        MsixFunction(int vectors) {
            super(0x1AF4, 0x1041, 0x020000, 1);
            setInterruptPin(1);
            msix = addCapability(new MsixCapability(vectors, 1, 0, 1, 0x800));
            BusDevice bar = new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return offset < 0x800 ? msix.readTable(offset, size) : msix.readPba(offset - 0x800, size);
                }

                @Override
                public void write(long offset, int size, long value) {
                    if (offset < 0x800) {
                        msix.writeTable(offset, size, value);
                    }
                }
            };
            setBar(1, PciBarRegion.memory32("msix", 0x1000, false, bar));
        }
    }

    static final class MsiFunction extends PciDevice {
        final MsiCapability msi;

        MsiFunction(int vectors, boolean masking) {
            super(0x1AF4, 0x1044, 0xFF0000, 1);
            setInterruptPin(1);
            msi = addCapability(new MsiCapability(vectors, masking));
        }
    }

    private static final long BAR = 0xC000_0000L;

    private MsixFunction msixFunction(int vectors) {
        MsixFunction f = new MsixFunction(vectors);
        bridge.add(3, f);
        bridge.assignResources(PciHostBridge.Windows.pc(0xE000_0000L, 0, 0));
        assertEquals(BAR, f.bar(1).mappedAddress());
        return f;
    }

    private void programEntry(int n, long address, int data) {
        long e = BAR + 16L * n;
        mmio.write(e, 4, address & 0xFFFF_FFFFL);
        mmio.write(e + 4, 4, address >>> 32);
        mmio.write(e + 8, 4, data & 0xFFFF_FFFFL);
    }

    private void setEntryMask(int n, boolean masked) {
        mmio.write(BAR + 16L * n + 12, 4, masked ? 1 : 0);
    }

    @Test
    void msixCapabilityRegisters() {
        MsixFunction f = msixFunction(3);
        int cap = f.msix.offset();
        assertEquals(0x11, f.readConfig(cap, 1));
        assertEquals(2, f.readConfig(cap + 2, 2), "table size is N-1, disabled, unmasked");
        assertEquals(0x0000_0001, f.readConfig(cap + 4, 4), "table: BAR 1 offset 0");
        assertEquals(0x0000_0801, f.readConfig(cap + 8, 4), "PBA: BAR 1 offset 0x800");
        f.writeConfig(cap + 2, 2, 0xFFFF);
        assertEquals(0xC002, f.readConfig(cap + 2, 2), "only enable and function mask are writable");
        f.writeConfig(cap + 4, 4, -1);
        assertEquals(0x0000_0001, f.readConfig(cap + 4, 4));
        // Table entries reset masked; address bits 1:0 and reserved vector-control bits read 0.
        for (int n = 0; n < 3; n++) {
            assertEquals(1, mmio.read(BAR + 16L * n + 12, 4));
        }
        mmio.write(BAR, 4, 0xFEE0_0003L);
        mmio.write(BAR + 12, 4, 0xFFFF_FFFEL);
        assertEquals(0xFEE0_0000L, mmio.read(BAR, 4));
        assertEquals(0, mmio.read(BAR + 12, 4));
        // QWORD access to an entry (Linux writes DWORDs, others may not).
        mmio.write(BAR + 16, 8, 0x1234_5678_FEE0_1000L);
        assertEquals(0x1234_5678_FEE0_1000L, mmio.read(BAR + 16, 8));
        assertEquals(0xFEE0_1000L, mmio.read(BAR + 16, 4));
        assertEquals(0x5678, mmio.read(BAR + 20, 2));
        assertThrows(IllegalArgumentException.class, () -> new MsixCapability(8, 1, 0, 1, 0x40));
    }

    @Test
    void msixProgrammingAndDelivery() {
        MsixFunction f = msixFunction(4);
        int ctl = f.msix.offset() + 2;
        assertFalse(f.msix.notify(0), "disabled: the device falls back to INTx");
        // Linux msix_capability_init: enable with function mask, program entries, unmask.
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
        f.writeConfig(ctl, 2, MsixCapability.CONTROL_ENABLE | MsixCapability.CONTROL_FUNCTION_MASK);
        for (int n = 0; n < 4; n++) {
            programEntry(n, 0xFEE0_0000L | (n << 12), 0x4020 + n);
            setEntryMask(n, false);
        }
        f.writeConfig(ctl, 2, MsixCapability.CONTROL_ENABLE);
        assertTrue(f.msix.isEnabled());
        assertTrue(f.msix.notify(2));
        assertTrue(f.msix.notify(0));
        assertTrue(f.msix.notify(4), "a vector beyond the table is dropped");
        assertEquals(List.of("fee02000:4022", "fee00000:4020"), messages);
        // Reprogramming an entry takes effect on the next message.
        programEntry(2, 0x1_FEE0_3000L, 0x41);
        f.msix.notify(2);
        assertEquals("1fee03000:41", messages.get(2));
    }

    @Test
    void maskedVectorSetsPendingBitAndDeliversOnUnmask() {
        MsixFunction f = msixFunction(70);
        int ctl = f.msix.offset() + 2;
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
        f.writeConfig(ctl, 2, MsixCapability.CONTROL_ENABLE);
        programEntry(1, 0xFEE0_0000L, 0x31);
        programEntry(65, 0xFEE0_1000L, 0x32);
        // Still masked (reset state): pending bits, no messages.
        f.msix.notify(1);
        f.msix.notify(65);
        f.msix.notify(65);
        assertEquals(List.of(), messages);
        assertEquals(0b10, mmio.read(BAR + 0x800, 8));
        assertEquals(0b10, mmio.read(BAR + 0x808, 8));
        assertEquals(0b10, mmio.read(BAR + 0x80C - 4, 4));
        mmio.write(BAR + 0x800, 8, 0);
        assertEquals(0b10, mmio.read(BAR + 0x800, 8), "the PBA is read-only");
        // Unmask vector 65: one message however often it was raised, and its pending bit clears.
        setEntryMask(65, false);
        assertEquals(List.of("fee01000:32"), messages);
        assertEquals(0, mmio.read(BAR + 0x808, 8));
        assertTrue(f.msix.isPending(1));
        setEntryMask(1, false);
        assertEquals(List.of("fee01000:32", "fee00000:31"), messages);
        assertFalse(f.msix.isPending(1));
        // Masking again pends again.
        setEntryMask(1, true);
        f.msix.notify(1);
        assertEquals(2, messages.size());
        assertTrue(f.msix.isPending(1));
    }

    @Test
    void functionMaskHoldsEveryVector() {
        MsixFunction f = msixFunction(4);
        int ctl = f.msix.offset() + 2;
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
        f.writeConfig(ctl, 2, MsixCapability.CONTROL_ENABLE);
        for (int n = 0; n < 4; n++) {
            programEntry(n, 0xFEE0_0000L, 0x50 + n);
            setEntryMask(n, false);
        }
        f.writeConfig(ctl, 2, MsixCapability.CONTROL_ENABLE | MsixCapability.CONTROL_FUNCTION_MASK);
        f.msix.notify(3);
        f.msix.notify(0);
        assertEquals(List.of(), messages);
        assertEquals(0b1001, mmio.read(BAR + 0x800, 8));
        // Unmasking one entry while the function is masked sends nothing.
        setEntryMask(3, true);
        setEntryMask(3, false);
        assertEquals(List.of(), messages);
        // Clearing the function mask (a byte write to the high byte of Message Control) delivers both.
        f.writeConfig(ctl + 1, 1, MsixCapability.CONTROL_ENABLE >> 8);
        assertEquals(List.of("fee00000:50", "fee00000:53"), messages);
        assertEquals(0, mmio.read(BAR + 0x800, 8));
    }

    @Test
    void msixNeedsBusMasteringAndTurnsIntxOff() {
        MsixFunction f = msixFunction(2);
        int ctl = f.msix.offset() + 2;
        assertEquals(19, bridge.gsi(3, 0));
        f.intx().set(true);
        assertEquals(List.of(true), gsis.get(19));
        f.writeConfig(ctl, 2, MsixCapability.CONTROL_ENABLE);
        assertEquals(List.of(true, false), gsis.get(19), "INTx is off while MSI-X is enabled");
        f.intx().set(false);
        programEntry(0, 0xFEE0_0000L, 0x60);
        setEntryMask(0, false);
        f.msix.notify(0);
        assertEquals(List.of(), messages, "no bus mastering, no memory write");
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
        f.msix.notify(0);
        assertEquals(List.of("fee00000:60"), messages);
        // Reset: disabled, entries masked again.
        f.reset();
        assertFalse(f.msix.isEnabled());
        assertTrue(f.msix.isMasked(0));
        assertEquals(0, f.msix.messageAddress(0));
    }

    /** A function that gives MSI-X a BAR of its own through {@link MsixCapability#barDevice()}. */
    static final class DedicatedBarFunction extends PciDevice {
        final MsixCapability msix;

        DedicatedBarFunction() {
            super(0x1AF4, 0x1041, 0x020000, 1);
            msix = addCapability(new MsixCapability(3, 2, 0));
            setBar(2, PciBarRegion.memory32("msix", msix.minimumBarSize(), false, msix.barDevice()));
        }
    }

    @Test
    void dedicatedMsixBar() {
        DedicatedBarFunction f = new DedicatedBarFunction();
        assertEquals(0x30, f.msix.pbaOffset(), "PBA right after the table");
        assertEquals(0x1000, f.msix.minimumBarSize());
        assertEquals(0x10000, new MsixCapability(2048, 0, 0).minimumBarSize(), "32 KiB table + 256-byte PBA");
        bridge.add(3, f);
        bridge.assignResources(PciHostBridge.Windows.pc(0xE000_0000L, 0, 0));
        long bar = f.bar(2).mappedAddress();
        assertEquals(0x0000_0002, f.readConfig(f.msix.offset() + 4, 4));
        assertEquals(0x0000_0032, f.readConfig(f.msix.offset() + 8, 4));
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
        f.writeConfig(f.msix.offset() + 2, 2, MsixCapability.CONTROL_ENABLE);
        mmio.write(bar + 0x20, 4, 0xFEE0_0000L);
        mmio.write(bar + 0x28, 4, 0x99);
        f.msix.notify(2);
        assertEquals(0b100, mmio.read(bar + 0x30, 8));
        assertEquals(0, mmio.read(bar + 0x800, 4), "nothing else in the BAR");
        mmio.write(bar + 0x2C, 4, 0);
        assertEquals(List.of("fee00000:99"), messages);
        assertEquals(0, mmio.read(bar + 0x30, 8));
    }

    @Test
    void msiCapabilityRegistersAndDelivery() {
        MsiFunction f = new MsiFunction(4, false);
        bridge.add(4, f);
        int cap = f.msi.offset();
        assertEquals(0x05, f.readConfig(cap, 1));
        assertEquals(0x0084, f.readConfig(cap + 2, 2), "64-bit, 4 messages capable, disabled");
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_BUS_MASTER);
        assertFalse(f.msi.notify(0));
        // Linux msi_capability_init / __pci_write_msi_msg: address, upper address, data, then enable.
        f.writeConfig(cap + 4, 4, 0xFEE0_1003);
        f.writeConfig(cap + 8, 4, 0);
        f.writeConfig(cap + 12, 2, 0x4038);
        assertEquals(0xFEE0_1000, f.readConfig(cap + 4, 4));
        f.writeConfig(cap + 2, 2, 0x0084 | 0x20 | MsiCapability.CONTROL_ENABLE); // MME = 2 (4 messages)
        assertEquals(0x00A5, f.readConfig(cap + 2, 2));
        assertTrue(f.msi.notify(0));
        assertTrue(f.msi.notify(3));
        assertTrue(f.msi.notify(4), "beyond the enabled messages: dropped");
        assertEquals(List.of("fee01000:4038", "fee01000:403b"), messages);
        // With one message enabled, data goes out unchanged.
        f.writeConfig(cap + 2, 2, 0x0084 | MsiCapability.CONTROL_ENABLE);
        f.msi.notify(0);
        f.msi.notify(1);
        assertEquals("fee01000:4038", messages.get(2));
        assertEquals(3, messages.size());
        // MME above MMC is clamped to the capable count.
        f.writeConfig(cap + 2, 2, 0x0084 | 0x50 | MsiCapability.CONTROL_ENABLE);
        f.msi.notify(3);
        assertEquals("fee01000:403b", messages.get(3));
    }

    @Test
    void msiPerVectorMaskingPendsAndDeliversOnUnmask() {
        MsiFunction f = new MsiFunction(2, true);
        bridge.add(4, f);
        int cap = f.msi.offset();
        assertEquals(0x0182, f.readConfig(cap + 2, 2), "per-vector masking, 64-bit, 2 messages");
        f.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_BUS_MASTER);
        f.writeConfig(cap + 4, 4, 0xFEE0_0000);
        f.writeConfig(cap + 12, 2, 0x40);
        f.writeConfig(cap + 16, 4, -1);
        assertEquals(0b11, f.readConfig(cap + 16, 4), "only implemented vectors' mask bits");
        f.writeConfig(cap + 2, 2, 0x10 | MsiCapability.CONTROL_ENABLE);
        f.intx().set(true);
        assertEquals(16, bridge.gsi(4, 0));
        assertEquals(null, gsis.get(16), "INTx is off while MSI is enabled");
        f.msi.notify(1);
        assertEquals(List.of(), messages);
        assertEquals(0b10, f.readConfig(cap + 20, 4));
        f.writeConfig(cap + 20, 4, 0);
        assertEquals(0b10, f.readConfig(cap + 20, 4), "pending bits are read-only");
        f.writeConfig(cap + 16, 4, 0b01);
        assertEquals(List.of("fee00000:41"), messages);
        assertEquals(0, f.readConfig(cap + 20, 4));
        f.msi.notify(0);
        assertEquals(1, messages.size());
        f.writeConfig(cap + 16, 4, 0);
        assertEquals(List.of("fee00000:41", "fee00000:40"), messages);
        // Disabling MSI hands the interrupt back to INTx.
        f.writeConfig(cap + 2, 2, 0);
        assertEquals(List.of(true), gsis.get(16));
    }
}
