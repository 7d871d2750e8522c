package org.jvisor.devices.iommu;

import org.jvisor.memory.GuestMemory;

/**
 * Queued invalidation (VT-d spec 4.0, 6.5.2): 128-bit descriptors in a ring at IQA of
 * 2^(QS + 8) entries, fetched from IQH up to IQT when software moves the tail. Descriptor types
 * 1 context-cache, 2 IOTLB, 3 device-IOTLB (to the device-TLB of the function it names),
 * 4 interrupt entry cache, 5 invalidation wait; any other type, reserved bits set, a wait whose
 * status address is not RAM, a tail outside the queue or a queue outside RAM is an invalidation
 * queue error (IQE), and fetching stops at that descriptor until software clears IQE. Runs on
 * the vCPU thread that writes IQT, FSTS or GCMD, with the unit's lock held.
 */
final class InvalidationQueue {
    static final int CONTEXT = 1, IOTLB = 2, DEVICE_IOTLB = 3, IEC = 4, WAIT = 5;
    // Reserved bits per descriptor type (spec 6.5.2.x; QEMU's VTD_INV_DESC_*_RSVD).
    static final long CC_RSVD_LO = 0xFFFC_0000_0000_FFC0L;
    static final long IOTLB_RSVD_LO = 0xFFFF_FFFF_0000_FF00L, IOTLB_RSVD_HI = 0xF80L;
    static final long DEV_IOTLB_RSVD_LO = 0xFFFF_0000_FFE0_FFF0L, DEV_IOTLB_RSVD_HI = 0xFFEL;
    static final long IEC_RSVD_LO = 0xFFFF_0000_07FF_FFE0L;
    static final long WAIT_RSVD_LO = 0xFFFF_FF80L, WAIT_RSVD_HI = 3L;

    private final IntelIommu unit;
    private final GuestMemory ram;

    InvalidationQueue(IntelIommu unit, GuestMemory ram) {
        this.unit = unit;
        this.ram = ram;
    }

    /** IQT was written. */
    void tailWritten() {
        if (unit.queuedInvalidation() && (unit.get(VtdRegister.FSTS) & IntelIommu.IQE) == 0) {
            run();
        }
    }

    /** IQE was cleared: fetching goes on from IQH. */
    void resume() {
        tailWritten();
    }

    private void run() {
        long iqa = unit.get(VtdRegister.IQA);
        if ((iqa & 0x800) != 0) {
            unit.queueError("IQA.DW (256-bit descriptors) is for scalable mode, which this unit does not offer");
            return;
        }
        int size = 1 << ((int) (iqa & 7) + 8);
        long base = iqa & ~0xFFFL;
        int tail = (int) (unit.get(VtdRegister.IQT) >>> 4) & 0x7FFF;
        if (tail >= size) {
            unit.queueError("IQT " + tail + " lies beyond the queue of " + size + " descriptors");
            return;
        }
        int head = (int) (unit.get(VtdRegister.IQH) >>> 4) & 0x7FFF;
        if (head >= size) {
            head = 0;
        }
        while (head != tail) {
            long at = base + head * 16L;
            if (!ram.isRam(at, 16)) {
                unit.queueError(String.format("descriptor at %#x is not in RAM", at));
                return;
            }
            long lo = ram.readU64(at);
            long hi = ram.readU64(at + 8);
            String bad = execute(lo, hi);
            if (bad != null) {
                unit.queueError(bad);
                return;
            }
            head = (head + 1) % size;
            unit.set(VtdRegister.IQH, (long) head << 4);
        }
    }

    /** Carries out one descriptor; returns why it is invalid, or null. */
    private String execute(long lo, long hi) {
        int type = (int) (lo & 0xF) | (int) (lo >>> 5) & 0x70;
        VtdCounters c = unit.counters();
        switch (type) {
            case CONTEXT -> {
                if ((lo & CC_RSVD_LO) != 0 || hi != 0 || (lo >>> 4 & 3) == 0) {
                    return descriptor("context-cache", lo, hi);
                }
                c.contextInvalidations.increment();
                // granularity 5:4, DID 31:16, SID 47:32, FM 49:48 (spec 6.5.2.1)
                unit.invalidateContextCache((int) (lo >>> 4) & 3, (int) (lo >>> 16) & 0xFFFF, (int) (lo >>> 32) & 0xFFFF,
                    (int) (lo >>> 48) & 3);
            }
            case IOTLB -> {
                int granularity = (int) (lo >>> 4) & 3;
                int am = (int) hi & 0x3F;
                if ((lo & IOTLB_RSVD_LO) != 0 || (hi & IOTLB_RSVD_HI) != 0 || granularity == 0
                        || granularity == 3 && am > VtdCapabilities.MAMV) {
                    return descriptor("IOTLB", lo, hi);
                }
                c.iotlbInvalidations.increment();
                unit.invalidateIotlb(granularity, (int) (lo >>> 16) & 0xFFFF);   // DID 31:16 (spec 6.5.2.2)
            }
            case DEVICE_IOTLB -> {
                if ((lo & DEV_IOTLB_RSVD_LO) != 0 || (hi & DEV_IOTLB_RSVD_HI) != 0) {
                    return descriptor("device-IOTLB", lo, hi);
                }
                c.deviceIotlbInvalidations.increment();
                long first = deviceTlbRangeBase(hi);
                unit.invalidateDeviceTlb((int) (lo >>> 32) & 0xFFFF, first, first + deviceTlbRangeSize(hi) - 1);
            }
            case IEC -> {
                if ((lo & IEC_RSVD_LO) != 0 || hi != 0) {
                    return descriptor("interrupt entry cache", lo, hi);
                }
                c.interruptEntryInvalidations.increment();   // nothing cached: complete at once
            }
            case WAIT -> {
                if ((lo & WAIT_RSVD_LO) != 0 || (hi & WAIT_RSVD_HI) != 0) {
                    return descriptor("wait", lo, hi);
                }
                boolean interrupt = (lo & 0x10) != 0;
                boolean statusWrite = (lo & 0x20) != 0;
                return unit.waitCompleted(statusWrite, hi & ~3L, (int) (lo >>> 32), interrupt);
            }
            default -> {
                return String.format("descriptor type %d is not a legacy-mode invalidation (%#018x %#018x)", type, lo, hi);
            }
        }
        return null;
    }

    /**
     * The size of the range a device-TLB invalidate descriptor covers (spec 6.5.2.5, PCIe base
     * spec 10.3.2): with S clear the 4 KiB page at ADDR; with S set, 8 KiB times 2 to the number
     * of 1 bits in ADDR from bit 12 up to the first 0 (so 0 for the whole 64-bit space, when
     * every bit of ADDR is 1, as Linux writes for "all").
     */
    static long deviceTlbRangeSize(long hi) {
        if ((hi & 1) == 0) {
            return 0x1000;
        }
        int ones = Long.numberOfTrailingZeros(~(hi >>> 12));
        int shift = 13 + ones;
        return shift >= 64 ? 0 : 1L << shift;
    }

    /** The first IOVA of that range: ADDR aligned down to its size. */
    static long deviceTlbRangeBase(long hi) {
        long size = deviceTlbRangeSize(hi);
        return size == 0 ? 0 : hi & ~0xFFFL & -size;
    }

    private static String descriptor(String kind, long lo, long hi) {
        return String.format("%s descriptor with reserved bits or no granularity (%#018x %#018x)", kind, lo, hi);
    }
}
