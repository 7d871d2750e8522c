package org.jvisor.devices.iommu;

import org.jvisor.memory.GuestMemory;

/**
 * Interrupt remapping of remappable-format requests (VT-d spec 4.0, 5.1): the handle (and
 * subhandle with SHV) of the request's address selects a 128-bit IRTE in the table at IRTA; the
 * IRTE gives the vector, delivery mode, destination and trigger mode of the message the local
 * APICs get. Source validation (SVT/SQ) checks the requester. The result is one long, so a
 * message allocates nothing: the remapped MSI (the 32-bit destination in bits 47:16, RH and DM in
 * bits 49 and 48, the data's low 16 bits in 15:0; {@link #messageAddress}, {@link #messageData}),
 * or a fault with its reason and index.
 */
final class InterruptRemapping {
    /** Address bit 4: interrupt format, 1 = remappable. Bit 3: SHV; bit 2: handle[15]. */
    static final long FORMAT_REMAPPABLE = 1L << 4;
    static final long SHV = 1L << 3;
    static final long FAULT = 1L << 63, FAULT_FPD = 1L << 62;
    /** IRTE low qword: bits 14:12, 15 (IM: posting, unsupported) and 31:24 reserved. */
    private static final long IRTE_RSVD_LO = 0xFF00_F000L;
    /** IRTE high qword: bits 127:84. */
    private static final long IRTE_RSVD_HI = 0xFFFF_FFFF_FFF0_0000L;

    private final GuestMemory ram;

    InterruptRemapping(GuestMemory ram) {
        this.ram = ram;
    }

    static boolean isFault(long r) {
        return r < 0;
    }

    static int faultReason(long r) {
        return (int) r & 0xFF;
    }

    static int faultIndex(long r) {
        return (int) (r >>> 8) & 0xFFFF;
    }

    private static long fault(VtdFault reason, int index, boolean fpd) {
        return FAULT | (fpd ? FAULT_FPD : 0) | (long) (index & 0xFFFF) << 8 | reason.code;
    }

    private static final long RESULT_LOGICAL = 1L << 48, RESULT_RH = 1L << 49;

    /**
     * The remapped message's address: 0xFEE00000 with destination bits 7:0 in 19:12, RH and DM,
     * and destination bits 31:8 in address bits 63:40, where KVM's X2APIC_API (and QEMU's vtd MSI)
     * put an x2APIC destination ({@link org.jvisor.devices.intc.ApicBus#deliverMsi}).
     */
    static long messageAddress(long r) {
        long dest = r >>> 16 & 0xFFFF_FFFFL;
        return 0xFEE0_0000L | (dest & 0xFF) << 12 | (dest & 0xFFFF_FF00L) << 32
            | ((r & RESULT_RH) != 0 ? 8 : 0) | ((r & RESULT_LOGICAL) != 0 ? 4 : 0);
    }

    /** The remapped message's data: vector, delivery mode, level (asserted), trigger mode. */
    static int messageData(long r) {
        return (int) r & 0xFFFF;
    }

    /**
     * Remaps a remappable-format request of {@code sid}; {@code irta} is the latched IRTA (base,
     * EIME bit 11, size 2^(S+1) in bits 3:0).
     */
    long remap(long irta, int sid, long address, int data) {
        if ((address & 3) != 0) {
            return fault(VtdFault.IR_REQUEST_RESERVED, 0, false);
        }
        int handle = (int) (address >>> 5) & 0x7FFF | (int) (address >>> 2 & 1) << 15;
        int index = handle;
        if ((address & SHV) != 0) {
            index = handle + (data & 0xFFFF);
        }
        if ((address & SHV) != 0 && (data >>> 16) != 0 || index > 0xFFFF) {
            return fault(VtdFault.IR_REQUEST_RESERVED, handle, false);
        }
        long entries = 2L << (irta & 0xF);
        if (index >= entries) {
            return fault(VtdFault.IR_INDEX_OVER, index, false);
        }
        long at = (irta & ~0xFFFL) + index * 16L;
        if (!ram.isRam(at, 16)) {
            return fault(VtdFault.IR_ROOT_INVALID, index, false);
        }
        long lo = ram.readU64(at);
        long hi = ram.readU64(at + 8);
        if ((lo & 1) == 0) {
            return fault(VtdFault.IR_ENTRY_NOT_PRESENT, index, false);
        }
        boolean fpd = (lo & 2) != 0;
        boolean eime = (irta & 0x800) != 0;
        long dst = lo >>> 32;
        // In xAPIC mode the destination is bits 15:8 of DST; bits 31:16 and 7:0 are reserved.
        if ((lo & IRTE_RSVD_LO) != 0 || (hi & IRTE_RSVD_HI) != 0 || !eime && (dst & 0xFFFF_00FFL) != 0) {
            return fault(VtdFault.IR_ENTRY_RESERVED, index, fpd);
        }
        if (!sourceValid(hi, sid)) {
            return fault(VtdFault.IR_SOURCE_ID, index, fpd);
        }
        int vector = (int) (lo >>> 16) & 0xFF;
        int deliveryMode = (int) (lo >>> 5) & 7;
        boolean levelTriggered = (lo & 0x10) != 0;
        boolean redirectionHint = (lo & 8) != 0;
        boolean logical = (lo & 4) != 0;
        // x2APIC mode (IRTA.EIME): all 32 bits of DST are the destination (spec 9.10, table 27)
        long dest = eime ? dst : dst >>> 8 & 0xFF;
        int msiData = vector | deliveryMode << 8 | (levelTriggered ? 0x8000 : 0) | 0x4000;
        return dest << 16 | (redirectionHint ? RESULT_RH : 0) | (logical ? RESULT_LOGICAL : 0) | msiData;
    }

    /** Source validation (IRTE SVT, SQ, SID; spec 9.10). */
    private static boolean sourceValid(long hi, int sid) {
        int svt = (int) (hi >>> 18) & 3;
        int sq = (int) (hi >>> 16) & 3;
        int want = (int) hi & 0xFFFF;
        return switch (svt) {
            case 0 -> true;
            case 1 -> {
                // SQ 1-3 leave out function bits 2, 2:1 and 2:0 of the comparison
                int ignore = switch (sq) {
                    case 1 -> 0b100;
                    case 2 -> 0b110;
                    case 3 -> 0b111;
                    default -> 0;
                };
                yield ((want ^ sid) & ~ignore & 0xFFFF) == 0;
            }
            case 2 -> {
                int bus = sid >>> 8;
                yield bus >= (want >>> 8) && bus <= (want & 0xFF);
            }
            default -> false;
        };
    }
}
