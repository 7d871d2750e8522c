package org.jvisor.tcg;

import org.jvisor.config.JitOptions;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.jvisor.cpu.CpuidModel;
import org.jvisor.cpu.ExitReason;
import org.jvisor.cpu.ExitStats;
import org.jvisor.cpu.MachineBus;
import org.jvisor.cpu.X86State;

/**
 * The software x86-64 core: fetch (through the decoded-instruction cache), execute, deliver
 * faults and interrupts, all on a caller-owned {@link X86State} that is the live register file.
 * Between calls to {@link #runUntilRip} / {@link #runChunk} the state is exact (flags included);
 * during them RFLAGS' arithmetic bits may be held lazily.
 */
public final class TcgCpu {
    final X86State s;
    final MachineBus bus;
    final CpuidModel cpuid;
    final ExitStats stats;
    final Mmu mmu;
    final CodeCache code;
    private final SharedCode sharedCode;
    /** Pages other vCPUs (or DMA) wrote while we had their code decoded; dropped at slice boundaries. */
    private final long[] remoteDrops = new long[64];
    private int remoteDropCount;
    private boolean remoteDropOverflow;
    private volatile boolean remoteDropsPending;
    final Decoder decoder = new Decoder();
    final LazyFlags flags;
    final Interpreter interp;
    final Exceptions exc;
    final SystemOps sys;
    final Msrs msrs;
    final StringOps str;
    final SseUnit sse;
    final X87Unit x87;
    /** Serialises locked accesses that cannot use a CAS (unaligned, 16 bytes); shared by all vCPUs of a VM. */
    final Object atomicLock;
    InterruptSource irq;

    private final MemorySegment mem;
    private final boolean logUnimp = Boolean.getBoolean("jvisor.tcg.logUnimp");
    private final java.util.Set<Long> loggedUnimp = new java.util.HashSet<>();

    long retired;
    /** Initial APIC id reported by CPUID.1:EBX[31:24] (the vCPU index). */
    int apicId;
    /** Code-segment mode: 64 (long mode, CS.L), 32 or 16. */
    int mode;
    /** HLT executed; waiting for an interrupt. */
    boolean halted;
    /** {@link #retired} at the last HLT: how long the guest has been busy (JitOptions#steady). */
    long lastHalt;
    /** Instructions retired in user mode before the current stretch of it ({@link #updateMode}). */
    private long userRetired;
    /** {@link #retired} when the vCPU last entered user mode. */
    private long userSince;
    /** {@link #retired}, and the user-mode instructions, at the start of the current span ({@link #servingUser}). */
    private long spanStart, spanUser;
    /** -1 if the last whole span ran mostly user code, else 0 ({@link #servingUser}). */
    private int userBusy;
    /** Interrupts are inhibited while {@link #retired} is below this (STI / MOV SS shadow). */
    long shadowEnd;
    /** An NMI handler is running: further NMIs wait for IRET (SDM vol. 3, 6.7.1). */
    boolean nmiBlocked;
    /** Set by instructions after which the run loop must look at interrupts or mode again. */
    boolean endChunk;
    /**
     * Set from any thread when an interrupt may have become pending ({@link #requestInterruptCheck}):
     * the run loop ends its slice at the next block boundary where the guest can take it, so a
     * device's completion waits one block, not a whole slice of thousands of instructions (QEMU
     * checks its exit request at every translation block's start the same way).
     */
    volatile boolean interruptRequest;   // read by translated loops (UnitCompiler) at their back edges

    /** The translator, or null when translation is off. */
    private final Translator jit;
    private final JitOptions jitOptions;
    /** The VM's background translator, once this vCPU first asked for a translation. */
    private BackgroundTranslator background;
    /** Translate on this thread when an entry is hot (tests), instead of in the background. */
    private final boolean translateAtOnce;
    final JitStats jitStats = new JitStats();
    /** Checks every unit run against the interpreter (-Djvisor.tcg.jitVerify=true), or null. */
    private UnitVerifier verifier;
    /** Host offset of the code page of the unit running now, or -1 (see {@link CodeModified}). */
    long runningUnitPage = -1;
    // jump cache: linear RIP -> block entry, valid while the TLB epoch and the privilege level
    // are unchanged (QEMU's tb_jmp_cache): a user-mode fetch from a supervisor page must fault.
    // 16384 slots: a guest's 4 KiB disk read enters ~1900 blocks, and with 4096 slots one in five
    // missed (two entries on one slot), each miss a page walk of the TLB and a table probe.
    private static final int JC_BITS = 14, JC_SIZE = 1 << JC_BITS;
    private final long[] jcRip = new long[JC_SIZE];
    private final int[] jcEpoch = new int[JC_SIZE];
    private final UnitTable.Entry[] jcEntry = new UnitTable.Entry[JC_SIZE];

