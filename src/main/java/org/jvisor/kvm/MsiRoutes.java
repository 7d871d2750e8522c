package org.jvisor.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.jvisor.sys.EventFd;
import org.jvisor.sys.SysException;

import static org.jvisor.kvm.KvmStructs.KVM_IRQ_ROUTING;
import static org.jvisor.kvm.KvmStructs.KVM_IRQ_ROUTING_ENTRY;
import static org.jvisor.kvm.KvmStructs.offset;

/**
 * MSIs through irqfd: each distinct message (address, data) a device sends gets a GSI with an MSI
 * route (KVM_SET_GSI_ROUTING) and an eventfd bound to it (KVM_IRQFD), so raising it is an eventfd
 * write that KVM turns into the interrupt, the path vhost and other in-kernel producers also need
 * (api.rst 4.52 KVM_SET_GSI_ROUTING, 4.75 KVM_IRQFD). MSI-X tables change rarely (vector setup,
 * affinity), so the messages in use are few; routes are kept until the VM ends. When
 * {@link #MAX_ROUTES} are taken, further messages go through KVM_SIGNAL_MSI.
 *
 * <p>KVM_SET_GSI_ROUTING replaces the whole table, so every update repeats the irqchip's default
 * routes (arch/x86/kvm/irq_comm.c): GSI 0-15 to the PICs (pin gsi % 8) and to IOAPIC pin gsi,
 * GSI 16-23 to the IOAPIC. MSI routes take GSIs from 24 up.
 */
final class MsiRoutes implements AutoCloseable {
    static final int ROUTING_IRQCHIP = 1;
    static final int ROUTING_MSI = 2;
    static final int IRQCHIP_PIC_MASTER = 0;
    static final int IRQCHIP_PIC_SLAVE = 1;
    static final int IRQCHIP_IOAPIC = 2;
    static final int IOAPIC_PINS = 24;
    static final int FIRST_MSI_GSI = IOAPIC_PINS;
    static final int MAX_ROUTES = 64;
    private static final int DEFAULT_ENTRIES = 16 * 2 + 8;

    private final KvmVm vm;
    private final long[] address = new long[MAX_ROUTES];
    private final int[] data = new int[MAX_ROUTES];
    private final EventFd[] eventFds = new EventFd[MAX_ROUTES];
    private int count;
    private boolean failed;

    MsiRoutes(KvmVm vm) {
        this.vm = vm;
    }

    /**
     * Raises the MSI (address, data) through its irqfd, creating the route on first use. Returns
     * false when it has no route (table full, or KVM refused routing): then use KVM_SIGNAL_MSI.
     */
    synchronized boolean signal(long msgAddress, int msgData) {
        int i = route(msgAddress, msgData);
        if (i < 0) {
            return false;
        }
        raise(eventFds[i]);
        return true;
    }

    /**
     * The GSI whose route sends (address, data), creating the route on first use, for another
     * eventfd to be bound to it (a vhost-user backend's call); -1 when there is none to give.
     */
    synchronized int gsi(long msgAddress, int msgData) {
        int i = route(msgAddress, msgData);
        return i < 0 ? -1 : FIRST_MSI_GSI + i;
    }

    /** The index of the route for (address, data), made now if new; -1 if the table is full or routing failed. */
    private int route(long msgAddress, int msgData) {
        for (int i = 0; i < count; i++) {
            if (address[i] == msgAddress && data[i] == msgData) {
                return i;
            }
        }
        if (count == MAX_ROUTES || failed) {
            return -1;
        }
        int i = count;
        EventFd efd;
        try {
            efd = EventFd.create();
        } catch (SysException e) {
            throw new KvmException(e);
        }
        address[i] = msgAddress;
        data[i] = msgData;
        try {
            vm.setGsiRouting(table(i + 1));
            vm.assignIrqfd(efd.fd(), FIRST_MSI_GSI + i);
        } catch (KvmException e) {
            // Keep the routes that work; this and later messages use KVM_SIGNAL_MSI.
            System.err.println("jvisor: kvm: MSI through irqfd unavailable, using KVM_SIGNAL_MSI: " + e.getMessage());
            failed = true;
            efd.close();
            return -1;
        }
        eventFds[i] = efd;
        count = i + 1;
        return i;
    }

    /** One MSI: an eventfd write KVM turns into the interrupt. */
    private static void raise(EventFd efd) {
        try {
            efd.signal(1);
        } catch (SysException e) {
            throw new KvmException(e);
        }
    }

    /** The routing table: the irqchip defaults and the first {@code msiRoutes} MSI routes. */
    private MemorySegment table(int msiRoutes) {
        int n = DEFAULT_ENTRIES + msiRoutes;
        long entry = KVM_IRQ_ROUTING_ENTRY.byteSize();
        MemorySegment t = Arena.ofAuto().allocate(KVM_IRQ_ROUTING.byteSize() + n * entry, 8);
        t.set(ValueLayout.JAVA_INT, offset(KVM_IRQ_ROUTING, "nr"), n);
        long at = KVM_IRQ_ROUTING.byteSize();
        for (int gsi = 0; gsi < 16; gsi++) {
            at = irqchip(t, at, gsi, gsi < 8 ? IRQCHIP_PIC_MASTER : IRQCHIP_PIC_SLAVE, gsi % 8);
            at = irqchip(t, at, gsi, IRQCHIP_IOAPIC, gsi);
        }
        for (int gsi = 16; gsi < IOAPIC_PINS; gsi++) {
            at = irqchip(t, at, gsi, IRQCHIP_IOAPIC, gsi);
        }
        long u = offset(KVM_IRQ_ROUTING_ENTRY, "u");
        for (int i = 0; i < msiRoutes; i++, at += entry) {
            t.set(ValueLayout.JAVA_INT, at + offset(KVM_IRQ_ROUTING_ENTRY, "gsi"), FIRST_MSI_GSI + i);
            t.set(ValueLayout.JAVA_INT, at + offset(KVM_IRQ_ROUTING_ENTRY, "type"), ROUTING_MSI);
            t.set(ValueLayout.JAVA_INT, at + u, (int) address[i]);
            t.set(ValueLayout.JAVA_INT, at + u + 4, (int) (address[i] >>> 32));
            t.set(ValueLayout.JAVA_INT, at + u + 8, data[i]);
        }
        return t;
    }

    private static long irqchip(MemorySegment t, long at, int gsi, int chip, int pin) {
        t.set(ValueLayout.JAVA_INT, at + offset(KVM_IRQ_ROUTING_ENTRY, "gsi"), gsi);
        t.set(ValueLayout.JAVA_INT, at + offset(KVM_IRQ_ROUTING_ENTRY, "type"), ROUTING_IRQCHIP);
        long u = offset(KVM_IRQ_ROUTING_ENTRY, "u");
        t.set(ValueLayout.JAVA_INT, at + u, chip);
        t.set(ValueLayout.JAVA_INT, at + u + 4, pin);
        return at + KVM_IRQ_ROUTING_ENTRY.byteSize();
    }

    /** MSI routes in use (for tests and the report). */
    synchronized int routes() {
        return count;
    }

    @Override
    public synchronized void close() {
        for (int i = 0; i < count; i++) {
            eventFds[i].close();
        }
        count = 0;
    }
}
