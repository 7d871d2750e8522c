package org.jvisor.tcg;

/**
 * SSE/SSE2/SSE3 floating point under MXCSR control (SDM vol. 1, 4.8-4.9 and 11.5): binary32 and
 * binary64 arithmetic, compares and conversions with the rounding control, DAZ, FTZ, x86's NaN
 * rules and the six exception flags.
 *
 * <p>Java arithmetic rounds to nearest only. Each operation therefore computes a round-to-nearest
 * double and the exact error of it (TwoSum for add/sub, an FMA residual for mul/div/sqrt; operands
 * are scaled by powers of two first where an error term could underflow or the result overflow),
 * and one rounding step ({@link #round}) turns that exact value into the result for the current
 * rounding mode, format, subnormal range and overflow; round to nearest on moderate operands skips
 * it, Java's result being the answer. Binary32 operations are computed in double, where add/sub/mul
 * of two floats and the error terms of div/sqrt are exact. The host CPU is the reference for the
 * corner cases the SDM leaves implicit (tininess after rounding, no DE beside IE/ZE in a lane, DAZ
 * applied to the operand MIN/MAX return); the differential tests check them.
 *
 * <p>The flags an instruction raises accumulate in {@link #pre} (invalid, denormal, zero-divide:
 * detected before computing) and {@link #post} (overflow, underflow, precision); the caller decides
 * from the masks whether to merge them into MXCSR or raise #XM (SDM vol. 1, 11.5.1). One instance per
 * vCPU; nothing is allocated.
 */
final class SimdFloat {
    // MXCSR (SDM vol. 1, 10.2.3)
    static final int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32;
    static final int DAZ = 0x40, FTZ = 0x8000, MASK_SHIFT = 7;
    static final int RN = 0, RD = 1, RU = 2, RZ = 3;
    // operations, numbered like their 0F-map opcodes
    static final int SQRT = 0x51, ADD = 0x58, MUL = 0x59, SUB = 0x5C, MIN = 0x5D, DIV = 0x5E, MAX = 0x5F;

    static final long SIGN_D = 1L << 63, EXP_D = 0x7FF0_0000_0000_0000L, MANT_D = (1L << 52) - 1,
        QBIT_D = 1L << 51, INDEF_D = 0xFFF8_0000_0000_0000L, MAX_D = 0x7FEF_FFFF_FFFF_FFFFL;
    static final int SIGN_F = 0x8000_0000, EXP_F = 0x7F80_0000, MANT_F = 0x7F_FFFF, QBIT_F = 1 << 22,
        INDEF_F = 0xFFC0_0000, MAX_F = 0x7F7F_FFFF;
    static final long INT_INDEF_32 = 0x8000_0000L, INT_INDEF_64 = Long.MIN_VALUE;
    /** Stands for "a little more/less than the double computed" when only the error's sign is known. */
    private static final double TINY = 0x1p-1000;

    private int rc;
    private boolean daz;
    private boolean ftz;
    private boolean underflowMasked;
    /** Pre-computation exception flags raised since {@link #begin}: IE, DE, ZE. */
    int pre;
    /** Post-computation exception flags raised since {@link #begin}: OE, UE, PE. */
    int post;
    /** The last inexact result was rounded away from zero (the x87's C1, SDM vol. 1, 8.1.3.3). */
    boolean roundedUp;

    /** Starts an instruction under the given MXCSR. */
    void begin(int mxcsr) {
        rc = (mxcsr >>> 13) & 3;
        daz = (mxcsr & DAZ) != 0;
        ftz = (mxcsr & FTZ) != 0;
        underflowMasked = (mxcsr & (UE << MASK_SHIFT)) != 0;
        pre = 0;
        post = 0;
        roundedUp = false;
    }

    // ---- classification ----

    static boolean isNanD(long a) {
        return (a & ~SIGN_D) > EXP_D;
    }

    static boolean isSnanD(long a) {
        return isNanD(a) && (a & QBIT_D) == 0;
    }

    static boolean isNanF(int a) {
        return (a & ~SIGN_F) > EXP_F;
    }

    static boolean isSnanF(int a) {
        return isNanF(a) && (a & QBIT_F) == 0;
    }

    /** A non-NaN source operand: flushed to a signed zero under DAZ, else DE if it is denormal. */
    private long inD(long a) {
        if ((a & EXP_D) == 0 && (a & MANT_D) != 0) {
            if (daz) {
                return a & SIGN_D;
            }
            pre |= DE;
        }
        return a;
    }