    /**
     * The code page the last fetch came from, as its linear page tagged with {@link #fetchKey};
     * dropped by TLB flushes and code invalidation. A change of privilege level or code size
     * (every SYSCALL, SYSRET, interrupt and IRET: ~6 per guest disk read) only changes the key,
     * so the kernel's pages stay cached across a trip to user mode and back.
     */
    private Insn[][] curChunks;
    private long curLinPage = -1;
    /**
     * What else a cached linear code page was fetched under: the MMU's user bit (a user-mode
     * fetch from a page the kernel ran must still fault if the page is supervisor-only) and the
     * mode (page offset bits, free in a page address).
     */
    private long fetchKey;
    private final Insn crossing = new Insn();
    /** Where decoded instructions are shared with the other VMs (and this VM's vCPUs); null for a lone VM. */
    private final InsnPool insnPool;
    /**
     * What {@link #crossing} was decoded from: its linear address, the host offsets of its two
     * parts, the mode, and {@link #codeDrops} then. It stays good while no code page of this vCPU
     * was dropped (any write to either part, here, on another vCPU or by DMA, drops the page) and
     * both parts map where they did. Without it a hot instruction that straddles a page was
     * decoded at every execution (1.3 million of the demo boot's 1.7 million decodes).
     */
    private long crossLin = -1, crossOff, crossOff2;
    private int crossMode;
    private long crossDrops;
    /** Code pages this vCPU dropped (writes, invalidations, clears): the crossing entry's epoch. */
    private long codeDrops;

    public TcgCpu(X86State state, MachineBus bus, CpuidModel cpuid) {
        this(state, bus, cpuid, JitOptions.fromSystemProperties());
    }

    /** A lone CPU (no interrupt source, its own code cache) with the given translator settings. */
    public TcgCpu(X86State state, MachineBus bus, CpuidModel cpuid, JitOptions jitOptions) {
        this(state, bus, cpuid, new ExitStats(false), new Object(), InterruptSource.NONE,
            new SharedCode(bus.ram().hostSize()), jitOptions);
    }

    TcgCpu(X86State state, MachineBus bus, CpuidModel cpuid, ExitStats stats, Object atomicLock, InterruptSource irq,
           SharedCode sharedCode, JitOptions jitOptions) {
        this.s = state;
        this.bus = bus;
        this.cpuid = cpuid;
        this.stats = stats;
        this.atomicLock = atomicLock;
        this.irq = irq;
        this.mem = bus.ram().segment();
        this.mmu = new Mmu(state, bus.ram(), bus.mmio(), stats);
        this.code = new CodeCache(sharedCode, this, mem, () -> {
            codeDrops++;
            dropFetchCache();
        });
        mmu.attach(code, this::dropFetchCache);
        this.sharedCode = sharedCode;
        this.insnPool = sharedCode.library().insns();
        this.flags = new LazyFlags(state);
        this.msrs = new Msrs(this);
        this.exc = new Exceptions(this);
        this.sys = new SystemOps(this);
        this.str = new StringOps(this);
        this.sse = new SseUnit(this);
        this.x87 = new X87Unit(this);
        this.interp = new Interpreter(this);
        this.jit = jitOptions.enabled() ? new Translator(mem, jitOptions, sharedCode, jitStats) : null;
        this.translateAtOnce = jitOptions.threshold() == 0;
        this.jitOptions = jitOptions;
        this.verifier = jit != null && Boolean.getBoolean("jvisor.tcg.jitVerify") ? new UnitVerifier(this) : null;
        syncFromState();
        sharedCode.register(this);
    }

    /** Another thread wrote a code page this vCPU may have decoded (see {@link SharedCode}). */
    void postCodeInvalidation(long hostPage) {
        synchronized (remoteDrops) {
            if (remoteDropCount < remoteDrops.length) {
                remoteDrops[remoteDropCount++] = hostPage;
            } else {
                remoteDropOverflow = true;
            }
        }
        remoteDropsPending = true;
    }

    /**
     * A serializing instruction (SDM vol. 3, 9.3): code that other vCPUs modified before it is
     * run as modified from the next instruction on (8.1.3, the executing processor's side).
     */
    void serialize() {
        if (remoteDropsPending) {
            applyRemoteDrops();
        }
    }

    private void applyRemoteDrops() {
        remoteDropsPending = false;
        synchronized (remoteDrops) {
            if (remoteDropOverflow) {
                code.clear();
            } else {
                for (int i = 0; i < remoteDropCount; i++) {
                    code.drop(remoteDrops[i]);
                }
            }
            remoteDropCount = 0;
            remoteDropOverflow = false;
        }
    }

    /** Forgets decoded code and translations (RAM was rewritten behind the vCPU's back: a reset). */
    void flushDerivedState() {
        code.clear();
        sharedCode.units().clear();
        mmu.flushAll();
    }

    /** Leaves the VM's code bookkeeping (the vCPU is closed). */
    void detach() {
        sharedCode.unregister(this);
    }

    /**
     * Executes until RIP equals {@code stopRip} (checked at instruction boundaries) or
     * {@code maxInstructions} have run, which throws IllegalStateException. Guest exceptions go
     * through the IDT; a triple fault throws {@link TripleFaultException}.
     */
    public void runUntilRip(long stopRip, long maxInstructions) {
        syncFromState();
        long budget = maxInstructions;
        try {
            while (s.rip != stopRip) {
                if (budget <= 0) {
                    throw new IllegalStateException(String.format(
                        "tcg: %d instructions executed without reaching RIP %#x (now at %#x)", maxInstructions, stopRip, s.rip));
                }
                if (halted) {
                    if ((s.rflags & X86State.IF) != 0 && irq.hasPendingInterrupt()) {
                        deliverPendingInterrupt();
                        continue;
                    }
                    throw new IllegalStateException(String.format("tcg: guest halted at RIP %#x before reaching %#x", s.rip, stopRip));
                }
                if (!nmiBlocked && deliverNmi()) {
                    continue;
                }
                deliverInterruptIfAny();
                long before = retired;
                step(stopRip, budget);
                budget -= Math.max(1, retired - before);
            }
        } finally {
            syncToState();
        }
    }

