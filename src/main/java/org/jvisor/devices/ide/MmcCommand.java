package org.jvisor.devices.ide;

/**
 * The SCSI/MMC commands a CD-ROM answers in ATAPI packets (SPC-4, MMC-6), by operation code, as
 * QEMU's ide-cd does for what Linux's sr driver, libata and SeaBIOS send; others get ILLEGAL
 * REQUEST / INVALID COMMAND OPERATION CODE.
 */
enum MmcCommand {
    TEST_UNIT_READY(0x00),
    REQUEST_SENSE(0x03),
    INQUIRY(0x12),
    START_STOP_UNIT(0x1B),
    PREVENT_ALLOW_MEDIUM_REMOVAL(0x1E),
    READ_CAPACITY(0x25),
    READ_10(0x28),
    SEEK_10(0x2B),
    READ_TOC(0x43),
    GET_CONFIGURATION(0x46),
    GET_EVENT_STATUS_NOTIFICATION(0x4A),
    MODE_SENSE_10(0x5A),
    READ_12(0xA8),
    SET_CD_SPEED(0xBB);

    private static final MmcCommand[] BY_OPCODE = new MmcCommand[256];

    static {
        for (MmcCommand c : values()) {
            BY_OPCODE[c.opcode] = c;
        }
    }

    final int opcode;

    MmcCommand(int opcode) {
        this.opcode = opcode;
    }

    static MmcCommand of(int opcode) {
        return BY_OPCODE[opcode & 0xFF];
    }
}
