package org.jvisor.tcg;

/**
 * x87 double-extended arithmetic (SDM vol. 1, 4.2.2, 4.8 and 8.1.5): values are register images,
 * a 64-bit significand with its explicit integer bit and a sign-and-15-bit-exponent word. add, sub,
 * mul, div and sqrt compute the exact result in 128 bits (plus a sticky bit) and round it once to
 * the precision control (24, 53 or 64 bits) by the rounding control, with the extended exponent
 * range, denormal results, overflow, and the IE/DE/ZE/OE/UE/PE flags and C1 (round up). Results go
 * to {@link #mant}/{@link #se}; one instance per vCPU, nothing is allocated.
 */
final class Float80 {
    static final int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32;
    static final int BIAS = 16383;
    static final long INT_BIT = 1L << 63, QBIT = 1L << 62;
    static final long INDEF_MANT = 0xC000_0000_0000_0000L;
    static final int INDEF_SE = 0xFFFF;
    static final int RN = 0, RD = 1, RU = 2, RZ = 3;

    private int rc;
    private int precision;
    /** Exceptions raised since {@link #begin} (FSW bit positions) and whether the last rounding went up. */
    int flags;
    boolean roundedUp;
    /** The result. */
    long mant;
    int se;

    /** Starts an instruction under the control word: RC, and PC for the arithmetic that honours it. */
    void begin(int fcw) {
        rc = (fcw >>> 10) & 3;
        int pc = (fcw >>> 8) & 3;
        precision = pc == 0 ? 24 : pc == 2 ? 53 : 64;
        flags = 0;
        roundedUp = false;
    }

    // ---- classes (SDM vol. 1, 8.2.2, table 8-3) ----

    static boolean isNan(long m, int se) {
        return (se & 0x7FFF) == 0x7FFF && m < 0 && (m << 1) != 0;
    }

    static boolean isSnan(long m, int se) {
        return isNan(m, se) && (m & QBIT) == 0;
    }

    static boolean isInf(long m, int se) {
        return (se & 0x7FFF) == 0x7FFF && m == INT_BIT;
    }

    static boolean isZero(long m, int se) {
        return (se & 0x7FFF) == 0 && m == 0;
    }

    /** Unnormals, pseudo-NaNs and pseudo-infinities: invalid operands since the 387. */
    static boolean unsupported(long m, int se) {
        int e = se & 0x7FFF;
        return e != 0 && m >= 0;
    }

    static boolean isDenormal(long m, int se) {
        return (se & 0x7FFF) == 0 && m != 0;
    }

    private static boolean neg(int se) {
        return (se & 0x8000) != 0;
    }

    private void set(long m, int s) {
        mant = m;
        se = s & 0xFFFF;
    }

    /** An operand as a result: a pseudo-denormal becomes the normal of the same value (exponent 1). */
    private void setCanonical(long m, int s) {
        set(m, (s & 0x7FFF) == 0 && m < 0 ? s | 1 : s);
    }

    private void indefinite() {
        flags |= IE;
        set(INDEF_MANT, INDEF_SE);
    }

    /**
     * NaN and unsupported operands of a two-operand operation: the result and true, or false when
     * both are numbers (x87 NaN rules, SDM vol. 1, table 4-7: a QNaN over an SNaN, else the larger
     * significand; quieted).
     */
    boolean nanOrUnsupported(long am, int ase, long bm, int bse) {
        return specials(am, ase, bm, bse);
    }

    private boolean specials(long am, int ase, long bm, int bse) {
        if (unsupported(am, ase) || unsupported(bm, bse)) { // before NaNs: the host CPU gives the indefinite
            indefinite();
            return true;
        }
        boolean an = isNan(am, ase), bn = isNan(bm, bse);
        if (an || bn) {
            if (isSnan(am, ase) || isSnan(bm, bse)) {
                flags |= IE;
            }
            boolean pickA;
            if (an && bn) {
                boolean aq = (am & QBIT) != 0, bq = (bm & QBIT) != 0;
                pickA = aq != bq ? aq : Long.compareUnsigned(am | QBIT, bm | QBIT) >= 0;
            } else {
                pickA = an;
            }
            set((pickA ? am : bm) | QBIT, pickA ? ase : bse);
            return true;
        }
        if (isDenormal(am, ase) || isDenormal(bm, bse)) {
            flags |= DE;
        }
        return false;
    }

