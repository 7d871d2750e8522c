package org.jvisor.devices.ahci;

/** The generic host control registers at the start of ABAR (AHCI 1.3.1, 3.1). */
enum HbaRegister {
    /** Host capabilities. */
    CAP(0x00),
    /** Global host control: HR (bit 0), IE (bit 1), AE (bit 31). */
    GHC(0x04),
    /** Interrupt status: one bit per port, write 1 to clear. */
    IS(0x08),
    /** Ports implemented. */
    PI(0x0C),
    /** Version. */
    VS(0x10),
    CCC_CTL(0x14),
    CCC_PORTS(0x18),
    EM_LOC(0x1C),
    EM_CTL(0x20),
    /** Host capabilities extended. */
    CAP2(0x24),
    /** BIOS/OS handoff control and status. */
    BOHC(0x28);

    private static final HbaRegister[] BY_DWORD = new HbaRegister[0x2C / 4];

    static {
        for (HbaRegister r : values()) {
            BY_DWORD[r.offset / 4] = r;
        }
    }

    final int offset;

    HbaRegister(int offset) {
        this.offset = offset;
    }

    /** The register at {@code offset} (dword-aligned), or null. */
    static HbaRegister at(int offset) {
        int i = offset >>> 2;
        return i < BY_DWORD.length ? BY_DWORD[i] : null;
    }
}
