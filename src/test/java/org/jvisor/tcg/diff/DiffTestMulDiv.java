package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.NO_PREFIX;
import static org.jvisor.tcg.diff.Asm.op;

import java.math.BigInteger;
import org.junit.jupiter.api.Test;

/**
 * MUL and IMUL (one, two and three operands): CF/OF defined, SF ZF AF PF undefined. DIV and IDIV
 * with every flag undefined; inputs are drawn so no #DE is raised (the host would kill the JVM).
 */
class DiffTestMulDiv {
    static final long MUL_UNDEFINED = Gen.SF | Gen.ZF | Gen.AF | Gen.PF;

    static void mul1(Gen g, boolean signed) {
        g.a.noise = g.r;
        int size = g.size();
        Gen.Ops o = g.ops(size, 0, true, 16);
        g.setReg(0, size, g.interesting(size));
        g.setOperand(o.rm(), size, g.interesting(size));
        g.flagMask &= ~MUL_UNDEFINED;
        g.a.modrm(size, NO_PREFIX, op(size == 8 ? 0xF6 : 0xF7), signed ? 5 : 4, true, o.rm(), true, 0, 0);
    }

    static void imul2(Gen g) {
        g.a.noise = g.r;
        int size = g.sizeNo8();
        Gen.Ops o = g.ops(size, 1, true, 16);
        g.setReg(o.reg(0), size, g.interesting(size));
        g.setOperand(o.rm(), size, g.interesting(size));
        g.flagMask &= ~MUL_UNDEFINED;
        g.a.modrm(size, NO_PREFIX, op(0x0F, 0xAF), o.reg(0), false, o.rm(), false, 0, 0);
    }

    static void imul3(Gen g) {
        g.a.noise = g.r;
        int size = g.sizeNo8();
        Gen.Ops o = g.ops(size, 1, true, 16);
        g.setOperand(o.rm(), size, g.interesting(size));
        g.flagMask &= ~MUL_UNDEFINED;
        if (g.r.nextBoolean()) {
            g.a.modrm(size, NO_PREFIX, op(0x6B), o.reg(0), false, o.rm(), false, g.interesting(8), 1);
        } else {
            g.a.modrm(size, NO_PREFIX, op(0x69), o.reg(0), false, o.rm(), false, g.interesting(Math.min(size, 32)),
                size == 16 ? 2 : 4);
        }
    }

    static BigInteger unsigned(long v, int bits) {
        BigInteger b = BigInteger.valueOf(v);
        return (bits == 64 && v < 0 ? b.add(BigInteger.ONE.shiftLeft(64)) : b).and(
            BigInteger.ONE.shiftLeft(bits).subtract(BigInteger.ONE));
    }

    static BigInteger signed(long v, int bits) {
        return BigInteger.valueOf(Gen.sext(v, bits));
    }

    /** Whether DIV/IDIV of hi:lo by d (size bits each) completes without #DE. */
    static boolean divides(long hi, long lo, long d, int size, boolean sgn) {
        BigInteger divisor = sgn ? signed(d, size) : unsigned(d, size);
        if (divisor.signum() == 0) {
            return false;
        }
        BigInteger dividend = unsigned(hi, size).shiftLeft(size).or(unsigned(lo, size));
        if (sgn && dividend.testBit(2 * size - 1)) {
            dividend = dividend.subtract(BigInteger.ONE.shiftLeft(2 * size));
        }
        BigInteger q = dividend.divide(divisor); // truncates toward zero, as IDIV does
        if (sgn) {
            return q.bitLength() < size; // fits in a signed size-bit integer
        }
        return q.bitLength() <= size;
    }

    static void div(Gen g, boolean sgn) {
        g.a.noise = g.r;
        int size = g.size();
        g.avoidRegs = 1 | 4; // the divisor is not RAX/RDX (nor AL/AH): the dividend is chosen below
        Gen.Ops o = g.ops(size, 0, true, 16);
        g.avoidRegs = 0;
        long d = g.interesting(size);
        if (d == 0 || g.chance(4)) {
            d = (g.r.nextInt(20) + 1) * (sgn && g.r.nextBoolean() ? -1L : 1L);
        }
        g.setOperand(o.rm(), size, d);
        d = g.getOperand(o.rm(), size);
        long lo = g.interesting(size);
        long hi = g.r.nextInt(3) == 0 ? g.interesting(size) : g.r.nextBoolean() ? 0 : (sgn && lo << (64 - size) < 0 ? -1 : 0);
        if (!divides(hi, lo, d, size, sgn)) {
            hi = sgn && Gen.sext(lo, size) < 0 ? -1 : 0;
            if (!sgn) {
                hi = g.r.nextLong() & Gen.mask(size);
                BigInteger h = unsigned(hi, size).mod(unsigned(d, size));
                hi = h.longValue();
            }
            if (!divides(hi, lo, d, size, sgn)) {
                lo = 7;
                hi = 0;
            }
        }
        if (size == 8) {
            g.setReg(0, 16, (hi & 0xFF) << 8 | (lo & 0xFF));
        } else {
            g.setReg(0, size, lo);
            g.setReg(2, size, hi);
        }
        if (!divides(size == 8 ? g.getReg(0, 16) >>> 8 : g.getReg(2, size), g.getReg(0, size), g.getOperand(o.rm(), size),
            size, sgn)) {
            throw new AssertionError("generator would raise #DE");
        }
        g.flagMask &= ~Gen.ARITH;
        g.a.modrm(size, NO_PREFIX, op(size == 8 ? 0xF6 : 0xF7), sgn ? 7 : 6, true, o.rm(), true, 0, 0);
    }

    @Test
    void mul() {
        Diff.fuzz("mul", g -> mul1(g, false));
    }

    @Test
    void imul1() {
        Diff.fuzz("imul1", g -> mul1(g, true));
    }

    @Test
    void imul2() {
        Diff.fuzz("imul2", DiffTestMulDiv::imul2);
    }

    @Test
    void imul3() {
        Diff.fuzz("imul3", DiffTestMulDiv::imul3);
    }

    @Test
    void div() {
        Diff.fuzz("div", g -> div(g, false));
    }

    @Test
    void idiv() {
        Diff.fuzz("idiv", g -> div(g, true));
    }
}
