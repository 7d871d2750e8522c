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
 *
 * <p>An engine whose stores jvisor never sees (kvm) logs them itself and is attached as a
 * {@link Tracker}: it starts and stops with the log, and its pages are merged in before each
 * {@link #fetchAndClear}, so whoever reads the log need not know which engine runs.
 */
public final class DirtyLog {
    /**
     * Pages written by someone who keeps their own record of them (KVM's dirty bitmap). Called
     * by the log's user's thread, the vCPUs stopped or not; each call may fail with an
     * unchecked exception saying why (the log is then unusable for this migration).
     */
    public interface Tracker {
        /** Starts recording, every page clean. */
        void startTracking();

        /** Marks in {@code into} the pages written since the start or the last collect, and forgets them. */
        void collect(DirtyLog into);

        /** Stops recording. */
        void stopTracking();
    }

    private final AtomicLongArray words;
    private final long pages;
    private volatile boolean active;
    private volatile Tracker tracker;

    public DirtyLog(long ramBytes) {
        this.pages = (ramBytes + 0xFFF) >>> 12;
        this.words = new AtomicLongArray((int) ((pages + 63) >>> 6));
    }

    public boolean active() {
        return active;
    }

    /** Attaches the engine that records its own stores (at most one; before any {@link #start}). */
    public void attach(Tracker t) {
        if (tracker != null) {
            throw new IllegalStateException("the dirty log already has a tracker");
        }
        tracker = t;
    }

    /** Starts logging with every page clean (and the tracker recording). */
    public void start() {
        for (int i = 0; i < words.length(); i++) {
            words.set(i, 0);
        }
        active = true;
        Tracker t = tracker;
        if (t != null) {
            try {
                t.startTracking();
            } catch (RuntimeException e) {
                active = false;
                throw e;
            }
        }
    }

    /** Stops logging (and the tracker). */
    public void stop() {
        active = false;
        Tracker t = tracker;
        if (t != null) {
            t.stopTracking();
        }
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

    /**
     * Marks {@code count} pages from page {@code first} as {@code bitmap} says (bit i of word
     * i/64: page first + i written), while logging: how a tracker merges its record.
     */
    public void markPages(long first, long[] bitmap, long count) {
        if (!active || first < 0) {
            return;
        }
        long n = Math.min(count, Math.min((long) bitmap.length << 6, pages - first));
        for (int w = 0; (long) w << 6 < n; w++) {
            long bits = bitmap[w];
            while (bits != 0) {
                long i = ((long) w << 6) + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                if (i >= n) {
                    break;
                }
                long p = first + i;
                long bit = 1L << p;
                int at = (int) (p >>> 6);
                if ((words.get(at) & bit) == 0) {
                    words.getAndUpdate(at, v -> v | bit);
                }
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

    /** The dirty pages (bit p of word p/64), the tracker's merged in first, leaving them all clean. */
    public long[] fetchAndClear() {
        Tracker t = tracker;
        if (t != null && active) {
            t.collect(this);
        }
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
