package org.jvisor.tcg;

import java.lang.foreign.MemorySegment;
import org.jvisor.cpu.X86State;

/**
 * Executes one decoded instruction on the live state: the general-purpose integer instruction
 * set (SDM vol. 2), dispatching system instructions to {@link SystemOps} and string instructions
 * to {@link StringOps}. Each handler is a small method so the JIT compiles and inlines them; the
 * dispatch switches stay well below HotSpot's huge-method limit.
 */
final class Interpreter {
    // ALU operation kinds; 0-7 follow the opcode encoding (SDM vol. 2, table A-6 group 1)
    static final int ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7,
        INC = 8, DEC = 9, NOT = 10, NEG = 11, XCHG = 12, XADD = 13, CMPXCHG = 14, BTS = 15, BTR = 16, BTC = 17;

    private final TcgCpu cpu;
    private final X86State s;
    private final long[] g;
    private final Mmu m;
    private final LazyFlags f;
    private final MemorySegment mem;

    /** RIP of the next instruction; handlers that branch overwrite it. */
    long next;

    Interpreter(TcgCpu cpu) {
        this.cpu = cpu;
        this.s = cpu.s;
        this.g = cpu.s.gpr;
        this.m = cpu.mmu;
        this.f = cpu.flags;
        this.mem = m.memory();
    }

    // ---- operand helpers ----

    static long mask(int size) {
        return size == 8 ? -1L : (1L << (size << 3)) - 1;
    }

    static long sext(long v, int size) {
        return switch (size) {
            case 1 -> (byte) v;
            case 2 -> (short) v;
            case 4 -> (int) v;
            default -> v;
        };
    }

    long reg(Insn in, int r, int size) {
        return switch (size) {
            case 8 -> g[r];
            case 4 -> g[r] & 0xFFFF_FFFFL;
            case 2 -> g[r] & 0xFFFFL;
            default -> (r >= 4 && r < 8 && in.rex == 0) ? (g[r - 4] >>> 8) & 0xFF : g[r] & 0xFF;
        };
    }

    void setReg(Insn in, int r, int size, long v) {
        switch (size) {
            case 8 -> g[r] = v;
            case 4 -> g[r] = v & 0xFFFF_FFFFL;
            case 2 -> g[r] = (g[r] & ~0xFFFFL) | (v & 0xFFFF);
            default -> {
                if (r >= 4 && r < 8 && in.rex == 0) {
                    g[r - 4] = (g[r - 4] & ~0xFF00L) | ((v & 0xFF) << 8);
                } else {
                    g[r] = (g[r] & ~0xFFL) | (v & 0xFF);
                }
            }
        }
    }

    long segBase(int seg) {
        if (seg == Insn.FS) {
            return s.fs.base;
        }
        if (seg == Insn.GS) {
            return s.gs.base;
        }
        if (cpu.mode == 64) {
            return 0;
        }
        return switch (seg) {
            case Insn.ES -> s.es.base;
            case Insn.CS -> s.cs.base;
            case Insn.SS -> s.ss.base;
            default -> s.ds.base;
        };
    }

    /** Effective address without segment (LEA). */
    long offset(Insn in) {
        long a = in.disp;
        int b = in.base;
        if (b >= 0) {
            a += b == Insn.RIP_BASE ? next : g[b];
        }
        if (in.index >= 0) {
            a += g[in.index] << in.scale;
        }
        return in.asz == 8 ? a : in.asz == 4 ? a & 0xFFFF_FFFFL : a & 0xFFFF;
    }

    /** Linear address of the memory operand. */
    long ea(Insn in) {
        long a = offset(in);
        if (in.seg >= Insn.FS || cpu.mode != 64) {
            a += segBase(in.seg);
            if (cpu.mode != 64) {
                a &= 0xFFFF_FFFFL;
            }
        }
        return a;
    }

    long readE(Insn in, int size) {
        return in.mod == 3 ? reg(in, in.rm, size) : m.read(ea(in), size);
    }

    void writeE(Insn in, int size, long v) {
        if (in.mod == 3) {
            setReg(in, in.rm, size, v);
        } else {
            m.write(ea(in), size, v);
        }
    }

    // ---- stack (SDM vol. 1, 6.2) ----

    long stackLin(long sp) {
        if (cpu.mode == 64) {
            return sp;
        }
        return ((s.ss.db ? sp & 0xFFFF_FFFFL : sp & 0xFFFF) + s.ss.base) & 0xFFFF_FFFFL;
    }

    void setSp(long v) {
        if (cpu.mode == 64) {
            g[4] = v;
        } else if (s.ss.db) {
            g[4] = v & 0xFFFF_FFFFL;
        } else {
            g[4] = (g[4] & ~0xFFFFL) | (v & 0xFFFF);
        }
    }

    void push(long v, int size) {
        long sp = g[4] - size;
        m.write(stackLin(sp), size, v);
        setSp(sp);
    }

    long pop(int size) {
        long v = m.read(stackLin(g[4]), size);
        setSp(g[4] + size);
        return v;
    }

    long branch(Insn in, long target) {
        if (cpu.mode == 64) {
            return target;
        }
        return in.osz == 2 ? target & 0xFFFF : target & 0xFFFF_FFFFL;
    }

    // ---- ALU ----

    long carryIn(int kind) {
        return (kind == ADC || kind == SBB || kind == INC || kind == DEC) && f.cf() ? 1 : 0;
    }

    static boolean writesDest(int kind) {
        return kind != CMP;
    }

    /** Computes {@code a op b}, recording flags; {@code c} is the carry-in, kept CF, or CMPXCHG's accumulator. */
    long compute(int kind, long a, long b, int size, long c) {
        long r = result(kind, a, b, size, c);
        record(kind, a, b, r, size, c);
        return r;
    }

    /**
     * The value {@code a op b} alone, flags untouched: a memory destination is written before its
     * flags are recorded, so a write that faults leaves the flags of before the instruction.
     */
    static long result(int kind, long a, long b, int size, long c) {
        long mk = mask(size);
        return switch (kind) {
            case ADD, XADD -> (a + b) & mk;
            case OR -> (a | b) & mk;
            case AND -> a & b & mk;
            case SUB, CMP -> (a - b) & mk;
            case XOR -> (a ^ b) & mk;
            case ADC -> (a + b + c) & mk;
            case SBB -> (a - b - c) & mk;
            case INC -> (a + 1) & mk;
            case DEC -> (a - 1) & mk;
            case NOT -> ~a & mk;
            case NEG -> -a & mk;
            case XCHG -> b;
            case CMPXCHG -> a == (c & mk) ? b : a;
            case BTS -> a | (1L << b);
            case BTR -> a & ~(1L << b);
            case BTC -> a ^ (1L << b);
            default -> throw new IllegalStateException("alu kind " + kind);
        };
    }

    /** Records the flags of {@code r = a op b} (NOT and XCHG leave them alone). */
    void record(int kind, long a, long b, long r, int size, long c) {
        switch (kind) {
            case ADD, XADD -> f.set(LazyFlags.ADD, a, b, r, size);
            case OR, AND, XOR -> f.set(LazyFlags.LOGIC, a, b, r, size);
            case SUB, CMP -> f.set(LazyFlags.SUB, a, b, r, size);
            case ADC -> f.set(LazyFlags.ADC, a, b, r, size, c);
            case SBB -> f.set(LazyFlags.SBB, a, b, r, size, c);
            case INC -> f.set(LazyFlags.INC, a, 1, r, size, c);
            case DEC -> f.set(LazyFlags.DEC, a, 1, r, size, c);
            case NEG -> f.set(LazyFlags.SUB, 0, a, r, size);
            case CMPXCHG -> {
                long acc = c & mask(size);
                f.set(LazyFlags.SUB, acc, a, (acc - a) & mask(size), size);
            }
            case BTS, BTR, BTC -> setCf((a & (1L << b)) != 0);
            default -> { } // NOT, XCHG
        }
    }

