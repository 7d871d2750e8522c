package org.jvisor.tcg;

import static java.lang.constant.ConstantDescs.CD_boolean;
import static java.lang.constant.ConstantDescs.CD_int;
import static java.lang.constant.ConstantDescs.CD_long;
import static java.lang.constant.ConstantDescs.CD_void;
import static org.jvisor.tcg.UnitCompiler.CD_FLAGS;
import static org.jvisor.tcg.UnitCompiler.CD_MMU;
import static org.jvisor.tcg.UnitCompiler.CD_SEGMENT;
import static org.jvisor.tcg.UnitCompiler.CD_STATE;
import static org.jvisor.tcg.UnitCompiler.FA;
import static org.jvisor.tcg.UnitCompiler.FAUX;
import static org.jvisor.tcg.UnitCompiler.FB;
import static org.jvisor.tcg.UnitCompiler.FBITS;
import static org.jvisor.tcg.UnitCompiler.FOP;
import static org.jvisor.tcg.UnitCompiler.FRES;
import static org.jvisor.tcg.UnitCompiler.FROT;
import static org.jvisor.tcg.UnitCompiler.K;
import static org.jvisor.tcg.UnitCompiler.M;
import static org.jvisor.tcg.UnitCompiler.NEXT;
import static org.jvisor.tcg.UnitCompiler.S;
import static org.jvisor.tcg.UnitCompiler.T0;
import static org.jvisor.tcg.UnitCompiler.T1;
import static org.jvisor.tcg.UnitCompiler.T2;
import static org.jvisor.tcg.UnitCompiler.T3;
import static org.jvisor.tcg.UnitCompiler.TADDR;
import static org.jvisor.tcg.UnitCompiler.G;
import static org.jvisor.tcg.UnitCompiler.TV;

import java.lang.classfile.CodeBuilder;
import java.lang.classfile.Label;
import java.lang.constant.ClassDesc;
import java.lang.constant.MethodTypeDesc;
import org.jvisor.cpu.X86State;

/**
 * Translates one 64-bit-mode instruction into bytecode with the interpreter's semantics, on guest
 * registers held in JVM locals and the lazy-flags record in locals. Every access that can fault
 * comes before the first write of a local, a flag or memory, so a fault leaves the state before the
 * instruction (the unit's handler stores the locals as they are).
 * <p>
 * Flags: the op and size of the last flags producer of the current block are known while
 * translating, so a following Jcc/SETcc/CMOVcc/ADC tests the producer's operands directly (a
 * compare and branch); where they are not known (a block entered from several places, after an
 * interpreted instruction) the condition is evaluated from the record by {@link LazyFlags}'s
 * static functions, which C2 inlines.
 */
final class InsnCompiler {
    private static final int MEM = -1, IMM = -2;
    private static final ClassDesc CD_LONG_BOX = ClassDesc.of("java.lang.Long");
    private static final ClassDesc CD_INT_BOX = ClassDesc.of("java.lang.Integer");
    private static final MethodTypeDesc READ = MethodTypeDesc.of(CD_long, CD_long);
    private static final MethodTypeDesc WRITE = MethodTypeDesc.of(CD_void, CD_long, CD_long);
    private static final MethodTypeDesc FLAG_RECORD = MethodTypeDesc.of(CD_boolean, CD_int, CD_long, CD_long, CD_long,
        CD_int, CD_long, CD_long);
    private static final MethodTypeDesc FLAG_COND = MethodTypeDesc.of(CD_boolean, CD_int, CD_long, CD_long, CD_long,
        CD_int, CD_long, CD_long, CD_int);
    private static final MethodTypeDesc FLAG_MATERIALIZE = MethodTypeDesc.of(CD_long, CD_int, CD_long, CD_long, CD_long,
        CD_int, CD_long, CD_long);

    private static final int ADD = Interpreter.ADD, OR = Interpreter.OR, ADC = Interpreter.ADC, SBB = Interpreter.SBB,
        AND = Interpreter.AND, SUB = Interpreter.SUB, XOR = Interpreter.XOR, CMP = Interpreter.CMP;

    private final CodeBuilder cb;
    private final UnitCompiler unit;
    /** The flags producer known at this point: a LazyFlags op, or -1 when only the record in locals knows. */
    private int sop = -1;
    private int sbits;
    /** The flags locals hold a record LazyFlags does not have yet. */
    private boolean dirty;
    private Insn in;
    private long next;
    /** No instruction reads the flags this one produces before they are overwritten (see {@link #flagUse}). */
    private boolean flagsDead;
    /**
     * A rotate's CF and OF wait in local FROT on top of the record (see {@link #rotateFlags}):
     * known only here, so every path that leaves the straight line applies them first.
     */
    private boolean rotPending;

    InsnCompiler(CodeBuilder cb, UnitCompiler unit) {
        this.cb = cb;
        this.unit = unit;
    }

    /**
     * A block starts: which producer its predecessors left is not known here, nor whether they
     * stored the record already (so the first fault point stores it).
     */
    void blockStart() {
        sop = -1;
        dirty = true;
        rotPending = false; // every block end applies a pending rotate (blockEnd)
    }

    /** The block's instructions are emitted: its edges and exits follow, which see RFLAGS whole. */
    void blockEnd() {
        applyRotate();
    }

    /** The interpreter ran an instruction: the flags are whatever it left in the record. */
    void flagsUnknown() {
        sop = -1;
        dirty = false;
        rotPending = false; // applied before the helper (syncFlags)
    }

    /**
     * Stores the flags record from the locals into LazyFlags when a producer changed it since the
     * last store: before anything that may fault (the state must be exact there, and the fault
     * handler does not see the locals), before an interpreted instruction, and at block ends.
     */
    void syncFlags() {
        applyRotate();
        if (dirty) {
            UnitCompiler.storeFlags(cb);
            dirty = false;
        }
    }

