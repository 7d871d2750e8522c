package org.jvisor.devices.ide;

import org.jvisor.memory.DmaSpace;

/**
 * A walk through a physical region descriptor table in guest memory (SFF-8038i, 1.2): 8-byte
 * entries of a 32-bit region address and a byte count in bits 15:1 (0 meaning 64 KiB), bit 31 of
 * the second dword marking the last entry. As QEMU does, a table without an end-of-table mark
 * stops after 4 KiB of descriptors. Guest memory faults surface as the DmaSpace's exceptions.
 * Reused from transfer to transfer: it allocates nothing.
 */
final class PrdTable extends RegionWalk {
    static final int ENTRY_SIZE = 8;
    /** QEMU's fail-safe: at most one page of descriptors. */
    static final int MAX_ENTRIES = 4096 / ENTRY_SIZE;
    static final int END_OF_TABLE = 0x8000_0000;

    private long table;
    private int next;
    private boolean ended;

    /** Starts at the table at {@code tableAddress} (32-bit, dword-aligned). */
    void start(DmaSpace dma, long tableAddress) {
        begin(dma);
        this.table = tableAddress & 0xFFFF_FFFCL;
        this.next = 0;
        this.ended = false;
    }

    @Override
    public long describedBytes() {
        long total = 0;
        for (int i = 0; i < MAX_ENTRIES; i++) {
            long at = table + (long) i * ENTRY_SIZE;
            int control = dma.readU32(at + 4);
            total += regionLength(control);
            if ((control & END_OF_TABLE) != 0) {
                break;
            }
        }
        return total;
    }

    @Override
    protected boolean nextRegion() {
        if (ended || next >= MAX_ENTRIES) {
            return false;
        }
        long at = table + (long) next++ * ENTRY_SIZE;
        long address = dma.readU32(at) & 0xFFFF_FFFFL;
        int control = dma.readU32(at + 4);
        region(address, regionLength(control));
        ended = (control & END_OF_TABLE) != 0;
        return true;
    }

    private static int regionLength(int control) {
        int n = control & 0xFFFE;
        return n == 0 ? 0x10000 : n;
    }
}
