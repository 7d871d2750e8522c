package org.jvisor.backend.block.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.Consumer;
import org.jvisor.backend.block.BlockBackend;
import org.jvisor.backend.block.DiscardMode;

/**
 * A qcow2 image (QEMU docs/interop/qcow2.txt, versions 2 and 3) as a {@link BlockBackend}: reads
 * through the L1/L2 tables (unallocated clusters from the backing file or zeros, zero clusters,
 * compressed clusters), writes in place where a cluster is allocated with refcount 1 ("copied"),
 * otherwise into a newly allocated cluster filled from what it replaces (copy-on-write from the
 * backing file, a compressed or a shared cluster), discard and write-zeroes by cluster (zero
 * flag on version 3, deallocation or zero data on version 2). Lazy refcounts are never used, so
 * the dirty bit is never set (an image another writer left dirty is repaired on a writable open).
 *
 * <p>Write ordering. qcow2.txt ("Host cluster management": a refcount of 0 means the cluster is
 * free) makes a cluster in use with no count on disk a corruption, and a count with no use only a
 * leak; QEMU keeps the safe order with dependencies between its metadata caches
 * (block/qcow2-cache.c qcow2_cache_set_dependency, used by qcow2_alloc_cluster_link_l2 for
 * allocations and update_refcount for frees). jvisor does the same. Metadata changes stay
 * in write-back caches until a flush, which writes them in this order, each step made durable
 * (fdatasync) before the next starts:
 * <ol>
 *   <li>guest data and refcount blocks with increments (new clusters counted before use);</li>
 *   <li>refcount table entries of new refcount blocks (blocks on disk before they are referenced);</li>
 *   <li>L2 tables (they point only to counted clusters; fresh L2 tables before L1 points to them);</li>
 *   <li>L1 entries;</li>
 *   <li>deferred refcount decrements of clusters those L2/L1 changes stopped using.</li>
 * </ol>
 * An L2 table evicted from its cache early is written only after step 1 and 2; a refcount table
 * that must grow is written, with its blocks, before the header points to it. So whatever a crash
 * or a dropped write cache cuts off, an entry on disk never points to a cluster whose refcount on
 * disk is zero: at worst clusters are counted but unused, which {@code qemu-img check} reports as
 * leaks. Writes the guest has not flushed may be lost, as with any write-back disk cache.
 *
 * <p>Corruption found at run time (an unaligned or out-of-file offset, a data cluster over
 * metadata, a refcount that would drop below zero) fails the request, sets the image's corrupt
 * bit and makes it read-only, as QEMU's qcow2_signal_corruption does. All methods are
 * synchronized; requests that hit allocated clusters allocate nothing.
 */
public final class Qcow2Backend implements BlockBackend {
    /** Opens the backing file an image names (resolution, probing and loop checks are the caller's). */
    @FunctionalInterface
    public interface BackingOpener {
        BlockBackend open(String backingFile, String backingFormat) throws IOException;
    }

    /**
     * Cache budgets: the VMM's heap is small (the launcher gives it ~40 MiB), so 1 MiB of L2
     * tables (QEMU's default before 3.1; 8 GiB of disk with 64 KiB clusters) and 256 KiB of
     * refcount blocks, at least two tables each; tables are allocated as first used.
     */
    private static final int L2_CACHE_BYTES = 1 << 20;
    private static final int REFCOUNT_CACHE_BYTES = 256 << 10;
    /** Zeros to copy from: reads of zero clusters and write-zeroes on version 2 go through it in pieces. */
    private static final int ZEROS = 64 << 10;
    /** Deferred frees past this run the flush sequence, so a huge discard does not pile up. */
    private static final int MAX_DEFERRED = 1 << 16;

