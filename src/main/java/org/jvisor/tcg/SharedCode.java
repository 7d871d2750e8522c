package org.jvisor.tcg;

import java.lang.invoke.VarHandle;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Which pages of guest RAM hold decoded code in any vCPU of a VM, so that a store by one vCPU (or
 * a DMA write) throws away the decoded instructions of every vCPU (SDM vol. 3, 8.1.3: cross-
 * modifying code). The writer's own cache is dropped at once; the others drop theirs at their next
 * slice boundary or serializing instruction (CPUID, IRET, MOV to CR...), whichever comes first, so
 * a vCPU runs the old code for at most one slice, and never after it serialized.
 *
 * <p>The order that keeps this true without a lock per store: a store is made, then reported
 * ({@link #written}), so a vCPU that decodes the page again reads the new bytes; a page is marked
 * before its bytes are read for decoding ({@link #mark}), and every vCPU re-checks the mark after
 * filling a write TLB entry (Mmu#translate). One window stays open: a store whose TLB lookup hit
 * just before the mark and that lands after the marking vCPU read the bytes (a store in flight);
 * the next store to the page reports it.
 */
final class SharedCode {
    /** Translated units live at most this many at once (then all are dropped and made anew). */
    private static final int MAX_UNITS = 4096;

    private final long[] bits;
    private final CopyOnWriteArrayList<TcgCpu> cpus = new CopyOnWriteArrayList<>();
    private final UnitTable units;
    private final UnitLibrary library;
    /** This VM among the machines sharing {@link #library}. */
    final int machineId;

    SharedCode(long ramSize) {
        this(ramSize, new UnitLibrary());
    }

    SharedCode(long ramSize, UnitLibrary library) {
        this.bits = new long[(int) ((ramSize >>> 12) + 63 >>> 6)];
        this.units = new UnitTable(ramSize, MAX_UNITS);
        this.library = library;
        this.machineId = library.machineId();
    }

    /** The unit classes and hot entries this VM shares (with other VMs, when it was given a library). */
    UnitLibrary library() {
        return library;
    }

    /** The VM's translated code. */
    UnitTable units() {
        return units;
    }

    private BackgroundTranslator background;
    private boolean closed;

    /** The VM's background translator, started on first use; null once the VM closed. */
    synchronized BackgroundTranslator background(java.lang.foreign.MemorySegment ram, org.jvisor.config.JitOptions options) {
        if (closed) {
            return null;
        }
        if (background == null) {
            background = new BackgroundTranslator(ram, options, this);
        }
        return background;
    }

    /** Stops the background translator and waits for it: call before guest RAM is unmapped. */
    void close() {
        stopBackground(true);
    }

    /**
     * Stops the background translator (a later request starts another, unless {@code forGood}).
     * It joins the thread outside this object's lock: a translation in progress calls
     * {@link #mark}, which takes it.
     */
    private void stopBackground(boolean forGood) {
        BackgroundTranslator b;
        synchronized (this) {
            closed |= forGood;
            b = background;
            background = null;
        }
        if (b != null) {
            b.close();
        }
    }

    /** What the background translator did, or null when it never ran. */
    synchronized JitStats backgroundStats() {
        return background == null ? null : background.stats;
    }

    void register(TcgCpu cpu) {
        cpus.add(cpu);
    }

    /** How many vCPUs the VM has now. */
    int vcpuCount() {
        return cpus.size();
    }

    void unregister(TcgCpu cpu) {
        cpus.remove(cpu);
        if (cpus.isEmpty()) {
            stopBackground(false);
        }
    }

    /** Plain read: a racing update is resolved by the caller's next check. */
    boolean isCode(long hostPage) {
        long p = hostPage >>> 12;
        int i = (int) (p >>> 6);
        return i < bits.length && (bits[i] & (1L << p)) != 0;
    }

    /**
     * A vCPU is about to decode code on this page: from now on no vCPU may write it through its
     * TLB fast path. The fence orders the mark before reading the TLBs, as the filling vCPU orders
     * its entry before reading the mark: one of the two sees the other.
     */
    synchronized void mark(long hostPage) {
        long p = hostPage >>> 12;
        bits[(int) (p >>> 6)] |= 1L << p;
        VarHandle.fullFence();
        for (TcgCpu c : cpus) {
            c.mmu.dropWritesTo(hostPage);
        }
    }

    /** The page was written: every vCPU forgets its decoded instructions there. {@code by} may be null. */
    void written(long hostPage, TcgCpu by) {
        synchronized (this) {
            long p = hostPage >>> 12;
            int i = (int) (p >>> 6);
            if (i >= bits.length || (bits[i] & (1L << p)) == 0) {
                return;
            }
            bits[i] &= ~(1L << p);
        }
        units.dropPage(hostPage);
        for (TcgCpu c : cpus) {
            if (c == by) {
                c.code.drop(hostPage);
            } else {
                c.postCodeInvalidation(hostPage);
            }
        }
    }
}
