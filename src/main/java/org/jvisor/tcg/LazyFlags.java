package org.jvisor.tcg;

import org.jvisor.cpu.X86State;

/**
 * The six arithmetic flags, computed on demand (SDM vol. 1, 3.4.3.1 and appendix A): an
 * instruction records its kind, operands and result; CF/PF/AF/ZF/SF/OF are derived only when a
 * jump, SETcc, PUSHF or an interrupt needs them. While {@link #op} is {@link #NONE} the flags live
 * in {@link X86State#rflags} itself.
 */
final class LazyFlags {
    static final int NONE = 0, ADD = 1, ADC = 2, SUB = 3, SBB = 4, LOGIC = 5, INC = 6, DEC = 7,
        SHL = 8, SHR = 9, SAR = 10, MUL = 11;
    static final long ARITH = X86State.CF | X86State.PF | X86State.AF | X86State.ZF | X86State.SF | X86State.OF;

    private final X86State s;
    int op;
    long a;
    long b;
    /** The result, masked to the operand size. */
    long res;
    /** Operand size in bits. */
    int bits;
    /** Carry-in (ADC/SBB), preserved CF (INC/DEC), last bit shifted out, or MUL overflow. */
    long aux;

    LazyFlags(X86State s) {
        this.s = s;
    }

    void set(int op, long a, long b, long res, int size) {
        this.op = op;
        this.a = a;
        this.b = b;
        this.res = res;
        this.bits = size << 3;
    }

    void set(int op, long a, long b, long res, int size, long aux) {
        this.op = op;
        this.a = a;
        this.b = b;
        this.res = res;
        this.bits = size << 3;
        this.aux = aux;
    }

    /** Writes the computed flags into RFLAGS and returns it. */
    long materialize() {
        if (op != NONE) {
            s.rflags = (s.rflags & ~ARITH) | compute();
            op = NONE;
        }
        return s.rflags;
    }

    /** Forgets the pending computation: RFLAGS was written directly. */
    void clear() {
        op = NONE;
    }

    private long compute() {
        long f = 0;
        if (cf()) {
            f |= X86State.CF;
        }
        if (pf()) {
            f |= X86State.PF;
        }
        if (af()) {
            f |= X86State.AF;
        }
        if (res == 0) {
            f |= X86State.ZF;
        }
        if (sf()) {
            f |= X86State.SF;
        }
        if (of()) {
            f |= X86State.OF;
        }
        return f;
    }

    private long sign() {
        return 1L << (bits - 1);
    }

    boolean cf() {
        return switch (op) {
            case NONE -> (s.rflags & X86State.CF) != 0;
            case ADD -> Long.compareUnsigned(res, a) < 0;
            case ADC -> aux != 0 ? Long.compareUnsigned(res, a) <= 0 : Long.compareUnsigned(res, a) < 0;
            case SUB -> Long.compareUnsigned(a, b) < 0;
            case SBB -> aux != 0 ? Long.compareUnsigned(a, b) <= 0 : Long.compareUnsigned(a, b) < 0;
            case LOGIC -> false;
            default -> aux != 0;
        };
    }

    boolean zf() {
        return op == NONE ? (s.rflags & X86State.ZF) != 0 : res == 0;
    }

    boolean sf() {
        return op == NONE ? (s.rflags & X86State.SF) != 0 : (res & sign()) != 0;
    }

    boolean pf() {
        return op == NONE ? (s.rflags & X86State.PF) != 0 : (Integer.bitCount((int) res & 0xFF) & 1) == 0;
    }

    boolean af() {
        return switch (op) {
            case NONE -> (s.rflags & X86State.AF) != 0;
            case ADD, ADC, SUB, SBB, INC, DEC -> ((a ^ b ^ res) & 0x10) != 0;
            default -> false;
        };
    }

    boolean of() {
        long sg = sign();
        return switch (op) {
            case NONE -> (s.rflags & X86State.OF) != 0;
            case ADD, ADC -> ((a ^ res) & (b ^ res) & sg) != 0;
            case SUB, SBB -> ((a ^ b) & (a ^ res) & sg) != 0;
            case INC -> res == sg;
            case DEC -> a == sg;
            case SHL -> ((res & sg) != 0) != (aux != 0);
            case SHR -> (a & sg) != 0;
            case MUL -> aux != 0;
            default -> false;
        };
    }

    /** Condition code cc of Jcc/SETcc/CMOVcc (SDM vol. 1, appendix B). */
    boolean cond(int cc) {
        if (op == SUB) {
            return condSub(cc);
        }
        if (op == LOGIC) {
            return condLogic(cc);
        }
        boolean r = switch (cc >>> 1) {
            case 0 -> of();
            case 1 -> cf();
            case 2 -> zf();
            case 3 -> cf() || zf();
            case 4 -> sf();
            case 5 -> pf();
            case 6 -> sf() != of();
            default -> zf() || sf() != of();
        };
        return r ^ ((cc & 1) != 0);
    }

    /** Conditions straight from a compare's operands (the commonest case). */
    private boolean condSub(int cc) {
        int sh = 64 - bits;
        boolean r = switch (cc >>> 1) {
            case 1 -> Long.compareUnsigned(a, b) < 0;
            case 2 -> res == 0;
            case 3 -> Long.compareUnsigned(a, b) <= 0;
            case 6 -> (a << sh) >> sh < (b << sh) >> sh;
            case 7 -> (a << sh) >> sh <= (b << sh) >> sh;
            case 4 -> (res & sign()) != 0;
            case 5 -> pf();
            default -> of();
        };
        return r ^ ((cc & 1) != 0);
    }

    /** After AND/OR/XOR/TEST: CF = OF = 0. */
    private boolean condLogic(int cc) {
        boolean r = switch (cc >>> 1) {
            case 0, 1 -> false;
            case 2, 3 -> res == 0;
            case 4, 6 -> (res & sign()) != 0;
            case 5 -> pf();
            default -> res == 0 || (res & sign()) != 0;
        };
        return r ^ ((cc & 1) != 0);
    }
}