    private int inF(int a) {
        if ((a & EXP_F) == 0 && (a & MANT_F) != 0) {
            if (daz) {
                return a & SIGN_F;
            }
            pre |= DE;
        }
        return a;
    }

    private static double dbl(long a) {
        return Double.longBitsToDouble(a);
    }

    private static long bits(double v) {
        return Double.doubleToRawLongBits(v);
    }

    private static float flt(int a) {
        return Float.intBitsToFloat(a);
    }

    // ---- arithmetic ----

    /**
     * ADD/SUB/MUL/DIV/MIN/MAX of binary64 {@code a op b}; SQRT takes only b. A lane with an invalid
     * operation or a division by zero does not also report a denormal operand: those come first
     * (SDM vol. 1, 4.9.2), as the host CPU shows.
     */
    long arithD(int op, long a, long b) {
        if (rc == RN && op != SQRT && moderate(a) && moderate(b)) {
            return quickD(op, a, b);
        }
        int saved = pre;
        pre = 0;
        long r = op == SQRT ? sqrtD(b) : binaryD(op, a, b);
        pre = saved | ((pre & (IE | ZE)) != 0 ? pre & ~DE : pre);
        return r;
    }

    private static boolean normalF(int a) {
        int e = (a >>> 23) & 0xFF;
        return e != 0 && e != 0xFF;
    }

    /** The common case of {@link #arithF}: normal operands, round to nearest (no NaN, no DE, no IE/ZE). */
    private int quickF(int op, int a, int b) {
        double x = flt(a), y = flt(b), r, err;
        switch (op) {
            case ADD -> {
                r = x + y;
                err = twoSumErr(x, y, r);
            }
            case SUB -> {
                r = x - y;
                err = twoSumErr(x, -y, r);
            }
            case MUL -> {
                r = x * y; // exact
                err = 0;
            }
            case DIV -> {
                r = x / y;
                double rem = Math.fma(-r, y, x);
                err = rem == 0 ? 0 : (rem < 0) == (y < 0) ? TINY : -TINY;
            }
            case MIN -> {
                return x < y ? a : b;
            }
            default -> {
                return x > y ? a : b;
            }
        }
        return r == 0 ? 0 : finishF(r, err); // an exact cancellation is +0 when rounding to nearest
    }

    /** A normal double of magnitude within 2^-480 .. 2^481: nothing can overflow or underflow with two of them. */
    private static boolean moderate(long a) {
        long e = (a >>> 52) & 0x7FF;
        return e >= 1023 - 480 && e <= 1023 + 480;
    }

    /**
     * The common case of {@link #arithD}: round to nearest on moderate operands, where Java's result
     * is the answer and the error term (TwoSum, an FMA residual) is exact, so only PE is to find.
     */
    private long quickD(int op, long a, long b) {
        double x = dbl(a), y = dbl(b), r, err;
        switch (op) {
            case ADD -> {
                r = x + y;
                err = twoSumErr(x, y, r);
            }
            case SUB -> {
                r = x - y;
                err = twoSumErr(x, -y, r);
            }
            case MUL -> {
                r = x * y;
                err = Math.fma(x, y, -r);
            }
            case DIV -> {
                r = x / y;
                double rem = Math.fma(-r, y, x); // the quotient is r + rem / y
                err = rem == 0 ? 0 : (rem > 0) == (y > 0) ? TINY : -TINY;
            }
            case MIN -> {
                return x < y ? a : b;
            }
            default -> {
                return x > y ? a : b;
            }
        }
        if (err != 0) {
            post |= PE;
            roundedUp = (err > 0) != (r > 0);
        }
        return bits(r);
    }

    int arithF(int op, int a, int b) {
        if (rc == RN && op != SQRT && normalF(a) && normalF(b)) {
            return quickF(op, a, b);
        }
        int saved = pre;
        pre = 0;
        int r = op == SQRT ? sqrtF(b) : binaryF(op, a, b);
        pre = saved | ((pre & (IE | ZE)) != 0 ? pre & ~DE : pre);
        return r;
    }

