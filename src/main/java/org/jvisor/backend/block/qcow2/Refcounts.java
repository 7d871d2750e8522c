package org.jvisor.backend.block.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The refcount table and its refcount blocks (QEMU docs/interop/qcow2.txt, "Host cluster
 * management"), and the cluster allocator built on them. Refcounts of 1 to 64 bits
 * (refcount_order 0 to 6) are read and written. A missing refcount block is created inside the
 * range it describes, so it counts itself; when the table is full a larger one is written past
 * the end of the file together with the blocks that count it, made durable, and only then does
 * the header point to it (the old table is freed later, like any cluster).
 *
 * <p>Decrements are deferred: a cluster an L2 or L1 change stopped using keeps its refcount until
 * {@link #applyDeferred} runs, which the backend calls only after that change is on disk; so a
 * crash can leave a cluster counted but unused (a leak), never used but uncounted.
 * Not thread-safe; the backend serialises access.
 */
final class Refcounts {
    /** Marks the image corrupt and returns the exception to throw (the backend's). */
    interface Corruption {
        IOException corrupt(String what);
    }

    static final long REFTABLE_OFFSET_MASK = 0xFFFF_FFFF_FFFF_FE00L;

    private final Qcow2File file;
    private final int clusterBits;
    private final long clusterSize;
    private final int order;
    private final int blockBits;
    private final long maxRefcount;
    private final TableCache blocks;
    private final OffsetSet blockOffsets = new OffsetSet();
    private final Corruption corruption;
    private long[] table;
    private long tableOffset;
    private int tableClusters;
    private boolean tableDirty;
    private long freeHint;
    private long endCluster;
    private long[] deferred = new long[64];
    private int deferredCount;

    Refcounts(Qcow2File file, Qcow2Header h, int cacheTables, Corruption corruption) throws IOException {
        this.file = file;
        this.clusterBits = h.clusterBits();
        this.clusterSize = h.clusterSize();
        this.order = h.refcountOrder();
        this.blockBits = clusterBits + 3 - order;
        this.maxRefcount = order == 6 ? -1L : (1L << (1 << order)) - 1;
        this.corruption = corruption;
        this.blocks = new TableCache(file, (int) clusterSize, cacheTables, c -> { });
        this.tableOffset = h.refcountTableOffset();
        this.tableClusters = h.refcountTableClusters();
        int entries = (int) (((long) tableClusters << clusterBits) / 8);
        ByteBuffer b = ByteBuffer.allocate(entries * 8);
        file.read(tableOffset, b);
        table = new long[entries];
        for (int i = 0; i < entries; i++) {
            table[i] = b.getLong(i * 8);
            long off = table[i] & REFTABLE_OFFSET_MASK;
            if (off != 0) {
                blockOffsets.add(off);
            }
        }
        endCluster = (file.size() + clusterSize - 1) >>> clusterBits;
        freeHint = 0;
    }

    long tableOffset() {
        return tableOffset;
    }

    long tableBytes() {
        return (long) tableClusters << clusterBits;
    }

    boolean isBlock(long hostOffset) {
        return blockOffsets.contains(hostOffset);
    }

    /** The first cluster index past the file and everything allocated. */
    long endCluster() {
        return endCluster;
    }

    /** The refcount of host cluster {@code cluster} (0 where no block describes it). */
    long get(long cluster) throws IOException {
        long bi = cluster >>> blockBits;
        if (bi >= table.length) {
            return 0;
        }
        long off = table[(int) bi] & REFTABLE_OFFSET_MASK;
        if (off == 0) {
            return 0;
        }
        return read(block(off, bi), (int) (cluster & ((1L << blockBits) - 1)));
    }

    /**
     * Allocates {@code n} contiguous free clusters with refcount 1; returns the host offset of the
     * first. Free means refcount 0, past the end of the file too: a refcount block may count
     * clusters there (leaked by a crash, or a damaged image's), and QEMU's allocator
     * (alloc_clusters_noref) skips them as it skips any counted cluster. Taking one would give it
     * a second reference: one more than a 1-bit refcount holds, and with wider refcounts a count
     * that no longer matches the image's references.
     */
    long allocate(int n) throws IOException {
        long c = freeHint;
        scan:
        while (true) {
            for (int i = 0; i < n; i++) {
                if (get(c + i) != 0) {
                    c += i + 1;
                    continue scan;
                }
            }
            break;
        }
        endCluster = Math.max(endCluster, c + n);
        for (int i = 0; i < n; i++) {
            take(c + i, c, c + n);
        }
        if (n == 1 || c == freeHint) {
            freeHint = c + n;
        }
        return c << clusterBits;
    }

    /** Sets the refcount of the free {@code cluster} to 1, creating its refcount block if needed. */
    private void take(long cluster, long reservedStart, long reservedEnd) throws IOException {
        TableCache.Table t = ensureBlock(cluster >>> blockBits, reservedStart, reservedEnd);
        int i = (int) (cluster & ((1L << blockBits) - 1));
        long v = read(t, i);
        if (v != 0) {
            // allocate() chose it because its refcount read 0; anything else means the blocks changed under it
            throw corruption.corrupt("cluster " + cluster + " was chosen for allocation but has refcount " + v);
        }
        write(t, i, 1);
    }

    /** Drops the refcount of {@code cluster} once what stopped using it is durable (see class comment). */
    void deferDecrement(long cluster) {
        if (deferredCount == deferred.length) {
            deferred = java.util.Arrays.copyOf(deferred, deferred.length * 2);
        }
        deferred[deferredCount++] = cluster;
    }

    int deferredCount() {
        return deferredCount;
    }

    /** Applies the deferred decrements; returns how many clusters became free. */
    int applyDeferred(java.util.function.LongConsumer freed) throws IOException {
        int n = 0;
        for (int k = 0; k < deferredCount; k++) {
            long cluster = deferred[k];
            long bi = cluster >>> blockBits;
            long off = bi < table.length ? table[(int) bi] & REFTABLE_OFFSET_MASK : 0;
            if (off == 0) {
                deferredCount = 0;
                throw corruption.corrupt("cluster " + cluster + " was in use but has no refcount block");
            }
            TableCache.Table t = block(off, bi);
            int i = (int) (cluster & ((1L << blockBits) - 1));
            long v = read(t, i);
            if (v == 0) {
                deferredCount = 0;
                throw corruption.corrupt("refcount of cluster " + cluster + " would drop below zero");
            }
            write(t, i, v - 1);
            if (v == 1) {
                n++;
                freeHint = Math.min(freeHint, cluster);
                freed.accept(cluster << clusterBits);
            }
        }
        deferredCount = 0;
        return n;
    }

    /**
     * Sets every refcount to {@code counted[c]} (0 past its end): the repair of an image whose
     * refcounts lazy refcounting left stale ({@link Qcow2Repair}). Nothing is allocated from the
     * stale counts: a missing refcount block goes past the end of the file and of everything
     * counted, where no cluster is in use, and counts itself. The blocks are durable, then the
     * table. Returns how many refcounts changed.
     */
    long rebuild(int[] counted) throws IOException {
        // Refcount overflow: a count the entries cannot hold is refused before anything changes
        // (QEMU's check reports it as an overflow and points to amend or convert).
        for (int c = 0; c < counted.length; c++) {
            long want = Integer.toUnsignedLong(counted[c]);
            if (maxRefcount != -1 && want > maxRefcount) {
                throw new Qcow2FormatException(file.name() + ": refcount overflow: cluster " + c + " is used " + want
                    + " times, more than " + (1 << order) + "-bit refcounts can count; widen them with 'qemu-img amend "
                    + "-o refcount_bits=16' or copy the image with 'qemu-img convert'");
            }
        }
        long end = Math.max(endCluster, counted.length);
        // Clusters of the new blocks, past everything: each must be described by a block too.
        java.util.List<Long> placed = new java.util.ArrayList<>();
        long next = end;
        for (long bi = 0; bi <= (Math.max(end, next) - 1) >>> blockBits; bi++) {
            if (bi < table.length && table[(int) bi] != 0) {
                continue;
            }
            if (!inUse(counted, bi, placed)) {
                continue;
            }
            if (bi >= table.length) {
                throw new IOException(file.name() + ": the image needs a larger refcount table to be repaired; "
                    + "repair it with 'qemu-img check -r all'");
            }
            table[(int) bi] = next << clusterBits;
            blockOffsets.add(next << clusterBits);
            blocks.create(next << clusterBits);
            placed.add(next);
            tableDirty = true;
            next++;
        }
        long changed = 0;
        for (int bi = 0; bi < table.length; bi++) {
            long off = table[bi] & REFTABLE_OFFSET_MASK;
            if (off == 0) {
                continue;
            }
            TableCache.Table t = block(off, bi);
            long first = (long) bi << blockBits;
            for (int i = 0; i < 1 << blockBits; i++) {
                long c = first + i;
                long want = c < counted.length ? Integer.toUnsignedLong(counted[(int) c]) : 0;
                if (c >= end && placed.contains(c)) {
                    want = 1;
                }
                if (read(t, i) != want) {
                    write(t, i, want);
                    changed++;
                }
            }
        }
        blocks.writeDirty();
        file.flush();
        writeTable();
        file.flush();
        endCluster = next;
        freeHint = 0;
        return changed;
    }

    /** Whether block {@code bi} must exist: a cluster it describes is counted or is a placed block. */
    private boolean inUse(int[] counted, long bi, java.util.List<Long> placed) {
        long first = bi << blockBits;
        long last = Math.min(first + (1L << blockBits), counted.length);
        for (long c = first; c < last; c++) {
            if (counted[(int) c] != 0) {
                return true;
            }
        }
        return placed.stream().anyMatch(c -> c >>> blockBits == bi);
    }

    boolean blocksDirty() {
        return blocks.anyDirty();
    }

    boolean tableDirty() {
        return tableDirty;
    }

    void writeBlocks() throws IOException {
        blocks.writeDirty();
    }

    /** Writes the refcount table (its blocks must already be durable). */
    void writeTable() throws IOException {
        if (tableDirty) {
            ByteBuffer b = ByteBuffer.allocate(table.length * 8);
            for (long e : table) {
                b.putLong(e);
            }
            b.flip();
            file.write(tableOffset, b);
            tableDirty = false;
        }
    }

    private TableCache.Table block(long off, long bi) throws IOException {
        if ((off & (clusterSize - 1)) != 0) {
            throw corruption.corrupt(String.format("refcount block %d at %#x is not cluster-aligned", bi, off));
        }
        TableCache.Table t = blocks.lookup(off);
        if (t != null) {
            return t;
        }
        if (off + clusterSize > file.size()) {
            throw corruption.corrupt(String.format("refcount block %d at %#x is beyond the end of the file", bi, off));
        }
        return blocks.get(off);
    }

    private TableCache.Table ensureBlock(long bi, long reservedStart, long reservedEnd) throws IOException {
        if (bi >= table.length) {
            growTable(bi);
        }
        long off = table[(int) bi] & REFTABLE_OFFSET_MASK;
        if (off != 0) {
            return block(off, bi);
        }
        // No block: every cluster it describes is free; put the block in its own range.
        long start = bi << blockBits;
        long x = start;
        if (x >= reservedStart && x < reservedEnd) {
            x = reservedEnd;
        }
        if (x >= start + (1L << blockBits)) {
            throw new IOException(file.name() + ": no room for refcount block " + bi);
        }
        TableCache.Table t = blocks.create(x << clusterBits);
        table[(int) bi] = x << clusterBits;
        blockOffsets.add(x << clusterBits);
        tableDirty = true;
        write(t, (int) (x - start), 1);
        endCluster = Math.max(endCluster, x + 1);
        return t;
    }

    /**
     * Moves the refcount table to a larger one past the end of the file, with new refcount blocks
     * for the clusters it and they occupy; durable before the header points to it.
     */
    private void growTable(long needed) throws IOException {
        long perCluster = clusterSize / 8;
        long entries = Math.max(needed + 1, table.length * 2L);
        entries = Math.max(entries, (endCluster >>> blockBits) + 64);
        entries = (entries + perCluster - 1) / perCluster * perCluster;
        if (entries * 8 > Qcow2HeaderParser.MAX_REFTABLE_BYTES) {
            throw new IOException(file.name() + ": the refcount table would exceed "
                + (Qcow2HeaderParser.MAX_REFTABLE_BYTES >> 20) + " MiB; the image cannot grow further");
        }
        int newClusters = (int) (entries * 8 / clusterSize);
        long t0 = endCluster;
        long[] next = java.util.Arrays.copyOf(table, (int) entries);
        int m = 0;
        while (true) {
            int missing = missingBlocks(next, t0, t0 + newClusters + m);
            if (missing == Integer.MAX_VALUE) {
                throw new IOException(file.name() + ": cannot place a larger refcount table past cluster " + t0);
            }
            if (missing <= m) {
                break;
            }
            m = missing;
        }
        long end = t0 + newClusters + m;
        long blockCluster = t0 + newClusters;
        for (long b = t0 >>> blockBits; b <= (end - 1) >>> blockBits; b++) {
            if (next[(int) b] == 0) {
                next[(int) b] = blockCluster << clusterBits;
                blocks.create(blockCluster << clusterBits);
                blockCluster++;
            }
        }
        for (long c = t0; c < end; c++) {
            long b = c >>> blockBits;
            TableCache.Table t = blocks.get(next[(int) b] & REFTABLE_OFFSET_MASK);
            write(t, (int) (c & ((1L << blockBits) - 1)), 1);
        }
        blocks.writeDirty();
        ByteBuffer tb = ByteBuffer.allocate((int) entries * 8);
        for (long e : next) {
            tb.putLong(e);
        }
        tb.flip();
        file.write(t0 << clusterBits, tb);
        file.flush();
        ByteBuffer hdr = ByteBuffer.allocate(12).putLong(t0 << clusterBits).putInt(newClusters).flip();
        file.write(Qcow2Header.OFF_REFCOUNT_TABLE_OFFSET, hdr);
        file.flush();
        long oldFirst = tableOffset >>> clusterBits;
        for (int i = 0; i < tableClusters; i++) {
            deferDecrement(oldFirst + i);
        }
        for (long e : next) {
            if ((e & REFTABLE_OFFSET_MASK) != 0) {
                blockOffsets.add(e & REFTABLE_OFFSET_MASK);
            }
        }
        table = next;
        tableOffset = t0 << clusterBits;
        tableClusters = newClusters;
        tableDirty = false;
        endCluster = end;
    }

    private int missingBlocks(long[] t, long from, long to) {
        int n = 0;
        for (long b = from >>> blockBits; b <= (to - 1) >>> blockBits; b++) {
            if (b >= t.length) {
                return Integer.MAX_VALUE;
            }
            if (t[(int) b] == 0) {
                n++;
            }
        }
        return n;
    }

    private long read(TableCache.Table t, int i) {
        ByteBuffer d = t.data;
        return switch (order) {
            case 0, 1, 2 -> {
                int perByte = 8 >> order;
                int shift = (i % perByte) << order;
                yield (d.get(i / perByte) >>> shift) & ((1 << (1 << order)) - 1);
            }
            case 3 -> d.get(i) & 0xFFL;
            case 4 -> d.getShort(i * 2) & 0xFFFFL;
            case 5 -> d.getInt(i * 4) & 0xFFFF_FFFFL;
            default -> d.getLong(i * 8);
        };
    }

    private void write(TableCache.Table t, int i, long v) {
        ByteBuffer d = t.data;
        switch (order) {
            case 0, 1, 2 -> {
                int perByte = 8 >> order;
                int shift = (i % perByte) << order;
                int mask = ((1 << (1 << order)) - 1) << shift;
                int b = d.get(i / perByte);
                d.put(i / perByte, (byte) ((b & ~mask) | (((int) v << shift) & mask)));
            }
            case 3 -> d.put(i, (byte) v);
            case 4 -> d.putShort(i * 2, (short) v);
            case 5 -> d.putInt(i * 4, (int) v);
            default -> d.putLong(i * 8, v);
        }
        t.dirty = true;
    }
}
