package org.jvisor.devices.pci;

/**
 * Static INTx routing of bus 0 (what the ACPI _PRT says): the GSI that slot {@code slot}'s pin
 * {@code pin} (0-3 for INTA#-INTD#) drives. The lines are level-triggered and active-low on the
 * wire; jvisor models the asserted level ({@code IrqLine.set(true)} = asserted).
 */
@FunctionalInterface
public interface PciIrqRouting {

    int gsi(int slot, int pin);

    /**
     * The classic swizzle, the same as {@code PciHost.swizzledRoutes(slots, firstGsi)}: slot s,
     * pin p goes to {@code firstGsi + (s + p) % 4}.
     */
    static PciIrqRouting swizzled(int firstGsi) {
        return (slot, pin) -> firstGsi + (slot + pin) % 4;
    }
}