    /**
     * Emits instruction {@code in} at {@code rip}; false when it is not translated (the caller
     * hands it to the interpreter). {@code role} is the block's end kind when {@code in} is the
     * block's last instruction: a Jcc/JMP then emits nothing (the block's end branches), a CALL
     * pushes its return address, an indirect transfer leaves its target in NEXT.
     */
    boolean compile(Insn in, long rip, long next, int idx, Region.End role, boolean flagsDead) {
        if (in.lock || in.mode != 64) {
            return false;
        }
        this.in = in;
        this.next = next;
        this.flagsDead = flagsDead;
        if (rotPending && flagUse(in) == FLAGS_READ) {
            applyRotate(); // a reader, or a writer of some flags only, sees the rotate's CF and OF
        }
        int op = in.op;
        if ((op >= 0x70 && op <= 0x7F) || (op >= 0x180 && op <= 0x18F) || op == 0xE9 || op == 0xEB) {
            return role == Region.End.JCC || role == Region.End.JMP;
        }
        if (mayFault(in)) {
            cb.loadConstant(idx).istore(K);
        }
        if (op < 0x40) {
            return aluForm(op);
        }
        return switch (op) {
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 -> in.osz == 8 && push(() -> loadReg(regInOpcode(), 8));
            case 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F -> in.osz == 8 && pop(regInOpcode());
            case 0x63 -> movsxd();
            case 0x68, 0x6A -> in.osz == 8 && push(() -> cb.loadConstant(in.imm));
            case 0x69, 0x6B -> imul3(false);
            case 0x80, 0x81, 0x83 -> alu(in.reg & 7, op == 0x80 ? 1 : in.osz, e(), IMM);
            case 0x84, 0x85 -> test(op == 0x84 ? 1 : in.osz, in.reg);
            case 0x86, 0x87 -> in.mod == 3 && xchg(op == 0x86 ? 1 : in.osz, in.rm, in.reg);
            case 0x88, 0x89 -> mov(op == 0x88 ? 1 : in.osz, e(), in.reg);
            case 0x8A, 0x8B -> mov(op == 0x8A ? 1 : in.osz, in.reg, e());
            case 0x8D -> lea();
            case 0x90 -> (in.rex & 1) == 0 || xchg(in.osz, 0, 8);
            case 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97 -> xchg(in.osz, 0, regInOpcode());
            case 0x98 -> signExtendAccumulator();
            case 0x99 -> signIntoDx();
            case 0xA8, 0xA9 -> test(op == 0xA8 ? 1 : in.osz, IMM);
            case 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7 -> movImm(1, regInOpcode());
            case 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF -> movImm(in.osz, regInOpcode());
            case 0xC0, 0xC1 -> shift(op == 0xC0 ? 1 : in.osz, (int) in.imm);
            case 0xD0, 0xD1 -> shift(op == 0xD0 ? 1 : in.osz, 1);
            case 0xD3 -> (in.osz == 4 || in.osz == 8) && shiftByCl(in.osz);
            case 0xC2, 0xC3 -> in.osz == 8 && ret();
            case 0xC6, 0xC7 -> (in.reg & 7) == 0 && mov(op == 0xC6 ? 1 : in.osz, e(), IMM);
            case 0xC9 -> in.osz == 8 && leave();
            case 0xE8 -> in.osz == 8 && role == Region.End.CALL && push(() -> cb.loadConstant(next));
            case 0xF5, 0xF8, 0xF9 -> carryFlag(op);
            case 0xFC, 0xFD -> directionFlag(op == 0xFD);
            case 0xF6, 0xF7 -> group3(op == 0xF6 ? 1 : in.osz);
            case 0xFE -> (in.reg & 7) < 2 && incDec(1);
            case 0xFF -> group5(role);
            case 0x10D, 0x118, 0x119, 0x11A, 0x11B, 0x11C, 0x11D, 0x11E, 0x11F -> true; // hints, NOP Ev, ENDBR
            case 0x140, 0x141, 0x142, 0x143, 0x144, 0x145, 0x146, 0x147, 0x148, 0x149, 0x14A, 0x14B, 0x14C, 0x14D,
                 0x14E, 0x14F -> cmov(op & 0xF);
            case 0x190, 0x191, 0x192, 0x193, 0x194, 0x195, 0x196, 0x197, 0x198, 0x199, 0x19A, 0x19B, 0x19C, 0x19D,
                 0x19E, 0x19F -> setcc(op & 0xF);
            case 0x1AF -> imul3(true);
            case 0x1A3 -> in.mod == 3 && bitTest(-1, false);
            case 0x1AB -> in.mod == 3 && bitTest(Interpreter.BTS, false);
            case 0x1B3 -> in.mod == 3 && bitTest(Interpreter.BTR, false);
            case 0x1BB -> in.mod == 3 && bitTest(Interpreter.BTC, false);
            case 0x1BA -> in.mod == 3 && (in.reg & 7) >= 4 && bitTest(switch (in.reg & 7) {
                case 4 -> -1;
                case 5 -> Interpreter.BTS;
                case 6 -> Interpreter.BTR;
                default -> Interpreter.BTC;
            }, true);
            case 0x1B6, 0x1B7 -> movExtend(op == 0x1B6 ? 1 : 2, false);
            case 0x1BE, 0x1BF -> movExtend(op == 0x1BE ? 1 : 2, true);
            case 0x1C8, 0x1C9, 0x1CA, 0x1CB, 0x1CC, 0x1CD, 0x1CE, 0x1CF -> bswap(regInOpcode());
            default -> false;
        };
    }

    private int regInOpcode() {
        return (in.op & 7) | (in.rex & 1) << 3;
    }

    /** The r/m operand: a register number or MEM. */
    private int e() {
        return in.mod == 3 ? in.rm : MEM;
    }

    // ---- registers (SDM vol. 1, 3.4.1.1: 32-bit results zero-extend, 8/16-bit ones merge) ----

    private void loadReg(int r, int size) {
        if (size == 1 && r >= 4 && r < 8 && in.rex == 0) {
            getReg(r - 4);
            cb.loadConstant(8).lushr();
            mask(1);
            return;
        }
        getReg(r);
        mask(size);
    }

    /** Pushes g[r], the full 64-bit register. */
    private void getReg(int r) {
        cb.aload(G).loadConstant(r).laload();
    }

    /** Pops a long and writes it to register r with operand size {@code size}. */
    private void storeReg(int r, int size) {
        switch (size) {
            case 8 -> putReg(r);
            case 4 -> {
                mask(4);
                putReg(r);
            }
            case 2 -> {
                mask(2);
                getReg(r);
                cb.loadConstant(~0xFFFFL).land().lor();
                putReg(r);
            }
            default -> {
                mask(1);
                if (r >= 4 && r < 8 && in.rex == 0) {
                    cb.loadConstant(8).lshl();
                    getReg(r - 4);
                    cb.loadConstant(~0xFF00L).land().lor();
                    putReg(r - 4);
                } else {
                    getReg(r);
                    cb.loadConstant(~0xFFL).land().lor();
                    putReg(r);
                }
            }
        }
    }

