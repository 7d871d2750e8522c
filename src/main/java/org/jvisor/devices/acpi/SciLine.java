package org.jvisor.devices.acpi;

import org.jvisor.memory.IrqLine;

/**
 * The SCI as a chipset drives it: one level-triggered, shareable interrupt (ISA IRQ 9 here)
 * asserted while any of its sources asserts, that is while any PM1 or GPE status bit is set
 * together with its enable bit (ACPI 6.4 4.8.5.1, General-Purpose Event Register Blocks; the PM1
 * event registers alike). Each source ({@link AcpiPm}'s PM1 events, a {@link Gpe0Block}) holds a
 * line of its own from {@link #input()} and reports its own level; the output changes only when
 * the wire-OR does. Nothing here is saved: after a restore each source drives its line again
 * from its registers.
 */
public final class SciLine {

    private final IrqLine out;
    private int sources;
    /** Bit i: source i is asserting. */
    private int asserted;

    /** @param out the interrupt controller's wire of the SCI */
    public SciLine(IrqLine out) {
        this.out = out;
    }

    /** A new source of the SCI (at most 32). */
    public synchronized IrqLine input() {
        if (sources == Integer.SIZE) {
            throw new IllegalStateException("the SCI has 32 sources already");
        }
        int bit = 1 << sources++;
        return level -> set(bit, level);
    }

    private synchronized void set(int bit, boolean level) {
        boolean before = asserted != 0;
        asserted = level ? asserted | bit : asserted & ~bit;
        boolean now = asserted != 0;
        if (now != before) {
            out.set(now);
        }
    }

    /** Whether some source asserts the SCI. */
    public synchronized boolean asserted() {
        return asserted != 0;
    }
}
