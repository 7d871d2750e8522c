package org.jvisor.cpu;

/** Categories of VM exits (or their tcg equivalents: accesses that leave the engine for a device). */
public enum ExitReason {
    IO_IN, IO_OUT, MMIO_READ, MMIO_WRITE, HLT, INTR, IRQ_WINDOW, SHUTDOWN, SYSTEM_EVENT, OTHER
}