    // unpacked operands: value = sig * 2^(exp - 63), sig normalized (integer bit set)
    private long ua, ub;
    private int ea, eb;

    private static int unpackExp(long m, int se) {
        int e = se & 0x7FFF;
        int exp = (e == 0 ? 1 : e) - BIAS;
        return exp - Long.numberOfLeadingZeros(m);
    }

    private void unpackA(long m, int se) {
        int lz = Long.numberOfLeadingZeros(m);
        ua = m << lz;
        ea = unpackExp(m, se);
    }

    private void unpackB(long m, int se) {
        int lz = Long.numberOfLeadingZeros(m);
        ub = m << lz;
        eb = unpackExp(m, se);
    }

    // ---- arithmetic ----

    /** a + b, or a - b with {@code subtract}. */
    void add(long am, int ase, long bm, int bse, boolean subtract) {
        if (specials(am, ase, bm, bse)) {
            return;
        }
        if (subtract) {
            bse ^= 0x8000;
        }
        boolean ai = isInf(am, ase), bi = isInf(bm, bse);
        if (ai || bi) {
            if (ai && bi && neg(ase) != neg(bse)) {
                indefinite();
            } else {
                set(INT_BIT, (ai ? ase : bse) | 0x7FFF);
            }
            return;
        }
        boolean az = isZero(am, ase), bz = isZero(bm, bse);
        if (az && bz) {
            boolean n = neg(ase) == neg(bse) ? neg(ase) : rc == RD;
            set(0, n ? 0x8000 : 0);
            return;
        }
        if (az || bz) { // the other operand, rounded to the precision control
            long m = az ? bm : am;
            int s = az ? bse : ase;
            unpackA(m, s);
            roundPack(neg(s), ua, 0, false, ea, precision);
            return;
        }
        unpackA(am, ase);
        unpackB(bm, bse);
        boolean na = neg(ase), nb = neg(bse);
        if (ea < eb || (ea == eb && Long.compareUnsigned(ua, ub) < 0)) {
            long t = ua;
            ua = ub;
            ub = t;
            int te = ea;
            ea = eb;
            eb = te;
            boolean tn = na;
            na = nb;
            nb = tn;
        }
        int d = ea - eb;
        long bh, bl;
        boolean st;
        if (d == 0) {
            bh = ub;
            bl = 0;
            st = false;
        } else if (d < 64) {
            bh = ub >>> d;
            bl = ub << (64 - d);
            st = false;
        } else if (d == 64) {
            bh = 0;
            bl = ub;
            st = false;
        } else if (d < 128) {
            bh = 0;
            bl = ub >>> (d - 64);
            st = (ub << (128 - d)) != 0;
        } else {
            bh = 0;
            bl = 0;
            st = true;
        }
        long hi, lo;
        int e = ea; // value = (hi:lo) * 2^(e - 127)
        if (na == nb) {
            lo = bl;
            hi = ua + bh;
            if (Long.compareUnsigned(hi, ua) < 0) { // carry out: one more bit
                st |= (lo & 1) != 0;
                lo = (lo >>> 1) | (hi << 63);
                hi = (hi >>> 1) | INT_BIT;
                e++;
            }
        } else {
            boolean borrow = bl != 0 || st;
            lo = -bl - (st ? 1 : 0);
            hi = ua - bh - (borrow ? 1 : 0);
            if (hi == 0 && lo == 0 && !st) {
                set(0, rc == RD ? 0x8000 : 0);
                return;
            }
            int sh = hi != 0 ? Long.numberOfLeadingZeros(hi) : 64 + Long.numberOfLeadingZeros(lo);
            if (sh >= 64) {
                hi = lo << (sh - 64);
                lo = 0;
            } else if (sh > 0) {
                hi = (hi << sh) | (lo >>> (64 - sh));
                lo <<= sh;
            }
            e -= sh;
        }
        roundPack(na, hi, lo, st, e, precision);
    }

    void mul(long am, int ase, long bm, int bse) {
        if (specials(am, ase, bm, bse)) {
            return;
        }
        boolean n = neg(ase) != neg(bse);
        boolean ai = isInf(am, ase), bi = isInf(bm, bse), az = isZero(am, ase), bz = isZero(bm, bse);
        if (ai || bi) {
            if (az || bz) {
                indefinite();
            } else {
                set(INT_BIT, n ? 0xFFFF : 0x7FFF);
            }
            return;
        }
        if (az || bz) {
            set(0, n ? 0x8000 : 0);
            return;
        }
        unpackA(am, ase);
        unpackB(bm, bse);
        long hi = Math.unsignedMultiplyHigh(ua, ub), lo = ua * ub;
        int e = ea + eb + 1;
        if (hi >= 0) {
            hi = (hi << 1) | (lo >>> 63);
            lo <<= 1;
            e--;
        }
        roundPack(n, hi, lo, false, e, precision);
    }

