package org.jvisor.devices.iommu;

import org.jvisor.memory.GuestMemory;

/**
 * Legacy-mode DMA address translation (VT-d spec 4.0, 3.4 and 9.1-9.3): root entry by bus, context
 * entry by devfn, then a 3- or 4-level second-level page-table walk with 2 MiB and 1 GiB leaves,
 * or pass-through. The result of {@link #translate} is one long, so that a miss allocates nothing:
 * a 4 KiB-aligned guest-physical page with {@link #READ}/{@link #WRITE} in bits 1:0 (access
 * rights are the AND over the levels, as 3.6.1 says), {@link #DEVICE_TLB} when the context entry
 * lets the function cache it in a device-TLB (TT=01, 9.3) and the size of the leaf in bits 4:3
 * ({@link #leafShift}); or {@link #FAULT} with the fault reason in bits 7:0 and
 * {@link #FAULT_FPD} when the context entry disables fault recording.
 */
final class SecondLevelWalk {
    static final long READ = 1, WRITE = 2;
    /** The context entry's TT is 01: a function with ATS enabled may keep the translation (VT-d 9.3). */
    static final long DEVICE_TLB = 4;
    private static final int LEAF_LEVEL_SHIFT = 3;
    static final long FAULT = 1L << 63;
    static final long FAULT_FPD = 1L << 8;

    /** Context entry low qword: present, fault processing disable, translation type. */
    static final long CE_P = 1, CE_FPD = 2;
    static final int TT_UNTRANSLATED = 0, TT_DEVICE_TLB = 1, TT_PASS_THROUGH = 2;
    /** Root entry: reserved bits 11:1 of the low qword (the high qword is reserved in legacy mode). */
    private static final long ROOT_LO_RSVD = 0xFFEL;
    private static final long CE_LO_RSVD = 0xFF0L;
    /** Context high qword: bit 7 and 63:24 reserved (bits 6:3 are available to software). */
    private static final long CE_HI_RSVD = 0xFFFF_FFFF_FF00_0080L;
    /** Paging entry bits 63 and 61:52 are ignored; 62 (TM) is reserved without device-TLB support. */
    private static final long SL_IGNORED = 0xBFF0_0000_0000_0000L;
    private static final long SL_TM = 1L << 62;
    private static final long PS = 1L << 7;

    private final GuestMemory ram;
    private final VtdCapabilities caps;
    private final long hawMask;

    SecondLevelWalk(GuestMemory ram, VtdCapabilities caps) {
        this.ram = ram;
        this.caps = caps;
        this.hawMask = (1L << caps.addressWidth()) - 1;
    }

    static long fault(VtdFault reason, boolean fpd) {
        return FAULT | (fpd ? FAULT_FPD : 0) | reason.code;
    }

    static boolean isFault(long result) {
        return result < 0;
    }

    static int reason(long result) {
        return (int) result & 0xFF;
    }

    /** log2 of the size of the leaf a translation came from: 12, 21 or 30. */
    static int leafShift(long result) {
        return 12 + 9 * ((int) (result >>> LEAF_LEVEL_SHIFT) & 3);
    }

