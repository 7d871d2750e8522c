package org.jvisor.tcg;

import org.jvisor.cpu.X86State;

/**
 * The x87 FPU (SDM vol. 1, chapter 8): the control instructions (FNINIT, FNCLEX, FLDCW, FNSTCW,
 * FNSTSW, FNSTENV/FLDENV, FNSAVE/FRSTOR), loads, stores and register moves, the arithmetic,
 * compares, FXAM, integer conversions, FCMOVcc, the transcendentals (FSIN, FCOS, FSINCOS, FPTAN,
 * FPATAN, F2XM1, FYL2X, FYL2XP1) and FSCALE, FPREM, FPREM1, FXTRACT, FRNDINT.
 *
 * <p>Precision: the registers hold double-extended values. Loads, stores, FADD/FSUB/FMUL/FDIV/FSQRT
 * (rounded to FCW.PC by FCW.RC), compares, FIST, FRNDINT, FSCALE, FXTRACT and the constants are
 * exact double-extended operations ({@link Float80}); the transcendentals, FPREM and FPREM1 read
 * their operands rounded to binary64 and compute in binary64 (StrictMath: within an ulp or two of
 * the hardware's, not bit-identical; the hardware's 66-bit pi argument reduction for huge
 * arguments is not reproduced; FPREM's result is exact for binary64 operands).
 *
 * <p>Exceptions (SDM vol. 1, 8.4-8.5): the status word gets IE (with SF for stack overflow and
 * underflow), DE, ZE, OE, UE, PE and C1; an unmasked one sets ES and B and raises #MF at the next
 * waiting x87 instruction, FWAIT or MMX instruction when CR0.NE is set (with NE clear the FERR#
 * line is not modelled: the exception stays pending in FSW). An unmasked invalid, zero-divide or
 * denormal exception leaves the destination and the stack unchanged; unmasked overflow and
 * underflow store the masked result rather than one with a biased exponent. BCD loads/stores
 * raise #UD.
 */
final class X87Unit {
    // FSW (SDM vol. 1, 8.1.3)
    static final int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32, SF = 64, ES = 0x80, B = 0x8000;
    private static final int C0 = 1 << 8, C1 = 1 << 9, C2 = 1 << 10, C3 = 1 << 14;
    private static final long INDEF = 0xFFF8_0000_0000_0000L; // the QNaN floating-point indefinite
    private static final double LN2 = 0.6931471805599453;