    private long binaryD(int op, long a, long b) {
        if (isNanD(a) || isNanD(b)) {
            if (op == MIN || op == MAX) { // the second operand, whatever it is; any NaN is invalid
                pre |= IE;
                return daz && (b & EXP_D) == 0 ? b & SIGN_D : b;
            }
            if (isSnanD(a) || isSnanD(b)) {
                pre |= IE;
            }
            return (isNanD(a) ? a : b) | QBIT_D; // the first operand's NaN, quieted (SDM vol. 1, table 4-7)
        }
        a = inD(a);
        b = inD(b);
        double x = dbl(a), y = dbl(b);
        return switch (op) {
            case MIN -> x < y ? a : b; // equal (zeros of either sign): the second operand
            case MAX -> x > y ? a : b;
            case ADD -> addD(x, y);
            case SUB -> addD(x, -y);
            case MUL -> mulD(x, y);
            default -> divD(x, y);
        };
    }

    private int binaryF(int op, int a, int b) {
        if (isNanF(a) || isNanF(b)) {
            if (op == MIN || op == MAX) {
                pre |= IE;
                return daz && (b & EXP_F) == 0 ? b & SIGN_F : b;
            }
            if (isSnanF(a) || isSnanF(b)) {
                pre |= IE;
            }
            return (isNanF(a) ? a : b) | QBIT_F;
        }
        a = inF(a);
        b = inF(b);
        double x = flt(a), y = flt(b);
        return switch (op) {
            case MIN -> x < y ? a : b;
            case MAX -> x > y ? a : b;
            case ADD -> addF(x, y);
            case SUB -> addF(x, -y);
            case MUL -> mulF(x, y);
            default -> divF(x, y);
        };
    }

    /** The exact sum is r + err (Knuth's TwoSum; exact unless r overflowed). */
    private static double twoSumErr(double x, double y, double r) {
        double bb = r - x;
        return (x - (r - bb)) + (y - bb);
    }

    /** Zero sum of finite operands: the common sign, else +0 (-0 when rounding down; IEEE 754, 6.3). */
    private long zeroSum(double x, double y) {
        if ((bits(x) ^ bits(y)) >= 0) {
            return bits(x) & SIGN_D;
        }
        return rc == RD ? SIGN_D : 0;
    }

    private long addD(double x, double y) {
        if (Double.isInfinite(x) || Double.isInfinite(y)) {
            if (Double.isInfinite(x) && Double.isInfinite(y) && x != y) {
                pre |= IE;
                return INDEF_D;
            }
            return bits(x + y);
        }
        double r = x + y;
        if (r == 0) {
            return zeroSum(x, y);
        }
        if (Double.isInfinite(r)) { // both operands are large: halving them is exact
            x *= 0.5;
            y *= 0.5;
            r = x + y;
            return roundExact(r, twoSumErr(x, y, r), 1, true);
        }
        return finishD(r, twoSumErr(x, y, r));
    }

    private int addF(double x, double y) {
        if (Double.isInfinite(x) || Double.isInfinite(y)) {
            if (Double.isInfinite(x) && Double.isInfinite(y) && x != y) {
                pre |= IE;
                return INDEF_F;
            }
            return Float.floatToRawIntBits((float) (x + y));
        }
        double r = x + y;
        if (r == 0) {
            return (int) (zeroSum(x, y) >>> 32);
        }
        return finishF(r, twoSumErr(x, y, r));
    }

    private long mulD(double x, double y) {
        long sign = (bits(x) ^ bits(y)) & SIGN_D;
        if (Double.isInfinite(x) || Double.isInfinite(y)) {
            if (x == 0 || y == 0) {
                pre |= IE;
                return INDEF_D;
            }
            return sign | EXP_D;
        }
        if (x == 0 || y == 0) {
            return sign;
        }
        int ex = exponent(x), ey = exponent(y);
        if (ex + ey > -960 && ex + ey < 1000) { // no overflow, and the residual is a double
            double r = x * y;
            return finishD(r, Math.fma(x, y, -r));
        }
        double xs = Math.scalb(x, -ex), ys = Math.scalb(y, -ey);
        double r = xs * ys;
        return roundExact(r, Math.fma(xs, ys, -r), ex + ey, true);
    }

    private int mulF(double x, double y) {
        int sign = (int) (((bits(x) ^ bits(y)) & SIGN_D) >>> 32);
        if (Double.isInfinite(x) || Double.isInfinite(y)) {
            if (x == 0 || y == 0) {
                pre |= IE;
                return INDEF_F;
            }
            return sign | EXP_F;
        }
        if (x == 0 || y == 0) {
            return sign;
        }
        return finishF(x * y, 0); // 24 x 24 bits: exact in double
    }

