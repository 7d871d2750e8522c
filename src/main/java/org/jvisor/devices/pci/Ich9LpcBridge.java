package org.jvisor.devices.pci;

/**
 * Function 0 of QEMU's q35 slot 0x1f: the ICH9 LPC interface bridge (8086:2918 revision 2, class
 * ISA bridge, subsystem 1AF4:1100), which a guest must find before it looks at the SATA function
 * 00:1f.2. Only the identity and a multi-function header: the PC's ISA devices are the
 * platform's, PCI interrupts are routed as the ACPI _PRT says, and the power-management and GPIO
 * bases (0x40, 0x48) read 0 with their enables clear, so a guest claims no resources for them;
 * 0x40-0xFF are plain read-write as QEMU leaves device-specific registers it does not model.
 */
public final class Ich9LpcBridge extends PciDevice {
    public static final int DEVICE_ID = 0x2918;
    public static final int CLASS = 0x06_01_00;

    public Ich9LpcBridge() {
        super(0x8086, DEVICE_ID, CLASS, 0x02);
        setSubsystem(0x1AF4, 0x1100);
        for (int o = 0x40; o < 0x100; o += 4) {
            config().setWritable(o, 4, -1);
        }
    }
}
