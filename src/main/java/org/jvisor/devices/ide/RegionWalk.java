package org.jvisor.devices.ide;

import org.jvisor.memory.DmaSpace;

/**
 * The copy loop both descriptor formats share: a cursor over a list of guest memory regions that
 * moves data region by region, asking the format for the next region when one is used up. The
 * PIIX's PRD table ({@link PrdTable}) and an AHCI command table's PRDT differ only in how they
 * read a descriptor. Counts the bytes moved (AHCI's PRDBC). Allocates nothing.
 */
public abstract class RegionWalk implements DmaRegions {
    /** Where the regions and their descriptors are: guest memory as the device's DMA sees it. */
    protected DmaSpace dma;
    private long regionAddress;
    private int regionLeft;
    private long moved;

    /** Starts a new walk over {@code dma}: no region loaded, nothing moved. */
    protected final void begin(DmaSpace dma) {
        this.dma = dma;
        this.regionLeft = 0;
        this.moved = 0;
    }

    /** Loads the next region with {@link #region}; false when the list has ended. */
    protected abstract boolean nextRegion();

    /** The region the walk moves through next: {@code length} bytes at {@code address}. */
    protected final void region(long address, int length) {
        this.regionAddress = address;
        this.regionLeft = length;
    }

    /** Bytes moved since the walk began. */
    public final long moved() {
        return moved;
    }

    @Override
    public final boolean transfer(byte[] buffer, int offset, int length, boolean toMemory) {
        int done = 0;
        while (done < length) {
            if (regionLeft == 0 && !nextRegion()) {
                return false;
            }
            int n = Math.min(regionLeft, length - done);
            if (toMemory) {
                dma.write(regionAddress, buffer, offset + done, n);
            } else {
                dma.read(regionAddress, buffer, offset + done, n);
            }
            regionAddress += n;
            regionLeft -= n;
            done += n;
            moved += n;
        }
        return true;
    }
}