    public long instructionsRetired() {
        return retired;
    }

    /** Drops decoded code overlapping guest-physical [gpa, gpa + len) (DMA, loaders, other vCPUs). */
    public void invalidateCode(long gpa, long len) {
        long end = gpa + len;
        for (long p = gpa & ~0xFFFL; p < end; p += 0x1000) {
            long off = bus.ram().offsetOf(p, 0x1000);
            if (off >= 0) {
                code.invalidate(off, 0x1000);
            }
        }
    }

    /** The time-stamp counter as RDTSC reads it now: 1 GHz, host nanoTime plus the guest's offset. */
    public long tsc() {
        return msrs.tsc();
    }

    /** Replaces the interrupt controller seam (the PIC/LAPIC of a later issue). */
    public void setInterruptSource(InterruptSource source) {
        this.irq = source;
    }

    public X86State state() {
        return s;
    }

    /** Re-reads everything derived from the state (after loadState or external edits). */
    void syncFromState() {
        flags.clear();
        s.rflags |= X86State.FIXED1;
        updateMode();
        mmu.flushAll();
        dropFetchCache();
    }

    /** Makes the state exact: RFLAGS gets its computed arithmetic bits. */
    void syncToState() {
        flags.materialize();
    }

    void updateMode() {
        if ((s.cr0 & X86State.CR0_PE) == 0) {
            mode = 16;
        } else if ((s.efer & X86State.EFER_LMA) != 0 && s.cs.l) {
            mode = 64;
        } else {
            mode = s.cs.db ? 32 : 16;
        }
        int user = (s.cs.selector & 3) == 3 ? 1 : 0;
        if (user != mmu.user) { // a mode switch: count the user-mode stretch it ends (servingUser)
            if (user != 0) {
                userSince = retired;
            } else {
                userRetired += retired - userSince;
            }
        }
        mmu.user = user;
        fetchKey = mmu.user | mode << 1;
    }

    boolean interruptible() {
        return (s.rflags & X86State.IF) != 0 && retired >= shadowEnd;
    }

    /** Acknowledges and delivers one external interrupt, leaving HLT. */
    boolean deliverPendingInterrupt() {
        int vector = irq.acknowledgeInterrupt();
        if (vector < 0) {
            return false;
        }
        deliver(vector, -1, Exceptions.EXTERNAL);
        return true;
    }

    /**
     * Delivers an event at the current RIP, leaving HLT; {@code errorCode} -1 is none. A fault
     * raised on the way (a bad gate, a stack that faults) is delivered in its place.
     */
    private void deliver(int vector, int errorCode, int kind) {
        halted = false;
        try {
            exc.deliverEvent(vector, Math.max(errorCode, 0), errorCode >= 0, kind, s.rip);
        } catch (CpuFault f) {
            exc.deliverFault(f);
        }
    }

    /** A stop address no instruction can have (non-canonical). */
    static final long NO_STOP = 0x7FFF_0000_0000_0000L;
    /**
     * Entries after which a block another VM translated is tried from the shared library: enough
     * to skip code run once or twice, few next to the threshold (see {@link UnitLibrary}).
     */
    private static final int SHARED_PROBE = 64;
    /**
     * Entries after which interpreted code counts as warm for the machines sharing this one's
     * library, which translate it at {@link #SHARED_PROBE} (see {@link UnitLibrary#markWarm}):
     * about what a translation costs in interpreted block runs.
     */
    private static final int SHARED_WARM = 1024;

    /** One slice of a vCPU's run loop: an interrupt check, then up to {@code n} instructions. */
    void runSlice(long n) {
        if (!nmiBlocked && deliverNmi()) {
            step(NO_STOP, n);
            return;
        }
        deliverInterruptIfAny();
        step(NO_STOP, n);
    }

    /**
     * Delivers a pending external interrupt if the guest can take one now. This answers an
     * {@link #requestInterruptCheck}; one made while the guest cannot take it stays until it can.
     */
    private void deliverInterruptIfAny() {
        if (interruptible()) {
            interruptRequest = false;
            if (irq.hasPendingInterrupt()) {
                deliverPendingInterrupt();
            }
        }
    }

    /**
     * An interrupt or NMI may have become pending (any thread; the interrupt controller's wake-up):
     * a running slice ends at its next block boundary where the guest can take an interrupt.
     */
    void requestInterruptCheck() {
        interruptRequest = true;
    }

    /** Whether the slice should end so that a requested interrupt check runs: one volatile read. */
    private boolean interruptCheckDue() {
        return interruptRequest && interruptible();
    }