    /** Pops a long into g[r]. */
    private void putReg(int r) {
        cb.lstore(TV);
        cb.aload(G).loadConstant(r).lload(TV).lastore();
    }

    private void mask(int size) {
        if (size < 8) {
            cb.loadConstant(Interpreter.mask(size)).land();
        }
    }

    // ---- memory operands ----

    /** Pushes the linear address of the memory operand (64-bit mode: only FS and GS have a base). */
    private void ea() {
        offset();
        if (in.seg == Insn.FS || in.seg == Insn.GS) {
            cb.aload(S).getfield(CD_STATE, in.seg == Insn.FS ? "fs" : "gs", CD_SEGMENT).getfield(CD_SEGMENT, "base", CD_long)
                .ladd();
        }
    }

    /** Pushes the effective address without segment (LEA), wrapped to the address size. */
    private void offset() {
        long disp = in.disp;
        boolean have = false;
        if (in.base == Insn.RIP_BASE) {
            disp += next;
        } else if (in.base >= 0) {
            getReg(in.base);
            have = true;
        }
        if (in.index >= 0) {
            getReg(in.index);
            if (in.scale != 0) {
                cb.loadConstant(in.scale).lshl();
            }
            if (have) {
                cb.ladd();
            }
            have = true;
        }
        if (!have) {
            cb.loadConstant(disp);
        } else if (disp != 0) {
            cb.loadConstant(disp).ladd();
        }
        if (in.asz == 4) {
            mask(4);
        }
    }

    private void read(int size) {
        cb.invokevirtual(CD_MMU, switch (size) {
            case 1 -> "read1";
            case 2 -> "read2";
            case 4 -> "read4";
            default -> "read64";
        }, READ);
    }

    private void write(int size) {
        cb.invokevirtual(CD_MMU, switch (size) {
            case 1 -> "write1";
            case 2 -> "write2";
            case 4 -> "write4";
            default -> "write64";
        }, WRITE);
    }

    /** Pushes operand {@code o} (a register, MEM or IMM) of {@code size}. */
    private void load(int o, int size) {
        if (o == IMM) {
            cb.loadConstant(in.imm & Interpreter.mask(size));
        } else if (o == MEM) {
            cb.aload(M);
            ea();
            read(size);
        } else {
            loadReg(o, size);
        }
    }

    // ---- flags ----

    /** Records a flags producer: op, operands in locals (or -1 for zero), result, aux (or -1: unchanged). */
    private void setFlags(int op, int a, int b, int res, int size, int aux) {
        if (rotPending) {
            // all six flags are this instruction's now (past its last fault point): the rotate's are gone
            cb.loadConstant(NO_ROTATE).lstore(FROT);
            rotPending = false;
        }
        if (flagsDead) {
            sop = -1; // the record keeps an older producer that nobody reads
            return;
        }
        cb.loadConstant(op).istore(FOP);
        loadLocalOrZero(a);
        cb.lstore(FA);
        loadLocalOrZero(b);
        cb.lstore(FB);
        cb.lload(res).lstore(FRES);
        cb.loadConstant(size << 3).istore(FBITS);
        if (aux >= 0) {
            cb.lload(aux).lstore(FAUX);
        }
        sop = op;
        sbits = size << 3;
        dirty = true;
    }

    private void loadLocalOrZero(int slot) {
        if (slot < 0) {
            cb.lconst_0();
        } else {
            cb.lload(slot);
        }
    }

    /** Pushes the flags record and RFLAGS, with the op and size as constants where known. */
    private void flagArgs() {
        if (sop >= 0) {
            cb.loadConstant(sop);
        } else {
            cb.iload(FOP);
        }
        cb.lload(FA).lload(FB).lload(FRES);
        if (sop >= 0) {
            cb.loadConstant(sbits);
        } else {
            cb.iload(FBITS);
        }
        cb.lload(FAUX).aload(S).getfield(CD_STATE, "rflags", CD_long);
    }

    /** Pushes CF as a long 0 or 1 (ADC/SBB carry-in, the CF that INC/DEC keep). */
    private void carryValue() {
        switch (sop) {
            case LazyFlags.INC, LazyFlags.DEC, LazyFlags.SHL, LazyFlags.SHR, LazyFlags.SAR, LazyFlags.MUL ->
                cb.lload(FAUX);
            case LazyFlags.LOGIC -> cb.lconst_0();
            case LazyFlags.NONE -> cb.aload(S).getfield(CD_STATE, "rflags", CD_long).lconst_1().land();
            default -> {
                flagArgs();
                cb.invokestatic(CD_FLAGS, "cf", FLAG_RECORD).i2l();
            }
        }
    }

    /** Branches to {@code target} when condition {@code cc} holds (SDM vol. 1, appendix B). */
    void branchIf(int cc, Label target) {
        boolean neg = (cc & 1) != 0;
        int c = cc >>> 1;
        if (sop == LazyFlags.SUB) {
            switch (c) {
                case 1, 3 -> { // B/AE, BE/A: unsigned compare of the operands
                    cb.lload(FA).lload(FB).invokestatic(CD_LONG_BOX, "compareUnsigned",
                        MethodTypeDesc.of(CD_int, CD_long, CD_long));
                    if (c == 1) {
                        branch(neg ? Cmp.GE : Cmp.LT, target);
                    } else {
                        branch(neg ? Cmp.GT : Cmp.LE, target);
                    }
                    return;
                }
                case 2 -> {
                    cb.lload(FRES).lconst_0().lcmp();
                    branch(neg ? Cmp.NE : Cmp.EQ, target);
                    return;
                }
                case 6, 7 -> { // L/GE, LE/G: signed compare at the operand size
                    signedOperand(FA);
                    signedOperand(FB);
                    cb.lcmp();
                    if (c == 6) {
                        branch(neg ? Cmp.GE : Cmp.LT, target);
                    } else {
                        branch(neg ? Cmp.GT : Cmp.LE, target);
                    }
                    return;
                }
                case 4 -> {
                    signBit();
                    branch(neg ? Cmp.EQ : Cmp.NE, target);
                    return;
                }
                default -> { }
            }
        } else if (sop == LazyFlags.LOGIC) {
            switch (c) {
                case 0, 1 -> { // OF = CF = 0
                    if (neg) {
                        cb.goto_(target);
                    }
                    return;
                }
                case 2 -> {
                    cb.lload(FRES).lconst_0().lcmp();
                    branch(neg ? Cmp.NE : Cmp.EQ, target);
                    return;
                }
                case 4, 6 -> { // S, and L (SF != OF with OF = 0)
                    signBit();
                    branch(neg ? Cmp.EQ : Cmp.NE, target);
                    return;
                }
                default -> { }
            }
        } else if (sop == LazyFlags.ADD || sop == LazyFlags.INC || sop == LazyFlags.DEC) {
            if (c == 2) {
                cb.lload(FRES).lconst_0().lcmp();
                branch(neg ? Cmp.NE : Cmp.EQ, target);
                return;
            }
            if (c == 4) {
                signBit();
                branch(neg ? Cmp.EQ : Cmp.NE, target);
                return;
            }
        }
        flagArgs();
        cb.loadConstant(cc).invokestatic(CD_FLAGS, "cond", FLAG_COND).ifne(target);
    }

