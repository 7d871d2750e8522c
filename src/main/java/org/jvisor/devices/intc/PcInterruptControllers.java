package org.jvisor.devices.intc;

import org.jvisor.devices.legacy.I8259Pair;
import org.jvisor.devices.timer.TimerQueue;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.IrqLine;

/**
 * The interrupt controllers of a PC wired as on QEMU's "pc" machine, for an engine without an
 * in-kernel irqchip: the 8259A pair whose INTR feeds every LAPIC's LINT0 (ExtINT on the BSP),
 * one IOAPIC at 0xFEC00000 with ID 0 (the ID the MADT gives it, as QEMU does), one LAPIC per
 * vCPU with APIC ID = vCPU index, all on one {@link ApicRouter}; device wires come from
 * {@link #isaIrq(int)} / {@link #gsi(int)}.
 */
public final class PcInterruptControllers {
    public static final long IOAPIC_MMIO_SIZE = 0x1000;
    /** Matches org.jvisor.boot.acpi.Madt.IOAPIC_ID. */
    public static final int IOAPIC_ID = 0;

    private final ApicRouter router = new ApicRouter();
    private final I8259Pair pic;
    private final IoApic ioapic;
    private final LocalApic[] lapics;
    private final IrqRouter irqs;

    public PcInterruptControllers(int cpus, TimerQueue timers) {
        pic = new I8259Pair(router.lint0());
        ioapic = new IoApic(IOAPIC_ID, router);
        router.addIoApic(ioapic);
        lapics = new LocalApic[cpus];
        for (int i = 0; i < cpus; i++) {
            lapics[i] = new LocalApic(i, i == 0, timers, router);
            lapics[i].setExtIntSource(pic::acknowledge);
            router.addLocalApic(lapics[i]);
        }
        irqs = new IrqRouter(pic, ioapic);
    }

    /** Ports 0x20-0x21, 0xA0-0xA1, 0x4D0-0x4D1 and the IOAPIC page at 0xFEC00000. */
    public void register(AddressSpace io, AddressSpace memory) {
        pic.registerPorts(io);
        memory.register("ioapic", IoApic.DEFAULT_BASE, IOAPIC_MMIO_SIZE, ioapic);
    }

    public ApicRouter router() {
        return router;
    }

    public I8259Pair pic() {
        return pic;
    }

    public IoApic ioapic() {
        return ioapic;
    }

    /** The LAPIC of vCPU {@code index}; the engine routes that vCPU's APIC page and x2APIC MSRs to it. */
    public LocalApic lapic(int index) {
        return lapics[index];
    }

    public int cpus() {
        return lapics.length;
    }

    /** ISA IRQ 0-15 (PIC input and IOAPIC pin; IRQ0 lands on pin 2). */
    public IrqLine isaIrq(int irq) {
        return irqs.isa(irq);
    }

    /** ACPI GSI 0-23. */
    public IrqLine gsi(int gsi) {
        return irqs.gsi(gsi);
    }

    /** The NMI wire (LINT1 of every LAPIC). */
    public IrqLine nmi() {
        return router.lint1();
    }

    /** Machine reset: every controller back to its power-on state. */
    public void reset() {
        pic.reset();
        ioapic.reset();
        for (LocalApic a : lapics) {
            a.reset();
        }
    }
}
