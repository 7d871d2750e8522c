package org.jvisor.tcg;

import org.jvisor.cpu.X86State;

/**
 * The x87 FPU (SDM vol. 1, chapter 8): the control instructions (FNINIT, FNCLEX, FLDCW, FNSTCW,
 * FNSTSW, FNSTENV/FLDENV, FNSAVE/FRSTOR), exact 80-bit loads, stores and register moves, and the
 * basic arithmetic, compares, FXAM and integer conversions computed in double precision (not the
 * 64-bit significand of real hardware), FCMOVcc. Transcendentals, BCD and the partial-remainder
 * instructions raise #UD (logged with jvisor.tcg.logUnimp). No #MF: exceptions are never unmasked.
 */
final class X87Unit {
    private final TcgCpu cpu;
    private final X86State s;
    private final Mmu m;

    X87Unit(TcgCpu cpu) {
        this.cpu = cpu;
        this.s = cpu.s;
        this.m = cpu.mmu;
    }

    void exec(Insn in) {
        if ((s.cr0 & (X86State.CR0_EM | X86State.CR0_TS)) != 0) {
            throw CpuFault.of(CpuFault.NM);
        }
        int op = in.op;
        int k = in.reg & 7;
        if (in.mod == 3) {
            execReg(in, op, k, in.rm & 7);
            return;
        }
        long a = cpu.interp.ea(in);
        switch (op) {
            case 0xD8 -> arith(k, 0, toDouble32(m.read(a, 4)), false);
            case 0xDC -> arith(k, 0, Double.longBitsToDouble(m.read64(a)), false);
            case 0xD9 -> {
                switch (k) {
                    case 0 -> pushDouble(toDouble32(m.read(a, 4)));
                    case 2, 3 -> {
                        m.write(a, 4, Float.floatToRawIntBits((float) st(0)));
                        if (k == 3) {
                            pop();
                        }
                    }
                    case 4 -> loadEnv(a);
                    case 5 -> s.fcw = (int) m.read(a, 2);
                    case 6 -> {
                        storeEnv(a);
                        s.fcw |= 0x3F;
                    }
                    case 7 -> m.write(a, 2, s.fcw);
                    default -> throw cpu.unimplemented(in);
                }
            }
            case 0xDD -> {
                switch (k) {
                    case 0 -> pushDouble(Double.longBitsToDouble(m.read64(a)));
                    case 1 -> {
                        m.write64(a, toInt(st(0), 8, true));
                        pop();
                    }
                    case 2, 3 -> {
                        m.write64(a, Double.doubleToRawLongBits(st(0)));
                        if (k == 3) {
                            pop();
                        }
                    }
                    case 4 -> {
                        loadEnv(a);
                        for (int i = 0; i < 8; i++) {
                            int phys = (top() + i) & 7;
                            s.fpMantissa[phys] = m.read64(a + 28 + 10L * i);
                            s.fpExponent[phys] = (short) m.read(a + 36 + 10L * i, 2);
                        }
                    }
                    case 6 -> {
                        storeEnv(a);
                        for (int i = 0; i < 8; i++) {
                            int phys = (top() + i) & 7;
                            m.write64(a + 28 + 10L * i, s.fpMantissa[phys]);
                            m.write(a + 36 + 10L * i, 2, s.fpExponent[phys]);
                        }
                        init();
                    }
                    case 7 -> m.write(a, 2, s.fsw);
                    default -> throw cpu.unimplemented(in);
                }
            }
            case 0xDB -> {
                switch (k) {
                    case 0 -> pushDouble((int) m.read(a, 4));
                    case 1, 2, 3 -> {
                        m.write(a, 4, toInt(st(0), 4, k == 1));
                        if (k != 2) {
                            pop();
                        }
                    }
                    case 5 -> pushRaw(m.read64(a), (short) m.read(a + 8, 2));
                    case 7 -> {
                        int p = phys(0);
                        m.write64(a, s.fpMantissa[p]);
                        m.write(a + 8, 2, s.fpExponent[p]);
                        pop();
                    }
                    default -> throw cpu.unimplemented(in);
                }
            }
            case 0xDF -> {
                switch (k) {
                    case 0 -> pushDouble((short) m.read(a, 2));
                    case 1, 2, 3 -> {
                        m.write(a, 2, toInt(st(0), 2, k == 1));
                        if (k != 2) {
                            pop();
                        }
                    }
                    case 5 -> pushDouble((double) m.read64(a));
                    case 7 -> {
                        m.write64(a, toInt(st(0), 8, false));
                        pop();
                    }
                    default -> throw cpu.unimplemented(in);
                }
            }
            case 0xDA -> arith(k, 0, (int) m.read(a, 4), false);
            case 0xDE -> arith(k, 0, (short) m.read(a, 2), false);
            default -> throw cpu.unimplemented(in);
        }
    }