    /** Pushes the result's sign bit tested against zero as an lcmp result. */
    private void signBit() {
        cb.lload(FRES).loadConstant(1L << (sbits - 1)).land().lconst_0().lcmp();
    }

    private void signedOperand(int slot) {
        cb.lload(slot);
        int sh = 64 - sbits;
        if (sh != 0) {
            cb.loadConstant(sh).lshl().loadConstant(sh).lshr();
        }
    }

    private enum Cmp { EQ, NE, LT, GE, GT, LE }

    private void branch(Cmp c, Label target) {
        switch (c) {
            case EQ -> cb.ifeq(target);
            case NE -> cb.ifne(target);
            case LT -> cb.iflt(target);
            case GE -> cb.ifge(target);
            case GT -> cb.ifgt(target);
            case LE -> cb.ifle(target);
        }
    }

    /** Pushes condition cc as a long 0 or 1. */
    private void condValue(int cc) {
        Label yes = cb.newLabel();
        Label done = cb.newLabel();
        branchIf(cc, yes);
        cb.lconst_0().goto_(done);
        cb.labelBinding(yes);
        cb.lconst_1();
        cb.labelBinding(done);
    }

    /** Pushes RFLAGS with the arithmetic flags computed (for instructions that write RFLAGS bits). */
    private void materializedFlags() {
        if (sop == LazyFlags.NONE) {
            cb.aload(S).getfield(CD_STATE, "rflags", CD_long);
        } else {
            flagArgs();
            cb.invokestatic(CD_FLAGS, "materialize", FLAG_MATERIALIZE);
        }
    }

    /** CLC, STC, CMC. */
    private boolean carryFlag(int op) {
        cb.aload(S);
        materializedFlags();
        switch (op) {
            case 0xF8 -> cb.loadConstant(~X86State.CF).land();
            case 0xF9 -> cb.loadConstant(X86State.CF).lor();
            default -> cb.loadConstant(X86State.CF).lxor();
        }
        cb.putfield(CD_STATE, "rflags", CD_long);
        cb.loadConstant(LazyFlags.NONE).istore(FOP);
        sop = LazyFlags.NONE;
        dirty = true;
        return true;
    }

    /** CLD, STD: DF lives in RFLAGS outside the lazy record. */
    private boolean directionFlag(boolean set) {
        cb.aload(S).dup().getfield(CD_STATE, "rflags", CD_long);
        if (set) {
            cb.loadConstant(X86State.DF).lor();
        } else {
            cb.loadConstant(~X86State.DF).land();
        }
        cb.putfield(CD_STATE, "rflags", CD_long);
        return true;
    }

    // ---- integer instructions (SDM vol. 2) ----

    /** Opcodes 00-3F: the eight ALU operations in their six forms. */
    private boolean aluForm(int op) {
        int kind = op >>> 3;
        return switch (op & 7) {
            case 0 -> alu(kind, 1, e(), in.reg);
            case 1 -> alu(kind, in.osz, e(), in.reg);
            case 2 -> alu(kind, 1, in.reg, e());
            case 3 -> alu(kind, in.osz, in.reg, e());
            case 4 -> alu(kind, 1, 0, IMM);
            case 5 -> alu(kind, in.osz, 0, IMM);
            default -> false; // segment pushes/pops, BCD adjust: invalid in 64-bit mode
        };
    }

    /** {@code dst = dst kind src}: both operands are read (and may fault) before anything is written. */
    private boolean alu(int kind, int size, int dst, int src) {
        if (dst == MEM) {
            ea();
            cb.lstore(TADDR);
            cb.aload(M).lload(TADDR);
            read(size);
        } else {
            loadReg(dst, size);
        }
        cb.lstore(T0);
        load(src, size);
        cb.lstore(T1);
        boolean carry = kind == ADC || kind == SBB;
        if (carry) {
            carryValue();
            cb.lstore(T2);
        }
        cb.lload(T0).lload(T1);
        switch (kind) {
            case ADD, ADC -> cb.ladd();
            case OR -> cb.lor();
            case AND -> cb.land();
            case XOR -> cb.lxor();
            default -> cb.lsub();
        }
        if (carry) {
            cb.lload(T2);
            if (kind == ADC) {
                cb.ladd();
            } else {
                cb.lsub();
            }
        }
        mask(size);
        cb.lstore(T3);
        if (kind != CMP) {
            writeBack(dst, size, T3);
        }
        int lop = switch (kind) {
            case ADD -> LazyFlags.ADD;
            case ADC -> LazyFlags.ADC;
            case SBB -> LazyFlags.SBB;
            case SUB, CMP -> LazyFlags.SUB;
            default -> LazyFlags.LOGIC;
        };
        setFlags(lop, T0, T1, T3, size, carry ? T2 : -1);
        return true;
    }

    /** Writes local {@code value} to the destination: a register, or memory at TADDR. */
    private void writeBack(int dst, int size, int value) {
        if (dst == MEM) {
            cb.aload(M).lload(TADDR).lload(value);
            write(size);
        } else {
            cb.lload(value);
            storeReg(dst, size);
        }
    }

