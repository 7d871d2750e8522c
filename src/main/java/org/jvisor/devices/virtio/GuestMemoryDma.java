package org.jvisor.devices.virtio;

import java.lang.foreign.MemorySegment;
import org.jvisor.memory.GuestMemory;

/**
 * Identity DMA with direct views: bus addresses are guest-physical. {@code writeListener} hears of
 * every device write (the tcg engine drops decoded code there: {@code TcgAccelerator::invalidateCode}).
 */
public final class GuestMemoryDma implements SegmentDma {

    /** Hears of guest memory written by a device. */
    @FunctionalInterface
    public interface WriteListener {
        void written(long gpa, long length);

        WriteListener NONE = (gpa, length) -> { };
    }

    private final GuestMemory ram;
    private final WriteListener listener;

    public GuestMemoryDma(GuestMemory ram) {
        this(ram, WriteListener.NONE);
    }

    public GuestMemoryDma(GuestMemory ram, WriteListener listener) {
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
