package org.jvisor.tcg;

import org.jvisor.config.JitOptions;
import java.lang.classfile.Attributes;
import java.lang.classfile.ClassFile;
import java.lang.classfile.MethodModel;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Turns a hot block entry into a {@link Unit}: it snapshots the code page, discovers the
 * {@link Region}, compiles it ({@link UnitCompiler}), defines the class as a hidden class
 * (unloadable once the unit is dropped) and installs it in the VM's {@link UnitTable}. One
 * thread uses an instance: a vCPU (translating at once, for tests) or the VM's
 * {@link BackgroundTranslator}. HotSpot compiles the generated method once it is hot.
 */
final class Translator {
    /**
     * HotSpot never JIT-compiles methods over 8000 bytes of bytecode (HugeMethodLimit): a unit
     * larger than this is made again from fewer instructions.
     */
    static final int MAX_CODE_BYTES = 7900;
    /** Warm-up calls of a new unit's method: past HotSpot's second check (2 x 128 > 200). */
    static final int WARM_CALLS = 256;

    /**
     * The cost model's budget per unit (estimates are rough; the compiled size is checked). Well
     * below the limit: C2's arenas for a method grow with its size (they count in jvisor's own
     * memory), and a larger unit leaves C2 less room to inline the memory accessors.
     */
    private static final int ESTIMATED_BYTES = 4000;
    private static final MethodHandles.Lookup LOOKUP = MethodHandles.lookup();

    private final MemorySegment ram;
    private final JitOptions options;
    private final UnitTable table;
    private final SharedCode shared;
    private final UnitLibrary library;
    private final Decoder decoder = new Decoder();
    private final byte[] page = new byte[4096];
    /** Linear address of the page being translated. */
    private long pageBase;
    private final JitStats stats;

    Translator(MemorySegment ram, JitOptions options, SharedCode shared, JitStats stats) {
        this.ram = ram;
        this.options = options;
        this.shared = shared;
        this.table = shared.units();
        this.library = shared.library();
        this.stats = stats;
    }

    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    /** This thread's CPU time: translation cost that a loaded host's scheduling does not inflate. */
    private static long cpuNanos() {
        return THREADS.getCurrentThreadCpuTime();
    }

    /** Block entries before the code at host offset {@code off} is translated. */
    int threshold(long off) {
        return table.threshold(off, options.threshold());
    }

    /**
     * Translates the code entered at linear {@code rip} (host offset {@code e.hostOffset}),
     * stopping short of {@code stop}; null when there is nothing worth translating. An entry
     * below its threshold is a probe (another VM found it hot, see {@link UnitLibrary}): it gets a
     * unit only when the library already has its class, or another VM ran it often (its class is
     * then defined here), and otherwise stays as it was.
     */
    Unit translate(long rip, UnitTable.Entry e, long stop) {
        boolean probe = e.count < threshold(e.hostOffset);
        pageBase = rip & ~0xFFFL;
        long hostPage = e.hostOffset & ~0xFFFL;
        long t0 = cpuNanos();
        // the page becomes code before its bytes are read, so a later write drops the unit
        shared.mark(hostPage);
        snapshot(hostPage);
        int maxInsns = options.maxInsns();
        long stopInPage = (stop & ~0xFFFL) == (rip & ~0xFFFL) ? stop : -1;
        while (true) {
            Region region = Region.build(rip, this::decode, Translator::estimate, stopInPage, maxInsns, ESTIMATED_BYTES);
            if (region.entryBlock().size() == 0) {
                e.declined = true;
                stats.declined++;
                return null;
            }
            long t1 = cpuNanos();
            UnitCompiler.Compiled c = UnitCompiler.compile(region, hostPage);
            long t2 = cpuNanos();
            stats.regionNanos += t1 - t0;
            stats.compileNanos += t2 - t1;
            if (c.nativeCount() == 0) {
                e.declined = true;
                stats.declined++;
                return null;
            }
            int codeBytes = codeLength(c.classFile());
            if (codeBytes > MAX_CODE_BYTES && region.insnCount > 1) {
                maxInsns = Math.max(1, (int) ((long) region.insnCount * MAX_CODE_BYTES / codeBytes * 9 / 10));
                stats.retries++;
                continue;
            }
            long t3 = cpuNanos();
            Class<?> known = library.find(c.classFile());
            if (known == null && probe && !library.wasWarmElsewhere(e.hostOffset, rip, shared.machineId)) {
                stats.probeMisses++;
                return null;
            }
            Unit u = known != null ? instantiate(known, library.shareTables(c.info())) : define(c);
            long t4 = cpuNanos();
            stats.defineNanos += t4 - t3;
            stats.translateNanos += t4 - t0;
            if (u == null || !table.install(e, u)) {
                return null;
            }
            stats.units++;
            if (known != null) {
                stats.sharedUnits++;
            }
            library.markHot(e.hostOffset, rip);
            stats.insns += region.insnCount;
            stats.nativeInsns += c.nativeCount();
            stats.helperInsns += c.helperCount();
            stats.bytecodeBytes += codeBytes;
            return u;
        }
    }

