package org.jvisor.devices.iommu;

import org.jvisor.memory.DmaSpace;
import org.jvisor.memory.GuestMemoryException;
import org.jvisor.memory.IdentityDma;

/**
 * One PCI function's view of memory behind an {@link IntelIommu}: bus addresses are IOVAs,
 * translated per 4 KiB page for the function's requester id. A small direct-mapped IOTLB keeps
 * recent translations (the bus page, the guest-physical page and the rights in one long each), so
 * once a page is cached an access allocates nothing. The IOTLB holds one domain's translations,
 * that of the function's context entry ({@link #cachedDomain}); it is dropped whole when the
 * unit's epoch moves (a global invalidation) or the unit asks this view to ({@link #flush}: a
 * domain- or device-selective invalidation that covers it). A refused access (a fault the unit
 * recorded) throws a {@link DmaFaultException}, which virtio devices turn into
 * DEVICE_NEEDS_RESET.
 *
 * <p>With ATS enabled in the function's ATS capability ({@link #atsControl}, ats=on), the function
 * also keeps its own {@link DeviceTlb}, which its DMA looks in first: a miss is a translation
 * request to the unit (through the IOTLB above), and the answer is kept if the context entry
 * allows it (TT=01; with TT=00 the function's requests stay untranslated, as with ATS off). Only
 * the guest's device-TLB invalidations for this requester id empty it: an IOTLB invalidation
 * alone leaves the function using what it has, as a real device would. A walk that fails is
 * recorded as a fault as for any request (as if the function, told there is no translation,
 * then made the untranslated request that faults), so a guest sees the same fault either way.
 *
 * <p>A device may use its view from several threads at once (virtio-net's receive path runs
 * beside its transmit queue), so the IOTLB lookup holds the view's lock: uncontended, it costs
 * little and allocates nothing; the copy itself runs outside it. The device-TLB has a lock of its
 * own that is never held while calling out, so the unit may invalidate it with its lock held.
 * The unit's selective invalidations take no lock of the view: they bump a counter the lookup
 * compares, and a walk that an invalidation overtook is used once and not kept.
 */
public final class IommuDma implements DmaSpace {
    private static final int ENTRIES = 64;
    /** {@link #cachedDomain} when nothing is cached yet (a walk may be under way): every domain's invalidation covers it. */
    static final int NO_DOMAIN = -1;

    private final IntelIommu unit;
    private final IdentityDma physical;
    private final long[] tag = new long[ENTRIES];
    private final long[] page = new long[ENTRIES];
    private final DeviceTlb deviceTlb = new DeviceTlb();
    private volatile int sid = -1;
    private volatile boolean ats;
    private volatile boolean atsOffered;
    private int epoch;
    /** Bumped by the unit for each selective invalidation that covers this view. */
    private volatile int flushes;
    private int flushesSeen;
    private volatile int domain = NO_DOMAIN;
    private final int[] walkedDomain = new int[1];

    IommuDma(IntelIommu unit, IdentityDma physical) {
        this.unit = unit;
        this.physical = physical;
        this.epoch = unit.iotlbEpoch() - 1;
    }

    /** Sets the requester id (bus 15:8, devfn 7:0) once the bus has placed the function. */
    public synchronized void bind(int requesterId) {
        this.sid = requesterId;
        epoch = unit.iotlbEpoch() - 1;
    }

    public int requesterId() {
        return sid;
    }

    /** The domain id of the context entry the cached translations came from, or {@link #NO_DOMAIN}. */
    int cachedDomain() {
        return domain;
    }

    /** A selective invalidation covers this view: its next access drops the IOTLB. */
    void flush() {
        flushes++;   // only the unit writes it, under the unit's lock
    }

    /**
     * The function's ATS Control register changed ({@code AtsCapability.Control}): with Enable
     * set its DMA goes through its device-TLB. Either way the device-TLB starts empty, so nothing
     * cached before a disable is used after an enable.
     */
    public void atsControl(boolean enabled, int smallestTranslationUnit) {
        atsOffered = true;
        ats = enabled;
        deviceTlb.clear();
    }

    /** Whether the guest has enabled ATS on the function. */
    public boolean atsEnabled() {
        return ats;
    }

    /** Type 3 descriptor for this function: drops the device-TLB's entries for IOVAs {@code first}-{@code last}. */
    int invalidateDeviceTlb(long first, long last) {
        return deviceTlb.invalidate(first, last);
    }

    void clearDeviceTlb() {
        deviceTlb.clear();
    }

    /** The device-TLB's counts, or null for a function without the ATS capability. */
    DeviceTlb.Stats deviceTlbStats() {
        return atsOffered ? deviceTlb.stats() : null;
    }

    /**
     * The guest-physical address of {@code iova} for a read or write, from the device-TLB (ATS
     * enabled), the IOTLB or a walk; refused accesses throw.
     */
    private long gpa(long iova, boolean write) {
        if (!unit.translating()) {
            return iova;
        }
        long p;
        if (ats) {
            p = deviceTlb.lookup(iova, write);
            if (p == DeviceTlb.MISS) {
                long askedAt = deviceTlb.generation();
                p = translation(iova, write);
                if ((p & SecondLevelWalk.DEVICE_TLB) != 0) {
                    deviceTlb.fill(askedAt, iova, p);
                }
            }
        } else {
            p = translation(iova, write);
        }
        return (p & ~0xFFFL) | (iova & 0xFFF);
    }

