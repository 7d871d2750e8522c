package org.jvisor.tcg;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import org.jvisor.cpu.ExitReason;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.X86State;
import org.jvisor.memory.AddressSpace;
import org.jvisor.memory.DirtyLog;
import org.jvisor.memory.GuestMemory;

/**
 * Linear-to-physical translation and guest memory access: 4-level paging with 4 KiB, 2 MiB and
 * 1 GiB pages, A/D updates, NX, WP, U/S and global pages (SDM vol. 3, 4.5), behind a direct-mapped
 * soft TLB with separate read, write and fetch entries. A TLB entry keeps the difference between
 * host offset and linear address, so a hit is one compare and one load. Accesses outside RAM go to
 * the MMIO address space; writes to pages holding decoded code invalidate that code.
 */
public final class Mmu {
    static final int READ = 0, WRITE = 1, EXEC = 2;

    private static final int TLB_BITS = 10;
    private static final int TLB_SIZE = 1 << TLB_BITS;
    private static final int TLB_MASK = TLB_SIZE - 1;
    private static final long INVALID = -1L;
    /** Guest-physical address width we report (CPUID 0x80000008) and enforce in entries. */
    static final int PHYS_BITS = 40;
    private static final long ADDR_MASK = ((1L << PHYS_BITS) - 1) & ~0xFFFL;
    private static final long RSVD_HI = ((1L << 52) - 1) & ~((1L << PHYS_BITS) - 1);

    private static final ValueLayout.OfByte B = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort W = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt D = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong Q = ValueLayout.JAVA_LONG_UNALIGNED;

    private final X86State s;
    private final GuestMemory ram;
    private final MemorySegment mem;
    /**
     * Guest RAM's host address: the TLB fast paths below access host addresses the TLB fill
     * already checked against guest RAM ({@link HostMemory}); through {@code mem} each load paid
     * for reading the segment's bounds and session again after every call (the md5 units spent
     * most of their time in guest loads).
     */
    private final long memBase;
    private final AddressSpace mmio;
    private final ExitStats stats;
    private CodeCache code;
    private Runnable onFlush = () -> { };

    private final long[] rdTag = new long[TLB_SIZE];
    private final long[] rdDelta = new long[TLB_SIZE];
    private final boolean[] rdGlobal = new boolean[TLB_SIZE];
    private final long[] wrTag = new long[TLB_SIZE];
    private final long[] wrDelta = new long[TLB_SIZE];
    private final boolean[] wrGlobal = new boolean[TLB_SIZE];
    private final long[] exTag = new long[TLB_SIZE];
    private final long[] exDelta = new long[TLB_SIZE];
    private final boolean[] exGlobal = new boolean[TLB_SIZE];
    // offset mask of the page that filled each entry (0xFFF, or 2 MiB / 4 MiB / 1 GiB - 1), for INVLPG
    private final long[] rdSpan = new long[TLB_SIZE];
    private final long[] wrSpan = new long[TLB_SIZE];
    private final long[] exSpan = new long[TLB_SIZE];
    /** Some entry was filled from a large page since the last full flush: INVLPG must scan. */
    private boolean largeFilled;

    /**
     * Records RAM before it is written, while set (the translator's lockstep verifier); the
     * write TLB is not filled meanwhile, so every write passes here.
     */
    WriteLog writeLog;

    /** Live migration's record of written pages; a page not yet dirty gets no write mapping. */
    private final DirtyLog dirty;

    /** Sees guest RAM about to be written (host offset and size). */
    interface WriteLog {
        void before(long hostOff, int size);

        /** A paging-structure entry gets its accessed or dirty bit. */
        void beforeWalkUpdate(long hostOff, int size);
    }

    /** 1 while CPL is 3 (user accesses), else 0; part of every TLB tag. */
    int user;
    /** Bumped on every flush, so callers caching translations can notice. */
    int epoch;

    // results of the last walk, for the TLB fill
    private boolean walkGlobal;
    private boolean walkWritable;
    /** Offset mask of the page the last walk ended in (0xFFF for 4 KiB). */
    private long walkSpan;

