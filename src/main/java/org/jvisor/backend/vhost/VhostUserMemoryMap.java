package org.jvisor.backend.vhost;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.memory.GuestMemoryException;
import org.jvisor.memory.SegmentDma;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Mman;
import org.jvisor.sys.SysException;

/**
 * A backend's view of the frontend's guest RAM: the regions of one SET_MEM_TABLE, each mapped
 * from the descriptor that came with it (vhost-user.rst, "Memory regions description"), addressed
 * by guest-physical address as descriptors are. Ring addresses, which the frontend gives as its
 * own virtual addresses, are turned into guest-physical ones with {@link #guestAddressOf}. Every
 * access is checked against the regions: an address outside them is a
 * {@link GuestMemoryException}, never a read or write elsewhere. Not thread-safe; the owner
 * unmaps it ({@link #close}) only when no ring uses it.
 */
public final class VhostUserMemoryMap implements SegmentDma, AutoCloseable {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /** One mapped region: the whole mapping (from offset 0 of its descriptor) and the region's part of it. */
    private record Region(long guestAddress, long size, long userAddress, MemorySegment mapping, MemorySegment view) {
        boolean containsGuest(long gpa, long length) {
            long off = gpa - guestAddress;
            return length >= 0 && Long.compareUnsigned(off, size) < 0 && size - off >= length;
        }
    }

    private final Region[] regions;

    private VhostUserMemoryMap(Region[] regions) {
        this.regions = regions;
    }

    /**
     * Maps {@code table}, region i from {@code fds.get(i)} (read and write, shared): each checked
     * first (a size, no overflow, no overlap with another region, the file long enough for
     * mmap_offset + size, since touching a page past its end would be SIGBUS). The descriptors stay
     * the caller's to close; the mappings outlive them.
     */
    public static VhostUserMemoryMap map(List<VhostUserMessage.MemoryRegion> table, List<Fd> fds) throws VhostUserException {
        if (table.size() != fds.size()) {
            throw new VhostUserException("SET_MEM_TABLE: " + table.size() + " regions but " + fds.size() + " descriptors");
        }
        List<Region> mapped = new ArrayList<>();
        try {
            for (int i = 0; i < table.size(); i++) {
                VhostUserMessage.MemoryRegion r = table.get(i);
                check(i, r, table);
                long length = r.mmapOffset() + r.size();
                long fileSize;
                try {
                    fileSize = fds.get(i).size();
                } catch (SysException e) {
                    throw new VhostUserException("SET_MEM_TABLE: region " + i + ": " + e.getMessage(), e);
                }
                if (fileSize < length) {
                    throw new VhostUserException(String.format("SET_MEM_TABLE: region %d ends at byte %#x of its file, "
                        + "which has only %#x bytes", i, length, fileSize));
                }
                MemorySegment m;
                try {
                    m = Mman.map(length, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, fds.get(i), 0);
                } catch (SysException e) {
                    throw new VhostUserException("SET_MEM_TABLE: region " + i + ": " + e.getMessage(), e);
                }
                mapped.add(new Region(r.guestAddress(), r.size(), r.userAddress(), m, m.asSlice(r.mmapOffset(), r.size())));
            }
            VhostUserMemoryMap map = new VhostUserMemoryMap(mapped.toArray(Region[]::new));
            mapped.clear();
            return map;
        } finally {
            unmap(mapped);
        }
    }

    private static void check(int i, VhostUserMessage.MemoryRegion r, List<VhostUserMessage.MemoryRegion> table)
            throws VhostUserException {
        if (r.size() <= 0 || r.mmapOffset() < 0 || r.mmapOffset() > Long.MAX_VALUE - r.size()
            || r.guestAddress() + r.size() - 1 < r.guestAddress() || r.userAddress() + r.size() - 1 < r.userAddress()) {
            throw new VhostUserException(String.format("SET_MEM_TABLE: region %d (guest %#x, size %#x, user %#x, "
                + "offset %#x) is empty or wraps", i, r.guestAddress(), r.size(), r.userAddress(), r.mmapOffset()));
        }
        for (int j = 0; j < i; j++) {
            VhostUserMessage.MemoryRegion o = table.get(j);
            if (Long.compareUnsigned(r.guestAddress(), o.guestAddress() + o.size() - 1) <= 0
                && Long.compareUnsigned(o.guestAddress(), r.guestAddress() + r.size() - 1) <= 0) {
                throw new VhostUserException(String.format("SET_MEM_TABLE: regions %d and %d overlap in guest memory", j, i));
            }
        }
    }

