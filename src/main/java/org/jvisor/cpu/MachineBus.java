package org.jvisor.cpu;

import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.GuestMemory;

/** What an engine needs from the machine: guest RAM and the two address spaces devices live in. */
public record MachineBus(GuestMemory ram, AddressSpace io, AddressSpace mmio) {
}
