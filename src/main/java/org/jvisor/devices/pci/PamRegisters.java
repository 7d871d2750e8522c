package org.jvisor.devices.pci;

/**
 * The Programmable Attribute Map of Intel's PC host bridges: seven registers, PAM0 to PAM6, that
 * decide for each part of the BIOS area 0xC0000-0xFFFFF whether CPU reads and writes reach RAM
 * or the ROM. The 440FX has them at 0x59 (82441FX datasheet 3.2.18), the Q35 MCH at 0x90 (Intel
 * 3 Series Chipset datasheet 5.1.18); the layout is the same: PAM0's high nibble governs the
 * 64 KiB at 0xF0000, PAM1-PAM6 each govern two 16 KiB segments from 0xC0000 (low nibble first),
 * bit 0 of a nibble enables reads, bit 1 writes.
 *
 * <p>jvisor keeps a copy of the ROM in RAM from reset on, so reads always come from RAM and only
 * the write enables matter: a segment whose write enable is clear ignores CPU writes, as the PC
 * routes them to the ROM.
 *
 * <p>Both chipsets have an SMRAM register beside the map with the same bits (82441FX 3.2.20 at
 * 0x72, Q35 5.1.21 at 0x9D): C_BASE_SEG reads 010b (the A-segment); D_OPEN, D_CLS, D_LCK and
 * G_SMRAME are kept (jvisor has no SMM to open it for).
 */
final class PamRegisters {
    static final int COUNT = 7;
    /** Every 16 KiB segment of 0xC0000-0xFFFFF read-only: the state at reset (all PAM 0). */
    static final int ALL_READ_ONLY = 0xFFFF;

    private PamRegisters() {
    }

    static final int SMRAM_RESET = 0x02;
    static final int SMRAM_WRITABLE = 0x78;

    /**
     * Makes the enables of the seven registers at {@code pam0} guest-writable (the rest reads 0),
     * and the SMRAM register at {@code smram} as it is after reset.
     */
    static void declare(PciConfigSpace config, int pam0, int smram) {
        config.setWritable(pam0, 1, 0x30);
        for (int i = 1; i < COUNT; i++) {
            config.setWritable(pam0 + i, 1, 0x33);
        }
        config.set8(smram, SMRAM_RESET);
        config.setWritable(smram, 1, SMRAM_WRITABLE);
    }

    /** Whether a write of {@code size} bytes at {@code offset} touched the registers at {@code pam0}. */
    static boolean written(int pam0, int offset, int size) {
        return offset < pam0 + COUNT && offset + size > pam0;
    }

    /** The 16 KiB segments of 0xC0000-0xFFFFF (bit n: segment n) whose write enable is clear. */
    static int readOnlySegments(PciConfigSpace config, int pam0) {
        int ro = 0;
        if ((config.get8(pam0) & 0x20) == 0) {
            ro |= 0xF000; // 0xF0000-0xFFFFF: segments 12-15
        }
        for (int i = 1; i < COUNT; i++) {
            int pam = config.get8(pam0 + i);
            int seg = 2 * (i - 1);
            if ((pam & 0x02) == 0) {
                ro |= 1 << seg;
            }
            if ((pam & 0x20) == 0) {
                ro |= 1 << (seg + 1);
            }
        }
        return ro;
    }
}
