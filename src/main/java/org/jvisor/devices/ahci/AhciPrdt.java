package org.jvisor.devices.ahci;

import org.jvisor.devices.ide.RegionWalk;
import org.jvisor.memory.DmaSpace;

/**
 * The physical region descriptor table of a command table (AHCI 1.3.1, 4.2.3.3): PRDTL entries of
 * 16 bytes, each a 64-bit data base address (bit 0 reserved: word aligned), a reserved dword and
 * DBC in bits 21:0 (the byte count minus one; bit 0 always set, so regions are even) with the
 * interrupt-on-completion bit 31, which QEMU ignores and so does this. Counts the bytes moved for
 * the command header's PRDBC. Reused from command to command: it allocates nothing.
 */
final class AhciPrdt extends RegionWalk {
    static final int ENTRY_SIZE = 16;
    static final int DBC_MASK = 0x3F_FFFF;

    private long table;
    private int entries;
    private int next;

    /** Starts at the table at {@code tableAddress} with {@code entries} descriptors (PRDTL). */
    void start(DmaSpace dma, long tableAddress, int entries) {
        begin(dma);
        this.table = tableAddress;
        this.entries = entries;
        this.next = 0;
    }

    @Override
    public long describedBytes() {
        long total = 0;
        for (int i = 0; i < entries; i++) {
            total += regionLength(dma.readU32(table + (long) i * ENTRY_SIZE + 12));
        }
        return total;
    }

    @Override
    protected boolean nextRegion() {
        if (next >= entries) {
            return false;
        }
        long at = table + (long) next++ * ENTRY_SIZE;
        region(dma.readU64(at) & ~1L, regionLength(dma.readU32(at + 12)));
        return true;
    }

    private static int regionLength(int dbc) {
        return (dbc & DBC_MASK) + 1;
    }
}
