package org.jvisor.memory;

/**
 * How a device reaches guest memory. Addresses are bus addresses as the device sees them:
 * identical to guest-physical today, translated by an IOMMU once one is present.
 */
public interface DmaSpace {

    void read(long busAddress, byte[] dst, int from, int length);

    void write(long busAddress, byte[] src, int from, int length);

    short readU16(long busAddress);

    int readU32(long busAddress);

    long readU64(long busAddress);

    void writeU16(long busAddress, short value);

    void writeU32(long busAddress, int value);

    void writeU64(long busAddress, long value);
}
