package org.jvisor.tcg;

/**
 * The VM's translated code, shared by its vCPUs: for every page of guest RAM that holds code, the
 * block entries seen there (keyed by host offset, i.e. guest-physical address), each with the
 * number of times the interpreter entered it and, once hot, its {@link Unit}. A write to the page
 * drops all of them ({@link #dropPage}); a page whose code keeps being rewritten is no longer
 * translated (its writes would throw the translations away faster than they pay off).
 */
final class UnitTable {
    /** Invalidations of a page's translations after which the page stays interpreted. */
    private static final int REWRITE_LIMIT = 16;

    /** A block entry: where interpreted execution entered a block. */
    static final class Entry {
        final long hostOffset;
        /** Entries counted while interpreted (racy increments between vCPUs only delay a translation). */
        int count;
        Unit unit;
        /** The translator declined this entry (nothing worth translating); it stays interpreted. */
        boolean declined;
        /** The page was written: the entry is stale and is looked up again. */
        volatile boolean dead;

        Entry(long hostOffset) {
            this.hostOffset = hostOffset;
        }
    }

    /** One page's entries: a small open-addressing table keyed by page offset. */
    private static final class Page {
        Entry[] slots = new Entry[8];
        int size;
        int units;

        Entry find(int off) {
            int m = slots.length - 1;
            for (int i = hash(off) & m; ; i = (i + 1) & m) {
                Entry e = slots[i];
                if (e == null || (e.hostOffset & 0xFFF) == off) {
                    return e;
                }
            }
        }

        void add(Entry e) {
            if (2 * (size + 1) > slots.length) {
                Entry[] old = slots;
                slots = new Entry[old.length * 2];
                for (Entry x : old) {
                    if (x != null) {
                        put(x);
                    }
                }
            }
            put(e);
            size++;
        }

        private void put(Entry e) {
            int m = slots.length - 1;
            int i = hash((int) (e.hostOffset & 0xFFF)) & m;
            while (slots[i] != null) {
                i = (i + 1) & m;
            }
            slots[i] = e;
        }

        private static int hash(int off) {
            return off * 0x9E3779B1 >>> 16;
        }
    }

    private final Page[] pages;
    private final byte[] rewrites;
    private final int maxUnits;
    private int liveUnits;
    private long invalidated;
    private long flushes;

    UnitTable(long ramSize, int maxUnits) {
        int n = (int) ((ramSize + 0xFFF) >>> 12);
        this.pages = new Page[n];
        this.rewrites = new byte[n];
        this.maxUnits = maxUnits;
    }

    /** The entry at host offset {@code off}, created on first use; null when off is not RAM. */
    synchronized Entry entry(long off) {
        int p = (int) (off >>> 12);
        if (p < 0 || p >= pages.length) {
            return null;
        }
        Page pg = pages[p];
        if (pg == null) {
            pg = new Page();
            pages[p] = pg;
        }
        int o = (int) (off & 0xFFF);
        Entry e = pg.find(o);
        if (e == null) {
            e = new Entry(off);
            pg.add(e);
        }
        return e;
    }

    /** Whether the page's code may be translated (it has not been rewritten too often). */
    synchronized boolean translatable(long hostPage) {
        int p = (int) (hostPage >>> 12);
        return p >= 0 && p < rewrites.length && rewrites[p] < REWRITE_LIMIT;
    }

    /**
     * Installs {@code u} for {@code e} unless the page was written meanwhile; when the table is
     * full every translation goes first (QEMU flushes its whole code buffer the same way).
     */
    synchronized boolean install(Entry e, Unit u) {
        if (e.dead) {
            return false;
        }
        if (liveUnits >= maxUnits) {
            clearLocked();
            flushes++;
            return false;
        }
        Page pg = pages[(int) (e.hostOffset >>> 12)];
        if (pg == null) {
            return false;
        }
        e.unit = u;
        pg.units++;
        liveUnits++;
        return true;
    }

    /** The page was written: its entries and translations are dropped. */
    synchronized void dropPage(long hostPage) {
        int p = (int) (hostPage >>> 12);
        if (p < 0 || p >= pages.length) {
            return;
        }
        Page pg = pages[p];
        if (pg == null) {
            return;
        }
        pages[p] = null;
        if (pg.units > 0 && rewrites[p] < REWRITE_LIMIT) {
            rewrites[p]++;
        }
        kill(pg);
    }

    /** Drops everything (a reset rewrote RAM). */
    synchronized void clear() {
        clearLocked();
        java.util.Arrays.fill(rewrites, (byte) 0);
    }

    private void clearLocked() {
        for (int p = 0; p < pages.length; p++) {
            if (pages[p] != null) {
                kill(pages[p]);
                pages[p] = null;
            }
        }
    }

    private void kill(Page pg) {
        for (Entry e : pg.slots) {
            if (e != null) {
                e.dead = true;
                if (e.unit != null) {
                    e.unit.valid = false;
                    liveUnits--;
                    invalidated++;
                }
            }
        }
    }

    synchronized int liveUnits() {
        return liveUnits;
    }

    synchronized long invalidated() {
        return invalidated;
    }

    synchronized long flushes() {
        return flushes;
    }
}
