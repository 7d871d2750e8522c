package org.jvisor.memory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.sys.Errno;
import org.jvisor.sys.Fd;
import org.jvisor.sys.Mman;
import org.jvisor.sys.SysException;

/**
 * Guest RAM: one mapping (private anonymous and MAP_NORESERVE by default, so untouched RAM costs nothing;
 * or a memfd or file, see {@link RamBacking}), laid out as on a PC: RAM up to the 32-bit PCI hole
 * at 3 GiB, the rest continues at 4 GiB. The same host memory is handed to KVM and read by the
 * tcg engine and by devices; when it is an fd mapped MAP_SHARED, {@link #sharedRegions()} lets a
 * device hand it to another process (vhost-user's SET_MEM_TABLE).
 */
public final class GuestMemory implements AutoCloseable {
    /** The largest firmware ROM: 16 MiB below 4 GiB, clear of the IOAPIC and LAPIC pages. */
    public static final long MAX_ROM_SIZE = 16L << 20;

    /** Start of the 32-bit MMIO hole (PCI BARs, IOAPIC, LAPIC, HPET...): RAM stops here. */
    public static final long PCI_HOLE_START = 0xC000_0000L;
    /** RAM above the hole starts at 4 GiB. */
    public static final long HIGH_RAM_START = 0x1_0000_0000L;
    /** The smallest guest we accept: room for page tables, a kernel and a stack. */
    public static final long MIN_SIZE = 2L << 20;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /** The BIOS area below 1 MiB whose writes the host bridge's PAM registers can block. */
    public static final long LOW_BIOS_START = 0xC_0000L;
    public static final long LOW_BIOS_END = 0x10_0000L;
    /** Granularity of the PAM write protection: 16 KiB (i440FX datasheet, 3.2.18). */
    public static final int LOW_BIOS_SEGMENT_SHIFT = 14;

    private final long size;
    private final MemorySegment ram;
    private final long lowSize;
    private final List<RamRange> ranges;
    private final DirtyLog dirty;
    /** The memfd or file behind a shareable mapping, else null. */
    private final Fd fd;
    /** Firmware ROM just below 4 GiB (host memory after RAM), or size 0 without one. */
    private final long romSize;
    private final long romBase;
    /** Bit n set: CPU writes to the 16 KiB segment n of 0xC0000-0xFFFFF are dropped (PAM). */
    private volatile int lowBiosReadOnly;
    /** Bumped whenever write protection changes, so CPUs drop the write permissions they cached. */
    private volatile int protectionEpoch;

    /** One contiguous stretch of guest-physical RAM and where it lives in the host mapping. */
    public record RamRange(long guestAddress, long size, long hostOffset) {
        public long end() {
            return guestAddress + size;
        }
    }

    /**
     * One RAM range as another process maps it: guest-physical address, size, the address of the
     * range in this process ({@code userAddress}, what vhost-user calls the frontend's virtual
     * address), and where it lies in {@code fd}.
     */
    public record SharedRegion(long guestAddress, long size, long userAddress, Fd fd, long fdOffset) {
    }

    private GuestMemory(long size, MemorySegment ram, Fd fd, long romSize, long lowLimit) {
        this.size = size;
        this.ram = ram;
        this.fd = fd;
        this.romSize = romSize;
        this.romBase = romSize == 0 ? Long.MAX_VALUE : HIGH_RAM_START - romSize;
        this.lowSize = Math.min(size, lowLimit);
        List<RamRange> r = new ArrayList<>();
        r.add(new RamRange(0, lowSize, 0));
        if (size > lowSize) {
            r.add(new RamRange(HIGH_RAM_START, size - lowSize, lowSize));
        }
        this.ranges = List.copyOf(r);
        this.dirty = new DirtyLog(size + romSize);
    }

    /** Maps {@code size} bytes of anonymous guest RAM; the message of the exception says why it could not. */
    public static GuestMemory allocate(long size) {
        return allocate(size, new RamBacking.Anonymous(), 0);
    }

