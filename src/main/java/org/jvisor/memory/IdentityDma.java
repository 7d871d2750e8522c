package org.jvisor.memory;

/** DMA without an IOMMU: bus addresses are guest-physical addresses; anything outside RAM faults. */
public final class IdentityDma implements DmaSpace {
    private final GuestMemory ram;

    public IdentityDma(GuestMemory ram) {
        this.ram = ram;
    }

    @Override
    public void read(long busAddress, byte[] dst, int from, int length) {
        ram.read(busAddress, dst, from, length);
    }

    @Override
    public void write(long busAddress, byte[] src, int from, int length) {
        ram.write(busAddress, src, from, length);
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