    /** a / b. */
    void div(long am, int ase, long bm, int bse) {
        if (specials(am, ase, bm, bse)) {
            return;
        }
        boolean n = neg(ase) != neg(bse);
        boolean ai = isInf(am, ase), bi = isInf(bm, bse), az = isZero(am, ase), bz = isZero(bm, bse);
        if ((ai && bi) || (az && bz)) {
            indefinite();
            return;
        }
        if (ai || bz) {
            if (!ai) {
                // a finite number over zero (infinity over zero is just infinity); a denormal
                // dividend is not DE then, as the host CPU shows
                flags = flags & ~DE | ZE;
            }
            set(INT_BIT, n ? 0xFFFF : 0x7FFF);
            return;
        }
        if (az || bi) {
            set(0, n ? 0x8000 : 0);
            return;
        }
        unpackA(am, ase);
        unpackB(bm, bse);
        long r = ua;
        boolean top = false;
        int e = ea - eb;
        if (Long.compareUnsigned(ua, ub) < 0) {
            top = r < 0;
            r <<= 1;
            e--;
        }
        long q = 0;
        for (int i = 63; i >= 0; i--) { // restoring division, one quotient bit a step
            if (top || Long.compareUnsigned(r, ub) >= 0) {
                r -= ub;
                q |= 1L << i;
            }
            top = r < 0;
            r <<= 1;
        }
        boolean roundBit = top || Long.compareUnsigned(r, ub) >= 0;
        if (roundBit) {
            r -= ub;
        }
        roundPack(n, q, roundBit ? INT_BIT : 0, r != 0, e, precision);
    }

    void sqrt(long m, int s) {
        if (isNan(m, s)) {
            if (isSnan(m, s)) {
                flags |= IE;
            }
            set(m | QBIT, s);
            return;
        }
        if (unsupported(m, s)) {
            indefinite();
            return;
        }
        if (isZero(m, s)) {
            set(m, s);
            return;
        }
        if (neg(s)) {
            indefinite();
            return;
        }
        if (isInf(m, s)) {
            set(m, s);
            return;
        }
        if (isDenormal(m, s)) {
            flags |= DE;
        }
        unpackA(m, s);
        int t = ea - 63; // value = ua * 2^t
        long rh, rl;
        int k;
        if (((t - 64) & 1) == 0) { // R = ua * 2^64, value = R * 2^(t - 64)
            rh = ua;
            rl = 0;
            k = (t - 64) >> 1;
        } else { // R = ua * 2^63
            rh = ua >>> 1;
            rl = ua << 63;
            k = (t - 63) >> 1;
        }
        // bit-by-bit integer square root of the 128-bit R: root < 2^64, remainder < 2^65
        long root = 0, remHi = 0, remLo = 0;
        for (int i = 63; i >= 0; i--) {
            long two = i >= 32 ? (rh >>> (2 * (i - 32))) & 3 : (rl >>> (2 * i)) & 3;
            remHi = (remHi << 2) | (remLo >>> 62);
            remLo = (remLo << 2) | two;
            long trialHi = root >>> 62, trialLo = (root << 2) | 1;
            if (remHi > trialHi || (remHi == trialHi && Long.compareUnsigned(remLo, trialLo) >= 0)) {
                long nl = remLo - trialLo;
                remHi = remHi - trialHi - (Long.compareUnsigned(remLo, trialLo) < 0 ? 1 : 0);
                remLo = nl;
                root = (root << 1) | 1;
            } else {
                root <<= 1;
            }
        }
        // sqrt(R) >= root + 1/2 exactly when the remainder exceeds root (it is never exactly half)
        boolean roundBit = remHi != 0 || Long.compareUnsigned(remLo, root) > 0;
        boolean st = roundBit || remHi != 0 || remLo != 0;
        roundPack(false, root, roundBit ? INT_BIT : 0, st && (remHi != 0 || remLo != 0), k + 63, precision);
    }

    /** FPREM/FPREM1 results beside the remainder: the quotient's low three bits, and C2 (incomplete). */
    int quotient;
    boolean partial;

