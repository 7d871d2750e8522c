package org.jvisor.devices.intc;

/**
 * An interrupt remapping unit in front of the local APICs (VT-d chapter 5): an interrupt request
 * of {@code sourceId} (a PCI requester id; the IOAPIC's from the DMAR), written as a DWORD
 * {@code data} to {@code address}, which the unit translates and delivers or refuses.
 */
@FunctionalInterface
public interface InterruptRemapper {
    void request(int sourceId, long address, int data);
}
