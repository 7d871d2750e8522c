package org.jvisor.memory;

/**
 * A device's side of one region of an address space: accesses arrive with the offset from the
 * region's base and a size of 1, 2, 4 or 8 bytes. A device is a plain state machine behind these
 * two methods; it never learns which engine made the access.
 */
public interface BusDevice {

    /** Returns the value read, in the low {@code size * 8} bits. */
    long read(long offset, int size);

    void write(long offset, int size, long value);
}
