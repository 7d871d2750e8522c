package org.jvisor.tcg;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.SoftReference;
import java.util.Arrays;

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
     * index. Machines that share a library share the index of pages with equal bytes
     * ({@link DecodedPages}); a machine alone keeps its own ({@link #bytes} null). The vCPUs read
     * it with plain loads on the fetch path; entries are published with release stores, as a
     * vCPU of another machine may read them.
     */
    static final class Index {
        private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Insn[].class);
        private static final VarHandle CHUNK_SLOT = MethodHandles.arrayElementVarHandle(Insn[][].class);

        final Insn[][] chunks = new Insn[Page.CHUNKS][];
        /**
         * The page's bytes the index was made for, when machines share it: every instruction in
         * it was decoded from these ({@link #holds}), and a machine takes it only while its page
         * holds exactly these. Null for a machine's own index.
         */
        final byte[] bytes;

        Index(byte[] bytes) {
            this.bytes = bytes;
        }

        /**
         * Whether an instruction decoded from {@code buf[0, len)} at page offset {@code po} may
         * go into this index: the bytes are the index's (always, for an own index). They differ
         * only when the machine's page was written since it took the index, and the write's
         * report, on its way, will drop the page.
         */
        boolean holds(byte[] buf, int po, int len) {
            return bytes == null || Arrays.equals(buf, 0, len, bytes, po, po + len);
        }

        /** Puts {@code in}, decoded at page offset {@code po}, into the index (null forgets the offset). */
        void put(int po, Insn in) {
            int ci = po >>> Page.CHUNK_SHIFT;
            Insn[] c = chunks[ci];
            if (c == null) {
                Insn[] fresh = new Insn[Page.CHUNK];
                c = (Insn[]) CHUNK_SLOT.compareAndExchangeRelease(chunks, ci, (Insn[]) null, fresh);
                if (c == null) {
                    c = fresh;
                }
            }
            SLOT.setRelease(c, po & (Page.CHUNK - 1), in);
        }

        /** The instruction held for page offset {@code po}, or null. */
        Insn get(int po) {
            Insn[] c = chunks[po >>> Page.CHUNK_SHIFT];
            return c == null ? null : c[po & (Page.CHUNK - 1)];
        }
    }

    /**
     * One code page of this vCPU. Its index, and the instructions it holds, are softly reachable:
     * under heap pressure the collector drops cold pages instead of the VMM running out of
     * memory, and they are decoded again when next run. The vCPU keeps its current page's index
     * strongly ({@code TcgCpu.curChunks}).
     */
    static final class Page {
        static final int CHUNK_SHIFT = 6, CHUNK = 1 << CHUNK_SHIFT, CHUNKS = 4096 >> CHUNK_SHIFT;
        final long hostPage;
        private SoftReference<Index> index;

        Page(long hostPage) {
            this.hostPage = hostPage;
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
    private final MemorySegment mem;
    /** Where machines sharing a library share page indexes; null for a machine alone. */
    private final DecodedPages sharedPages;

    CodeCache(SharedCode shared, TcgCpu cpu, MemorySegment mem, Runnable onDrop) {
        this.shared = shared;
        this.cpu = cpu;
        this.mem = mem;
        this.onDrop = onDrop;
        this.sharedPages = shared.library().pages();
    }

    /**
     * The page's index: its own, or the one machines share for the bytes the page holds now
     * (copied after the page was marked as code, so a write from then on drops the page and its
     * link to the index). Made afresh if it was never made or the collector reclaimed it.
     */
    Index index(Page pg) {
        Index x = pg.index == null ? null : pg.index.get();
        if (x == null) {
            if (sharedPages == null) {
                x = new Index(null);
            } else {
                byte[] now = new byte[4096];
                MemorySegment.copy(mem, ValueLayout.JAVA_BYTE, pg.hostPage, now, 0, 4096);
                x = sharedPages.index(now);
            }
            pg.index = new SoftReference<>(x);
        }
        return x;
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
