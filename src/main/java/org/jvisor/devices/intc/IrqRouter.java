package org.jvisor.devices.intc;

import org.jvisor.devices.legacy.I8259Pair;
import org.jvisor.memory.IrqLine;

/**
 * The wires from devices to the interrupt controllers of a PC, as QEMU's "pc" machine lays them
 * out: ISA IRQ n reaches PIC input n and IOAPIC pin n, except IRQ0 (the PIT) which reaches IOAPIC
 * pin 2 (the MADT carries the matching interrupt source override, IRQ0 -> GSI2). GSIs 16-23 (PCI)
 * reach the IOAPIC only. Either controller may be absent (null).
 */
public final class IrqRouter {
    private final I8259Pair pic;
    private final IoApic ioapic;

    public IrqRouter(I8259Pair pic, IoApic ioapic) {
        this.pic = pic;
        this.ioapic = ioapic;
    }

    /** ISA IRQ {@code irq} (0-15). */
    public IrqLine isa(int irq) {
        if (irq < 0 || irq > 15) {
            throw new IllegalArgumentException("ISA IRQ " + irq);
        }
        int pin = irq == 0 ? 2 : irq;
        IrqLine toPic = pic == null ? IrqLine.NONE : pic.irq(irq);
        IrqLine toIoapic = ioapic == null ? IrqLine.NONE : ioapic.pin(pin);
        return level -> {
            toPic.set(level);
            toIoapic.set(level);
        };
    }

    /**
     * GSI {@code gsi} as ACPI numbers it: 0-15 are the ISA IRQs with the identity mapping except that
     * GSI 2 is IOAPIC pin 2 (which the PIT reaches through {@link #isa(int) isa(0)}); 16-23 are IOAPIC only.
     */
    public IrqLine gsi(int gsi) {
        if (gsi < 0 || gsi >= IoApic.PINS) {
            throw new IllegalArgumentException("GSI " + gsi);
        }
        if (gsi < 16 && gsi != 2) {
            return isa(gsi);
        }
        return ioapic == null ? IrqLine.NONE : ioapic.pin(gsi);
    }
}
