package org.jvisor.tcg;

import org.jvisor.cpu.X86State;

/**
 * The decimal-adjust instructions of 16- and 32-bit code (SDM vol. 2: DAA, DAS, AAA, AAS, AAM,
 * AAD), invalid in 64-bit mode. Each takes AX and the arithmetic flags and returns the new AX in
 * bits 15:0 and the new flags above ({@code result >>> 16}); flags the SDM leaves undefined are
 * set from the result as the hardware does for SF, ZF and PF, and cleared otherwise.
 */
final class BcdOps {
    static final long ARITH = X86State.CF | X86State.PF | X86State.AF | X86State.ZF | X86State.SF | X86State.OF;

    private BcdOps() {
    }

    static long daa(int ax, long flags) {
        int al = ax & 0xFF;
        boolean cf = (flags & X86State.CF) != 0;
        boolean af = (flags & X86State.AF) != 0;
        int r = al;
        boolean newCf = false;
        boolean newAf = false;
        if ((al & 0xF) > 9 || af) {
            r += 6;
            newCf = cf || r > 0xFF;
            newAf = true;
        }
        if (al > 0x99 || cf) {
            r += 0x60;
            newCf = true;
        } else {
            newCf = false;
        }
        return pack(ax, r & 0xFF, newCf, newAf);
    }

    static long das(int ax, long flags) {
        int al = ax & 0xFF;
        boolean cf = (flags & X86State.CF) != 0;
        boolean af = (flags & X86State.AF) != 0;
        int r = al;
        boolean newCf = false;
        boolean newAf = false;
        if ((al & 0xF) > 9 || af) {
            newCf = cf || r < 6;
            r -= 6;
            newAf = true;
        }
        if (al > 0x99 || cf) {
            r -= 0x60;
            newCf = true;
        }
        return pack(ax, r & 0xFF, newCf, newAf);
    }

    static long aaa(int ax, long flags) {
        if ((ax & 0xF) > 9 || (flags & X86State.AF) != 0) {
            int r = (ax + 0x106) & 0xFFFF;
            return packAx((r & 0xFF0F), true, true);
        }
        return packAx(ax & 0xFF0F, false, false);
    }

    static long aas(int ax, long flags) {
        if ((ax & 0xF) > 9 || (flags & X86State.AF) != 0) {
            int r = (ax - 6) & 0xFFFF; // the borrow reaches AH, as on every processor since the 386
            int ah = ((r >>> 8) - 1) & 0xFF;
            return packAx(ah << 8 | (r & 0x0F), true, true);
        }
        return packAx(ax & 0xFF0F, false, false);
    }

    /** AAM: {@code base} 0 is #DE, which the caller raises. */
    static long aam(int ax, int base) {
        int al = ax & 0xFF;
        int r = (al / base) << 8 | (al % base);
        return pack(r, r & 0xFF, false, false);
    }

    static long aad(int ax, int base) {
        int al = ((ax & 0xFF) + ((ax >>> 8) & 0xFF) * base) & 0xFF;
        return pack(al, al, false, false);
    }

    /** AX with AL replaced by {@code al}, and SF/ZF/PF of {@code al}. */
    private static long pack(int ax, int al, boolean cf, boolean af) {
        int newAx = (ax & 0xFF00) | al;
        return (long) newAx | (szp(al) | (cf ? X86State.CF : 0) | (af ? X86State.AF : 0)) << 16;
    }

    private static long packAx(int ax, boolean cf, boolean af) {
        return (long) ax | (szp(ax & 0xFF) | (cf ? X86State.CF : 0) | (af ? X86State.AF : 0)) << 16;
    }

    private static long szp(int v) {
        long fl = 0;
        if (v == 0) {
            fl |= X86State.ZF;
        }
        if ((v & 0x80) != 0) {
            fl |= X86State.SF;
        }
        if ((Integer.bitCount(v & 0xFF) & 1) == 0) {
            fl |= X86State.PF;
        }
        return fl;
    }
}
