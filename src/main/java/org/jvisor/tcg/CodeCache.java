package org.jvisor.tcg;

import java.lang.ref.SoftReference;

/**
 * One vCPU's decoded instructions, cached per 4 KiB page of guest RAM (keyed by host offset,
 * which is guest-physical RAM laid out contiguously). Which pages hold code is tracked VM-wide in
 * {@link SharedCode}: any write to such a page (this vCPU's stores, page-walk A/D updates, other
 * vCPUs, or DMA through {@link TcgCpu#invalidateCode}) throws the page's decoded instructions away
 * (self-modifying code, SDM vol. 3, 8.1.3). Instructions that cross a page boundary are never cached.
 */
final class CodeCache {
    /** Pages per directory block: 2 MiB of guest RAM. */
    private static final int BLOCK_SHIFT = 9, BLOCK = 1 << BLOCK_SHIFT;

    /**
     * The decoded instructions of one page, indexed by byte offset in two levels: 64 chunks of 64
     * offsets, a chunk made when the first instruction in it is decoded. A boot runs ~150
     * instructions per code page, clustered, so this takes about a third of a flat 4096-entry
     * index (16 KiB per page, 28 MiB on the demo boot). The index and the instructions it holds are
     * softly reachable: under heap pressure the collector drops cold pages instead of the VMM
     * running out of memory, and they are decoded again when next run. The vCPU keeps its current
     * page's index strongly ({@code TcgCpu.curChunks}).
     */
    static final class Page {
        static final int CHUNK_SHIFT = 6, CHUNK = 1 << CHUNK_SHIFT, CHUNKS = 4096 >> CHUNK_SHIFT;
        final long hostPage;
        private SoftReference<Insn[][]> chunks;

        Page(long hostPage) {
            this.hostPage = hostPage;
        }

        /** The index, made afresh if it was never made or the collector reclaimed it. */
        Insn[][] chunks() {
            Insn[][] a = chunks == null ? null : chunks.get();
            if (a == null) {
                a = new Insn[CHUNKS][];
                chunks = new SoftReference<>(a);
            }
            return a;
        }

        /** The chunk of {@code index} holding page offset {@code po}, made if missing. */
        static Insn[] chunk(Insn[][] index, int po) {
            Insn[] c = index[po >>> CHUNK_SHIFT];
            if (c == null) {
                c = new Insn[CHUNK];
                index[po >>> CHUNK_SHIFT] = c;
            }
            return c;
        }
    }

    /**
     * Pages by host page number, in blocks made on first use: every code page keeps its own slot.
     * (A direct-mapped table of 4096 slots aliased pages 16 MiB apart: on the demo boot kernel
     * text and user code evicted each other 1441 times, each eviction a page decoded again.)
     * The pages' indexes are softly reachable, so what this holds for good is one small
     * {@link Page} per page ever run.
     */
    private Page[][] dir = new Page[64][];
    private final SharedCode shared;
    private final TcgCpu cpu;
    private final Runnable onDrop;

    CodeCache(SharedCode shared, TcgCpu cpu, Runnable onDrop) {
        this.shared = shared;
        this.cpu = cpu;
        this.onDrop = onDrop;
    }

    boolean isCodePage(long hostPage) {
        return shared.isCode(hostPage);
    }

    /** The page's cache (created, and the page marked as code VM-wide, on first use). */
    Page page(long hostPage) {
        long p = hostPage >>> 12;
        int b = (int) (p >>> BLOCK_SHIFT);
        if (b >= dir.length) {
            dir = java.util.Arrays.copyOf(dir, Math.max(b + 1, dir.length * 2));
        }
        Page[] block = dir[b];
        if (block == null) {
            block = new Page[BLOCK];
            dir[b] = block;
        }
        Page pg = block[(int) p & (BLOCK - 1)];
        if (pg == null) {
            pg = new Page(hostPage);
            block[(int) p & (BLOCK - 1)] = pg;
            shared.mark(hostPage);
        }
        return pg;
    }

    /**
     * Called before every slow-path RAM write by this vCPU: a write into the code page of the unit
     * this vCPU is running stops the unit first ({@link CodeModified}).
     */
    void checkRunningUnit(long hostOff, int size) {
        long first = hostOff >>> 12;
        long last = (hostOff + size - 1) >>> 12;
        for (long p = first; p <= last; p++) {
            if (cpu.runningUnitPage == p << 12 && shared.isCode(p << 12)) {
                throw new CodeModified();
            }
        }
    }

    /**
     * Called after every slow-path RAM write by this vCPU, once the bytes are in memory: a vCPU
     * that decodes the page again after hearing of the write reads the new bytes.
     */
    void noteWrite(long hostOff, int size) {
        long first = hostOff >>> 12;
        long last = (hostOff + size - 1) >>> 12;
        for (long p = first; p <= last; p++) {
            if (shared.isCode(p << 12)) {
                shared.written(p << 12, cpu);
            }
        }
    }

    /** Drops decoded code in host range [off, off + len) on every vCPU (DMA, loaders); any thread. */
    void invalidate(long hostOff, long len) {
        if (len <= 0) {
            return;
        }
        long first = hostOff >>> 12;
        long last = (hostOff + len - 1) >>> 12;
        for (long p = first; p <= last; p++) {
            if (shared.isCode(p << 12)) {
                shared.written(p << 12, null); // every vCPU, this one included, drops it at its next slice
            }
        }
    }

    /** Forgets this vCPU's decoded instructions of one page (owning thread only). */
    void drop(long hostPage) {
        long p = hostPage >>> 12;
        int b = (int) (p >>> BLOCK_SHIFT);
        if (b < dir.length && dir[b] != null) {
            dir[b][(int) p & (BLOCK - 1)] = null;
        }
        onDrop.run();
    }

    void clear() {
        dir = new Page[64][];
        onDrop.run();
    }
}
