package org.jvisor.devices.ahci;

import org.jvisor.devices.pci.PciCapability;

/**
 * The Serial ATA capability (ID 0x12) of the ICH9 SATA function (ICH9 datasheet, 14.1.36-37):
 * revision 1.0 and where the index/data pair lives (BAR4, at offset 0x10 of it), read-only, as
 * QEMU's ich9-ahci has it.
 */
final class SataCapability extends PciCapability {
    static final int ID_SATA = 0x12;
    static final int REVISION_1_0 = 0x10;

    private final int barField;

    /** {@code bar}: the BAR of the index/data pair; {@code offsetLog2}: its offset in the BAR as a power of two. */
    SataCapability(int bar, int offsetLog2) {
        super(ID_SATA, 8);
        this.barField = (bar + 4) | offsetLog2 << 4;
    }

    @Override
    protected void initialize() {
        config().set16(offset() + 2, REVISION_1_0);
        config().set32(offset() + 4, barField);
    }
}
