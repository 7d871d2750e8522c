package org.jvisor.boot.acpi;

/**
 * The MADT (Multiple APIC Description Table, ACPI 6.5 5.2.12) of a PC: the local APICs at
 * {@link #LAPIC_ADDRESS}, one enabled Processor Local APIC per vCPU (ACPI processor UID = APIC
 * ID = vCPU index), one I/O APIC, the ISA overrides IRQ0 to GSI2 and the SCI, and LINT1 as NMI.
 */
public final class Madt {

    public static final int REVISION = 5;
    public static final long LAPIC_ADDRESS = 0xFEE0_0000L;
    public static final long IOAPIC_ADDRESS = 0xFEC0_0000L;
    public static final int IOAPIC_ID = 0;
    public static final int IOAPIC_GSI_BASE = 0;
    /** MADT flags: PCAT_COMPAT, a pair of 8259 PICs is present. */
    public static final int PCAT_COMPAT = 1;
    /** The most vCPUs a Processor Local APIC entry can name (8-bit APIC IDs, 0xFF is broadcast). */
    public static final int MAX_VCPUS = 255;

    // Entry types
    public static final int TYPE_LOCAL_APIC = 0;
    public static final int TYPE_IO_APIC = 1;
    public static final int TYPE_INTERRUPT_OVERRIDE = 2;
    public static final int TYPE_LOCAL_APIC_NMI = 4;

    /** MPS INTI flags: polarity (bits 0-1) and trigger mode (bits 2-3). */
    public static final int POLARITY_CONFORMS = 0;
    public static final int POLARITY_ACTIVE_HIGH = 1;
    public static final int POLARITY_ACTIVE_LOW = 3;
    public static final int TRIGGER_CONFORMS = 0;
    public static final int TRIGGER_EDGE = 1 << 2;
    public static final int TRIGGER_LEVEL = 3 << 2;

    private Madt() {
    }

    /** The MADT for {@code vcpus} vCPUs with the SCI on ISA IRQ {@code sciIrq}. */
    public static byte[] build(int vcpus, int sciIrq) {
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("the MADT describes 1 to " + MAX_VCPUS + " vCPUs, not " + vcpus);
        }
        SdtWriter w = new SdtWriter("APIC", REVISION, 64 + 8 * vcpus);
        w.u32(LAPIC_ADDRESS).u32(PCAT_COMPAT);
        for (int i = 0; i < vcpus; i++) {
            // Processor Local APIC: type, length 8, processor UID, APIC ID, flags (Enabled)
            w.u8(TYPE_LOCAL_APIC).u8(8).u8(i).u8(i).u32(1);
        }
        // I/O APIC: type, length 12, id, reserved, address, GSI base
        w.u8(TYPE_IO_APIC).u8(12).u8(IOAPIC_ID).u8(0).u32(IOAPIC_ADDRESS).u32(IOAPIC_GSI_BASE);
        // Interrupt Source Overrides: type, length 10, bus 0 (ISA), source IRQ, GSI, flags
        w.u8(TYPE_INTERRUPT_OVERRIDE).u8(10).u8(0).u8(0).u32(2).u16(POLARITY_ACTIVE_HIGH | TRIGGER_EDGE);
        w.u8(TYPE_INTERRUPT_OVERRIDE).u8(10).u8(0).u8(sciIrq).u32(sciIrq).u16(POLARITY_ACTIVE_HIGH | TRIGGER_LEVEL);
        // Local APIC NMI: type, length 6, all processors (0xFF), flags (conforming), LINT1
        w.u8(TYPE_LOCAL_APIC_NMI).u8(6).u8(0xFF).u16(0).u8(1);
        return w.finish();
    }
}