    Mmu(X86State s, GuestMemory ram, AddressSpace mmio, ExitStats stats) {
        this.s = s;
        this.ram = ram;
        this.dirty = ram.dirtyLog();
        this.mem = ram.segment();
        this.memBase = mem.address();
        this.mmio = mmio;
        this.stats = stats;
        flushAll();
    }

    /** The RAM write protection the write TLB was filled under ({@link GuestMemory#protectionEpoch}). */
    private int protectionEpoch;

    /**
     * Drops the TLB when RAM write protection changed since it was filled (the host bridge's PAM
     * registers, written through port I/O: called after each OUT).
     */
    void checkWriteProtection() {
        int e = ram.protectionEpoch();
        if (e != protectionEpoch) {
            protectionEpoch = e;
            flushAll();
        }
    }

    void attach(CodeCache code, Runnable onFlush) {
        this.code = code;
        this.onFlush = onFlush;
    }

    MemorySegment memory() {
        return mem;
    }

    // ---- TLB maintenance (SDM vol. 3, 4.10.4) ----

    void flushAll() {
        java.util.Arrays.fill(rdTag, INVALID);
        java.util.Arrays.fill(wrTag, INVALID);
        java.util.Arrays.fill(exTag, INVALID);
        largeFilled = false;
        epoch++;
        onFlush.run();
    }

    /** MOV to CR3: drops all but global entries (when CR4.PGE is set). */
    void flushNonGlobal() {
        if ((s.cr4 & X86State.CR4_PGE) == 0) {
            flushAll();
            return;
        }
        for (int i = 0; i < TLB_SIZE; i++) {
            if (!rdGlobal[i]) {
                rdTag[i] = INVALID;
            }
            if (!wrGlobal[i]) {
                wrTag[i] = INVALID;
            }
            if (!exGlobal[i]) {
                exTag[i] = INVALID;
            }
        }
        epoch++;
        onFlush.run();
    }