    /**
     * Delivers an event another engine had begun to deliver (restored with the vCPU's state):
     * {@code kind} {@link Exceptions#EXTERNAL} for an interrupt the interrupt controller already
     * gave up, or an NMI (vector 2, which blocks further NMIs until IRET), {@link Exceptions#HARDWARE}
     * for an exception with its {@code errorCode} (-1: none). Leaves HLT.
     */
    void deliverInFlight(int vector, int errorCode, int kind) {
        if (vector == CpuFault.NMI && kind == Exceptions.EXTERNAL) {
            nmiBlocked = true;
        }
        deliver(vector, errorCode, kind);
    }

    /** Delivers a pending NMI (vector 2), leaving HLT; false if there is none. */
    boolean deliverNmi() {
        if (!irq.takeNmi()) {
            return false;
        }
        nmiBlocked = true;
        deliver(CpuFault.NMI, -1, Exceptions.EXTERNAL);
        return true;
    }

    /**
     * Runs up to {@code n} instructions, stopping early at {@code stopRip}, HLT, or an instruction
     * that changes interrupt/mode state. Faults are delivered here. With the translator on, each
     * block entry is looked up: a translated unit runs, otherwise the interpreter runs the block
     * (counting the entry towards translation).
     */
    void step(long stopRip, long n) {
        if (remoteDropsPending) {
            applyRemoteDrops();
        }
        if ((s.rflags & X86State.TF) != 0) {
            singleStep();
            return;
        }
        long limit = retired + Math.min(n, 4096);
        if (retired < shadowEnd) {
            limit = Math.min(limit, shadowEnd);
        }
        endChunk = false;
        while (true) {
            try {
                if (jit == null) {
                    while (retired < limit) {
                        if (interruptCheckDue()) {
                            return;
                        }
                        Insn in = fetch();
                        interp.exec(in);
                        retired++;
                        if (endChunk || s.rip == stopRip) {
                            return;
                        }
                    }
                    return;
                }
                Unit prev = null; // the unit that just exited here, if nothing ran since
                while (retired < limit) {
                    if (interruptCheckDue()) {
                        return;
                    }
                    if (mode == 64 && retired >= shadowEnd) {
                        Unit u = unitAt(s.rip, stopRip);
                        if (u != null) {
                            if (prev != null) {
                                link(prev, u);
                            }
                            prev = runLinked(u, limit, stopRip);
                            if (endChunk || s.rip == stopRip) {
                                return;
                            }
                            if (remoteDropsPending) {
                                applyRemoteDrops();
                            }
                            continue;
                        }
                    }
                    prev = null;
                    long blockRip = s.rip, blockStart = retired;
                    // interpret to the end of the block, where the next entry is looked up
                    while (true) {
                        Insn in = fetch();
                        long pc = s.rip;
                        interp.exec(in);
                        retired++;
                        if (endChunk || s.rip == stopRip) {
                            return;
                        }
                        // a branch ends the block; so does reaching another page, where a unit
                        // may start (regions stop at page ends, and the next one begins there)
                        if (s.rip != pc + in.len || ((s.rip ^ pc) & ~0xFFFL) != 0 || retired >= limit) {
                            break;
                        }
                    }
                    if (retired - blockStart >= JitOptions.LONG_BLOCK) {
                        longBlock(blockRip, retired - blockStart);
                    }
                }
                return;
            } catch (CpuFault f) {
                runningUnitPage = -1;
                exc.deliverFault(f);
                if (s.rip == stopRip || endChunk) {
                    return;
                }
            } catch (CodeModified m) {
                // a unit's store hit its own code page: that instruction runs interpreted
                runningUnitPage = -1;
                jitStats.selfModifyRestarts++;
                try {
                    interp.exec(fetch());
                    retired++;
                } catch (CpuFault f) {
                    exc.deliverFault(f);
                }
                if (s.rip == stopRip || endChunk) {
                    return;
                }
            }
        }
    }

    /**
     * Runs {@code u}, then the unit each one links to ({@link Unit#next}) for as long as the
     * link holds, the slice has budget and no interrupt check is due, so an interrupt waits no
     * longer than at the dispatcher's own unit boundaries. A link is followed only if the target
     * is still valid, starts at this RIP, this vCPU's fetch TLB maps that RIP to the target's code
     * page now, and the target does not run past {@code stopRip}: the checks the lookup makes, on
     * the target's final fields. Returns the last unit run, for the caller to link from.
     */
    private Unit runLinked(Unit u, long limit, long stopRip) {
        long start = retired;
        int runs = 0;
        try {
            while (true) {
                runUnit(u, limit);
                runs++;
                if (endChunk || s.rip == stopRip || remoteDropsPending || retired >= limit || retired < shadowEnd
                    || mode != 64 || interruptCheckDue()) {
                    break;
                }
                Unit n = u.next;
                if (n == null || !n.valid || n.rip != s.rip || !mmu.fetchHits(n.rip, n.hostPage)
                    || stopRip != NO_STOP && n.covers(stopRip)) {
                    break;
                }
                u = n;
            }
        } finally {
            runningUnitPage = -1;
            jitStats.unitRuns += runs;
            jitStats.linkedRuns += runs - 1;
            jitStats.unitInsns += retired - start;
        }
        resumedInside(u);
        return u;
    }

