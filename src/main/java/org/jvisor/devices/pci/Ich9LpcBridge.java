package org.jvisor.devices.pci;

/**
 * Function 0 of QEMU's q35 slot 0x1f: the ICH9 LPC interface bridge (8086:2918 revision 2, class
 * ISA bridge, subsystem 1AF4:1100), which a guest must find before it looks at the SATA function
 * 00:1f.2. The PC's ISA devices are the platform's and PCI interrupts are routed as the ACPI _PRT
 * says; 0x40-0xFF are plain read-write as QEMU leaves device-specific registers it does not
 * model. For a directly booted Linux the power-management and GPIO bases (0x40, 0x48) read 0
 * with their enables clear, so it claims no resources for them. For firmware, PMBASE (0x40, ICH9
 * datasheet 13.1.10) reads where jvisor's PM block answers, with its resource-type bit: SeaBIOS
 * writes that very value (0x601, having moved its PM base to QEMU's 0x600) and then times itself
 * with the PM timer at PMBASE + 8.
 */
public final class Ich9LpcBridge extends PciDevice {
    public static final int DEVICE_ID = 0x2918;
    public static final int CLASS = 0x06_01_00;
    public static final int PMBASE = 0x40;

    /** The bridge for a directly booted Linux. */
    public Ich9LpcBridge() {
        this(-1);
    }

    /** The bridge for firmware: PMBASE fixed at {@code pmBase}, the I/O base of the PM block. */
    public static Ich9LpcBridge withPmBase(int pmBase) {
        if (pmBase < 0 || pmBase > 0xFF80 || (pmBase & 0x7F) != 0) {
            throw new IllegalArgumentException("PMBASE must be a 128-byte aligned I/O address");
        }
        return new Ich9LpcBridge(pmBase);
    }

    private Ich9LpcBridge(int pmBase) {
        super(0x8086, DEVICE_ID, CLASS, 0x02);
        setSubsystem(0x1AF4, 0x1100);
        for (int o = 0x40; o < 0x100; o += 4) {
            config().setWritable(o, 4, -1);
        }
        if (pmBase >= 0) {
            config().set32(PMBASE, pmBase | 1);   // bit 0: I/O space (RTE)
            config().setWritable(PMBASE, 4, 0);
        }
    }
}
