package org.jvisor.tcg;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Translated code that machines share: the unit classes already defined, keyed by their class
 * file, and the block entries some machine found hot. Machines that run the same guest kernel
 * make the same class files for the same code, so a machine that uses a library another machine
 * filled defines no class again and runs code that HotSpot has already compiled, and it
 * translates the entries the other found hot after a few entries instead of thousands
 * (issue 13: the N-th guest starts warm).
 * <p>
 * Nothing here is trusted across a content change: a class is reused only for a byte-identical
 * class file made from the machine's own code bytes at the time (its decoded instructions, RIPs,
 * host page and exits are all in the bytes), and each machine makes its own {@link Unit} instance
 * with its own decoded instructions, validity and counters. A hot-entry record only makes a
 * machine try early; a try whose class file is new defines nothing and leaves the entry to the
 * normal threshold. An entry another machine interpreted often ({@link #markWarm}), but not often
 * enough to translate, is translated early as well, its class defined if it is new: every boot
 * of the same kernel runs that code again. Classes stay unloadable: the library holds them weakly beyond
 * the last few thousand used, the machines' unit tables strongly.
 * <p>
 * One library may serve many machines in one process at once (thread-safe); each machine that is
 * given none gets its own, where it still saves the definition of code that is dropped and
 * translated again unchanged (a page that shares code and data).
 */
public final class UnitLibrary {
    /** Hot entries remembered at most (then forgotten all at once: they are only a hint). */
    private static final int MAX_HOT = 1 << 16;

    /** A class file as a map key: equal when the bytes are. */
    private static final class ClassKey {
        private final byte[] bytes;
        private final int hash;

        ClassKey(byte[] bytes) {
            this.bytes = bytes;
            this.hash = Arrays.hashCode(bytes);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ClassKey k && k.hash == hash && Arrays.equals(k.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** A weakly held unit class that remembers its key, so the entry goes when the class unloads. */
    private static final class ClassRef extends WeakReference<Class<?>> {
        final ClassKey key;

        ClassRef(Class<?> c, ClassKey key, ReferenceQueue<Class<?>> queue) {
            super(c, queue);
            this.key = key;
        }
    }

    /** A block entry: guest-physical (host offset) and linear address, both part of what a unit embeds. */
    private record HotEntry(long hostOffset, long rip) {
    }

    /**
     * Unit classes kept loaded after the last machine using them let go, most recently used last
     * (a ring, so a class used by many machines may take several places): the next machine that
     * boots the same kernel reuses them, already compiled by HotSpot, instead of defining and
     * warming them up again. Bounded, so a process that boots ever new guests keeps only the code
     * of about the last two boots beyond what its machines hold.
     */
    private static final int KEEP = 8192;

    private final Map<ClassKey, ClassRef> classes = new HashMap<>();
    /** Whether machines share this library (else warm entries are not recorded: no one would use them). */
    private final boolean shared;
    /** Kept classes, or an empty ring for a library of one machine (its classes unload once dropped). */
    private final Class<?>[] recent;
    private int recentNext;

    /** A library for one machine: a class unloads as soon as no unit uses it. */
    public UnitLibrary() {
        this(false);
    }

    /**
     * With {@code shared}, the library serves machines that boot the same guest one after the
     * other, too, and keeps the last {@value #KEEP} classes used loaded for them.
     */
    public UnitLibrary(boolean shared) {
        this.shared = shared;
        this.recent = new Class<?>[shared ? KEEP : 0];
        this.insns = shared ? new InsnPool() : null;
        this.pages = shared ? new DecodedPages() : null;
        this.tables = shared ? new Object[TABLES] : null;
    }
    private final ReferenceQueue<Class<?>> unloaded = new ReferenceQueue<>();
    private final Set<HotEntry> hot = ConcurrentHashMap.newKeySet();
    /** Entries some machine interpreted often, below its threshold, and the first such machine. */
    private final Map<HotEntry, Integer> warm = new ConcurrentHashMap<>();
    private final AtomicInteger machines = new AtomicInteger();
    /** Null for a library of one machine (see {@link #insns}). */
    private final InsnPool insns;
    /** Null for a library of one machine, which keeps its own page indexes (see {@link #pages()}). */
    private final DecodedPages pages;
    private final LongAdder reused = new LongAdder();
    private final LongAdder defined = new LongAdder();

    /** The unit class defined earlier from exactly {@code classFile}, or null. */
    synchronized Class<?> find(byte[] classFile) {
        expunge();
        ClassRef r = classes.get(new ClassKey(classFile));
        Class<?> c = r == null ? null : r.get();
        if (c != null) {
            reused.increment();
            keep(c);
        }
        return c;
    }

    /** Records {@code c}, just defined from {@code classFile}. */
    synchronized void add(byte[] classFile, Class<?> c) {
        expunge();
        ClassKey k = new ClassKey(classFile);
        classes.put(k, new ClassRef(c, k, unloaded));
        defined.increment();
        keep(c);
    }

    /** Lets the kept classes go (metaspace or the code cache is full): the machines' units alone hold theirs. */
    synchronized void forgetRecent() {
        Arrays.fill(recent, null);
    }

    private void keep(Class<?> c) {
        if (recent.length > 0) {
            recent[recentNext] = c;
            recentNext = (recentNext + 1) % recent.length;
        }
    }

    /**
     * The decoded instructions the machines using this library share; null for one machine,
     * whose instructions stay where it decoded them (next to their neighbours in the heap: a lone
     * machine's interpreter ran about a tenth slower with pooled ones, measured on a busy host).
     */
    InsnPool insns() {
        return insns;
    }

    /**
     * The code pages' decoded-instruction indexes the machines using this library share; null
     * for one machine, which keeps its own (and needs no copy of a page's bytes to check them).
     */
    DecodedPages pages() {
        return pages;
    }

    /**
     * Slots of the lossy table of units' per-instruction tables ({@link #shareTables}): four per
     * unit, ~5000 units per boot of the demo guest.
     */
    private static final int TABLES = 1 << 15;
    /** Null for a library of one machine. */
    private final Object[] tables;

    /**
     * {@code info} with its per-instruction tables replaced by equal ones a unit of another
     * machine holds: the fault RIPs, retired-count adjustments, interpreted flags and helper
     * instructions of the same kernel code are the same in every machine (about 2 MiB per
     * machine). Only equal contents are shared (helpers by identity: they are pooled), and no
     * one writes a table once its unit is made. Lossy like {@link InsnPool}: a miss only costs
     * the sharing. Unchanged for a library of one machine.
     */
    Unit.Info shareTables(Unit.Info info) {
        if (tables == null) {
            return info;
        }
        long[] rip = info.faultRip();
        int[] adj = info.faultAdj();
        boolean[] in = info.interpreted();
        Insn[] helpers = info.helpers();
        synchronized (tables) {
            rip = held(rip, Arrays.hashCode(rip), (a, b) -> Arrays.equals((long[]) a, (long[]) b));
            adj = held(adj, Arrays.hashCode(adj) * 31 + 1, (a, b) -> Arrays.equals((int[]) a, (int[]) b));
            in = held(in, Arrays.hashCode(in) * 31 + 2, (a, b) -> Arrays.equals((boolean[]) a, (boolean[]) b));
            helpers = held(helpers, Arrays.hashCode(helpers) * 31 + 3, (a, b) -> Arrays.equals((Insn[]) a, (Insn[]) b));
        }
        return new Unit.Info(info.rip(), info.minRip(), info.maxEnd(), info.hostPage(), rip, adj, in, helpers,
            info.nativeCount());
    }

    /** The table held in {@code t}'s slot if {@code same} as {@code t}, else {@code t}, now held there. */
    @SuppressWarnings("unchecked")
    private <T> T held(T t, int hash, java.util.function.BiPredicate<Object, Object> same) {
        int i = (hash ^ hash >>> 15) * 0x9E3779B1 >>> 17;
        Object h = tables[i];
        if (h != null && h.getClass() == t.getClass() && same.test(h, t)) {
            return (T) h;
        }
        tables[i] = t;
        return t;
    }

    /** A machine translated the entry at host offset {@code hostOffset}, linear {@code rip}. */
    void markHot(long hostOffset, long rip) {
        if (hot.size() >= MAX_HOT) {
            hot.clear();
        }
        hot.add(new HotEntry(hostOffset, rip));
    }

    /** Whether some machine translated the entry at {@code hostOffset} / {@code rip}. */
    boolean wasHot(long hostOffset, long rip) {
        return hot.contains(new HotEntry(hostOffset, rip));
    }

    /** A number that tells one machine using this library from the others. */
    int machineId() {
        return machines.incrementAndGet();
    }

    /**
     * Machine {@code machine} interpreted the entry at {@code hostOffset} / {@code rip} often,
     * though not often enough to translate it: code every boot runs a few thousand times, which
     * costs each machine more to interpret than a later machine pays to translate it (or, once
     * one machine did, to reuse the class).
     */
    void markWarm(long hostOffset, long rip, int machine) {
        if (!shared) {
            return;
        }
        if (warm.size() >= MAX_HOT) {
            warm.clear();
        }
        warm.putIfAbsent(new HotEntry(hostOffset, rip), machine);
    }

    /** Whether a machine other than {@code machine} found the entry warm (see {@link #markWarm}). */
    boolean wasWarmElsewhere(long hostOffset, long rip, int machine) {
        Integer first = warm.get(new HotEntry(hostOffset, rip));
        return first != null && first != machine;
    }

    private void expunge() {
        for (Object r; (r = unloaded.poll()) != null; ) {
            ClassRef ref = (ClassRef) r;
            classes.remove(ref.key, ref);
        }
    }

    /** Units made from a class defined earlier (by this machine or another). */
    public long reusedUnits() {
        return reused.sum();
    }

    /** Unit classes defined through this library. */
    public long definedClasses() {
        return defined.sum();
    }

    /** Unit classes still loaded. */
    public synchronized int liveClasses() {
        expunge();
        return classes.size();
    }
}
