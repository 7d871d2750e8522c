package org.jvisor.tcg;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Decoded instructions shared by everything that uses one {@link UnitLibrary}: the vCPUs of a
 * machine, its translation units, and the other machines in the process given the same library.
 * A decoded {@link Insn} is a value (its fields are all an instruction's execution reads, and
 * nothing writes them once decoded), so two equal ones can be one object. Ten machines booting
 * the same kernel decode the same quarter million instructions each (16 MiB per machine, issue
 * 13); here the second and later ones mostly get the first one's objects, and one machine's
 * vCPUs, and its many copies of {@code push rbp} or {@code ret}, share theirs. Only a library
 * that machines share has a pool (see {@link UnitLibrary#insns}).
 * <p>
 * A direct-mapped table, lossy on purpose: a new instruction takes its slot from whatever held
 * it, so the table needs no node per entry, never grows, and holds at most {@link #SLOTS}
 * instructions strongly beyond what the machines' caches hold. A miss only costs the sharing.
 * Thread-safe without a lock: an instruction is published whole (release / acquire), and a
 * racing store only decides which of two equal-hash instructions stays.
 */
final class InsnPool {
    /** Slots: twice the distinct instructions of a Linux boot, 2 MiB of references. */
    static final int SLOTS = 1 << 19;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Insn[].class);

    private volatile Insn[] slots;

    /** The instruction held with exactly {@code in}'s fields, else {@code in}, now held. Never write either afterwards. */
    Insn intern(Insn in) {
        Insn[] t = table();
        int i = hash(in) & (SLOTS - 1);
        Insn held = (Insn) SLOT.getAcquire(t, i);
        if (held != null && same(held, in)) {
            return held;
        }
        SLOT.setRelease(t, i, in);
        return in;
    }

    /** Made on first use: a library that never sees a decode (kvm, translation off) costs nothing. */
    private Insn[] table() {
        Insn[] t = slots;
        if (t == null) {
            synchronized (this) {
                t = slots;
                if (t == null) {
                    t = new Insn[SLOTS];
                    slots = t;
                }
            }
        }
        return t;
    }

    /** Whether {@code a} and {@code b} are the same instruction: every field equal (a test checks all are compared). */
    static boolean same(Insn a, Insn b) {
        return a.disp == b.disp && a.imm == b.imm && a.op == b.op
            && a.len == b.len && a.mode == b.mode && a.handler == b.handler && a.dst == b.dst && a.src == b.src
            && a.kind == b.kind && a.osz == b.osz && a.asz == b.asz && a.rep == b.rep && a.lock == b.lock
            && a.opsizePrefix == b.opsizePrefix && a.seg == b.seg && a.segOverride == b.segOverride && a.rex == b.rex
            && a.hasModrm == b.hasModrm && a.mod == b.mod && a.reg == b.reg && a.rm == b.rm && a.base == b.base
            && a.index == b.index && a.scale == b.scale;
    }

    /** Mixes the fields that tell most instructions apart; {@link #same} decides. */
    private static int hash(Insn in) {
        long h = ((long) in.op << 32 | in.len << 24 | (in.mod & 3) << 16 | (in.reg & 0xF) << 12 | (in.rm & 0xF) << 8
            | (in.base & 0x1F) << 3 | in.osz & 7) * 0x9E3779B97F4A7C15L;
        h ^= (in.disp + 31 * in.imm + in.mode) * 0xC2B2AE3D27D4EB4FL;
        h ^= h >>> 29;
        h *= 0x94D049BB133111EBL;
        return (int) (h ^ h >>> 32);
    }
}