    private void execReg(Insn in, int op, int k, int i) {
        int modrm = 0xC0 | (k << 3) | i;
        switch (op) {
            case 0xD8 -> arith(k, 0, st(i), false);
            case 0xDC -> arithTo(i, k, false);
            case 0xDE -> {
                if (modrm == 0xD9) { // FCOMPP
                    compareFsw(st(0), st(1));
                    pop();
                    pop();
                } else {
                    arithTo(i, k, true);
                }
            }
            case 0xD9 -> {
                switch (modrm & 0xF8) {
                    case 0xC0 -> {
                        int p = phys(i);
                        pushRaw(s.fpMantissa[p], s.fpExponent[p]);
                    }
                    case 0xC8 -> {
                        int p0 = phys(0), pi = phys(i);
                        long mt = s.fpMantissa[p0];
                        short ex = s.fpExponent[p0];
                        s.fpMantissa[p0] = s.fpMantissa[pi];
                        s.fpExponent[p0] = s.fpExponent[pi];
                        s.fpMantissa[pi] = mt;
                        s.fpExponent[pi] = ex;
                    }
                    default -> d9Special(in, modrm);
                }
            }
            case 0xDA -> {
                if (modrm == 0xE9) { // FUCOMPP
                    compareFsw(st(0), st(1));
                    pop();
                    pop();
                } else if (modrm < 0xE0) {
                    fcmov(modrm, false, i);
                } else {
                    throw cpu.unimplemented(in);
                }
            }
            case 0xDB -> {
                if (modrm == 0xE3) {
                    init();
                } else if (modrm == 0xE2) {
                    s.fsw &= ~0x80FF;
                } else if ((modrm & 0xF0) == 0xE0 || (modrm & 0xF8) == 0xF0) { // FUCOMI / FCOMI
                    compareFlags(st(0), st(i));
                } else if (modrm < 0xE0) {
                    fcmov(modrm, true, i);
                } else {
                    throw cpu.unimplemented(in);
                }
            }
            case 0xDD -> {
                switch (modrm & 0xF8) {
                    case 0xC0 -> s.ftw &= ~(1 << phys(i)); // FFREE
                    case 0xD0, 0xD8 -> {
                        int p0 = phys(0), pi = phys(i);
                        s.fpMantissa[pi] = s.fpMantissa[p0];
                        s.fpExponent[pi] = s.fpExponent[p0];
                        s.ftw |= 1 << pi;
                        if ((modrm & 0xF8) == 0xD8) {
                            pop();
                        }
                    }
                    case 0xE0, 0xE8 -> {
                        compareFsw(st(0), st(i));
                        if ((modrm & 0xF8) == 0xE8) {
                            pop();
                        }
                    }
                    default -> throw cpu.unimplemented(in);
                }
            }
            case 0xDF -> {
                if (modrm == 0xE0) {
                    s.gpr[0] = (s.gpr[0] & ~0xFFFFL) | (s.fsw & 0xFFFF);
                } else if ((modrm & 0xF0) == 0xE0 || (modrm & 0xF8) == 0xF0) { // FUCOMIP / FCOMIP
                    compareFlags(st(0), st(i));
                    pop();
                } else {
                    throw cpu.unimplemented(in);
                }
            }
            default -> throw cpu.unimplemented(in);
        }
    }

    /** FCMOVcc (DA/DB C0-DF): B, E, BE, U and their negations (SDM vol. 2, FCMOVcc). */
    private void fcmov(int modrm, boolean negate, int i) {
        LazyFlags f = cpu.flags;
        boolean c = switch ((modrm >>> 3) & 3) {
            case 0 -> f.cf();
            case 1 -> f.zf();
            case 2 -> f.cf() || f.zf();
            default -> f.pf();
        };
        if (c != negate) {
            int p0 = phys(0), pi = phys(i);
            s.fpMantissa[p0] = s.fpMantissa[pi];
            s.fpExponent[p0] = s.fpExponent[pi];
        }
    }

