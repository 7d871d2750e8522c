package org.jvisor.memory;

/** A guest-physical access that does not land in RAM (device DMA or a loader out of bounds), or a DMA an IOMMU refused. */
public class GuestMemoryException extends RuntimeException {
    private final long address;
    private final long length;

    public GuestMemoryException(long address, long length) {
        super(String.format("guest-physical range [%#x, +%#x) is not RAM", address, length));
        this.address = address;
        this.length = length;
    }

    /** An access refused for another reason (an IOMMU fault), said in {@code message}. */
    protected GuestMemoryException(String message, long address, long length) {
        super(message);
        this.address = address;
        this.length = length;
    }

    public long address() {
        return address;
    }

    public long length() {
        return length;
    }
}
