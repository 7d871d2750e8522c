package org.jvisor.backend.block.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Repairs an image that was not closed cleanly while it used lazy refcounts (the dirty bit,
 * incompatible feature bit 0 of QEMU docs/interop/qcow2.txt). With lazy refcounts a writer brings
 * refcounts up to date only when it closes the image, so after a crash they can fall short of what
 * the L1 and L2 tables use, and an allocation from them would overwrite live data. QEMU repairs
 * such an image when it opens it writable; jvisor does the same: it counts every reference the
 * metadata holds (header, L1 tables, refcount table and blocks, snapshot table, L2 tables, data and
 * compressed clusters, of the active state and of each internal snapshot), sets each refcount to
 * its count, then sets the active tables' "copied" flags (refcount exactly 1) to match, makes that
 * durable, and only then clears the dirty bit. A crash during the repair leaves the bit set, and
 * the next writable open repairs again.
 */
final class Qcow2Repair {
    /** What a repair changed. */
    record Result(long refcountsChanged, long copiedFlagsChanged) {
    }

    private static final int SNAPSHOT_ENTRY_HEADER = 40;

    private final Qcow2File file;
    private final Qcow2Header h;
    private final String name;
    private final int clusterBits;
    private final int clusterSize;
    private final int[] counted;

    private Qcow2Repair(Qcow2File file, Qcow2Header h) throws Qcow2FormatException {
        this.file = file;
        this.h = h;
        this.name = file.name();
        this.clusterBits = h.clusterBits();
        this.clusterSize = 1 << clusterBits;
        long clusters = (file.size() + clusterSize - 1) >>> clusterBits;
        if (clusters > Integer.MAX_VALUE - 8) {
            throw fail("the file has too many clusters (" + clusters + ") to count in memory");
        }
        this.counted = new int[(int) clusters];
    }

    /** Repairs the dirty image in {@code file}, whose header {@code h} is. */
    static Result repair(Qcow2File file, Qcow2Header h) throws IOException {
        Qcow2Repair r = new Qcow2Repair(file, h);
        if (h.autoclearFeatures() != 0) {
            // A writer clears the autoclear features it does not maintain (persistent bitmaps) before
            // it changes anything; QEMU then ignores the bitmaps, so their clusters are not counted.
            file.write(Qcow2Header.OFF_AUTOCLEAR_FEATURES, ByteBuffer.allocate(8));
            file.flush();
        }
        r.countAll();
        Refcounts refcounts = new Refcounts(file, h, 4, what -> r.fail(what));
        long refcountsChanged = refcounts.rebuild(r.counted);
        long flagsChanged = r.setCopiedFlags();
        file.flush();
        ByteBuffer incompatible = ByteBuffer.allocate(8);
        file.read(Qcow2Header.OFF_INCOMPATIBLE_FEATURES, incompatible);
        incompatible.flip();
        long bits = incompatible.getLong(0) & ~(1L << Qcow2Header.INCOMPAT_DIRTY);
        file.write(Qcow2Header.OFF_INCOMPATIBLE_FEATURES, ByteBuffer.allocate(8).putLong(0, bits));
        file.flush();
        return new Result(refcountsChanged, flagsChanged);
    }

    private Qcow2FormatException fail(String what) {
        return new Qcow2FormatException(name + ": cannot repair the image that was not closed cleanly (dirty bit): "
            + what + "; repair it with 'qemu-img check -r all'");
    }

    private void countAll() throws IOException {
        count(0, clusterSize, "the header");
        count(h.l1TableOffset(), (long) h.l1Size() * 8, "the L1 table");
        long tableBytes = (long) h.refcountTableClusters() << clusterBits;
        count(h.refcountTableOffset(), tableBytes, "the refcount table");
        for (long e : readTable(h.refcountTableOffset(), (int) (tableBytes / 8))) {
            long block = e & Refcounts.REFTABLE_OFFSET_MASK;
            if (block != 0) {
                count(block, clusterSize, "a refcount block");
            }
        }
        countTree(readTable(h.l1TableOffset(), h.l1Size()));
        countSnapshots();
    }

