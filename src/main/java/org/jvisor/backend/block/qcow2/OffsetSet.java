package org.jvisor.backend.block.qcow2;

/**
 * A set of non-negative host offsets (open addressing, linear probing, no boxing): which clusters
 * hold L2 tables or refcount blocks, for the overlap check before a data write (QEMU's
 * qcow2_pre_write_overlap_check). Lookups allocate nothing.
 */
final class OffsetSet {
    private final OffsetMap map = new OffsetMap();

    boolean contains(long v) {
        return map.get(v) >= 0;
    }

    void add(long v) {
        map.put(v, 0);
    }

    void remove(long v) {
        map.remove(v);
    }
}

/** Non-negative host offsets to non-negative ints (open addressing, linear probing, no boxing). */
final class OffsetMap {
    private static final long EMPTY = -1;
    private long[] keys = new long[64];
    private int[] values = new int[64];
    private int size;

    OffsetMap() {
        java.util.Arrays.fill(keys, EMPTY);
    }

    /** The value of {@code k}, or -1. */
    int get(long k) {
        int mask = keys.length - 1;
        for (int i = hash(k) & mask; ; i = (i + 1) & mask) {
            long s = keys[i];
            if (s == k) {
                return values[i];
            }
            if (s == EMPTY) {
                return -1;
            }
        }
    }

    void put(long k, int v) {
        if ((size + 1) * 2 > keys.length) {
            long[] oldKeys = keys;
            int[] oldValues = values;
            keys = new long[oldKeys.length * 2];
            values = new int[oldKeys.length * 2];
            java.util.Arrays.fill(keys, EMPTY);
            size = 0;
            for (int i = 0; i < oldKeys.length; i++) {
                if (oldKeys[i] != EMPTY) {
                    put(oldKeys[i], oldValues[i]);
                }
            }
        }
        int mask = keys.length - 1;
        for (int i = hash(k) & mask; ; i = (i + 1) & mask) {
            if (keys[i] == k || keys[i] == EMPTY) {
                if (keys[i] == EMPTY) {
                    size++;
                }
                keys[i] = k;
                values[i] = v;
                return;
            }
        }
    }

    void remove(long k) {
        int mask = keys.length - 1;
        int i = hash(k) & mask;
        while (keys[i] != k) {
            if (keys[i] == EMPTY) {
                return;
            }
            i = (i + 1) & mask;
        }
        keys[i] = EMPTY;
        size--;
        // Re-insert the run after the hole so every probe chain stays unbroken.
        for (int j = (i + 1) & mask; keys[j] != EMPTY; j = (j + 1) & mask) {
            long s = keys[j];
            int v = values[j];
            keys[j] = EMPTY;
            size--;
            put(s, v);
        }
    }

    private static int hash(long v) {
        long h = v * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32);
    }
}
