package org.jvisor.devices.ide;

/**
 * How a bus-master transfer ended, which decides the bus master's status bits (SFF-8038i, 2.2):
 * ACTIVE clears unless the PRD table described more than the drive moved; ERROR is set for a
 * fault on the memory side; the drive raises its interrupt (which sets INTERRUPT) except when the
 * table was too short, where it waits for a driver that will time out, as QEMU's drive does.
 */
public enum DmaOutcome {
    /** All data moved and the table ended with it. */
    COMPLETE(false, false),
    /** All data moved; the table describes more (ACTIVE stays set). */
    COMPLETE_TABLE_LONGER(true, false),
    /** The table describes less than the command's data: nothing moved, no interrupt. */
    TABLE_TOO_SHORT(false, false),
    /** The image failed: the drive reports an ATA error. */
    DEVICE_ERROR(false, false),
    /** A descriptor or buffer lies outside guest RAM (or bus mastering is off). */
    BUS_ERROR(false, true);

    final boolean staysActive;
    final boolean busError;

    DmaOutcome(boolean staysActive, boolean busError) {
        this.staysActive = staysActive;
        this.busError = busError;
    }
}
