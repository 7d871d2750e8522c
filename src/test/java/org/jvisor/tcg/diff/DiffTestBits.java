package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.NO_PREFIX;
import static org.jvisor.tcg.diff.Asm.op;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** BT BTS BTR BTC (register and memory bit strings), BSF BSR, TZCNT LZCNT, POPCNT, BSWAP. */
class DiffTestBits {
    static final List<String> BT = List.of("bt", "bts", "btr", "btc");

    /** Margin around memory bit strings: register bit offsets reach this far (in bytes). */
    static final int BIT_REACH = 0x300;

    static void bt(Gen g, int which) {
        int size = g.sizeNo8();
        // OF SF AF PF undefined; ZF unaffected; CF = the bit
        g.flagMask &= ~(Gen.OF | Gen.SF | Gen.AF | Gen.PF);
        boolean imm = g.r.nextInt(3) == 0;
        Gen.Ops o = g.ops(size, 1, true, BIT_REACH + 0x40);
        g.setOperand(o.rm(), size, g.interesting(size));
        boolean lockable = which != 0 && o.rm() instanceof Asm.Mem;
        int[] pre = !imm && lockable && g.chance(3) ? op(0xF0) : NO_PREFIX;
        if (imm) {
            int bit = g.chance(3) ? g.r.nextInt(256) : g.r.nextInt(size);
            if (lockable && g.chance(3)) {
                pre = op(0xF0);
            }
            g.a.modrm(size, pre, op(0x0F, 0xBA), 4 + which, true, o.rm(), false, bit, 1);
            g.note("bit " + bit);
        } else {
            long bit;
            if (o.rm() instanceof Asm.Mem) {
                bit = g.r.nextInt(2 * 8 * BIT_REACH) - 8 * BIT_REACH;
                if (g.chance(4)) {
                    bit = g.r.nextInt(size);
                }
            } else {
                bit = g.chance(4) ? g.interesting(size) : g.r.nextInt(size);
            }
            g.setReg(o.reg(0), size, bit);
            if (o.rm() instanceof Asm.Mem) {
                int reg = o.reg(0);
                if ((g.pointerRegs & (1 << reg)) != 0) {
                    throw new Asm.Unencodable("bit offset register is the address register");
                }
            }
            g.a.modrm(size, pre, op(0x0F, 0xA3 + 8 * which), o.reg(0), false, o.rm(), false, 0, 0);
            g.note("bit offset " + bit);
        }
    }

    /** BSF/BSR (plain) or TZCNT/LZCNT (F3 prefix). */
    static void scan(Gen g, boolean reverse, boolean cnt) {
        int size = g.sizeNo8();
        Gen.Ops o = g.ops(size, 1, true, 16);
        long src = g.chance(6) ? 0 : g.interesting(size);
        g.setOperand(o.rm(), size, src);
        src = g.getOperand(o.rm(), size);
        if (cnt) {
            g.flagMask &= ~(Gen.OF | Gen.SF | Gen.AF | Gen.PF);
        } else {
            g.flagMask &= ~(Gen.CF | Gen.OF | Gen.SF | Gen.AF | Gen.PF);
            if (src == 0) {
                g.ignoreRegs |= 1 << o.reg(0); // destination undefined
            }
        }
        g.a.modrm(size, cnt ? op(0xF3) : NO_PREFIX, op(0x0F, reverse ? 0xBD : 0xBC), o.reg(0), false, o.rm(), false,
            0, 0);
    }

    static void popcnt(Gen g) {
        int size = g.sizeNo8();
        Gen.Ops o = g.ops(size, 1, true, 16);
        g.setOperand(o.rm(), size, g.interesting(size));
        g.a.modrm(size, op(0xF3), op(0x0F, 0xB8), o.reg(0), false, o.rm(), false, 0, 0);
    }

    static void bswap(Gen g) {
        int size = g.r.nextBoolean() ? 32 : 64;
        int reg = g.gpr();
        g.a.plain(size, NO_PREFIX, reg >> 3, op(0x0F, 0xC8 + (reg & 7)), 0, 0);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"bt", "bts", "btr", "btc"})
    void bitTest(String name) {
        int which = BT.indexOf(name);
        Diff.fuzz(name, g -> bt(g, which));
    }

    @ParameterizedTest(name = "{0}")
    // TZCNT is left out: tcg does not advertise BMI1, and without BMI1 F3 0F BC is BSF, which the
    // host (with BMI1) cannot model. LZCNT is ABM, which tcg advertises.
    @ValueSource(strings = {"bsf", "bsr", "lzcnt"})
    void scan(String name) {
        Diff.fuzz(name, g -> scan(g, name.equals("bsr") || name.equals("lzcnt"), name.endsWith("cnt")));
    }

    @Test
    void popcnt() {
        Diff.fuzz("popcnt", DiffTestBits::popcnt);
    }

    @Test
    void bswap() {
        Diff.fuzz("bswap", DiffTestBits::bswap);
    }
}