    void setCf(boolean cf) {
        long fl = f.materialize();
        s.rflags = cf ? fl | X86State.CF : fl & ~X86State.CF;
    }

    /** Read-modify-write of the r/m operand; returns the old value. LOCK makes it atomic on RAM. */
    long rmw(Insn in, int kind, int size, long b, long c) {
        if (in.mod == 3) {
            long a = reg(in, in.rm, size);
            long r = compute(kind, a, b, size, c);
            if (writesDest(kind)) {
                setReg(in, in.rm, size, r);
            }
            return a;
        }
        long addr = ea(in);
        if ((in.lock || kind == XCHG) && writesDest(kind)) {
            return lockedRmw(addr, kind, size, b, c);
        }
        long a = m.read(addr, size);
        long r = result(kind, a, b, size, c);
        if (writesDest(kind)) {
            m.write(addr, size, r);
        }
        record(kind, a, b, r, size, c);
        return a;
    }

    /** Read-modify-write that other vCPUs see as one access; flags recorded after the write. */
    long lockedRmw(long addr, int kind, int size, long b, long c) {
        long off = m.hostOffsetForWrite(addr, size);
        long a, r;
        if (off >= 0 && (off & (size - 1)) == 0 && (size != 2 || (off & 3) != 3)) {
            do {
                a = loadVolatile(off, size);
                r = result(kind, a, b, size, c);
            } while (!cas(off, size, a, r));
            m.wroteHost(off, size);
        } else {
            synchronized (cpu.atomicLock) {
                a = m.read(addr, size);
                r = result(kind, a, b, size, c);
                m.write(addr, size, r);
            }
        }
        record(kind, a, b, r, size, c);
        return a;
    }

    private long loadVolatile(long off, int size) {
        return switch (size) {
            case 1, 2 -> (((int) Atomics.INT.getVolatile(mem, off & ~3L) & 0xFFFF_FFFFL) >>> ((off & 3) << 3)) & mask(size);
            case 4 -> (int) Atomics.INT.getVolatile(mem, off) & 0xFFFF_FFFFL;
            default -> (long) Atomics.LONG.getVolatile(mem, off);
        };
    }

    /** CAS of 1, 2, 4 or 8 bytes; bytes and words go through their aligned containing dword. */
    private boolean cas(long off, int size, long old, long nw) {
        return switch (size) {
            case 1, 2 -> {
                long word = off & ~3L;
                int shift = (int) (off & 3) << 3;
                int mk = (int) mask(size) << shift;
                while (true) {
                    int cur = (int) Atomics.INT.getVolatile(mem, word);
                    if (((cur & mk) >>> shift) != (int) old) {
                        yield false;
                    }
                    int upd = (cur & ~mk) | (((int) nw << shift) & mk);
                    if (Atomics.INT.compareAndSet(mem, word, cur, upd)) {
                        yield true;
                    }
                }
            }
            case 4 -> Atomics.INT.compareAndSet(mem, off, (int) old, (int) nw);
            default -> Atomics.LONG.compareAndSet(mem, off, old, nw);
        };
    }

    // ---- dispatch ----

    void exec(Insn in) {
        next = s.rip + in.len;
        if (in.handler != Insn.H_GENERIC) {
            fast(in);
            s.rip = next;
            return;
        }
        if (cpu.mode != 64) {
            next &= 0xFFFF_FFFFL;
        }
        if (in.lock) {
            checkLock(in);
        }
        int op = in.op;
        if (op < 0x100) {
            exec1(in, op);
        } else if (op < 0x200) {
            exec0F(in, op & 0xFF);
        } else if (!cpu.sse.execMap3(in, op)) {
            throw cpu.unimplemented(in);
        }
        s.rip = next;
    }

    /** Writes a 4- or 8-byte register result (4 zero-extends). */
    private void put(int r, int size, long v) {
        g[r] = size == 8 ? v : v & 0xFFFF_FFFFL;
    }

    private long get(int r, int size) {
        return size == 8 ? g[r] : g[r] & 0xFFFF_FFFFL;
    }

    /** The fast paths chosen by Decoder#classify: 64-bit mode, no LOCK, 4- or 8-byte operands. */
    private void fast(Insn in) {
        switch (in.handler) {
            case Insn.H_JCC -> {
                if (f.cond(in.kind)) {
                    next += in.imm;
                }
            }
            case Insn.H_JMP -> next += in.imm;
            case Insn.H_INCDEC_R -> incDec(in);
            case Insn.H_ALU_RR -> aluTo(in, get(in.src, in.osz));
            case Insn.H_ALU_RM -> aluTo(in, m.read(ea(in), in.osz));
            case Insn.H_ALU_RI -> aluTo(in, in.imm & mask(in.osz));
            case Insn.H_TEST_RR -> {
                int size = in.osz;
                long r = get(in.dst, size) & get(in.src, size);
                f.set(LazyFlags.LOGIC, r, r, r, size);
            }
            case Insn.H_MOV_RR -> put(in.dst, in.osz, g[in.src]);
            case Insn.H_LOAD -> put(in.dst, in.osz, in.osz == 8 ? m.read64(ea(in)) : m.read(ea(in), 4));
            case Insn.H_STORE -> store(in);
            case Insn.H_LEA -> put(in.dst, in.osz, offset(in));
            case Insn.H_MOVZX_LOAD -> put(in.dst, in.osz, m.read(ea(in), 1));
            case Insn.H_PUSH -> {
                long sp = g[4] - 8;
                m.write64(sp, g[in.src]);
                g[4] = sp;
            }
            case Insn.H_POP -> {
                long v = m.read64(g[4]);
                g[4] += 8;
                g[in.dst] = v;
            }
            case Insn.H_CALL -> {
                long sp = g[4] - 8;
                m.write64(sp, next);
                g[4] = sp;
                next += in.imm;
            }
            case Insn.H_RET -> {
                long t = m.read64(g[4]);
                g[4] += 8;
                next = t;
            }
            case Insn.H_MOV_RI -> put(in.dst, in.osz, in.imm);
            case Insn.H_NOP -> { }
            case Insn.H_MOV_MI -> m.write(ea(in), in.osz, in.imm);
            case Insn.H_ALU_MI -> aluMem(in, in.imm & mask(in.osz));
            case Insn.H_ALU_MR -> aluMem(in, get(in.src, in.osz));
            case Insn.H_CMOV -> {
                long v = readE(in, in.osz);
                if (f.cond(in.kind)) {
                    put(in.dst, in.osz, v);
                } else if (in.osz == 4) {
                    g[in.dst] &= 0xFFFF_FFFFL;
                }
            }
            case Insn.H_SETCC_R -> setReg(in, in.rm, 1, f.cond(in.kind) ? 1 : 0);
            case Insn.H_JMP_IND -> next = readE(in, 8);
            case Insn.H_CALL_IND -> {
                long t = readE(in, 8);
                long sp = g[4] - 8;
                m.write64(sp, next);
                g[4] = sp;
                next = t;
            }
            case Insn.H_MOVSXD -> g[in.dst] = (int) readE(in, 4);
            case Insn.H_SHIFT_RI -> {
                int size = in.osz;
                int count = (int) in.imm & (size == 8 ? 0x3F : 0x1F);
                if (count != 0) {
                    put(in.dst, size, shift(in.kind, get(in.dst, size), count, size));
                } else if (size == 4) {
                    g[in.dst] &= 0xFFFF_FFFFL;
                }
            }
            default -> throw new IllegalStateException("handler " + in.handler);
        }
    }

