package org.jvisor.devices.iommu;

import java.util.Arrays;

/**
 * The device-TLB of one PCI function with ATS enabled: its Address Translation Cache (PCIe base
 * spec 10.2; VT-d spec 4.0, ch. 4 "Support for Device-TLBs"). It holds translations the function
 * asked the remapping unit for, apart from the unit's IOTLB: an IOTLB invalidation leaves it
 * alone, only a device-TLB invalidation ({@link #invalidate}, from a type 3 descriptor for the
 * function's requester id) or a change of ATS Control ({@link #clear}) drops entries.
 *
 * <p>Direct-mapped by the 4 KiB page of the IOVA; each entry keeps the guest-physical page with
 * its rights (in {@link SecondLevelWalk}'s encoding) and the size of the translation it came from
 * (4 KiB, 2 MiB or 1 GiB), so an invalidation of any part of a large translation drops it, as
 * 10.3.1 asks. Its own lock, taken by nothing else while held: the DMA path looks up without the
 * view's lock and the unit invalidates with its own lock held. A translation that was asked for
 * before an invalidation and arrives after it is not cached ({@link #generation}), as an
 * invalidation must cover requests in flight (10.3.1).
 */
final class DeviceTlb {
    static final int ENTRIES = 32;
    /** What {@link #lookup} returns on a miss (a translation is never negative). */
    static final long MISS = -1;

    private final long[] tag = new long[ENTRIES];
    private final long[] page = new long[ENTRIES];
    private final byte[] span = new byte[ENTRIES];
    private long generation;
    private long hits;
    private long misses;
    private long invalidations;
    private long dropped;

    DeviceTlb() {
        Arrays.fill(tag, -1L);
    }

    /** The cached translation of the page of {@code iova} if it grants the access, else {@link #MISS}. */
    synchronized long lookup(long iova, boolean write) {
        long vpn = iova >>> 12;
        int slot = (int) (vpn & (ENTRIES - 1));
        long p = page[slot];
        if (tag[slot] == vpn && (p & (write ? SecondLevelWalk.WRITE : SecondLevelWalk.READ)) != 0) {
            hits++;
            return p;
        }
        misses++;
        return MISS;
    }

    /** Moves on every invalidation: read it before asking for a translation, give it to {@link #fill}. */
    synchronized long generation() {
        return generation;
    }

    /**
     * Caches {@code translation} (of the page of {@code iova}, from {@link SecondLevelWalk}) unless
     * an invalidation came since {@code askedAt} was read.
     */
    synchronized void fill(long askedAt, long iova, long translation) {
        if (askedAt != generation) {
            return;
        }
        long vpn = iova >>> 12;
        int slot = (int) (vpn & (ENTRIES - 1));
        tag[slot] = vpn;
        page[slot] = translation;
        span[slot] = (byte) SecondLevelWalk.leafShift(translation);
    }

    /**
     * Drops every entry whose translation overlaps the IOVAs {@code first} to {@code last}
     * (inclusive, unsigned); returns how many.
     */
    synchronized int invalidate(long first, long last) {
        generation++;
        invalidations++;
        int n = 0;
        for (int i = 0; i < ENTRIES; i++) {
            if (tag[i] == -1) {
                continue;
            }
            long size = 1L << span[i];
            long base = (tag[i] << 12) & -size;
            if (Long.compareUnsigned(base, last) <= 0 && Long.compareUnsigned(first, base + size - 1) <= 0) {
                tag[i] = -1;
                n++;
            }
        }
        dropped += n;
        return n;
    }

    /** Empties the cache (ATS enabled or disabled, a reset or a restore). */
    synchronized void clear() {
        generation++;
        Arrays.fill(tag, -1L);
    }

    /** Lookups that hit, that missed, invalidations received and entries they dropped. */
    record Stats(long hits, long misses, long invalidations, long dropped) {
        @Override
        public String toString() {
            return String.format("hits %d, misses %d, invalidations %d (entries dropped %d)", hits, misses, invalidations, dropped);
        }
    }

    synchronized Stats stats() {
        return new Stats(hits, misses, invalidations, dropped);
    }
}