    /** The snapshot table and, for each snapshot, its L1 table and what that maps (qcow2.txt "Snapshots"). */
    private void countSnapshots() throws IOException {
        long pos = h.snapshotsOffset();
        for (int i = 0; i < h.nbSnapshots(); i++) {
            ByteBuffer e = ByteBuffer.allocate(SNAPSHOT_ENTRY_HEADER);
            if (pos < 0 || pos + SNAPSHOT_ENTRY_HEADER > file.size()) {
                throw fail("snapshot table entry " + i + " is outside the file");
            }
            file.read(pos, e);
            long l1Offset = e.getLong(0);
            int l1Size = e.getInt(8);
            int idSize = e.getShort(12) & 0xFFFF;
            int nameSize = e.getShort(14) & 0xFFFF;
            long extra = Integer.toUnsignedLong(e.getInt(36));
            if (l1Size < 0 || (long) l1Size * 8 > Qcow2HeaderParser.MAX_L1_BYTES || (l1Offset & (clusterSize - 1)) != 0) {
                throw fail("snapshot " + i + " has a bad L1 table (offset " + Long.toHexString(l1Offset) + ", "
                    + l1Size + " entries)");
            }
            count(l1Offset, (long) l1Size * 8, "the L1 table of snapshot " + i);
            countTree(readTable(l1Offset, l1Size));
            pos += (SNAPSHOT_ENTRY_HEADER + extra + idSize + nameSize + 7) & ~7L;
        }
        if (h.nbSnapshots() != 0) {
            count(h.snapshotsOffset(), pos - h.snapshotsOffset(), "the snapshot table");
        }
    }

    /** The L2 tables an L1 table points to and the clusters their entries use. */
    private void countTree(long[] l1) throws IOException {
        for (long entry : l1) {
            long l2 = entry & L2Entry.OFFSET_MASK;
            if (l2 == 0) {
                continue;
            }
            count(l2, clusterSize, "an L2 table");
            for (long e : readTable(l2, clusterSize / 8)) {
                if (L2Entry.compressed(e)) {
                    count(L2Entry.compressedOffset(e, clusterBits), L2Entry.compressedSize(e, clusterBits),
                        "a compressed cluster");
                } else if (L2Entry.offset(e) != 0) {
                    count(L2Entry.offset(e), clusterSize, "a data cluster");
                }
            }
        }
    }

    /** One more reference to each cluster of [offset, offset + bytes). */
    private void count(long offset, long bytes, String what) throws Qcow2FormatException {
        if (bytes <= 0) {
            return;
        }
        long first = offset >>> clusterBits;
        long last = (offset + bytes - 1) >>> clusterBits;
        if (offset < 0 || last >= counted.length) {
            throw fail(String.format("%s at %#x is outside the file", what, offset));
        }
        for (long c = first; c <= last; c++) {
            if (++counted[(int) c] == Integer.MAX_VALUE) {
                throw fail("cluster " + c + " is referenced too many times");
            }
        }
    }

    /** Bit 63 of the active L1 and L2 entries: set exactly where the refcount is 1. */
    private long setCopiedFlags() throws IOException {
        long changed = 0;
        long[] l1 = readTable(h.l1TableOffset(), h.l1Size());
        boolean l1Changed = false;
        for (int i = 0; i < l1.length; i++) {
            long l2 = l1[i] & L2Entry.OFFSET_MASK;
            if (l2 == 0) {
                continue;
            }
            long want = copiedFlag(l2);
            if ((l1[i] & L2Entry.COPIED) != want) {
                l1[i] = l1[i] & ~L2Entry.COPIED | want;
                l1Changed = true;
                changed++;
            }
            long[] entries = readTable(l2, clusterSize / 8);
            boolean l2Changed = false;
            for (int k = 0; k < entries.length; k++) {
                long e = entries[k];
                long flag;
                if (L2Entry.compressed(e)) {
                    flag = 0;   // never set on a compressed cluster
                } else if (L2Entry.offset(e) != 0) {
                    flag = copiedFlag(L2Entry.offset(e));
                } else {
                    continue;
                }
                if ((e & L2Entry.COPIED) != flag) {
                    entries[k] = e & ~L2Entry.COPIED | flag;
                    l2Changed = true;
                    changed++;
                }
            }
            if (l2Changed) {
                writeTable(l2, entries);
            }
        }
        if (l1Changed) {
            file.flush();   // the L2 tables before the L1 table that describes them
            writeTable(h.l1TableOffset(), l1);
        }
        return changed;
    }

    private long copiedFlag(long offset) {
        return counted[(int) (offset >>> clusterBits)] == 1 ? L2Entry.COPIED : 0;
    }

    private long[] readTable(long offset, int entries) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(entries * 8);
        file.read(offset, b);
        long[] t = new long[entries];
        for (int i = 0; i < entries; i++) {
            t[i] = b.getLong(i * 8);
        }
        return t;
    }

    private void writeTable(long offset, long[] t) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(t.length * 8);
        for (long e : t) {
            b.putLong(e);
        }
        b.flip();
        file.write(offset, b);
    }
}
