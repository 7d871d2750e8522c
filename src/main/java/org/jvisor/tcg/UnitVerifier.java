package org.jvisor.tcg;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;
import org.jvisor.cpu.X86State;

/**
 * Lockstep checking of translated code ({@code -Djvisor.tcg.jitVerify=true}): every unit run is
 * replayed by the interpreter from the same state, and the two must agree on the registers, RIP,
 * the arithmetic flags, the retired count, the exception raised (if any) and every byte of RAM
 * either wrote. The unit runs first with its RAM writes logged; they are undone, the state put
 * back, and the interpreter runs the same number of instructions (plus the faulting one). The
 * interpreter's result is what execution continues from. Runs that touched devices (port or
 * MMIO accesses, which cannot be replayed) are accepted unchecked, and so is everything while
 * the VM has more than one vCPU (another vCPU's stores would make the replay differ).
 */
final class UnitVerifier implements Mmu.WriteLog {
    private static final ValueLayout.OfByte B = ValueLayout.JAVA_BYTE;

    private final TcgCpu cpu;
    private final MemorySegment mem;
    private final X86State before = new X86State();
    private final X86State afterUnit = new X86State();
    /** Host offset -> the byte before the first logged write (for undo). */
    private final Map<Long, Byte> original = new HashMap<>();
    private boolean logging;
    /**
     * Bytes of paging-structure entries that walks updated: the interpreter fetches up to 15
     * bytes ahead (touching the next page's entries) where a unit fetches nothing, so their
     * accessed bits may differ.
     */
    private final java.util.Set<Long> walked = new java.util.HashSet<>();
    long checked;
    long skipped;

    UnitVerifier(TcgCpu cpu) {
        this.cpu = cpu;
        this.mem = cpu.mmu.memory();
    }

    @Override
    public void before(long hostOff, int size) {
        if (!logging) {
            return;
        }
        for (int i = 0; i < size; i++) {
            original.putIfAbsent(hostOff + i, mem.get(B, hostOff + i));
        }
    }

    @Override
    public void beforeWalkUpdate(long hostOff, int size) {
        before(hostOff, size);
        if (logging) {
            for (int i = 0; i < size; i++) {
                walked.add(hostOff + i);
            }
        }
    }

    /**
     * Whether a unit's run can be replayed: its interpreted instructions touch nothing outside
     * the CPU and RAM (no ports, MSRs, clocks, control registers or mode changes).
     */
    static boolean replayable(Unit u) {
        for (Insn in : u.helpers) {
            int op = in.op;
            boolean io = (op >= 0xE4 && op <= 0xE7) || (op >= 0xEC && op <= 0xEF) || (op >= 0x6C && op <= 0x6F);
            boolean clockOrMsr = op == 0x130 || op == 0x131 || op == 0x132 || op == 0x133 || op == 0x101 || op == 0x1C7;
            if (io || clockOrMsr || Region.flow(in) == Region.Flow.DYNAMIC && in.rep == 0) {
                return false;
            }
        }
        return true;
    }

