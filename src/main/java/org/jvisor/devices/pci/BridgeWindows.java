package org.jvisor.devices.pci;

import static org.jvisor.devices.pci.PcieRootPort.IO_BASE;
import static org.jvisor.devices.pci.PcieRootPort.IO_LIMIT;
import static org.jvisor.devices.pci.PcieRootPort.MEMORY_BASE;
import static org.jvisor.devices.pci.PcieRootPort.MEMORY_LIMIT;
import static org.jvisor.devices.pci.PcieRootPort.PREFETCH_BASE;
import static org.jvisor.devices.pci.PcieRootPort.PREFETCH_BASE_UPPER;
import static org.jvisor.devices.pci.PcieRootPort.PREFETCH_LIMIT;
import static org.jvisor.devices.pci.PcieRootPort.PREFETCH_LIMIT_UPPER;

/**
 * What a PCI-to-PCI bridge forwards downstream at one moment (PCI-to-PCI Bridge spec 1.2,
 * 3.2.5.6-3.2.5.10): its I/O, memory and prefetchable windows (inclusive; base above limit is
 * closed), COMMAND's I/O and memory enables, and whether the slot below has power. Immutable, so
 * the functions behind read it without the bridge's lock.
 */
record BridgeWindows(long ioBase, long ioLimit, long memBase, long memLimit, long prefBase, long prefLimit,
                     int enables, boolean powered) {

    /** Before the bridge first looks at its registers: nothing forwarded. */
    static final BridgeWindows NONE = new BridgeWindows(1, 0, 1, 0, 1, 0, 0, false);

    /**
     * The windows the bridge's registers in {@code c} hold with {@code command} and {@code powered};
     * {@code current} itself when nothing changed (no allocation then).
     */
    static BridgeWindows read(PciConfigSpace c, int command, boolean powered, BridgeWindows current) {
        long ioBase = (c.get8(IO_BASE) & 0xF0L) << 8;
        long ioLimit = (c.get8(IO_LIMIT) & 0xF0L) << 8 | 0xFFF;
        long memBase = (c.get16(MEMORY_BASE) & 0xFFF0L) << 16;
        long memLimit = (c.get16(MEMORY_LIMIT) & 0xFFF0L) << 16 | 0xF_FFFF;
        long prefBase = (c.get16(PREFETCH_BASE) & 0xFFF0L) << 16 | (c.get32(PREFETCH_BASE_UPPER) & 0xFFFF_FFFFL) << 32;
        long prefLimit = (c.get16(PREFETCH_LIMIT) & 0xFFF0L) << 16 | 0xF_FFFF
            | (c.get32(PREFETCH_LIMIT_UPPER) & 0xFFFF_FFFFL) << 32;
        int enables = command & (PciDevice.COMMAND_IO | PciDevice.COMMAND_MEMORY);
        if (current.ioBase == ioBase && current.ioLimit == ioLimit && current.memBase == memBase
            && current.memLimit == memLimit && current.prefBase == prefBase && current.prefLimit == prefLimit
            && current.enables == enables && current.powered == powered) {
            return current;
        }
        return new BridgeWindows(ioBase, ioLimit, memBase, memLimit, prefBase, prefLimit, enables, powered);
    }

    /**
     * Whether [{@code first}, {@code last}] is forwarded: all of it inside the I/O window (I/O) or
     * inside one of the two memory windows (memory: a bridge forwards by address, whatever a BAR's
     * prefetchable bit), with the matching enable set and the slot powered.
     */
    boolean forwards(boolean isIo, long first, long last) {
        if (!powered) {
            return false;
        }
        if (isIo) {
            return (enables & PciDevice.COMMAND_IO) != 0 && inside(first, last, ioBase, ioLimit);
        }
        return (enables & PciDevice.COMMAND_MEMORY) != 0
            && (inside(first, last, memBase, memLimit) || inside(first, last, prefBase, prefLimit));
    }

    private static boolean inside(long first, long last, long base, long limit) {
        return Long.compareUnsigned(base, limit) <= 0 && Long.compareUnsigned(first, base) >= 0
            && Long.compareUnsigned(last, limit) <= 0;
    }
}
