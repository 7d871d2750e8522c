package org.jvisor.devices.pci;

import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.BusDevice;

/**
 * What one Base Address Register decodes (PCI Local Bus spec 3.0, 6.2.5.1): an I/O range, a 32-bit
 * memory range or a 64-bit memory range (which takes two BAR slots), optionally prefetchable, whose
 * size is a power of two. The guest sizes it by writing all-ones and reading back the mask
 * {@code ~(size - 1)} with the type bits, then programs the base; the owning {@link PciDevice} maps
 * {@link #device()} at that base in the I/O or memory {@link AddressSpace} while the matching decode
 * bit of COMMAND is set.
 */
public final class PciBarRegion {

    /** The decoder type of a BAR. */
    public enum Kind {
        /** I/O space; bit 0 of the BAR reads 1. At least 4 bytes. */
        IO,
        /** 32-bit memory space (type 00). At least 16 bytes. */
        MEMORY32,
        /** 64-bit memory space (type 10), two consecutive BAR slots. At least 16 bytes. */
        MEMORY64
    }

    private final String name;
    private final Kind kind;
    private final long size;
    private final boolean prefetchable;
    private final BusDevice device;

    // Mapping state, owned by PciDevice (under its lock).
    AddressSpace.Region region;
    volatile long mappedAddress = -1;

    private PciBarRegion(String name, Kind kind, long size, boolean prefetchable, BusDevice device) {
        if (size <= 0 || Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("BAR " + name + ": size " + size + " is not a power of two");
        }
        long min = kind == Kind.IO ? 4 : 16;
        if (size < min) {
            throw new IllegalArgumentException("BAR " + name + ": size " + size + " below the minimum " + min);
        }
        if (kind == Kind.IO && size > 0x100) {
            // PCI 3.0, 6.2.5.1: an I/O BAR claims at most 256 bytes.
            throw new IllegalArgumentException("BAR " + name + ": an I/O BAR is at most 256 bytes");
        }
        if (kind == Kind.MEMORY32 && size > 0x8000_0000L) {
            throw new IllegalArgumentException("BAR " + name + ": too large for a 32-bit BAR");
        }
        if (kind == Kind.IO && prefetchable) {
            throw new IllegalArgumentException("BAR " + name + ": an I/O BAR is never prefetchable");
        }
        this.name = name;
        this.kind = kind;
        this.size = size;
        this.prefetchable = prefetchable;
        this.device = device;
    }

    public static PciBarRegion io(String name, long size, BusDevice device) {
        return new PciBarRegion(name, Kind.IO, size, false, device);
    }

    public static PciBarRegion memory32(String name, long size, boolean prefetchable, BusDevice device) {
        return new PciBarRegion(name, Kind.MEMORY32, size, prefetchable, device);
    }

    public static PciBarRegion memory64(String name, long size, boolean prefetchable, BusDevice device) {
        return new PciBarRegion(name, Kind.MEMORY64, size, prefetchable, device);
    }

    public String name() {
        return name;
    }

    public Kind kind() {
        return kind;
    }

    public long size() {
        return size;
    }

    public boolean prefetchable() {
        return prefetchable;
    }

    public boolean isIo() {
        return kind == Kind.IO;
    }

    public boolean is64Bit() {
        return kind == Kind.MEMORY64;
    }

    public BusDevice device() {
        return device;
    }

    /** The read-only low bits of the (low) BAR dword: space indicator, type, prefetchable. */
    public int typeBits() {
        return switch (kind) {
            case IO -> 0x1;
            case MEMORY32 -> prefetchable ? 0x8 : 0x0;
            case MEMORY64 -> 0x4 | (prefetchable ? 0x8 : 0x0);
        };
    }

    /** The address where the region is currently mapped, or -1 when it is not. */
    public long mappedAddress() {
        return mappedAddress;
    }

    public boolean mapped() {
        return mappedAddress >= 0;
    }

    @Override
    public String toString() {
        return String.format("%s %s %#x%s", name, kind, size, prefetchable ? " pref" : "");
    }
}
