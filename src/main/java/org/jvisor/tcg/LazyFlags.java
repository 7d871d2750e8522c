package org.jvisor.tcg;

import org.jvisor.cpu.X86State;

/**
 * The six arithmetic flags, computed on demand (SDM vol. 1, 3.4.3.1 and appendix A): an
 * instruction records its kind, operands and result; CF/PF/AF/ZF/SF/OF are derived only when a
 * jump, SETcc, PUSHF or an interrupt needs them. While {@link #op} is {@link #NONE} the flags live
 * in {@link X86State#rflags} itself.
 * <p>
 * The derivations are static functions of the record, so translated code, which keeps the record
 * in JVM locals, evaluates flags with the same code as the interpreter.
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
            s.rflags = materialize(op, a, b, res, bits, aux, s.rflags);
            op = NONE;
        }
        return s.rflags;
    }

    /**
     * A rotate's CF and OF ({@code cfOf}: RFLAGS bits) over the flags the record gives; the others
     * stay as they were (SDM vol. 2, ROL/ROR). For translated code whose rotate was pending when
     * an instruction after it faulted.
     */
    void overlayCarryOverflow(long cfOf) {
        s.rflags = materialize() & ~(X86State.CF | X86State.OF) | cfOf;
    }

    /** Forgets the pending computation: RFLAGS was written directly. */
    void clear() {
        op = NONE;
    }

    boolean cf() {
        return cf(op, a, b, res, bits, aux, s.rflags);
    }

    boolean zf() {
        return op == NONE ? (s.rflags & X86State.ZF) != 0 : res == 0;
    }

    boolean sf() {
        return op == NONE ? (s.rflags & X86State.SF) != 0 : (res & (1L << (bits - 1))) != 0;
    }

    boolean of() {
        return of(op, a, b, res, bits, aux, s.rflags);
    }

    boolean pf() {
        return op == NONE ? (s.rflags & X86State.PF) != 0 : pf(res);
    }

    /** Condition code cc of Jcc/SETcc/CMOVcc (SDM vol. 1, appendix B). */
    boolean cond(int cc) {
        return cond(op, a, b, res, bits, aux, s.rflags, cc);
    }

    // ---- the derivations, as functions of a record (op, a, b, res, bits, aux) and RFLAGS ----

    /** RFLAGS with its arithmetic bits computed from the record. */
    static long materialize(int op, long a, long b, long res, int bits, long aux, long rflags) {
        if (op == NONE) {
            return rflags;
        }
        long f = rflags & ~ARITH;
        if (cf(op, a, b, res, bits, aux, rflags)) {
            f |= X86State.CF;
        }
        if (pf(res)) {
            f |= X86State.PF;
        }
        if (af(op, a, b, res)) {
            f |= X86State.AF;
        }
        if (res == 0) {
            f |= X86State.ZF;
        }
        if ((res & (1L << (bits - 1))) != 0) {
            f |= X86State.SF;
        }
        if (of(op, a, b, res, bits, aux, rflags)) {
            f |= X86State.OF;
        }
        return f;
    }

    static boolean cf(int op, long a, long b, long res, int bits, long aux, long rflags) {
        return switch (op) {
            case NONE -> (rflags & X86State.CF) != 0;
            case ADD -> Long.compareUnsigned(res, a) < 0;
            case ADC -> aux != 0 ? Long.compareUnsigned(res, a) <= 0 : Long.compareUnsigned(res, a) < 0;
            case SUB -> Long.compareUnsigned(a, b) < 0;
            case SBB -> aux != 0 ? Long.compareUnsigned(a, b) <= 0 : Long.compareUnsigned(a, b) < 0;
            case LOGIC -> false;
            default -> aux != 0;
        };
    }

    /** PF: even parity of the result's low byte. */
    static boolean pf(long res) {
        return (Integer.bitCount((int) res & 0xFF) & 1) == 0;
    }

    static boolean af(int op, long a, long b, long res) {
        return switch (op) {
            case ADD, ADC, SUB, SBB, INC, DEC -> ((a ^ b ^ res) & 0x10) != 0;
            default -> false;
        };
    }

    static boolean of(int op, long a, long b, long res, int bits, long aux, long rflags) {
        long sg = 1L << (bits - 1);
        return switch (op) {
            case NONE -> (rflags & X86State.OF) != 0;
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

    static boolean cond(int op, long a, long b, long res, int bits, long aux, long rflags, int cc) {
        if (op == SUB) {
            return condSub(a, b, res, bits, cc);
        }
        if (op == LOGIC) {
            return condLogic(res, bits, cc);
        }
        boolean zf = op == NONE ? (rflags & X86State.ZF) != 0 : res == 0;
        boolean sf = op == NONE ? (rflags & X86State.SF) != 0 : (res & (1L << (bits - 1))) != 0;
        boolean r = switch (cc >>> 1) {
            case 0 -> of(op, a, b, res, bits, aux, rflags);
            case 1 -> cf(op, a, b, res, bits, aux, rflags);
            case 2 -> zf;
            case 3 -> cf(op, a, b, res, bits, aux, rflags) || zf;
            case 4 -> sf;
            case 5 -> op == NONE ? (rflags & X86State.PF) != 0 : pf(res);
            case 6 -> sf != of(op, a, b, res, bits, aux, rflags);
            default -> zf || sf != of(op, a, b, res, bits, aux, rflags);
        };
        return r ^ ((cc & 1) != 0);
    }

    /** Conditions straight from a compare's operands (the commonest case). */
    static boolean condSub(long a, long b, long res, int bits, int cc) {
        int sh = 64 - bits;
        boolean r = switch (cc >>> 1) {
            case 1 -> Long.compareUnsigned(a, b) < 0;
            case 2 -> res == 0;
            case 3 -> Long.compareUnsigned(a, b) <= 0;
            case 6 -> (a << sh) >> sh < (b << sh) >> sh;
            case 7 -> (a << sh) >> sh <= (b << sh) >> sh;
            case 4 -> (res & (1L << (bits - 1))) != 0;
            case 5 -> pf(res);
            default -> ((a ^ b) & (a ^ res) & (1L << (bits - 1))) != 0;
        };
        return r ^ ((cc & 1) != 0);
    }

    /** After AND/OR/XOR/TEST: CF = OF = 0. */
    static boolean condLogic(long res, int bits, int cc) {
        long sign = 1L << (bits - 1);
        boolean r = switch (cc >>> 1) {
            case 0, 1 -> false;
            case 2, 3 -> res == 0;
            case 4, 6 -> (res & sign) != 0;
            case 5 -> pf(res);
            default -> res == 0 || (res & sign) != 0;
        };
        return r ^ ((cc & 1) != 0);
    }
}