    /**
     * As {@link #allocate(long)}, with {@code romSize} bytes of firmware ROM (a multiple of 64 KiB,
     * at most 16 MiB) at the top of the 32-bit address space, ending at 4 GiB: readable and
     * executable as RAM is, not writable by the CPU ({@link #writeProtected}).
     */
    public static GuestMemory allocate(long size, long romSize) {
        return allocate(size, new RamBacking.Anonymous(), romSize);
    }

    /** Maps {@code size} bytes of guest RAM from {@code backing}; the message of the exception says why it could not. */
    public static GuestMemory allocate(long size, RamBacking backing) {
        return allocate(size, backing, 0);
    }

    /**
     * Maps {@code size} bytes of guest RAM from {@code backing}, and {@code romSize} bytes of
     * firmware ROM after it in the same mapping (so host offsets index one segment).
     */
    public static GuestMemory allocate(long size, RamBacking backing, long romSize) {
        return allocate(size, backing, romSize, PCI_HOLE_START);
    }

    /**
     * As {@link #allocate(long, RamBacking, long)}, with RAM below 4 GiB ending at {@code lowLimit}
     * at most (a multiple of 1 MiB, at most {@link #PCI_HOLE_START}) and the rest from 4 GiB on:
     * the machine's 32-bit hole starts there (QEMU's q35 keeps 2 GiB below 4 GiB when RAM would
     * reach its ECAM).
     */
    public static GuestMemory allocate(long size, RamBacking backing, long romSize, long lowLimit) {
        if (lowLimit < MIN_SIZE || lowLimit > PCI_HOLE_START || (lowLimit & 0xF_FFFF) != 0) {
            throw new IllegalArgumentException(String.format("low RAM limit %#x: not a multiple of 1 MiB up to %#x",
                lowLimit, PCI_HOLE_START));
        }
        if (romSize < 0 || romSize > MAX_ROM_SIZE || (romSize & 0xFFFF) != 0) {
            throw new IllegalArgumentException("firmware ROM of " + romSize + " bytes: not a multiple of 64 KiB up to 16 MiB");
        }
        if (size < MIN_SIZE) {
            throw new IllegalArgumentException(
                "guest RAM of " + size + " bytes is too small: at least " + (MIN_SIZE >> 20) + " MiB is needed");
        }
        if ((size & 0xFFF) != 0) {
            throw new IllegalArgumentException("guest RAM size must be a multiple of 4 KiB: " + size);
        }
        long hostTotal = HostMemory.totalBytes();
        if (hostTotal > 0 && size > hostTotal) {
            throw new IllegalArgumentException(String.format(
                "guest RAM of %d MiB is more than this host has (%d MiB)", size >> 20, hostTotal >> 20));
        }
        return switch (backing) {
            case RamBacking.Anonymous a -> {
                try {
                    // private, as QEMU's RAM: the host's KSM merges only private pages (mergeIdenticalPages)
                    yield new GuestMemory(size, Mman.mapAnonymous(size + romSize, Mman.PROT_READ | Mman.PROT_WRITE,
                        Mman.MAP_PRIVATE | Mman.MAP_NORESERVE), null, romSize, lowLimit);
                } catch (SysException e) {
                    throw new IllegalArgumentException("cannot map " + (size >> 20) + " MiB of guest RAM: " + e.getMessage(), e);
                }
            }
            case RamBacking.Memfd m -> mapMemfd(size, m, romSize, lowLimit);
            case RamBacking.File f -> {
                if (romSize != 0) {
                    // the ROM would have to live in the user's file: use a memfd, or -kernel
                    throw new IllegalArgumentException("memory-backend-file cannot also hold the firmware ROM; "
                        + "boot with -kernel or use memory-backend-memfd");
                }
                yield mapFile(size, f, lowLimit);
            }
        };
    }

