package org.jvisor.devices.ide;

/**
 * The commands the drives execute, by opcode (ATA/ATAPI-6 chapter 8, ACS-3 chapter 7), with the
 * protocol each one uses. Every other opcode is aborted.
 */
enum AtaCommand {
    NOP(0x00, Protocol.NON_DATA, false),
    DATA_SET_MANAGEMENT(0x06, Protocol.DMA, true),
    DEVICE_RESET(0x08, Protocol.DEVICE_RESET, false),
    RECALIBRATE(0x10, Protocol.NON_DATA, false),
    READ_SECTORS(0x20, Protocol.PIO_IN, false),
    READ_SECTORS_NO_RETRY(0x21, Protocol.PIO_IN, false),
    READ_SECTORS_EXT(0x24, Protocol.PIO_IN, true),
    READ_DMA_EXT(0x25, Protocol.DMA, true),
    READ_NATIVE_MAX_ADDRESS_EXT(0x27, Protocol.NON_DATA, true),
    READ_MULTIPLE_EXT(0x29, Protocol.PIO_IN, true),
    WRITE_SECTORS(0x30, Protocol.PIO_OUT, false),
    WRITE_SECTORS_NO_RETRY(0x31, Protocol.PIO_OUT, false),
    WRITE_SECTORS_EXT(0x34, Protocol.PIO_OUT, true),
    WRITE_DMA_EXT(0x35, Protocol.DMA, true),
    WRITE_MULTIPLE_EXT(0x39, Protocol.PIO_OUT, true),
    WRITE_DMA_FUA_EXT(0x3D, Protocol.DMA, true),
    READ_VERIFY_SECTORS(0x40, Protocol.NON_DATA, false),
    READ_VERIFY_SECTORS_NO_RETRY(0x41, Protocol.NON_DATA, false),
    READ_VERIFY_SECTORS_EXT(0x42, Protocol.NON_DATA, true),
    SEEK(0x70, Protocol.NON_DATA, false),
    EXECUTE_DEVICE_DIAGNOSTIC(0x90, Protocol.DIAGNOSTIC, false),
    INITIALIZE_DEVICE_PARAMETERS(0x91, Protocol.NON_DATA, false),
    STANDBY_IMMEDIATE_OLD(0x94, Protocol.NON_DATA, false),
    IDLE_IMMEDIATE_OLD(0x95, Protocol.NON_DATA, false),
    STANDBY_OLD(0x96, Protocol.NON_DATA, false),
    IDLE_OLD(0x97, Protocol.NON_DATA, false),
    CHECK_POWER_MODE_OLD(0x98, Protocol.NON_DATA, false),
    PACKET(0xA0, Protocol.PACKET, false),
    SMART(0xB0, Protocol.PIO_IN, false),
    IDENTIFY_PACKET_DEVICE(0xA1, Protocol.PIO_IN, false),
    READ_MULTIPLE(0xC4, Protocol.PIO_IN, false),
    WRITE_MULTIPLE(0xC5, Protocol.PIO_OUT, false),
    SET_MULTIPLE_MODE(0xC6, Protocol.NON_DATA, false),
    WRITE_MULTIPLE_FUA_EXT(0xCE, Protocol.PIO_OUT, true),
    READ_DMA(0xC8, Protocol.DMA, false),
    READ_DMA_NO_RETRY(0xC9, Protocol.DMA, false),
    WRITE_DMA(0xCA, Protocol.DMA, false),
    WRITE_DMA_NO_RETRY(0xCB, Protocol.DMA, false),
    STANDBY_IMMEDIATE(0xE0, Protocol.NON_DATA, false),
    IDLE_IMMEDIATE(0xE1, Protocol.NON_DATA, false),
    STANDBY(0xE2, Protocol.NON_DATA, false),
    IDLE(0xE3, Protocol.NON_DATA, false),
    CHECK_POWER_MODE(0xE5, Protocol.NON_DATA, false),
    FLUSH_CACHE(0xE7, Protocol.NON_DATA, false),
    FLUSH_CACHE_EXT(0xEA, Protocol.NON_DATA, true),
    IDENTIFY_DEVICE(0xEC, Protocol.PIO_IN, false),
    SET_FEATURES(0xEF, Protocol.NON_DATA, false),
    READ_NATIVE_MAX_ADDRESS(0xF8, Protocol.NON_DATA, false);

    /** How a command moves its data (ATA/ATAPI-6, 9.x protocols). */
    enum Protocol {
        NON_DATA, PIO_IN, PIO_OUT, DMA, PACKET, DEVICE_RESET, DIAGNOSTIC
    }

    private static final AtaCommand[] BY_OPCODE = new AtaCommand[256];

    static {
        for (AtaCommand c : values()) {
            BY_OPCODE[c.opcode] = c;
        }
    }

    final int opcode;
    final Protocol protocol;
    /** A 48-bit command: LBA and count come from both halves of the register FIFOs. */
    final boolean ext;

    AtaCommand(int opcode, Protocol protocol, boolean ext) {
        this.opcode = opcode;
        this.protocol = protocol;
        this.ext = ext;
    }

    /** The command with this opcode, or null (RECALIBRATE answers to all of 0x10-0x1F). */
    static AtaCommand of(int opcode) {
        int op = opcode & 0xFF;
        return (op & 0xF0) == 0x10 ? RECALIBRATE : BY_OPCODE[op];
    }

    boolean writes() {
        return switch (this) {
            case WRITE_SECTORS, WRITE_SECTORS_NO_RETRY, WRITE_SECTORS_EXT, WRITE_MULTIPLE, WRITE_MULTIPLE_EXT,
                 WRITE_DMA, WRITE_DMA_NO_RETRY, WRITE_DMA_EXT, WRITE_DMA_FUA_EXT, WRITE_MULTIPLE_FUA_EXT -> true;
            default -> false;
        };
    }

    boolean multiple() {
        return this == READ_MULTIPLE || this == READ_MULTIPLE_EXT || this == WRITE_MULTIPLE || this == WRITE_MULTIPLE_EXT
            || this == WRITE_MULTIPLE_FUA_EXT;
    }

    /** Forced Unit Access (ACS-3 7.65, 7.62): the data is on the medium before the command completes. */
    boolean forcedUnitAccess() {
        return this == WRITE_DMA_FUA_EXT || this == WRITE_MULTIPLE_FUA_EXT;
    }
}
