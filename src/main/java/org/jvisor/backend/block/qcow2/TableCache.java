package org.jvisor.backend.block.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A write-back cache of cluster-sized metadata tables (L2 tables, refcount blocks) keyed by their
 * host offset, least recently used out first. Entries are allocated once and reused, so a lookup
 * that hits allocates nothing. What may be written when is the owner's business: a dirty entry
 * is written only by {@link #writeDirty} or, on eviction, through the owner's {@link Evictor}.
 * Not thread-safe; the backend serialises access.
 */
final class TableCache {
    /** Called before a dirty table leaves the cache, so the owner can honour write ordering. */
    interface Evictor {
        void beforeWrite(TableCache cache) throws IOException;
    }

    static final class Table {
        long offset = -1;
        final ByteBuffer data;
        boolean dirty;
        long lastUse;

        Table(int size) {
            data = ByteBuffer.allocate(size);
        }

        long getLong(int index) {
            return data.getLong(index << 3);
        }

        void putLong(int index, long value) {
            data.putLong(index << 3, value);
            dirty = true;
        }
    }

    private final Qcow2File file;
    private final int tableSize;
    private final Table[] tables;
    private final Evictor evictor;
    private final OffsetMap index = new OffsetMap();
    private int count;
    private long clock;

    TableCache(Qcow2File file, int tableSize, int capacity, Evictor evictor) {
        this.file = file;
        this.tableSize = tableSize;
        this.tables = new Table[Math.max(2, capacity)];
        this.evictor = evictor;
    }

    /** The table at {@code offset}, read from the file on a miss. */
    Table get(long offset) throws IOException {
        Table t = lookup(offset);
        if (t != null) {
            return t;
        }
        int slot = victim();
        t = tables[slot];
        assign(slot, -1);
        t.data.clear();
        file.read(offset, t.data);
        assign(slot, offset);
        t.dirty = false;
        t.lastUse = ++clock;
        return t;
    }

    /** A new all-zero table at {@code offset} (dirty: it must reach the file). */
    Table create(long offset) throws IOException {
        int slot = index.get(offset);
        if (slot < 0) {
            slot = victim();
        }
        Table t = tables[slot];
        java.util.Arrays.fill(t.data.array(), (byte) 0);
        assign(slot, offset);
        t.dirty = true;
        t.lastUse = ++clock;
        return t;
    }

    /** The cached table at {@code offset}, or null. */
    Table lookup(long offset) {
        int i = index.get(offset);
        if (i < 0) {
            return null;
        }
        Table t = tables[i];
        t.lastUse = ++clock;
        return t;
    }

    /** Drops the table at {@code offset} without writing it (its cluster was freed). */
    void forget(long offset) {
        int i = index.get(offset);
        if (i >= 0) {
            index.remove(offset);
            tables[i].offset = -1;
            tables[i].dirty = false;
            tables[i].lastUse = 0;
        }
    }

    /** Re-keys slot {@code slot} to {@code offset}. */
    private void assign(int slot, long offset) {
        Table t = tables[slot];
        if (t.offset >= 0) {
            index.remove(t.offset);
        }
        t.offset = offset;
        if (offset >= 0) {
            index.put(offset, slot);
        }
    }

    boolean anyDirty() {
        for (int i = 0; i < count; i++) {
            if (tables[i].dirty) {
                return true;
            }
        }
        return false;
    }

    /** Writes every dirty table (no flush: the owner orders flushes). */
    void writeDirty() throws IOException {
        for (int i = 0; i < count; i++) {
            write(tables[i]);
        }
    }

    private void write(Table t) throws IOException {
        if (t.dirty && t.offset >= 0) {
            t.data.clear();
            file.write(t.offset, t.data);
            t.dirty = false;
        }
    }

    /** A free slot: a new one while the cache grows, else the least recently used, written first if dirty. */
    private int victim() throws IOException {
        if (count < tables.length) {
            tables[count] = new Table(tableSize);
            return count++;
        }
        int lru = 0;
        for (int i = 1; i < count; i++) {
            if (tables[i].lastUse < tables[lru].lastUse) {
                lru = i;
            }
        }
        if (tables[lru].dirty) {
            evictor.beforeWrite(this);
            write(tables[lru]);
        }
        return lru;
    }
}