    private void d9Special(Insn in, int modrm) {
        int p0 = phys(0);
        switch (modrm) {
            case 0xD0 -> { } // FNOP
            case 0xE0 -> s.fpExponent[p0] ^= (short) 0x8000; // FCHS
            case 0xE1 -> s.fpExponent[p0] &= 0x7FFF; // FABS
            case 0xE4 -> compareFsw(st(0), 0.0); // FTST
            case 0xE5 -> fxam();
            case 0xE8 -> pushDouble(1.0);
            case 0xE9 -> pushDouble(Math.log(10) / Math.log(2));
            case 0xEA -> pushDouble(1 / Math.log(2));
            case 0xEB -> pushDouble(Math.PI);
            case 0xEC -> pushDouble(Math.log10(2));
            case 0xED -> pushDouble(Math.log(2));
            case 0xEE -> pushDouble(0.0);
            case 0xFA -> setSt(0, Math.sqrt(st(0)));
            case 0xFC -> setSt(0, roundFcw(st(0)));
            default -> throw cpu.unimplemented(in);
        }
    }

    // ---- the register stack (SDM vol. 1, 8.1.2) ----

    private int phys(int i) {
        return (top() + i) & 7;
    }

    private double st(int i) {
        int p = phys(i);
        return toDouble(s.fpMantissa[p], s.fpExponent[p]);
    }

    private void setSt(int i, double v) {
        int p = phys(i);
        long[] r = fromDouble(v);
        s.fpMantissa[p] = r[0];
        s.fpExponent[p] = (short) r[1];
        s.ftw |= 1 << p;
    }

    private void pushRaw(long mant, short se) {
        int t = (top() - 1) & 7;
        s.fsw = (s.fsw & ~(7 << 11)) | (t << 11);
        s.fpMantissa[t] = mant;
        s.fpExponent[t] = se;
        s.ftw |= 1 << t;
    }

    private void pushDouble(double v) {
        long[] r = fromDouble(v);
        pushRaw(r[0], (short) r[1]);
    }

    private void pop() {
        int t = top();
        s.ftw &= ~(1 << t);
        s.fsw = (s.fsw & ~(7 << 11)) | (((t + 1) & 7) << 11);
    }

    /** st0 = st0 op src, with D8 semantics for op (0 add, 1 mul, 2 com, 3 comp, 4 sub, 5 subr, 6 div, 7 divr). */
    private void arith(int op, int dstIndex, double src, boolean popAfter) {
        double d = st(dstIndex);
        switch (op) {
            case 2, 3 -> {
                compareFsw(d, src);
                if (op == 3) {
                    pop();
                }
                return;
            }
            default -> setSt(dstIndex, apply(op, d, src));
        }
        if (popAfter) {
            pop();
        }
    }

    /** st(i) = st(i) op st0 (DC/DE register forms, where SUB/SUBR and DIV/DIVR trade places). */
    private void arithTo(int i, int op, boolean popAfter) {
        double d = st(i);
        double src = st(0);
        int o = switch (op) {
            case 4 -> 5;
            case 5 -> 4;
            case 6 -> 7;
            case 7 -> 6;
            default -> op;
        };
        if (o == 2 || o == 3) {
            compareFsw(src, d);
            if (o == 3 || popAfter) {
                pop();
            }
            return;
        }
        setSt(i, apply(o, d, src));
        if (popAfter) {
            pop();
        }
    }

    private static double apply(int op, double d, double src) {
        return switch (op) {
            case 0 -> d + src;
            case 1 -> d * src;
            case 4 -> d - src;
            case 5 -> src - d;
            case 6 -> d / src;
            default -> src / d;
        };
    }

    private static final int C0 = 1 << 8, C1 = 1 << 9, C2 = 1 << 10, C3 = 1 << 14;

    private void compareFsw(double a, double b) {
        int c;
        if (Double.isNaN(a) || Double.isNaN(b)) {
            c = C0 | C2 | C3;
        } else if (a < b) {
            c = C0;
        } else if (a == b) {
            c = C3;
        } else {
            c = 0;
        }
        s.fsw = (s.fsw & ~(C0 | C1 | C2 | C3)) | c;
    }

    private void compareFlags(double a, double b) {
        long fl = cpu.flags.materialize() & ~LazyFlags.ARITH;
        if (Double.isNaN(a) || Double.isNaN(b)) {
            fl |= X86State.ZF | X86State.PF | X86State.CF;
        } else if (a < b) {
            fl |= X86State.CF;
        } else if (a == b) {
            fl |= X86State.ZF;
        }
        s.rflags = fl;
    }

    private void fxam() {
        int p = phys(0);
        long mant = s.fpMantissa[p];
        int se = s.fpExponent[p] & 0xFFFF;
        int exp = se & 0x7FFF;
        int c;
        if ((s.ftw & (1 << p)) == 0) {
            c = C3 | C0; // empty
        } else if (exp == 0x7FFF) {
            c = (mant << 1) == 0 ? C2 | C0 : C0; // infinity : NaN
        } else if (exp == 0) {
            c = mant == 0 ? C3 : C3 | C2; // zero : denormal
        } else {
            c = mant < 0 ? C2 : 0; // normal : unsupported (no integer bit)
        }
        if ((se & 0x8000) != 0) {
            c |= C1;
        }
        s.fsw = (s.fsw & ~(C0 | C1 | C2 | C3)) | c;
    }

