package org.jvisor.tcg.diff;

import org.junit.jupiter.api.Test;

/**
 * x87 instructions against the host FPU. Each case starts from FNINIT, loads a control word (all
 * exceptions masked, a random rounding control and precision control), pushes two doubles (ST1 =
 * a, ST0 = b), runs one instruction, stores what is left on the stack as doubles (rounded by the
 * store, as on the host), and leaves the status word (masked to its defined bits) in EAX before a
 * final FNINIT.
 *
 * <p>Not generated, because tcg computes them in binary64 (see X87Unit): arguments of FSIN etc.
 * where the hardware's 66-bit pi matters. Transcendental results compare
 * within a few ulps and without PE and C1 (the host computes them more precisely than StrictMath).
 */
class DiffTestX87 {
    /** Offsets in the data area: control word, a, b, memory operand, store target, results. */
    private static final int FCW = 0x100, A = 0x108, B_ = 0x110, MEM = 0x120, STORE = 0x128, OUT = 0x130, EXT = 0x170;
    private static final int FSW_ARITH = 0xBAFF; // C0, C2, C3 undefined
    private static final int FSW_ALL = 0xFFFF;
    private static final int FSW_TRANSCENDENTAL = 0xBAFF & ~0x220 | 0x400; // no PE, no C1; C2 = out of range

    private static void absolute(Gen g, int opcode, int ext, long addr) {
        g.a.raw(opcode, ext << 3 | 4, 0x25);
        g.a.imm(addr, 4);
    }

    /** A double with exponents within +-range (and sometimes a denormal), or a special value. */
    private static long operand(Gen g, int range) {
        return switch (g.r.nextInt(12)) {
            case 3 -> range >= 1022 ? (long) g.r.nextInt(2) << 63 | (g.r.nextLong() >>> (12 + g.r.nextInt(52)))
                : Double.doubleToRawLongBits(1.5); // a denormal
            case 0 -> new long[] {0, 0x8000_0000_0000_0000L, 0x7FF0_0000_0000_0000L, 0xFFF0_0000_0000_0000L,
                0x7FF8_0000_0000_0000L | (g.r.nextLong() & 0x7_FFFF_FFFF_FFFFL), 0x7FF0_0000_0000_0001L | g.r.nextLong()
                    & 0x3_FFFF_FFFF_FFFFL | (long) g.r.nextInt(2) << 63, 0x3FF0_0000_0000_0000L,
                0xBFF0_0000_0000_0000L}[g.r.nextInt(8)];
            case 1, 2 -> Double.doubleToRawLongBits((g.r.nextInt(201) - 100) / (double) (1 << g.r.nextInt(3)));
            default -> {
                long sign = (long) g.r.nextInt(2) << 63;
                long exp = 1023 + g.r.nextInt(2 * range + 1) - range;
                yield sign | exp << 52 | (g.r.nextLong() & ((1L << 52) - 1));
            }
        };
    }

    private static long zeroOrNan(Gen g) {
        return new long[] {0, 1L << 63, 0x7FF8_0000_0000_0000L | g.r.nextInt(1 << 20), 0x7FF0_0000_0001_0000L}[g.r.nextInt(4)];
    }

    private static long inRange(Gen g, double lo, double hi) {
        return Double.doubleToRawLongBits(lo + (hi - lo) * g.r.nextDouble());
    }

    /** The case around one instruction: {@code left} registers stay on the stack afterwards. */
    private static void frame(Gen g, long a, long b, Runnable insn, int left, int fswMask, boolean approx) {
        frame(g, a, b, false, insn, left, fswMask, approx);
    }