    private void incDec(Insn in) {
        int size = in.osz;
        long c = (f.op == LazyFlags.INC || f.op == LazyFlags.DEC) ? f.aux : f.cf() ? 1 : 0;
        long a = get(in.dst, size);
        long mk = mask(size);
        if (in.kind == 0) {
            long r = (a + 1) & mk;
            f.set(LazyFlags.INC, a, 1, r, size, c);
            put(in.dst, size, r);
        } else {
            long r = (a - 1) & mk;
            f.set(LazyFlags.DEC, a, 1, r, size, c);
            put(in.dst, size, r);
        }
    }

    private void aluTo(Insn in, long b) {
        int size = in.osz;
        long r = compute(in.kind, get(in.dst, size), b, size, 0);
        if (in.kind != CMP) {
            put(in.dst, size, r);
        }
    }

    /** ALU op on a memory destination (no LOCK: the decoder leaves locked forms to the generic path). */
    private void aluMem(Insn in, long b) {
        int size = in.osz;
        int kind = in.kind;
        long addr = ea(in);
        long a = m.read(addr, size);
        long r = result(kind, a, b, size, 0);
        if (kind != CMP) {
            m.write(addr, size, r);
        }
        record(kind, a, b, r, size, 0);
    }

    private void store(Insn in) {
        if (in.osz == 8) {
            m.write64(ea(in), g[in.dst]);
        } else {
            m.write(ea(in), 4, g[in.dst]);
        }
    }

    private void checkLock(Insn in) {
        int op = in.op;
        boolean ok = in.mod != 3 && in.hasModrm && switch (op) {
            case 0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x18, 0x19, 0x20, 0x21, 0x28, 0x29, 0x30, 0x31, 0x86, 0x87 -> true;
            case 0x80, 0x81, 0x82, 0x83 -> (in.reg & 7) != 7;
            case 0xF6, 0xF7 -> (in.reg & 7) == 2 || (in.reg & 7) == 3;
            case 0xFE, 0xFF -> (in.reg & 7) < 2;
            case 0x1AB, 0x1B3, 0x1BB, 0x1B0, 0x1B1, 0x1C0, 0x1C1 -> true;
            case 0x1BA -> (in.reg & 7) >= 5;
            case 0x1C7 -> (in.reg & 7) == 1;
            default -> false;
        };
        if (!ok) {
            throw CpuFault.ud();
        }
    }