    /** TEST r/m, src (src a register or IMM; F6/F7 /0 and A8/A9 too). */
    private boolean test(int size, int src) {
        load(src == IMM && (in.op == 0xA8 || in.op == 0xA9) ? 0 : e(), size);
        load(src, size);
        cb.land().lstore(T3);
        setFlags(LazyFlags.LOGIC, T3, T3, T3, size, -1);
        return true;
    }

    private boolean mov(int size, int dst, int src) {
        if (dst == MEM) {
            cb.aload(M);
            ea();
            load(src, size);
            write(size);
        } else {
            load(src, size);
            storeReg(dst, size);
        }
        return true;
    }

    private boolean movImm(int size, int r) {
        cb.loadConstant(in.imm);
        storeReg(r, size);
        return true;
    }

    /** MOVZX/MOVSX from a byte or word. */
    private boolean movExtend(int from, boolean signed) {
        load(e(), from);
        if (signed) {
            cb.l2i();
            if (from == 1) {
                cb.i2b();
            } else {
                cb.i2s();
            }
            cb.i2l();
        }
        storeReg(in.reg, in.osz);
        return true;
    }

    /** MOVSXD (63): sign-extends a dword with REX.W; without, a plain 32- or 16-bit move. */
    private boolean movsxd() {
        load(e(), 4);
        if (in.osz == 8) {
            cb.l2i().i2l();
        }
        storeReg(in.reg, in.osz);
        return true;
    }

    private boolean lea() {
        if (in.mod == 3) {
            return false; // #UD
        }
        offset();
        storeReg(in.reg, in.osz);
        return true;
    }

    private boolean xchg(int size, int a, int b) {
        loadReg(a, size);
        cb.lstore(T0);
        loadReg(b, size);
        cb.lstore(T1);
        cb.lload(T1);
        storeReg(a, size);
        cb.lload(T0);
        storeReg(b, size);
        return true;
    }

    /** CBW/CWDE/CDQE. */
    private boolean signExtendAccumulator() {
        switch (in.osz) {
            case 2 -> {
                loadReg(0, 1);
                cb.l2i().i2b().i2l();
                storeReg(0, 2);
            }
            case 4 -> {
                loadReg(0, 2);
                cb.l2i().i2s().i2l();
                storeReg(0, 4);
            }
            default -> {
                loadReg(0, 4);
                cb.l2i().i2l();
                storeReg(0, 8);
            }
        }
        return true;
    }

    /** CWD/CDQ/CQO: rDX gets the accumulator's sign. */
    private boolean signIntoDx() {
        int size = in.osz;
        loadReg(0, size);
        cb.loadConstant((size << 3) - 1).lushr().lneg();
        storeReg(2, size);
        return true;
    }

    private boolean bswap(int r) {
        switch (in.osz) {
            case 8 -> {
                loadReg(r, 8);
                cb.invokestatic(CD_LONG_BOX, "reverseBytes", MethodTypeDesc.of(CD_long, CD_long));
                storeReg(r, 8);
            }
            case 4 -> {
                loadReg(r, 4);
                cb.l2i().invokestatic(CD_INT_BOX, "reverseBytes", MethodTypeDesc.of(CD_int, CD_int)).i2l();
                storeReg(r, 4);
            }
            default -> {
                cb.lconst_0(); // BSWAP r16 is undefined; the interpreter clears the word
                storeReg(r, 2);
            }
        }
        return true;
    }

    private boolean cmov(int cc) {
        int size = in.osz;
        load(e(), size); // read even when the condition fails (it may fault)
        cb.lstore(T0);
        Label no = cb.newLabel();
        Label done = cb.newLabel();
        branchIf(cc ^ 1, no);
        cb.lload(T0);
        storeReg(in.reg, size);
        cb.goto_(done);
        cb.labelBinding(no);
        if (size == 4) {
            loadReg(in.reg, 4); // the 32-bit destination is written either way
            storeReg(in.reg, 4);
        }
        cb.labelBinding(done);
        return true;
    }

    private boolean setcc(int cc) {
        if (in.mod == 3) {
            condValue(cc);
            storeReg(in.rm, 1);
        } else {
            cb.aload(M);
            ea();
            condValue(cc);
            write(1);
        }
        return true;
    }

    // ---- stack ----

    private interface Value {
        void push();
    }

    /** PUSH (and CALL's return address): the store comes before RSP moves. */
    private boolean push(Value v) {
        v.push();
        cb.lstore(T0);
        getReg(4);
        cb.loadConstant(8L).lsub().lstore(TADDR);
        cb.aload(M).lload(TADDR).lload(T0);
        write(8);
        cb.lload(TADDR);
        storeReg(4, 8);
        return true;
    }

    private boolean pop(int r) {
        cb.aload(M);
        getReg(4);
        read(8);
        cb.lstore(T0);
        getReg(4);
        cb.loadConstant(8L).ladd();
        storeReg(4, 8);
        cb.lload(T0);
        storeReg(r, 8);
        return true;
    }

    private boolean ret() {
        cb.aload(M);
        getReg(4);
        read(8);
        cb.lstore(NEXT);
        long pop = 8 + (in.op == 0xC2 ? in.imm & 0xFFFF : 0);
        getReg(4);
        cb.loadConstant(pop).ladd();
        storeReg(4, 8);
        return true;
    }

    private boolean leave() {
        cb.aload(M);
        getReg(5);
        read(8);
        cb.lstore(T0);
        getReg(5);
        cb.loadConstant(8L).ladd();
        storeReg(4, 8);
        cb.lload(T0);
        storeReg(5, 8);
        return true;
    }

    // ---- groups ----

    private boolean group3(int size) {
        return switch (in.reg & 7) {
            case 0, 1 -> test(size, IMM);
            case 2 -> not(size);
            case 3 -> neg(size);
            case 4, 5 -> (size == 4 || size == 8) && mul(size, (in.reg & 7) == 5);
            default -> false; // DIV/IDIV: the interpreter
        };
    }

    private boolean group5(Region.End role) {
        int k = in.reg & 7;
        return switch (k) {
            case 0, 1 -> incDec(in.osz);
            case 2 -> in.osz == 8 && role == Region.End.INDIRECT && callIndirect();
            case 4 -> {
                if (in.osz != 8 || role != Region.End.INDIRECT) {
                    yield false;
                }
                load(e(), 8);
                cb.lstore(NEXT);
                yield true;
            }
            case 6 -> in.osz == 8 && push(() -> load(e(), 8));
            default -> false;
        };
    }