    private final Qcow2File file;
    private final String name;
    private final Qcow2Header header;
    private final boolean readOnly;
    private final int clusterBits;
    private final int clusterSize;
    private final int l2Bits;
    private final long[] l1;
    private final boolean[] l1Dirty;
    private final TableCache l2;
    private final OffsetSet l2Offsets = new OffsetSet();
    private final Refcounts refcounts;
    private final CompressedClusterReader compressed;
    private final BlockBackend backing;
    private final Consumer<String> warn;
    /** The copy-on-write buffer, one cluster, allocated at the first write that needs it. */
    private ByteBuffer cluster;
    private final ByteBuffer zeros;
    private final ByteBuffer hostByte = ByteBuffer.allocate(1);
    private boolean corrupt;
    private boolean closed;
    /** discard=unmap: guest discards free clusters; with ignore they complete and change nothing. */
    private final boolean unmap;

    private Qcow2Backend(Qcow2File file, Qcow2Header h, boolean readOnly, long[] l1, BlockBackend backing,
                         Consumer<String> warn, int l2Tables, int refcountBlocks, boolean unmap) throws IOException {
        this.file = file;
        this.unmap = unmap;
        this.name = file.name();
        this.header = h;
        this.readOnly = readOnly;
        this.clusterBits = h.clusterBits();
        this.clusterSize = 1 << clusterBits;
        this.l2Bits = clusterBits - 3;
        this.l1 = l1;
        this.l1Dirty = new boolean[(l1.length + 63) / 64];
        this.backing = backing;
        this.warn = warn;
        this.l2 = new TableCache(file, clusterSize, l2Tables, c -> beforeL2Write());
        this.refcounts = new Refcounts(file, h, refcountBlocks, this::corrupt);
        this.compressed = new CompressedClusterReader(file, clusterBits);
        this.zeros = ByteBuffer.allocate(Math.min(ZEROS, clusterSize));
        for (long e : l1) {
            long off = e & L2Entry.OFFSET_MASK;
            if (off != 0) {
                l2Offsets.add(off);
            }
        }
    }

    /**
     * Opens the qcow2 image in {@code file} (which the backend then owns, with the backing chain).
     * Refuses, with a {@link Qcow2FormatException} naming the file and the fault, headers that fail
     * {@link Qcow2HeaderParser}'s checks, and writable opens of images marked corrupt. A writable
     * open of an image left dirty by lazy refcounts repairs it first ({@link Qcow2Repair}).
     */
    public static Qcow2Backend open(BlockBackend file, boolean readOnly, BackingOpener opener, Consumer<String> warn)
            throws IOException {
        return open(file, readOnly, opener, warn, -1, -1, DiscardMode.UNMAP);
    }

    /** As {@link #open(BlockBackend, boolean, BackingOpener, Consumer)}, the guest's discards handled as {@code discard} says. */
    public static Qcow2Backend open(BlockBackend file, boolean readOnly, BackingOpener opener, Consumer<String> warn,
                                    DiscardMode discard) throws IOException {
        return open(file, readOnly, opener, warn, -1, -1, discard);
    }

    /** As {@link #open(BlockBackend, boolean, BackingOpener, Consumer)} with cache sizes in tables (-1: default). */
    static Qcow2Backend open(BlockBackend file, boolean readOnly, BackingOpener opener, Consumer<String> warn,
                             int l2Tables, int refcountBlocks) throws IOException {
        return open(file, readOnly, opener, warn, l2Tables, refcountBlocks, DiscardMode.UNMAP);
    }