    private void exec1(Insn in, int op) {
        switch (op) {
            case 0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x18, 0x19, 0x20, 0x21, 0x28, 0x29, 0x30, 0x31, 0x38, 0x39 -> {
                int size = (op & 1) == 0 ? 1 : in.osz;
                int kind = op >>> 3;
                rmw(in, kind, size, reg(in, in.reg, size), carryIn(kind));
            }
            case 0x02, 0x03, 0x0A, 0x0B, 0x12, 0x13, 0x1A, 0x1B, 0x22, 0x23, 0x2A, 0x2B, 0x32, 0x33, 0x3A, 0x3B -> {
                int size = (op & 1) == 0 ? 1 : in.osz;
                int kind = op >>> 3;
                long b = readE(in, size);
                long r = compute(kind, reg(in, in.reg, size), b, size, carryIn(kind));
                if (kind != CMP) {
                    setReg(in, in.reg, size, r);
                }
            }
            case 0x04, 0x05, 0x0C, 0x0D, 0x14, 0x15, 0x1C, 0x1D, 0x24, 0x25, 0x2C, 0x2D, 0x34, 0x35, 0x3C, 0x3D -> {
                int size = (op & 1) == 0 ? 1 : in.osz;
                int kind = op >>> 3;
                long r = compute(kind, reg(in, 0, size), in.imm & mask(size), size, carryIn(kind));
                if (kind != CMP) {
                    setReg(in, 0, size, r);
                }
            }
            case 0x06, 0x0E, 0x16, 0x1E -> {
                legacyOnly();
                push(cpu.sys.segment(op >>> 3).selector, in.osz);
            }
            case 0x07, 0x17, 0x1F -> {
                legacyOnly();
                int sel = (int) (m.read(stackLin(g[4]), in.osz) & 0xFFFF);
                cpu.sys.loadDataSegment(op >>> 3, sel);
                setSp(g[4] + in.osz);
                if (op == 0x17) {
                    cpu.shadowEnd = cpu.retired + 2;
                    cpu.endChunk = true;
                }
            }
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F -> {
                int kind = op < 0x48 ? INC : DEC;
                int r = op & 7;
                setReg(in, r, in.osz, compute(kind, reg(in, r, in.osz), 0, in.osz, carryIn(kind)));
            }
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 ->
                push(reg(in, (op & 7) | (in.rex & 1) << 3, in.osz), in.osz);
            case 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F -> {
                long v = pop(in.osz);
                setReg(in, (op & 7) | (in.rex & 1) << 3, in.osz, v);
            }
            case 0x27, 0x2F, 0x37, 0x3F, 0xD4, 0xD5 -> bcd(in, op);
            case 0x60 -> {
                legacyOnly();
                pusha(in.osz);
            }
            case 0x61 -> {
                legacyOnly();
                popa(in.osz);
            }
            case 0xD6 -> { // SALC (undocumented; AL = CF ? 0xFF : 0)
                legacyOnly();
                g[0] = (g[0] & ~0xFFL) | (f.cf() ? 0xFF : 0);
            }
            case 0x63 -> {
                if (cpu.mode != 64) {
                    throw cpu.unimplemented(in); // ARPL
                }
                long v = readE(in, 4);
                setReg(in, in.reg, in.osz, in.osz == 8 ? (int) v : v);
            }
            case 0x68, 0x6A -> push(in.imm, in.osz);
            case 0x69, 0x6B -> imul3(in, readE(in, in.osz), in.imm);
            case 0x6C, 0x6D -> cpu.str.ins(in, op == 0x6C ? 1 : ioSize(in));
            case 0x6E, 0x6F -> cpu.str.outs(in, op == 0x6E ? 1 : ioSize(in));
            case 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F -> {
                if (f.cond(op & 0xF)) {
                    next = branch(in, next + in.imm);
                }
            }
            case 0x80, 0x81, 0x82, 0x83 -> {
                if (op == 0x82 && cpu.mode == 64) {
                    throw CpuFault.ud();
                }
                int size = (op & 1) == 0 ? 1 : in.osz;
                int kind = in.reg & 7;
                rmw(in, kind, size, in.imm & mask(size), carryIn(kind));
            }
            case 0x84, 0x85 -> {
                int size = (op & 1) == 0 ? 1 : in.osz;
                long r = readE(in, size) & reg(in, in.reg, size);
                f.set(LazyFlags.LOGIC, r, r, r, size);
            }
            case 0x86, 0x87 -> {
                int size = (op & 1) == 0 ? 1 : in.osz;
                long b = reg(in, in.reg, size);
                long old = rmw(in, XCHG, size, b, 0);
                setReg(in, in.reg, size, old);
            }
            case 0x88, 0x89 -> {
                int size = (op & 1) == 0 ? 1 : in.osz;
                writeE(in, size, reg(in, in.reg, size));
            }
            case 0x8A, 0x8B -> {
                int size = (op & 1) == 0 ? 1 : in.osz;
                setReg(in, in.reg, size, readE(in, size));
            }
            case 0x8C -> {
                int sr = in.reg & 7;
                if (sr > 5) {
                    throw CpuFault.ud();
                }
                int sel = cpu.sys.segment(sr).selector;
                if (in.mod == 3) {
                    setReg(in, in.rm, in.osz, sel);
                } else {
                    m.write(ea(in), 2, sel);
                }
            }
            case 0x8D -> {
                if (in.mod == 3) {
                    throw CpuFault.ud();
                }
                setReg(in, in.reg, in.osz, offset(in));
            }
            case 0x8E -> {
                int sr = in.reg & 7;
                if (sr == Insn.CS || sr > 5) {
                    throw CpuFault.ud();
                }
                cpu.sys.loadDataSegment(sr, (int) readE(in, 2));
                if (sr == Insn.SS) {
                    cpu.shadowEnd = cpu.retired + 2;
                    cpu.endChunk = true;
                }
            }
            case 0x8F -> {
                if ((in.reg & 7) != 0) {
                    throw cpu.unimplemented(in);
                }
                long oldSp = g[4];
                long v = pop(in.osz);
                try {
                    writeE(in, in.osz, v);
                } catch (CpuFault e) {
                    g[4] = oldSp;
                    throw e;
                }
            }
            case 0x90 -> {
                if ((in.rex & 1) != 0) {
                    xchgAx(in, 8);
                }
                // NOP / PAUSE (F3 90)
            }
            case 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97 -> xchgAx(in, (op & 7) | (in.rex & 1) << 3);
            case 0x98 -> {
                switch (in.osz) {
                    case 2 -> setReg(in, 0, 2, (byte) g[0]);
                    case 4 -> setReg(in, 0, 4, (short) g[0]);
                    default -> g[0] = (int) g[0];
                }
            }
            case 0x99 -> {
                int size = in.osz;
                long sign = (reg(in, 0, size) >>> ((size << 3) - 1)) & 1;
                setReg(in, 2, size, sign != 0 ? -1L : 0);
            }
            case 0x9A -> cpu.sys.farCall(in, in.imm2(), in.imm);
            case 0x9B -> { // FWAIT
                if ((s.cr0 & (X86State.CR0_TS | X86State.CR0_MP)) == (X86State.CR0_TS | X86State.CR0_MP)) {
                    throw CpuFault.of(CpuFault.NM);
                }
                cpu.x87.checkPending();
            }
            case 0x9C -> pushf(in);
            case 0x9D -> popf(in);
            case 0x9E -> {
                long fl = f.materialize();
                long ah = (g[0] >>> 8) & (X86State.CF | X86State.PF | X86State.AF | X86State.ZF | X86State.SF);
                s.rflags = (fl & ~0xD5L) | ah;
            }
            case 0x9F -> {
                long fl = f.materialize();
                g[0] = (g[0] & ~0xFF00L) | ((fl & 0xD7 | 2) << 8);
            }
            case 0xA0, 0xA1 -> {
                int size = op == 0xA0 ? 1 : in.osz;
                setReg(in, 0, size, m.read(moffs(in), size));
            }
            case 0xA2, 0xA3 -> {
                int size = op == 0xA2 ? 1 : in.osz;
                m.write(moffs(in), size, reg(in, 0, size));
            }
            case 0xA4, 0xA5 -> cpu.str.movs(in, op == 0xA4 ? 1 : in.osz);
            case 0xA6, 0xA7 -> cpu.str.cmps(in, op == 0xA6 ? 1 : in.osz);
            case 0xA8, 0xA9 -> {
                int size = op == 0xA8 ? 1 : in.osz;
                long r = reg(in, 0, size) & in.imm & mask(size);
                f.set(LazyFlags.LOGIC, r, r, r, size);
            }
            case 0xAA, 0xAB -> cpu.str.stos(in, op == 0xAA ? 1 : in.osz);
            case 0xAC, 0xAD -> cpu.str.lods(in, op == 0xAC ? 1 : in.osz);
            case 0xAE, 0xAF -> cpu.str.scas(in, op == 0xAE ? 1 : in.osz);
            case 0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7 ->
                setReg(in, (op & 7) | (in.rex & 1) << 3, 1, in.imm);
            case 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD, 0xBE, 0xBF ->
                setReg(in, (op & 7) | (in.rex & 1) << 3, in.osz, in.imm);
            case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3 -> {
                int size = (op & 1) == 0 ? 1 : in.osz;
                int count = op <= 0xC1 ? (int) in.imm : op <= 0xD1 ? 1 : (int) g[1];
                shiftGroup(in, size, count);
            }
            case 0xC2, 0xC3 -> {
                long t = pop(in.osz);
                if (op == 0xC2) {
                    setSp(g[4] + in.imm);
                }
                next = branch(in, t);
            }
            case 0xC4, 0xC5 -> {
                if (cpu.mode == 64 || in.mod == 3) {
                    throw cpu.unimplemented(in); // VEX
                }
                loadFarPointer(in, op == 0xC4 ? Insn.ES : Insn.DS);
            }
            case 0xC6, 0xC7 -> {
                if ((in.reg & 7) != 0) {
                    throw cpu.unimplemented(in);
                }
                int size = op == 0xC6 ? 1 : in.osz;
                writeE(in, size, in.imm);
            }
            case 0xC8 -> enter(in);
            case 0xC9 -> {
                long v = m.read(stackLin(g[5]), in.osz);
                setSp(g[5] + in.osz);
                setReg(in, 5, in.osz, v);
            }
            case 0xCA, 0xCB -> cpu.sys.farReturn(in, op == 0xCA ? (int) in.imm : 0);
            case 0xCC -> softInt(3);
            case 0xCD -> softInt((int) in.imm & 0xFF);
            case 0xCE -> {
                legacyOnly();
                if (f.of()) {
                    softInt(CpuFault.OF);
                }
            }
            case 0xCF -> cpu.sys.iret(in);
            case 0xD7 -> {
                long a = (in.asz == 8 ? g[3] : in.asz == 4 ? g[3] & 0xFFFF_FFFFL : g[3] & 0xFFFF) + (g[0] & 0xFF);
                if (in.asz != 8) {
                    a &= in.asz == 4 ? 0xFFFF_FFFFL : 0xFFFF;
                }
                setReg(in, 0, 1, m.read(seg(in, a), 1));
            }
            case 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF -> cpu.x87.exec(in);
            case 0xE0, 0xE1, 0xE2 -> {
                long c = (countReg(in) - 1) & mask(in.asz);
                setCount(in, c);
                boolean go = c != 0 && (op == 0xE2 || (op == 0xE1) == f.zf());
                if (go) {
                    next = branch(in, next + in.imm);
                }
            }
            case 0xE3 -> {
                if (countReg(in) == 0) {
                    next = branch(in, next + in.imm);
                }
            }
            case 0xE4, 0xE5 -> {
                int size = op == 0xE4 ? 1 : ioSize(in);
                int port = (int) in.imm & 0xFF;
                cpu.sys.checkIo(port, size);
                setReg(in, 0, size, cpu.ioIn(port, size));
            }
            case 0xE6, 0xE7 -> {
                int size = op == 0xE6 ? 1 : ioSize(in);
                int port = (int) in.imm & 0xFF;
                cpu.sys.checkIo(port, size);
                cpu.ioOut(port, size, g[0]);
            }
            case 0xE8 -> {
                long t = branch(in, next + in.imm);
                push(next, in.osz);
                next = t;
            }
            case 0xE9, 0xEB -> next = branch(in, next + in.imm);
            case 0xEA -> {
                legacyOnly();
                cpu.sys.farJump(in, in.imm2(), in.imm);
            }
            case 0xEC, 0xED -> {
                int size = op == 0xEC ? 1 : ioSize(in);
                int port = (int) g[2] & 0xFFFF;
                cpu.sys.checkIo(port, size);
                setReg(in, 0, size, cpu.ioIn(port, size));
            }
            case 0xEE, 0xEF -> {
                int size = op == 0xEE ? 1 : ioSize(in);
                int port = (int) g[2] & 0xFFFF;
                cpu.sys.checkIo(port, size);
                cpu.ioOut(port, size, g[0]);
            }
            case 0xF1 -> cpu.exc.deliverEvent(CpuFault.DB, 0, false, Exceptions.PRIVILEGED_SOFT, next);
            case 0xF4 -> {
                cpu.sys.requireCpl0();
                cpu.stats.count(org.jvisor.cpu.ExitReason.HLT);
                cpu.halted = true;
                cpu.lastHalt = cpu.retired;
                cpu.endChunk = true;
            }
            case 0xF5 -> {
                long fl = f.materialize();
                s.rflags = fl ^ X86State.CF;
            }
            case 0xF6, 0xF7 -> group3(in, op == 0xF6 ? 1 : in.osz);
            case 0xF8 -> setCf(false);
            case 0xF9 -> setCf(true);
            case 0xFA -> {
                cpu.sys.checkIopl();
                s.rflags &= ~X86State.IF;
            }
            case 0xFB -> {
                cpu.sys.checkIopl();
                if ((s.rflags & X86State.IF) == 0) {
                    s.rflags |= X86State.IF;
                    cpu.shadowEnd = cpu.retired + 2;
                }
                cpu.endChunk = true;
            }
            case 0xFC -> s.rflags &= ~X86State.DF;
            case 0xFD -> s.rflags |= X86State.DF;
            case 0xFE -> {
                int k = in.reg & 7;
                if (k > 1) {
                    throw cpu.unimplemented(in);
                }
                int kind = k == 0 ? INC : DEC;
                rmw(in, kind, 1, 0, carryIn(kind));
            }
            case 0xFF -> group5(in);
            default -> throw cpu.unimplemented(in);
        }
    }

