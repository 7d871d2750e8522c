package org.jvisor.devices.iommu;

/**
 * The properties of QEMU's intel-iommu device that change what the guest sees.
 *
 * @param intremap    interrupt remapping (ECAP.IR, MHMV; the DMAR's INTR_REMAP flag)
 * @param cachingMode CAP.CM: the guest invalidates after making entries present, too
 * @param deviceIotlb ECAP.DT and an ATSR in the DMAR: devices may keep a device-TLB (ATS)
 * @param awBits      the guest address width, 39 (3-level tables) or 48 (3- and 4-level)
 * @param eim         ECAP.EIM: interrupts remapped to 32-bit x2APIC destinations (needs intremap)
 */
public record VtdOptions(boolean intremap, boolean cachingMode, boolean deviceIotlb, int awBits, boolean eim) {
    /** QEMU 7.2's defaults on tcg: intremap on, the rest off, 39 bits. */
    public static final VtdOptions DEFAULT = new VtdOptions(true, false, false, 39, false);

    public VtdOptions {
        if (awBits != 39 && awBits != 48) {
            throw new IllegalArgumentException("Supported values for aw-bits are: 39, 48");
        }
        if (eim && !intremap) {
            throw new IllegalArgumentException("eim=on cannot be selected without intremap=on");
        }
    }
}