    private static Qcow2Backend open(BlockBackend file, boolean readOnly, BackingOpener opener, Consumer<String> warn,
                                     int l2Tables, int refcountBlocks, DiscardMode discard) throws IOException {
        Qcow2File f = new Qcow2File(file);
        String name = file.describe();
        // The first 4 KiB, then the whole first cluster when cluster_bits says it is larger.
        int n = (int) Math.min(file.size(), 4096);
        byte[] head = new byte[n];
        f.read(0, ByteBuffer.wrap(head));
        if (n >= 24) {
            int bits = ByteBuffer.wrap(head).getInt(20);
            if (bits > 12 && bits <= Qcow2HeaderParser.MAX_CLUSTER_BITS && file.size() > n) {
                n = (int) Math.min(file.size(), 1L << bits);
                head = new byte[n];
                f.read(0, ByteBuffer.wrap(head));
            }
        }
        Qcow2Header h = Qcow2HeaderParser.parse(name, head, n, file.size());
        if (!readOnly && h.hasIncompatible(Qcow2Header.INCOMPAT_CORRUPT)) {
            throw new Qcow2FormatException(name + ": the image is marked corrupt; open it read-only "
                + "(readonly=on) or repair it with 'qemu-img check -r all'");
        }
        if (!readOnly && h.hasIncompatible(Qcow2Header.INCOMPAT_DIRTY)) {
            // As QEMU does on a writable open: repair, then open the repaired image afresh.
            Qcow2Repair.Result r = Qcow2Repair.repair(f, h);
            warn.accept(name + ": the image was not closed cleanly while it used lazy refcounts (dirty bit); repaired: "
                + r.refcountsChanged() + " refcounts and " + r.copiedFlagsChanged() + " copied flags corrected");
            return open(file, readOnly, opener, warn, l2Tables, refcountBlocks, discard);
        }
        long[] l1 = new long[h.l1Size()];
        if (l1.length > 0) {
            ByteBuffer b = ByteBuffer.allocate(l1.length * 8);
            f.read(h.l1TableOffset(), b);
            for (int i = 0; i < l1.length; i++) {
                l1[i] = b.getLong(i * 8);
            }
        }
        BlockBackend backing = null;
        if (h.backingFile() != null) {
            try {
                backing = opener.open(h.backingFile(), h.backingFormat());
            } catch (IOException e) {
                throw new Qcow2FormatException(name + ": could not open backing file " + h.backingFile() + ": "
                    + e.getMessage(), e);
            }
        }
        try {
            if (!readOnly && h.autoclearFeatures() != 0) {
                // Spec: a writer that does not know an autoclear feature must clear its bit.
                f.write(Qcow2Header.OFF_AUTOCLEAR_FEATURES, ByteBuffer.allocate(8));
                f.flush();
            }
            int cs = 1 << h.clusterBits();
            return new Qcow2Backend(f, h, readOnly, l1, backing, warn,
                l2Tables > 0 ? l2Tables : Math.max(2, L2_CACHE_BYTES / cs),
                refcountBlocks > 0 ? refcountBlocks : Math.max(2, REFCOUNT_CACHE_BYTES / cs), discard == DiscardMode.UNMAP);
        } catch (IOException | RuntimeException e) {
            if (backing != null) {
                backing.close();
            }
            throw e;
        }
    }

    public Qcow2Header header() {
        return header;
    }

    /** The backing file's backend, or null. */
    public BlockBackend backing() {
        return backing;
    }