    private boolean callIndirect() {
        load(e(), 8);
        cb.lstore(T1);
        push(() -> cb.loadConstant(next));
        cb.lload(T1).lstore(NEXT);
        return true;
    }

    /** Loads the r/m destination into T0 (memory: address in TADDR). */
    private int loadDestination(int size) {
        int dst = e();
        if (dst == MEM) {
            ea();
            cb.lstore(TADDR);
            cb.aload(M).lload(TADDR);
            read(size);
        } else {
            loadReg(dst, size);
        }
        cb.lstore(T0);
        return dst;
    }

    private boolean incDec(int size) {
        boolean dec = (in.reg & 7) == 1;
        int dst = loadDestination(size);
        carryValue();
        cb.lstore(T2);
        cb.lload(T0).lconst_1();
        if (dec) {
            cb.lsub();
        } else {
            cb.ladd();
        }
        mask(size);
        cb.lstore(T3);
        writeBack(dst, size, T3);
        cb.lconst_1().lstore(T1);
        setFlags(dec ? LazyFlags.DEC : LazyFlags.INC, T0, T1, T3, size, T2);
        return true;
    }

    private boolean not(int size) {
        int dst = loadDestination(size);
        cb.lload(T0).loadConstant(-1L).lxor();
        mask(size);
        cb.lstore(T3);
        writeBack(dst, size, T3);
        return true;
    }

    private boolean neg(int size) {
        int dst = loadDestination(size);
        cb.lload(T0).lneg();
        mask(size);
        cb.lstore(T3);
        writeBack(dst, size, T3);
        setFlags(LazyFlags.SUB, -1, T0, T3, size, -1);
        return true;
    }

    /** MUL/IMUL r/m (one operand): rDX:rAX = rAX * r/m, CF = OF = the high half is significant. */
    private boolean mul(int size, boolean signed) {
        load(e(), size);
        cb.lstore(T1);
        loadReg(0, size);
        cb.lstore(T0);
        if (size == 8) {
            cb.lload(T0).lload(T1).lmul().lstore(T3);
            cb.lload(T0).lload(T1).invokestatic(ClassDesc.of("java.lang.Math"),
                signed ? "multiplyHigh" : "unsignedMultiplyHigh", MethodTypeDesc.of(CD_long, CD_long, CD_long))
                .lstore(T2);
            cb.lload(T3);
            storeReg(0, 8);
            cb.lload(T2);
            storeReg(2, 8);
            cb.lload(T2);
            if (signed) {
                cb.lload(T3).loadConstant(63).lshr().lxor(); // significant unless hi is lo's sign
            }
        } else {
            if (signed) {
                cb.lload(T0).l2i().i2l().lload(T1).l2i().i2l().lmul().lstore(T2); // the 64-bit product
            } else {
                cb.lload(T0).lload(T1).lmul().lstore(T2);
            }
            cb.lload(T2);
            mask(4);
            cb.lstore(T3);
            cb.lload(T2);
            storeReg(0, 4);
            cb.lload(T2).loadConstant(32).lushr();
            storeReg(2, 4);
            if (signed) {
                cb.lload(T2).l2i().i2l().lload(T2).lxor(); // nonzero unless the product fits 32 bits
            } else {
                cb.lload(T2).loadConstant(32).lushr();
            }
        }
        nonZeroToOne();
        cb.lstore(T2);
        setFlags(LazyFlags.MUL, -1, -1, T3, size, T2);
        return true;
    }

    /** Replaces the long on the stack with 1 if it is nonzero, else 0. */
    private void nonZeroToOne() {
        cb.dup2().lneg().lor().loadConstant(63).lushr();
    }

    /** IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69, 6B): the low half, flags on signed overflow. */
    private boolean imul3(boolean twoOperand) {
        int size = in.osz;
        if (size == 2) {
            return false;
        }
        if (twoOperand) {
            loadReg(in.reg, size);
            cb.lstore(T0);
            load(e(), size);
            cb.lstore(T1);
        } else {
            load(e(), size);
            cb.lstore(T0);
            cb.loadConstant(in.imm).lstore(T1);
        }
        if (size == 8) {
            cb.lload(T0).lload(T1).lmul().lstore(T3);
            cb.lload(T0).lload(T1).invokestatic(ClassDesc.of("java.lang.Math"), "multiplyHigh",
                MethodTypeDesc.of(CD_long, CD_long, CD_long));
            cb.lload(T3).loadConstant(63).lshr().lxor();
        } else {
            cb.lload(T0).l2i().i2l().lload(T1).l2i().i2l().lmul().lstore(T2);
            cb.lload(T2);
            mask(4);
            cb.lstore(T3);
            cb.lload(T2).l2i().i2l().lload(T2).lxor();
        }
        nonZeroToOne();
        cb.lstore(T2);
        cb.lload(T3);
        storeReg(in.reg, size);
        setFlags(LazyFlags.MUL, -1, -1, T3, size, T2);
        return true;
    }

    /** SHL/SAL, SHR, SAR by a constant count (C0/C1 with imm8, D0/D1 by one). */
    private boolean shift(int size, int rawCount) {
        int k = in.reg & 7;
        if (k == 2 || k == 3 || (k < 2 && size < 4)) {
            return false; // RCL/RCR, and byte/word rotates: the interpreter
        }
        int count = rawCount & (size == 8 ? 0x3F : 0x1F);
        int bits = size << 3;
        if (count == 0) {
            // no flags change, but the operand is still read and a 32-bit register still written
            if (in.mod != 3) {
                cb.aload(M);
                ea();
                read(size);
                cb.pop2();
            } else if (size == 4) {
                loadReg(in.rm, 4);
                storeReg(in.rm, 4);
            }
            return true;
        }
        int dst = loadDestination(size);
        if (k < 2) {
            rotate(k == 1, size, count % bits, dst);
            return true;
        }
        int lop;
        switch (k) {
            case 4, 6 -> {
                lop = LazyFlags.SHL;
                cb.lload(T0).loadConstant(count).lshl();
                mask(size);
                cb.lstore(T3);
                if (count <= bits) {
                    cb.lload(T0).loadConstant(bits - count).lushr().lconst_1().land();
                } else {
                    cb.lconst_0();
                }
                cb.lstore(T2);
            }
            case 5 -> {
                lop = LazyFlags.SHR;
                cb.lload(T0).loadConstant(count).lushr().lstore(T3);
                cb.lload(T0).loadConstant(count - 1).lushr().lconst_1().land().lstore(T2);
            }
            default -> {
                lop = LazyFlags.SAR;
                cb.lload(T0);
                int sh = 64 - bits;
                if (sh != 0) {
                    cb.loadConstant(sh).lshl().loadConstant(sh).lshr();
                }
                cb.lstore(T1); // the sign-extended operand
                cb.lload(T1).loadConstant(Math.min(count, 63)).lshr();
                mask(size);
                cb.lstore(T3);
                cb.lload(T1).loadConstant(Math.min(count - 1, 63)).lshr().lconst_1().land().lstore(T2);
            }
        }
        writeBack(dst, size, T3);
        cb.loadConstant((long) count).lstore(T1);
        setFlags(lop, T0, T1, T3, size, T2);
        return true;
    }

