package org.jvisor.devices.ide;

/**
 * The command block registers of an ATA channel, by their offset from the base port (ATA/ATAPI-6,
 * 7.1): each name is the register read there, then the one written.
 */
enum AtaRegister {
    /** 16-bit PIO data. */
    DATA,
    /** Read: error; write: features. */
    ERROR_FEATURES,
    SECTOR_COUNT,
    /** LBA bits 7:0 (CHS: sector number). */
    LBA_LOW,
    /** LBA bits 15:8 (CHS: cylinder low). */
    LBA_MID,
    /** LBA bits 23:16 (CHS: cylinder high). */
    LBA_HIGH,
    /** Device/head: DEV (bit 4) selects the drive, LBA (bit 6), LBA bits 27:24 or the head. */
    DEVICE,
    /** Read: status (clears a pending interrupt); write: command. */
    STATUS_COMMAND;

    private static final AtaRegister[] BY_OFFSET = values();

    static AtaRegister at(long offset) {
        return BY_OFFSET[(int) offset & 7];
    }
}
