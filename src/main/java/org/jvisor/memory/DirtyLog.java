package org.jvisor.memory;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Which pages of guest RAM were written since the last look, for a live migration's passes (QEMU's
 * migration dirty bitmap). Pages are 4 KiB, numbered by host offset in the RAM mapping (as a
 * snapshot numbers them). While inactive, marking costs one volatile read.
 *
 * <p>Who marks: every store to RAM that does not go through a vCPU's write-TLB fast path (the
 * software CPU's slow path and its page-table A/D updates, device DMA, {@link GuestMemory}'s
 * writes). The software CPU keeps no write mapping of a page that is not yet dirty in the
 * current round, so the first store to each page takes the slow path and marks it; after
 * {@link #fetchAndClear} the caller drops every write mapping (with the vCPUs stopped) so that
 * clean pages are caught again.
 */
public final class DirtyLog {
    private final AtomicLongArray words;
    private final long pages;
    private volatile boolean active;

    public DirtyLog(long ramBytes) {
        this.pages = (ramBytes + 0xFFF) >>> 12;
        this.words = new AtomicLongArray((int) ((pages + 63) >>> 6));
    }

    public boolean active() {
        return active;
    }

    /** Starts logging with every page clean. */
    public void start() {
        for (int i = 0; i < words.length(); i++) {
            words.set(i, 0);
        }
        active = true;
    }

    public void stop() {
        active = false;
    }

    /** Marks the pages of host range [off, off + length) written, while logging. */
    public void markHost(long off, long length) {
        if (!active || length <= 0 || off < 0) {
            return;
        }
        long last = Math.min((off + length - 1) >>> 12, pages - 1);
        for (long p = off >>> 12; p <= last; p++) {
            long bit = 1L << p;
            int w = (int) (p >>> 6);
            if ((words.get(w) & bit) == 0) {
                words.getAndUpdate(w, v -> v | bit);
            }
        }
    }

    /** Whether the page at host offset {@code hostPage} is dirty (always, while not logging: no tracking needed). */
    public boolean allowsWriteMapping(long hostPage) {
        if (!active) {
            return true;
        }
        long p = hostPage >>> 12;
        return p < pages && (words.get((int) (p >>> 6)) & (1L << p)) != 0;
    }

    /** The dirty pages (bit p of word p/64), leaving them all clean. */
    public long[] fetchAndClear() {
        long[] out = new long[words.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = words.getAndSet(i, 0);
        }
        return out;
    }

    /** Pages in the log. */
    public long pages() {
        return pages;
    }
}