    /**
     * ROL/ROR of T0 by a constant {@code c} (already reduced modulo the width): CF and OF change,
     * the other flags stay, so RFLAGS is made exact first unless nothing reads the flags after.
     */
    private void rotate(boolean right, int size, int c, int dst) {
        cb.lload(T0);
        if (size == 8) {
            cb.loadConstant(c).invokestatic(CD_LONG_BOX, right ? "rotateRight" : "rotateLeft",
                MethodTypeDesc.of(CD_long, CD_long, CD_int));
        } else {
            cb.l2i().loadConstant(c).invokestatic(CD_INT_BOX, right ? "rotateRight" : "rotateLeft",
                MethodTypeDesc.of(CD_int, CD_int, CD_int)).i2l();
            mask(4);
        }
        cb.lstore(T3);
        writeBack(dst, size, T3);
        rotateFlags(right, size, true);
    }

    /** FROT's value while no rotate is pending (CF and OF are bits 0 and 11: never all ones). */
    static final long NO_ROTATE = -1L;

    /**
     * CF and OF after a rotate whose result is in T3 (SDM vol. 2, RCL/RCR/ROL/ROR, flags); the
     * other flags stay. CF and OF go to local FROT, the record is left as it is, and they are
     * applied ({@link #applyRotate}) at once unless {@code lazy}: then a reader or the block's end
     * applies them, or the next writer of all six drops them. Most rotates' flags are live only
     * because a later load may fault (hashes and ciphers rotate between loads), and merging into
     * RFLAGS costs a full materialization of the record, which C2 inlines at every rotate. The
     * fault handler applies a pending rotate itself ({@link UnitCompiler#applyPendingRotate}).
     */
    private void rotateFlags(boolean right, int size, boolean lazy) {
        if (flagsDead) {
            sop = -1;
            return;
        }
        carryOverflow(right, size);
        cb.lstore(FROT);
        rotPending = true;
        if (!lazy) {
            applyRotate();
        }
    }

    /** Pushes a rotate's CF and OF as RFLAGS bits, from its result in T3. */
    private void carryOverflow(boolean right, int size) {
        int msb = (size << 3) - 1;
        if (right) {
            // CF = MSB of the result, OF = MSB xor the bit below it
            cb.lload(T3).loadConstant(msb).lushr().lconst_1().land();
            cb.lload(T3).lload(T3).iconst_1().lshl().lxor().loadConstant(msb).lushr().lconst_1().land()
                .loadConstant(11).lshl().lor();
        } else {
            // CF = LSB of the result, OF = MSB xor CF
            cb.lload(T3).lconst_1().land();
            cb.lload(T3).loadConstant(msb).lushr().lload(T3).lxor().lconst_1().land().loadConstant(11).lshl().lor();
        }
    }

    /** Merges a pending rotate's CF and OF into RFLAGS, as an eager rotate would have. */
    private void applyRotate() {
        if (!rotPending) {
            return;
        }
        rotPending = false;
        cb.aload(S);
        materializedFlags();
        cb.loadConstant(~(X86State.CF | X86State.OF)).land().lload(FROT).lor();
        cb.putfield(CD_STATE, "rflags", CD_long);
        cb.loadConstant(LazyFlags.NONE).istore(FOP);
        cb.loadConstant(NO_ROTATE).lstore(FROT);
        sop = LazyFlags.NONE;
        dirty = true;
    }

    /** SHL/SHR/SAR/ROL/ROR by CL (D3), 32- and 64-bit: a zero count changes nothing but a 32-bit register. */
    private boolean shiftByCl(int size) {
        int k = in.reg & 7;
        if (k == 2 || k == 3) {
            return false; // RCL/RCR
        }
        int bits = size << 3;
        int dst = loadDestination(size);
        getReg(1);
        cb.loadConstant((long) bits - 1).land().lstore(T1);
        Label zero = cb.newLabel();
        Label done = cb.newLabel();
        cb.lload(T1).lconst_0().lcmp().ifeq(zero);
        int lop = -1;
        switch (k) {
            case 0, 1 -> {
                cb.lload(T0);
                if (size == 8) {
                    cb.lload(T1).l2i().invokestatic(CD_LONG_BOX, k == 1 ? "rotateRight" : "rotateLeft",
                        MethodTypeDesc.of(CD_long, CD_long, CD_int));
                } else {
                    cb.l2i().lload(T1).l2i().invokestatic(CD_INT_BOX, k == 1 ? "rotateRight" : "rotateLeft",
                        MethodTypeDesc.of(CD_int, CD_int, CD_int)).i2l();
                    mask(4);
                }
                cb.lstore(T3);
            }
            case 4, 6 -> {
                lop = LazyFlags.SHL;
                cb.lload(T0).lload(T1).l2i().lshl();
                mask(size);
                cb.lstore(T3);
                cb.lload(T0).loadConstant(bits).lload(T1).l2i().isub().lushr().lconst_1().land().lstore(T2);
            }
            case 5 -> {
                lop = LazyFlags.SHR;
                cb.lload(T0).lload(T1).l2i().lushr().lstore(T3);
                cb.lload(T0).lload(T1).l2i().iconst_1().isub().lushr().lconst_1().land().lstore(T2);
            }
            default -> {
                lop = LazyFlags.SAR;
                cb.lload(T0);
                if (size == 4) {
                    cb.l2i().i2l();
                }
                cb.lstore(T2); // the sign-extended operand
                cb.lload(T2).lload(T1).l2i().lshr();
                mask(size);
                cb.lstore(T3);
                cb.lload(T2).lload(T1).l2i().iconst_1().isub().lshr().lconst_1().land().lstore(T2);
            }
        }
        writeBack(dst, size, T3);
        if (lop < 0) {
            rotateFlags(k == 1, size, false); // inside a branch on the count: only one path rotates
        } else {
            setFlags(lop, T0, T1, T3, size, T2);
        }
        cb.goto_(done);
        cb.labelBinding(zero);
        if (dst != MEM && size == 4) {
            cb.lload(T0);
            storeReg(dst, 4);
        }
        cb.labelBinding(done);
        sop = -1; // a zero count left the flags as they were: which producer holds them is known only at run time
        return true;
    }