    /** Links {@code from}'s exit to {@code to}, which the dispatcher found there. */
    private void link(Unit from, Unit to) {
        if (from.next != to) {
            from.next = to; // written only when it changes: units are shared between vCPUs
        } else {
            // the link failed on a fetch-TLB entry evicted since: refill it, or it fails again
            try {
                mmu.fetchOffset(to.rip);
            } catch (CpuFault f) {
                // not fetchable now: the link stays unused until the lookup finds it again
            }
        }
    }

    private void runUnit(Unit u, long limit) {
        long before = retired;
        int budget = (int) Math.min(limit - retired, Integer.MAX_VALUE);
        if (verifier != null) {
            verifier.run(u, budget);
        } else {
            runningUnitPage = u.hostPage; // reset once the chain ends (runLinked), or by the fault handlers
            u.run(this, budget);
        }
        u.runs++;
        u.retired += retired - before;
    }

    /**
     * The unit stopped inside its own code: a loop that ran out of slice budget (or a block the
     * region had to leave). It resumes there, so that entry is as hot as the unit: translate it
     * now rather than interpret the loop until its own count is hot.
     */
    private void resumedInside(Unit u) {
        long next = s.rip;
        if (next != u.rip && next >= u.minRip && next < u.maxEnd && !endChunk) {
            hotEntry(next);
        }
    }

    private void hotEntry(long rip) {
        UnitTable.Entry e = cachedEntry(rip);
        if (e != null && e.unit == null && !e.declined) {
            makeHot(e);
        }
    }

    /** Counts {@code e} up to its threshold: hot as if interpreted that often (not a shared probe). */
    private void makeHot(UnitTable.Entry e) {
        e.count = Math.max(e.count, jit.threshold(e.hostOffset));
    }

    /** The block entry for {@code rip} through the vCPU's direct-mapped cache of recent entries. */
    private UnitTable.Entry cachedEntry(long rip) {
        // multiplicative hashing: many block entries are 16-byte aligned (function starts, loop
        // heads), which a hash of the low bits (rip ^ rip >>> 12) crowded into fewer slots
        int i = (int) ((rip * 0x9E37_79B9_7F4A_7C15L) >>> (64 - JC_BITS));
        int key = mmu.epoch << 1 | mmu.user;
        UnitTable.Entry e = jcEntry[i];
        if (e == null || jcRip[i] != rip || jcEpoch[i] != key || e.dead) {
            e = lookupEntry(rip);
            if (e == null) {
                return null;
            }
            jcEntry[i] = e;
            jcRip[i] = rip;
            jcEpoch[i] = key;
        }
        return e;
    }

    /**
     * The translated unit entered at linear {@code rip}, or null: not translated (yet), or it
     * would run past {@code stopRip}. Counts the entry; translates it once hot.
     */
    private Unit unitAt(long rip, long stopRip) {
        UnitTable.Entry e = cachedEntry(rip);
        if (e == null) {
            return null;
        }
        Unit u = e.unit;
        if (u != null) {
            // the unit's code holds the linear RIPs it was translated at: the same physical code
            // mapped elsewhere (a shared library in another process) is interpreted there
            return u.valid && u.rip == rip && (stopRip == NO_STOP || !u.covers(stopRip)) ? u : null;
        }
        if (e.declined) {
            return null;
        }
        int count = ++e.count;
        // the page's own threshold is never below the base one: look it up only past that
        if (count <= jitOptions.threshold() || count <= jit.threshold(e.hostOffset)) {
            if (count == SHARED_PROBE || count == SHARED_WARM) {
                sharedEntry(rip, e, count); // out of line: this loop is the dispatcher's hottest code
            }
            if (mmu.user != 0 ? jitOptions.burst() == 0 || !burstHot(e) : jitOptions.steady() == 0 || !steadyHot(e, count)) {
                return null;
            }
        }
        if (translateAtOnce || stopRip != NO_STOP) {
            return jit.translate(rip, e, stopRip);
        }
        requestTranslation(rip, e);
        return null;
    }

    /**
     * An interpreted block of {@code n} instructions entered at {@code rip} ended: a long one
     * counts n / {@link JitOptions#LONG_BLOCK} entries more towards the threshold, so the
     * instructions interpreted before it is hot are bounded, not only the entries. Straight-line
     * code runs a page per block (the kernel's unrolled SHA-256, BLAKE2s and ChaCha rounds: a
     * sixth of a boot's interpreted instructions), and 20000 entries of it were ~20 million
     * instructions. Only while the guest is busy, as {@link #steadyHot}: an idle guest's code
     * translated early costs more in compiles than it saves. The count may step over the
     * shared-library probes ({@link #SHARED_PROBE}); such an entry is hot soon anyway.
     */
    private void longBlock(long rip, long n) {
        if (mode != 64 || !busy()) {
            return;
        }
        UnitTable.Entry e = cachedEntry(rip);
        if (e != null && e.unit == null && !e.declined) {
            e.count = (int) Math.min(e.count + n / JitOptions.LONG_BLOCK, Integer.MAX_VALUE - 1);
        }
    }

    /**
     * The guest has not halted in the last {@link JitOptions#STEADY_BUSY} instructions: only then
     * do the steady rate and a long block's length count (an idle guest's work between two
     * halts is well under that).
     */
    private boolean busy() {
        return retired - lastHalt >= JitOptions.STEADY_BUSY;
    }

