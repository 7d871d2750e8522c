package org.jvisor.devices.iommu;

/** Fault reasons of the VT-d spec (4.0, chapter 7.1.3, table 26: legacy-mode DMA and interrupt remapping). */
public enum VtdFault {
    ROOT_NOT_PRESENT(0x1),
    CONTEXT_NOT_PRESENT(0x2),
    CONTEXT_INVALID(0x3),
    ADDRESS_BEYOND_MGAW(0x4),
    WRITE(0x5),
    READ(0x6),
    PAGE_TABLE_ACCESS(0x7),
    ROOT_TABLE_ACCESS(0x8),
    CONTEXT_TABLE_ACCESS(0x9),
    ROOT_RESERVED(0xA),
    CONTEXT_RESERVED(0xB),
    PAGING_ENTRY_RESERVED(0xC),
    TRANSLATION_TYPE_BLOCKED(0xD),
    IR_REQUEST_RESERVED(0x20),
    IR_INDEX_OVER(0x21),
    IR_ENTRY_NOT_PRESENT(0x22),
    IR_ROOT_INVALID(0x23),
    IR_ENTRY_RESERVED(0x24),
    IR_COMPAT_BLOCKED(0x25),
    IR_SOURCE_ID(0x26);

    public final int code;

    private static final VtdFault[] BY_CODE = new VtdFault[0x27];

    static {
        for (VtdFault f : values()) {
            BY_CODE[f.code] = f;
        }
    }

    VtdFault(int code) {
        this.code = code;
    }

    /** The reason with {@code code}, or null. */
    public static VtdFault of(int code) {
        return code > 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