    /**
     * FPREM ({@code ieee} false: truncated quotient) and FPREM1 (nearest): the exact remainder of a
     * by b by long division. An exponent difference of 64 or more gives a partial remainder reduced
     * by N = 32 + (difference mod 32) binary places (SDM vol. 2, FPREM: "an implementation-dependent
     * number between 32 and 63").
     */
    void remainder(long am, int ase, long bm, int bse, boolean ieee) {
        quotient = 0;
        partial = false;
        if (specials(am, ase, bm, bse)) {
            return;
        }
        if (isInf(am, ase) || isZero(bm, bse)) {
            if (isZero(bm, bse)) {
                flags &= ~DE; // invalid alone, as the host CPU shows for a denormal over zero
            }
            indefinite();
            return;
        }
        if (isZero(am, ase) || isInf(bm, bse)) {
            setCanonical(am, ase);
            return;
        }
        unpackA(am, ase);
        unpackB(bm, bse);
        boolean negative = neg(ase);
        int d = ea - eb;
        if (d < 0) {
            if (ieee && d == -1 && Long.compareUnsigned(ua, ub) > 0) { // |a| > |b| / 2: a - sign * b
                quotient = 1;
                pack(!negative, (ub << 1) - ua, ea); // 2ub - ua < ub fits, computed modulo 2^64
                return;
            }
            setCanonical(am, ase);
            return;
        }
        int steps = d;
        int scale = 0;
        if (d >= 64) {
            partial = true;
            steps = 32 + d % 32;
            scale = d - steps; // divide by b * 2^scale
        }
        long r = ua, q = 0;
        boolean top = false;
        for (int i = 0; i <= steps; i++) {
            if (top || Long.compareUnsigned(r, ub) >= 0) {
                r -= ub;
                q = (q << 1) | 1;
            } else {
                q <<= 1;
            }
            if (i < steps) {
                top = r < 0;
                r <<= 1;
            }
        }
        if (ieee && !partial) {
            boolean twiceAbove = (r >>> 63) != 0 || Long.compareUnsigned(r << 1, ub) > 0;
            boolean twiceEqual = (r >>> 63) == 0 && (r << 1) == ub;
            if (twiceAbove || (twiceEqual && (q & 1) != 0)) {
                r = ub - r;
                q++;
                negative = !negative;
            }
        }
        quotient = (int) (q & 7);
        if (r == 0) {
            set(0, neg(ase) ? 0x8000 : 0);
            return;
        }
        pack(negative, r, eb + scale);
    }

    /** The exact value sig * 2^(exp - 63) in the register format (FSCALE, FXTRACT, FILD, FPREM results). */
    void pack(boolean negative, long sig, int exp) {
        if (sig == 0) {
            set(0, negative ? 0x8000 : 0);
            return;
        }
        int lz = Long.numberOfLeadingZeros(sig);
        roundPack(negative, sig << lz, 0, false, exp - lz, 64);
    }

    /** A signed integer, exactly (FILD). */
    void fromInt(long v) {
        boolean n = v < 0;
        pack(n, n ? -v : v, 63);
    }

    // ---- rounding (SDM vol. 1, 4.8.4, 8.1.5.2) ----

    private boolean lastInexact;

    /** (hi:lo + sticky) with {@code k} bits kept, rounded by RC; sets lastInexact and roundedUp. */
    private long keep(boolean negative, long hi, long lo, boolean sticky, int k) {
        long kept;
        boolean roundBit, rest;
        if (k >= 64) {
            kept = hi;
            roundBit = lo < 0;
            rest = (lo << 1) != 0 || sticky;
        } else if (k >= 1) {
            kept = hi >>> (64 - k);
            long rem = hi << k;
            roundBit = rem < 0;
            rest = (rem << 1) != 0 || lo != 0 || sticky;
        } else if (k == 0) {
            kept = 0;
            roundBit = true;
            rest = (hi << 1) != 0 || lo != 0 || sticky;
        } else {
            kept = 0;
            roundBit = false;
            rest = true;
        }
        lastInexact = roundBit || rest;
        boolean up = switch (rc) {
            case RN -> roundBit && (rest || (kept & 1) != 0);
            case RD -> lastInexact && negative;
            case RU -> lastInexact && !negative;
            default -> false;
        };
        roundedUp = up;
        return up ? kept + 1 : kept;
    }

