package org.jvisor.devices.intc;

import java.util.concurrent.CopyOnWriteArrayList;

import org.jvisor.memory.BusDevice;
import org.jvisor.memory.IrqLine;

/**
 * The {@link ApicBus} of a machine: routes messages from IOAPICs, MSI writes and IPIs to the local
 * APICs that the destination selects (SDM vol. 3, 10.6.2), with lowest-priority arbitration
 * approximated by the lowest processor priority (ties: the first found, rotating), and fans EOIs
 * out to the IOAPICs. It also fans the PIC's INTR and the NMI wire out to every LAPIC's LINT0 and
 * LINT1: the LVT of each decides whether it listens (on a PC only the BSP has LINT0 in ExtINT mode).
 */
public final class ApicRouter implements ApicBus {
    private volatile LocalApic[] lapics = new LocalApic[0];
    private final CopyOnWriteArrayList<IoApic> ioapics = new CopyOnWriteArrayList<>();
    private int rotate;

    /** Adds a vCPU's LAPIC (at machine construction). */
    public synchronized void addLocalApic(LocalApic lapic) {
        LocalApic[] next = java.util.Arrays.copyOf(lapics, lapics.length + 1);
        next[next.length - 1] = lapic;
        lapics = next;
        lapic.setBus(this);
    }

    public void addIoApic(IoApic ioapic) {
        ioapics.add(ioapic);
    }

    public LocalApic[] localApics() {
        return lapics.clone();
    }

    @Override
    public void deliver(int destination, DestMode destMode, DeliveryMode deliveryMode, int vector,
                        boolean level, boolean levelTriggered) {
        LocalApic[] all = lapics;
        if (deliveryMode == DeliveryMode.LOWEST_PRIORITY) {
            LocalApic best = null;
            int bestPriority = Integer.MAX_VALUE;
            int start = rotate++ & Integer.MAX_VALUE;
            for (int k = 0; k < all.length; k++) {
                LocalApic a = all[(start + k) % all.length];
                if (a.matches(destination, destMode)) {
                    int p = a.arbitrationPriority();
                    if (p < bestPriority) {
                        best = a;
                        bestPriority = p;
                    }
                }
            }
            if (best != null) {
                best.accept(deliveryMode, vector, level, levelTriggered);
            }
            return;
        }
        for (LocalApic a : all) {
            if (a.matches(destination, destMode)) {
                a.accept(deliveryMode, vector, level, levelTriggered);
            }
        }
    }

    @Override
    public void deliverToAll(LocalApic exclude, DeliveryMode deliveryMode, int vector, boolean level,
                             boolean levelTriggered) {
        LocalApic[] all = lapics;
        if (deliveryMode == DeliveryMode.LOWEST_PRIORITY) {
            LocalApic best = null;
            int bestPriority = Integer.MAX_VALUE;
            for (LocalApic a : all) {
                if (a != exclude && a.isEnabled() && a.arbitrationPriority() < bestPriority) {
                    best = a;
                    bestPriority = a.arbitrationPriority();
                }
            }
            if (best != null) {
                best.accept(deliveryMode, vector, level, levelTriggered);
            }
            return;
        }
        for (LocalApic a : all) {
            if (a != exclude && a.isEnabled()) {
                a.accept(deliveryMode, vector, level, levelTriggered);
            }
        }
    }

    @Override
    public void eoi(int vector) {
        for (IoApic io : ioapics) {
            io.eoi(vector);
        }
    }

    /**
     * The interrupt-message window 0xFEE00000-0xFEEFFFFF as devices (DMA) see it: a DWORD write at
     * offset {@code o} is the MSI (0xFEE00000 + o, data). Reads return 0. Not the CPUs' own APIC page.
     */
    public BusDevice msiWindow() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                deliverMsi(0xFEE0_0000L + offset, (int) value);
            }
        };
    }

    /** The PIC's INTR output, to every LAPIC's LINT0. */
    public IrqLine lint0() {
        return level -> {
            for (LocalApic a : lapics) {
                a.setLint0(level);
            }
        };
    }

    /** The NMI wire, to every LAPIC's LINT1. */
    public IrqLine lint1() {
        return level -> {
            for (LocalApic a : lapics) {
                a.setLint1(level);
            }
        };
    }
}
