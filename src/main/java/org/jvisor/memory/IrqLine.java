package org.jvisor.memory;

/**
 * An interrupt wire from a device to the engine's interrupt controller (a GSI: an IOAPIC pin, with
 * 0-15 also reaching the PIC). Edge-triggered devices pulse it; level-triggered ones hold it.
 */
public interface IrqLine {

    void set(boolean level);

    default void pulse() {
        set(true);
        set(false);
    }

    /** A line that goes nowhere, for devices whose interrupt is not wired. */
    IrqLine NONE = level -> { };
}