    /**
     * As above; with {@code extended} ST0 is loaded from the 80-bit encoding at EXT instead of
     * the double {@code b}, and what is left is stored as 80-bit values, 16 bytes apart.
     */
    private static void frame(Gen g, long a, long b, boolean extended, Runnable insn, int left, int fswMask,
                              boolean approx) {
        long base = g.dataBase;
        int rc = g.r.nextInt(4);
        int pc = new int[] {0, 2, 3, 3}[g.r.nextInt(4)]; // 24, 53, 64 bits
        g.poke(base + FCW, 0x007F | pc << 8 | rc << 10, 2);
        g.poke(base + A, a, 8);
        g.poke(base + B_, b, 8);
        g.note("rc " + rc + " pc " + pc);
        g.a.raw(0xDB, 0xE3); // fninit
        absolute(g, 0xD9, 5, base + FCW); // fldcw
        absolute(g, 0xDD, 0, base + A); // fld qword a
        if (extended) {
            absolute(g, 0xDB, 5, base + EXT); // fld tbyte
        } else {
            absolute(g, 0xDD, 0, base + B_); // fld qword b
        }
        insn.run();
        for (int k = 0; k < left; k++) {
            if (extended) {
                absolute(g, 0xDB, 7, base + OUT + 16L * k); // fstp tbyte
            } else {
                absolute(g, 0xDD, 3, base + OUT + 8L * k); // fstp qword
            }
        }
        g.a.raw(0xDF, 0xE0); // fnstsw ax
        g.a.raw(0x25); // and eax, imm32
        g.a.imm(fswMask, 4);
        g.a.raw(0xDB, 0xE3); // fninit: the host FPU as it was
        g.flagMask &= ~Gen.AF; // AND leaves AF undefined
        if (approx) {
            g.approxAddr = base + OUT;
            g.approxCount = left;
            g.approxUlps = 4;
        }
    }

    private static final int[] ARITH = {0, 1, 4, 5, 6, 7};

    static void arithmetic(Gen g) {
        int k = ARITH[g.r.nextInt(ARITH.length)];
        long a = operand(g, 1022), b = operand(g, 1022);
        long base = g.dataBase;
        switch (g.r.nextInt(7)) {
            case 5 -> { // FIADD etc. m32int (DA) / m16int (DE)
                boolean m16 = g.r.nextBoolean();
                g.poke(base + MEM, m16 ? g.interesting(16) : g.interesting(32), m16 ? 2 : 4);
                frame(g, a, b, () -> absolute(g, m16 ? 0xDE : 0xDA, k, base + MEM), 2, FSW_ARITH, false);
            }
            case 6 -> { // FCOM/FCOMP m32 and m64, FICOM/FICOMP m32int and m16int
                int[] opcodes = {0xD8, 0xDC, 0xDA, 0xDE};
                int opc = opcodes[g.r.nextInt(4)];
                int ext = 2 + g.r.nextInt(2);
                long v = switch (opc) {
                    case 0xD8 -> Float.floatToRawIntBits((float) Double.longBitsToDouble(g.chance(3) ? b : operand(g, 100)));
                    case 0xDC -> g.chance(3) ? b : operand(g, 400);
                    default -> g.interesting(opc == 0xDA ? 32 : 16);
                };
                g.poke(base + MEM, v, 8);
                frame(g, a, b, () -> absolute(g, opc, ext, base + MEM), ext == 3 ? 1 : 2, FSW_ALL, false);
            }
            case 0 -> frame(g, a, b, () -> g.a.raw(0xD8, 0xC0 | k << 3 | g.r.nextInt(2)), 2, FSW_ARITH, false);
            case 1 -> frame(g, a, b, () -> g.a.raw(0xDC, 0xC1 | k << 3), 2, FSW_ARITH, false);
            case 2 -> frame(g, a, b, () -> g.a.raw(0xDE, 0xC1 | k << 3), 1, FSW_ARITH, false);
            case 3 -> {
                g.poke(base + MEM, operand(g, 1022), 8);
                frame(g, a, b, () -> absolute(g, 0xDC, k, base + MEM), 2, FSW_ARITH, false);
            }
            default -> {
                int bits = g.r.nextBoolean() ? Gen.FLOATS[g.r.nextInt(Gen.FLOATS.length)]
                    : Float.floatToRawIntBits((float) Double.longBitsToDouble(operand(g, 100)));
                g.poke(base + MEM, bits, 4);
                frame(g, a, b, () -> absolute(g, 0xD8, k, base + MEM), 2, FSW_ARITH, false);
            }
        }
    }