    /**
     * BT/BTS/BTR/BTC on a register: CF gets the bit; the others stay (so RFLAGS is made exact
     * first unless dead), and BTS/BTR/BTC write the changed register.
     */
    private boolean bitTest(int kind, boolean immediate) {
        int size = in.osz;
        if (size == 2) {
            return false;
        }
        loadReg(in.rm, size);
        cb.lstore(T0);
        if (immediate) {
            cb.loadConstant(in.imm & ((size << 3) - 1));
        } else {
            loadReg(in.reg, size);
            cb.loadConstant((long) (size << 3) - 1).land();
        }
        cb.lstore(T1);
        if (kind >= 0) {
            cb.lload(T0).lconst_1().lload(T1).l2i().lshl();
            switch (kind) {
                case Interpreter.BTS -> cb.lor();
                case Interpreter.BTR -> cb.loadConstant(-1L).lxor().land();
                default -> cb.lxor();
            }
            storeReg(in.rm, size);
        }
        if (flagsDead) {
            sop = -1;
            return true;
        }
        cb.aload(S);
        materializedFlags();
        cb.loadConstant(~X86State.CF).land();
        cb.lload(T0).lload(T1).l2i().lushr().lconst_1().land().lor();
        cb.putfield(CD_STATE, "rflags", CD_long);
        cb.loadConstant(LazyFlags.NONE).istore(FOP);
        sop = LazyFlags.NONE;
        dirty = true;
        return true;
    }

    // ---- flag liveness (which producers' flags anybody reads) ----

    /** How an instruction uses the arithmetic flags: writes all six and reads none, reads some, or neither. */
    static final int FLAGS_NONE = 0, FLAGS_WRITE = 1, FLAGS_READ = 2;

    /**
     * The flags effect of {@code in} as translated here. Anything not translated (or not listed)
     * counts as reading them: the interpreter may look at any flag.
     */
    static int flagUse(Insn in) {
        int op = in.op;
        if (in.lock) {
            return FLAGS_READ;
        }
        if (op < 0x40 && (op & 7) < 6) {
            int kind = op >>> 3;
            return kind == ADC || kind == SBB ? FLAGS_READ : FLAGS_WRITE;
        }
        return switch (op) {
            case 0x80, 0x81, 0x83 -> (in.reg & 7) == ADC || (in.reg & 7) == SBB ? FLAGS_READ : FLAGS_WRITE;
            case 0x84, 0x85, 0xA8, 0xA9, 0x69, 0x6B, 0x1AF -> FLAGS_WRITE;
            case 0xF6, 0xF7 -> switch (in.reg & 7) {
                case 0, 1, 3, 4, 5 -> FLAGS_WRITE;
                case 2 -> FLAGS_NONE;
                default -> FLAGS_READ;
            };
            case 0xC0, 0xC1, 0xD0, 0xD1 -> {
                int k = in.reg & 7;
                int count = (op >= 0xD0 ? 1 : (int) in.imm) & (in.osz == 8 && op != 0xC0 && op != 0xD0 ? 0x3F : 0x1F);
                yield k >= 4 ? (count == 0 ? FLAGS_NONE : FLAGS_WRITE) : FLAGS_READ;
            }
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F,
                 0x63, 0x68, 0x6A, 0x88, 0x89, 0x8A, 0x8B, 0x8D, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
                 0x98, 0x99, 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD,
                 0xBE, 0xBF, 0xC2, 0xC3, 0xC6, 0xC7, 0xC9, 0xE8, 0xE9, 0xEB, 0xFC, 0xFD, 0x10D, 0x118, 0x119,
                 0x11A, 0x11B, 0x11C, 0x11D, 0x11E, 0x11F, 0x1B6, 0x1B7, 0x1BE, 0x1BF, 0x1C8, 0x1C9, 0x1CA, 0x1CB,
                 0x1CC, 0x1CD, 0x1CE, 0x1CF -> FLAGS_NONE;
            case 0x86, 0x87 -> in.mod == 3 ? FLAGS_NONE : FLAGS_READ;
            case 0xFF -> switch (in.reg & 7) {
                case 2, 4, 6 -> FLAGS_NONE;
                default -> FLAGS_READ; // INC/DEC keep CF
            };
            default -> FLAGS_READ;
        };
    }

    /** Whether {@code in} may raise a guest exception (memory operands, the stack, anything interpreted). */
    static boolean mayFault(Insn in) {
        int op = in.op;
        if (op == 0x8D || (op >= 0x118 && op <= 0x11F) || op == 0x10D) {
            return false; // LEA and hint NOPs compute an address without touching it
        }
        if (in.hasModrm && in.mod != 3) {
            return true;
        }
        return switch (op) {
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F,
                 0x68, 0x6A, 0xC2, 0xC3, 0xC9, 0xE8 -> true;
            case 0xFF -> (in.reg & 7) >= 2;
            default -> flagUse(in) == FLAGS_READ; // not translated: the interpreter may fault
        };
    }

    /** Per instruction of a block: whether the flags it leaves are dead (overwritten before any reader or fault). */
    static boolean[] deadFlags(java.util.List<Insn> insns) {
        int n = insns.size();
        boolean[] dead = new boolean[n];
        boolean live = true; // at the block's end the flags flow on
        for (int j = n - 1; j >= 0; j--) {
            dead[j] = !live;
            Insn in = insns.get(j);
            int use = flagUse(in);
            live = use == FLAGS_READ || mayFault(in) || (live && use != FLAGS_WRITE);
        }
        return dead;
    }
}