    private static final int BURST_WINDOW_SHIFT = Long.numberOfTrailingZeros(JitOptions.BURST_WINDOW);

    /**
     * Whether {@code e}, user code, has now been entered {@link JitOptions#burst} times within one
     * window of retired instructions: code that is hot now (a loop over a buffer), which the
     * threshold's count alone cannot tell from code entered once a second for hours. Out of line,
     * after the count. Kernel code is left to the threshold: a Linux boot has ~950 entries that
     * burst (initcalls' loops, each run for a moment), which doubled the units a boot makes and
     * added 14-18 MiB to jvisor's memory (issue 14 caps it at 150 MiB) for no faster boot.
     */
    private boolean burstHot(UnitTable.Entry e) {
        int window = (int) (retired >>> BURST_WINDOW_SHIFT);
        if (e.burstWindow != window) {
            e.burstWindow = window;
            e.burst = 1;
            return false;
        }
        if (++e.burst < jitOptions.burst()) {
            return false;
        }
        makeHot(e);
        jitStats.burstHot++;
        return true;
    }

    /**
     * Whether {@code e}, kernel code entered {@code count} times, is now hot by its steady rate:
     * {@link JitOptions#steady} entries or more, in at least one window of retired instructions
     * per 2^{@link JitOptions#STEADY_RATE_SHIFT} of them. A boot's initcall loops, many entries in
     * a window or two, wait for the threshold as before; a read path entered once per request
     * (a few dozen times per window) is translated at a fifth of it. Only windows of a busy guest
     * count (no HLT in the last {@link JitOptions#STEADY_BUSY} instructions): an idle guest runs
     * the same kernel code between halts every second, which translated costs as much as
     * interpreted and its compiles cost more (BENCHMARKS.md, "Idle guest"). Kernel entries count
     * their windows in the fields user code counts its burst in. Out of line, after the count.
     */
    private boolean steadyHot(UnitTable.Entry e, int count) {
        if (!busy()) {
            return false;
        }
        int window = (int) (retired >>> BURST_WINDOW_SHIFT);
        if (e.burstWindow != window) {
            e.burstWindow = window;
            e.burst++;
        }
        // without a branch: a boot never serves user code, so C2 would compile that side as a
        // trap, and its first use (in a workload's first seconds) deoptimized the whole dispatcher
        int windows = count >>> JitOptions.STEADY_RATE_SHIFT;
        int need = windows - ((windows - Math.min(windows, JitOptions.STEADY_WINDOWS)) & servingUser());
        if (count < jitOptions.steady() || e.burst < need) {
            return false;
        }
        makeHot(e);
        jitStats.steadyHot++;
        return true;
    }

    /**
     * -1 if the guest ran mostly user code in the last whole span of
     * {@link JitOptions#STEADY_BUSY} retired instructions, else 0: kernel code entered steadily
     * then serves a user program (md5sum's read path, entered per system call), where a boot's
     * kernel code runs with no user code at all before /init. Called from kernel code only.
     */
    private int servingUser() {
        long span = retired - spanStart;
        if (span >= JitOptions.STEADY_BUSY) {
            userBusy = ~(int) (((userRetired - spanUser) * 2 - span) >> 63); // branch-free, as above
            spanStart = retired;
            spanUser = userRetired;
        }
        return userBusy;
    }

    /** What other machines sharing the library learn from, or give to, an interpreted entry. */
    private void sharedEntry(long rip, UnitTable.Entry e, int count) {
        UnitLibrary lib = sharedCode.library();
        if (count == SHARED_PROBE) {
            if (lib.wasHot(e.hostOffset, rip) || lib.wasWarmElsewhere(e.hostOffset, rip, sharedCode.machineId)) {
                requestTranslation(rip, e); // another VM made this unit, or ran it often
            }
        } else {
            lib.markWarm(e.hostOffset, rip, sharedCode.machineId);
        }
    }

    private void requestTranslation(long rip, UnitTable.Entry e) {
        if (background == null) {
            background = sharedCode.background(mem, jitOptions);
        }
        if (background != null) { // null once the VM closed
            background.request(rip, e); // a no-op while the entry waits in the queue
        }
    }

    /** The block entry for {@code rip} in the VM's table, or null when its code is not fetchable RAM. */
    private UnitTable.Entry lookupEntry(long rip) {
        long off;
        try {
            off = mmu.fetchOffset(rip);
        } catch (CpuFault f) {
            return null; // the interpreter's fetch raises it
        }
        return off < 0 ? null : sharedCode.units().entry(off);
    }

    /** Checks every unit run against the interpreter from now on (tests; see {@link UnitVerifier}). */
    void verifyUnits() {
        if (jit != null && verifier == null) {
            verifier = new UnitVerifier(this);
        }
    }

    /** Unit runs the verifier compared with the interpreter, and those it could not replay. */
    long[] verifiedUnitRuns() {
        return verifier == null ? new long[2] : new long[] {verifier.checked, verifier.skipped};
    }

    /** How many vCPUs share this one's VM (code bookkeeping). */
    int vcpuCount() {
        return sharedCode.vcpuCount();
    }