    static void compares(Gen g) {
        long a = operand(g, 1022), b = g.chance(4) ? a : operand(g, 1022);
        int[][] forms = {
            {0xD8, 0xD1, 2}, {0xD8, 0xD9, 1}, {0xDE, 0xD9, 0}, {0xDD, 0xE1, 2}, {0xDD, 0xE9, 1}, {0xDA, 0xE9, 0},
            {0xDB, 0xF1, 2}, {0xDB, 0xE9, 2}, {0xDF, 0xF1, 1}, {0xDF, 0xE9, 1}, {0xD9, 0xE4, 2}, {0xD9, 0xE5, 2},
        };
        int[] f = forms[g.r.nextInt(forms.length)];
        frame(g, a, b, () -> g.a.raw(f[0], f[1]), f[2], FSW_ALL, false);
    }

    static void misc(Gen g) {
        long a = operand(g, 1022), b = operand(g, 1022);
        long base = g.dataBase;
        switch (g.r.nextInt(9)) {
            case 0 -> frame(g, a, b, () -> g.a.raw(0xD9, 0xFA), 2, FSW_ARITH, false); // fsqrt
            case 1 -> frame(g, a, g.chance(2) ? operand(g, 60) : b, () -> g.a.raw(0xD9, 0xFC), 2, FSW_ARITH, false); // frndint
            case 2 -> { // fscale by a small integer
                long n = Double.doubleToRawLongBits(g.r.nextInt(121) - 60 + (g.chance(4) ? 0.5 : 0));
                frame(g, g.chance(8) ? operand(g, 0) : n, operand(g, 300), () -> g.a.raw(0xD9, 0xFD), 2, FSW_ARITH, false);
            }
            case 3 -> frame(g, a, b, () -> g.a.raw(0xD9, 0xF4), 3, FSW_ARITH, false); // fxtract
            case 4 -> frame(g, a, b, () -> g.a.raw(0xD9, g.r.nextBoolean() ? 0xE0 : 0xE1), 2, FSW_ARITH, false); // fchs/fabs
            case 5 -> { // fprem / fprem1, complete or (exponent difference 64 or more) partial
                long y = operand(g, 400);
                int ye = (int) (y >>> 52 & 0x7FF);
                long x;
                if (ye > 0 && ye < 0x7FF && !g.chance(8)) {
                    int xe = Math.max(1, Math.min(0x7FE, ye + g.r.nextInt(g.chance(4) ? 400 : 70) - 6)); // 1 in 4 partial
                    x = (g.r.nextLong() & 0x800F_FFFF_FFFF_FFFFL) | (long) xe << 52;
                } else {
                    x = operand(g, 0);
                }
                frame(g, y, x, () -> g.a.raw(0xD9, g.r.nextBoolean() ? 0xF8 : 0xF5), 2, FSW_ALL, false);
            }
            case 6 -> { // constants (64-bit, rounded by RC)
                int c = 0xE8 + g.r.nextInt(7);
                frame(g, a, b, () -> g.a.raw(0xD9, c), 3, FSW_ARITH, false);
            }
            case 7 -> frame(g, a, b, () -> g.a.raw(0xD9, 0xC9), 2, FSW_ARITH, false); // fxch
            default -> { // stores: fst/fstp m32 and m64, fist/fistp/fisttp m16/m32/m64
                int[][] forms = {
                    {0xDD, 2, 2}, {0xD9, 2, 2}, {0xD9, 3, 1}, {0xDB, 2, 2}, {0xDB, 3, 1}, {0xDF, 2, 2}, {0xDF, 3, 1},
                    {0xDF, 7, 1}, {0xDB, 1, 1}, {0xDD, 1, 1}, {0xDF, 1, 1},
                };
                int[] f = forms[g.r.nextInt(forms.length)];
                long v = switch (g.r.nextInt(4)) {
                    case 0 -> Double.doubleToRawLongBits(g.r.nextInt(200001) - 100000 + g.r.nextInt(4) * 0.25);
                    case 1 -> operand(g, 70);
                    case 2 -> Double.doubleToRawLongBits(
                        (g.r.nextBoolean() ? 1 : -1) * Math.scalb(1.0, new int[] {15, 31, 63}[g.r.nextInt(3)])
                            + g.r.nextInt(5) - 2.5);
                    default -> operand(g, 140); // float overflow and underflow for fst m32
                };
                frame(g, a, v, () -> absolute(g, f[0], f[1], base + STORE), f[2], FSW_ARITH, false);
            }
        }
    }