    /** The translation of the page of {@code iova} from the IOTLB or a walk, in {@link SecondLevelWalk}'s encoding. */
    private synchronized long translation(long iova, boolean write) {
        int now = unit.iotlbEpoch();
        int asked = flushes;
        if (now != epoch || asked != flushesSeen) {
            java.util.Arrays.fill(tag, -1L);
            epoch = now;
            flushesSeen = asked;
            domain = NO_DOMAIN;
        }
        long vpn = iova >>> 12;
        int slot = (int) (vpn & (ENTRIES - 1));
        long need = write ? SecondLevelWalk.WRITE : SecondLevelWalk.READ;
        long p = page[slot];
        if (tag[slot] != vpn || (p & need) == 0) {
            walkedDomain[0] = NO_DOMAIN;
            p = unit.translate(sid, iova, write, walkedDomain);
            if (SecondLevelWalk.isFault(p)) {
                throw new DmaFaultException(sid, iova, SecondLevelWalk.reason(p), write);
            }
            int walked = walkedDomain[0];
            if (walked != domain) {
                if (domain != NO_DOMAIN) {
                    // The context entry names another domain (software changed it without the context
                    // invalidation it owes): keep one domain's translations, so its invalidations reach them all.
                    java.util.Arrays.fill(tag, -1L);
                }
                domain = walked;
            }
            // Kept only if no invalidation came during the walk: one that saw NO_DOMAIN or this
            // domain has bumped the counter, and the walk may have read the tables it replaced.
            if (unit.iotlbEpoch() == epoch && flushes == flushesSeen) {
                tag[slot] = vpn;
                page[slot] = p;
            }
        }
        return p;
    }

    @Override
    public void read(long busAddress, byte[] dst, int from, int length) {
        while (length > 0) {
            int n = (int) Math.min(length, 0x1000 - (busAddress & 0xFFF));
            physical.read(gpa(busAddress, false), dst, from, n);
            busAddress += n;
            from += n;
            length -= n;
        }
    }

    @Override
    public void write(long busAddress, byte[] src, int from, int length) {
        while (length > 0) {
            int n = (int) Math.min(length, 0x1000 - (busAddress & 0xFFF));
            physical.write(gpa(busAddress, true), src, from, n);
            busAddress += n;
            from += n;
            length -= n;
        }
    }

    @Override
    public short readU16(long busAddress) {
        if ((busAddress & 0xFFF) > 0xFFE) {
            byte[] b = new byte[2];
            read(busAddress, b, 0, 2);
            return (short) (b[0] & 0xFF | b[1] << 8);
        }
        return physical.readU16(gpa(busAddress, false));
    }

    @Override
    public int readU32(long busAddress) {
        if ((busAddress & 0xFFF) > 0xFFC) {
            return readU16(busAddress) & 0xFFFF | readU16(busAddress + 2) << 16;
        }
        return physical.readU32(gpa(busAddress, false));
    }

    @Override
    public long readU64(long busAddress) {
        if ((busAddress & 0xFFF) > 0xFF8) {
            return readU32(busAddress) & 0xFFFF_FFFFL | (long) readU32(busAddress + 4) << 32;
        }
        return physical.readU64(gpa(busAddress, false));
    }

    @Override
    public void writeU16(long busAddress, short value) {
        if ((busAddress & 0xFFF) > 0xFFE) {
            write(busAddress, new byte[] {(byte) value, (byte) (value >> 8)}, 0, 2);
            return;
        }
        physical.writeU16(gpa(busAddress, true), value);
    }

    @Override
    public void writeU32(long busAddress, int value) {
        if ((busAddress & 0xFFF) > 0xFFC) {
            writeU16(busAddress, (short) value);
            writeU16(busAddress + 2, (short) (value >>> 16));
            return;
        }
        physical.writeU32(gpa(busAddress, true), value);
    }

    @Override
    public void writeU64(long busAddress, long value) {
        if ((busAddress & 0xFFF) > 0xFF8) {
            writeU32(busAddress, (int) value);
            writeU32(busAddress + 4, (int) (value >>> 32));
            return;
        }
        physical.writeU64(gpa(busAddress, true), value);
    }

    /** A DMA the IOMMU refused (the unit recorded the fault unless the context entry disables that). */
    public static final class DmaFaultException extends GuestMemoryException {
        private final int reason;

        DmaFaultException(int sid, long iova, int reason, boolean write) {
            super(String.format("DMA %s of IOVA %#x by %02x:%02x.%d refused by the IOMMU (fault reason %#x)",
                write ? "write" : "read", iova, sid >>> 8, sid >>> 3 & 0x1F, sid & 7, reason), iova, 1);
            this.reason = reason;
        }

        /** The VT-d fault reason ({@link VtdFault#code}). */
        public int reason() {
            return reason;
        }
    }
}