    /** PUSHA/PUSHAD: AX, CX, DX, BX, the SP before the first push, BP, SI, DI (SDM vol. 2). */
    private void pusha(int size) {
        long sp = g[4];
        for (int r = 0; r < 8; r++) {
            push(r == 4 ? sp : g[r], size);
        }
    }

    /** POPA/POPAD: the reverse order, the saved SP discarded. */
    private void popa(int size) {
        for (int r = 7; r >= 0; r--) {
            long v = pop(size);
            if (r != 4) {
                setReg(null, r, size, v);
            }
        }
    }

    /** LES, LDS, LSS, LFS, LGS: offset then selector from memory; the segment is loaded first. */
    private void loadFarPointer(Insn in, int seg) {
        if (in.mod == 3) {
            throw CpuFault.ud();
        }
        long a = ea(in);
        long off = m.read(a, in.osz);
        int sel = (int) m.read(cpu.mode == 64 ? a + in.osz : (a + in.osz) & 0xFFFF_FFFFL, 2);
        cpu.sys.loadDataSegment(seg, sel);
        setReg(in, in.reg, in.osz, off);
    }

    /** DAA, DAS, AAA, AAS, AAM, AAD (BcdOps); invalid in 64-bit mode. */
    private void bcd(Insn in, int op) {
        legacyOnly();
        int ax = (int) g[0] & 0xFFFF;
        long fl = f.materialize();
        long r = switch (op) {
            case 0x27 -> BcdOps.daa(ax, fl);
            case 0x2F -> BcdOps.das(ax, fl);
            case 0x37 -> BcdOps.aaa(ax, fl);
            case 0x3F -> BcdOps.aas(ax, fl);
            case 0xD4 -> {
                int base = (int) in.imm & 0xFF;
                if (base == 0) {
                    throw new CpuFault(CpuFault.DE, 0, false);
                }
                yield BcdOps.aam(ax, base);
            }
            default -> BcdOps.aad(ax, (int) in.imm & 0xFF);
        };
        g[0] = (g[0] & ~0xFFFFL) | (r & 0xFFFF);
        s.rflags = (s.rflags & ~BcdOps.ARITH) | (r >>> 16);
    }

    private void legacyOnly() {
        if (cpu.mode == 64) {
            throw CpuFault.ud();
        }
    }

    private int ioSize(Insn in) {
        return in.osz == 2 ? 2 : 4;
    }

    long seg(Insn in, long offset) {
        long a = offset;
        if (in.seg >= Insn.FS || cpu.mode != 64) {
            a += segBase(in.seg);
            if (cpu.mode != 64) {
                a &= 0xFFFF_FFFFL;
            }
        }
        return a;
    }

    private long moffs(Insn in) {
        return seg(in, in.imm);
    }

    long countReg(Insn in) {
        return in.asz == 8 ? g[1] : in.asz == 4 ? g[1] & 0xFFFF_FFFFL : g[1] & 0xFFFF;
    }

    void setCount(Insn in, long v) {
        switch (in.asz) {
            case 8 -> g[1] = v;
            case 4 -> g[1] = v & 0xFFFF_FFFFL;
            default -> g[1] = (g[1] & ~0xFFFFL) | (v & 0xFFFF);
        }
    }

    private void xchgAx(Insn in, int r) {
        long a = reg(in, 0, in.osz);
        setReg(in, 0, in.osz, reg(in, r, in.osz));
        setReg(in, r, in.osz, a);
    }

    private void softInt(int vector) {
        cpu.exc.deliverEvent(vector, 0, false, Exceptions.SOFTWARE, next);
        next = s.rip;
    }

    private void pushf(Insn in) {
        long fl = f.materialize() & ~(X86State.VM | X86State.RF);
        push(fl, in.osz);
    }

    private void popf(Insn in) {
        long v = pop(in.osz);
        long fl = f.materialize();
        long changeable = X86State.CF | X86State.PF | X86State.AF | X86State.ZF | X86State.SF | X86State.TF
            | X86State.DF | X86State.OF | X86State.NT | X86State.AC | X86State.ID;
        int cpl = s.cpl();
        int iopl = (int) ((fl & X86State.IOPL) >>> 12);
        if (cpl == 0) {
            changeable |= X86State.IOPL | X86State.IF;
        } else if (cpl <= iopl) {
            changeable |= X86State.IF;
        }
        if (in.osz == 2) {
            changeable &= 0xFFFF;
        }
        s.rflags = ((fl & ~changeable) | (v & changeable) | X86State.FIXED1) & ~X86State.RF;
        cpu.endChunk = true;
    }

    private void enter(Insn in) {
        int size = in.osz;
        int level = in.imm2() & 31;
        push(g[5], size);
        long frame = g[4];
        if (level > 0) {
            long bp = g[5];
            for (int i = 1; i < level; i++) {
                bp -= size;
                push(m.read(stackLin(bp), size), size);
            }
            push(frame, size);
        }
        setReg(in, 5, size, frame);
        setSp(g[4] - in.imm);
    }

    // ---- multiply / divide (SDM vol. 2, MUL, IMUL, DIV, IDIV) ----

    private void imul3(Insn in, long a, long b) {
        int size = in.osz;
        long sa = sext(a, size), sb = sext(b, size);
        long lo = sa * sb;
        boolean overflow;
        if (size == 8) {
            long hi = Math.multiplyHigh(sa, sb);
            overflow = hi != (lo >> 63);
        } else {
            overflow = sext(lo, size) != lo;
        }
        long r = lo & mask(size);
        f.set(LazyFlags.MUL, 0, 0, r, size, overflow ? 1 : 0);
        setReg(in, in.reg, size, r);
    }