    static void transcendentals(Gen g) {
        long a = operand(g, 200);
        switch (g.r.nextInt(8)) {
            case 0, 1, 2, 3 -> { // fsin, fcos, fsincos, fptan on |x| <= 1.5
                int[][] forms = {{0xFE, 2}, {0xFF, 2}, {0xFB, 3}, {0xF2, 3}};
                int[] f = forms[g.r.nextInt(forms.length)];
                long x = g.chance(10) ? operand(g, 0) : inRange(g, -1.5, 1.5);
                frame(g, a, x, () -> g.a.raw(0xD9, f[0]), f[1], FSW_TRANSCENDENTAL, true);
            }
            case 4 -> frame(g, operand(g, 200), operand(g, 200), () -> g.a.raw(0xD9, 0xF3), 1, FSW_TRANSCENDENTAL,
                true); // fpatan
            case 5 -> frame(g, a, g.chance(10) ? zeroOrNan(g) : inRange(g, -1, 1), () -> g.a.raw(0xD9, 0xF0), 2,
                FSW_TRANSCENDENTAL, true); // f2xm1 (undefined outside [-1, 1])
            case 6 -> { // fyl2x on positive x
                long x = operand(g, 300) & ~(1L << 63);
                frame(g, operand(g, 100), g.chance(10) ? operand(g, 0) : x, () -> g.a.raw(0xD9, 0xF1), 1,
                    FSW_TRANSCENDENTAL, true);
            }
            default -> frame(g, operand(g, 100), g.chance(10) ? zeroOrNan(g) : inRange(g, -0.29, 0.29),
                () -> g.a.raw(0xD9, 0xF9), 1, FSW_TRANSCENDENTAL, true); // fyl2xp1 (undefined beyond 1 - sqrt(2)/2)
        }
    }

    /**
     * An 80-bit encoding of any class (SDM vol. 1, 8.2.2, table 8-3), biased to those only the 8087
     * and 287 supported: pseudo-infinities and pseudo-NaNs (exponent all ones, integer bit clear),
     * unnormals (exponent neither 0 nor all ones, integer bit clear) and pseudo-denormals (exponent
     * 0, integer bit set). Pokes it at EXT and returns its description.
     */
    private static String encoding80(Gen g) {
        long fraction = g.chance(3) ? 1L << g.r.nextInt(63) : g.r.nextLong() & Long.MAX_VALUE;
        int exponent = 1 + g.r.nextInt(0x7FFE);
        long intBit = Long.MIN_VALUE;
        String kind;
        long mantissa;
        switch (g.r.nextInt(8)) {
            case 0 -> {
                kind = "pseudo-infinity";
                exponent = 0x7FFF;
                mantissa = 0;
            }
            case 1 -> {
                kind = "pseudo-NaN";
                exponent = 0x7FFF;
                mantissa = fraction;
            }
            case 2 -> {
                kind = "unnormal";
                mantissa = g.chance(8) ? 0 : fraction;
            }
            case 3 -> {
                kind = "pseudo-denormal";
                exponent = 0;
                mantissa = intBit | (g.chance(4) ? 0 : fraction);
            }
            case 4 -> {
                kind = "denormal or zero";
                exponent = 0;
                mantissa = g.chance(6) ? 0 : fraction;
            }
            case 5 -> {
                kind = "infinity or NaN";
                exponent = 0x7FFF;
                mantissa = intBit | (g.chance(3) ? 0 : fraction);
            }
            default -> {
                kind = "normal";
                mantissa = intBit | fraction;
            }
        }
        int signExponent = g.r.nextInt(2) << 15 | exponent;
        g.poke(g.dataBase + EXT, mantissa, 8);
        g.poke(g.dataBase + EXT + 8, signExponent, 2);
        return String.format("%s %04x:%016x", kind, signExponent, mantissa);
    }

