package org.jvisor.devices.pci;

import java.util.ArrayList;
import java.util.List;

import org.jvisor.memory.BusDevice;

/** A PCI function for tests: BARs and capabilities are added from outside, BAR events recorded. */
final class TestFunction extends PciDevice {
    final List<String> events = new ArrayList<>();

    TestFunction(int vendor, int device, int classCode) {
        super(vendor, device, classCode, 1);
    }

    TestFunction pin(int pin) {
        setInterruptPin(pin);
        return this;
    }

    TestFunction subsystem(int vendor, int id) {
        setSubsystem(vendor, id);
        return this;
    }

    TestFunction bar(int index, PciBarRegion bar) {
        setBar(index, bar);
        return this;
    }

    <C extends PciExtendedCapability> C extendedCap(C c) {
        return addExtendedCapability(c);
    }

    <C extends PciCapability> C cap(C c) {
        return addCapability(c);
    }

    @Override
    protected void barMapped(int index, PciBarRegion bar, long address) {
        events.add(String.format("map %d %#x", index, address));
    }

    @Override
    protected void barUnmapped(int index, PciBarRegion bar, long address) {
        events.add(String.format("unmap %d %#x", index, address));
    }

    /** A BAR's contents: 32-bit registers that read back what was written, plus an id in register 0. */
    static final class Memory implements BusDevice {
        final long[] regs = new long[64];
        final int id;

        Memory(int id) {
            this.id = id;
            regs[0] = id;
        }

        @Override
        public long read(long offset, int size) {
            return regs[(int) (offset >>> 2) & 63];
        }

        @Override
        public void write(long offset, int size, long value) {
            regs[(int) (offset >>> 2) & 63] = value;
        }
    }
}
