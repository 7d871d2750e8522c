package org.jvisor.devices.iommu;

/**
 * The registers of a VT-d remapping unit in legacy mode (VT-d spec 4.0, chapter 11), at their
 * offsets in its 4 KiB window, with their widths. Registers not listed read 0 and ignore writes
 * (PMEN and the protected memory ranges: CAP.PLMR/PHMR are clear, as in QEMU 7.2).
 */
public enum VtdRegister {
    VER(0x00, 4),
    CAP(0x08, 8),
    ECAP(0x10, 8),
    GCMD(0x18, 4),
    GSTS(0x1C, 4),
    RTADDR(0x20, 8),
    CCMD(0x28, 8),
    FSTS(0x34, 4),
    FECTL(0x38, 4),
    FEDATA(0x3C, 4),
    FEADDR(0x40, 4),
    FEUADDR(0x44, 4),
    AFLOG(0x58, 8),
    PMEN(0x64, 4),
    IQH(0x80, 8),
    IQT(0x88, 8),
    IQA(0x90, 8),
    ICS(0x9C, 4),
    IECTL(0xA0, 4),
    IEDATA(0xA4, 4),
    IEADDR(0xA8, 4),
    IEUADDR(0xAC, 4),
    IRTA(0xB8, 8),
    /** Invalidate Address register of the IOTLB registers (ECAP.IRO = 0xF0). */
    IVA(0xF0, 8),
    IOTLB(0xF8, 8),
    /** The one fault recording register (CAP.FRO = 0x220, CAP.NFR = 0): low and high qwords. */
    FRCD_LO(0x220, 8),
    FRCD_HI(0x228, 8);

    /** The size of the register window QEMU maps (DMAR_REG_SIZE); the rest of the page reads 0. */
    public static final int WINDOW = 0x1000;

    private static final VtdRegister[] BY_QWORD = new VtdRegister[WINDOW / 8 * 2];

    static {
        for (VtdRegister r : values()) {
            BY_QWORD[r.offset / 4] = r;
        }
    }

    public final int offset;
    public final int width;

    VtdRegister(int offset, int width) {
        this.offset = offset;
        this.width = width;
    }

    /** The register that starts at {@code offset}, or null. */
    public static VtdRegister at(int offset) {
        return offset >= 0 && offset < WINDOW && (offset & 3) == 0 ? BY_QWORD[offset / 4] : null;
    }
}