    private long divD(double x, double y) {
        long sign = (bits(x) ^ bits(y)) & SIGN_D;
        if (Double.isInfinite(x)) {
            if (Double.isInfinite(y)) {
                pre |= IE;
                return INDEF_D;
            }
            return sign | EXP_D;
        }
        if (y == 0) {
            if (x == 0) {
                pre |= IE;
                return INDEF_D;
            }
            pre |= ZE;
            return sign | EXP_D;
        }
        if (x == 0 || Double.isInfinite(y)) {
            return sign;
        }
        int rx = Math.getExponent(x), ry = Math.getExponent(y);
        if (rc == RN && rx > -500 && rx < 500 && ry > -500 && ry < 500) { // no under/overflow, exact residual
            double q = x / y;
            double rem = Math.fma(-q, y, x); // the quotient is q + rem / y
            if (rem != 0) {
                post |= PE;
                roundedUp = ((rem > 0) == (y > 0)) != (q > 0);
            }
            return bits(q);
        }
        int ex = exponent(x), ey = exponent(y);
        double xs = Math.abs(Math.scalb(x, -ex)), ys = Math.abs(Math.scalb(y, -ey)); // [1, 2)
        double q = xs / ys;
        double rem = Math.fma(-q, ys, xs); // exact: the quotient is q + rem / ys
        int scale = ex - ey;
        if (rc == RN && scale > -1000 && scale < 1000) {
            if (rem != 0) {
                post |= PE;
                roundedUp = rem < 0;
            }
            return sign | bits(Math.scalb(q, scale));
        }
        return roundExact(sign != 0 ? -q : q, rem == 0 ? 0 : Math.copySign(TINY, sign != 0 ? -rem : rem), scale, true);
    }

    private int divF(double x, double y) {
        int sign = (int) (((bits(x) ^ bits(y)) & SIGN_D) >>> 32);
        if (Double.isInfinite(x)) {
            if (Double.isInfinite(y)) {
                pre |= IE;
                return INDEF_F;
            }
            return sign | EXP_F;
        }
        if (y == 0) {
            if (x == 0) {
                pre |= IE;
                return INDEF_F;
            }
            pre |= ZE;
            return sign | EXP_F;
        }
        if (x == 0 || Double.isInfinite(y)) {
            return sign;
        }
        double q = x / y;
        double rem = Math.fma(-q, y, x); // exact for operands of float range
        return finishF(q, rem == 0 ? 0 : (rem < 0) == (y < 0) ? TINY : -TINY); // the quotient is q + rem / y
    }

    private long sqrtD(long b) {
        if (isNanD(b)) {
            if (isSnanD(b)) {
                pre |= IE;
            }
            return b | QBIT_D;
        }
        b = inD(b);
        double x = dbl(b);
        if (x == 0 || x == Double.POSITIVE_INFINITY) {
            return b;
        }
        if (x < 0) {
            pre |= IE;
            return INDEF_D;
        }
        if (rc == RN && Math.getExponent(x) > -960) { // the residual r * r - x is a double
            double r = Math.sqrt(x);
            double rem = Math.fma(r, r, -x);
            if (rem != 0) {
                post |= PE;
                roundedUp = rem > 0;
            }
            return bits(r);
        }
        int k = exponent(x) & ~1;
        double xs = Math.scalb(x, -k); // [1, 4)
        double r = Math.sqrt(xs);
        double rem = Math.fma(r, r, -xs); // exact; the root is a little below r when it is positive
        if (rc == RN) {
            if (rem != 0) {
                post |= PE;
                roundedUp = rem > 0;
            }
            return bits(Math.scalb(r, k >> 1));
        }
        return roundExact(r, rem == 0 ? 0 : Math.copySign(TINY, -rem), k >> 1, true);
    }

    private int sqrtF(int b) {
        if (isNanF(b)) {
            if (isSnanF(b)) {
                pre |= IE;
            }
            return b | QBIT_F;
        }
        b = inF(b);
        double x = flt(b);
        if (x == 0 || x == Double.POSITIVE_INFINITY) {
            return b;
        }
        if (x < 0) {
            pre |= IE;
            return INDEF_F;
        }
        double r = Math.sqrt(x);
        double rem = Math.fma(r, r, -x);
        return finishF(r, rem == 0 ? 0 : Math.copySign(TINY, -rem));
    }