    /**
     * Copies the page in aligned 8-byte loads, so an aligned store of up to 8 bytes by another
     * vCPU is seen either whole or not at all, never torn.
     */
    private void snapshot(long hostPage) {
        for (int i = 0; i < 4096; i += 8) {
            long v = (long) Atomics.LONG.getVolatile(ram, hostPage + i);
            for (int k = 0; k < 8; k++) {
                page[i + k] = (byte) (v >>> (8 * k));
            }
        }
    }

    /** Decodes the instruction at {@code rip} from the snapshot; null when it leaves the page or cannot be decoded. */
    private Insn decode(long rip) {
        if ((rip & ~0xFFFL) != pageBase) {
            return null;
        }
        int po = (int) (rip & 0xFFF);
        int n = Math.min(Decoder.MAX_INSN_LEN, 4096 - po);
        System.arraycopy(page, po, decoder.buffer(), 0, n);
        decoder.setAvailable(n, null);
        Insn in = new Insn();
        try {
            decoder.decode(in, 64);
        } catch (CpuFault f) {
            return null; // crosses the page end, or too long: the interpreter raises what it must
        }
        if (po + in.len > 4096) {
            return null;
        }
        InsnPool pool = library.insns();
        return pool == null ? in : pool.intern(in);
    }

    /** Bytecode bytes an instruction costs, roughly: interpreted ones carry a state save and reload. */
    private static int estimate(Insn in) {
        if (in.lock || in.rep != 0 && in.op < 0x100 || in.op >= 0x200 || (in.op >= 0x110 && in.op < 0x140)
                || (in.op >= 0x150 && in.op < 0x180) || (in.op >= 0x1C0 && in.op < 0x1C8) || in.op >= 0x1D0
                || in.op == 0xF6 && (in.reg & 7) >= 6 || in.op == 0xF7 && (in.reg & 7) >= 6) {
            return 300;
        }
        return 60;
    }

    private static int codeLength(byte[] classFile) {
        for (MethodModel m : ClassFile.of().parse(classFile).methods()) {
            if (m.methodName().equalsString("run")) {
                return m.findAttribute(Attributes.code()).map(a -> a.codeLength()).orElse(0);
            }
        }
        return 0;
    }

    /** A new unit of the generated class {@code k} (defined here or by another VM) over this VM's code. */
    private static Unit instantiate(Class<?> k, Unit.Info info) {
        try {
            MethodHandle ctor = LOOKUP.findConstructor(k, MethodType.methodType(void.class, Unit.Info.class));
            return (Unit) ctor.invoke(info);
        } catch (Throwable t) {
            throw new IllegalStateException("tcg translator: the unit at RIP " + Long.toHexString(info.rip())
                + " cannot be made: " + t, t);
        }
    }

    /**
     * Calls enough to reach HotSpot's first compile of a new unit's method (C1 is asked for at
     * the interpreter's check after 200 invocations, {@code Tier3InvocationThreshold}; it checks
     * every 128, {@code Tier0InvokeNotifyFreqLog}): without them the unit's first few hundred
     * runs were HotSpot-interpreted bytecode, several times slower per guest instruction than
     * jvisor's own interpreter, so translating paid only after them (BENCHMARKS.md, "Long blocks
     * and warm units"). A negative budget returns at once, before the unit touches any state.
     * Not with every block translated at its first run (jit=always, the tests' mode): most of
     * those units run a few times, and asking C1 for each cost a demo boot 92 s of CPU against
     * 73 s without (56.6 against 49.1 s wall, one boot each, 2026-12-08).
     */
    private static void warm(Unit u) {
        for (int i = 0; i < WARM_CALLS; i++) {
            u.run(null, -1);
        }
    }

    private Unit define(UnitCompiler.Compiled c) {
        try {
            MethodHandles.Lookup hidden = LOOKUP.defineHiddenClass(c.classFile(), true);
            Unit u = instantiate(hidden.lookupClass(), library.shareTables(c.info()));
            if (options.threshold() > 0) {
                warm(u);
            }
            library.add(c.classFile(), hidden.lookupClass());
            return u;
        } catch (OutOfMemoryError e) {
            // metaspace or code cache full: drop every translation so their classes can unload
            table.clear();
            library.forgetRecent();
            stats.flushes++;
            return null;
        } catch (Throwable t) {
            throw new IllegalStateException("tcg translator: the unit at RIP " + Long.toHexString(c.info().rip())
                + " does not load: " + t, t);
        }
    }
}