    private void group3(Insn in, int size) {
        int k = in.reg & 7;
        switch (k) {
            case 0, 1 -> {
                long r = readE(in, size) & in.imm & mask(size);
                f.set(LazyFlags.LOGIC, r, r, r, size);
            }
            case 2 -> rmw(in, NOT, size, 0, 0);
            case 3 -> rmw(in, NEG, size, 0, 0);
            case 4 -> mul(in, size, readE(in, size));
            case 5 -> imul1(in, size, readE(in, size));
            case 6 -> div(in, size, readE(in, size));
            default -> idiv(in, size, readE(in, size));
        }
    }

    private void mul(Insn in, int size, long b) {
        long a = reg(in, 0, size);
        long lo, hi;
        switch (size) {
            case 1 -> {
                long p = a * b;
                setReg(in, 0, 2, p);
                lo = p & 0xFF;
                hi = p >>> 8;
            }
            case 8 -> {
                lo = a * b;
                hi = Math.unsignedMultiplyHigh(a, b);
                g[0] = lo;
                g[2] = hi;
            }
            default -> {
                long p = a * b;
                int bits = size << 3;
                lo = p & mask(size);
                hi = p >>> bits;
                setReg(in, 0, size, lo);
                setReg(in, 2, size, hi);
            }
        }
        f.set(LazyFlags.MUL, 0, 0, lo, size, hi != 0 ? 1 : 0);
    }

    private void imul1(Insn in, int size, long b) {
        long a = sext(reg(in, 0, size), size);
        long sb = sext(b, size);
        long lo, hi;
        boolean overflow;
        switch (size) {
            case 1 -> {
                long p = a * sb;
                setReg(in, 0, 2, p);
                lo = p & 0xFF;
                overflow = (byte) p != p;
            }
            case 8 -> {
                lo = a * sb;
                hi = Math.multiplyHigh(a, sb);
                g[0] = lo;
                g[2] = hi;
                overflow = hi != (lo >> 63);
            }
            default -> {
                long p = a * sb;
                lo = p & mask(size);
                setReg(in, 0, size, p);
                setReg(in, 2, size, p >> (size << 3));
                overflow = sext(p, size) != p;
            }
        }
        f.set(LazyFlags.MUL, 0, 0, lo, size, overflow ? 1 : 0);
    }

    private void div(Insn in, int size, long b) {
        if (b == 0) {
            throw CpuFault.of(CpuFault.DE);
        }
        switch (size) {
            case 1 -> {
                long a = g[0] & 0xFFFF;
                long q = a / b;
                if (q > 0xFF) {
                    throw CpuFault.of(CpuFault.DE);
                }
                setReg(in, 0, 2, (a % b) << 8 | q);
            }
            case 8 -> {
                long hi = g[2], lo = g[0];
                if (hi == 0) {
                    g[0] = Long.divideUnsigned(lo, b);
                    g[2] = Long.remainderUnsigned(lo, b);
                    return;
                }
                if (Long.compareUnsigned(hi, b) >= 0) {
                    throw CpuFault.of(CpuFault.DE);
                }
                // 128/64 restoring division, one quotient bit per step
                long q = 0, r = hi;
                for (int i = 63; i >= 0; i--) {
                    boolean carry = r < 0;
                    r = (r << 1) | ((lo >>> i) & 1);
                    q <<= 1;
                    if (carry || Long.compareUnsigned(r, b) >= 0) {
                        r -= b;
                        q |= 1;
                    }
                }
                g[0] = q;
                g[2] = r;
            }
            default -> {
                int bits = size << 3;
                long a = (reg(in, 2, size) << bits) | reg(in, 0, size);
                long q = Long.divideUnsigned(a, b);
                if (Long.compareUnsigned(q, mask(size)) > 0) {
                    throw CpuFault.of(CpuFault.DE);
                }
                setReg(in, 0, size, q);
                setReg(in, 2, size, Long.remainderUnsigned(a, b));
            }
        }
    }

    private void idiv(Insn in, int size, long b) {
        long sb = sext(b, size);
        if (sb == 0) {
            throw CpuFault.of(CpuFault.DE);
        }
        switch (size) {
            case 1 -> {
                long a = (short) g[0];
                long q = a / sb;
                if (q != (byte) q) {
                    throw CpuFault.of(CpuFault.DE);
                }
                setReg(in, 0, 2, ((a % sb) & 0xFF) << 8 | (q & 0xFF));
            }
            case 8 -> {
                long hi = g[2], lo = g[0];
                if (hi == (lo >> 63)) {
                    if (lo == Long.MIN_VALUE && sb == -1) {
                        throw CpuFault.of(CpuFault.DE);
                    }
                    g[0] = lo / sb;
                    g[2] = lo % sb;
                    return;
                }
                java.math.BigInteger a = java.math.BigInteger.valueOf(hi).shiftLeft(64)
                    .or(java.math.BigInteger.valueOf(lo).and(java.math.BigInteger.ONE.shiftLeft(64).subtract(java.math.BigInteger.ONE)));
                java.math.BigInteger[] qr = a.divideAndRemainder(java.math.BigInteger.valueOf(sb));
                if (qr[0].bitLength() > 63) {
                    throw CpuFault.of(CpuFault.DE);
                }
                g[0] = qr[0].longValue();
                g[2] = qr[1].longValue();
            }
            default -> {
                int bits = size << 3;
                long a = (sext(reg(in, 2, size), size) << bits) | reg(in, 0, size);
                long q = a / sb;
                if (sext(q, size) != q) {
                    throw CpuFault.of(CpuFault.DE);
                }
                setReg(in, 0, size, q);
                setReg(in, 2, size, a % sb);
            }
        }
    }

    // ---- shifts and rotates (SDM vol. 2, SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR) ----

    private void shiftGroup(Insn in, int size, int rawCount) {
        int count = rawCount & (size == 8 ? 0x3F : 0x1F);
        if (count == 0) {
            readE(in, size); // still faults on a bad operand
            if (in.mod == 3 && size == 4) {
                g[in.rm] &= 0xFFFF_FFFFL; // the 32-bit destination is still written
            }
            return;
        }
        int k = in.reg & 7;
        if (in.mod == 3) {
            setReg(in, in.rm, size, shift(k, reg(in, in.rm, size), count, size));
            return;
        }
        long addr = ea(in);
        long a = m.read(addr, size);
        boolean cfIn = (k == 2 || k == 3) && f.cf();
        long r = shiftResult(k, a, count, size, cfIn);
        m.write(addr, size, r); // before the flags: a faulting write leaves them as they were
        shiftFlags(k, a, count, r, size, cfIn);
    }

    /** Shift or rotate group 2 operation {@code k} of {@code a} by a nonzero masked count, recording flags. */
    long shift(int k, long a, int count, int size) {
        boolean cfIn = (k == 2 || k == 3) && f.cf();
        long r = shiftResult(k, a, count, size, cfIn);
        shiftFlags(k, a, count, r, size, cfIn);
        return r;
    }