    /**
     * INVLPG: drops the page's entries, global or not, for both privilege levels. When the address
     * lies in a large page, every 4 KiB entry filled from that page goes too (SDM vol. 3, 4.10.4.1:
     * INVLPG invalidates all TLB entries for the page, whatever its size).
     */
    void flushPage(long lin) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        rdTag[i] = INVALID;
        wrTag[i] = INVALID;
        exTag[i] = INVALID;
        if (largeFilled) {
            for (int k = 0; k < TLB_SIZE; k++) {
                if (inLargePage(rdTag[k], rdSpan[k], lin)) {
                    rdTag[k] = INVALID;
                }
                if (inLargePage(wrTag[k], wrSpan[k], lin)) {
                    wrTag[k] = INVALID;
                }
                if (inLargePage(exTag[k], exSpan[k], lin)) {
                    exTag[k] = INVALID;
                }
            }
        }
        epoch++;
        onFlush.run();
    }

    /** Whether a valid entry came from a large page that contains {@code lin}. */
    private static boolean inLargePage(long tag, long span, long lin) {
        return tag != INVALID && span != 0xFFF && (((tag & ~0xFFFL) ^ lin) & ~span) == 0;
    }

    /** Drops every write entry: from now on each write takes the slow path (until entries are filled again). */
    void dropAllWrites() {
        java.util.Arrays.fill(wrTag, INVALID);
    }

    /** A page became a code page: writes to it must take the slow path from now on. */
    void dropWritesTo(long hostPage) {
        for (int i = 0; i < TLB_SIZE; i++) {
            long t = wrTag[i];
            if (t != INVALID && ((t & ~0xFFFL) + wrDelta[i]) == hostPage) {
                wrTag[i] = INVALID;
            }
        }
    }

    // ---- data accesses ----

    long read(long lin, int size) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (rdTag[i] == ((lin & ~0xFFFL) | user) && (lin & 0xFFF) <= 0x1000 - size) {
            long off = lin + rdDelta[i];
            return switch (size) {
                case 1 -> HostMemory.get1(memBase + off);
                case 2 -> HostMemory.get2(memBase + off);
                case 4 -> HostMemory.get4(memBase + off);
                default -> HostMemory.get8(memBase + off);
            };
        }
        return readSlow(lin, size, user);
    }

    long read64(long lin) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (rdTag[i] == ((lin & ~0xFFFL) | user) && (lin & 0xFFF) <= 0xFF8) {
            return HostMemory.get8(memBase + lin + rdDelta[i]);
        }
        return readSlow(lin, 8, user);
    }

    void write(long lin, int size, long v) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (wrTag[i] == ((lin & ~0xFFFL) | user) && (lin & 0xFFF) <= 0x1000 - size) {
            long off = lin + wrDelta[i];
            switch (size) {
                case 1 -> HostMemory.put1(memBase + off, v);
                case 2 -> HostMemory.put2(memBase + off, v);
                case 4 -> HostMemory.put4(memBase + off, v);
                default -> HostMemory.put8(memBase + off, v);
            }
            return;
        }
        writeSlow(lin, size, v, user);
    }

    void write64(long lin, long v) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (wrTag[i] == ((lin & ~0xFFFL) | user) && (lin & 0xFFF) <= 0xFF8) {
            HostMemory.put8(memBase + lin + wrDelta[i], v);
            return;
        }
        writeSlow(lin, 8, v, user);
    }

    // Size-specific accessors for translated code: small enough for C2 to inline at every memory
    // operand, so a TLB hit is a tag compare and one load or store; misses go out of line.

    long read1(long lin) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (rdTag[i] == ((lin & ~0xFFFL) | user)) {
            return HostMemory.get1(memBase + lin + rdDelta[i]);
        }
        return readSlow(lin, 1, user);
    }

    long read2(long lin) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (rdTag[i] == ((lin & ~0xFFFL) | user) && (lin & 0xFFF) <= 0xFFE) {
            return HostMemory.get2(memBase + lin + rdDelta[i]);
        }
        return readSlow(lin, 2, user);
    }

    long read4(long lin) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (rdTag[i] == ((lin & ~0xFFFL) | user) && (lin & 0xFFF) <= 0xFFC) {
            return HostMemory.get4(memBase + lin + rdDelta[i]);
        }
        return readSlow(lin, 4, user);
    }

    void write1(long lin, long v) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (wrTag[i] == ((lin & ~0xFFFL) | user)) {
            HostMemory.put1(memBase + lin + wrDelta[i], v);
            return;
        }
        writeSlow(lin, 1, v, user);
    }

    void write2(long lin, long v) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (wrTag[i] == ((lin & ~0xFFFL) | user) && (lin & 0xFFF) <= 0xFFE) {
            HostMemory.put2(memBase + lin + wrDelta[i], v);
            return;
        }
        writeSlow(lin, 2, v, user);
    }

    void write4(long lin, long v) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (wrTag[i] == ((lin & ~0xFFFL) | user) && (lin & 0xFFF) <= 0xFFC) {
            HostMemory.put4(memBase + lin + wrDelta[i], v);
            return;
        }
        writeSlow(lin, 4, v, user);
    }

    /** Implicit supervisor-mode accesses (descriptor tables, TSS, IDT; SDM vol. 3, 4.6). */
    long readSys(long lin, int size) {
        return readSlow(lin, size, 0);
    }

    void writeSys(long lin, int size, long v) {
        writeSlow(lin, size, v, 0);
    }

    private long readSlow(long lin, int size, int u) {
        if ((lin & 0xFFF) > 0x1000 - size) {
            long v = 0;
            for (int k = 0; k < size; k++) {
                v |= (readSlow(lin + k, 1, u) & 0xFF) << (8 * k);
            }
            return v;
        }
        long pa = translate(lin, READ, u);
        long off = ram.offsetOf(pa, size);
        if (off >= 0) {
            return getHost(off, size);
        }
        return mmioRead(pa, size);
    }

    private void writeSlow(long lin, int size, long v, int u) {
        if ((lin & 0xFFF) > 0x1000 - size) {
            // check both pages before writing anything, so a fault leaves memory untouched
            translate(lin, WRITE, u);
            translate(lin + size - 1, WRITE, u);
            for (int k = 0; k < size; k++) {
                writeSlow(lin + k, 1, v >>> (8 * k), u);
            }
            return;
        }
        long pa = translate(lin, WRITE, u);
        long off = ram.offsetOf(pa, size);
        if (off >= 0) {
            if (ram.writeProtected(pa)) {
                return; // ROM, or BIOS RAM the PAM registers made read-only: the write goes nowhere
            }
            beforeWrite(off, size);
            putHost(off, size, v);
            wroteHost(off, size);
        } else {
            mmioWrite(pa, size, v);
        }
    }

    /**
     * Host offset for storing {@code size} bytes through the host mapping (a locked
     * read-modify-write, a run of REP MOVS/STOS), after the write checks, or -1 when the range is
     * not plain RAM inside one page (MMIO or page-crossing). The caller stores through it and then
     * calls {@link #wroteHost}.
     */
    long hostOffsetForWrite(long lin, int size) {
        if ((lin & 0xFFF) > 0x1000 - size) {
            return -1;
        }
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (wrTag[i] == ((lin & ~0xFFFL) | user)) {
            return lin + wrDelta[i]; // a write entry exists only for RAM that is no code, log or ROM
        }
        long pa = translate(lin, WRITE, user);
        long off = ram.offsetOf(pa, size);
        if (off >= 0) {
            if (ram.writeProtected(pa)) {
                return -1; // the slow path drops it
            }
            beforeWrite(off, size);
        }
        return off;
    }

    /**
     * Host offset of [lin, lin + len) for reading, when that lies in RAM inside one page, else
     * -1 (MMIO, or crossing a page); faults as a read would.
     */
    long hostOffsetForRead(long lin, int len) {
        if ((lin & 0xFFF) > 0x1000 - len) {
            return -1;
        }
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (rdTag[i] == ((lin & ~0xFFFL) | user)) {
            return lin + rdDelta[i];
        }
        return ram.offsetOf(translate(lin, READ, user), len);
    }

    /**
     * Before a store to RAM outside the TLB fast path: a store into the running unit's code page
     * stops the unit ({@link CodeModified}), and the translator's verifier logs the old bytes.
     */
    private void beforeWrite(long off, int size) {
        if (code != null) {
            code.checkRunningUnit(off, size);
        }
        if (writeLog != null) {
            writeLog.before(off, size);
        }
    }

    /**
     * After a store to RAM outside the TLB fast path: decoded code of the page is thrown away on
     * every vCPU. After the store, not before, so that a vCPU decoding the page again meanwhile
     * reads the new bytes (SDM vol. 3, 8.1.3).
     */
    void wroteHost(long off, int size) {
        dirty.markHost(off, size);
        if (code != null) {
            code.noteWrite(off, size);
        }
    }

    long getHost(long off, int size) {
        return switch (size) {
            case 1 -> mem.get(B, off) & 0xFFL;
            case 2 -> mem.get(W, off) & 0xFFFFL;
            case 4 -> mem.get(D, off) & 0xFFFF_FFFFL;
            default -> mem.get(Q, off);
        };
    }

    void putHost(long off, int size, long v) {
        switch (size) {
            case 1 -> mem.set(B, off, (byte) v);
            case 2 -> mem.set(W, off, (short) v);
            case 4 -> mem.set(D, off, (int) v);
            default -> mem.set(Q, off, v);
        }
    }

    private long mmioRead(long pa, int size) {
        if (stats.timed()) {
            long t0 = System.nanoTime();
            long v = mmio.read(pa, size);
            stats.record(ExitReason.MMIO_READ, System.nanoTime() - t0);
            return v;
        }
        stats.count(ExitReason.MMIO_READ);
        return mmio.read(pa, size);
    }

    private void mmioWrite(long pa, int size, long v) {
        long mask = size == 8 ? -1L : (1L << (size * 8)) - 1;
        if (stats.timed()) {
            long t0 = System.nanoTime();
            mmio.write(pa, size, v & mask);
            stats.record(ExitReason.MMIO_WRITE, System.nanoTime() - t0);
            return;
        }
        stats.count(ExitReason.MMIO_WRITE);
        mmio.write(pa, size, v & mask);
    }

    // ---- instruction fetch ----

    /** Host offset of the byte at {@code lin} for execution, or -1 when it is not RAM. */
    long fetchOffset(long lin) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        if (exTag[i] == ((lin & ~0xFFFL) | user)) {
            return lin + exDelta[i];
        }
        long pa = translate(lin, EXEC, user);
        return ram.offsetOf(pa, 1);
    }

    /**
     * Whether an instruction fetch at {@code lin} would read code page {@code hostPage} now, by
     * the fetch TLB alone (false on a miss, which costs the caller a full lookup, never a walk).
     */
    boolean fetchHits(long lin, long hostPage) {
        int i = (int) (lin >>> 12) & TLB_MASK;
        return exTag[i] == ((lin & ~0xFFFL) | user) && ((lin + exDelta[i]) & ~0xFFFL) == hostPage;
    }

    /** Guest-physical address of an instruction byte (for the code cache key when RAM). */
    long fetchPhys(long lin) {
        return translate(lin, EXEC, user);
    }

    // ---- translation ----

    /** Translates, raising #PF or #GP, and fills the TLB entry for the access kind when the page is RAM. */
    long translate(long lin, int acc, int u) {
        long pa;
        boolean global = false;
        boolean writable = true;
        walkSpan = 0xFFF;
        if ((s.cr0 & X86State.CR0_PG) == 0) {
            pa = (s.efer & X86State.EFER_LMA) != 0 ? lin : lin & 0xFFFF_FFFFL;
        } else if ((s.efer & X86State.EFER_LMA) != 0) {
            if ((lin << 16) >> 16 != lin) {
                throw CpuFault.gp0(); // non-canonical (SDM vol. 1, 3.3.7.1)
            }
            pa = walk4(lin, acc, u);
            global = walkGlobal;
            writable = walkWritable;
        } else if ((s.cr4 & X86State.CR4_PAE) != 0) {
            pa = walkPae(lin & 0xFFFF_FFFFL, acc, u);
            global = walkGlobal;
            writable = walkWritable;
        } else {
            pa = walk32(lin & 0xFFFF_FFFFL, acc, u);
            global = walkGlobal;
            writable = walkWritable;
        }
        long pagePa = pa & ~0xFFFL;
        long hostPage = ram.offsetOf(pagePa, 0x1000);
        if (hostPage >= 0) {
            int i = (int) (lin >>> 12) & TLB_MASK;
            long tag = (lin & ~0xFFFL) | u;
            long delta = hostPage - (lin & ~0xFFFL);
            long span = walkSpan;
            largeFilled |= span != 0xFFF;
            switch (acc) {
                case READ -> {
                    rdTag[i] = tag;
                    rdDelta[i] = delta;
                    rdGlobal[i] = global;
                    rdSpan[i] = span;
                }
                case WRITE -> {
                    rdTag[i] = tag;
                    rdDelta[i] = delta;
                    rdGlobal[i] = global;
                    rdSpan[i] = span;
                    if (writable && writeLog == null && (code == null || !code.isCodePage(hostPage))
                            && dirty.allowsWriteMapping(hostPage) && !ram.writeProtected(pagePa)) {
                        wrTag[i] = tag;
                        wrDelta[i] = delta;
                        wrGlobal[i] = global;
                        wrSpan[i] = span;
                        // another vCPU may have made the page a code page since the check: it drops
                        // the entries it sees after marking, we drop ours if we see the mark now
                        // (a store-load fence on each side, see SharedCode#mark)
                        VarHandle.fullFence();
                        if (code != null && code.isCodePage(hostPage)) {
                            wrTag[i] = INVALID;
                        }
                    }
                }
                default -> {
                    exTag[i] = tag;
                    exDelta[i] = delta;
                    exGlobal[i] = global;
                    exSpan[i] = span;
                }
            }
        }
        return pa;
    }

    private long physRead64(long pa) {
        long off = ram.offsetOf(pa, 8);
        return off >= 0 ? mem.get(Q, off) : mmio.read(pa, 8);
    }

    private long physRead32(long pa) {
        long off = ram.offsetOf(pa, 4);
        return off >= 0 ? mem.get(D, off) & 0xFFFF_FFFFL : mmio.read(pa, 4);
    }

    private void setBits64(long pa, long old, long bits) {
        if ((old & bits) == bits) {
            return;
        }
        long off = ram.offsetOf(pa, 8);
        if (off >= 0) {
            if (code != null) {
                code.checkRunningUnit(off, 8);
            }
            if (writeLog != null) {
                writeLog.beforeWalkUpdate(off, 8);
            }
            // atomic OR so a concurrent walker on another vCPU does not lose a bit
            long cur;
            do {
                cur = (long) Atomics.LONG.getVolatile(mem, off);
            } while (!Atomics.LONG.compareAndSet(mem, off, cur, cur | bits));
            dirty.markHost(off, 8);
            if (code != null) {
                code.noteWrite(off, 8);
            }
        }
    }

    private void setBits32(long pa, long old, long bits) {
        if ((old & bits) == bits) {
            return;
        }
        long off = ram.offsetOf(pa, 4);
        if (off >= 0) {
            if (writeLog != null) {
                writeLog.beforeWalkUpdate(off, 4);
            }
            int cur;
            do {
                cur = (int) Atomics.INT.getVolatile(mem, off);
            } while (!Atomics.INT.compareAndSet(mem, off, cur, cur | (int) bits));
        }
    }

    private final long[] entryAddr = new long[4];
    private final long[] entryVal = new long[4];

    /** 4-level paging (SDM vol. 3, 4.5). */
    private long walk4(long lin, int acc, int u) {
        boolean nxe = (s.efer & X86State.EFER_NXE) != 0;
        long rsvd = RSVD_HI | (nxe ? 0 : 1L << 63);
        long table = s.cr3 & ADDR_MASK;
        boolean rw = true, us = true, nx = false;
        int n = 0;
        long e = 0;
        long pageMask = 0xFFF;
        for (int level = 4; level >= 1; level--) {
            int shift = 12 + 9 * (level - 1);
            long ea = table + ((lin >>> shift) & 0x1FF) * 8;
            e = physRead64(ea);
            entryAddr[n] = ea;
            entryVal[n++] = e;
            if ((e & 1) == 0) {
                throw pageFault(lin, acc, u, false, false);
            }
            boolean ps = (e & 0x80) != 0;
            boolean bad = (e & rsvd) != 0
                || (level == 4 && ps)
                || (level == 3 && ps && (e & 0x3FFF_E000L) != 0)
                || (level == 2 && ps && (e & 0x1F_E000L) != 0);
            if (bad) {
                throw pageFault(lin, acc, u, true, true);
            }
            rw &= (e & 2) != 0;
            us &= (e & 4) != 0;
            nx |= nxe && e < 0;
            if (level == 1 || (ps && level <= 3)) {
                pageMask = (1L << shift) - 1;
                break;
            }
            table = e & ADDR_MASK;
        }
        return finishWalk(lin, acc, u, rw, us, nx, n, e, pageMask);
    }

    /**
     * The end of a 64-bit-entry walk (4-level and PAE): the permission check, then accessed bits on
     * every entry used and the dirty bit on the leaf for a write (SDM vol. 3, 4.8), and what the
     * soft TLB keeps of the translation.
     */
    private long finishWalk(long lin, int acc, int u, boolean rw, boolean us, boolean nx, int n, long e, long pageMask) {
        check(lin, acc, u, rw, us, nx);
        for (int k = 0; k < n; k++) {
            setBits64(entryAddr[k], entryVal[k], 0x20);
        }
        if (acc == WRITE) {
            setBits64(entryAddr[n - 1], entryVal[n - 1] | 0x20, 0x40);
        }
        walkGlobal = (e & 0x100) != 0;
        walkWritable = writable(u, rw, us);
        walkSpan = pageMask;
        return ((e & ADDR_MASK) & ~pageMask) | (lin & pageMask);
    }

    /** Whether the TLB may serve writes: user needs R/W and U/S; supervisor needs R/W unless CR0.WP is clear. */
    private boolean writable(int u, boolean rw, boolean us) {
        return u != 0 ? rw && us : rw || (s.cr0 & X86State.CR0_WP) == 0;
    }

    /** PAE paging for 32-bit protected mode (SDM vol. 3, 4.4); PDPTEs read at walk time. */
    private long walkPae(long lin, int acc, int u) {
        boolean nxe = (s.efer & X86State.EFER_NXE) != 0;
        long rsvd = RSVD_HI | (nxe ? 0 : 1L << 63);
        long pdpte = physRead64((s.cr3 & 0xFFFF_FFE0L) + ((lin >>> 30) & 3) * 8);
        if ((pdpte & 1) == 0) {
            throw pageFault(lin, acc, u, false, false);
        }
        long table = pdpte & ADDR_MASK;
        boolean rw = true, us = true, nx = false;
        int n = 0;
        long e = 0;
        long pageMask = 0xFFF;
        for (int level = 2; level >= 1; level--) {
            int shift = 12 + 9 * (level - 1);
            long ea = table + ((lin >>> shift) & 0x1FF) * 8;
            e = physRead64(ea);
            entryAddr[n] = ea;
            entryVal[n++] = e;
            if ((e & 1) == 0) {
                throw pageFault(lin, acc, u, false, false);
            }
            boolean ps = (e & 0x80) != 0 && level == 2;
            if ((e & rsvd) != 0 || (ps && (e & 0x1F_E000L) != 0)) {
                throw pageFault(lin, acc, u, true, true);
            }
            rw &= (e & 2) != 0;
            us &= (e & 4) != 0;
            nx |= nxe && e < 0;
            if (level == 1 || ps) {
                pageMask = (1L << shift) - 1;
                break;
            }
            table = e & ADDR_MASK;
        }
        return finishWalk(lin, acc, u, rw, us, nx, n, e, pageMask);
    }

    /** 32-bit paging with optional 4 MiB pages (SDM vol. 3, 4.3). */
    private long walk32(long lin, int acc, int u) {
        long pdeAddr = (s.cr3 & 0xFFFF_F000L) + ((lin >>> 22) & 0x3FF) * 4;
        long pde = physRead32(pdeAddr);
        if ((pde & 1) == 0) {
            throw pageFault(lin, acc, u, false, false);
        }
        boolean rw = (pde & 2) != 0, us = (pde & 4) != 0;
        if ((pde & 0x80) != 0 && (s.cr4 & X86State.CR4_PSE) != 0) {
            check(lin, acc, u, rw, us, false);
            setBits32(pdeAddr, pde, acc == WRITE ? 0x60 : 0x20);
            walkGlobal = (pde & 0x100) != 0;
            walkWritable = writable(u, rw, us);
            walkSpan = 0x3F_FFFF;
            return (pde & 0xFFC0_0000L) | ((pde & 0x1FE000L) << 19) | (lin & 0x3F_FFFF);
        }
        long pteAddr = (pde & 0xFFFF_F000L) + ((lin >>> 12) & 0x3FF) * 4;
        long pte = physRead32(pteAddr);
        if ((pte & 1) == 0) {
            throw pageFault(lin, acc, u, false, false);
        }
        rw &= (pte & 2) != 0;
        us &= (pte & 4) != 0;
        check(lin, acc, u, rw, us, false);
        setBits32(pdeAddr, pde, 0x20);
        setBits32(pteAddr, pte, acc == WRITE ? 0x60 : 0x20);
        walkGlobal = (pte & 0x100) != 0;
        walkWritable = writable(u, rw, us);
        return (pte & 0xFFFF_F000L) | (lin & 0xFFF);
    }

    private void check(long lin, int acc, int u, boolean rw, boolean us, boolean nx) {
        boolean ok;
        if (u != 0 && !us) {
            ok = false;
        } else if (acc == WRITE) {
            ok = u != 0 ? rw : rw || (s.cr0 & X86State.CR0_WP) == 0;
        } else if (acc == EXEC) {
            ok = !nx;
        } else {
            ok = true;
        }
        if (!ok) {
            throw pageFault(lin, acc, u, true, false);
        }
    }

    /** #PF with its error code (SDM vol. 3, 4.7); CR2 is set when it is delivered. */
    private CpuFault pageFault(long lin, int acc, int u, boolean present, boolean rsvd) {
        int ec = (present ? 1 : 0) | (acc == WRITE ? 2 : 0) | (u != 0 ? 4 : 0) | (rsvd ? 8 : 0)
            | (acc == EXEC && (s.efer & X86State.EFER_NXE) != 0 && (s.cr4 & X86State.CR4_PAE) != 0 ? 16 : 0);
        return CpuFault.pageFault(ec, lin);
    }
}
