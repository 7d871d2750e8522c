package org.jvisor.devices.state;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.devices.pci.MsiCapability;
import org.jvisor.devices.pci.MsixCapability;
import org.jvisor.devices.pci.PciBarRegion;
import org.jvisor.devices.pci.PciDevice;
import org.jvisor.devices.pci.PciHostBridge;
import org.jvisor.devices.pci.PciIrqRouting;
import org.jvisor.memory.BusDevice;

/** PCI: a function with BARs, MSI and MSI-X driven through configuration cycles and BAR memory, and the host bridge. */
final class PciKinds {
    static final long REGS = 0xC000_0000L;
    static final long MSIX_TABLE = 0xC000_1000L;

    private PciKinds() {
    }

    static List<DeviceKind<?>> all() {
        return List.of(functionWithMsi(), functionWithMsix(), hostBridge());
    }

    /** A function of the test: a register BAR, MSI with 4 vectors and per-vector masking, MSI-X with 8, INTA. */
    static final class TestFunction extends PciDevice {
        /** BAR 0: reads show the offset, so a read proves where the BAR decodes. */
        private static final BusDevice REGISTERS = new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0xAB00 | offset;
            }

            @Override
            public void write(long offset, int size, long value) {
            }
        };

        final MsiCapability msi;
        final MsixCapability msix;

        TestFunction() {
            super(0x1234, 0x11E8, 0xFF0000, 2);
            setSubsystem(0x1234, 1);
            setInterruptPin(1);
            msi = addCapability(new MsiCapability(4, true));
            msix = addCapability(new MsixCapability(8, 2, 0));
            setBar(0, PciBarRegion.memory32("regs", 0x1000, false, REGISTERS));
            setBar(2, PciBarRegion.memory32("msix", msix.minimumBarSize(), false, msix.barDevice()));
        }
    }

    /** A bridge in the world with the function at 00:03.0 (its INTA reaches GSI 19). */
    static TestFunction plugged(TestWorld w) {
        PciHostBridge bridge = new PciHostBridge(w.io, w.memory, w.msi(), PciIrqRouting.swizzled(16), g -> w.line("gsi" + g));
        TestFunction fn = new TestFunction();
        bridge.add(3, fn);
        return fn;
    }

    /** BARs placed by the guest, decoding and bus mastering on. */
    static void enable(PciDevice fn) {
        fn.writeConfig(PciDevice.BAR0, 4, (int) REGS);
        fn.writeConfig(PciDevice.BAR0 + 8, 4, (int) MSIX_TABLE);
        fn.writeConfig(PciDevice.INTERRUPT_LINE, 1, 19);
        fn.writeConfig(PciDevice.COMMAND, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_BUS_MASTER);
    }

    static List<Object> configDump(PciDevice fn) {
        List<Object> l = new ArrayList<>();
        for (int off = 0; off < 0x100; off += 4) {
            l.add(fn.readConfig(off, 4));
        }
        return l;
    }

    /** MSI on with 4 vectors, vector 1 masked with a message pending, INTx asserted by the model but held off by MSI. */
    static DeviceKind<TestFunction> functionWithMsi() {
        return new DeviceKind<>("PCI function with MSI", PciKinds::plugged,
            (fn, w) -> {
                enable(fn);
                int cap = fn.msi.offset();
                fn.writeConfig(cap + 4, 4, 0xFEE0_0000);
                fn.writeConfig(cap + 8, 4, 0);
                fn.writeConfig(cap + 12, 2, 0x4040);
                fn.writeConfig(cap + 16, 4, 0x2);            // mask vector 1
                fn.writeConfig(cap + 2, 2, 2 << 4 | MsiCapability.CONTROL_ENABLE);
                fn.msi.notify(1);                            // pending
                fn.msi.notify(3);                            // sent
                fn.intx().set(true);
            },
            (fn, w) -> {
                List<Object> seen = new ArrayList<>();
                int cap = fn.msi.offset();
                seen.add(w.memory.read(REGS + 0x10, 4));
                seen.add(fn.readConfig(cap + 20, 4));
                fn.writeConfig(cap + 16, 4, 0);              // unmask: the pending message goes out
                seen.add(fn.readConfig(cap + 20, 4));
                fn.writeConfig(cap + 2, 2, 0);               // MSI off: the asserted INTx reaches GSI 19
                seen.addAll(configDump(fn));
                return seen;
            });
    }

    /** MSI-X on with three vectors programmed, vector 2 masked with its pending bit set. */
    static DeviceKind<TestFunction> functionWithMsix() {
        return new DeviceKind<>("PCI function with MSI-X", PciKinds::plugged,
            (fn, w) -> {
                enable(fn);
                for (int v = 0; v < 3; v++) {
                    long e = MSIX_TABLE + 16L * v;
                    w.memory.write(e, 4, 0xFEE0_0000L | v << 12);
                    w.memory.write(e + 4, 4, 0);
                    w.memory.write(e + 8, 4, 0x40 + v);
                    w.memory.write(e + 12, 4, v == 2 ? MsixCapability.VECTOR_CONTROL_MASKED : 0);
                }
                fn.writeConfig(fn.msix.offset() + 2, 2, MsixCapability.CONTROL_ENABLE);
                fn.msix.notify(0);
                fn.msix.notify(2);
                fn.intx().set(true);
            },
            (fn, w) -> {
                List<Object> seen = new ArrayList<>();
                long pba = MSIX_TABLE + fn.msix.pbaOffset();
                seen.add(w.memory.read(REGS + 0x20, 4));
                seen.add(w.memory.read(pba, 8));
                w.memory.write(MSIX_TABLE + 16 * 2 + 12, 4, 0); // unmask vector 2: its message goes out
                seen.add(w.memory.read(pba, 8));
                fn.msix.notify(1);
                for (int i = 0; i < 12; i++) {
                    seen.add(w.memory.read(MSIX_TABLE + 4L * i, 4));
                }
                fn.writeConfig(fn.msix.offset() + 2, 2, 0); // MSI-X off: INTx takes over
                seen.addAll(configDump(fn));
                return seen;
            });
    }

    /** CONFIG_ADDRESS left selecting a register; the host function's latency timer and COMMAND written. */
    static DeviceKind<PciHostBridge> hostBridge() {
        return new DeviceKind<>("PCI host bridge",
            w -> {
                PciHostBridge b = new PciHostBridge(w.io, w.memory, w.msi(), PciIrqRouting.swizzled(16),
                    g -> w.line("gsi" + g));
                b.registerPorts(null);
                return b;
            },
            (b, w) -> {
                w.io.write(0xCF8, 4, 0x8000_000CL);
                w.io.write(0xCFD, 1, 0x40);                  // latency timer
                w.io.write(0xCF8, 4, 0x8000_0004L);
                w.io.write(0xCFC, 2, PciDevice.COMMAND_MEMORY | PciDevice.COMMAND_SERR);
                w.io.write(0xCF8, 4, 0x8000_1800L);          // slot 3, empty
            },
            (b, w) -> {
                List<Object> seen = new ArrayList<>();
                seen.add(w.io.read(0xCF8, 4));
                seen.add(w.io.read(0xCFC, 4));
                w.io.write(0xCF8, 4, 0x8000_000CL);
                seen.add(w.io.read(0xCFC, 4));
                w.io.write(0xCF8, 4, 0x8000_0004L);
                seen.add(w.io.read(0xCFC, 4));
                return seen;
            });
    }
}