    /** The value of a group 2 shift or rotate; RCL/RCR rotate through {@code cfIn}. */
    static long shiftResult(int k, long a, int count, int size, boolean cfIn) {
        int bits = size << 3;
        long mk = mask(size);
        long sign = 1L << (bits - 1);
        return switch (k) {
            case 0 -> { // ROL
                int c = count % bits;
                yield c == 0 ? a : ((a << c) | (a >>> (bits - c))) & mk;
            }
            case 1 -> { // ROR
                int c = count % bits;
                yield c == 0 ? a : ((a >>> c) | (a << (bits - c))) & mk;
            }
            case 2 -> { // RCL: a rotate of the bits+1 wide value CF:a
                int c = count % (bits + 1);
                boolean cf = cfIn;
                long r = a;
                for (int i = 0; i < c; i++) {
                    boolean out = (r & sign) != 0;
                    r = ((r << 1) | (cf ? 1 : 0)) & mk;
                    cf = out;
                }
                yield r;
            }
            case 3 -> { // RCR
                int c = count % (bits + 1);
                boolean cf = cfIn;
                long r = a;
                for (int i = 0; i < c; i++) {
                    boolean out = (r & 1) != 0;
                    r = (r >>> 1) | (cf ? sign : 0);
                    cf = out;
                }
                yield r;
            }
            case 4, 6 -> count >= 64 ? 0 : (a << count) & mk; // SHL/SAL
            case 5 -> a >>> count; // SHR
            default -> (sext(a, size) >> Math.min(count, 63)) & mk; // SAR
        };
    }

    /** Records the flags of {@code r}, the group 2 operation {@code k} of {@code a} by {@code count}. */
    void shiftFlags(int k, long a, int count, long r, int size, boolean cfIn) {
        int bits = size << 3;
        long sign = 1L << (bits - 1);
        switch (k) {
            case 0 -> { // ROL
                boolean cf = (r & 1) != 0;
                setCfOf(cf, ((r & sign) != 0) != cf);
            }
            case 1 -> { // ROR
                boolean msb = (r & sign) != 0;
                setCfOf(msb, msb != ((r & (sign >>> 1)) != 0));
            }
            case 2 -> { // RCL: the last bit out is bit (bits - c) of a
                int c = count % (bits + 1);
                boolean cf = c == 0 ? cfIn : ((a >>> (bits - c)) & 1) != 0;
                setCfOf(cf, ((r & sign) != 0) != cf);
            }
            case 3 -> { // RCR: the last bit out is bit (c - 1) of a
                int c = count % (bits + 1);
                boolean cf = c == 0 ? cfIn : ((a >>> (c - 1)) & 1) != 0;
                setCfOf(cf, ((a & sign) != 0) != cfIn);
            }
            case 4, 6 -> f.set(LazyFlags.SHL, a, count, r, size, count <= bits ? (a >>> (bits - count)) & 1 : 0);
            case 5 -> f.set(LazyFlags.SHR, a, count, r, size, (a >>> (count - 1)) & 1);
            default -> f.set(LazyFlags.SAR, a, count, r, size, (sext(a, size) >> Math.min(count - 1, 63)) & 1);
        }
    }

    private void setCfOf(boolean cf, boolean of) {
        long fl = f.materialize() & ~(X86State.CF | X86State.OF);
        s.rflags = fl | (cf ? X86State.CF : 0) | (of ? X86State.OF : 0);
    }

    /** Sets all six arithmetic flags from a result (for SHLD/SHRD and friends). */
    void setResultFlags(long r, int size, boolean cf, boolean of) {
        long fl = f.materialize() & ~LazyFlags.ARITH;
        if (cf) {
            fl |= X86State.CF;
        }
        if (of) {
            fl |= X86State.OF;
        }
        if ((r & mask(size)) == 0) {
            fl |= X86State.ZF;
        }
        if ((r & (1L << ((size << 3) - 1))) != 0) {
            fl |= X86State.SF;
        }
        if ((Integer.bitCount((int) r & 0xFF) & 1) == 0) {
            fl |= X86State.PF;
        }
        s.rflags = fl;
    }

    private void shiftDouble(Insn in, boolean left, int rawCount) {
        int size = in.osz;
        int count = rawCount & (size == 8 ? 0x3F : 0x1F);
        long addr = in.mod == 3 ? 0 : ea(in);
        long a = in.mod == 3 ? reg(in, in.rm, size) : m.read(addr, size);
        if (count == 0) {
            if (in.mod == 3 && size == 4) {
                g[in.rm] &= 0xFFFF_FFFFL;
            }
            return;
        }
        int bits = size << 3;
        long b = reg(in, in.reg, size);
        long mk = mask(size);
        long r;
        boolean cf;
        if (size == 2) {
            // 16-bit: operate on the 32-bit concatenation (counts above 16 are undefined)
            if (left) {
                long cat = (a << 16) | b;
                long sh = cat << count;
                r = (sh >>> 16) & 0xFFFF;
                cf = ((cat >>> (32 - count)) & 1) != 0;
            } else {
                long cat = (b << 16) | a;
                r = (cat >>> count) & 0xFFFF;
                cf = ((cat >>> (count - 1)) & 1) != 0;
            }
        } else if (left) {
            r = ((a << count) | (b >>> (bits - count))) & mk;
            cf = ((a >>> (bits - count)) & 1) != 0;
        } else {
            r = ((a >>> count) | (b << (bits - count))) & mk;
            cf = ((a >>> (count - 1)) & 1) != 0;
        }
        if (in.mod == 3) {
            setReg(in, in.rm, size, r);
        } else {
            m.write(addr, size, r); // before the flags: a faulting write leaves them as they were
        }
        long sign = 1L << (bits - 1);
        setResultFlags(r, size, cf, ((r ^ a) & sign) != 0);
    }

    // ---- group 5 ----

    private void group5(Insn in) {
        int k = in.reg & 7;
        switch (k) {
            case 0, 1 -> {
                int kind = k == 0 ? INC : DEC;
                rmw(in, kind, in.osz, 0, carryIn(kind));
            }
            case 2 -> {
                long t = branch(in, readE(in, in.osz));
                push(next, in.osz);
                next = t;
            }
            case 3, 5 -> {
                if (in.mod == 3) {
                    throw CpuFault.ud();
                }
                long a = ea(in);
                int osz = in.osz;
                long off = m.read(a, osz);
                int sel = (int) m.read(a + osz, 2);
                if (k == 3) {
                    cpu.sys.farCall(in, sel, off);
                } else {
                    cpu.sys.farJump(in, sel, off);
                }
            }
            case 4 -> next = branch(in, readE(in, in.osz));
            case 6 -> push(readE(in, in.osz), in.osz);
            default -> throw cpu.unimplemented(in);
        }
    }

    // ---- two-byte map ----

