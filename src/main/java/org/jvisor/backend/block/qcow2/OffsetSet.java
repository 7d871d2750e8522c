package org.jvisor.backend.block.qcow2;

/**
 * A set of non-negative host offsets (open addressing, linear probing, no boxing): which clusters
 * hold L2 tables or refcount blocks, for the overlap check before a data write (QEMU's
 * qcow2_pre_write_overlap_check). Lookups allocate nothing.
 */
final class OffsetSet {
    private static final long EMPTY = -1;
    private long[] slots = new long[64];
    private int size;

    OffsetSet() {
        java.util.Arrays.fill(slots, EMPTY);
    }

    boolean contains(long v) {
        int mask = slots.length - 1;
        for (int i = hash(v) & mask; ; i = (i + 1) & mask) {
            long s = slots[i];
            if (s == v) {
                return true;
            }
            if (s == EMPTY) {
                return false;
            }
        }
    }

    void add(long v) {
        if ((size + 1) * 2 > slots.length) {
            long[] old = slots;
            slots = new long[old.length * 2];
            java.util.Arrays.fill(slots, EMPTY);
            size = 0;
            for (long o : old) {
                if (o != EMPTY) {
                    add(o);
                }
            }
        }
        int mask = slots.length - 1;
        for (int i = hash(v) & mask; ; i = (i + 1) & mask) {
            if (slots[i] == v) {
                return;
            }
            if (slots[i] == EMPTY) {
                slots[i] = v;
                size++;
                return;
            }
        }
    }

    void remove(long v) {
        int mask = slots.length - 1;
        int i = hash(v) & mask;
        while (slots[i] != v) {
            if (slots[i] == EMPTY) {
                return;
            }
            i = (i + 1) & mask;
        }
        slots[i] = EMPTY;
        size--;
        // Backward-shift the run after the hole so every probe chain stays unbroken.
        for (int j = (i + 1) & mask; slots[j] != EMPTY; j = (j + 1) & mask) {
            long s = slots[j];
            slots[j] = EMPTY;
            size--;
            add(s);
        }
    }

    private static int hash(long v) {
        long h = v * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32);
    }
}
