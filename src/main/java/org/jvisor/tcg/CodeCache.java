package org.jvisor.tcg;

/**
 * One vCPU's decoded instructions, cached per 4 KiB page of guest RAM (keyed by host offset,
 * which is guest-physical RAM laid out contiguously). Which pages hold code is tracked VM-wide in
 * {@link SharedCode}: any write to such a page (this vCPU's stores, page-walk A/D updates, other
 * vCPUs, or DMA through {@link TcgCpu#invalidateCode}) throws the page's decoded instructions away
 * (self-modifying code, SDM vol. 3, 8.1.3). Instructions that cross a page boundary are never cached.
 */
final class CodeCache {
    private static final int SLOTS = 4096;

    /** The decoded instructions of one page. {@link #valid} goes false when the page is written. */
    static final class Page {
        final long hostPage;
        final Insn[] insns = new Insn[4096];
        boolean valid = true;

        Page(long hostPage) {
            this.hostPage = hostPage;
        }
    }

    private final Page[] slots = new Page[SLOTS];
    private final SharedCode shared;
    private final TcgCpu cpu;
    private final Runnable onDrop;

    CodeCache(SharedCode shared, TcgCpu cpu, Runnable onDrop) {
        this.shared = shared;
        this.cpu = cpu;
        this.onDrop = onDrop;
    }

    boolean isCodePage(long hostPage) {
        return shared.isCode(hostPage);
    }

    /** The page's cache (created, and the page marked as code VM-wide, on first use). */
    Page page(long hostPage) {
        int slot = (int) ((hostPage >>> 12) & (SLOTS - 1));
        Page pg = slots[slot];
        if (pg != null && pg.hostPage == hostPage) {
            return pg;
        }
        if (pg != null) {
            pg.valid = false; // evicted; its mark stays (harmless: the next write just clears it)
            onDrop.run();
        }
        pg = new Page(hostPage);
        slots[slot] = pg;
        shared.mark(hostPage);
        return pg;
    }

    /** Called on every slow-path RAM write by this vCPU. */
    void noteWrite(long hostOff, int size) {
        long first = hostOff >>> 12;
        long last = (hostOff + size - 1) >>> 12;
        for (long p = first; p <= last; p++) {
            if (shared.isCode(p << 12)) {
                shared.written(p << 12, cpu);
            }
        }
    }

    /** Drops decoded code in host range [off, off + len) on every vCPU (DMA, loaders); any thread. */
    void invalidate(long hostOff, long len) {
        if (len <= 0) {
            return;
        }
        long first = hostOff >>> 12;
        long last = (hostOff + len - 1) >>> 12;
        for (long p = first; p <= last; p++) {
            if (shared.isCode(p << 12)) {
                shared.written(p << 12, null); // every vCPU, this one included, drops it at its next slice
            }
        }
    }

    /** Forgets this vCPU's decoded instructions of one page (owning thread only). */
    void drop(long hostPage) {
        int slot = (int) ((hostPage >>> 12) & (SLOTS - 1));
        Page pg = slots[slot];
        if (pg != null && pg.hostPage == hostPage) {
            pg.valid = false;
            slots[slot] = null;
        }
        onDrop.run();
    }

    void clear() {
        for (int i = 0; i < SLOTS; i++) {
            if (slots[i] != null) {
                slots[i].valid = false;
                slots[i] = null;
            }
        }
        onDrop.run();
    }
}
