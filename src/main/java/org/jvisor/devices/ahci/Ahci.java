package org.jvisor.devices.ahci;

/** Bits of the AHCI 1.3.1 registers and structures, and the ATA status bits a port reports. */
final class Ahci {
    private Ahci() {
    }

    // CAP (3.1.1): S64A, SAM (AHCI only), ISS in 23:20, NCS (slots - 1) in 12:8, NP (ports - 1) in 4:0
    static final int CAP_S64A = 1 << 31;
    /** Native command queuing (READ/WRITE FPDMA QUEUED), as QEMU offers it. */
    static final int CAP_SNCQ = 1 << 30;
    static final int CAP_SAM = 1 << 18;
    /** Interface speed support: Gen 1 (1.5 Gbps), as QEMU reports. */
    static final int CAP_ISS_GEN1 = 1 << 20;
    static final int COMMAND_SLOTS = 32;

    // GHC (3.1.2)
    static final int GHC_HR = 1;
    static final int GHC_IE = 1 << 1;
    static final int GHC_AE = 1 << 31;

    /** VS: AHCI 1.0, the version QEMU's ich9-ahci reports. */
    static final int VERSION_1_0 = 0x0001_0000;

    // PxIS / PxIE (3.3.5, 3.3.6)
    static final int IS_DHRS = 1;
    static final int IS_PSS = 1 << 1;
    static final int IS_DSS = 1 << 2;
    static final int IS_SDBS = 1 << 3;
    static final int IS_IFS = 1 << 27;
    static final int IS_HBFS = 1 << 29;
    static final int IS_TFES = 1 << 30;
    /** The PxIS/PxIE bits that exist (the rest are reserved). */
    static final int IS_MASK = 0xFDC0_00FF;

    // PxCMD (3.3.7)
    static final int CMD_ST = 1;
    static final int CMD_SUD = 1 << 1;
    static final int CMD_POD = 1 << 2;
    static final int CMD_CLO = 1 << 3;
    static final int CMD_FRE = 1 << 4;
    static final int CMD_CCS_SHIFT = 8;
    static final int CMD_CCS_MASK = 0x1F << CMD_CCS_SHIFT;
    static final int CMD_FR = 1 << 14;
    static final int CMD_CR = 1 << 15;
    /** Bits software writes: ST, SUD, POD, FRE, PMA, ATAPI, DLAE, ALPE, ASP, ICC. */
    static final int CMD_WRITABLE = CMD_ST | CMD_SUD | CMD_POD | CMD_FRE | 1 << 17 | 0xFF00_0000;

    // PxSSTS (3.3.10): DET 3 (device present, communication up), SPD 1 (Gen 1), IPM 1 (active)
    static final int SSTS_DEVICE_UP = 0x113;
    static final int SCTL_DET_MASK = 0xF;
    static final int SCTL_DET_COMRESET = 1;

    // Command header (4.2.2), DW0
    static final int HEADER_SIZE = 32;
    static final int HEADER_CFL_MASK = 0x1F;
    static final int HEADER_ATAPI = 1 << 5;
    static final int HEADER_WRITE = 1 << 6;

    // Command table (4.2.3)
    static final int TABLE_ACMD = 0x40;
    static final int TABLE_PRDT = 0x80;
    static final long TABLE_ALIGN_MASK = ~0x7FL;

    // Received FIS area (4.2.1)
    static final int RX_PIO_SETUP = 0x20;
    static final int RX_D2H = 0x40;
    static final int RX_SDB = 0x58;

    // ATA status and error bits (ATA/ATAPI-6, 7.15, 7.11)
    static final int ATA_BSY = 0x80;
    static final int ATA_DRDY = 0x40;
    static final int ATA_DRQ = 0x08;
    static final int ATA_ERR = 0x01;
    static final int ATA_ABRT = 0x04;
    /** Device control's SRST (ATA/ATAPI-6, 7.9). */
    static final int ATA_SRST = 0x04;

    // The queued commands (ACS-3 7.23, 7.68)
    static final int READ_FPDMA_QUEUED = 0x60;
    static final int WRITE_FPDMA_QUEUED = 0x61;
}
