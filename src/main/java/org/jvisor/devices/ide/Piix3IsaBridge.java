package org.jvisor.devices.ide;

import org.jvisor.devices.pci.PciDevice;

/**
 * Function 0 of the PIIX3 (82371SB, 8086:7000, PCI-to-ISA bridge) at 00:01.0, which QEMU's pc
 * machine has and which a guest must find before it looks at the IDE function 00:01.1. The ISA
 * devices themselves are the platform's; here only its configuration space is modelled, with the
 * PIRQ route registers (0x60-0x63) at their reset value 0x80 (routing disabled: jvisor routes PCI
 * interrupts through the IOAPIC as the ACPI _PRT says) and 0x40-0xFF read-write as in QEMU.
 */
public final class Piix3IsaBridge extends PciDevice {
    public static final int DEVICE = 0x7000;
    public static final int CLASS = 0x06_01_00;
    static final int PIRQRC = 0x60;

    public Piix3IsaBridge() {
        super(Piix3Ide.VENDOR, DEVICE, CLASS, 0);
        setSubsystem(Piix3Ide.SUBSYSTEM_VENDOR, Piix3Ide.SUBSYSTEM);
        for (int o = 0x40; o < 0x100; o += 4) {
            config().setWritable(o, 4, -1);
        }
        setDefaults();
    }

    private void setDefaults() {
        config().set32(PIRQRC, 0x8080_8080);
    }

    @Override
    protected void resetDevice() {
        setDefaults();
    }
}