    /** Runs {@code u} and checks it against the interpreter; the interpreter's state remains. */
    void run(Unit u, int budget) {
        if (!replayable(u) || cpu.vcpuCount() > 1) {
            skipped++;
            cpu.runningUnitPage = u.hostPage;
            try {
                u.run(cpu, budget);
            } finally {
                cpu.runningUnitPage = -1;
            }
            return;
        }
        LazyFlags f = cpu.flags;
        X86State s = cpu.s;
        before.copyFrom(s);
        int fop = f.op;
        long fa = f.a, fb = f.b, fres = f.res, faux = f.aux;
        int fbits = f.bits;
        long retired0 = cpu.retired;
        long devices0 = cpu.stats.total();
        boolean halted0 = cpu.halted, endChunk0 = cpu.endChunk;
        long shadow0 = cpu.shadowEnd;

        original.clear();
        walked.clear();
        cpu.mmu.writeLog = this;
        cpu.mmu.dropAllWrites();
        cpu.mmu.flushAll();
        logging = true;
        cpu.mmu.fetchOffset(u.rip); // the walk the dispatcher's lookup makes (accessed bits)
        RuntimeException unitFault = null;
        try {
            cpu.runningUnitPage = u.hostPage;
            u.run(cpu, budget);
        } catch (RuntimeException e) {
            unitFault = e;
        } finally {
            cpu.runningUnitPage = -1;
            logging = false;
        }
        if (unitFault instanceof CodeModified || cpu.stats.total() != devices0) {
            cpu.mmu.writeLog = null;
            skipped++;
            if (unitFault != null) {
                throw unitFault;
            }
            return;
        }
        long unitRetired = cpu.retired - retired0;
        afterUnit.copyFrom(s);
        afterUnit.rflags = LazyFlags.materialize(f.op, f.a, f.b, f.res, f.bits, f.aux, s.rflags);
        Map<Long, Byte> unitBytes = new HashMap<>();
        for (Long off : original.keySet()) {
            unitBytes.put(off, mem.get(B, off));
        }
        // undo, restore, replay
        original.forEach((off, v) -> mem.set(B, off, v));
        Map<Long, Byte> unitTouched = new HashMap<>(original);
        original.clear();
        s.copyFrom(before);
        f.op = fop;
        f.a = fa;
        f.b = fb;
        f.res = fres;
        f.bits = fbits;
        f.aux = faux;
        cpu.retired = retired0;
        cpu.halted = halted0;
        cpu.endChunk = endChunk0;
        cpu.shadowEnd = shadow0;
        cpu.mmu.flushAll();
        cpu.updateMode();
        logging = true;
        RuntimeException interpFault = null;
        try {
            for (long i = 0; i < unitRetired; i++) {
                cpu.interp.exec(cpu.fetch());
                cpu.retired++;
            }
            if (unitFault != null) {
                cpu.interp.exec(cpu.fetch());
                cpu.retired++;
            }
        } catch (RuntimeException e) {
            interpFault = e;
        } finally {
            logging = false;
            cpu.mmu.writeLog = null;
        }
        StringBuilder diff = new StringBuilder();
        if (cpu.retired != retired0 + unitRetired) {
            diff.append(String.format("retired: unit %d, interpreter %d%n", unitRetired, cpu.retired - retired0));
        }
        describeFault("unit", unitFault, "interpreter", interpFault, diff);
        compareState(s, diff);
        unitTouched.putAll(original);
        for (Long off : unitTouched.keySet()) {
            byte mine = unitBytes.containsKey(off) ? unitBytes.get(off) : unitTouched.get(off);
            byte theirs = mem.get(B, off);
            if (mine != theirs && !(walked.contains(off) && ((mine ^ theirs) & ~0x60) == 0)) {
                diff.append(String.format("RAM %#x: unit %02x, interpreter %02x%n", off, mine & 0xFF, theirs & 0xFF));
                if (diff.length() > 4000) {
                    break;
                }
            }
        }
        if (!diff.isEmpty()) {
            throw new IllegalStateException("tcg jit verify: the unit at RIP " + Long.toHexString(u.rip) + " ("
                + u.insnCount + " instructions, from state\n" + before.dump() + ") differs from the interpreter:\n"
                + diff);
        }
        checked++;
        if (interpFault != null) {
            throw interpFault;
        }
    }

    private static void describeFault(String a, RuntimeException fa, String b, RuntimeException fb, StringBuilder diff) {
        String da = faultName(fa);
        String db = faultName(fb);
        if (!da.equals(db)) {
            diff.append(String.format("exception: %s %s, %s %s%n", a, da, b, db));
        }
    }

    private static String faultName(RuntimeException e) {
        if (e == null) {
            return "none";
        }
        if (e instanceof CpuFault f) {
            return "#" + f.vector() + "(" + f.errorCode() + ")";
        }
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    private void compareState(X86State s, StringBuilder diff) {
        long flags = cpu.flags.materialize();
        for (int r = 0; r < 16; r++) {
            if (afterUnit.gpr[r] != s.gpr[r]) {
                diff.append(String.format("%s: unit %#x, interpreter %#x%n", org.jvisor.cpu.Gpr.values()[r],
                    afterUnit.gpr[r], s.gpr[r]));
            }
        }
        for (int i = 0; i < 32; i++) {
            if (afterUnit.xmm[i] != s.xmm[i]) {
                diff.append(String.format("XMM%d.%d: unit %#x, interpreter %#x%n", i / 2, i % 2, afterUnit.xmm[i], s.xmm[i]));
            }
        }
        if (afterUnit.rip != s.rip) {
            diff.append(String.format("RIP: unit %#x, interpreter %#x%n", afterUnit.rip, s.rip));
        }
        long mask = LazyFlags.ARITH | X86State.DF | X86State.IF | X86State.TF;
        if ((afterUnit.rflags & mask) != (flags & mask)) {
            diff.append(String.format("RFLAGS: unit %#x, interpreter %#x%n", afterUnit.rflags & mask, flags & mask));
        }
    }
}