    private void exec0F(Insn in, int op) {
        switch (op) {
            case 0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x20, 0x21, 0x22, 0x23, 0x30, 0x32, 0x33, 0x34, 0x35,
                 0xA0, 0xA1, 0xA2, 0xA8, 0xA9, 0xAE, 0x31 -> cpu.sys.exec0F(in, op);
            case 0x0B -> throw CpuFault.ud();
            case 0xB2, 0xB4, 0xB5 -> loadFarPointer(in, op == 0xB2 ? Insn.SS : op == 0xB4 ? Insn.FS : Insn.GS);
            case 0x0D, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F -> { } // prefetch, hints, NOP Ev, ENDBR
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F -> {
                long v = readE(in, in.osz);
                if (f.cond(op & 0xF)) {
                    setReg(in, in.reg, in.osz, v);
                } else if (in.osz == 4) {
                    g[in.reg] &= 0xFFFF_FFFFL;
                }
            }
            case 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F -> {
                if (f.cond(op & 0xF)) {
                    next = branch(in, next + in.imm);
                }
            }
            case 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F ->
                writeE(in, 1, f.cond(op & 0xF) ? 1 : 0);
            case 0xA3 -> bitOp(in, -1, reg(in, in.reg, in.osz), true);
            case 0xAB -> bitOp(in, BTS, reg(in, in.reg, in.osz), true);
            case 0xB3 -> bitOp(in, BTR, reg(in, in.reg, in.osz), true);
            case 0xBB -> bitOp(in, BTC, reg(in, in.reg, in.osz), true);
            case 0xBA -> {
                int k = in.reg & 7;
                if (k < 4) {
                    throw CpuFault.ud();
                }
                bitOp(in, k == 4 ? -1 : k == 5 ? BTS : k == 6 ? BTR : BTC, in.imm, false);
            }
            case 0xA4, 0xA5 -> shiftDouble(in, true, op == 0xA4 ? (int) in.imm : (int) g[1]);
            case 0xAC, 0xAD -> shiftDouble(in, false, op == 0xAC ? (int) in.imm : (int) g[1]);
            case 0xAF -> imul3(in, reg(in, in.reg, in.osz), readE(in, in.osz));
            case 0xB0, 0xB1 -> cmpxchg(in, op == 0xB0 ? 1 : in.osz);
            case 0xB6, 0xB7 -> setReg(in, in.reg, in.osz, readE(in, op == 0xB6 ? 1 : 2));
            case 0xBE, 0xBF -> {
                int src = op == 0xBE ? 1 : 2;
                setReg(in, in.reg, in.osz, sext(readE(in, src), src));
            }
            case 0xB8 -> {
                if (in.rep != 0xF3) {
                    throw cpu.unimplemented(in); // JMPE
                }
                long v = readE(in, in.osz);
                setReg(in, in.reg, in.osz, Long.bitCount(v));
                f.materialize();
                s.rflags = (s.rflags & ~LazyFlags.ARITH) | (v == 0 ? X86State.ZF : 0);
            }
            case 0xBC, 0xBD -> bitScan(in, op == 0xBD);
            case 0xC0, 0xC1 -> xadd(in, op == 0xC0 ? 1 : in.osz);
            case 0xC7 -> group9(in);
            case 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF -> {
                int r = (op & 7) | (in.rex & 1) << 3;
                bswap(in, r);
            }
            default -> {
                if (!cpu.sse.exec(in, op)) {
                    throw cpu.unimplemented(in);
                }
            }
        }
    }

    private void bswap(Insn in, int r) {
        switch (in.osz) {
            case 8 -> g[r] = Long.reverseBytes(g[r]);
            case 4 -> g[r] = Integer.reverseBytes((int) g[r]) & 0xFFFF_FFFFL;
            default -> setReg(in, r, 2, 0);
        }
    }

    /** BT/BTS/BTR/BTC; with a register bit offset and a memory operand the offset reaches beyond it. */
    private void bitOp(Insn in, int kind, long bitOffset, boolean regOffset) {
        int size = in.osz;
        int bits = size << 3;
        if (in.mod == 3) {
            int bit = (int) (bitOffset & (bits - 1));
            long a = reg(in, in.rm, size);
            if (kind < 0) {
                setCf(((a >>> bit) & 1) != 0);
            } else {
                setReg(in, in.rm, size, compute(kind, a, bit, size, 0));
            }
            return;
        }
        long addr = ea(in);
        int bit;
        if (regOffset) {
            long off = sext(bitOffset, size);
            addr += (off >> (bits == 64 ? 6 : bits == 32 ? 5 : 4)) * size;
            if (cpu.mode != 64) {
                addr &= 0xFFFF_FFFFL;
            }
            bit = (int) (off & (bits - 1));
        } else {
            bit = (int) (bitOffset & (bits - 1));
        }
        if (kind < 0) {
            setCf(((m.read(addr, size) >>> bit) & 1) != 0);
        } else if (in.lock) {
            lockedRmw(addr, kind, size, bit, 0);
        } else {
            long a = m.read(addr, size);
            long r = result(kind, a, bit, size, 0);
            m.write(addr, size, r);
            record(kind, a, bit, r, size, 0);
        }
    }

    private void bitScan(Insn in, boolean reverse) {
        int size = in.osz;
        long v = readE(in, size);
        long fl = f.materialize();
        if (reverse && in.rep == 0xF3) { // LZCNT (advertised through CPUID 80000001h:ECX.ABM)
            int bits = size << 3;
            int n = v == 0 ? bits : Long.numberOfLeadingZeros(v) - (64 - bits);
            setReg(in, in.reg, size, n);
            fl &= ~(X86State.CF | X86State.ZF);
            s.rflags = fl | (v == 0 ? X86State.CF : 0) | (n == 0 ? X86State.ZF : 0);
            return;
        }
        if (v == 0) {
            s.rflags = fl | X86State.ZF;
            return;
        }
        int idx = reverse ? 63 - Long.numberOfLeadingZeros(v) : Long.numberOfTrailingZeros(v);
        setReg(in, in.reg, size, idx);
        s.rflags = fl & ~X86State.ZF;
    }

    private void xadd(Insn in, int size) {
        long src = reg(in, in.reg, size);
        if (in.mod == 3) {
            long d = reg(in, in.rm, size);
            long r = compute(XADD, d, src, size, 0);
            setReg(in, in.reg, size, d);
            setReg(in, in.rm, size, r);
            return;
        }
        long old = rmw(in, XADD, size, src, 0);
        setReg(in, in.reg, size, old);
    }

    private void cmpxchg(Insn in, int size) {
        long acc = reg(in, 0, size);
        long src = reg(in, in.reg, size);
        long old = rmw(in, CMPXCHG, size, src, acc);
        if (old != acc) {
            setReg(in, 0, size, old);
        }
    }

    private void group9(Insn in) {
        int k = in.reg & 7;
        if (k != 1 || in.mod == 3) {
            throw cpu.unimplemented(in); // RDRAND/RDSEED/RDPID, VMX: not advertised
        }
        long addr = ea(in);
        if (in.osz == 8) {
            cmpxchg16b(addr);
            return;
        }
        long expected = (g[2] << 32) | (g[0] & 0xFFFF_FFFFL);
        long desired = (g[1] << 32) | (g[3] & 0xFFFF_FFFFL);
        long off = m.hostOffsetForWrite(addr, 8);
        long old;
        if (off >= 0 && (off & 7) == 0) {
            old = (long) Atomics.LONG.compareAndExchange(mem, off, expected, desired);
            if (old == expected) {
                m.wroteHost(off, 8);
            }
        } else {
            synchronized (cpu.atomicLock) {
                old = m.read(addr, 8);
                m.write(addr, 8, old == expected ? desired : old);
            }
        }
        long fl = f.materialize();
        if (old == expected) {
            s.rflags = fl | X86State.ZF;
        } else {
            s.rflags = fl & ~X86State.ZF;
            g[0] = old & 0xFFFF_FFFFL;
            g[2] = old >>> 32;
        }
    }

    private void cmpxchg16b(long addr) {
        if ((addr & 15) != 0) {
            throw CpuFault.gp0();
        }
        long lo, hi;
        boolean eq;
        synchronized (cpu.atomicLock) {
            lo = m.read64(addr);
            hi = m.read64(addr + 8);
            eq = lo == g[0] && hi == g[2];
            if (eq) {
                m.write64(addr, g[3]);
                m.write64(addr + 8, g[1]);
            } else {
                m.write64(addr, lo);
                m.write64(addr + 8, hi);
            }
        }
        long fl = f.materialize();
        if (eq) {
            s.rflags = fl | X86State.ZF;
        } else {
            s.rflags = fl & ~X86State.ZF;
            g[0] = lo;
            g[2] = hi;
        }
    }
}
