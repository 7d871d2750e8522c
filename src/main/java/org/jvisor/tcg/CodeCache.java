package org.jvisor.tcg;

/**
 * Decoded instructions, cached per 4 KiB page of guest RAM (keyed by host offset, which is
 * guest-physical RAM laid out contiguously). Pages holding cached code are marked in a bitmap;
 * any write to a marked page (from this vCPU's stores, page-walk A/D updates, or from outside via
 * {@link #invalidate}) throws that page's decoded instructions away (self-modifying code, SDM
 * vol. 3, 8.1.3). Instructions that cross a page boundary are never cached.
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

    private final long[] codeBits;
    private final Page[] slots = new Page[SLOTS];
    private final Mmu mmu;
    private final Runnable onDrop;

    CodeCache(long ramSize, Mmu mmu, Runnable onDrop) {
        this.codeBits = new long[(int) ((ramSize >>> 12) + 63 >>> 6)];
        this.mmu = mmu;
        this.onDrop = onDrop;
    }

    boolean isCodePage(long hostPage) {
        long p = hostPage >>> 12;
        return (codeBits[(int) (p >>> 6)] & (1L << p)) != 0;
    }

    /** The page's cache (created and marked on first use). */
    Page page(long hostPage) {
        int slot = (int) ((hostPage >>> 12) & (SLOTS - 1));
        Page pg = slots[slot];
        if (pg != null && pg.hostPage == hostPage) {
            return pg;
        }
        if (pg != null) {
            pg.valid = false;
            unmark(pg.hostPage);
            onDrop.run();
        }
        pg = new Page(hostPage);
        slots[slot] = pg;
        long p = hostPage >>> 12;
        codeBits[(int) (p >>> 6)] |= 1L << p;
        mmu.dropWritesTo(hostPage);
        return pg;
    }

    private void unmark(long hostPage) {
        long p = hostPage >>> 12;
        codeBits[(int) (p >>> 6)] &= ~(1L << p);
    }

    /** Called on every slow-path RAM write: drops decoded code on the written pages. */
    void noteWrite(long hostOff, int size) {
        long first = hostOff >>> 12;
        long last = (hostOff + size - 1) >>> 12;
        for (long p = first; p <= last; p++) {
            if ((codeBits[(int) (p >>> 6)] & (1L << p)) != 0) {
                drop(p << 12);
            }
        }
    }

    /** Drops decoded code in host range [off, off + len). */
    void invalidate(long hostOff, long len) {
        if (len <= 0) {
            return;
        }
        long first = hostOff >>> 12;
        long last = (hostOff + len - 1) >>> 12;
        long max = (long) codeBits.length << 6;
        for (long p = first; p <= last && p < max; p++) {
            if ((codeBits[(int) (p >>> 6)] & (1L << p)) != 0) {
                drop(p << 12);
            }
        }
    }

    private void drop(long hostPage) {
        unmark(hostPage);
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
                unmark(slots[i].hostPage);
                slots[i] = null;
            }
        }
        onDrop.run();
    }
}