    /**
     * A unit's exit through an instruction that crosses into the next page (Region.End#CROSS):
     * fetched as the interpreter fetches, so the bytes in that page are read now, whatever it
     * maps to; retired here, as the unit counted the instructions before it.
     */
    void execCrossing() {
        Insn in = fetch();
        jitStats.helperRuns[in.op & 0x3FF]++;
        interp.exec(in);
        retired++;
    }

    /** Runs one instruction for a translated unit, which stored its state in X86State first. */
    void execHelper(Insn in) {
        jitStats.helperRuns[in.op & 0x3FF]++;
        interp.exec(in);
    }

    /**
     * Runs exactly one instruction, interpreted, with no interrupt taken first: a debugger's
     * single step, or one instruction of a run under breakpoints (see {@link TcgVcpu}). The
     * guest's own RFLAGS.TF still traps after it. Faults are delivered here, as in {@link #step}.
     */
    void stepOne() {
        if (remoteDropsPending) {
            applyRemoteDrops();
        }
        if ((s.rflags & X86State.TF) != 0) {
            singleStep();
            return;
        }
        endChunk = false;
        try {
            Insn in = fetch();
            interp.exec(in);
            retired++;
        } catch (CpuFault f) {
            exc.deliverFault(f);
        }
    }

    /**
     * Between two instructions of a debugged run: takes an NMI or an external interrupt that the
     * guest can take now, as {@link #runSlice} does at a slice's start; {@code always} looks even
     * when no wake-up asked (the first look of a run). Returns whether one was delivered.
     */
    boolean takeEventBetweenInstructions(boolean always) {
        if (!always && !interruptRequest) {
            return false;
        }
        if (!nmiBlocked && deliverNmi()) {
            return true;
        }
        if (interruptible()) {
            interruptRequest = false;
            return irq.hasPendingInterrupt() && deliverPendingInterrupt();
        }
        return false;
    }

    /** The linear address of the next instruction: what a debugger's breakpoints name (CS.base + RIP outside 64-bit mode). */
    long linearPc() {
        return mode == 64 ? s.rip : (s.rip + s.cs.base) & 0xFFFF_FFFFL;
    }

    /** RFLAGS.TF was set at the start of this instruction: run it, then trap with #DB (SDM vol. 3, 17.3.1.4). */
    private void singleStep() {
        endChunk = true;
        try {
            Insn in = fetch();
            long before = s.rip;
            interp.exec(in);
            retired++;
            boolean trap = !halted || s.rip != before;
            if (trap) {
                s.dr[6] |= 0x4000; // DR6.BS
                exc.deliverFault(new CpuFault(CpuFault.DB, 0, false));
            }
        } catch (CpuFault f) {
            exc.deliverFault(f);
        }
    }

    // ---- fetch ----

    /** Forgets the current code page (its translation or contents may have changed). */
    void dropFetchCache() {
        curLinPage = -1;
        curChunks = null;
        java.util.Arrays.fill(recentLin, -1L);
    }

    /**
     * Code pages fetched from lately, by linear page: calls and returns between functions on
     * different pages switch pages every ~20 instructions on a boot, and this skips the TLB and
     * page-cache lookups for them. Tagged like {@link #curLinPage} and cleared with it (TLB
     * flushes, dropped code). 64 pages: the kernel's path for one disk read runs on more than 16.
     */
    private static final int RECENT = 64;
    private final long[] recentLin = new long[RECENT];
    private final Insn[][][] recentChunks = new Insn[RECENT][][];

    Insn fetch() {
        long lin = mode == 64 ? s.rip : (s.rip + s.cs.base) & 0xFFFF_FFFFL;
        if (((lin & ~0xFFFL) | fetchKey) == curLinPage) {
            Insn[] c = curChunks[(int) (lin >>> CodeCache.Page.CHUNK_SHIFT) & (CodeCache.Page.CHUNKS - 1)];
            if (c != null) {
                Insn in = c[(int) lin & (CodeCache.Page.CHUNK - 1)];
                // a page's index holds what each offset was last decoded as, in whichever mode
                if (in != null && in.mode == mode) {
                    return in;
                }
            }
        }
        return fetchSlow(lin);
    }