    /** The unbiased exponent of a finite non-zero double, subnormals included. */
    private static int exponent(double x) {
        int e = Math.getExponent(x);
        return e >= Double.MIN_EXPONENT ? e : Math.getExponent(x * 0x1p64) - 64;
    }

    // ---- rounding ----

    /** The binary64 result for the exact value r + err (r finite, non-zero, round-to-nearest of it). */
    private long finishD(double r, double err) {
        if (rc == RN && Math.abs(r) > Double.MIN_NORMAL) { // r is the answer; tiny sums are exact
            if (err != 0) {
                post |= PE;
                roundedUp = (r > 0) != (err > 0);
            }
            return bits(r);
        }
        return roundExact(r, err, 0, true);
    }

    /** The binary32 result for the exact value r + err (r a non-zero double in float range). */
    private int finishF(double r, double err) {
        if (rc == RN) {
            float f = (float) r;
            long low = bits(r) & 0x1FFF_FFFFL; // the 29 bits binary32 drops
            float af = Math.abs(f);
            if (af > Float.MIN_NORMAL && af <= Float.MAX_VALUE && low != 0x1000_0000L) { // not a tie of r
                if (low != 0 || err != 0) {
                    post |= PE;
                }
                return Float.floatToRawIntBits(f);
            }
        }
        return (int) roundExact(r, err, 0, false);
    }

    /**
     * Rounds (r + err) * 2^scale, r a non-zero finite double and |err| at most half an ulp of r
     * (or {@link #TINY} for "a little more/less"), to binary64 or binary32.
     */
    private long roundExact(double r, double err, int scale, boolean dbl) {
        boolean neg = r < 0;
        if (neg) {
            r = -r;
            err = -err;
        }
        long b = bits(r);
        int be = (int) (b >>> 52);
        long sig = b & MANT_D;
        int exp;
        if (be == 0) {
            exp = -1074;
        } else {
            sig |= 1L << 52;
            exp = be - 1075;
        }
        // two more bits below r's last one, so the error can be folded in as whole units plus a sticky part
        sig <<= 2;
        exp -= 2;
        boolean sticky = false;
        if (err != 0) {
            double q = Math.scalb(err, -exp);
            if (Math.abs(q) < 1) {
                sig += err > 0 ? 0 : -1;
            } else {
                double f = Math.floor(q);
                sig += (long) f;
                if (f == q) {
                    return round(neg, sig, exp + scale, false, dbl);
                }
            }
            sticky = true;
        }
        return round(neg, sig, exp + scale, sticky, dbl);
    }

    /**
     * The exact value (sig + f) * 2^exp (f in (0, 1) exactly when sticky; sig below 2^63) rounded to
     * binary64 or binary32 by RC: the x87's stores to m64/m32.
     */
    long roundValue(boolean neg, long sig, int exp, boolean sticky, boolean dbl) {
        return round(neg, sig, exp, sticky, dbl);
    }

    /** An integer converted to binary64 or binary32 in the current rounding mode. */
    long fromInt(long v, boolean dbl) {
        if (v == 0) {
            return 0;
        }
        boolean neg = v < 0;
        long mag = neg ? -v : v;
        if (mag < 0) { // -2^63
            return round(true, 1L << 62, 1, false, dbl);
        }
        return round(neg, mag, 0, false, dbl);
    }

