package org.jvisor.devices.pci;

/**
 * Where a function's message-signalled interrupts go: a DWORD memory write of {@code data} to
 * {@code address} (0xFEExxxxx for the local APICs). The machine connects it to
 * {@code ApicBus.deliverMsi} on tcg or to KVM_SIGNAL_MSI / an irqfd route on kvm. Called from the
 * thread that raises the interrupt (an iothread, or a vCPU that unmasks a pending vector, then with
 * the function's lock held): it must not call back into PCI devices.
 */
@FunctionalInterface
public interface MsiSink {

    void signal(long address, int data);

    /** Drops every message (a bridge built without interrupt wiring). */
    MsiSink NONE = (address, data) -> { };
}
