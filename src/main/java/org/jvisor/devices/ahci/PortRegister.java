package org.jvisor.devices.ahci;

/** One port's registers, 0x80 bytes from 0x100 + port * 0x80 of ABAR (AHCI 1.3.1, 3.3). */
enum PortRegister {
    /** Command list base address (1 KiB aligned), low and high. */
    CLB(0x00), CLBU(0x04),
    /** FIS base address (256-byte aligned), low and high. */
    FB(0x08), FBU(0x0C),
    /** Interrupt status (write 1 to clear) and enable. */
    IS(0x10), IE(0x14),
    /** Command and status: ST, FRE, CLO, CR, FR, CCS... */
    CMD(0x18),
    /** Task file data: the status and error registers the device last reported. */
    TFD(0x20),
    /** The device's signature from its first D2H Register FIS after a reset. */
    SIG(0x24),
    /** SStatus, SControl, SError (the SATA superset registers, SCR0-2). */
    SSTS(0x28), SCTL(0x2C), SERR(0x30),
    /** SActive (NCQ tags outstanding) and commands issued. */
    SACT(0x34), CI(0x38),
    /** SNotification and FIS-based switching control. */
    SNTF(0x3C), FBS(0x40);

    private static final PortRegister[] BY_DWORD = new PortRegister[0x44 / 4];

    static {
        for (PortRegister r : values()) {
            BY_DWORD[r.offset / 4] = r;
        }
    }

    final int offset;

    PortRegister(int offset) {
        this.offset = offset;
    }

    /** The register at {@code offset} (dword-aligned, within the port's 0x80 bytes), or null. */
    static PortRegister at(int offset) {
        int i = offset >>> 2;
        return i < BY_DWORD.length ? BY_DWORD[i] : null;
    }
}
