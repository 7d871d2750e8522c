package org.jvisor.tcg.diff;

import static org.jvisor.tcg.diff.Asm.NO_PREFIX;
import static org.jvisor.tcg.diff.Asm.op;

import org.junit.jupiter.api.Test;

/**
 * LEA with every addressing form: no base, base (including RBP/R13 and R12 that need special
 * encodings), base+index*scale, index*scale without base, disp 0/8/32, RIP-relative, with 16/32/64
 * bit destinations and 32-bit address size. No memory is touched, so registers are random.
 */
class DiffTestLea {

    static void lea(Gen g) {
        g.a.noise = g.r;
        int size = g.sizeNo8();
        int dst = g.gpr();
        int base = switch (g.r.nextInt(6)) {
            case 0 -> Asm.NONE;
            case 1 -> Asm.RIP;
            default -> g.gpr();
        };
        int index = base == Asm.RIP || g.r.nextInt(3) == 0 ? Asm.NONE : g.gpr();
        int scale = 1 << g.r.nextInt(4);
        int dispBytes = base == Asm.NONE || base == Asm.RIP ? 4 : switch (g.r.nextInt(3)) {
            case 0 -> -1;
            case 1 -> 1;
            default -> 4;
        };
        long disp = switch (dispBytes) {
            case 1 -> g.r.nextInt(256) - 128;
            case 4 -> g.r.nextBoolean() ? (int) g.interesting(32) : g.r.nextInt();
            default -> g.r.nextBoolean() ? 0 : g.r.nextInt(256) - 128;
        };
        if (base == Asm.RIP) {
            disp = g.codeAddr + g.r.nextInt(1 << 20) - (1 << 19);
        }
        boolean addr32 = base != Asm.RIP && g.chance(4);
        g.a.modrm(size, NO_PREFIX, op(0x8D), dst, false, new Asm.Mem(base, index, scale, disp, dispBytes, addr32), false,
            0, 0);
    }

    @Test
    void lea() {
        Diff.fuzz("lea", DiffTestLea::lea);
    }
}
