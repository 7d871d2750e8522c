package org.jvisor.boot.acpi;

import java.util.List;

/**
 * The DMAR table (VT-d spec 4.0, chapter 8) of one remapping unit, laid out as QEMU 7.2's
 * build_dmar_q35: HAW = aw-bits - 1, the INTR_REMAP flag with interrupt remapping, one DRHD for
 * segment 0 (flags 0: the devices are listed) with the IOAPIC scope first (bus 0xFF, path 00.0,
 * enumeration id = the MADT's IOAPIC id; without it Linux keeps interrupt remapping off) and one
 * endpoint scope per PCI function on bus 0, and an ATSR for all root ports when devices may
 * keep a device-TLB. (jvisor's ATS functions are integrated endpoints on bus 0, under no root
 * port; Linux's dmar_ats_supported allows ATS for those without looking at the ATSR.)
 */
public final class Dmar {
    public static final int REVISION = 1;
    public static final int FLAG_INTR_REMAP = 1;
    static final int TYPE_DRHD = 0, TYPE_ATSR = 2;
    static final int SCOPE_ENDPOINT = 1, SCOPE_IOAPIC = 3;
    /** The bus the DMAR puts the IOAPIC on (QEMU's Q35_PSEUDO_BUS_PLATFORM). */
    public static final int IOAPIC_BUS = 0xFF;

    /**
     * One remapping unit and what it covers.
     *
     * @param base        the register window (0xFED90000 on QEMU's q35)
     * @param awBits      39 or 48
     * @param intremap    interrupt remapping offered
     * @param deviceIotlb an ATSR (ALL_PORTS) is added
     * @param ioapicId    the IOAPIC's id in the MADT
     * @param pciDevfns   devfn (slot << 3 | function) of each PCI function on bus 0, in bus order
     */
    public record Unit(long base, int awBits, boolean intremap, boolean deviceIotlb, int ioapicId, List<Integer> pciDevfns) {
        public Unit {
            pciDevfns = List.copyOf(pciDevfns);
        }
    }

    private Dmar() {
    }

    public static byte[] build(Unit u) {
        SdtWriter w = new SdtWriter("DMAR", REVISION);
        w.u8(u.awBits() - 1).u8(u.intremap() ? FLAG_INTR_REMAP : 0).zeros(10);
        int drhdLength = 16 + 8 + 8 * u.pciDevfns().size();
        w.u16(TYPE_DRHD).u16(drhdLength).u8(0).u8(0).u16(0).u64(u.base());
        w.u8(SCOPE_IOAPIC).u8(8).u16(0).u8(u.ioapicId()).u8(IOAPIC_BUS).u8(0).u8(0);
        for (int devfn : u.pciDevfns()) {
            w.u8(SCOPE_ENDPOINT).u8(8).u16(0).u8(0).u8(0).u8(devfn >>> 3).u8(devfn & 7);
        }
        if (u.deviceIotlb()) {
            w.u16(TYPE_ATSR).u16(8).u8(1).u8(0).u16(0);
        }
        return w.finish();
    }
}
