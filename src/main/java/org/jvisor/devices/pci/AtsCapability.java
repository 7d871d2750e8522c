package org.jvisor.devices.pci;

/**
 * The Address Translation Services extended capability (PCIe base spec 10.5.1; ID 0x000F,
 * version 1) of a function that keeps a device-TLB (an address translation cache): the ATS
 * Capability register says an Invalidate Queue Depth of 0 (32 invalidations) and Page Aligned
 * Request (Linux's intel-iommu enables ATS only then, pci_ats_page_aligned), as QEMU 7.2's
 * pcie_ats_init does; the ATS Control register holds Enable (bit 15) and the Smallest
 * Translation Unit (bits 4:0), both written by the guest, both 0 at reset. Each change of the
 * control register goes to the function's {@link Control} (its device-TLB).
 */
public final class AtsCapability extends PciExtendedCapability {
    public static final int LENGTH = 8;
    public static final int CAPABILITY = 0x04, CONTROL = 0x06;
    public static final int PAGE_ALIGNED_REQUEST = 1 << 5;
    public static final int CONTROL_ENABLE = 1 << 15;
    public static final int CONTROL_STU = 0x1F;

    /** What the function does when the guest enables or disables ATS or changes the smallest translation unit. */
    @FunctionalInterface
    public interface Control {
        /** @param smallestTranslationUnit STU: the function caches translations of at least 2^(12 + STU) bytes */
        void atsControl(boolean enabled, int smallestTranslationUnit);
    }

    private final Control control;
    private int last = -1;

    public AtsCapability(Control control) {
        super(EXT_ID_ATS, 1, LENGTH);
        this.control = control;
    }

    @Override
    protected void initialize() {
        config().set16(offset() + CAPABILITY, PAGE_ALIGNED_REQUEST);   // queue depth 0: 32
        config().setWritable(offset() + CONTROL, 2, CONTROL_ENABLE | CONTROL_STU);
        changed();
    }

    @Override
    protected void written(int capOffset, int size) {
        changed();
    }

    @Override
    protected void reset() {
        changed();
    }

    @Override
    protected void restored() {
        last = -1;   // tell the function again: its device-TLB starts empty after a restore
        changed();
    }

    /** Whether the guest has enabled ATS (the function may cache translations). */
    public boolean enabled() {
        return (config().get16(offset() + CONTROL) & CONTROL_ENABLE) != 0;
    }

    private void changed() {
        int c = config().get16(offset() + CONTROL);
        if (c != last) {
            last = c;
            control.atsControl((c & CONTROL_ENABLE) != 0, c & CONTROL_STU);
        }
    }
}