    private static void unmap(List<Region> regions) {
        for (Region r : regions) {
            try {
                Mman.unmap(r.mapping());
            } catch (SysException e) {
                throw new IllegalStateException("vhost-user memory: " + e.getMessage(), e);
            }
        }
    }

    /** The regions, as the frontend described them (for messages and tests). */
    public List<VhostUserMessage.MemoryRegion> regions() {
        List<VhostUserMessage.MemoryRegion> l = new ArrayList<>();
        for (Region r : regions) {
            l.add(new VhostUserMessage.MemoryRegion(r.guestAddress(), r.size(), r.userAddress(), 0));
        }
        return l;
    }

    /**
     * The guest-physical address of the frontend's virtual address {@code userAddress}, when
     * [userAddress, +length) lies inside one region; -1 otherwise.
     */
    public long guestAddressOf(long userAddress, long length) {
        for (Region r : regions) {
            long off = userAddress - r.userAddress();
            if (length >= 0 && Long.compareUnsigned(off, r.size()) < 0 && r.size() - off >= length) {
                return r.guestAddress() + off;
            }
        }
        return -1;
    }

    private Region find(long gpa, long length) {
        for (Region r : regions) {
            if (r.containsGuest(gpa, length)) {
                return r;
            }
        }
        return null;
    }

    private long offset(Region r, long gpa) {
        return gpa - r.guestAddress();
    }

    private Region checked(long gpa, long length) {
        Region r = find(gpa, length);
        if (r == null) {
            throw new GuestMemoryException(gpa, length);
        }
        return r;
    }

    @Override
    public boolean valid(long busAddress, long length) {
        return find(busAddress, length) != null;
    }

    @Override
    public MemorySegment segment(long busAddress, long length) {
        Region r = checked(busAddress, length);
        return r.view().asSlice(offset(r, busAddress), length);
    }

    @Override
    public void written(long busAddress, long length) {
        // no dirty log (VHOST_F_LOG_ALL is not offered) and no code cache here
    }

    @Override
    public void read(long busAddress, byte[] dst, int from, int length) {
        Region r = checked(busAddress, length);
        MemorySegment.copy(r.view(), ValueLayout.JAVA_BYTE, offset(r, busAddress), dst, from, length);
    }

    @Override
    public void write(long busAddress, byte[] src, int from, int length) {
        Region r = checked(busAddress, length);
        MemorySegment.copy(src, from, r.view(), ValueLayout.JAVA_BYTE, offset(r, busAddress), length);
    }

    @Override
    public short readU16(long busAddress) {
        Region r = checked(busAddress, 2);
        return r.view().get(U16, offset(r, busAddress));
    }

    @Override
    public int readU32(long busAddress) {
        Region r = checked(busAddress, 4);
        return r.view().get(U32, offset(r, busAddress));
    }

    @Override
    public long readU64(long busAddress) {
        Region r = checked(busAddress, 8);
        return r.view().get(U64, offset(r, busAddress));
    }

    @Override
    public void writeU16(long busAddress, short value) {
        Region r = checked(busAddress, 2);
        r.view().set(U16, offset(r, busAddress), value);
    }

    @Override
    public void writeU32(long busAddress, int value) {
        Region r = checked(busAddress, 4);
        r.view().set(U32, offset(r, busAddress), value);
    }

    @Override
    public void writeU64(long busAddress, long value) {
        Region r = checked(busAddress, 8);
        r.view().set(U64, offset(r, busAddress), value);
    }

    /** Unmaps every region; nothing may use the map afterwards. */
    @Override
    public void close() {
        unmap(List.of(regions));
    }
}
