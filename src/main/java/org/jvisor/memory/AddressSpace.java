package org.jvisor.memory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * One flat address space ("io" for ports, "memory" for MMIO) where devices claim regions. A lookup
 * is a binary search over a sorted array, rebuilt only when the map changes (rare), so the access
 * path allocates nothing. Unclaimed reads return all-ones, as on a PC bus where nobody drives the
 * data lines; unclaimed writes are dropped and counted.
 */
public final class AddressSpace {

    private final String name;
    private final long limit;
    private volatile Region[] regions = new Region[0];
    private volatile long unclaimedReads;
    private volatile long unclaimedWrites;
    private volatile long lastUnclaimedAddress = -1;

    public AddressSpace(String name, long limit) {
        this.name = name;
        this.limit = limit;
    }

    public String name() {
        return name;
    }

    /** Claims [base, base + size) for a device; overlapping an existing region is a wiring bug. */
    public synchronized Region register(String owner, long base, long size, BusDevice device) {
        if (size <= 0 || base < 0 || base + size > limit || base + size < base) {
            throw new IllegalArgumentException(String.format(
                "%s: region %s [%#x, +%#x) is outside the address space", name, owner, base, size));
        }
        for (Region r : regions) {
            if (base < r.base + r.size && r.base < base + size) {
                throw new IllegalArgumentException(String.format(
                    "%s: region %s [%#x, +%#x) overlaps %s [%#x, +%#x)",
                    name, owner, base, size, r.owner, r.base, r.size));
            }
        }
        Region region = new Region(owner, base, size, device);
        Region[] next = Arrays.copyOf(regions, regions.length + 1);
        next[next.length - 1] = region;
        Arrays.sort(next, Comparator.comparingLong(r -> r.base));
        regions = next;
        return region;
    }

    public synchronized void unregister(Region region) {
        List<Region> next = new ArrayList<>(Arrays.asList(regions));
        if (!next.remove(region)) {
            throw new IllegalArgumentException(name + ": region " + region.owner + " is not registered");
        }
        regions = next.toArray(new Region[0]);
    }

    /** The region that contains {@code address}, or null. */
    public Region find(long address) {
        Region[] rs = regions;
        int lo = 0;
        int hi = rs.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Region r = rs[mid];
            if (address < r.base) {
                hi = mid - 1;
            } else if (address - r.base >= r.size) {
                lo = mid + 1;
            } else {
                return r;
            }
        }
        return null;
    }

    public long read(long address, int size) {
        Region r = find(address);
        if (r == null) {
            unclaimedReads++;
            lastUnclaimedAddress = address;
            return size >= 8 ? -1L : (1L << (size * 8)) - 1;
        }
        r.accesses++;
        return r.device.read(address - r.base, size);
    }

    public void write(long address, int size, long value) {
        Region r = find(address);
        if (r == null) {
            unclaimedWrites++;
            lastUnclaimedAddress = address;
            return;
        }
        r.accesses++;
        r.device.write(address - r.base, size, value);
    }

    public long unclaimedReads() {
        return unclaimedReads;
    }

    public long unclaimedWrites() {
        return unclaimedWrites;
    }

    public long lastUnclaimedAddress() {
        return lastUnclaimedAddress;
    }

    public List<Region> regions() {
        return List.of(regions);
    }

    /**
     * A claimed range. Its counters are plain fields updated by the accessing thread: statistics,
     * not synchronisation, so an occasional lost increment under SMP is acceptable.
     */
    public static final class Region {
        private final String owner;
        private final long base;
        private final long size;
        private final BusDevice device;
        long accesses;
        long nanos;

        Region(String owner, long base, long size, BusDevice device) {
            this.owner = owner;
            this.base = base;
            this.size = size;
            this.device = device;
        }

        public String owner() {
            return owner;
        }

        public long base() {
            return base;
        }

        public long size() {
            return size;
        }

        public BusDevice device() {
            return device;
        }

        public long accesses() {
            return accesses;
        }

        public long nanos() {
            return nanos;
        }

        public void addNanos(long n) {
            nanos += n;
        }
    }
}