    /** One instruction on an 80-bit ST0 of any encoding (ST1 a double); the stack stored as 80-bit values. */
    static void encodings(Gen g) {
        String ext = encoding80(g);
        long a = operand(g, 1022);
        g.note(String.format("%s, st1 %016x", ext, a));
        int[][] forms = { // opcode, modrm, registers left, status word fully defined
            {0xD9, 0xE5, 2, 1}, {0xD9, 0xE5, 2, 1}, {0xD9, 0xE5, 2, 1}, // fxam, most often
            {0xD9, 0xE4, 2, 1}, {0xD8, 0xD1, 2, 1}, {0xDD, 0xE1, 2, 1}, {0xDB, 0xF1, 2, 1}, {0xDB, 0xE9, 2, 1}, // ftst, fcom, fucom, fcomi, fucomi
            {0xD9, 0xE1, 2, 0}, {0xD9, 0xE0, 2, 0}, {0xD9, 0xC9, 2, 0}, {0xDD, 0xD9, 1, 0}, // fabs, fchs, fxch, fstp st1
            {0xD8, 0xC1, 2, 0}, {0xD8, 0xC9, 2, 0}, {0xD8, 0xF1, 2, 0}, {0xDC, 0xE9, 2, 0}, // fadd, fmul, fdiv, fsubr
            {0xD9, 0xFA, 2, 0}, {0xD9, 0xFC, 2, 0}, {0xD9, 0xF4, 3, 0}, {0xD9, 0xFD, 2, 0}, {0xD9, 0xF8, 2, 1}, // fsqrt, frndint, fxtract, fscale, fprem
        };
        int[] f = forms[g.r.nextInt(forms.length)];
        frame(g, a, 0, true, () -> g.a.raw(f[0], f[1]), f[2], f[3] != 0 ? FSW_ALL : FSW_ARITH, false);
    }

    /** Stores of an 80-bit ST0 of any encoding to memory as a float, a double, an integer or 80 bits. */
    static void encodingStores(Gen g) {
        String ext = encoding80(g);
        long a = operand(g, 1022);
        g.note(String.format("%s, st1 %016x", ext, a));
        int[][] forms = { // opcode, /digit, registers left
            {0xD9, 3, 1}, {0xDD, 3, 1}, {0xDB, 3, 1}, {0xDF, 7, 1}, {0xDF, 3, 1}, {0xDB, 7, 1}, {0xDD, 2, 2}, {0xDB, 1, 1},
        };
        int[] f = forms[g.r.nextInt(forms.length)];
        long base = g.dataBase;
        frame(g, a, 0, true, () -> absolute(g, f[0], f[1], base + (f[0] == 0xDB && f[1] == 7 ? EXT + 0x10 : STORE)),
            f[2], FSW_ARITH, false);
    }

    @Test
    void examineAndOperateOnEveryEncoding() {
        Diff.fuzz("x87-encodings", DiffTestX87::encodings);
    }

    @Test
    void storeEveryEncoding() {
        Diff.fuzz("x87-encoding-stores", DiffTestX87::encodingStores);
    }

    @Test
    void arithmetic() {
        Diff.fuzz("x87-arith", DiffTestX87::arithmetic);
    }

    @Test
    void compares() {
        Diff.fuzz("x87-compare", DiffTestX87::compares);
    }

    @Test
    void miscellaneous() {
        Diff.fuzz("x87-misc", DiffTestX87::misc);
    }

    @Test
    void transcendentals() {
        Diff.fuzz("x87-transcendental", DiffTestX87::transcendentals);
    }
}