    @Override
    public long size() {
        return header.virtualSize();
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    /** Whether corruption was found at run time (the image is then read-only). */
    public synchronized boolean corrupt() {
        return corrupt;
    }

    @Override
    public String describe() {
        return name;
    }

    // ---- reads ----

    @Override
    public synchronized void read(long offset, ByteBuffer dst) throws IOException {
        checkRange(offset, dst.remaining());
        int limit = dst.limit();
        try {
            while (dst.hasRemaining()) {
                int in = (int) (offset & (clusterSize - 1));
                int n = Math.min(dst.remaining(), clusterSize - in);
                dst.limit(dst.position() + n);
                readCluster(offset, in, dst);
                dst.limit(limit);
                offset += n;
            }
        } catch (RuntimeException e) {
            throw internal(e);
        } finally {
            dst.limit(limit);
        }
    }

    /** A bug met on a damaged image must fail the request, not the device's I/O thread. */
    private IOException internal(RuntimeException e) {
        return new IOException(name + ": internal error in the qcow2 layer: " + e, e);
    }

    /** Fills dst (position to limit, inside one cluster) from guest offset {@code offset}. */
    private void readCluster(long offset, int in, ByteBuffer dst) throws IOException {
        long e = l2Entry(offset >>> clusterBits);
        if (L2Entry.compressed(e)) {
            ByteBuffer c = compressed.read(e);
            putFrom(dst, c, in);
        } else if (L2Entry.zero(e)) {
            putZeros(dst);
        } else if (L2Entry.offset(e) != 0) {
            long host = checkedDataOffset(e);
            file.read(host + in, dst);
        } else {
            readBacking(offset, dst);
        }
    }

    private void readBacking(long offset, ByteBuffer dst) throws IOException {
        if (backing != null && offset < backing.size()) {
            int limit = dst.limit();
            int n = (int) Math.min(dst.remaining(), backing.size() - offset);
            dst.limit(dst.position() + n);
            backing.read(offset, dst);
            dst.limit(limit);
        }
        putZeros(dst);
    }

    /** Fills dst's remaining bytes with zeros, advancing it. */
    private void putZeros(ByteBuffer dst) {
        zeros.clear();
        while (dst.hasRemaining()) {
            int n = Math.min(dst.remaining(), zeros.capacity());
            dst.put(dst.position(), zeros, 0, n);
            dst.position(dst.position() + n);
        }
    }

    /** Copies src[from...] (one of this backend's cluster-sized buffers) into dst's remaining bytes, advancing dst. */
    private static void putFrom(ByteBuffer dst, ByteBuffer src, int from) {
        src.clear();
        int n = dst.remaining();
        dst.put(dst.position(), src, from, n);
        dst.position(dst.position() + n);
    }

    // ---- writes ----

    @Override
    public synchronized void write(long offset, ByteBuffer src) throws IOException {
        checkWritable();
        checkRange(offset, src.remaining());
        int limit = src.limit();
        try {
            while (src.hasRemaining()) {
                int in = (int) (offset & (clusterSize - 1));
                int n = Math.min(src.remaining(), clusterSize - in);
                src.limit(src.position() + n);
                writeCluster(offset, in, src);
                src.limit(limit);
                offset += n;
            }
        } catch (RuntimeException e) {
            throw internal(e);
        } finally {
            src.limit(limit);
        }
        afterMetadataChange();
    }

    private ByteBuffer clusterBuffer() {
        if (cluster == null) {
            cluster = ByteBuffer.allocate(clusterSize);
        }
        return cluster.clear();
    }

    /** Writes src (inside one cluster) at guest offset {@code offset}. */
    private void writeCluster(long offset, int in, ByteBuffer src) throws IOException {
        long gc = offset >>> clusterBits;
        TableCache.Table t = l2ForWrite((int) (gc >>> l2Bits));
        int idx = (int) (gc & ((1L << l2Bits) - 1));
        long e = t.getLong(idx);
        int n = src.remaining();
        if (!L2Entry.compressed(e) && L2Entry.copied(e) && L2Entry.offset(e) != 0) {
            long host = checkedDataOffset(e);
            checkDataTarget(host);
            if (!L2Entry.zero(e)) {
                file.write(host + in, src);
                return;
            }
            // A preallocated zero cluster: zeros around the data, then clear the flag.
            java.util.Arrays.fill(clusterBuffer().array(), (byte) 0);
            cluster.put(in, src, src.position(), n);
            src.position(src.position() + n);
            file.write(host, cluster.clear());
            t.putLong(idx, host | L2Entry.COPIED);
            return;
        }
        long host = refcounts.allocate(1);
        boolean fresh = host >= file.size();
        if (n == clusterSize) {
            file.write(host, src);
        } else {
            boolean zeroFill = fillCluster(e, offset - in);
            if (zeroFill && fresh) {
                // Past the end of the file: the rest of the cluster is a hole that reads as zeros.
                file.write(host + in, src);
                if (in + n < clusterSize) {
                    file.write(host + clusterSize - 1, hostByte.clear());
                }
            } else {
                cluster.put(in, src, src.position(), n);
                src.position(src.position() + n);
                file.write(host, cluster.clear());
            }
        }
        t.putLong(idx, host | L2Entry.COPIED);
        release(e);
    }

    /**
     * Puts in {@link #cluster} what the cluster of L2 entry {@code e} at guest offset
     * {@code guestCluster} reads as; returns true if that is all zeros (not filled then).
     */
    private boolean fillCluster(long e, long guestCluster) throws IOException {
        clusterBuffer();
        if (L2Entry.compressed(e)) {
            cluster.put(0, compressed.read(e), 0, clusterSize);
            return false;
        }
        if (L2Entry.zero(e)) {
            java.util.Arrays.fill(cluster.array(), (byte) 0);
            return true;
        }
        if (L2Entry.offset(e) != 0) {
            file.read(checkedDataOffset(e), cluster);
            cluster.clear();
            return false;
        }
        if (backing != null && guestCluster < backing.size()) {
            readBacking(guestCluster, cluster);
            cluster.clear();
            return false;
        }
        java.util.Arrays.fill(cluster.array(), (byte) 0);
        return true;
    }

    /** Lets go of what an L2 entry pointed to, once the entry's replacement is durable. */
    private void release(long e) {
        if (L2Entry.compressed(e)) {
            long start = L2Entry.compressedOffset(e, clusterBits) & ~511L;
            long end = L2Entry.compressedOffset(e, clusterBits) + L2Entry.compressedSize(e, clusterBits);
            for (long c = start >>> clusterBits; c <= (end - 1) >>> clusterBits; c++) {
                refcounts.deferDecrement(c);
            }
            compressed.invalidate();
        } else if (L2Entry.offset(e) != 0) {
            refcounts.deferDecrement(L2Entry.offset(e) >>> clusterBits);
        }
    }

    /** The L2 table of L1 index {@code l1i}, allocated or copied (shared with a snapshot) as a write needs. */
    private TableCache.Table l2ForWrite(int l1i) throws IOException {
        long l1e = l1[l1i];
        long off = l1e & L2Entry.OFFSET_MASK;
        if (off != 0 && L2Entry.copied(l1e)) {
            return loadL2(off, l1i);
        }
        long fresh = refcounts.allocate(1);
        TableCache.Table t;
        if (off == 0) {
            t = l2.create(fresh);
        } else {
            TableCache.Table old = loadL2(off, l1i);
            clusterBuffer().put(0, old.data, 0, clusterSize);
            t = l2.create(fresh);
            t.data.put(0, cluster, 0, clusterSize);
            refcounts.deferDecrement(off >>> clusterBits);
        }
        l2Offsets.add(fresh);
        l1[l1i] = fresh | L2Entry.COPIED;
        l1Dirty[l1i / 64] = true;
        return t;
    }

    private TableCache.Table loadL2(long off, int l1i) throws IOException {
        TableCache.Table t = l2.lookup(off);
        if (t != null) {
            return t;
        }
        if ((off & (clusterSize - 1)) != 0) {
            throw corrupt(String.format("L2 table offset %#x (L1 index %d) is not cluster-aligned", off, l1i));
        }
        if (off < clusterSize || off + clusterSize > file.size()) {
            throw corrupt(String.format("L2 table offset %#x (L1 index %d) is outside the file", off, l1i));
        }
        return l2.get(off);
    }

    /** The L2 entry of guest cluster {@code gc} (0 when it has no L2 table). */
    private long l2Entry(long gc) throws IOException {
        int l1i = (int) (gc >>> l2Bits);
        long off = l1[l1i] & L2Entry.OFFSET_MASK;
        if (off == 0) {
            return 0;
        }
        return loadL2(off, l1i).getLong((int) (gc & ((1L << l2Bits) - 1)));
    }

    private long checkedDataOffset(long e) throws IOException {
        long host = L2Entry.offset(e);
        if ((host & (clusterSize - 1)) != 0) {
            throw corrupt(String.format("data cluster offset %#x is not cluster-aligned", host));
        }
        if (host >= refcounts.endCluster() << clusterBits) {
            throw corrupt(String.format("data cluster offset %#x is beyond the end of the file", host));
        }
        return host;
    }

    /** QEMU's overlap check: guest data must never land on the header or metadata. */
    private void checkDataTarget(long host) throws IOException {
        String what = null;
        if (host < clusterSize) {
            what = "the header";
        } else if (overlaps(host, header.l1TableOffset(), (long) l1.length * 8)) {
            what = "the L1 table";
        } else if (overlaps(host, refcounts.tableOffset(), refcounts.tableBytes())) {
            what = "the refcount table";
        } else if (refcounts.isBlock(host)) {
            what = "a refcount block";
        } else if (l2Offsets.contains(host)) {
            what = "an L2 table";
        } else if (header.nbSnapshots() != 0 && overlaps(host, header.snapshotsOffset(), 1)) {
            what = "the snapshot table";
        }
        if (what != null) {
            throw corrupt(String.format("a data cluster at %#x overlaps %s (write prevented)", host, what));
        }
    }

    private boolean overlaps(long host, long start, long length) {
        return length > 0 && host < start + length && start < host + clusterSize;
    }

    // ---- discard and write-zeroes ----

    @Override
    public synchronized void discard(long offset, long length) throws IOException {
        checkWritable();
        checkRange(offset, length);
        if (!unmap) {
            return;                                 // discard=ignore: completed, the clusters stay
        }
        try {
            discardClusters(offset, length);
        } catch (RuntimeException e) {
            throw internal(e);
        }
    }

    private void discardClusters(long offset, long length) throws IOException {
        long first = (offset + clusterSize - 1) >>> clusterBits;
        long end = (offset + length) >>> clusterBits;
        if (offset + length == size()) {
            end = (offset + length + clusterSize - 1) >>> clusterBits;   // the partial last cluster
        }
        for (long gc = first; gc < end; gc++) {
            // qcow2 discard (QEMU discard_in_l2_slice): version 3 keeps a backing file hidden with
            // the zero flag; version 2 can only deallocate.
            zeroCluster(gc, header.version() >= 3 && (backing != null || l2Entry(gc) != 0) ? L2Entry.ZERO : 0, true);
        }
        afterMetadataChange();
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, boolean mayUnmap) throws IOException {
        checkWritable();
        checkRange(offset, length);
        try {
            // QEMU drops the guest's may-unmap flag unless discard=unmap (bdrv_co_do_pwrite_zeroes)
            zeroRange(offset, length, mayUnmap && unmap);
        } catch (RuntimeException e) {
            throw internal(e);
        }
    }

    private void zeroRange(long offset, long length, boolean mayUnmap) throws IOException {
        long end = offset + length;
        while (offset < end) {
            int in = (int) (offset & (clusterSize - 1));
            int n = (int) Math.min(end - offset, clusterSize - in);
            long gc = offset >>> clusterBits;
            boolean whole = n == clusterSize || (in == 0 && offset + n == size());
            if (whole && header.version() >= 3) {
                zeroCluster(gc, L2Entry.ZERO, mayUnmap);
            } else if (whole && backing == null && l2Entry(gc) == 0) {
                // version 2, unallocated, no backing file: reads as zeros already
            } else {
                for (int done = 0; done < n; ) {
                    int k = Math.min(n - done, zeros.capacity());
                    writeCluster(offset + done, in + done, zeros.clear().limit(k));
                    done += k;
                }
            }
            offset += n;
        }
        afterMetadataChange();
    }

    /** Sets guest cluster {@code gc} to {@code entry} (0 or ZERO), freeing or keeping its host cluster. */
    private void zeroCluster(long gc, long entry, boolean unmap) throws IOException {
        int l1i = (int) (gc >>> l2Bits);
        if ((l1[l1i] & L2Entry.OFFSET_MASK) == 0 && entry == 0) {
            return;
        }
        TableCache.Table t = l2ForWrite(l1i);
        int idx = (int) (gc & ((1L << l2Bits) - 1));
        long e = t.getLong(idx);
        if (!unmap && entry == L2Entry.ZERO && !L2Entry.compressed(e) && L2Entry.copied(e) && L2Entry.offset(e) != 0) {
            t.putLong(idx, e | L2Entry.ZERO);   // keep the allocation (no unmap), read as zeros
            return;
        }
        if (e == entry) {
            return;
        }
        t.putLong(idx, entry);
        release(e);
    }

    // ---- flush, ordering, corruption ----

    @Override
    public synchronized void flush() throws IOException {
        if (readOnly || closed) {
            return;
        }
        if (corrupt) {
            file.flush();
            return;
        }
        try {
            writeMetadata();
        } catch (RuntimeException e) {
            throw internal(e);
        }
    }

    /** The ordered flush sequence of the class comment. */
    private void writeMetadata() throws IOException {
        refcounts.writeBlocks();
        file.flush();
        if (refcounts.tableDirty()) {
            refcounts.writeTable();
            file.flush();
        }
        if (l2.anyDirty()) {
            l2.writeDirty();
            file.flush();
        }
        if (writeL1()) {
            file.flush();
        }
        if (refcounts.deferredCount() > 0) {
            refcounts.applyDeferred(this::freed);
            refcounts.writeBlocks();
            file.flush();
        }
    }

    /** A host cluster's refcount reached zero: forget any cached copy, give the space back to the host. */
    private void freed(long host) {
        l2.forget(host);
        l2Offsets.remove(host);
        try {
            file.backend().discard(host, Math.min(clusterSize, Math.max(0, file.size() - host)));
        } catch (IOException e) {
            // a hint only: the cluster is free either way
        }
    }

    /** Before an L2 table is written early (cache eviction): steps 1 and 2 of the ordering. */
    private void beforeL2Write() throws IOException {
        refcounts.writeBlocks();
        file.flush();
        if (refcounts.tableDirty()) {
            refcounts.writeTable();
            file.flush();
        }
    }

    private boolean writeL1() throws IOException {
        boolean any = false;
        for (int s = 0; s < l1Dirty.length; s++) {
            if (!l1Dirty[s]) {
                continue;
            }
            int from = s * 64;
            int to = Math.min(l1.length, from + 64);
            ByteBuffer b = ByteBuffer.allocate((to - from) * 8);
            for (int i = from; i < to; i++) {
                b.putLong(l1[i]);
            }
            file.write(header.l1TableOffset() + from * 8L, b.flip());
            l1Dirty[s] = false;
            any = true;
        }
        return any;
    }

    private void afterMetadataChange() throws IOException {
        if (refcounts.deferredCount() > MAX_DEFERRED) {
            writeMetadata();
        }
    }

    /**
     * Records corruption found at run time: sets the corrupt bit on disk once (as QEMU), makes the
     * image read-only from now on, and returns the error for the request.
     */
    private IOException corrupt(String what) {
        String msg = name + ": corrupt qcow2 image: " + what;
        if (!corrupt) {
            corrupt = true;
            warn.accept(msg + "; the image is marked corrupt and now read-only (repair it with 'qemu-img check -r all')");
            if (!readOnly && header.version() >= 3) {   // version 2 has no feature bits to set
                try {
                    ByteBuffer b = ByteBuffer.allocate(8)
                        .putLong(0, header.incompatibleFeatures() | (1L << Qcow2Header.INCOMPAT_CORRUPT));
                    file.write(Qcow2Header.OFF_INCOMPATIBLE_FEATURES, b);
                    file.flush();
                } catch (IOException e) {
                    warn.accept(name + ": could not set the corrupt bit: " + e.getMessage());
                }
            }
        }
        return new IOException(msg);
    }

    private void checkWritable() throws IOException {
        if (readOnly) {
            throw new IOException(name + " is read-only");
        }
        if (corrupt) {
            throw new IOException(name + " is marked corrupt: writes are refused");
        }
    }

    private void checkRange(long offset, long length) throws IOException {
        long size = size();
        if (offset < 0 || length < 0 || offset + length > size || offset + length < offset) {
            throw new IOException(String.format("%s: access [%d, +%d) beyond the virtual size %d", name, offset,
                length, size));
        }
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        try {
            flush();
        } finally {
            closed = true;
            compressed.close();
            try {
                file.close();
            } finally {
                if (backing != null) {
                    backing.close();
                }
            }
        }
    }
}
