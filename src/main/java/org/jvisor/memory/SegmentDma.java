package org.jvisor.memory;

import java.lang.foreign.MemorySegment;

/**
 * A DmaSpace that can also hand out direct views of guest memory, so block I/O goes from a file
 * straight into guest RAM, and that can check a buffer before it is used. A DmaSpace behind an
 * IOMMU may not offer this; devices then copy through {@link DmaSpace}'s methods.
 */
public interface SegmentDma extends DmaSpace {

    /** Whether [busAddress, +length) is one contiguous, accessible range. */
    boolean valid(long busAddress, long length);

    /** A view of [busAddress, +length), which must be {@link #valid}. */
    MemorySegment segment(long busAddress, long length);

    /** Tells the machine that the device wrote [busAddress, +length) through a view (code invalidation, dirty log). */
    void written(long busAddress, long length);
}
