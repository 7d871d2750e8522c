package org.jvisor.devices.ide;

/**
 * The SCSI/MMC commands a CD-ROM answers in ATAPI packets (SPC-4, MMC-6), by operation code, as
 * QEMU's ide-cd does for what Linux's sr driver, libata and SeaBIOS send; others get ILLEGAL
 * REQUEST / INVALID COMMAND OPERATION CODE. Each says, as QEMU's command table does (MMC-5,
 * 4.1.6.1 and 4.1.8), whether it runs under a pending UNIT ATTENTION and whether it needs a
 * medium (NOT READY without one).
 */
enum MmcCommand {
    TEST_UNIT_READY(0x00, false, true),
    REQUEST_SENSE(0x03, true, false),
    INQUIRY(0x12, true, false),
    START_STOP_UNIT(0x1B, false, false),
    PREVENT_ALLOW_MEDIUM_REMOVAL(0x1E, false, false),
    READ_CAPACITY(0x25, false, true),
    READ_10(0x28, false, true),
    SEEK_10(0x2B, false, true),
    READ_TOC(0x43, false, true),
    GET_CONFIGURATION(0x46, true, false),
    GET_EVENT_STATUS_NOTIFICATION(0x4A, true, false),
    MODE_SENSE_10(0x5A, false, false),
    READ_12(0xA8, false, true),
    SET_CD_SPEED(0xBB, false, false);

    private static final MmcCommand[] BY_OPCODE = new MmcCommand[256];

    static {
        for (MmcCommand c : values()) {
            BY_OPCODE[c.opcode] = c;
        }
    }

    final int opcode;
    /** Runs while a UNIT ATTENTION is pending (QEMU's ALLOW_UA). */
    final boolean allowsUnitAttention;
    /** Needs a medium in a closed tray (QEMU's CHECK_READY). */
    final boolean needsMedium;

    MmcCommand(int opcode, boolean allowsUnitAttention, boolean needsMedium) {
        this.opcode = opcode;
        this.allowsUnitAttention = allowsUnitAttention;
        this.needsMedium = needsMedium;
    }

    static MmcCommand of(int opcode) {
        return BY_OPCODE[opcode & 0xFF];
    }
}
