package org.jvisor.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import org.jvisor.sys.Mman;
import org.jvisor.sys.SysException;

/**
 * Guest RAM: one anonymous shared mapping (MAP_NORESERVE, so untouched RAM costs nothing), laid
 * out as on a PC: RAM up to the 32-bit PCI hole at 3 GiB, the rest continues at 4 GiB. The same
 * host memory is handed to KVM and read by the tcg engine and by devices.
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

    private GuestMemory(long size, MemorySegment ram, long romSize) {
        this.size = size;
        this.ram = ram;
        this.romSize = romSize;
        this.romBase = romSize == 0 ? Long.MAX_VALUE : HIGH_RAM_START - romSize;
        this.lowSize = Math.min(size, PCI_HOLE_START);
        List<RamRange> r = new ArrayList<>();
        r.add(new RamRange(0, lowSize, 0));
        if (size > lowSize) {
            r.add(new RamRange(HIGH_RAM_START, size - lowSize, lowSize));
        }
        this.ranges = List.copyOf(r);
    }

    /** Maps {@code size} bytes of guest RAM; the message of the exception says why it could not. */
    public static GuestMemory allocate(long size) {
        return allocate(size, 0);
    }

    /**
     * As {@link #allocate(long)}, with {@code romSize} bytes of firmware ROM (a multiple of 64 KiB,
     * at most 16 MiB) at the top of the 32-bit address space, ending at 4 GiB: readable and
     * executable as RAM is, not writable by the CPU ({@link #writeProtected}).
     */
    public static GuestMemory allocate(long size, long romSize) {
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
        try {
            return new GuestMemory(size, Mman.mapAnonymous(size + romSize, Mman.PROT_READ | Mman.PROT_WRITE,
                Mman.MAP_SHARED | Mman.MAP_NORESERVE), romSize);
        } catch (SysException e) {
            throw new IllegalArgumentException("cannot map " + (size >> 20) + " MiB of guest RAM: " + e.getMessage(), e);
        }
    }

    public long size() {
        return size;
    }

    /** Bytes of the host mapping: RAM and the firmware ROM after it (for tables indexed by host offset). */
    public long hostSize() {
        return size + romSize;
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
        ram.set(ValueLayout.JAVA_BYTE, checked(gpa, 1), v);
    }

    public void writeU16(long gpa, short v) {
        ram.set(U16, checked(gpa, 2), v);
    }

    public void writeU32(long gpa, int v) {
        ram.set(U32, checked(gpa, 4), v);
    }

    public void writeU64(long gpa, long v) {
        ram.set(U64, checked(gpa, 8), v);
    }

    public void write(long gpa, byte[] src, int from, int length) {
        MemorySegment.copy(src, from, ram, ValueLayout.JAVA_BYTE, checked(gpa, length), length);
    }

    public void write(long gpa, byte[] src) {
        write(gpa, src, 0, src.length);
    }

    public void read(long gpa, byte[] dst, int from, int length) {
        MemorySegment.copy(ram, ValueLayout.JAVA_BYTE, checked(gpa, length), dst, from, length);
    }

    public void fill(long gpa, long length, byte value) {
        ram.asSlice(checked(gpa, length), length).fill(value);
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
        }
    }
}