    // ---- conversions between the 80-bit format and doubles (precision is that of a double) ----

    static double toDouble(long mant, short seRaw) {
        int se = seRaw & 0xFFFF;
        boolean neg = (se & 0x8000) != 0;
        int exp = se & 0x7FFF;
        double v;
        if (exp == 0x7FFF) {
            v = (mant << 1) == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (mant == 0) {
            v = 0.0;
        } else {
            double m = (double) (mant >>> 11) * 2048.0 + (mant & 0x7FF);
            v = Math.scalb(m, exp - 16383 - 63);
        }
        return neg ? -v : v;
    }

    private final long[] conv = new long[2];

    long[] fromDouble(double v) {
        long bits = Double.doubleToRawLongBits(v);
        long sign = bits < 0 ? 0x8000 : 0;
        int e = (int) ((bits >>> 52) & 0x7FF);
        long frac = bits & ((1L << 52) - 1);
        if (e == 0x7FF) {
            conv[0] = frac == 0 ? 1L << 63 : 0xC000_0000_0000_0000L;
            conv[1] = sign | 0x7FFF;
        } else if (e == 0 && frac == 0) {
            conv[0] = 0;
            conv[1] = sign;
        } else {
            int exp;
            long mant;
            if (e == 0) { // subnormal double: normalize
                int lz = Long.numberOfLeadingZeros(frac);
                mant = frac << lz;
                exp = 1 - 1023 - (lz - 11) + 16383;
            } else {
                mant = (1L << 63) | (frac << 11);
                exp = e - 1023 + 16383;
            }
            conv[0] = mant;
            conv[1] = sign | exp;
        }
        return conv;
    }

    private static double toDouble32(long bits) {
        return Float.intBitsToFloat((int) bits);
    }

    private double roundFcw(double v) {
        return switch ((s.fcw >>> 10) & 3) {
            case 0 -> Math.rint(v);
            case 1 -> Math.floor(v);
            case 2 -> Math.ceil(v);
            default -> v < 0 ? Math.ceil(v) : Math.floor(v);
        };
    }

    /** FIST/FISTP (FCW rounding) and FISTTP (truncation); out of range gives the integer indefinite. */
    private long toInt(double v, int size, boolean truncate) {
        double r = truncate ? (v < 0 ? Math.ceil(v) : Math.floor(v)) : roundFcw(v);
        double lim = Math.scalb(1.0, size * 8 - 1);
        if (Double.isNaN(r) || r >= lim || r < -lim) {
            return size == 8 ? Long.MIN_VALUE : 1L << (size * 8 - 1);
        }
        return (long) r;
    }

    private int top() {
        return (s.fsw >>> 11) & 7;
    }

    private void init() {
        s.fcw = 0x37F;
        s.fsw = 0;
        s.ftw = 0;
        s.fop = 0;
        s.fip = 0;
        s.fdp = 0;
    }

    /** The 28-byte protected-mode environment (SDM vol. 1, figure 8-9). */
    private void storeEnv(long a) {
        m.write(a, 4, s.fcw);
        m.write(a + 4, 4, s.fsw);
        m.write(a + 8, 4, fullTagWord());
        m.write(a + 12, 4, s.fip);
        m.write(a + 16, 4, (long) s.fop << 16);
        m.write(a + 20, 4, s.fdp);
        m.write(a + 24, 4, 0);
    }

    private void loadEnv(long a) {
        s.fcw = (int) m.read(a, 2);
        s.fsw = (int) m.read(a + 4, 2);
        int tw = (int) m.read(a + 8, 2);
        int abridged = 0;
        for (int i = 0; i < 8; i++) {
            if (((tw >>> (2 * i)) & 3) != 3) {
                abridged |= 1 << i;
            }
        }
        s.ftw = abridged;
        s.fip = m.read(a + 12, 4);
        s.fop = (int) (m.read(a + 16, 4) >>> 16) & 0x7FF;
        s.fdp = m.read(a + 20, 4);
    }

    /** Expands the abridged tag (valid bits) to 2-bit tags: valid registers are reported as "valid" (00). */
    private int fullTagWord() {
        int tw = 0;
        for (int i = 0; i < 8; i++) {
            if ((s.ftw & (1 << i)) == 0) {
                tw |= 3 << (2 * i);
            }
        }
        return tw;
    }
}
