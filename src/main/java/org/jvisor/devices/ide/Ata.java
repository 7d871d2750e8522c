package org.jvisor.devices.ide;

/** Bits of the ATA status, error, device and device control registers (ATA/ATAPI-6, 7.x). */
final class Ata {
    private Ata() {
    }

    // Status (7.15)
    static final int BSY = 0x80;
    static final int DRDY = 0x40;
    static final int DF = 0x20;
    /** Device seek complete: obsolete, but set by QEMU and expected by older drivers. */
    static final int DSC = 0x10;
    static final int DRQ = 0x08;
    static final int ERR = 0x01;
    /** A disk that is ready: DRDY and DSC, as QEMU's READY_STAT | SEEK_STAT. */
    static final int READY = DRDY | DSC;

    // Error (7.9)
    /** Uncorrectable data error. */
    static final int UNC = 0x40;
    /** ID not found: the address is outside the device. */
    static final int IDNF = 0x10;
    /** MC: media changed (ATA/ATAPI-6, 7.11; with a packet device's sense key in bits 7:4). */
    static final int MC = 0x20;
    /** Command aborted. */
    static final int ABRT = 0x04;
    /** After a reset or diagnostic: device 0 passed. */
    static final int DIAGNOSTIC_PASSED = 0x01;

    // Device register (7.10)
    static final int DEVICE_LBA = 0x40;
    static final int DEVICE_DEV = 0x10;
    /** Bits 7 and 5, obsolete, read back as 1 (QEMU sets them on every write). */
    static final int DEVICE_OBSOLETE = 0xA0;

    // Device control (7.8)
    static final int CONTROL_HOB = 0x80;
    static final int CONTROL_SRST = 0x04;
    static final int CONTROL_NIEN = 0x02;

    static final int SECTOR_SIZE = 512;
    /** The largest READ/WRITE MULTIPLE block: QEMU's MAX_MULT_SECTORS. */
    static final int MAX_MULTIPLE = 16;
}
