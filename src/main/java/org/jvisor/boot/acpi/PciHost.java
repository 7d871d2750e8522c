package org.jvisor.boot.acpi;

import java.util.List;

/**
 * A PCI host bridge as the DSDT describes it (Device PCI0 under \_SB): the bus range, the
 * configuration ports 0xCF8-0xCFF, the I/O windows around them, a 32-bit MMIO window, an optional
 * 64-bit one, and static INTx routing. With an ECAM window ({@code ecamBase != 0}) it is a PCI
 * Express root (_HID PNP0A08, _CID PNP0A03), an MCFG table is added and the ECAM range is reserved
 * by a PNP0C02 device; without, a plain PCI root (_HID PNP0A03).
 *
 * @param segment    PCI segment group (_SEG)
 * @param busStart   first bus (_BBN)
 * @param busEnd     last bus
 * @param ecamBase   ECAM base, 0 for none
 * @param mmio32Base 32-bit MMIO window for BARs
 * @param mmio32Size its size (0 for none)
 * @param mmio64Base 64-bit MMIO window (prefetchable BARs above 4 GiB)
 * @param mmio64Size its size (0 for none)
 * @param irqRoutes  _PRT entries: slot and pin to GSI (level, active low by the PCI convention)
 */
public record PciHost(int segment, int busStart, int busEnd, long ecamBase,
                      long mmio32Base, long mmio32Size, long mmio64Base, long mmio64Size,
                      List<IrqRoute> irqRoutes) {

    /** One _PRT entry: device {@code slot} (0-31), {@code pin} 0-3 for INTA#-INTD#, wired to {@code gsi}. */
    public record IrqRoute(int slot, int pin, int gsi) {
        public IrqRoute {
            if (slot < 0 || slot > 31 || pin < 0 || pin > 3 || gsi < 0) {
                throw new IllegalArgumentException("bad PCI IRQ route " + slot + "/" + pin + " -> " + gsi);
            }
        }
    }

    public PciHost {
        if (busStart < 0 || busEnd > 255 || busEnd < busStart) {
            throw new IllegalArgumentException("bad bus range " + busStart + "-" + busEnd);
        }
        if (mmio32Size < 0 || mmio64Size < 0 || (mmio32Size > 0 && mmio32Base + mmio32Size > 0x1_0000_0000L)) {
            throw new IllegalArgumentException("the 32-bit MMIO window must lie below 4 GiB");
        }
        irqRoutes = List.copyOf(irqRoutes);
    }

    /** A legacy PCI host (ports 0xCF8/0xCFC only) with buses 0-255 and one 32-bit MMIO window. */
    public static PciHost legacy(long mmio32Base, long mmio32Size, List<IrqRoute> irqRoutes) {
        return new PciHost(0, 0, 255, 0, mmio32Base, mmio32Size, 0, 0, irqRoutes);
    }

    public boolean pcie() {
        return ecamBase != 0;
    }

    /**
     * The classic swizzled routing of {@code slots} slots onto four GSIs starting at
     * {@code firstGsi}: slot s, pin p goes to firstGsi + (s + p) % 4.
     */
    public static List<IrqRoute> swizzledRoutes(int slots, int firstGsi) {
        IrqRoute[] r = new IrqRoute[slots * 4];
        for (int s = 0; s < slots; s++) {
            for (int p = 0; p < 4; p++) {
                r[s * 4 + p] = new IrqRoute(s, p, firstGsi + (s + p) % 4);
            }
        }
        return List.of(r);
    }
}
