package org.jvisor.devices.iommu;

/**
 * CAP and ECAP of the remapping unit, built as QEMU 7.2's vtd_init builds them for the same
 * options (VT-d spec 11.4.2 and 11.4.3), so a guest sees the same unit on both.
 */
public record VtdCapabilities(long cap, long ecap) {
    /** Number of domains: ND=6, 16 bits of domain id. */
    static final long CAP_ND = 6;
    /** SAGAW bit 1: 39-bit, 3-level tables; bit 2: 48-bit, 4-level. */
    static final long CAP_SAGAW_39 = 1L << 9, CAP_SAGAW_48 = 1L << 10;
    static final int CAP_MGAW_SHIFT = 16;
    /** Fault recording registers at 0x220 (in 16-byte units at bit 24); NFR 0 = one record. */
    static final long CAP_FRO = (long) (VtdRegister.FRCD_LO.offset / 16) << 24;
    static final long CAP_CM = 1L << 7;
    static final long CAP_PSI = 1L << 39;
    /** Second-level large pages: 2 MiB (bit 34) and 1 GiB (bit 35). */
    static final long CAP_SLLPS = 3L << 34;
    /** Maximum address mask value for page-selective invalidation. */
    public static final int MAMV = 18;
    static final long CAP_MAMV = (long) MAMV << 48;
    /** Write and read draining. */
    static final long CAP_DRAIN = 3L << 54;

    static final long ECAP_QI = 1L << 1;
    static final long ECAP_DT = 1L << 2;
    static final long ECAP_IR = 1L << 3;
    /** Extended interrupt mode: IRTEs hold 32-bit x2APIC destinations when IRTA.EIME is set. */
    static final long ECAP_EIM = 1L << 4;
    static final long ECAP_PT = 1L << 6;
    /** IOTLB registers at 0xF0 (in 16-byte units at bit 8). */
    static final long ECAP_IRO = (long) (VtdRegister.IVA.offset / 16) << 8;
    static final long ECAP_MHMV = 0xFL << 20;

    public static VtdCapabilities of(VtdOptions o) {
        long cap = CAP_FRO | CAP_ND | CAP_MAMV | CAP_PSI | CAP_SLLPS | CAP_DRAIN | CAP_SAGAW_39
            | (long) (o.awBits() - 1) << CAP_MGAW_SHIFT;
        if (o.awBits() == 48) {
            cap |= CAP_SAGAW_48;
        }
        if (o.cachingMode()) {
            cap |= CAP_CM;
        }
        long ecap = ECAP_QI | ECAP_IRO | ECAP_PT;
        if (o.intremap()) {
            ecap |= ECAP_IR | ECAP_MHMV;
        }
        if (o.eim()) {
            ecap |= ECAP_EIM;
        }
        if (o.deviceIotlb()) {
            ecap |= ECAP_DT;
        }
        return new VtdCapabilities(cap, ecap);
    }

    /** Whether table depth {@code levels} (AW 1: 3 levels, AW 2: 4 levels) is in SAGAW. */
    boolean supportsLevels(int levels) {
        return levels == 3 && (cap & CAP_SAGAW_39) != 0 || levels == 4 && (cap & CAP_SAGAW_48) != 0;
    }

    /** The guest address width in bits (MGAW + 1). */
    int addressWidth() {
        return (int) (cap >>> CAP_MGAW_SHIFT & 0x3F) + 1;
    }

    boolean deviceTlb() {
        return (ecap & ECAP_DT) != 0;
    }

    boolean interruptRemapping() {
        return (ecap & ECAP_IR) != 0;
    }

    boolean extendedInterruptMode() {
        return (ecap & ECAP_EIM) != 0;
    }
}
