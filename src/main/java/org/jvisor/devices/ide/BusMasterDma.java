package org.jvisor.devices.ide;

/**
 * One channel's bus master IDE registers (SFF-8038i, 2.x), 8 bytes of BAR4: command (0: START
 * in bit 0, direction in bit 3), status (2: ACTIVE in bit 0, ERROR bit 1 and INTERRUPT bit 2
 * write-1-to-clear, drive 0/1 DMA capable bits 5/6 read-write) and the PRD table address (4-7,
 * dword-aligned). Reserved bytes read 0xFF, as in QEMU. The {@link IdeChannel} owns it and runs
 * the transfers.
 */
final class BusMasterDma {
    static final int COMMAND = 0;
    static final int STATUS = 2;
    static final int PRD_ADDRESS = 4;

    static final int COMMAND_START = 0x01;
    /** Set: the bus master writes memory (a device read). */
    static final int COMMAND_TO_MEMORY = 0x08;
    static final int COMMAND_MASK = COMMAND_START | COMMAND_TO_MEMORY;

    static final int STATUS_ACTIVE = 0x01;
    static final int STATUS_ERROR = 0x02;
    static final int STATUS_INTERRUPT = 0x04;
    static final int STATUS_CAPABLE = 0x60;

    int command;
    int status;
    int prdAddress;

    boolean started() {
        return (command & COMMAND_START) != 0;
    }

    boolean active() {
        return (status & STATUS_ACTIVE) != 0;
    }

    /** A guest write to the status byte: capability bits taken, ERROR/INTERRUPT cleared where 1 is written. */
    void writeStatus(int value) {
        status = value & STATUS_CAPABLE | status & STATUS_ACTIVE | status & ~value & (STATUS_ERROR | STATUS_INTERRUPT);
    }

    /** A byte of the register file as the guest reads it. */
    int readByte(int offset) {
        return switch (offset) {
            case COMMAND -> command;
            case STATUS -> status;
            case 4, 5, 6, 7 -> (prdAddress >>> (8 * (offset - PRD_ADDRESS))) & 0xFF;
            default -> 0xFF;
        };
    }

    /** A byte write to the PRD table address. */
    void writePrdByte(int offset, int value) {
        int shift = 8 * (offset - PRD_ADDRESS);
        prdAddress = (prdAddress & ~(0xFF << shift) | (value & 0xFF) << shift) & ~3;
    }

    void reset() {
        command = 0;
        status = 0;
        prdAddress = 0;
    }
}