    private Insn fetchSlow(long lin) {
        long linPage = lin & ~0xFFFL;
        long tag = linPage | fetchKey;
        int r = (int) (linPage >>> 12) & (RECENT - 1);
        if (recentLin[r] == tag && tag != curLinPage) {
            Insn[] c = recentChunks[r][(int) (lin >>> CodeCache.Page.CHUNK_SHIFT) & (CodeCache.Page.CHUNKS - 1)];
            Insn in = c == null ? null : c[(int) lin & (CodeCache.Page.CHUNK - 1)];
            if (in != null && in.mode == mode) {
                curLinPage = tag;
                curChunks = recentChunks[r];
                return in;
            }
        }
        long off = mmu.fetchOffset(lin);
        if (off < 0) {
            throw new IllegalStateException(String.format("tcg: executing outside RAM at linear %#x", lin));
        }
        CodeCache.Page pg = code.page(off & ~0xFFFL);
        CodeCache.Index index = code.index(pg);
        curChunks = index.chunks;
        curLinPage = tag;
        recentLin[r] = tag;
        recentChunks[r] = index.chunks;
        int po = (int) (lin & 0xFFF);
        Insn in = index.get(po);
        if (in != null && in.mode == mode) {
            return in;
        }
        if (lin == crossLin && off == crossOff && mode == crossMode && codeDrops == crossDrops) {
            try {
                if (mmu.fetchOffset(lin + (4096 - po)) == crossOff2) {
                    curLinPage = -1;
                    return crossing;
                }
            } catch (CpuFault f) {
                // unmapped now: decoding again raises it where the hardware would
            }
        }
        byte[] buf = decoder.buffer();
        int n = Math.min(Decoder.MAX_INSN_LEN, 4096 - po);
        long off2 = -1;
        copyCode(off, buf, 0, n);
        CpuFault beyond = null;
        if (n < Decoder.MAX_INSN_LEN) {
            try {
                off2 = mmu.fetchOffset(lin + n);
                if (off2 >= 0) {
                    copyCode(off2, buf, n, Decoder.MAX_INSN_LEN - n);
                    n = Decoder.MAX_INSN_LEN;
                }
            } catch (CpuFault f) {
                beyond = f;
            }
        }
        decoder.setAvailable(n, beyond);
        // never decoded into in place: an indexed instruction may be shared, and a decode that
        // faults half-way would leave it marked with the new mode
        in = new Insn();
        decoder.decode(in, mode);
        jitStats.decodes++;
        if (po + in.len <= 4096) {
            if (insnPool != null) {
                in = insnPool.intern(in);
            }
            if (index.holds(buf, po, in.len)) {
                index.put(po, in);
            } else {
                // the page changed since this machine took its shared index: take the index of
                // what it holds now (the write's report drops the page again, if still on its way)
                code.drop(pg.hostPage);
            }
            return in;
        }
        // crosses into the next page: not in this page's index (that page's writes would not
        // reach it) but kept as the one crossing entry. The second page is marked as code first
        // and its bytes read again, so a write racing with this fetch either is seen here or
        // drops the entry.
        index.put(po, null);
        crossLin = -1;
        code.page(off2 & ~0xFFFL);
        copyCode(off2, buf, 4096 - po, Decoder.MAX_INSN_LEN - (4096 - po));
        decoder.setAvailable(Decoder.MAX_INSN_LEN, null);
        decoder.decode(crossing, mode);
        jitStats.straddlingDecodes++;
        crossLin = lin;
        crossOff = off;
        crossOff2 = off2;
        crossMode = mode;
        crossDrops = codeDrops;
        curLinPage = -1;
        return crossing;
    }

    /**
     * Copies {@code n} instruction bytes at host offset {@code off} (within one page) with aligned
     * 8-byte loads, each atomic: an aligned store of up to 8 bytes by another vCPU is seen whole or
     * not at all, so a fetch sees the old or the new instruction, never a mix of their bytes.
     */
    private void copyCode(long off, byte[] buf, int at, int n) {
        long end = off + n;
        for (long w = off & ~7L; w < end; w += 8) {
            long v = (long) Atomics.LONG.getOpaque(mem, w);
            int from = (int) Math.max(off - w, 0), to = (int) Math.min(end - w, 8);
            for (int k = from; k < to; k++) {
                buf[at + (int) (w + k - off)] = (byte) (v >>> (k << 3));
            }
        }
    }

    // ---- port I/O (SDM vol. 1, chapter 19) ----

    long ioIn(int port, int size) {
        if (stats.timed()) {
            long t0 = System.nanoTime();
            long v = bus.io().read(port, size);
            stats.record(ExitReason.IO_IN, System.nanoTime() - t0);
            return v;
        }
        stats.count(ExitReason.IO_IN);
        return bus.io().read(port, size);
    }

    void ioOut(int port, int size, long value) {
        long v = size == 4 ? value & 0xFFFF_FFFFL : size == 2 ? value & 0xFFFF : value & 0xFF;
        if (stats.timed()) {
            long t0 = System.nanoTime();
            bus.io().write(port, size, v);
            stats.record(ExitReason.IO_OUT, System.nanoTime() - t0);
            mmu.checkWriteProtection();
            return;
        }
        stats.count(ExitReason.IO_OUT);
        bus.io().write(port, size, v);
        mmu.checkWriteProtection();
    }

    /** #UD for an opcode we do not implement, logged once per RIP when jvisor.tcg.logUnimp=true. */
    CpuFault unimplemented(Insn in) {
        if (logUnimp && loggedUnimp.add(s.rip)) {
            StringBuilder b = new StringBuilder();
            long lin = mode == 64 ? s.rip : (s.rip + s.cs.base) & 0xFFFF_FFFFL;
            for (int i = 0; i < in.len; i++) {
                try {
                    long off = mmu.fetchOffset(lin + i);
                    b.append(off < 0 ? "?? " : String.format("%02x ", mem.get(ValueLayout.JAVA_BYTE, off)));
                } catch (CpuFault f) {
                    b.append("?? ");
                }
            }
            System.err.printf("tcg: unimplemented instruction at RIP %#x (mode %d): %s(op %#x)%n",
                s.rip, mode, b, in.op);
        }
        return CpuFault.ud();
    }
}
