package org.jvisor.devices.pci;

import java.util.function.IntConsumer;

/**
 * The host bridge function (00.0) of QEMU's q35 machine: Intel's 82G33/Q35 MCH, vendor 0x8086
 * device 0x29C0 revision 2, class host bridge, subsystem 1AF4:1100 (QEMU's).
 *
 * <p>For a directly booted Linux only the identity: jvisor's q35 keeps its ECAM where the MCFG
 * says from the start, and Linux reads none of the MCH's registers. For firmware (SeaBIOS, which
 * knows the chipset by this device ID) the registers it programs, as the Intel 3 Series Chipset
 * datasheet (316966) describes them:
 * <ul>
 *   <li>PCIEXBAR at 0x60 (5.1.11, 64 bits): bit 0 PCIEXBAREN, bits 2:1 the window's length
 *       (00b 256 MiB, 01b 128 MiB, 10b 64 MiB: 1 MiB of ECAM per bus), the base in bits 35:26
 *       aligned to that length. The window appears in the memory space where the guest puts it
 *       and goes away when it clears the enable; 0 after reset, as QEMU's MCH (SeaBIOS enables it
 *       at 0xB0000000 and reaches configuration space through it from then on).</li>
 *   <li>PAM0-PAM6 at 0x90-0x96 (5.1.18): the BIOS area's write enables, as on the 440FX
 *       ({@link PamRegisters}).</li>
 *   <li>SMRAM at 0x9D (5.1.21): kept (C_BASE_SEG reads 010b); jvisor has no SMM, and the ICH9's
 *       SMI_EN tells firmware that SMM is set up already, as QEMU's q35 does with SMM off.</li>
 * </ul>
 */
public final class Q35HostBridge extends PciDevice {
    public static final int DEVICE_ID = 0x29C0;
    public static final int PCIEXBAR = 0x60;
    public static final int PCIEXBAR_EN = 1;
    public static final int PAM0 = 0x90;
    public static final int SMRAM = 0x9D;
    /** Writable PCIEXBAR bits: the enable, the length, base bits 31:26; and base bits 35:32. */
    private static final int PCIEXBAR_LOW_WRITABLE = 0xFC00_0007;
    private static final int PCIEXBAR_HIGH_WRITABLE = 0xF;

    /** Where the ECAM window of {@code buses} buses goes in the memory space, or that it goes away. */
    public interface EcamMapping {
        void map(long base, int buses);

        void unmap();
    }

    private final IntConsumer protection;
    private final EcamMapping ecam;
    /** The window mapped now: base, or -1; and its buses. */
    private long mappedBase = -1;
    private int mappedBuses;

    /** The identity only (a directly booted Linux). */
    public Q35HostBridge() {
        this(null, null);
    }

    private Q35HostBridge(IntConsumer protection, EcamMapping ecam) {
        super(0x8086, DEVICE_ID, PciHostBridge.HOST_BRIDGE_CLASS, 0x02);
        setSubsystem(0x1AF4, 0x1100);
        this.protection = protection;
        this.ecam = ecam;
        if (protection != null) {
            config().setWritable(PCIEXBAR, 4, PCIEXBAR_LOW_WRITABLE);
            config().setWritable(PCIEXBAR + 4, 4, PCIEXBAR_HIGH_WRITABLE);
            PamRegisters.declare(config(), PAM0, SMRAM);
            protection.accept(PamRegisters.ALL_READ_ONLY);
        }
    }

    /**
     * The MCH as firmware programs it: {@code protection} hears the read-only 16 KiB segments of
     * 0xC0000-0xFFFFF after every PAM change and at reset, {@code ecam} where PCIEXBAR puts the
     * ECAM window.
     */
    public static Q35HostBridge forFirmware(IntConsumer protection, EcamMapping ecam) {
        return new Q35HostBridge(java.util.Objects.requireNonNull(protection), java.util.Objects.requireNonNull(ecam));
    }

    /** The 16 KiB segments of 0xC0000-0xFFFFF whose write enable is clear. */
    int readOnlySegments() {
        return PamRegisters.readOnlySegments(config(), PAM0);
    }

    @Override
    protected void configWritten(int offset, int size, int value) {
        if (protection == null) {
            return;
        }
        if (PamRegisters.written(PAM0, offset, size)) {
            protection.accept(readOnlySegments());
        }
        if (offset < PCIEXBAR + 8 && offset + size > PCIEXBAR) {
            updateEcam();
        }
    }

    /** Maps, moves or removes the ECAM window as PCIEXBAR now says. */
    private void updateEcam() {
        long bar = (config().get32(PCIEXBAR) & 0xFFFF_FFFFL) | (config().get32(PCIEXBAR + 4) & 0xFFFF_FFFFL) << 32;
        int length = (int) (bar >>> 1) & 3;
        long base = -1;
        int buses = 0;
        if ((bar & PCIEXBAR_EN) != 0 && length != 3) {   // 11b is reserved: no window
            buses = 256 >> length;
            long size = (long) buses << 20;
            base = bar & 0xF_FC00_0000L & -size;
        }
        if (base == mappedBase && buses == mappedBuses) {
            return;
        }
        if (mappedBase >= 0) {
            ecam.unmap();
        }
        mappedBase = base;
        mappedBuses = buses;
        if (base >= 0) {
            ecam.map(base, buses);
        }
    }

    @Override
    protected void restoreModelState(org.jvisor.devices.state.DeviceState state)
            throws org.jvisor.devices.state.DeviceStateException {
        super.restoreModelState(state);
        if (protection != null) {
            protection.accept(readOnlySegments());
            updateEcam();
        }
    }

    @Override
    protected void resetDevice() {
        if (protection != null) {
            protection.accept(readOnlySegments());
            updateEcam();
        }
    }
}
