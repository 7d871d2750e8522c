package org.jvisor.memory;

import java.lang.foreign.MemorySegment;

/**
 * DMA without an IOMMU: bus addresses are guest-physical addresses; anything outside RAM faults.
 * Direct views are offered ({@link SegmentDma}). {@code listener} hears of every bulk device write
 * (the tcg engine drops decoded code there); ring-index stores through writeU16/32/64 are not
 * reported, since they never hold code.
 */
public final class IdentityDma implements SegmentDma {

    /** Hears of guest memory written by a device. */
    @FunctionalInterface
    public interface WriteListener {
        void written(long gpa, long length);

        WriteListener NONE = (gpa, length) -> { };
    }

    private final GuestMemory ram;
    private final WriteListener listener;

    public IdentityDma(GuestMemory ram) {
        this(ram, WriteListener.NONE);
    }

    public IdentityDma(GuestMemory ram, WriteListener listener) {
        this.ram = ram;
        this.listener = listener;
    }

    @Override
    public boolean valid(long busAddress, long length) {
        return ram.isRam(busAddress, length);
    }

    @Override
    public MemorySegment segment(long busAddress, long length) {
        return ram.slice(busAddress, length);
    }

    @Override
    public void written(long busAddress, long length) {
        ram.noteWritten(busAddress, length);
        listener.written(busAddress, length);
    }

    @Override
    public void read(long busAddress, byte[] dst, int from, int length) {
        ram.read(busAddress, dst, from, length);
    }

    @Override
    public void write(long busAddress, byte[] src, int from, int length) {
        ram.write(busAddress, src, from, length);
        listener.written(busAddress, length);
    }

    @Override
    public short readU16(long busAddress) {
        return ram.readU16(busAddress);
    }

    @Override
    public int readU32(long busAddress) {
        return ram.readU32(busAddress);
    }

    @Override
    public long readU64(long busAddress) {
        return ram.readU64(busAddress);
    }

    @Override
    public void writeU16(long busAddress, short value) {
        ram.writeU16(busAddress, value);
    }

    @Override
    public void writeU32(long busAddress, int value) {
        ram.writeU32(busAddress, value);
    }

    @Override
    public void writeU64(long busAddress, long value) {
        ram.writeU64(busAddress, value);
    }
}