    /**
     * Rounds the exact value (hi:lo + sticky) * 2^(e - 127), hi's top bit set, to {@code p} bits and
     * packs it: denormal when below the normal range (rounded at the denormal's last bit), infinity
     * or the largest number on overflow depending on RC.
     */
    private void roundPack(boolean negative, long hi, long lo, boolean sticky, int e, int p) {
        int lead = e; // exponent of the leading bit
        // a denormal keeps the bits down to 2^(1 - BIAS - (p - 1)): 2^-16445 at 64 bits, and at a lower
        // precision control the same place as in a p-bit format with the extended exponent range (as the host CPU)
        int k = Math.min(p, lead + BIAS - 1 + p);
        long kept = keep(negative, hi, lo, sticky, k);
        boolean inexact = lastInexact;
        int lsb = lead - k + 1;
        int sign = negative ? 0x8000 : 0;
        if (kept == 0 && !(k >= 64 && roundedUp)) {
            flags |= UE | PE;
            set(0, sign);
            return;
        }
        long m;
        int top;
        if (k >= 64 && kept == 0) { // carried out of 64 bits
            m = INT_BIT;
            top = lead + 1;
        } else {
            int bl = 64 - Long.numberOfLeadingZeros(kept);
            top = lsb + bl - 1;
            m = kept << (64 - bl);
        }
        int biased = top + BIAS;
        if (biased >= 0x7FFF) {
            flags |= OE | PE;
            boolean toMax = rc == RZ || (rc == RD && !negative) || (rc == RU && negative);
            roundedUp = !toMax;
            if (toMax) {
                set(-1L << (64 - p), sign | 0x7FFE);
            } else {
                set(INT_BIT, sign | 0x7FFF);
            }
            return;
        }
        if (biased <= 0) { // a denormal: the significand at exponent 1 - BIAS
            if (inexact) {
                flags |= UE;
            }
            m = (m >>> (1 - biased));
            biased = 0;
        }
        if (inexact) {
            flags |= PE;
        }
        set(m, sign | biased);
    }

    // ---- comparisons and conversions ----

    /** -1, 0, 1 for a &lt; b, a == b, a &gt; b; both numbers (not NaN, not unsupported). */
    static int compare(long am, int ase, long bm, int bse) {
        boolean az = isZero(am, ase), bz = isZero(bm, bse);
        if (az && bz) {
            return 0;
        }
        boolean na = neg(ase) && !az, nb = neg(bse) && !bz;
        if (na != nb) {
            return na ? -1 : 1;
        }
        int c;
        if (az || bz) {
            c = az ? -1 : 1;
        } else {
            int ea = unpackExp(am, ase), eb = unpackExp(bm, bse);
            long ma = am << Long.numberOfLeadingZeros(am), mb = bm << Long.numberOfLeadingZeros(bm);
            c = isInf(am, ase) || isInf(bm, bse) ? Boolean.compare(isInf(am, ase), isInf(bm, bse))
                : ea != eb ? Integer.compare(ea, eb) : Long.compareUnsigned(ma, mb);
        }
        return na ? -c : c;
    }

    /**
     * Rounds a finite number to an integer by RC or toward zero ({@link #mant} = magnitude, or -1
     * in magnitude when it needs more than 63 bits); sets PE and roundedUp. {@code se} keeps the sign.
     */
    void toIntegerMagnitude(long m, int s, boolean truncate) {
        int saved = rc;
        if (truncate) {
            rc = RZ;
        }
        if (isZero(m, s)) {
            set(0, s);
        } else {
            unpackA(m, s);
            if (ea >= 63) { // already an integer; 2^64 and more saturate to all ones
                set(ea == 63 ? ua : -1L, s);
            } else {
                long kept = keep(neg(s), ua, 0, false, ea + 1);
                if (lastInexact) {
                    flags |= PE;
                }
                set(kept, s);
            }
        }
        rc = saved;
    }

    /** binary64 bits to a register image, exactly, into mant/se. */
    void fromDouble(long bits) {
        int sign = bits < 0 ? 0x8000 : 0;
        int e = (int) ((bits >>> 52) & 0x7FF);
        long frac = bits & ((1L << 52) - 1);
        if (e == 0x7FF) {
            set(INT_BIT | (frac << 11), sign | 0x7FFF);
        } else if (e == 0) {
            pack(sign != 0, frac, -1074 + 63); // zero or a double denormal, normalized
        } else {
            set(INT_BIT | (frac << 11), sign | (e - 1023 + BIAS));
        }
    }
}
