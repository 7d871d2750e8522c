package org.jvisor.tcg;

/**
 * The VM's translated code, shared by its vCPUs: for every page of guest RAM that holds code, the
 * block entries seen there (keyed by host offset, i.e. guest-physical address), each with the
 * number of times the interpreter entered it and, once hot, its {@link Unit}. A write to the page
 * drops all of them ({@link #dropPage}). A page whose translations keep being thrown away by writes
 * (code and data sharing a page, a JIT compiler in the guest) needs twice as many entries before
 * each new translation, so rewriting costs little more than interpreting.
 */
final class UnitTable {
    /** Rewrites counted per page at most: the threshold grows by up to this power of two. */
    private static final int MAX_REWRITES = 20;

    /** A block entry: where interpreted execution entered a block. */
    static final class Entry {
        final long hostOffset;
        /**
         * Entries counted while interpreted, a long block's length included (TcgCpu#longBlock;
         * racy increments between vCPUs only delay a translation).
         */
        int count;
        /**
         * User code: entries counted in the current burst window (JitOptions#burst); kernel code:
         * the windows it was entered in (JitOptions#steady). And the last such window.
         */
        int burst;
        int burstWindow = -1;
        /** The translation; set by whichever thread translated (the unit's fields are final). */
        volatile Unit unit;
        /** The translator declined this entry (nothing worth translating); it stays interpreted. */
        boolean declined;
        /** Waiting for the background translator. */
        volatile boolean queued;
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

    /**
     * The translation threshold for code at host offset {@code off}: {@code base}, doubled for
     * each time the page's translations were thrown away by a write. A plain read: a racing
     * update only shifts one decision.
     */
    int threshold(long off, int base) {
        int p = (int) (off >>> 12);
        int shift = p >= 0 && p < rewrites.length ? rewrites[p] : 0;
        return shift == 0 ? base : (int) Math.min((long) base << shift, Integer.MAX_VALUE);
    }

    /**
     * Installs {@code u} for {@code e} unless the page was written meanwhile or the entry already
     * has a unit (counted twice, the live count would stay high for good and the table flush on
     * every install); when the table is full every translation goes first (QEMU flushes its
     * whole code buffer the same way).
     */
    synchronized boolean install(Entry e, Unit u) {
        if (e.dead || e.unit != null) {
            return false; // written meanwhile, or another vCPU translated the same entry first
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
        if (pg.units > 0 && rewrites[p] < MAX_REWRITES) {
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
                Unit u = e.unit;
                if (u != null) {
                    u.valid = false;
                    u.next = null; // links into it fail on valid; its own would keep its target loaded
                    e.unit = null; // a jump cache may still hold the entry: let the class unload
                    liveUnits--;
                    invalidated++;
                }
            }
        }
    }

    /** The live units that retired the most instructions, most first. */
    synchronized java.util.List<Unit> hottest(int n) {
        java.util.List<Unit> all = new java.util.ArrayList<>();
        for (Page pg : pages) {
            if (pg != null) {
                for (Entry e : pg.slots) {
                    if (e != null && e.unit != null) {
                        all.add(e.unit);
                    }
                }
            }
        }
        all.sort((a, b) -> Long.compare(b.retired, a.retired));
        return all.subList(0, Math.min(n, all.size()));
    }

    /** The pages whose translations were thrown away most often, as "gpa xN" items. */
    synchronized String mostRewritten(int n) {
        java.util.List<Integer> ps = new java.util.ArrayList<>();
        for (int p = 0; p < rewrites.length; p++) {
            if (rewrites[p] > 0) {
                ps.add(p);
            }
        }
        ps.sort((a, b) -> Integer.compare(rewrites[b], rewrites[a]));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(n, ps.size()); i++) {
            sb.append(i == 0 ? "" : ", ").append(String.format("%#x x%d", (long) ps.get(i) << 12, rewrites[ps.get(i)]));
        }
        return sb.toString();
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
