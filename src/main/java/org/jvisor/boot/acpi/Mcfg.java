package org.jvisor.boot.acpi;

/**
 * The MCFG (PCI Firmware spec 3.x, 4.1.2): where the PCI Express enhanced configuration (ECAM)
 * window of each segment lies. The window must also be reserved (e820 or a PNP0C02 device;
 * {@link Dsdt} adds one) or Linux ignores it.
 */
public final class Mcfg {

    public static final int REVISION = 1;

    private Mcfg() {
    }

    /** One allocation: ECAM at {@code ecamBase} for buses {@code startBus..endBus} of {@code segment}. */
    public static byte[] build(long ecamBase, int segment, int startBus, int endBus) {
        SdtWriter w = new SdtWriter("MCFG", REVISION, 60);
        w.zeros(8);
        w.u64(ecamBase).u16(segment).u8(startBus).u8(endBus).u32(0);
        return w.finish();
    }

    /** Bytes of ECAM space buses {@code startBus..endBus} take (1 MiB per bus). */
    public static long ecamSize(int startBus, int endBus) {
        return (long) (endBus - startBus + 1) << 20;
    }
}
