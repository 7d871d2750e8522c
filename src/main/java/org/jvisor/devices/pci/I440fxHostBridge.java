package org.jvisor.devices.pci;

import java.util.function.IntConsumer;

/**
 * The host bridge function (00.0) of Intel's 440FX PMC as QEMU's pc machine has it, for firmware
 * boots: vendor 0x8086 device 0x1237 (SeaBIOS recognizes the chipset by it), with the Programmable
 * Attribute Map registers PAM0-PAM6 at 0x59-0x5F (82441FX datasheet, 3.2.18; {@link PamRegisters})
 * and SMRAM at 0x72.
 *
 * <p>SeaBIOS opens the BIOS area for writing, copies itself from the ROM below 4 GiB into it and
 * closes it again. {@code protection} hears the read-only 16 KiB segments of 0xC0000-0xFFFFF
 * (bit n: segment n) after every change and at reset (all read-only, PAM = 0).
 */
public final class I440fxHostBridge extends PciDevice {
    public static final int DEVICE_ID = 0x1237;
    public static final int PAM0 = 0x59;
    public static final int PAM_COUNT = PamRegisters.COUNT;
    public static final int SMRAM = 0x72;
    static final int ALL_READ_ONLY = PamRegisters.ALL_READ_ONLY;

    private final IntConsumer protection;

    public I440fxHostBridge(IntConsumer protection) {
        super(0x8086, DEVICE_ID, PciHostBridge.HOST_BRIDGE_CLASS, 0x02);
        this.protection = protection;
        PamRegisters.declare(config(), PAM0, SMRAM);
        protection.accept(ALL_READ_ONLY);
    }

    /** The 16 KiB segments of 0xC0000-0xFFFFF whose write enable is clear. */
    int readOnlySegments() {
        return PamRegisters.readOnlySegments(config(), PAM0);
    }

    @Override
    protected void configWritten(int offset, int size, int value) {
        if (PamRegisters.written(PAM0, offset, size)) {
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