    /**
     * Rounds the exact value (sig + f) * 2^exp, 0 <= f < 1 and f > 0 exactly when {@code sticky},
     * to the format (IEEE 754, 4.3 and 7.4-7.6; SDM vol. 1, 4.9.1.4-4.9.1.6): subnormal results,
     * overflow to infinity or the largest finite number depending on RC. Tininess is detected after
     * rounding (the result rounded with an unbounded exponent is below the smallest normal), as the
     * host CPU shows; FTZ flushes such a tiny result to zero when underflow is masked. Callers keep at
     * least one bit of sig below the result's last bit when sticky is set.
     */
    private long round(boolean neg, long sig, int exp, boolean sticky, boolean dbl) {
        int p = dbl ? 53 : 24, emin = dbl ? -1022 : -126, emax = dbl ? 1023 : 127;
        int e = exp + 63 - Long.numberOfLeadingZeros(sig); // the exponent of the exact value
        boolean tiny = e < emin;
        if (e == emin - 1 && roundBits(neg, sig, e - (p - 1) - exp, sticky) == 1L << p) {
            tiny = false; // rounds up to the smallest normal
        }
        if (tiny && ftz && underflowMasked) {
            post |= UE | PE;
            return zero(neg, dbl);
        }
        int lsb = Math.max(e, emin) - (p - 1); // exponent of the result's last bit
        long kept = roundBits(neg, sig, lsb - exp, sticky);
        boolean inexact = lastInexact;
        roundedUp = lastUp;
        if (kept == 0) {
            post |= UE | PE; // only a tiny inexact value rounds to zero
            return zero(neg, dbl);
        }
        if (lsb + 63 - Long.numberOfLeadingZeros(kept) > emax) {
            return overflow(neg, dbl);
        }
        if (tiny && (inexact || !underflowMasked)) {
            post |= UE; // masked: only when also inexact (SDM vol. 1, 4.9.1.5)
        }
        if (inexact) {
            post |= PE;
        }
        if (dbl) {
            return bits(Math.scalb((double) kept, lsb)) | (neg ? SIGN_D : 0);
        }
        return (Float.floatToRawIntBits(Math.scalb((float) kept, lsb)) | (neg ? SIGN_F : 0)) & 0xFFFF_FFFFL;
    }

    /** Whether the last {@link #roundBits} dropped anything, and whether it rounded up. */
    private boolean lastInexact, lastUp;

    /** sig + sticky with {@code drop} low bits rounded off by RC (sets {@link #lastInexact}). */
    private long roundBits(boolean neg, long sig, int drop, boolean sticky) {
        long kept;
        boolean above, tie;
        if (drop <= 0) {
            kept = sig << -drop;
            lastInexact = sticky;
            above = false;
            tie = false;
        } else if (drop >= 64) {
            kept = 0;
            lastInexact = true;
            above = false;
            tie = false;
        } else {
            long rem = sig & ((1L << drop) - 1), half = 1L << (drop - 1);
            kept = sig >>> drop;
            lastInexact = rem != 0 || sticky;
            above = rem > half || (rem == half && sticky);
            tie = rem == half && !sticky;
        }
        boolean up = switch (rc) {
            case RN -> above || (tie && (kept & 1) != 0);
            case RD -> lastInexact && neg;
            case RU -> lastInexact && !neg;
            default -> false;
        };
        lastUp = up;
        return up ? kept + 1 : kept;
    }

    private static long zero(boolean neg, boolean dbl) {
        return neg ? (dbl ? SIGN_D : SIGN_F & 0xFFFF_FFFFL) : 0;
    }

    /** Overflow: infinity, or the largest finite number when RC rounds toward zero for this sign. */
    private long overflow(boolean neg, boolean dbl) {
        post |= OE | PE;
        boolean toMax = rc == RZ || (rc == RD && !neg) || (rc == RU && neg);
        roundedUp = !toMax;
        long mag = dbl ? (toMax ? MAX_D : EXP_D) : (toMax ? MAX_F : EXP_F);
        return mag | (neg ? (dbl ? SIGN_D : SIGN_F & 0xFFFF_FFFFL) : 0);
    }

    // ---- compares ----

    /**
     * CMPPS/CMPSS/CMPPD/CMPSD predicate 0-7 (EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD): LT, LE, NLT and
     * NLE are signaling (invalid on any NaN), the others on SNaN only.
     */
    boolean compareD(int pred, long a, long b) {
        boolean unord = isNanD(a) || isNanD(b);
        if (unord) {
            if (isSnanD(a) || isSnanD(b) || signaling(pred)) {
                pre |= IE;
            }
        } else {
            a = inD(a);
            b = inD(b);
        }
        return predicate(pred, dbl(a), dbl(b), unord);
    }

    boolean compareF(int pred, int a, int b) {
        boolean unord = isNanF(a) || isNanF(b);
        if (unord) {
            if (isSnanF(a) || isSnanF(b) || signaling(pred)) {
                pre |= IE;
            }
        } else {
            a = inF(a);
            b = inF(b);
        }
        return predicate(pred, flt(a), flt(b), unord);
    }

    private static boolean signaling(int pred) {
        int p = pred & 3;
        return p == 1 || p == 2;
    }