    /** memfd_create, ftruncate to the RAM size, optional seals, mmap (QEMU's memory-backend-memfd). */
    private static GuestMemory mapMemfd(long size, RamBacking.Memfd m, long romSize, long lowLimit) {
        Fd fd = null;
        try {
            fd = Mman.memfdCreate(m.name(), Mman.MFD_CLOEXEC | (m.seal() ? Mman.MFD_ALLOW_SEALING : 0));
            fd.ftruncate(size + romSize);
            if (m.seal()) {
                fd.addSeals(Fd.F_SEAL_GROW | Fd.F_SEAL_SHRINK | Fd.F_SEAL_SEAL);
            }
            return mapFd(size, fd, m.share(), romSize, lowLimit);
        } catch (SysException e) {
            if (fd != null) {
                fd.close();
            }
            throw new IllegalArgumentException("cannot back " + (size >> 20) + " MiB of guest RAM with a memfd: "
                + e.getMessage(), e);
        }
    }

    /**
     * Opens (or creates) the file, or an unlinked temporary file in a directory; an existing file
     * smaller than RAM is refused as QEMU refuses it, an empty one is extended.
     */
    private static GuestMemory mapFile(long size, RamBacking.File f, long lowLimit) {
        Path path = f.path();
        Fd fd = null;
        try {
            if (Files.isDirectory(path)) {
                Path tmp = Files.createTempFile(path, "jvisor_back_mem.", "");
                fd = Fd.open(tmp.toString(), Fd.O_RDWR | Fd.O_CLOEXEC);
                Files.delete(tmp);
            } else {
                fd = Fd.open(path.toString(), Fd.O_RDWR | Fd.O_CREAT | Fd.O_CLOEXEC, 0600);
            }
            long existing = Files.size(Path.of("/proc/self/fd/" + fd.fd()));
            if (existing != 0 && existing < size) {
                throw new IllegalArgumentException(String.format(
                    "backing store %s size %#x does not match 'size' option %#x", path, existing, size));
            }
            if (existing == 0) {
                fd.ftruncate(size);
            }
            return mapFd(size, fd, f.share(), 0, lowLimit);
        } catch (IOException e) {
            if (fd != null) {
                fd.close();
            }
            throw new IllegalArgumentException("can't open backing store " + path + " for guest RAM: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            fd.close();
            throw e;
        }
    }

    /** Maps {@code fd} MAP_SHARED (kept for sharing) or MAP_PRIVATE (copy-on-write; the descriptor is closed). */
    private static GuestMemory mapFd(long size, Fd fd, boolean share, long romSize, long lowLimit) throws SysException {
        MemorySegment ram = Mman.map(size + romSize, Mman.PROT_READ | Mman.PROT_WRITE,
            (share ? Mman.MAP_SHARED : Mman.MAP_PRIVATE) | Mman.MAP_NORESERVE, fd, 0);
        if (share) {
            return new GuestMemory(size, ram, fd, romSize, lowLimit);
        }
        fd.close();
        return new GuestMemory(size, ram, null, romSize, lowLimit);
    }

    /**
     * Lets the host kernel merge pages of this mapping with identical pages of any other mergeable
     * mapping (madvise MADV_MERGEABLE; QEMU's mem-merge=on): guests running the same kernel hold
     * many equal pages (its text, the unpacked initramfs, zeroed memory), and a host running KSM
     * (/sys/kernel/mm/ksm/run = 1) keeps one copy, copied again on the next write to it. KSM
     * merges only private pages: a MAP_SHARED memfd or file is left as it is. False, and nothing
     * changed, where the host kernel has no KSM (EINVAL): merging only saves memory, so a VM
     * starts without it, as QEMU's does.
     */
    public boolean mergeIdenticalPages() {
        try {
            Mman.advise(ram, Mman.MADV_MERGEABLE);
            return true;
        } catch (SysException e) {
            if (e.errno() == Errno.EINVAL) {
                return false;
            }
            throw new IllegalStateException("cannot mark guest RAM mergeable: " + e.getMessage(), e);
        }
    }

    /** Whether RAM is an fd mapped MAP_SHARED, which {@link #sharedRegions()} can hand to another process. */
    public boolean shareable() {
        return fd != null;
    }

    /**
     * Each RAM range with the descriptor another process maps it from (empty when RAM is not
     * {@link #shareable()}). The descriptor stays this object's: send it, do not close it.
     */
    public List<SharedRegion> sharedRegions() {
        if (fd == null) {
            return List.of();
        }
        List<SharedRegion> list = new ArrayList<>(ranges.size());
        for (RamRange r : ranges) {
            list.add(new SharedRegion(r.guestAddress(), r.size(), ram.address() + r.hostOffset(), fd, r.hostOffset()));
        }
        return List.copyOf(list);
    }

    public long size() {
        return size;
    }

    /** Bytes of the host mapping: RAM and the firmware ROM after it (for tables indexed by host offset). */
    public long hostSize() {
        return size + romSize;
    }

    /** Bytes of RAM below 4 GiB (from address 0); the rest is from 4 GiB on. */
    public long lowSize() {
        return lowSize;
    }

    /** The host mapping, for KVM memory slots and bulk copies. */
    public MemorySegment segment() {
        return ram;
    }

    public List<RamRange> ranges() {
        return ranges;
    }

    /**
     * Host offset of guest-physical {@code gpa}, or -1 if it is not RAM. An access of
     * {@code length} bytes must lie wholly inside one range.
     */
    public long offsetOf(long gpa, long length) {
        // Compared without adding gpa and length: near 2^63 the sum wraps negative and would pass.
        if (length < 0) {
            return -1;
        }
        if (gpa >= 0 && gpa <= lowSize - length) {
            return gpa;
        }
        if (gpa >= HIGH_RAM_START && gpa - HIGH_RAM_START <= size - lowSize - length) {
            return gpa - HIGH_RAM_START + lowSize;
        }
        if (gpa >= romBase && gpa - romBase <= romSize - length) {
            return gpa - romBase + size;
        }
        return -1;
    }

    /** The firmware ROM's guest range (host offset after RAM), or null without one. */
    public RamRange romRange() {
        return romSize == 0 ? null : new RamRange(romBase, romSize, size);
    }

    /** Puts {@code image} into the firmware ROM (its size must be the ROM's). */
    public void loadRom(byte[] image) {
        if (image.length != romSize) {
            throw new IllegalArgumentException("a ROM image of " + image.length + " bytes for a ROM of " + romSize);
        }
        MemorySegment.copy(image, 0, ram, ValueLayout.JAVA_BYTE, size, image.length);
    }

    /**
     * Whether a CPU write to guest-physical {@code gpa} is dropped: the firmware ROM, and the
     * segments of 0xC0000-0xFFFFF that the PAM registers make read-only. Devices' DMA is not
     * checked (a PC's chipset routes it the same way, but no device here writes there).
     */
    public boolean writeProtected(long gpa) {
        if (gpa >= romBase) {
            return gpa < HIGH_RAM_START;
        }
        if (gpa >= LOW_BIOS_START && gpa < LOW_BIOS_END) {
            return (lowBiosReadOnly >>> (int) ((gpa - LOW_BIOS_START) >>> LOW_BIOS_SEGMENT_SHIFT) & 1) != 0;
        }
        return false;
    }

    /** Sets which 16 KiB segments of 0xC0000-0xFFFFF CPU writes leave alone (bit n: segment n). */
    public synchronized void setLowBiosReadOnly(int segments) {
        if (segments != lowBiosReadOnly) {
            lowBiosReadOnly = segments;
            protectionEpoch++;
        }
    }

    /** Changes each time {@link #setLowBiosReadOnly} changes the protection. */
    public int protectionEpoch() {
        return protectionEpoch;
    }

    /** The pages written since the log's last look, while a live migration logs them. */
    public DirtyLog dirtyLog() {
        return dirty;
    }

    /** A device wrote [gpa, gpa + length) through a direct view ({@link #slice}): marks it for the dirty log. */
    public void noteWritten(long gpa, long length) {
        if (dirty.active()) {
            dirty.markHost(offsetOf(gpa, length), length);
        }
    }

    /**
     * Gives {@code [gpa, gpa + length)} (page-aligned, all RAM) back to the host, as a balloon
     * does: the pages take no host memory until written again and read as zero (a private
     * mapping of a file: as the file has them). A shared mapping punches a hole in its file, so
     * the processes sharing it see the same. Returns false, and does nothing, when the range is
     * not page-aligned RAM.
     */
    public boolean discard(long gpa, long length) {
        long off = offsetOf(gpa, length);
        if (off < 0 || ((gpa | length) & 0xFFF) != 0 || length == 0) {
            return false;
        }
        try {
            if (fd != null) {
                fd.fallocate(Fd.FALLOC_FL_PUNCH_HOLE | Fd.FALLOC_FL_KEEP_SIZE, off, length);
            } else {
                Mman.advise(ram.asSlice(off, length), Mman.MADV_DONTNEED);
            }
        } catch (SysException e) {
            throw new IllegalStateException("cannot give guest RAM at 0x" + Long.toHexString(gpa) + " (" + length
                + " bytes) back to the host: " + e.getMessage(), e);
        }
        return true;
    }

    public boolean isRam(long gpa, long length) {
        return offsetOf(gpa, length) >= 0;
    }

    private long checked(long gpa, long length) {
        long off = offsetOf(gpa, length);
        if (off < 0) {
            throw new GuestMemoryException(gpa, length);
        }
        return off;
    }

    public byte readU8(long gpa) {
        return ram.get(ValueLayout.JAVA_BYTE, checked(gpa, 1));
    }

    public short readU16(long gpa) {
        return ram.get(U16, checked(gpa, 2));
    }

    public int readU32(long gpa) {
        return ram.get(U32, checked(gpa, 4));
    }

    public long readU64(long gpa) {
        return ram.get(U64, checked(gpa, 8));
    }

    public void writeU8(long gpa, byte v) {
        long off = checked(gpa, 1);
        ram.set(ValueLayout.JAVA_BYTE, off, v);
        dirty.markHost(off, 1);
    }

    public void writeU16(long gpa, short v) {
        long off = checked(gpa, 2);
        ram.set(U16, off, v);
        dirty.markHost(off, 2);
    }

    public void writeU32(long gpa, int v) {
        long off = checked(gpa, 4);
        ram.set(U32, off, v);
        dirty.markHost(off, 4);
    }

    public void writeU64(long gpa, long v) {
        long off = checked(gpa, 8);
        ram.set(U64, off, v);
        dirty.markHost(off, 8);
    }

    public void write(long gpa, byte[] src, int from, int length) {
        long off = checked(gpa, length);
        MemorySegment.copy(src, from, ram, ValueLayout.JAVA_BYTE, off, length);
        dirty.markHost(off, length);
    }

    public void write(long gpa, byte[] src) {
        write(gpa, src, 0, src.length);
    }

    public void read(long gpa, byte[] dst, int from, int length) {
        MemorySegment.copy(ram, ValueLayout.JAVA_BYTE, checked(gpa, length), dst, from, length);
    }

    public void fill(long gpa, long length, byte value) {
        long off = checked(gpa, length);
        ram.asSlice(off, length).fill(value);
        dirty.markHost(off, length);
    }

    /** Bytes of guest RAM resident in host memory now (pages the guest or a device touched). */
    public long residentBytes() {
        try {
            return Mman.residentBytes(ram);
        } catch (SysException e) {
            throw new IllegalStateException("guest RAM: " + e.getMessage(), e);
        }
    }

    /** A view of guest RAM [gpa, gpa + length), which must not cross the PCI hole. */
    public MemorySegment slice(long gpa, long length) {
        return ram.asSlice(checked(gpa, length), length);
    }

    @Override
    public void close() {
        try {
            Mman.unmap(ram);
        } catch (SysException e) {
            throw new IllegalStateException("guest RAM: " + e.getMessage(), e);
        } finally {
            if (fd != null) {
                fd.close();
            }
        }
    }
}