    private final TcgCpu cpu;
    private final X86State s;
    private final Mmu m;
    private final SimdFloat fp = new SimdFloat();
    private final Float80 x = new Float80();
    /** Exceptions the current instruction raised (FSW bits 6:0) and its C1. */
    private int flags;
    private boolean c1;

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
        if (waits(in, op, k)) {
            checkPending();
        }
        flags = 0;
        c1 = false;
        if (in.mod == 3) {
            execReg(in, op, k, in.rm & 7);
            return;
        }
        long a = cpu.interp.ea(in);
        switch (op) {
            case 0xD8 -> {
                int f = (int) m.read(a, 4);
                memOperand(loadFloat(f, false), (f & SimdFloat.EXP_F) == 0 && (f & SimdFloat.MANT_F) != 0);
                arith(k, 0, false);
            }
            case 0xDC -> {
                long v = m.read64(a);
                memOperand(loadDouble(v, false), (v & SimdFloat.EXP_D) == 0 && (v & SimdFloat.MANT_D) != 0);
                arith(k, 0, false);
            }
            case 0xD9 -> {
                switch (k) {
                    case 0 -> push(loadFloat(m.read(a, 4), true));
                    case 2, 3 -> {
                        long f = storeFloat(false);
                        if (finish()) {
                            m.write(a, 4, f);
                            if (k == 3) {
                                pop();
                            }
                        }
                    }
                    case 4 -> loadEnv(a);
                    case 5 -> {
                        s.fcw = (int) m.read(a, 2);
                        updateSummary();
                    }
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
                    case 0 -> push(loadDouble(m.read64(a), true));
                    case 1 -> storeInt(a, 8, true, true);
                    case 2, 3 -> {
                        long v = storeFloat(true);
                        if (finish()) {
                            m.write64(a, v);
                            if (k == 3) {
                                pop();
                            }
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
                    case 0 -> pushInt((int) m.read(a, 4));
                    case 1, 2, 3 -> storeInt(a, 4, k == 1, k != 2);
                    case 5 -> pushRaw(m.read64(a), (short) m.read(a + 8, 2));
                    case 7 -> { // FSTP m80: exact, any encoding as it is; C1 cleared (SDM vol. 2, FST/FSTP)
                        int p = phys(0);
                        long mant = s.fpMantissa[p];
                        int se = s.fpExponent[p];
                        if (empty(0)) {
                            flags |= IE | SF;
                            mant = 0xC000_0000_0000_0000L;
                            se = 0xFFFF;
                        }
                        if (!finish()) {
                            break;
                        }
                        m.write64(a, mant);
                        m.write(a + 8, 2, se);
                        pop();
                    }
                    default -> throw cpu.unimplemented(in);
                }
            }
            case 0xDF -> {
                switch (k) {
                    case 0 -> pushInt((short) m.read(a, 2));
                    case 1, 2, 3 -> storeInt(a, 2, k == 1, k != 2);
                    case 5 -> pushInt(m.read64(a));
                    case 7 -> storeInt(a, 8, false, true);
                    default -> throw cpu.unimplemented(in);
                }
            }
            case 0xDA -> {
                intOperand((int) m.read(a, 4));
                arith(k, 0, false);
            }
            case 0xDE -> {
                intOperand((short) m.read(a, 2));
                arith(k, 0, false);
            }
            default -> throw cpu.unimplemented(in);
        }
    }

    /** Every x87 instruction but the no-wait control forms first takes a pending exception (SDM vol. 1, 8.6). */
    private static boolean waits(Insn in, int op, int k) {
        if (in.mod == 3) {
            int modrm = 0xC0 | (k << 3) | (in.rm & 7);
            return !(op == 0xDB && (modrm == 0xE2 || modrm == 0xE3)) && !(op == 0xDF && modrm == 0xE0);
        }
        return !(op == 0xD9 && (k == 6 || k == 7)) && !(op == 0xDD && (k == 6 || k == 7));
    }

    /** FWAIT and waiting x87 instructions: #MF for an unmasked exception left pending (CR0.NE = 1). */
    void checkPending() {
        if ((s.fsw & ES) != 0 && (s.cr0 & X86State.CR0_NE) != 0) {
            throw CpuFault.of(CpuFault.MF);
        }
    }

    private void execReg(Insn in, int op, int k, int i) {
        int modrm = 0xC0 | (k << 3) | i;
        switch (op) {
            case 0xD8 -> {
                regOperand(i);
                arith(k, 0, false);
            }
            case 0xDC -> arithTo(i, k, false);
            case 0xDE -> {
                if (modrm == 0xD9) { // FCOMPP
                    compareRegs(1, true, false, 2);
                } else {
                    arithTo(i, k, true);
                }
            }
            case 0xD9 -> {
                switch (modrm & 0xF8) {
                    case 0xC0 -> {
                        if (empty(i)) {
                            flags |= IE | SF;
                            push(INDEF);
                        } else {
                            int p = phys(i);
                            pushRaw(s.fpMantissa[p], s.fpExponent[p]);
                        }
                    }
                    case 0xC8 -> { // FXCH; empty registers are exchanged as the indefinite
                        long a = st(0), b = st(i);
                        if (finish()) {
                            if ((flags & SF) != 0) {
                                setSt(0, a);
                                setSt(i, b);
                            }
                            int p0 = phys(0), pi = phys(i);
                            long mt = s.fpMantissa[p0];
                            short ex = s.fpExponent[p0];
                            s.fpMantissa[p0] = s.fpMantissa[pi];
                            s.fpExponent[p0] = s.fpExponent[pi];
                            s.fpMantissa[pi] = mt;
                            s.fpExponent[pi] = ex;
                        }
                    }
                    default -> d9Special(in, modrm);
                }
            }
            case 0xDA -> {
                if (modrm == 0xE9) { // FUCOMPP
                    compareRegs(1, false, false, 2);
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
                    compareRegs(i, (modrm & 0xF8) == 0xF0, true, 0);
                } else if (modrm < 0xE0) {
                    fcmov(modrm, true, i);
                } else {
                    throw cpu.unimplemented(in);
                }
            }
            case 0xDD -> {
                switch (modrm & 0xF8) {
                    case 0xC0 -> s.ftw &= ~(1 << phys(i)); // FFREE
                    case 0xD0, 0xD8 -> { // FST / FSTP st(i)
                        long v = st(0);
                        if (finish()) {
                            if ((flags & SF) != 0) {
                                setSt(i, v);
                            } else {
                                int p0 = phys(0), pi = phys(i);
                                s.fpMantissa[pi] = s.fpMantissa[p0];
                                s.fpExponent[pi] = s.fpExponent[p0];
                                s.ftw |= 1 << pi;
                            }
                            if ((modrm & 0xF8) == 0xD8) {
                                pop();
                            }
                        }
                    }
                    case 0xE0, 0xE8 -> compareRegs(i, false, false, (modrm & 0xF8) == 0xE8 ? 1 : 0);
                    default -> throw cpu.unimplemented(in);
                }
            }
            case 0xDF -> {
                if (modrm == 0xE0) {
                    s.gpr[0] = (s.gpr[0] & ~0xFFFFL) | (s.fsw & 0xFFFF);
                } else if ((modrm & 0xF0) == 0xE0 || (modrm & 0xF8) == 0xF0) { // FUCOMIP / FCOMIP
                    compareRegs(i, (modrm & 0xF8) == 0xF0, true, 1);
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
        long src = st(i);
        st(0);
        if (!finish()) {
            return;
        }
        if (c != negate) {
            if ((flags & SF) != 0) {
                setSt(0, src);
            } else {
                int p0 = phys(0), pi = phys(i);
                s.fpMantissa[p0] = s.fpMantissa[pi];
                s.fpExponent[p0] = s.fpExponent[pi];
                s.ftw |= 1 << p0;
            }
        }
    }

    private void d9Special(Insn in, int modrm) {
        switch (modrm) {
            case 0xD0 -> { } // FNOP
            case 0xE0, 0xE1 -> { // FCHS, FABS: on the 80-bit sign, exact
                long v = st(0);
                if (finish()) {
                    if ((flags & SF) != 0) {
                        setSt(0, v);
                    }
                    int p0 = phys(0);
                    s.fpExponent[p0] = (short) (modrm == 0xE0 ? s.fpExponent[p0] ^ 0x8000 : s.fpExponent[p0] & 0x7FFF);
                }
            }
            case 0xE4 -> { // FTST
                regOperand(0);
                compare(srcM, srcSe, 0, 0, true, false, 0);
            }
            case 0xE5 -> fxam();
            case 0xE8 -> pushRaw(Float80.INT_BIT, (short) 0x3FFF);
            case 0xE9 -> pushRaw(constant(0xD49A_784B_CD1B_8AFEL, false), (short) 0x4000); // log2(10)
            case 0xEA -> pushRaw(constant(0xB8AA_3B29_5C17_F0BBL, true), (short) 0x3FFF); // log2(e)
            case 0xEB -> pushRaw(constant(0xC90F_DAA2_2168_C234L, true), (short) 0x4000); // pi
            case 0xEC -> pushRaw(constant(0x9A20_9A84_FBCF_F798L, true), (short) 0x3FFD); // log10(2)
            case 0xED -> pushRaw(constant(0xB172_17F7_D1CF_79ABL, true), (short) 0x3FFE); // ln(2)
            case 0xEE -> pushRaw(0, (short) 0);
            case 0xF0 -> f2xm1();
            case 0xF1 -> binaryPop(modrm); // FYL2X
            case 0xF2 -> trig(modrm); // FPTAN
            case 0xF3 -> binaryPop(modrm); // FPATAN
            case 0xF4 -> fxtract();
            case 0xF5, 0xF8 -> fprem(modrm == 0xF5);
            case 0xF6, 0xF7 -> { // FDECSTP, FINCSTP
                int t = (top() + (modrm == 0xF6 ? -1 : 1)) & 7;
                s.fsw = (s.fsw & ~((7 << 11) | C1)) | (t << 11);
            }
            case 0xF9 -> binaryPop(modrm); // FYL2XP1
            case 0xFA -> { // FSQRT
                regOperand(0);
                x.begin(s.fcw);
                x.sqrt(srcM, srcSe);
                setResultIfOk(0);
            }
            case 0xFB, 0xFE, 0xFF -> trig(modrm); // FSINCOS, FSIN, FCOS
            case 0xFC -> frndint();
            case 0xFD -> fscale();
            default -> throw cpu.unimplemented(in);
        }
    }

    // ---- the register stack (SDM vol. 1, 8.1.2) ----

    private int phys(int i) {
        return (top() + i) & 7;
    }

    private boolean empty(int i) {
        return (s.ftw & (1 << phys(i))) == 0;
    }

    /** ST(i) as binary64 bits; an empty register is a stack underflow (IE and SF) and reads as the indefinite. */
    private long st(int i) {
        int p = phys(i);
        if ((s.ftw & (1 << p)) == 0) {
            flags |= IE | SF;
            return INDEF;
        }
        return toBits(s.fpMantissa[p], s.fpExponent[p]);
    }

    private void setSt(int i, long v) {
        int p = phys(i);
        fromBits(v);
        s.fpMantissa[p] = convMant;
        s.fpExponent[p] = convExp;
        s.ftw |= 1 << p;
    }

    private void setIfOk(int i, long v) {
        if (finish()) {
            setSt(i, v);
        }
    }

    /** Pushes a register image; a non-empty new top is a stack overflow (IE, SF, C1: the indefinite, or nothing when unmasked). */
    private void pushRaw(long mant, short se) {
        int t = (top() - 1) & 7;
        if ((s.ftw & (1 << t)) != 0) {
            flags |= IE | SF;
            c1 = true;
            mant = 0xC000_0000_0000_0000L;
            se = (short) 0xFFFF;
        }
        if (!finish()) {
            return;
        }
        s.fsw = (s.fsw & ~(7 << 11)) | (t << 11);
        s.fpMantissa[t] = mant;
        s.fpExponent[t] = se;
        s.ftw |= 1 << t;
    }

    private void push(long v) {
        fromBits(v);
        pushRaw(convMant, convExp);
    }

    private void pop() {
        int t = top();
        s.ftw &= ~(1 << t);
        s.fsw = (s.fsw & ~(7 << 11)) | (((t + 1) & 7) << 11);
    }

    // ---- exceptions (SDM vol. 1, 8.4-8.5) ----

    /** The SimdFloat control for this instruction: FCW's rounding control, everything masked. */
    private int mxcsr() {
        return 0x1F80 | ((s.fcw >>> 10) & 3) << 13;
    }

    /** Takes SimdFloat's flags: not DE (the registers hold normal extended values), C1 from the rounding. */
    private void absorb() {
        flags |= (fp.pre & ~SimdFloat.DE) | fp.post;
        c1 = fp.roundedUp;
    }

    /**
     * Merges the instruction's exceptions into FSW (C1 too) and sets ES and B when one is unmasked;
     * returns false when an unmasked invalid, zero-divide or denormal exception forbids storing.
     */
    private boolean finish() {
        int f = flags;
        s.fsw = (s.fsw & ~C1) | (f & 0x7F) | (c1 ? C1 : 0);
        int unmasked = f & ~s.fcw & 0x3F;
        if (unmasked != 0) {
            s.fsw |= ES | B;
        }
        return (unmasked & (IE | ZE | DE)) == 0;
    }

    /** ES and B follow the flags and masks after FLDCW (SDM vol. 1, 8.1.3.1). */
    private void updateSummary() {
        if ((s.fsw & ~s.fcw & 0x3F) != 0) {
            s.fsw |= ES | B;
        } else {
            s.fsw &= ~(ES | B);
        }
    }

    // ---- loads of memory operands ----

    private void pushInt(long v) {
        x.fromInt(v);
        pushRaw(x.mant, (short) x.se);
    }

    /**
     * ST0 rounded to binary64 ({@code dbl}) or binary32 by RC for FST/FSTP m64/m32: NaNs keep the
     * top of their payload (an SNaN is invalid and quieted), unsupported formats store the indefinite.
     */
    private long storeFloat(boolean dbl) {
        regOperand(0);
        long mnt = srcM;
        int se = srcSe;
        boolean negative = (se & 0x8000) != 0;
        if (Float80.isNan(mnt, se)) {
            if (Float80.isSnan(mnt, se)) {
                flags |= IE;
            }
            return dbl ? (negative ? SimdFloat.SIGN_D : 0) | SimdFloat.EXP_D | SimdFloat.QBIT_D | ((mnt << 1) >>> 12)
                : ((negative ? SimdFloat.SIGN_F : 0) | SimdFloat.EXP_F | SimdFloat.QBIT_F | (int) ((mnt << 1) >>> 41))
                    & 0xFFFF_FFFFL;
        }
        if (Float80.unsupported(mnt, se)) {
            flags |= IE;
            return dbl ? INDEF : SimdFloat.INDEF_F & 0xFFFF_FFFFL;
        }
        if (Float80.isInf(mnt, se) || Float80.isZero(mnt, se)) {
            long mag = Float80.isZero(mnt, se) ? 0 : dbl ? SimdFloat.EXP_D : SimdFloat.EXP_F;
            return negative ? mag | (dbl ? SimdFloat.SIGN_D : SimdFloat.SIGN_F & 0xFFFF_FFFFL) : mag;
        }
        int lz = Long.numberOfLeadingZeros(mnt);
        long mm = mnt << lz;
        int e = ((se & 0x7FFF) == 0 ? 1 : se & 0x7FFF) - Float80.BIAS - lz; // value = mm * 2^(e - 63)
        fp.begin(mxcsr());
        long r = fp.roundValue(negative, mm >>> 1, e - 62, (mm & 1) != 0, dbl);
        absorb();
        return r;
    }

    /**
     * An m32 operand, exactly, as binary64 bits; a denormal is DE. FLD ({@code load}) quiets an SNaN
     * and reports IE; arithmetic keeps it signaling for its own NaN rules.
     */
    private long loadFloat(long raw, boolean load) {
        int f = (int) raw;
        if (SimdFloat.isNanF(f)) {
            long q = ((long) (f & SimdFloat.SIGN_F) << 32) | SimdFloat.EXP_D | ((long) (f & SimdFloat.MANT_F) << 29);
            return loadDouble(q, load);
        }
        if (load && (f & SimdFloat.EXP_F) == 0 && (f & SimdFloat.MANT_F) != 0) {
            flags |= DE;
        }
        return bits(Float.intBitsToFloat(f));
    }

    private long loadDouble(long v, boolean load) {
        if (load && SimdFloat.isSnanD(v)) {
            flags |= IE;
            return v | SimdFloat.QBIT_D;
        }
        if (load && (v & SimdFloat.EXP_D) == 0 && (v & SimdFloat.MANT_D) != 0) {
            flags |= DE;
        }
        return v;
    }

    private static long bits(double v) {
        return Double.doubleToRawLongBits(v);
    }

    private static double dbl(long v) {
        return Double.longBitsToDouble(v);
    }

    /**
     * A constant of FLDL2T etc. rounded by RC (SDM vol. 1, 8.3.7): {@code below} is the 64-bit
     * significand just under the true value, the next one up is above it; {@code nearestAbove}
     * says which is nearer.
     */
    private long constant(long below, boolean nearestAbove) {
        return switch ((s.fcw >>> 10) & 3) {
            case SimdFloat.RN -> nearestAbove ? below + 1 : below;
            case SimdFloat.RU -> below + 1;
            default -> below;
        };
    }

    // ---- arithmetic ----

    /** An operand in register format: ST(i), or a memory operand converted exactly. */
    private long srcM;
    private int srcSe;

    /** ST(i) as the operand; an empty register is a stack underflow (IE, SF) and reads as the indefinite. */
    private void regOperand(int i) {
        int p = phys(i);
        if ((s.ftw & (1 << p)) == 0) {
            flags |= IE | SF;
            srcM = Float80.INDEF_MANT;
            srcSe = Float80.INDEF_SE;
        } else {
            srcM = s.fpMantissa[p];
            srcSe = s.fpExponent[p] & 0xFFFF;
        }
    }

    /** A denormal m32/m64 operand: DE unless the other operand is a NaN (checked by arith). */
    private boolean memDenormal;

    /** A binary64 value (a converted m32 or m64 operand) as the operand, exactly. */
    private void memOperand(long doubleBits, boolean denormal) {
        memDenormal = denormal;
        x.fromDouble(doubleBits);
        srcM = x.mant;
        srcSe = x.se;
    }

    private void intOperand(long v) {
        memDenormal = false;
        x.fromInt(v);
        srcM = x.mant;
        srcSe = x.se;
    }

    private void setRaw(int i, long mant, int se) {
        int p = phys(i);
        s.fpMantissa[p] = mant;
        s.fpExponent[p] = (short) se;
        s.ftw |= 1 << p;
    }

    /** Stores the Float80 result in ST(i) unless an unmasked exception forbids it. */
    private void setResultIfOk(int i) {
        flags |= x.flags;
        c1 = x.roundedUp;
        if (finish()) {
            setRaw(i, x.mant, x.se);
        }
    }

    /** st(dst) = st(dst) op src (the operand set before), D8 semantics for op (0 add, 1 mul, 2 com, 3 comp, 4 sub, 5 subr, 6 div, 7 divr). */
    private void arith(int op, int dstIndex, boolean popAfter) {
        long sm = srcM;
        int sse = srcSe;
        boolean denormalSource = memDenormal;
        memDenormal = false;
        regOperand(dstIndex);
        // a denormal single or double memory operand (normal once in the register format) is DE,
        // unless the other operand is a NaN or the operation is invalid or a division by zero
        boolean denormal = denormalSource && !Float80.isNan(srcM, srcSe) && !Float80.unsupported(srcM, srcSe)
            && !Float80.isNan(sm, sse);
        if (op == 2 || op == 3) {
            if (denormal) {
                flags |= DE;
            }
            compare(srcM, srcSe, sm, sse, true, false, op == 3 ? 1 : 0);
            return;
        }
        compute(op, srcM, srcSe, sm, sse);
        if (denormal && (x.flags & (IE | ZE)) == 0) {
            flags |= DE;
        }
        flags |= x.flags;
        c1 = x.roundedUp;
        if (finish()) {
            setRaw(dstIndex, x.mant, x.se);
            if (popAfter) {
                pop();
            }
        }
    }

    /** st(i) = st(i) op st0 (DC/DE register forms, where SUB/SUBR and DIV/DIVR trade places). */
    private void arithTo(int i, int op, boolean popAfter) {
        int o = switch (op) {
            case 4 -> 5;
            case 5 -> 4;
            case 6 -> 7;
            case 7 -> 6;
            default -> op;
        };
        if (o == 2 || o == 3) { // DC D0-DF, DE D0-D7: aliases of FCOM/FCOMP
            compareRegs(i, true, false, o == 3 || popAfter ? 1 : 0);
            return;
        }
        regOperand(0);
        arith(o, i, popAfter);
    }

    /** One arithmetic operation in double-extended precision (Float80) under FCW's RC and PC. */
    private void compute(int op, long dm, int dse, long sm, int sse) {
        x.begin(s.fcw);
        switch (op) {
            case 0 -> x.add(dm, dse, sm, sse, false);
            case 1 -> x.mul(dm, dse, sm, sse);
            case 4 -> x.add(dm, dse, sm, sse, true);
            case 5 -> x.add(sm, sse, dm, dse, true);
            case 6 -> x.div(dm, dse, sm, sse);
            default -> x.div(sm, sse, dm, dse);
        }
    }

    /** Two NaNs: the QNaN over the SNaN, else the larger significand; one NaN: that one; quieted. */
    private static long nanResult(long a, long b) {
        boolean an = SimdFloat.isNanD(a), bn = SimdFloat.isNanD(b);
        long r;
        if (an && bn) {
            boolean aq = !SimdFloat.isSnanD(a), bq = !SimdFloat.isSnanD(b);
            if (aq != bq) {
                r = aq ? a : b;
            } else {
                r = (a | SimdFloat.QBIT_D) << 12 >>> 12 >= (b | SimdFloat.QBIT_D) << 12 >>> 12 ? a : b;
            }
        } else {
            r = an ? a : b;
        }
        return r | SimdFloat.QBIT_D;
    }

    private void compareRegs(int i, boolean ordered, boolean eflags, int pops) {
        regOperand(0);
        long am = srcM;
        int ase = srcSe;
        regOperand(i);
        compare(am, ase, srcM, srcSe, ordered, eflags, pops);
    }

    /**
     * FCOM/FUCOM (C3 C2 C0) or FCOMI/FUCOMI (ZF PF CF) of two register-format values, then
     * {@code pops} pops; {@code ordered} (FCOM, FCOMI, FTST) is invalid on any NaN, the unordered
     * forms on SNaNs only; unsupported formats are invalid and unordered. With an unmasked invalid
     * operation nothing is written or popped.
     */
    private void compare(long am, int ase, long bm, int bse, boolean ordered, boolean eflags, int pops) {
        boolean nan = Float80.isNan(am, ase) || Float80.isNan(bm, bse);
        boolean bad = Float80.unsupported(am, ase) || Float80.unsupported(bm, bse);
        boolean unord = nan || bad;
        if (bad || (nan && (ordered || Float80.isSnan(am, ase) || Float80.isSnan(bm, bse)))) {
            flags |= IE;
        } else if (!unord && (Float80.isDenormal(am, ase) || Float80.isDenormal(bm, bse))) {
            flags |= DE;
        }
        if (!finish()) {
            return;
        }
        int c = unord ? 2 : Float80.compare(am, ase, bm, bse);
        if (eflags) {
            long fl = cpu.flags.materialize() & ~LazyFlags.ARITH;
            fl |= switch (c) {
                case 2 -> X86State.ZF | X86State.PF | X86State.CF;
                case -1 -> X86State.CF;
                case 0 -> X86State.ZF;
                default -> 0;
            };
            s.rflags = fl;
        } else {
            int cc = switch (c) {
                case 2 -> C0 | C2 | C3;
                case -1 -> C0;
                case 0 -> C3;
                default -> 0;
            };
            s.fsw = (s.fsw & ~(C0 | C2 | C3)) | cc;
        }
        for (int i = 0; i < pops; i++) {
            pop();
        }
    }

    private void fxam() {
        int p = phys(0);
        long mant = s.fpMantissa[p];
        int se = s.fpExponent[p] & 0xFFFF;
        int exp = se & 0x7FFF;
        int c;
        if ((s.ftw & (1 << p)) == 0) {
            c = C3 | C0; // empty
        } else if (Float80.unsupported(mant, se)) {
            c = 0; // pseudo-NaN, pseudo-infinity, unnormal: no integer bit under a nonzero exponent
        } else if (exp == 0x7FFF) {
            c = (mant << 1) == 0 ? C2 | C0 : C0; // infinity : NaN
        } else if (exp == 0) {
            c = mant == 0 ? C3 : C3 | C2; // zero : denormal, pseudo-denormals included
        } else {
            c = C2; // normal
        }
        if ((se & 0x8000) != 0) {
            c |= C1;
        }
        s.fsw = (s.fsw & ~(C0 | C1 | C2 | C3)) | c;
    }

    // ---- transcendentals and the other D9 E0-FF operations (SDM vol. 2, each instruction) ----

    /** PE for a result that is rounded (every transcendental result but the exact special cases). */
    private long inexact(double r) {
        flags |= PE;
        return bits(r);
    }

    /** F2XM1: 2^x - 1 for -1 <= x <= 1. */
    private void f2xm1() {
        long v = st(0);
        double x = dbl(v);
        long r;
        if (Double.isNaN(x)) {
            if (SimdFloat.isSnanD(v)) {
                flags |= IE;
            }
            r = v | SimdFloat.QBIT_D;
        } else if (x == 0 || Double.isInfinite(x)) {
            r = x == Double.NEGATIVE_INFINITY ? bits(-1.0) : v;
        } else {
            r = inexact(StrictMath.expm1(x * LN2));
        }
        setIfOk(0, r);
    }

    /** FYL2X (st1 = st1 * log2(st0)), FYL2XP1 (st1 = st1 * log2(st0 + 1)), FPATAN (st1 = atan(st1 / st0)); pop. */
    private void binaryPop(int modrm) {
        long xv = st(0), yv = st(1);
        double x = dbl(xv), y = dbl(yv);
        long r;
        if (Double.isNaN(x) || Double.isNaN(y)) {
            if (SimdFloat.isSnanD(xv) || SimdFloat.isSnanD(yv)) {
                flags |= IE;
            }
            r = nanResult(yv, xv);
        } else if (modrm == 0xF3) {
            double a = StrictMath.atan2(y, x);
            r = a == 0 ? bits(a) : inexact(a); // only a zero angle is exact
        } else {
            double l;
            if (modrm == 0xF1) { // log2(x)
                if (x < 0 || (x == 0 && y == 0) || (x == 1 && Double.isInfinite(y))
                    || (Double.isInfinite(x) && y == 0)) {
                    flags |= IE;
                    setIfOkPop(INDEF);
                    return;
                }
                if (x == 0 && !Double.isInfinite(y)) {
                    flags |= ZE;
                    setIfOkPop(bits(Math.copySign(Double.POSITIVE_INFINITY, -y)));
                    return;
                }
                l = log2(x);
            } else { // log2(x + 1), defined for |x| < 1 - sqrt(2)/2
                if (x < -1 || (x == -1 && y != 0)) {
                    flags |= IE;
                    setIfOkPop(INDEF);
                    return;
                }
                l = StrictMath.log1p(x) / LN2;
                if (x != 0) {
                    flags |= PE;
                }
            }
            if (Double.isInfinite(y) && l == 0) { // infinity times log2(1)
                flags |= IE;
                r = INDEF;
            } else if (Double.isInfinite(l) || Double.isInfinite(y)) {
                r = bits(y * l);
            } else {
                fp.begin(mxcsr());
                r = fp.arithD(SimdFloat.MUL, bits(y), bits(l));
                absorb();
                if (modrm == 0xF1 && l != Math.rint(l)) { // log2 of a power of two is exact
                    flags |= PE;
                }
            }
        }
        setIfOkPop(r);
    }

    private void setIfOkPop(long r) {
        if (finish()) {
            setSt(1, r);
            pop();
        }
    }

    /**
     * log2 as the exponent plus log2 of a significand in [sqrt(1/2), sqrt(2)) by log1p of its exact
     * distance from 1: exact for powers of two, and no cancellation for x near 1.
     */
    private static double log2(double x) {
        if (Double.isInfinite(x)) {
            return x;
        }
        int e = Math.getExponent(x);
        if (e < Double.MIN_EXPONENT) {
            e = Math.getExponent(x * 0x1p64) - 64;
        }
        double mant = Math.scalb(x, -e);
        if (mant > 1.4142135623730951) {
            mant *= 0.5;
            e++;
        }
        return e + (mant == 1 ? 0 : StrictMath.log1p(mant - 1) / LN2);
    }

    /** FSIN, FCOS, FSINCOS, FPTAN: |x| >= 2^63 leaves the operand and sets C2 (SDM vol. 2, FSIN). */
    private void trig(int modrm) {
        long v = st(0);
        double x = dbl(v);
        s.fsw &= ~C2;
        if (Double.isNaN(x)) {
            if (SimdFloat.isSnanD(v)) {
                flags |= IE;
            }
            long q = v | SimdFloat.QBIT_D;
            if (finish()) {
                setSt(0, q);
                if (modrm == 0xFB || modrm == 0xF2) {
                    push(q);
                }
            }
            return;
        }
        if (Double.isInfinite(x)) {
            flags |= IE;
            if (finish()) {
                setSt(0, INDEF);
                if (modrm == 0xFB || modrm == 0xF2) {
                    push(INDEF);
                }
            }
            return;
        }
        if (Math.abs(x) >= 0x1p63) {
            s.fsw |= C2;
            finish();
            return;
        }
        long first, second;
        switch (modrm) {
            case 0xFE -> { // FSIN
                first = x == 0 ? v : inexact(StrictMath.sin(x));
                second = 0;
            }
            case 0xFF -> { // FCOS
                first = x == 0 ? bits(1.0) : inexact(StrictMath.cos(x));
                second = 0;
            }
            case 0xFB -> { // FSINCOS: st0 = cos, st1 = sin
                first = x == 0 ? v : inexact(StrictMath.sin(x));
                second = x == 0 ? bits(1.0) : inexact(StrictMath.cos(x));
            }
            default -> { // FPTAN: st0 = 1.0, st1 = tan
                first = x == 0 ? v : inexact(StrictMath.tan(x));
                second = bits(1.0);
            }
        }
        if (finish()) {
            setSt(0, first);
            if (modrm == 0xFB || modrm == 0xF2) {
                push(second);
            }
        }
    }

    /** The exponent of a finite non-zero register value: value = (mant normalized) * 2^(e - 63). */
    private static int exponentOf(long mnt, int se) {
        return ((se & 0x7FFF) == 0 ? 1 : se & 0x7FFF) - Float80.BIAS - Long.numberOfLeadingZeros(mnt);
    }

    /** FXTRACT: st0 = exponent, then push the significand (SDM vol. 2, FXTRACT); exact. */
    private void fxtract() {
        regOperand(0);
        long mnt = srcM;
        int se = srcSe;
        long expM, sigM;
        int expSe, sigSe;
        if (Float80.isNan(mnt, se) || Float80.unsupported(mnt, se)) {
            if (!Float80.isNan(mnt, se) || Float80.isSnan(mnt, se)) {
                flags |= IE;
            }
            expM = Float80.isNan(mnt, se) ? mnt | Float80.QBIT : Float80.INDEF_MANT;
            expSe = Float80.isNan(mnt, se) ? se : Float80.INDEF_SE;
            sigM = expM;
            sigSe = expSe;
        } else if (Float80.isZero(mnt, se)) {
            flags |= ZE;
            expM = Float80.INT_BIT;
            expSe = 0xFFFF; // -infinity
            sigM = mnt;
            sigSe = se;
        } else if (Float80.isInf(mnt, se)) {
            expM = Float80.INT_BIT;
            expSe = 0x7FFF;
            sigM = mnt;
            sigSe = se;
        } else {
            if (Float80.isDenormal(mnt, se)) {
                flags |= DE;
            }
            x.fromInt(exponentOf(mnt, se));
            expM = x.mant;
            expSe = x.se;
            sigM = mnt << Long.numberOfLeadingZeros(mnt);
            sigSe = (se & 0x8000) | Float80.BIAS;
        }
        if (finish()) {
            setRaw(0, expM, expSe);
            pushRaw(sigM, (short) sigSe);
        }
    }

    /**
     * FPREM (truncating quotient) and FPREM1 (IEEE remainder), exact in double-extended
     * ({@link Float80#remainder}): C0, C3, C1 get the quotient's bits 2, 1, 0, or C2 is set for a
     * partial remainder (reduced by 32 + difference mod 32 binary places, which matches the host).
     */
    private void fprem(boolean ieee) {
        regOperand(1);
        long bm = srcM;
        int bse = srcSe;
        regOperand(0);
        x.begin(s.fcw);
        x.remainder(srcM, srcSe, bm, bse, ieee);
        s.fsw &= ~(C0 | C2 | C3);
        int q = x.partial ? 0 : x.quotient; // a partial remainder clears C0, C3 and C1, as the host CPU shows
        flags |= x.flags;
        c1 = (q & 1) != 0;
        if (finish()) {
            s.fsw |= ((q & 4) != 0 ? C0 : 0) | ((q & 2) != 0 ? C3 : 0) | (x.partial ? C2 : 0);
            setRaw(0, x.mant, x.se);
        }
    }

    /** FRNDINT: to an integer by FCW.RC, exactly in double-extended; PE (and C1) when that changed the value. */
    private void frndint() {
        regOperand(0);
        long mnt = srcM;
        int se = srcSe;
        if (Float80.isNan(mnt, se)) {
            if (Float80.isSnan(mnt, se)) {
                flags |= IE;
            }
            setIfOkRaw(0, mnt | Float80.QBIT, se);
        } else if (Float80.unsupported(mnt, se)) {
            flags |= IE;
            setIfOkRaw(0, Float80.INDEF_MANT, Float80.INDEF_SE);
        } else if (Float80.isZero(mnt, se) || Float80.isInf(mnt, se) || exponentOf(mnt, se) >= 63) {
            setIfOkRaw(0, mnt, se); // already an integer
        } else {
            if (Float80.isDenormal(mnt, se)) {
                flags |= DE;
            }
            x.begin(s.fcw);
            x.toIntegerMagnitude(mnt, se, false);
            boolean up = x.roundedUp;
            x.pack((se & 0x8000) != 0, x.mant, 63);
            flags |= x.flags;
            c1 = up;
            setIfOkRaw(0, x.mant, x.se);
        }
    }

    private void setIfOkRaw(int i, long mnt, int se) {
        if (finish()) {
            setRaw(i, mnt, se);
        }
    }

    /** FSCALE: st0 * 2^trunc(st1), exact in double-extended unless it leaves the range (OE/UE, RC). */
    private void fscale() {
        regOperand(1);
        long ym = srcM;
        int yse = srcSe;
        regOperand(0);
        long xm = srcM;
        int xse = srcSe;
        x.begin(s.fcw);
        if (x.nanOrUnsupported(xm, xse, ym, yse)) {
            setResultIfOk(0);
            return;
        }
        boolean yNeg = (yse & 0x8000) != 0, xNeg = (xse & 0x8000) != 0;
        int sign = xse & 0x8000;
        if (Float80.isInf(ym, yse)) {
            flags |= x.flags; // DE of a denormal st0
            boolean xZero = Float80.isZero(xm, xse), xInf = Float80.isInf(xm, xse);
            if ((xZero && !yNeg) || (xInf && yNeg)) {
                flags |= IE;
                setIfOkRaw(0, Float80.INDEF_MANT, Float80.INDEF_SE);
            } else if (!yNeg) {
                setIfOkRaw(0, xZero ? xm : Float80.INT_BIT, xZero ? xse : sign | 0x7FFF);
            } else {
                setIfOkRaw(0, xInf ? xm : 0, xInf ? xse : sign);
            }
            return;
        }
        if (Float80.isZero(xm, xse) || Float80.isInf(xm, xse)) {
            flags |= x.flags;
            setIfOkRaw(0, xm, xse);
            return;
        }
        long n = 0;
        if (!Float80.isZero(ym, yse)) {
            x.toIntegerMagnitude(ym, yse, true);
            n = x.mant < 0 || x.mant > 100_000 ? 100_000 : x.mant;
        }
        int denormalFlags = x.flags & DE;
        x.begin(s.fcw);
        x.flags |= denormalFlags;
        x.pack(xNeg, xm << Long.numberOfLeadingZeros(xm), exponentOf(xm, xse) + (int) (yNeg ? -n : n));
        setResultIfOk(0);
    }

    // ---- conversions between the 80-bit format and binary64 ----

    /** A register as binary64 bits: finite values rounded to nearest, NaNs keep the top of their payload. */
    private static long toBits(long mant, short seRaw) {
        int se = seRaw & 0xFFFF;
        long sign = (se & 0x8000L) << 48;
        int exp = se & 0x7FFF;
        if (exp == 0x7FFF) {
            long frac = (mant << 1) >>> 12;
            if ((mant << 1) == 0) {
                return sign | SimdFloat.EXP_D;
            }
            return sign | SimdFloat.EXP_D | (frac == 0 ? 1 : frac);
        }
        if (mant == 0) {
            return sign;
        }
        double m = (double) (mant >>> 11) * 2048.0 + (mant & 0x7FF);
        return sign | bits(Math.scalb(m, exp - 16383 - 63));
    }

    private long convMant;
    private short convExp;

    /** binary64 bits to the 80-bit format (exact), into convMant/convExp. */
    private void fromBits(long bits) {
        long sign = bits < 0 ? 0x8000 : 0;
        int e = (int) ((bits >>> 52) & 0x7FF);
        long frac = bits & SimdFloat.MANT_D;
        if (e == 0x7FF) {
            convMant = (1L << 63) | (frac << 11);
            convExp = (short) (sign | 0x7FFF);
        } else if (e == 0 && frac == 0) {
            convMant = 0;
            convExp = (short) sign;
        } else if (e == 0) { // subnormal double: normalize
            int lz = Long.numberOfLeadingZeros(frac);
            convMant = frac << lz;
            convExp = (short) (sign | (1 - 1023 - (lz - 11) + 16383));
        } else {
            convMant = (1L << 63) | (frac << 11);
            convExp = (short) (sign | (e - 1023 + 16383));
        }
    }

    private double roundFcw(double v) {
        return switch ((s.fcw >>> 10) & 3) {
            case 0 -> Math.rint(v);
            case 1 -> Math.floor(v);
            case 2 -> Math.ceil(v);
            default -> v < 0 ? Math.ceil(v) : Math.floor(v);
        };
    }

    /**
     * FIST/FISTP (FCW rounding) and FISTTP (truncation) of {@code size} bytes: NaN, infinity and
     * out-of-range are invalid and store the integer indefinite (masked), inexact sets PE and C1.
     */
    private void storeInt(long a, int size, boolean truncate, boolean popAfter) {
        regOperand(0);
        long mnt = srcM;
        int se = srcSe;
        long indef = size == 8 ? Long.MIN_VALUE : 1L << (size * 8 - 1);
        long out;
        if (Float80.isNan(mnt, se) || Float80.isInf(mnt, se) || Float80.unsupported(mnt, se)) {
            flags |= IE;
            out = indef;
        } else {
            x.begin(s.fcw);
            x.toIntegerMagnitude(mnt, se, truncate);
            long mag = x.mant;
            boolean negative = (se & 0x8000) != 0;
            long limit = 1L << (size * 8 - 1); // 2^63 is Long.MIN_VALUE, compared unsigned
            boolean fits = negative ? Long.compareUnsigned(mag, limit) <= 0 : Long.compareUnsigned(mag, limit) < 0;
            if (fits) {
                out = negative ? -mag : mag;
                flags |= x.flags;
                c1 = x.roundedUp;
            } else {
                flags |= IE;
                out = indef;
            }
        }
        if (finish()) {
            m.write(a, size, out);
            if (popAfter) {
                pop();
            }
        }
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