    private static boolean predicate(int pred, double x, double y, boolean unord) {
        return switch (pred & 7) {
            case 0 -> !unord && x == y;
            case 1 -> !unord && x < y;
            case 2 -> !unord && x <= y;
            case 3 -> unord;
            case 4 -> unord || x != y;
            case 5 -> unord || !(x < y);
            case 6 -> unord || !(x <= y);
            default -> !unord;
        };
    }

    /** Result of COMIS/UCOMIS as ZF, PF, CF; COMIS ({@code ordered}) signals invalid on QNaNs too. */
    static final int CMP_UNORDERED = 0, CMP_LESS = 1, CMP_EQUAL = 2, CMP_GREATER = 3;

    int comisD(long a, long b, boolean ordered) {
        if (isNanD(a) || isNanD(b)) {
            if (ordered || isSnanD(a) || isSnanD(b)) {
                pre |= IE;
            }
            return CMP_UNORDERED;
        }
        double x = dbl(inD(a)), y = dbl(inD(b));
        return x < y ? CMP_LESS : x == y ? CMP_EQUAL : CMP_GREATER;
    }

    int comisF(int a, int b, boolean ordered) {
        if (isNanF(a) || isNanF(b)) {
            if (ordered || isSnanF(a) || isSnanF(b)) {
                pre |= IE;
            }
            return CMP_UNORDERED;
        }
        float x = flt(inF(a)), y = flt(inF(b));
        return x < y ? CMP_LESS : x == y ? CMP_EQUAL : CMP_GREATER;
    }

    // ---- conversions ----

    /** CVTSS2SD/CVTPS2PD: exact, a NaN keeps its payload (quieted). */
    long floatToDouble(int a) {
        if (isNanF(a)) {
            if (isSnanF(a)) {
                pre |= IE;
            }
            return ((long) (a & SIGN_F) << 32) | EXP_D | QBIT_D | ((long) (a & MANT_F) << 29);
        }
        return bits(flt(inF(a)));
    }

    /** CVTSD2SS/CVTPD2PS: rounded by RC; a NaN keeps the top of its payload (quieted). */
    int doubleToFloat(long a) {
        if (isNanD(a)) {
            if (isSnanD(a)) {
                pre |= IE;
            }
            return (int) ((a & SIGN_D) >>> 32) | EXP_F | QBIT_F | (int) ((a & MANT_D) >>> 29);
        }
        a = inD(a);
        double x = dbl(a);
        if (x == 0 || Double.isInfinite(x)) {
            return Float.floatToRawIntBits((float) x);
        }
        return (int) roundExact(x, 0, 0, false);
    }

    /**
     * CVT(T)SS2SI, CVT(T)SD2SI, CVT(T)PS2DQ, CVT(T)PD2DQ, CVT(T)P*2PI: to a signed integer of
     * {@code size} bytes, by RC or truncating; NaN and out-of-range give the integer indefinite with IE.
     */
    long toInt(double x, boolean nan, int size, boolean truncate) {
        if (nan) {
            pre |= IE;
            return size == 8 ? INT_INDEF_64 : INT_INDEF_32;
        }
        int mode = truncate ? RZ : rc;
        double r = switch (mode) {
            case RN -> Math.rint(x);
            case RD -> Math.floor(x);
            case RU -> Math.ceil(x);
            default -> x < 0 ? Math.ceil(x) : Math.floor(x);
        };
        double limit = size == 8 ? 0x1p63 : 0x1p31;
        if (!(r < limit && r >= -limit)) {
            pre |= IE;
            return size == 8 ? INT_INDEF_64 : INT_INDEF_32;
        }
        if (r != x) {
            post |= PE;
        }
        return size == 8 ? (long) r : (long) r & 0xFFFF_FFFFL;
    }

    long doubleToInt(long a, int size, boolean truncate) {
        return toInt(dbl(dazOnly(a)), isNanD(a), size, truncate);
    }

    long floatToInt(int a, int size, boolean truncate) {
        return toInt(flt(dazOnlyF(a)), isNanF(a), size, truncate);
    }

    /** DAZ without the denormal flag: float-to-integer conversions do not report DE (SDM vol. 2, CVTSD2SI). */
    private long dazOnly(long a) {
        return daz && (a & EXP_D) == 0 ? a & SIGN_D : a;
    }

    private int dazOnlyF(int a) {
        return daz && (a & EXP_F) == 0 ? a & SIGN_F : a;
    }
}
