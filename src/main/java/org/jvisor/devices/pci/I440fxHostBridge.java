package org.jvisor.devices.pci;

import java.util.function.IntConsumer;

/**
 * The host bridge function (00.0) of Intel's 440FX PMC as QEMU's pc machine has it, for firmware
 * boots: vendor 0x8086 device 0x1237 (SeaBIOS recognizes the chipset by it), with the Programmable
 * Attribute Map registers PAM0-PAM6 at 0x59-0x5F (82441FX datasheet, 3.2.18) and SMRAM at 0x72.
 *
 * <p>Each PAM nibble governs a segment of 0xC0000-0xFFFFF (PAM0's high nibble the 64 KiB at
 * 0xF0000, PAM1-PAM6 16 KiB each from 0xC0000): bit 0 read enable, bit 1 write enable. SeaBIOS
 * opens the area for writing, copies itself from the ROM below 4 GiB into it and closes it again.
 * Here RAM holds a copy of the ROM from reset on, so reads always come from RAM and only the
 * write enables matter: a segment whose write enable is clear ignores CPU writes, as the PC routes
 * them to the ROM. {@code protection} hears the read-only segments (bit n: 16 KiB segment n) after
 * every change and at reset (all read-only, PAM = 0).
 */
public final class I440fxHostBridge extends PciDevice {
    public static final int DEVICE_ID = 0x1237;
    public static final int PAM0 = 0x59;
    public static final int PAM_COUNT = 7;
    public static final int SMRAM = 0x72;
    /** SMRAM: C_BASE_SEG reads 010b (the A-segment); D_OPEN, D_CLS, D_LCK and G_SMRAME are kept. */
    static final int SMRAM_RESET = 0x02;
    static final int SMRAM_WRITABLE = 0x78;
    static final int ALL_READ_ONLY = 0xFFFF;

    private final IntConsumer protection;

    public I440fxHostBridge(IntConsumer protection) {
        super(0x8086, DEVICE_ID, PciHostBridge.HOST_BRIDGE_CLASS, 0x02);
        this.protection = protection;
        config().setWritable(PAM0, 1, 0x30);
        for (int i = 1; i < PAM_COUNT; i++) {
            config().setWritable(PAM0 + i, 1, 0x33);
        }
        config().set8(SMRAM, SMRAM_RESET);
        config().setWritable(SMRAM, 1, SMRAM_WRITABLE);
        protection.accept(ALL_READ_ONLY);
    }

    /** The 16 KiB segments of 0xC0000-0xFFFFF whose write enable is clear. */
    int readOnlySegments() {
        int ro = 0;
        if ((config().get8(PAM0) & 0x20) == 0) {
            ro |= 0xF000; // 0xF0000-0xFFFFF: segments 12-15
        }
        for (int i = 1; i < PAM_COUNT; i++) {
            int pam = config().get8(PAM0 + i);
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

    @Override
    protected void configWritten(int offset, int size, int value) {
        if (offset < PAM0 + PAM_COUNT && offset + size > PAM0) {
            protection.accept(readOnlySegments());
        }
    }

    @Override
    protected void restoreModelState(org.jvisor.devices.state.DeviceState state)
            throws org.jvisor.devices.state.DeviceStateException {
        super.restoreModelState(state);
        protection.accept(readOnlySegments());
    }

    @Override
    protected void resetDevice() {
        protection.accept(readOnlySegments());
    }
}