    /**
     * Translates the untranslated request of {@code sid} (bus 15:8, devfn 7:0) for the 4 KiB page
     * of {@code iova}, with the root table at {@code rootTable}. {@code write} only picks the
     * fault reason of a non-present leaf (write or read, as QEMU and the spec's 7.1.3 do). The
     * context entry's domain id goes to {@code domain[0]} once the entry is found valid (the
     * caller's array: a walk allocates nothing).
     */
    long translate(long rootTable, int sid, long iova, boolean write, int[] domain) {
        long rootAddr = (rootTable & ~0xFFFL) + (long) (sid >>> 8) * 16;
        if (!ram.isRam(rootAddr, 16)) {
            return fault(VtdFault.ROOT_TABLE_ACCESS, false);
        }
        long root = ram.readU64(rootAddr);
        if ((root & 1) == 0) {
            return fault(VtdFault.ROOT_NOT_PRESENT, false);
        }
        if ((root & (ROOT_LO_RSVD | ~hawMask)) != 0 || ram.readU64(rootAddr + 8) != 0) {
            return fault(VtdFault.ROOT_RESERVED, false);
        }
        long ceAddr = (root & hawMask & ~0xFFFL) + (long) (sid & 0xFF) * 16;
        if (!ram.isRam(ceAddr, 16)) {
            return fault(VtdFault.CONTEXT_TABLE_ACCESS, false);
        }
        long lo = ram.readU64(ceAddr);
        long hi = ram.readU64(ceAddr + 8);
        if ((lo & CE_P) == 0) {
            return fault(VtdFault.CONTEXT_NOT_PRESENT, false);
        }
        boolean fpd = (lo & CE_FPD) != 0;
        if ((lo & (CE_LO_RSVD | ~hawMask)) != 0 || (hi & CE_HI_RSVD) != 0) {
            return fault(VtdFault.CONTEXT_RESERVED, fpd);
        }
        domain[0] = (int) (hi >>> 8) & 0xFFFF;
        int tt = (int) (lo >>> 2) & 3;
        if (tt == TT_PASS_THROUGH) {
            return (iova & ~0xFFFL) | READ | WRITE;
        }
        if (tt == 3 || tt == TT_DEVICE_TLB && !caps.deviceTlb()) {
            return fault(VtdFault.CONTEXT_INVALID, fpd);
        }
        int levels = switch ((int) hi & 7) {
            case 1 -> 3;
            case 2 -> 4;
            default -> 0;
        };
        if (levels == 0 || !caps.supportsLevels(levels)) {
            return fault(VtdFault.CONTEXT_INVALID, fpd);
        }
        int width = Math.min(caps.addressWidth(), 12 + 9 * levels);
        if ((iova >>> width) != 0) {
            return fault(VtdFault.ADDRESS_BEYOND_MGAW, fpd);
        }
        long table = lo & hawMask & ~0xFFFL;
        long rights = READ | WRITE;
        for (int level = levels; level >= 1; level--) {
            int shift = 12 + 9 * (level - 1);
            long pteAddr = table + ((iova >>> shift) & 0x1FF) * 8;
            if (!ram.isRam(pteAddr, 8)) {
                return fault(VtdFault.PAGE_TABLE_ACCESS, fpd);
            }
            long pte = ram.readU64(pteAddr);
            if ((pte & 3) == 0) {
                return fault(write ? VtdFault.WRITE : VtdFault.READ, fpd);
            }
            boolean large = level > 1 && (pte & PS) != 0;
            if ((pte & reserved(level, large)) != 0) {
                return fault(VtdFault.PAGING_ENTRY_RESERVED, fpd);
            }
            rights &= pte & 3;
            if (level == 1 || large) {
                long base = pte & hawMask & ~((1L << shift) - 1);
                return base | (iova & ((1L << shift) - 1) & ~0xFFFL) | rights
                    | (tt == TT_DEVICE_TLB ? DEVICE_TLB : 0) | (long) (level - 1) << LEAF_LEVEL_SHIFT;
            }
            table = pte & hawMask & ~0xFFFL;
        }
        throw new AssertionError();
    }

    /** Reserved bits of a paging entry at {@code level} (spec 9.8; QEMU's VTD_SPTE_* masks). */
    private long reserved(int level, boolean large) {
        long upper = ~(hawMask | SL_IGNORED | (caps.deviceTlb() ? SL_TM : 0));
        if (large) {
            boolean allowed = level == 2 && (caps.cap() & (1L << 34)) != 0 || level == 3 && (caps.cap() & (1L << 35)) != 0;
            if (!allowed) {
                return -1;   // a PS bit where no large page is supported is itself reserved
            }
            long alignment = ((1L << (12 + 9 * (level - 1))) - 1) & ~0xFFFL;
            return upper | 0x800L | alignment;
        }
        return upper | 0x800L | (level == 4 ? PS : 0);
    }
}
